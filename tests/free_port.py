#!/usr/bin/env python3
"""Prints a TCP port that nothing uses now, for a test's service to listen on.

Not a port the kernel picks (bind to 0): those come from the ephemeral range
(/proc/sys/net/ipv4/ip_local_port_range), which the kernel also hands to outgoing
connections, so another test's load client could take the port in the instant between
this pick and the service's bind ("Address already in use", seen under `ctest -j3`).
A port outside that range is never taken that way; it is drawn at random among
~10,000, so tests running at once rarely draw the same one, and checked free (bound
on every address, without SO_REUSEADDR, so that no socket in any state holds it).
"""
import random
import socket
import sys


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split()[:2])
            if 1 <= lo <= hi <= 65535:
                return lo, hi
    except (OSError, ValueError):
        pass
    return 32768, 60999   # Linux's default


def candidates():
    lo, hi = ephemeral_range()
    below = range(max(10000, lo - 12000), lo)   # clear of the well-known and registered low ports
    above = range(hi + 1, 65536)
    pool = below if len(below) >= len(above) else above
    return pool


def is_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def main():
    pool = candidates()
    if len(pool) >= 100:
        rng = random.SystemRandom()
        for _ in range(200):
            port = rng.choice(pool)
            if is_free(port):
                print(port)
                return 0
    # no room outside the ephemeral range on this machine: the kernel's pick, as before
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("0.0.0.0", 0))
    print(s.getsockname()[1])
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
