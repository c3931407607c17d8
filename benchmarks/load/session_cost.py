#!/usr/bin/env python3
"""What a session read's pieces cost, in user-space instructions per call (docs/sessions.md,
"What it costs"): each piece called N and 3N times in one process under callgrind, the
difference of the two totals divided by 2N (so start-up and imports cancel out).

    python3 benchmarks/load/session_cost.py [--python build/venv/bin/python] [--n 1000]

Pieces: ``mac`` (ValueSigner.mac, the native HMAC-SHA256 of a cookie's signed text),
``stdlib-hmac`` (the same MAC through the stdlib's hmac from a keyed state, copied per
call, as sessions.py did before), ``open-session`` (ValueSigner.open_session: split,
MAC, compare, decode, JSON), ``session`` (the Session dict made as a read makes it: a
subclass whose __init__ is dict's own), ``session-init`` (the same through Session's Python
__init__, as a read made it before).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys

PIECE = r'''
import hashlib, hmac, sys, time
from ringbolt.sessions import Session, Sessions
s = Sessions(["benchmark-session-key-of-32-bytes-or-more"], secure=False)
value = s.signer.sign(b'{"visits":3}', int(time.time()))
signed = value.rpartition(".")[0].encode()
keyed = hmac.new(b"k" * 32, None, hashlib.sha256)
mac, open_session, data = s.signer._native.mac, s._open_session, {"visits": 3}
def stdlib():
    h = keyed.copy(); h.update(signed); return h.digest()
calls = {"mac": lambda: mac(0, signed), "stdlib-hmac": stdlib, "open-session": lambda: open_session(value, 3600),
         "session": lambda: s._read(data), "session-init": lambda: Session(data, False, None, s),
         "none": lambda: None}
f, n = calls[sys.argv[1]], int(sys.argv[2])
for _ in range(n):
    f()
'''


def total(python: str, piece: str, n: int) -> int:
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python, "-c", PIECE,
                          piece, str(n)], capture_output=True, text=True, check=True).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    empty = (total(args.python, "none", 3 * args.n) - total(args.python, "none", args.n)) / (2 * args.n)
    print("| piece | instructions per call (the loop and a lambda call taken off) |\n|---|---:|")
    for piece in ("mac", "stdlib-hmac", "open-session", "session", "session-init"):
        per = (total(args.python, piece, 3 * args.n) - total(args.python, piece, args.n)) / (2 * args.n)
        print(f"| {piece} | {per - empty:,.0f} |")


if __name__ == "__main__":
    main()
