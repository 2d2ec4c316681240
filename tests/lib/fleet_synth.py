#!/usr/bin/env python3
"""A week of a synthetic Kubernetes fleet as OpenMetrics, and the sizing answers recomputed from it.

  fleet_synth.py generate OUT END_UNIX [--scale N] [--step S] [--no-ksm]
      kube-state-metrics, cAdvisor and headroom exporter series for a week ending at END_UNIX
      (1-minute samples unless --step; kube-state-metrics every 5 and 15 minutes), one file per
      UTC day (OUT.0, OUT.1, ...): promtool create-blocks-from openmetrics reads its whole input
      once per 2 h block, so a week in one file is read 84 times, in day files 12 times each.
      --scale N adds N plain Deployments of 10 pods (the bench); --no-ksm leaves kube-state-metrics out.
  fleet_synth.py expect OUT AT WINDOW_S HEADROOM > expected.json
      Reads the OpenMetrics text back (not the generator's variables) and computes, per workload
      and container, what `headroom size --prometheus --by workload` must answer, with the
      definitions of docs/export.md written again here: owners from kube_pod_owner /
      kube_replicaset_owner / kube_job_owner, peaks, per-pod p95 (Prometheus' interpolation),
      restarts as counter increments, OOM kills as increments while the last termination reason
      is OOMKilled, limit = peak x (1+headroom) (after an OOM: VPA's raise of max(peak, limit)),
      KRR = max x 1.15, VPA = P90 of daily peaks x 1.15 (>= 250Mi), rounded up to Mi.
"""
import glob, json, math, random, sys
from collections import defaultdict

MI = 1 << 20
STEP = 60
KSM_STEP = 300     # kube-state-metrics' changing series (restarts, reasons) every 5 min; cAdvisor and headroom every minute
STATIC_STEP = 900  # its constant ones (info, owners, requests, limits) every 15 min: the week loads in half the time
WEEK = 7 * 86400
SAFE = "bcdfghjklmnpqrstvwxz2456789"


def rnd(r, n):
    return "".join(r.choice(SAFE) for _ in range(n))


