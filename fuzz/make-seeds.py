#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<parser>/ from the project's fixtures and documented
examples (run from the source tree: python3 fuzz/make-seeds.py). Each seed's origin is in
fuzz/corpus/README.md. Targets whose input starts with control bytes (fuzz_proc: the smaps cut;
fuzz_http: the HEAD flag and two cuts; fuzz_export_label: the buffer size; fuzz_heap_seg: the
flags) get those bytes prepended here. Recording and ELF seeds are made by
fuzz/make-seeds-built.sh, which needs a build. Crash inputs found later are added by hand
(crash-<name>) and never rewritten by this script."""
import os
import re

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FX = os.path.join(SRC, "tests", "fixtures")
OUT = os.path.join(SRC, "fuzz", "corpus")


def put(parser, name, data):
    d = os.path.join(OUT, parser)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def fixture(*parts):
    with open(os.path.join(FX, *parts), "rb") as f:
        return f.read()


# quantity: the forms of DESIGN.md's command line contract and util.h's comments
for i, q in enumerate(["512Mi", "1Gi", "500M", "1.5G", "4096", "128Ki", "512MB", "0x10", "-1",
                       "250ms", "10s", "5m", "1h", "1.5s", "100us", "45%", "0.45", "45",
                       "18446744073709551615", "9.2e18"]):
    put("quantity", "doc-%02d" % i, q)

# proc: real /proc files (tests/fixtures/proc-6.18/1001, cgroup-v2-6.1/live-proc; smaps cut to its
# first 2 KiB); first byte: where fuzz_proc splits the smaps text
for kernel, d in (("proc-6.18", "1001"), ("cgroup-v2-6.1", "live-proc")):
    for f in ("status", "smaps_rollup", "smaps", "stat"):
        p = os.path.join(FX, kernel, d, f)
        if os.path.exists(p):
            text = fixture(kernel, d, f)
            if len(text) > 2048:   # the first mappings only: a seed this size keeps runs fast
                text = text[:text.rindex(b"\n", 0, 2048) + 1]
            put("proc", "%s-%s" % (kernel, f), b"\x80" + text)

# cgroup: memory files of real cgroups, v1 and v2, and the mountinfo / cgroup of their processes
for kernel, d, files in (
        ("cgroup-v1-6.18", "live", ("memory.stat", "memory.oom_control", "memory.limit_in_bytes")),
        ("cgroup-v1-6.18", "oom", ("memory.oom_control",)),
        ("cgroup-v1-6.18", "proc", ("mountinfo", "cgroup")),
        ("cgroup-v2-6.12", "live", ("memory.stat", "memory.events", "memory.pressure", "memory.max")),
        ("cgroup-v2-6.12", "oom", ("memory.events",)),
        ("cgroup-v2-6.12", "live-proc", ("mountinfo", "cgroup"))):
    for f in files:
        put("cgroup", "%s-%s-%s" % (kernel, d, f), fixture(kernel, d, f))

# http: the responses of tests/test_http_parse.c; bytes 0-2: HEAD flag, two cuts
with open(os.path.join(SRC, "tests", "test_http_parse.c")) as f:
    test = f.read()
resp = []
for m in re.finditer(r'"(HTTP/1\.[01] [^"\\]*(?:\\.[^"\\]*)*)"', test):
    s = m.group(1).encode().decode("unicode_escape").encode("latin-1")
    if s not in resp:
        resp.append(s)
for i, s in enumerate(resp):
    put("http", "test_http_parse-%02d" % i, bytes([0, 40, 200]) + s)
put("http", "pipelined", bytes([0, 10, 90]) + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")

# promsize: the Prometheus answers of tests/fixtures/prometheus (captured from a real server)
for f in sorted(os.listdir(os.path.join(FX, "prometheus"))):
    if f.endswith(".json"):
        put("promsize", f[:-5], fixture("prometheus", f))

# export_label: cgroup paths of the fixtures' processes, and names with the three escaped
# characters; byte 0: the output buffer size
for i, s in enumerate([fixture("cgroup-v1-6.18", "proc", "cgroup").split(b"\n")[0],
                       b"/kubepods/burstable/pod1234/abcdef", b'a"b\\c\nd']):
    put("export_label", "label-%d" % i, bytes([200]) + s)

# load_stages: docs/load.md's examples and the profile names
for i, s in enumerate(["10s:50,5s:400,30s:~50", "500ms:1", "2m:0", "steady", "burst", "ramp", "soak",
                       "10s:~100000"]):
    put("load_stages", "doc-%d" % i, s)

# heap_seg: a zeroed segment with a valid header in stats and in count mode (flag byte)
put("heap_seg", "zero-stats", bytes([1]) + bytes(64))
put("heap_seg", "zero-count", bytes([3]) + bytes(64))

# analysis: the synthetic recordings of corpus/recording/ (written by make-seeds-built.sh)
# translated to fuzz_analysis's input: each time step to the nearest step code, each figure to
# 4 MiB units (255 = unknown), the events at their times. Keep in step with fuzz_analysis.c.
import sqlite3

COLS = ["rss", "rss_peak", "map_anon", "map_stacks", "map_code", "map_files", "map_shmem", "map_other",
        "cg_usage", "cg_usage_peak", "cg_working_set", "cg_inactive_file", "cg_file", "cg_oom_kills",
        "cg_limit_hits", "heap_live", "heap_held", "heap_allocs", "heap_live_peak"]
STEPS = [0, 1, 1000, 1000000, 10000000, 100000000, 250000000, 1000000000, 15000000000, 60000000000,
         3600000000000, (1 << 56) // 4]
KINDS = ["start", "ready", "exit", "signal", "oom_kill", "limit_hit", "stage", "note", "dropped", "load"]
rdir = os.path.join(OUT, "recording")
for f in sorted(os.listdir(rdir)) if os.path.isdir(rdir) else []:
    if not f.startswith("synth-"):
        continue
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(rdir, f), uri=True)
    fin, cgv = db.execute("SELECT finished, cgroup_version FROM run").fetchone()
    flags = (1 if fin else 0) | (4 if cgv == 2 else 8 if cgv == 1 else 0) | 16
    out = bytearray([flags, 5])   # interval code 5: 100 ms, as synth_recording writes
    events = db.execute("SELECT t_ns, kind, value FROM events ORDER BY t_ns").fetchall()
    prev = 0
    for row in db.execute("SELECT t_ns, %s FROM samples ORDER BY rowid" % ", ".join(COLS)):
        while events and events[0][0] <= row[0]:
            _, kind, val = events.pop(0)
            if kind in KINDS:
                out += bytes([0xfe, (KINDS.index(kind) | ((val or 0) % 16) << 4) & 0xff])
        step = min(range(len(STEPS)), key=lambda i: abs(STEPS[i] - (row[0] - prev)))
        prev += STEPS[step]
        out.append(step if step != 0xfe else 0)
        for v in row[1:]:
            out.append(255 if v is None else min(249, (v + (1 << 21)) >> 22))
    put("analysis", f.replace("synth-", "synth-"), bytes(out))
