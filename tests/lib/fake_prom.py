#!/usr/bin/env python3
"""A misbehaving Prometheus for the bad-input tests: fake_prom.py PORT MODE
  slow     accepts and answers nothing for 30 s
  partial  answers every query with a result and a "warnings" array (a partial response)
  garbage  answers a vector whose value is not a number
Serves until killed; loopback only."""
import http.server, json, sys, time

port, mode = int(sys.argv[1]), sys.argv[2]


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if mode == "slow":
            time.sleep(30)
            return
        series = {"metric": {"namespace": "a", "pod": "p-7c9d8b6f5d-x2x4z", "container": "c"}, "value": [1, "1048576"]}
        body = {"status": "success", "data": {"resultType": "vector", "result": [series]}}
        if "query_range" in self.path:
            body["data"] = {"resultType": "matrix", "result": [dict(series, values=[[1, "1048576"]])]}
        if mode == "partial":
            body["warnings"] = ["store 10.0.0.7:10901 unavailable: result may be partial"]
        if mode == "garbage":
            series["value"] = [1, "12 MiB"]
        out = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
