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