class Fleet:
    def __init__(self, end, ksm=True):
        self.end = end                     # last sample time
        self.start = end - WEEK + 2 * STEP  # inside a 7d window evaluated at end + 30 s
        self.r = random.Random(13)
        self.ksm = ksm
        self.lines = defaultdict(list)     # (UTC day, metric name) -> lines
        self.uid = 0

    def emit(self, name, labels, value, ts):
        lab = ",".join('%s="%s"' % kv for kv in labels.items())
        self.lines[(ts // 86400, name)].append("%s{%s} %d %d" % (name, lab, value, ts))

    def static(self, name, labels, value, t0, t1):
        if not self.ksm and name.startswith("kube_"):
            return
        t = t0
        while t <= t1:
            self.emit(name, labels, value, t)
            t += STATIC_STEP
        if (t1 - t0) % STATIC_STEP:
            self.emit(name, labels, value, t1)

    def pod(self, ns, pod, owner, containers, t0, t1, exact=None, uid_only=False, gap=None):
        """containers: {name: (limit, request, fn(t, i) -> ws bytes, restarts [(t, reason)])}"""
        self.uid += 1
        uid = "00000000-0000-4000-8000-%012d" % self.uid
        t0 = max(self.start, t0 - t0 % STEP)
        t1 = min(self.end, t1 - t1 % STEP)
        self.static("kube_pod_info", {"namespace": ns, "pod": pod, "uid": uid}, 1, t0, t1)
        if owner:
            self.static("kube_pod_owner", {"namespace": ns, "pod": pod, "owner_kind": owner[0],
                                            "owner_name": owner[1], "owner_is_controller": "true"}, 1, t0, t1)
        for c, (lim, req, fn, restarts) in containers.items():
            lab = {"namespace": ns, "pod": pod, "container": c}
            if lim:
                self.static("kube_pod_container_resource_limits", dict(lab, resource="memory", unit="byte"), lim, t0, t1)
            if req:
                self.static("kube_pod_container_resource_requests", dict(lab, resource="memory", unit="byte"), req, t0, t1)
            n, reason, i = 0, None, 0
            # a restart shows on kube-state-metrics' next sample (every KSM_STEP)
            rs = sorted((t0 + -(-(rt - t0) // KSM_STEP) * KSM_STEP, why) for rt, why in restarts)
            t = t0
            while t <= t1:
                while rs and rs[0][0] <= t:
                    n += 1
                    reason = rs.pop(0)[1]
                if not (gap and gap[0] <= t < gap[1] and (t // STEP) % 3):
                    ws = fn(t, i)
                    self.emit("container_memory_working_set_bytes", dict(lab, job="cadvisor"), ws, t)
                    if exact:
                        el = {"container": c, "uid": uid} if uid_only else dict(lab)
                        self.emit("headroom_rss_peak_bytes", el, max(ws, exact(t, i)), t)
                if self.ksm and (t - t0) % KSM_STEP == 0:
                    self.emit("kube_pod_container_status_restarts_total", lab, n, t)
                    if reason:
                        self.emit("kube_pod_container_status_last_terminated_reason", dict(lab, reason=reason), 1, t)
                t += STEP
                i += 1

    def write(self, prefix):
        days = sorted({d for d, _ in self.lines})
        for i, day in enumerate(days):
            with open("%s.%d" % (prefix, i), "w") as f:
                for (d, name), lines in self.lines.items():
                    if d == day:
                        f.write("# TYPE %s gauge\n" % name)
                        f.write("\n".join(lines))
                        f.write("\n")
                f.write("# EOF\n")


def noise(r, base, amp):
    return lambda t, i: int(base + amp * math.sin(t / 5400.0) + r.randint(0, amp))


def generate(out, end, scale, ksm, step):
    global STEP, KSM_STEP, STATIC_STEP
    STEP, KSM_STEP, STATIC_STEP = step, max(KSM_STEP, step), max(STATIC_STEP, 3 * step)
    F = Fleet(end, ksm)
    r, S, E = F.r, F.start, F.end
    H = 3600

    def deployment(ns, name, replicas, rollouts, containers, exact=None, extra=None):
        """rollouts: times at which every pod is replaced by one of a new ReplicaSet"""
        edges = [S] + rollouts + [E]
        for k in range(len(edges) - 1):
            rs = "%s-%s" % (name, rnd(r, 9 if k % 2 else 10))
            F.static("kube_replicaset_owner", {"namespace": ns, "replicaset": rs, "owner_kind": "Deployment",
                                                "owner_name": name, "owner_is_controller": "true"}, 1, edges[k], edges[k + 1])
            for p in range(replicas):
                pod = "%s-%s" % (rs, rnd(r, 5))
                F.pod(ns, pod, ("ReplicaSet", rs), containers(k, p), edges[k], edges[k + 1], exact=exact)

    # 1. shop/web: 2 replicas, app + proxy sidecar, three rollouts, a few plain restarts
    deployment("shop", "web", 2, [S + 40 * H, S + 90 * H, S + 140 * H], lambda k, p: {
        "app": (1024 * MI, 512 * MI, noise(r, 300 * MI, 40 * MI), [(S + 41 * H + p * 600, "Error")] if k == 1 else []),
        "proxy": (256 * MI, 64 * MI, noise(r, 40 * MI, 4 * MI), [])})
    # 2. shop/cart: OOM-killed at its 512Mi limit five times: it grows 1Mi a minute from 300Mi
    ooms = [S + h * H for h in (20, 50, 80, 110, 140)]
    def cart_ws(t, i):
        last = max([S] + [o for o in ooms if o <= t])
        return min(300 * MI + (t - last) // STEP * MI, 511 * MI)
    deployment("shop", "cart", 1, [], lambda k, p: {
        "cart": (512 * MI, 384 * MI, cart_ws, [(o, "OOMKilled") for o in ooms] + [(S + 150 * H, "Error")])})
    # 3. shop/search: 200Mi sampled, 30 ms spikes to ~450Mi that only the exporter's exact peaks see
    deployment("shop", "search", 3, [S + 60 * H], lambda k, p: {
        "search": (512 * MI, 256 * MI, noise(r, 200 * MI, 20 * MI), [])},
        exact=lambda t, i: (440 + (t // STEP) % 13) * MI if (t // STEP) % 97 == 5 else 0)
    # 4. data/db: StatefulSet; db-1 re-created (restart counter starts again), db-2 with a gap
    for p in range(3):
        own = ("StatefulSet", "db")
        c = lambda rs: {"db": (4096 * MI, 2048 * MI, noise(r, 1800 * MI, 100 * MI), rs)}
        if p == 1:
            F.pod("data", "db-1", own, c([(S + 10 * H, "Error"), (S + 20 * H, "Error")]), S, S + 70 * H)
            F.pod("data", "db-1", own, c([(S + 100 * H, "Error")]), S + 70 * H + 300, E)
        else:
            F.pod("data", "db-%d" % p, own, c([]), S, E, gap=(S + 30 * H, S + 60 * H) if p == 2 else None)
    # 5. data/etl-api: heavily over-provisioned (8Gi limit, 4Gi request, ~300Mi used), 3 replicas
    deployment("data", "etl-api", 3, [S + 100 * H], lambda k, p: {
        "api": (8192 * MI, 4096 * MI, noise(r, 280 * MI, 30 * MI), [])})
    # 6. data/cache: exact peaks from the exporter on both pods
    deployment("data", "cache", 2, [], lambda k, p: {
        "redis": (2048 * MI, 1536 * MI, noise(r, 1200 * MI, 50 * MI), [])},
        exact=lambda t, i: 1500 * MI if i == 3000 else 0)
    # 7. ops/node-agent: DaemonSet on 3 nodes, exporter series labelled by pod uid only
    for p in range(3):
        F.pod("ops", "node-agent-%s" % rnd(r, 5), ("DaemonSet", "node-agent"), {
            "agent": (200 * MI, 100 * MI, noise(r, 80 * MI, 8 * MI), [])}, S, E,
            exact=lambda t, i: 130 * MI if i % 1440 == 700 else 0, uid_only=True)
    # 8. batch/report: CronJob every 6 h, each Job's pod lives 20 minutes and ramps to ~700Mi
    t = S + 3 * H
    while t + 1200 < E:
        job = "report-%d" % (t // 60)
        F.static("kube_job_owner", {"namespace": "batch", "job_name": job, "owner_kind": "CronJob",
                                    "owner_name": "report", "owner_is_controller": "true"}, 1, t, t + 1200)
        F.pod("batch", "%s-%s" % (job, rnd(r, 5)), ("Job", job), {
            "report": (1024 * MI, 512 * MI, lambda tt, i: 100 * MI + i * 30 * MI + r.randint(0, MI), [])}, t, t + 1200)
        t += 6 * H
    # 9. batch/migrate: a one-off Job, 2 h
    F.static("kube_job_owner", {"namespace": "batch", "job_name": "migrate", "owner_kind": "<none>",
                                "owner_name": "<none>", "owner_is_controller": "false"}, 1, S + 30 * H, S + 32 * H)
    F.pod("batch", "migrate-%s" % rnd(r, 5), ("Job", "migrate"), {
        "migrate": (512 * MI, 256 * MI, noise(r, 150 * MI, 20 * MI), [])}, S + 30 * H, S + 32 * H)
    # 10. ops/grafana: one replica, one rollout; 11. ops/debug: a bare pod for a day
    deployment("ops", "grafana", 1, [S + 80 * H], lambda k, p: {
        "grafana": (1024 * MI, 256 * MI, noise(r, 180 * MI, 20 * MI), [])})
    F.pod("ops", "debug", ("<none>", "<none>"), {"shell": (128 * MI, 0, noise(r, 10 * MI, 2 * MI), [])},
          S + 24 * H, S + 48 * H)
    # 12. a pod with two controllers (a broken kube-state-metrics export): must be left out
    F.pod("shop", "orphan-x7k2p", ("ReplicaSet", "orphan-6d9f8b7c5"), {
        "app": (256 * MI, 128 * MI, noise(r, 50 * MI, 5 * MI), [])}, S, S + 10 * H)
    F.static("kube_pod_owner", {"namespace": "shop", "pod": "orphan-x7k2p", "owner_kind": "DaemonSet",
                                "owner_name": "other", "owner_is_controller": "true"}, 1, S, S + 10 * H)
    # bench: N Deployments of 10 pods each, no rollouts
    for k in range(scale):
        deployment("bench%d" % (k % 20), "svc%d" % k, 10, [], lambda kk, p: {
            "app": (1024 * MI, 512 * MI, noise(r, 300 * MI, 30 * MI), [])})
    F.write(out)


# ---- the answers, from the OpenMetrics text ----

def parse(prefix):
    series = defaultdict(list)
    for path in sorted(glob.glob(prefix + ".*"), key=lambda p: int(p.rsplit(".", 1)[1])):
        with open(path) as f:
            for line in f:
                if line.startswith("#"):
                    continue
                head, val, ts = line.rsplit(" ", 2)
                series[head].append((int(ts), float(val)))
    out = defaultdict(list)
    for head, pts in series.items():
        name, rest = head.split("{", 1)
        labels = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(","))
        labels = {k: v.strip('"') for k, v in labels.items()}
        out[name].append((labels, sorted(pts)))
    return out


def ceil_mi(b):
    return int(math.ceil(b / MI)) * MI


def quantile(vals, q):
    v = sorted(vals)
    h = (len(v) - 1) * q
    lo = math.floor(h)
    if lo + 1 >= len(v):
        return v[lo]
    return v[lo] + (h - lo) * (v[lo + 1] - v[lo])


def expect(path, at, window, headroom):
    m = parse(path)
    lo = at - window
    inwin = lambda pts: [(t, v) for t, v in pts if lo <= t <= at]
    key = lambda l: (l["namespace"], l["pod"], l["container"])
    # owners
    owners = defaultdict(set)
    for l, pts in m.get("kube_pod_owner", []):
        if inwin(pts) and l.get("owner_is_controller") != "false":
            owners[(l["namespace"], l["pod"])].add((l["owner_kind"], l["owner_name"]))
    parent = {}
    for name, child in (("kube_replicaset_owner", "replicaset"), ("kube_job_owner", "job_name")):
        for l, pts in m.get(name, []):
            if inwin(pts) and l["owner_kind"] != "<none>":
                parent[(l["namespace"], l[child])] = (l["owner_kind"], l["owner_name"])
    uid_pod = {l["uid"]: (l["namespace"], l["pod"]) for l, pts in m.get("kube_pod_info", []) if inwin(pts)}
    c = defaultdict(dict)
    for l, pts in m["container_memory_working_set_bytes"]:
        p = inwin(pts)
        if p:
            d = c[key(l)]
            vals = [v for _, v in p]
            d["ws"] = max(d.get("ws", 0), max(vals))
            d["p95"] = max(d.get("p95", 0), quantile(vals, 0.95))
            d["first"], d["last"], d["count"] = p[0][0], p[-1][0], len(p)
            d["days"] = {}
    ndays = window // 86400
    day0 = at - (ndays - 1) * 86400
    for l, pts in m["container_memory_working_set_bytes"]:
        d = c.get(key(l))
        if d is None:
            continue
        for k in range(ndays):
            tk = day0 + k * 86400
            v = [v for t, v in pts if tk - 86400 <= t <= tk]
            if v:
                d["days"][k] = max(v)
    for l, pts in m.get("headroom_rss_peak_bytes", []):
        if "pod" not in l:
            ns, pod = uid_pod[l["uid"]]
            l = dict(l, namespace=ns, pod=pod)
        p = inwin(pts)
        if p and key(l) in c:
            c[key(l)]["exact"] = max(c[key(l)].get("exact", 0), max(v for _, v in p))
    for name, f in (("kube_pod_container_resource_limits", "lim"), ("kube_pod_container_resource_requests", "req")):
        for l, pts in m.get(name, []):
            p = inwin(pts)
            if p and key(l) in c:
                c[key(l)][f] = p[-1][1]
    reasons = defaultdict(list)
    for l, pts in m.get("kube_pod_container_status_last_terminated_reason", []):
        if l["reason"] == "OOMKilled":
            reasons[key(l)] += [t for t, v in pts if v == 1]
    for l, pts in m.get("kube_pod_container_status_restarts_total", []):
        d = c.get(key(l))
        if d is None:
            continue
        oomt = set(reasons[key(l)])
        rs = oo = 0
        for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
            if lo < t1 <= at and v1 > v0:
                rs += v1 - v0
                # an OOM kill: kube-state-metrics reports OOMKilled in the sample where the count rose
                if t1 in oomt:
                    oo += v1 - v0
        d["restarts"], d["ooms"] = d.get("restarts", 0) + rs, d.get("ooms", 0) + oo
    intervals = sorted((d["last"] - d["first"]) / (d["count"] - 1) for d in c.values() if d["count"] >= 2 and d["last"] > d["first"])
    scrape = intervals[len(intervals) // 2]
    rows = defaultdict(list)
    left_out = []
    for (ns, pod, ctn), d in c.items():
        o = owners.get((ns, pod))
        if o is None:
            continue  # not in this fleet: every pod has an owner series
        if len(o) > 1:
            left_out.append("%s/%s" % (ns, pod))
            continue
        kind, name = next(iter(o))
        if kind == "<none>":
            kind, name = "Pod", pod
        elif (ns, name) in parent and kind in ("ReplicaSet", "Job"):
            kind, name = parent[(ns, name)]
        rows[(ns, kind, name, ctn)].append(d)
    out = {}
    for (ns, kind, name, ctn), ds in rows.items():
        peak = max(max(d["ws"], d.get("exact", 0)) for d in ds)
        newest = max(ds, key=lambda d: d["last"])
        lim, req = newest.get("lim"), newest.get("req")
        ooms = int(sum(d["ooms"] for d in ds))
        sized = peak
        if ooms:
            sized = max(peak, lim or 0)
            sized = max(sized + 100 * MI, math.ceil(sized * 1.2))
        rec_lim = max(ceil_mi(math.ceil(sized * (1 + headroom))), MI)
        rec_req = min(max(ceil_mi(math.ceil(max(d["p95"] for d in ds))), MI), rec_lim)
        days = [max(d["days"][k] for d in ds if k in d["days"]) for k in range(ndays) if any(k in d["days"] for d in ds)]
        vpa = max(ceil_mi(math.ceil(int(quantile(days, 0.9)) * 1.15)), 250 * MI)
        pod_time = sum(d["last"] - d["first"] + scrape for d in ds)
        cur = req if req else lim
        gibh = (rec_req - cur) / (1 << 30) * pod_time / window * 730 if cur else 0
        out["%s/%s/%s/%s" % (ns, kind, name, ctn)] = {
            "pods": len(ds), "peak_bytes": int(math.ceil(peak)), "exact_pods": sum(1 for d in ds if "exact" in d),
            "working_set_max_bytes": int(max(d["ws"] for d in ds)),
            "current_limit_bytes": lim, "current_request_bytes": req,
            "oom_kills": ooms, "restarts": int(sum(d["restarts"] for d in ds)),
            "recommended_limit_bytes": rec_lim, "recommended_request_bytes": rec_req,
            "krr_bytes": ceil_mi(math.ceil(max(d["ws"] for d in ds) * 1.15)), "vpa_bytes": vpa,
            "gib_hours_per_month": gibh, "under": bool(lim and lim < rec_lim)}
    json.dump({"workloads": out, "left_out": left_out, "scrape": scrape}, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "generate":
        scale = int(a[a.index("--scale") + 1]) if "--scale" in a else 0
        step = int(a[a.index("--step") + 1]) if "--step" in a else 60
        generate(a[1], int(a[2]), scale, "--no-ksm" not in a, step)
    elif a[0] == "expect":
        expect(a[1], float(a[2]), int(a[3]), float(a[4]))
    else:
        sys.exit("usage: fleet_synth.py generate OUT END [--scale N] [--no-ksm] | expect OUT AT WINDOW_S HEADROOM")
