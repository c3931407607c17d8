#!/usr/bin/env python3
"""Owns: running Autobahn|Testsuite (`wstest -m fuzzingclient`) against one WebSocket
server URL and judging the result: per-section counts, missing cases, an exit status
and an optional Markdown summary for docs/.

autobahntestsuite 0.8.2 runs on Python 2.7 only, so this script keeps its own 2.7
virtualenv (default build/autobahn-venv), made once from pyenv's 2.7 with the pinned
set in requirements-py27.txt and reused while that file is unchanged.

    python3 tools/autobahn/run.py --url ws://127.0.0.1:9001/ [--cases 1-7,9,10,12,13]
        [--exclude 12,13] [--summary docs/websocket-autobahn.md]
        [--serve "python3 -m ringbolt serve tools.autobahn.echo_asgi:app --port 9001"]

With --serve, the script starts that server itself (cwd: the repository root, its output
in OUTDIR-server.log) and stops it afterwards; otherwise the server must be running.

With --via h2, the cases run over WebSocket-over-HTTP/2 streams (RFC 8441): the script
starts bridge.py (its log in OUTDIR/bridge.log), which wstest talks HTTP/1.1 to and
which carries each case on an extended-CONNECT stream of one shared h2c connection to
--url. --via h3 is the same over HTTP/3 (RFC 9220, --url wss://..., the server with
--http3 and a certificate).

A case passes when its behavior is OK, NON-STRICT or INFORMATIONAL. Exit status: 0 when
every selected case ran and passed; 1 when a case failed (FAILED, UNIMPLEMENTED, ...)
or a selected case has no result; 2 on a set-up or usage error.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import glob
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REQUIREMENTS = HERE / "requirements-py27.txt"
TEMPLATE = HERE / "fuzzingclient.json.tmpl"
DEFAULT_CASES = "1-7,9,10,12,13"
PASSING = ("OK", "NON-STRICT", "INFORMATIONAL")
COLUMNS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
SECTION_TITLES = {
    "1": "Framing (text and binary)",
    "2": "Pings and pongs",
    "3": "Reserved bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8 handling",
    "7": "Close handling",
    "9": "Limits and performance",
    "10": "Misc (auto-fragmentation)",
    "12": "permessage-deflate, payloads",
    "13": "permessage-deflate, parameters",
}
# Prints every case id of the installed testsuite, one per line (runs on Python 2.7).
LIST_CASES = ("from autobahntestsuite.case import Cases, CaseBasename\n"
              "for c in Cases:\n"
              "    print('.'.join(c.__name__[len(CaseBasename):].split('_')))\n")


class SetupError(Exception):
    pass


# ------------------------------------------------------------------ the 2.7 virtualenv

def find_python27(explicit: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get("PYTHON27"):
        return os.environ["PYTHON27"]
    candidates = []
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
        candidates += sorted(glob.glob(os.path.join(root, "versions", "2.7.*", "bin", "python")), reverse=True)
    except (OSError, subprocess.CalledProcessError):
        pass
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/2.7.*/bin/python")), reverse=True)
    for name in ("python2.7", "python2"):
        path = shutil.which(name)
        if path:
            candidates.append(path)
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    raise SetupError("no Python 2.7 found (pyenv install 2.7.18, or pass --python27 / set PYTHON27)")


def run_checked(cmd: list[str], what: str, **kw) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-20:])
        raise SetupError(f"{what} failed ({' '.join(cmd)}):\n{tail}")


def ensure_venv(venv: Path, python27: str | None) -> Path:
    """The venv's wstest, creating or refreshing the venv when requirements changed."""
    stamp = venv / ".requirements.sha256"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    wstest = venv / "bin" / "wstest"
    if wstest.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return wstest
    py27 = find_python27(python27)
    print(f"autobahn: preparing {venv} with {py27} (one-off, about a minute)", flush=True)
    if not (venv / "bin" / "python").exists():
        probe = subprocess.run([py27, "-m", "virtualenv", "--version"], capture_output=True)
        if probe.returncode != 0:
            # the last virtualenv line that still runs on and creates 2.7 environments
            run_checked([py27, "-m", "pip", "install", "--user", "--quiet", "virtualenv<20.22"],
                        "installing virtualenv for Python 2.7")
        venv.parent.mkdir(parents=True, exist_ok=True)
        run_checked([py27, "-m", "virtualenv", "--quiet", str(venv)], "creating the 2.7 virtualenv")
    run_checked([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                 "-r", str(REQUIREMENTS)], "installing autobahntestsuite")
    if not wstest.exists():
        raise SetupError(f"{wstest} missing after install")
    stamp.write_text(want + "\n")
    return wstest


