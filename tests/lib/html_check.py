#!/usr/bin/env python3
"""html_check: the checks the browser test makes on chromium's output, with the standard library only.

  html_check.py net NETLOG.json        page-initiated network requests (URL and count), exit 1 if any
  html_check.py png FILE.png           pixel statistics of a screenshot as key=value lines
  html_check.py hover DOM CHART NAME   the largest value of series NAME in the hover data of CHART
  html_check.py pdf FILE.pdf           the page size in points and the page count
  html_check.py same-charts A.html B.html
                                       exit 1 unless both pages draw the same SVG and hover data
  html_check.py pointer CHROMIUM FILE CHART
                                       moves the mouse over the middle of CHART in a real chromium
                                       (DevTools protocol over --remote-debugging-pipe) and prints
                                       the hover box's text; exit 1 if it does not show

A request the page makes has an origin (file:// pages have the opaque origin "null"); the browser's
own background requests (component updates, account checks) have "not an origin". Only the first
kind says something about the report.
"""
import json
import re
import struct
import sys
import zlib


def net(path):
    d = json.load(open(path))
    types = {v: k for k, v in d["constants"]["logEventTypes"].items()}
    urls = {}
    for e in d["events"]:
        if types.get(e.get("type")) != "URL_REQUEST_START_JOB":
            continue
        p = e.get("params", {})
        if p.get("initiator", "not an origin") == "not an origin":
            continue
        urls[p.get("url")] = urls.get(p.get("url"), 0) + 1
    for u, n in urls.items():
        print("request %s x%d" % (u, n))
    print("page_requests=%d" % sum(urls.values()))
    return 1 if urls else 0


