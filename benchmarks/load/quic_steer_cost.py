#!/usr/bin/env python3
"""What the QUIC steering program (quic/steering.hpp) costs the kernel per datagram.

A group of --sockets UDP sockets on 127.0.0.1 (ringbolt._native.bind_quic_sockets, as the
server binds them); one client socket sends --count datagrams of --size bytes (a short
header whose connection ID names a position) to the group, with the program attached
(_native.steer_quic) and without, interleaved for --rounds rounds. Nobody reads: the
receive queues fill and the kernel drops what does not fit, after the socket lookup, where
the program runs. On loopback that receive path runs inside the sender's sendto, so the
sender's CPU time (user + system, this process) per datagram carries it; the difference of
the medians is the program's cost (the Python loop's share is the same on both sides).

    taskset -c 1 build/venv311/bin/python benchmarks/load/quic_steer_cost.py
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import time

from ringbolt import _native


def one_round(sockets: int, count: int, size: int, steer: bool) -> float:
    """ns of this process's CPU per datagram sent."""
    group = [socket.socket(fileno=fd) for fd in _native.bind_quic_sockets("127.0.0.1", 0, sockets)]
    try:
        if steer:
            _native.steer_quic(group[0].fileno(), sockets)
        port = group[0].getsockname()[1]
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.connect(("127.0.0.1", port))
        payloads = [bytes([0x41, pos]) + b"\x5a" * (size - 2) for pos in range(sockets)]
        send = client.send
        t0 = time.process_time_ns()
        for i in range(count):
            send(payloads[i % sockets])
        spent = time.process_time_ns() - t0
        client.close()
        return spent / count
    finally:
        for s in group:
            s.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sockets", type=int, default=2)
    p.add_argument("--count", type=int, default=200_000)
    p.add_argument("--size", type=int, default=1200)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    print(f"load average before: {open('/proc/loadavg').read().strip()}")
    runs: dict[bool, list[float]] = {False: [], True: []}
    for r in range(args.rounds):
        for steer in ((False, True) if r % 2 == 0 else (True, False)):
            runs[steer].append(one_round(args.sockets, args.count, args.size, steer))
    print(f"load average after: {open('/proc/loadavg').read().strip()}")
    for steer, label in ((False, "4-tuple hash"), (True, "steering program")):
        print(f"{label:17} median {statistics.median(runs[steer]):7.1f} ns/datagram  runs: "
              + ", ".join(f"{v:.0f}" for v in runs[steer]))
    print(f"difference: {statistics.median(runs[True]) - statistics.median(runs[False]):+.1f} ns/datagram "
          f"({args.sockets} sockets, {args.size}-byte datagrams, {args.count} per round, pid {os.getpid()})")


if __name__ == "__main__":
    main()
