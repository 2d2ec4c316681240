#!/usr/bin/env python3
"""How often the leak-suspect rule of src/analyze/sites.c names a site, simulated.

The rule (find_suspects): over the steady phase's snapshots (one a second), a Theil-Sen slope > 0,
a Mann-Kendall p (ties corrected, continuity corrected, two-sided; as stats_mann_kendall) below
the threshold, and a rise (slope x span) of at least max(2 MiB, 5 % of the last level).

A site's sampled live bytes follow the shim's sampling (docs/heap.md): each block of s bytes is
sampled with probability p = 1 - exp(-s/R) and counts s/p. Two kinds of site:
  level  - a working set of L bytes of small blocks that turns over between snapshots, so each
           snapshot is an independent draw: Poisson(L/R) samples of ~R bytes each
           (tests/progs/sites_leak's busy sites);
  leak   - blocks of b bytes allocated at a steady rate and never freed: the estimate only counts
           up, each block sampled once (the Rust demo's /cache, sites_leak's leak_site).
Prints, per case, the fraction of trials in which the site is named at p < 0.01 and p < 0.001.

  scripts/sites-suspect-sim.py [TRIALS=20000] [SEED=1]
Python 3 standard library only; ~1 min for 20000 trials.
"""
import math
import random
import statistics
import sys

MiB = 1024.0 * 1024.0
R = 512 * 1024.0           # the default --heap-interval
THRESHOLDS = (0.01, 0.001)


def poisson(lam, rng):
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= rng.random()
            if p < limit:
                return k
            k += 1
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def mann_kendall_p(x):
    n = len(x)
    s = sum((x[j] > x[i]) - (x[j] < x[i]) for i in range(n) for j in range(i + 1, n))
    ties, srt, i = 0, sorted(x), 0
    while i < n:
        j = i
        while j < n and srt[j] == srt[i]:
            j += 1
        g = j - i
        if g > 1:
            ties += g * (g - 1) * (2 * g + 5)
        i = j
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    if var <= 0:
        return 1.0
    z = (s - 1) / math.sqrt(var) if s > 0 else (s + 1) / math.sqrt(var) if s < 0 else 0.0
    return math.erfc(abs(z) / math.sqrt(2))


def named(x, p_threshold):
    """x: live bytes at snapshots 1 s apart"""
    n = len(x)
    slope = statistics.median((x[j] - x[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    rise = slope * (n - 1)
    return slope > 0 and mann_kendall_p(x) < p_threshold and rise >= max(2 * MiB, 0.05 * x[-1])


def level(live, n, rng):
    return [poisson(live / R, rng) * R for _ in range(n)]


def leak(rate, block, n, rng):
    p = 1 - math.exp(-block / R)
    total, out = 0.0, []
    for _ in range(n):
        total += poisson(rate / block * p, rng) * (block / p)
        out.append(total)
    return out


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    cases = [
        ("level 8 MiB, 14 snapshots", lambda: level(8 * MiB, 14, rng), trials),
        ("level 8 MiB, 30 snapshots", lambda: level(8 * MiB, 30, rng), trials // 4),
        ("level 64 MiB, 14 snapshots", lambda: level(64 * MiB, 14, rng), trials),
        ("leak 640 KiB/s of 32 KiB, 12 snapshots", lambda: leak(640 * 1024, 32 * 1024, 12, rng), trials // 4),
        ("leak 640 KiB/s of 32 KiB, 16 snapshots", lambda: leak(640 * 1024, 32 * 1024, 16, rng), trials // 4),
        ("leak 2 MiB/s of ~2 KiB, 13 snapshots", lambda: leak(2 * MiB, 2048, 13, rng), trials // 4),
        ("leak 200 KiB/s of 4 KiB, 30 snapshots", lambda: leak(200 * 1024, 4096, 30, rng), trials // 8),
    ]
    print(f"{'case':42} {'trials':>7} " + " ".join(f"{'p<' + str(t):>10}" for t in THRESHOLDS))
    for name, gen, k in cases:
        hits = [0] * len(THRESHOLDS)
        for _ in range(k):
            x = gen()
            for i, t in enumerate(THRESHOLDS):
                hits[i] += named(x, t)
        print(f"{name:42} {k:7d} " + " ".join(f"{h / k:10.5f}" for h in hits))


if __name__ == "__main__":
    main()