def png_pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("not a PNG: " + path)
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise SystemExit("unsupported PNG (depth %d, colour type %d)" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def png(path):
    w, h, bpp, rows = png_pixels(path)
    bg = tuple(rows[2][2 * bpp:2 * bpp + 3])
    other, colours, blue = 0, set(), 0
    for line in rows[::2]:
        for x in range(0, w * bpp, 2 * bpp):
            px = (line[x], line[x + 1], line[x + 2])
            colours.add(px)
            if max(abs(px[0] - bg[0]), abs(px[1] - bg[1]), abs(px[2] - bg[2])) > 24:
                other += 1
            r, g, b = px
            if b > 180 and b - r > 80 and b - g > 40:   # the RSS line (#2563eb light, #60a5fa dark)
                blue += 1
    total = ((h + 1) // 2) * ((w + 1) // 2)
    print("width=%d height=%d" % (w, h))
    print("background=%d,%d,%d" % bg)
    print("background_luma=%d" % int(0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]))
    print("non_background_permille=%d" % (1000 * other // total))
    print("colours=%d" % len(colours))
    print("blue_pixels=%d" % blue)
    return 0


def hover(dom, chart, name):
    html = open(dom, encoding="utf-8").read()
    m = re.search(r'<figure class="chart" id="%s">.*?<script type="application/json" class="hd">(.*?)</script>'
                  % re.escape(chart), html, re.S)
    if not m:
        raise SystemExit("no hover data for chart " + chart)
    d = json.loads(m.group(1))
    for s in d["s"]:
        if s["name"] == name:
            print(max(v for v in s["hi"] if v is not None))
            return 0
    raise SystemExit("chart %s has no series %r (has %s)" % (chart, name, [s["name"] for s in d["s"]]))


def same_charts(a, b):
    pa, pb = open(a, encoding="utf-8").read(), open(b, encoding="utf-8").read()
    pat = r'<svg.*?</svg>|class="hd">.*?</script>'
    ca, cb = re.findall(pat, pa, re.S), re.findall(pat, pb, re.S)
    print("charts=%d,%d" % (len(ca), len(cb)))
    if not ca or len(ca) != len(cb):
        return 1
    bad = [i for i, (x, y) in enumerate(zip(ca, cb)) if x != y]
    print("different=%s" % bad)
    return 1 if bad else 0


def pdf(path):
    data = open(path, "rb").read()
    if not data.startswith(b"%PDF"):
        raise SystemExit("not a PDF")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    if boxes:
        print("page_w=%d page_h=%d" % (round(float(boxes[0][0])), round(float(boxes[0][1]))))
    print("pages=%d" % pages)
    return 0


class Devtools:
    """The DevTools protocol over --remote-debugging-pipe: JSON messages ended by NUL on fds 3 and 4."""

    def __init__(self, chromium, args):
        import os
        import subprocess
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()

        def fds():
            # via high numbers first: the pipes may already sit on 3 or 4
            a, b = os.dup(to_r) + 100, os.dup(from_w) + 100
            os.dup2(to_r, a)
            os.dup2(from_w, b)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([chromium, "--remote-debugging-pipe"] + args + ["about:blank"],
                                     preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL,
                                     stderr=open(os.environ.get("CHROMIUM_LOG", os.devnull), "w"))
        os.close(to_r)
        os.close(from_w)
        self.buf, self.next_id, self.session = b"", 1, None

    def call(self, method, params=None, session=True):
        import os
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.next_id += 1
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.from_r, 65536)
                if not chunk:
                    raise SystemExit("chromium closed the DevTools pipe")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(line)
            if reply.get("id") == msg["id"]:
                if "error" in reply:
                    raise SystemExit("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        return r.get("result", {}).get("value")

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except SystemExit:
            pass
        try:
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()


def pointer(chromium, path, chart):
    import os
    import tempfile
    import time
    ud = tempfile.mkdtemp()
    dt = Devtools(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync", "--no-first-run",
                             "--disable-extensions", "--user-data-dir=" + ud, "--window-size=1000,1000"])
    try:
        target = dt.call("Target.createTarget", {"url": "file://" + os.path.abspath(path)})["targetId"]
        dt.session = dt.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for _ in range(200):
            # while the new tab still navigates from about:blank to the file, an evaluation can
            # meet a context that is going away: an error reply, asked again
            try:
                ready = dt.evaluate("document.documentElement.getAttribute('data-ready')")
            except SystemExit:
                ready = None
            if ready == "1":
                break
            time.sleep(0.05)
        else:
            raise SystemExit("the page's script never finished")
        r = dt.evaluate("(function(){var s=document.querySelector('#%s svg');s.scrollIntoView();"
                        "var b=s.getBoundingClientRect();return [b.left,b.top,b.width,b.height]})()" % chart)
        x, y = r[0] + r[2] * 0.55, r[1] + r[3] * 0.5
        dt.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        tip = dt.evaluate("(function(){var t=document.querySelector('#%s .tip');"
                          "return t.hidden?null:t.innerText})()" % chart)
        cursor = dt.evaluate("document.querySelector('#%s .cursor').getAttribute('visibility')" % chart)
    finally:
        dt.close()
        import shutil
        shutil.rmtree(ud, ignore_errors=True)
    if not tip or cursor != "visible":
        print("no hover box (tip=%r cursor=%r)" % (tip, cursor))
        return 1
    print(tip)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["pointer"] and len(sys.argv) == 5:
        sys.exit(pointer(*sys.argv[2:]))
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "net" and len(sys.argv) == 3:
        sys.exit(net(sys.argv[2]))
    if cmd == "png" and len(sys.argv) == 3:
        sys.exit(png(sys.argv[2]))
    if cmd == "hover" and len(sys.argv) == 5:
        sys.exit(hover(*sys.argv[2:]))
    if cmd == "same-charts" and len(sys.argv) == 4:
        sys.exit(same_charts(sys.argv[2], sys.argv[3]))
    if cmd == "pdf" and len(sys.argv) == 3:
        sys.exit(pdf(sys.argv[2]))
    sys.exit(__doc__)