def all_case_ids(venv: Path) -> list[str]:
    out = subprocess.run([str(venv / "bin" / "python"), "-W", "ignore", "-c", LIST_CASES],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SetupError(f"cannot list the testsuite's cases:\n{out.stderr.strip()}")
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


# ------------------------------------------------------------------ case selection

def case_key(case_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in case_id.split("."))


def patterns(selection: str, ids: list[str]) -> list[str]:
    """'1-7,9,12.1,9.1.1,6.4.*' -> wstest patterns: a section N is 'N.*', A-B a range of
    sections, a group such as 12.1 that is not itself a case id is '12.1.*', and a case id
    or a pattern with '*' is passed as written."""
    out: list[str] = []
    for part in (p.strip() for p in selection.split(",")):
        if not part:
            continue
        if "-" in part:
            lo, _, hi = part.partition("-")
            if not (lo.isdigit() and hi.isdigit() and int(lo) <= int(hi)):
                raise SetupError(f"bad section range {part!r}")
            out += [f"{s}.*" for s in range(int(lo), int(hi) + 1)]
        elif part.isdigit():
            out.append(f"{part}.*")
        elif "*" not in part and part not in ids and all(c.isdigit() or c == "." for c in part):
            out.append(f"{part}.*")
        elif all(c.isdigit() or c in ".*" for c in part):
            out.append(part)
        else:
            raise SetupError(f"bad case selection {part!r}")
    return out


def resolve(pats: list[str], ids: list[str]) -> set[str]:
    """The same matching as wstest's CaseSet.resolveCasePatternList: '*' is '.*' and the
    pattern matches a prefix; a literal id stands for itself."""
    import re
    chosen: set[str] = set()
    for p in pats:
        if "*" in p:
            rx = re.compile(re.escape(p).replace(r"\*", ".*"))
            chosen.update(i for i in ids if rx.match(i))
        else:
            chosen.add(p)
    return chosen


# ------------------------------------------------------------------ running wstest

def wait_for_port(url: str, seconds: float, via: str = "none") -> None:
    parts = urlsplit(url)
    if parts.scheme != ("wss" if via == "h3" else "ws"):
        raise SetupError(f"only {'wss' if via == 'h3' else 'ws'}:// URLs are supported here: {url}")
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise SetupError(f"nothing listens at {host}:{port} ({exc})") from None
            time.sleep(0.2)


def run_wstest(wstest: Path, url: str, agent: str, pats: list[str], excl: list[str], outdir: Path,
               timeout: float) -> float:
    spec = (TEMPLATE.read_text().replace("@OUTDIR@", str(outdir / "servers")).replace("@AGENT@", agent)
            .replace("@URL@", url).replace("@CASES@", json.dumps(pats)).replace("@EXCLUDE@", json.dumps(excl)))
    json.loads(spec)  # the template filled in must still be JSON
    spec_path = outdir / "fuzzingclient.json"
    spec_path.write_text(spec)
    log_path = outdir / "wstest.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(wstest), "-m", "fuzzingclient", "-s", str(spec_path)], cwd=outdir,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()  # only the wstest this function started
            proc.wait()
            print(f"autobahn: wstest still running after {timeout:.0f} s, stopped; partial results follow",
                  file=sys.stderr)
    elapsed = time.monotonic() - started
    if proc.returncode not in (0, -9):
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        print(f"autobahn: wstest exited with {proc.returncode}; end of {log_path}:\n{tail}", file=sys.stderr)
    return elapsed


def start_bridge(via: str, url: str, outdir: Path) -> tuple[subprocess.Popen, str]:
    """bridge.py --via VIA to the server at url: (the process, the ws:// URL wstest uses)."""
    log_path = outdir / "bridge.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, str(HERE / "bridge.py"), "--via", via, "--server", url],
                                stdout=subprocess.PIPE, stderr=log, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # the bridge gives up by itself within seconds
    if not line.startswith("bridge: listening on "):
        proc.kill()  # only the bridge this function started
        proc.wait()
        tail = "\n".join(log_path.read_text(errors="replace").strip().splitlines()[-10:])
        raise SetupError(f"the {via} bridge to {url} did not start:\n{tail}")
    return proc, line.removeprefix("bridge: listening on ")


def stop_bridge(proc: subprocess.Popen, outdir: Path) -> str:
    """Stops the bridge; its closing line of counts (connections, streams, resets)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        proc.send_signal(sig)  # only the bridge start_bridge started
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    lines = (outdir / "bridge.log").read_text(errors="replace").splitlines()
    counts = [line.split(" ", 1)[-1] for line in lines if "connection(s) carried" in line]
    return counts[-1] if counts else f"the bridge left no counts (exit status {proc.returncode})"


# ------------------------------------------------------------------ judging the report

def load_results(outdir: Path, agent: str) -> dict[str, dict]:
    index = outdir / "servers" / "index.json"
    if not index.exists():
        return {}
    data = json.loads(index.read_text())
    return data.get(agent, {})


def case_detail(outdir: Path, entry: dict) -> str:
    """The per-case report's 'result' line (why it failed), if the file is there. Read it
    with the close code beside it: a server that closes with 1009 mid-message shows up
    as "Did not receive message within 100 seconds" after a second or two."""
    name = entry.get("reportfile")
    if not name:
        return ""
    try:
        report = json.loads((outdir / "servers" / name).read_text())
    except (OSError, ValueError):
        return ""
    return " ".join(str(report.get("result", "")).split())


def summarize(results: dict[str, dict], expected: set[str]) -> tuple[dict, list, list]:
    """Per-section counts, failing cases [(id, behavior, close behavior)], missing ids."""
    sections: dict[str, dict] = {}
    for case_id in sorted(expected | set(results), key=case_key):
        row = sections.setdefault(case_id.split(".")[0], {c: 0 for c in COLUMNS} | {
            "other": 0, "missing": 0, "cases": 0, "duration_ms": 0})
        row["cases"] += 1
        entry = results.get(case_id)
        if entry is None:
            row["missing"] += 1
            continue
        behavior = entry.get("behavior", "?")
        row[behavior if behavior in COLUMNS else "other"] += 1
        duration = int(entry.get("duration") or 0)
        if 0 <= duration < 86_400_000:  # a case that failed in its handshake reports a nonsense duration
            row["duration_ms"] += duration
    failing = [(i, e.get("behavior"), f"{e.get('behaviorClose')}, server code {e.get('remoteCloseCode')}")
               for i, e in sorted(results.items(), key=lambda kv: case_key(kv[0])) if e.get("behavior") not in PASSING]
    missing = sorted(expected - set(results), key=case_key)
    return sections, failing, missing


def section_table(sections: dict) -> list[str]:
    head = "| section | what | cases | " + " | ".join(COLUMNS) + " | other | missing | time |"
    lines = [head, "|" + "---|" * 2 + "---:|" * (len(COLUMNS) + 4)]
    for sec in sorted(sections, key=int):
        r = sections[sec]
        cells = [str(r[c]) for c in COLUMNS] + [str(r["other"]), str(r["missing"]), f"{r['duration_ms'] / 1000:.1f} s"]
        lines.append(f"| {sec} | {SECTION_TITLES.get(sec, '')} | {r['cases']} | " + " | ".join(cells) + " |")
    return lines


def print_report(sections: dict, failing: list, missing: list, details: dict, elapsed: float) -> None:
    print()
    print(f"{'section':>7}  {'cases':>5}  " + "  ".join(f"{c:>13}" for c in COLUMNS) + "  other  missing     time")
    for sec in sorted(sections, key=int):
        r = sections[sec]
        print(f"{sec:>7}  {r['cases']:>5}  " + "  ".join(f"{r[c]:>13}" for c in COLUMNS) +
              f"  {r['other']:>5}  {r['missing']:>7}  {r['duration_ms'] / 1000:>6.1f} s")
    print(f"wall time {elapsed:.1f} s")
    for case_id, behavior, close in failing[:40]:
        print(f"  {case_id}: {behavior} (close: {close}) {details.get(case_id, '')}")
    if len(failing) > 40:
        print(f"  ... and {len(failing) - 40} more failing cases")
    if missing:
        shown = ", ".join(missing[:30]) + (" ..." if len(missing) > 30 else "")
        print(f"  no result for {len(missing)} selected case(s): {shown}")


def write_summary(path: Path, args, sections: dict, failing: list, missing: list, details: dict,
                  elapsed: float, verdict: bool, bridged: str = "") -> None:
    via = f" --via {args.via}" if args.via != "none" else ""
    lines = [
        "# WebSocket conformance: Autobahn|Testsuite",
        "",
        f"Generated by `tools/autobahn/run.py` on {dt.date.today().isoformat()}: autobahntestsuite 0.8.2 "
        f"(`wstest -m fuzzingclient`) against `{args.url}` (agent `{args.agent}`)"
        + (f", over {args.via} streams through `tools/autobahn/bridge.py`." if via else "."),
        "",
        f"- cases: `{args.cases}`" + (f", excluding `{args.exclude}`" if args.exclude else ""),
        f"- verdict: **{'pass' if verdict else 'FAIL'}** (pass = every selected case ran and is "
        "OK, NON-STRICT or INFORMATIONAL)",
        f"- wall time: {elapsed:.0f} s",
    ] + ([f"- {bridged}"] if bridged else []) + [
        "",
        "Reproduce:",
        "",
        "```",
        f"python3 tools/autobahn/run.py --url {args.url}{via} --cases {args.cases}"
        + (f" --exclude {args.exclude}" if args.exclude else ""),
        "```",
        "",
    ] + section_table(sections) + [""]
    if failing:
        lines += ["## Failing cases", "", "| case | behavior | close (server code) | result |", "|---|---|---|---|"]
        lines += [f"| {i} | {b} | {c} | {details.get(i, '').replace('|', '/')} |" for i, b, c in failing]
        lines.append("")
    if missing:
        lines += ["## Cases without a result", "", ", ".join(missing), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="ws://HOST:PORT/path of the echo endpoint under test")
    ap.add_argument("--cases", default=DEFAULT_CASES,
                    help=f"sections (N, A-B), case ids or wstest patterns like 12.1.* (default {DEFAULT_CASES})")
    ap.add_argument("--exclude", default="", help="same syntax: cases left out (e.g. 12,13 without compression)")
    ap.add_argument("--agent", default="testee", help="name of the server in the report (default testee)")
    ap.add_argument("--venv", type=Path, default=ROOT / "build" / "autobahn-venv", help="the Python 2.7 venv")
    ap.add_argument("--python27", help="Python 2.7 interpreter for the venv (default: pyenv's 2.7.*)")
    ap.add_argument("--outdir", type=Path, default=ROOT / "build" / "autobahn-reports",
                    help="where wstest writes (emptied first; HTML report in OUTDIR/servers/index.html)")
    ap.add_argument("--summary", type=Path, help="write a Markdown summary here")
    ap.add_argument("--timeout", type=float, default=3600, help="stop wstest after this many seconds")
    ap.add_argument("--wait", type=float, default=10, help="seconds to wait for the server's port")
    ap.add_argument("--serve", help="start this server command first (shell words) and stop it at the end")
    ap.add_argument("--via", choices=("none", "h2", "h3"), default="none",
                    help="none: HTTP/1.1 to --url; h2/h3: each case on a WebSocket stream of HTTP/2 (RFC 8441) "
                         "or HTTP/3 (RFC 9220) through bridge.py")
    ap.add_argument("--setup-only", action="store_true", help="prepare the venv and exit")
    args = ap.parse_args()
    server = None
    try:
        if args.serve:
            outdir = args.outdir.resolve()
            outdir.parent.mkdir(parents=True, exist_ok=True)
            log = open(outdir.parent / f"{outdir.name}-server.log", "w")
            # a session of its own, so that stopping it reaches its workers and nothing else
            server = subprocess.Popen(shlex.split(args.serve), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        return run(args)
    finally:
        if server is not None:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                if server.poll() is not None:
                    break
                os.killpg(server.pid, sig)  # the group created above for this server
                try:
                    server.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass


def run(args) -> int:
    try:
        wstest = ensure_venv(args.venv.resolve(), args.python27)
        if args.setup_only:
            print(f"autobahn: ready ({wstest})")
            return 0
        ids = all_case_ids(args.venv.resolve())
        pats, excl = patterns(args.cases, ids), patterns(args.exclude, ids)
        expected = resolve(pats, ids) - resolve(excl, ids)
        unknown = sorted(expected - set(ids))
        if unknown:
            raise SetupError(f"no such case(s) in autobahntestsuite 0.8.2: {', '.join(unknown)}")
        if not expected:
            raise SetupError("the selection holds no case")
        wait_for_port(args.url, args.wait, args.via)
        outdir = args.outdir.resolve()
        if outdir.exists():
            shutil.rmtree(outdir)
        outdir.mkdir(parents=True)
        bridge, url = start_bridge(args.via, args.url, outdir) if args.via != "none" else (None, args.url)
    except SetupError as exc:
        print(f"autobahn: {exc}", file=sys.stderr)
        return 2
    through = f" over {args.via} through the bridge at {url}" if bridge else ""
    print(f"autobahn: {len(expected)} case(s) against {args.url}{through}; log {outdir / 'wstest.log'}", flush=True)
    bridged = ""
    try:
        elapsed = run_wstest(wstest, url, args.agent, pats, excl, outdir, args.timeout)
    finally:
        if bridge is not None:
            bridged = stop_bridge(bridge, outdir)
            print(f"autobahn: {bridged}")
    results = load_results(outdir, args.agent)
    sections, failing, missing = summarize(results, expected)
    details = {i: case_detail(outdir, results[i]) for i, _, _ in failing}
    print_report(sections, failing, missing, details, elapsed)
    verdict = not failing and not missing
    if args.summary:
        write_summary(args.summary, args, sections, failing, missing, details, elapsed, verdict, bridged)
        print(f"summary written to {args.summary}")
    print(f"autobahn: {'PASS' if verdict else 'FAIL'} ({len(failing)} failing, {len(missing)} missing; "
          f"HTML report {outdir / 'servers' / 'index.html'})")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
