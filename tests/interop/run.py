"""The QUIC interop matrix on shaped paths (docs/http3.md, "Interop matrix"): every case of
cases.py against a server, through the shaping relay, on 127.0.0.1 and ::1 only.

    python3 tests/interop/run.py [--server ringbolt|hypercorn] [--io io_uring|epoll]
                                 [--workers N] [--case NAME...] [--seed S]

--server and --io may be given more than once: each ringbolt backend and Hypercorn get a
column of their own in one table (Hypercorn has one io). Prints a Markdown table per
server (pass/fail, wall time, server CPU, what the relay did), then the comparison, then
each failure's reason with the server's log lines. Exit status 0 when every case passed.
`--json FILE` keeps every result (the relay's full counters included)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import Result, case_names, cases, run_case  # noqa: E402
from servers import make_certs  # noqa: E402


def configs(servers: list[str], ios: list[str]) -> list[tuple[str, str]]:
    out = []
    for s in servers:
        if s == "hypercorn":
            out.append((s, "asyncio"))
        else:
            out += [(s, io) for io in ios]
    return out


def cell(r: Result) -> str:
    cpu = f"{r.cpu:.2f}" if r.cpu is not None else "-"
    return f"{'pass' if r.ok else '**FAIL**'} {r.wall:.1f} s / {cpu}"


def table(label: str, results: list[Result]) -> str:
    lines = [f"### {label}", "", "| case | client | result | wall s | server CPU s | what the relay did |",
             "|---|---|---|---:|---:|---|"]
    for r in results:
        cpu = f"{r.cpu:.2f}" if r.cpu is not None else "-"
        lines.append(f"| {r.case} | {r.client} | {'pass' if r.ok else '**FAIL**'} | {r.wall:.1f} | {cpu} | "
                     f"{r.relay_summary().replace('|', '/')} |")
    passed = sum(r.ok for r in results)
    wall = sum(r.wall for r in results)
    total_cpu = sum(r.cpu or 0.0 for r in results)
    lines.append(f"| **{passed} of {len(results)} passed** | | | {wall:.1f} | {total_cpu:.2f} | |")
    return "\n".join(lines)


def comparison(labels: list[str], columns: list[list[Result]]) -> str:
    lines = ["### Comparison (result, wall s / server CPU s)", "",
             "| case | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for i, r in enumerate(columns[0]):
        lines.append(f"| {r.case} | " + " | ".join(cell(col[i]) for col in columns) + " |")
    return "\n".join(lines)


def failures(label: str, results: list[Result]) -> str:
    out = []
    for r in results:
        if r.ok:
            continue
        out.append(f"- **{r.case}** ({label}): {r.reason}")
        facts = {k: v for k, v in r.facts.items()}
        if facts:
            out.append(f"  - facts: {json.dumps(facts, default=str)}")
        out.append(f"  - relay: {r.relay_summary()}")
        if r.server_counters:
            out.append(f"  - server counters: {json.dumps(r.server_counters)}")
        if r.server_log.strip():
            out.append("  - server log:\n" + "\n".join("        " + x for x in r.server_log.splitlines()))
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", action="append", choices=["ringbolt", "hypercorn"], help="(repeatable)")
    ap.add_argument("--io", action="append", choices=["io_uring", "epoll"], help="ringbolt's backend (repeatable)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="ringbolt's reactor threads per worker")
    ap.add_argument("--case", action="append", choices=case_names(), metavar="NAME",
                    help="run only these (repeatable): " + ", ".join(case_names()))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None, help="certificates and server logs (default: a temp dir)")
    ap.add_argument("--json", type=Path, default=None, help="write every result here")
    args = ap.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ringbolt-interop-"))
    certs = make_certs(workdir / "certs")
    selected = [c for c in cases() if not args.case or c.name in args.case]
    labels, columns = [], []
    started = time.monotonic()
    for kind, io in configs(args.server or ["ringbolt"], args.io or ["io_uring"]):
        label = f"{kind} {io}" + (f", {args.workers} workers" if args.workers > 1 else "")
        results = []
        t0 = time.monotonic()
        for case in selected:
            r = run_case(case, kind, certs, workdir / "logs", io=io if kind == "ringbolt" else "io_uring",
                         workers=args.workers, threads=args.threads, seed=args.seed)
            print(f"[{time.monotonic() - started:6.1f} s] {label}: {case.name}: {'pass' if r.ok else 'FAIL'} "
                  f"({r.wall:.1f} s){'' if r.ok else ': ' + r.reason}", file=sys.stderr, flush=True)
            results.append(r)
        print(f"[{time.monotonic() - started:6.1f} s] {label}: {sum(r.ok for r in results)} of {len(results)} "
              f"passed in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        labels.append(label)
        columns.append(results)

    print(f"Seed {args.seed}; server logs in {workdir / 'logs'}.\n")
    for label, results in zip(labels, columns):
        print(table(label, results) + "\n")
    if len(columns) > 1:
        print(comparison(labels, columns) + "\n")
    failed = [failures(label, results) for label, results in zip(labels, columns)]
    if any(failed):
        print("### Failures\n")
        print("\n".join(f for f in failed if f) + "\n")
    print(f"Matrix time: {time.monotonic() - started:.0f} s")
    if args.json is not None:
        args.json.write_text(json.dumps({label: [asdict(r) for r in results]
                                         for label, results in zip(labels, columns)}, indent=1, default=str))
    return 0 if all(r.ok for results in columns for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
