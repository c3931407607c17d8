#!/usr/bin/env python3
"""WebSocket echo benchmark: ringbolt against its peers, messages/s and server CPU per
message for 32-byte and 16 KiB echoes over 100 connections (by default).

    python3 benchmarks/load/ws_bench.py --systems uvicorn,granian-asgi,granian-rsgi,socketify,ringbolt \
        --sizes 32,16384 --connections 100 --duration 10 --warmup 2 --rounds 5 --out ws-results.md

For each round, each system in turn (interleaved: A B C A B C ...) is started with
`taskset -c SERVER_CPU` on a free loopback port; a short probe checks that it echoes
(tools/load/ringbolt-ws-load -n 20, every byte compared). Then, per message size, the
load generator runs pinned to LOAD_CPU: a warm-up run, then the measured run. Server CPU
is utime+stime of the server's process tree (/proc/PID/stat, every thread and worker)
read just before and after the measured run, divided by the echoes counted in it; the
measured run's own connect and handshake (100 connections) are inside that window. The
report holds the medians over rounds and the ratio of each system to the best peer
(peers: every system whose name does not start with "ringbolt" or "c-ws": those are
the C floors). The load generator's own CPU (its rusage over the measured run, divided by
that run's wall time) is reported too: near 100% means the client, not the server, bounds
msg/s, and server CPU per message is then the fairer comparison. "Others' CPU" is what
the rest of the machine used meanwhile (/proc/stat user+nice+system less the server and
the generator, in % of one CPU): a run is clean only when it is near zero.

Systems whose name ends in -h2 or -h3 carry the WebSockets as streams of ONE connection
of that protocol (RFC 8441 over h2c, RFC 9220 over HTTP/3 with a throwaway certificate):
--connections then counts streams (ringbolt-ws-load --http2/--http3 -c 1 -m N). Compare
their CPU per message with the same server's HTTP/1.1 row and the C floor's.

A system that cannot start (missing package, no ringbolt WebSocket support yet) is
reported as unavailable with the reason, and the others still run.

Systems (the apps are tools/autobahn/echo_asgi.py and benchmarks/load/ws/):
  uvicorn        uvicorn + websockets (uvloop, httptools), ASGI echo
  uvicorn-wsproto  the same with --ws wsproto
  granian-asgi   Granian, ASGI echo (1 worker, 1 runtime thread, st mode)
  granian-rsgi   Granian, RSGI WebSocket echo (ws/granian_rsgi_echo.py)
  socketify      socketify's native uWebSockets echo (ws/socketify_echo.py)
  c-ws           not a peer: the machine's floor, a single-threaded epoll WebSocket echo in C
                 (ws/c_ws_echo.c, built into benchmarks/load/.bin by its probe)
  c-ws-uring     not a peer: the io_uring floor (ws/c_ws_uring_echo.c: multishot accept and recv
                 into a buffer ring, replies sent from the buffer, one io_uring_enter a loop turn);
                 c-ws-uring-zc the same with IORING_OP_SEND_ZC for replies of 4 KiB and more;
                 c-ws-uring-spin the same never sleeping (no wake-up latency; CPU/msg is 1/rate)
  ringbolt       ringbolt's @app.websocket echo (benchmarks/load/ws/ringbolt_echo.py); ringbolt-asgi:
                 `ringbolt serve tools.autobahn.echo_asgi:app`,
                 both with one worker and one reactor thread; ringbolt-h2, ringbolt-h3,
                 ringbolt-asgi-h2, ringbolt-asgi-h3: the same on streams of one connection
  hypercorn      Hypercorn (uvloop worker), ASGI echo; hypercorn-h2 the same on h2c streams
                 (Hypercorn has RFC 8441; no Python peer has RFC 9220)

Peers come from a venv (--venv, default benchmarks/load/.venv-peers, made by
setup_peers.sh); ringbolt from --ringbolt-python (default: this interpreter).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from proc_util import add_pinning, cpu, free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LOADGEN = ROOT / "tools" / "load" / "ringbolt-ws-load"
DEFAULT_VENV = HERE / ".venv-peers"


@dataclass(frozen=True)
class System:
    cmd: list[str]  # {venv} {port} {ringbolt_python} are filled in; run with cwd = repository root
    probe: list[str] = field(default_factory=list)  # must exit 0, else "unavailable"
    env: dict[str, str] = field(default_factory=dict)
    carrier: str = ""  # "--http2"/"--http3": the WebSockets are streams of one connection of that protocol


UVICORN = ["{venv}/bin/uvicorn", "tools.autobahn.echo_asgi:app", "--host", "127.0.0.1", "--port", "{port}",
           "--loop", "uvloop", "--http", "httptools", "--no-access-log",
           "--log-level", "warning"]
GRANIAN = ["{venv}/bin/granian", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1",
           "--runtime-threads", "1", "--runtime-mode", "st", "--http", "1", "--ws", "--log-level", "warning",
           "--no-access-log"]

C_WS_URING_BUILD = ["sh", "-c", "mkdir -p {bin} && cc -O2 -Wall -Wextra -o {bin}/c_ws_uring_echo "
                    "benchmarks/load/ws/c_ws_uring_echo.c -luring -lcrypto"]

RINGBOLT = ["{ringbolt_python}", "-m", "ringbolt", "serve", "benchmarks.load.ws.ringbolt_echo:app",
            "--host", "127.0.0.1", "--port", "{port}", "--workers", "1", "--threads", "1"]
RINGBOLT_ASGI = ["{ringbolt_python}", "-m", "ringbolt", "serve", "tools.autobahn.echo_asgi:app",
                 "--host", "127.0.0.1", "--port", "{port}", "--workers", "1", "--threads", "1"]
RINGBOLT_PROBE = ["{ringbolt_python}", "-c", "import ringbolt.websocket"]
HTTP3 = ["--ssl-certfile", "{cert}", "--ssl-keyfile", "{key}", "--http3"]
HYPERCORN = ["{venv}/bin/hypercorn", "tools.autobahn.echo_asgi:app", "--bind", "127.0.0.1:{port}", "--workers", "1",
             "--worker-class", "uvloop", "--log-level", "warning"]

SYSTEMS: dict[str, System] = {
    "uvicorn": System([*UVICORN, "--ws", "websockets"],
                      probe=["{venv}/bin/python", "-c", "import uvicorn, websockets, uvloop, httptools"]),
    "uvicorn-wsproto": System([*UVICORN, "--ws", "wsproto"],
                              probe=["{venv}/bin/python", "-c", "import uvicorn, wsproto, uvloop, httptools"]),
    "granian-asgi": System([*GRANIAN, "--interface", "asgi", "tools.autobahn.echo_asgi:app"],
                           probe=["{venv}/bin/python", "-c", "import granian"]),
    "granian-rsgi": System([*GRANIAN, "--interface", "rsgi", "benchmarks.load.ws.granian_rsgi_echo:app"],
                           probe=["{venv}/bin/python", "-c", "import granian.rsgi"]),
    "socketify": System(["{venv}/bin/python", "benchmarks/load/ws/socketify_echo.py", "{port}"],
                        probe=["{venv}/bin/python", "-c", "import socketify"]),
    # Not a peer: the floor, a WebSocket echo in C with no framework (ws/c_ws_echo.c), built
    # by its probe.
    "c-ws": System(["{bin}/c_ws_echo", "{port}"],
                   probe=["sh", "-c", "mkdir -p {bin} && cc -O2 -Wall -Wextra -o {bin}/c_ws_echo "
                          "benchmarks/load/ws/c_ws_echo.c -lcrypto"]),
    # Not peers: the io_uring floor (ws/c_ws_uring_echo.c), with and without zero-copy sends.
    "c-ws-uring": System(["{bin}/c_ws_uring_echo", "{port}"], probe=C_WS_URING_BUILD),
    "c-ws-uring-zc": System(["{bin}/c_ws_uring_echo", "--zc", "{port}"], probe=C_WS_URING_BUILD),
    "c-ws-uring-spin": System(["{bin}/c_ws_uring_echo", "--spin", "{port}"], probe=C_WS_URING_BUILD),
    # ringbolt's own API (@app.websocket) and the same ASGI echo app the peers run; one
    # worker, one reactor thread (the event loop has its own thread).
    "ringbolt": System(RINGBOLT, probe=RINGBOLT_PROBE),
    "ringbolt-asgi": System(RINGBOLT_ASGI, probe=RINGBOLT_PROBE),
    # the same servers, the WebSockets on streams of one HTTP/2 (h2c) or HTTP/3 connection
    "ringbolt-h2": System(RINGBOLT, probe=RINGBOLT_PROBE, carrier="--http2"),
    "ringbolt-h3": System([*RINGBOLT, *HTTP3], probe=RINGBOLT_PROBE, carrier="--http3"),
    "ringbolt-asgi-h2": System(RINGBOLT_ASGI, probe=RINGBOLT_PROBE, carrier="--http2"),
    "ringbolt-asgi-h3": System([*RINGBOLT_ASGI, *HTTP3], probe=RINGBOLT_PROBE, carrier="--http3"),
    "hypercorn": System(HYPERCORN, probe=["{venv}/bin/python", "-c", "import hypercorn, uvloop"]),
    "hypercorn-h2": System(HYPERCORN, probe=["{venv}/bin/python", "-c", "import hypercorn, uvloop, h2"],
                           carrier="--http2"),
}


def make_cert(directory: Path) -> tuple[str, str]:
    """A throwaway P-256 certificate for the HTTP/3 systems (the load generator does not check it)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"], check=True,
                   capture_output=True)
    return str(cert), str(key)


def is_peer(name: str) -> bool:
    return not name.startswith(("ringbolt", "c-ws"))


# ------------------------------------------------------------------ running one system

class Server:
    def __init__(self, name: str, system: System, ctx: dict[str, str], cpu_list: str, log: Path):
        self.name = name
        self.carrier = system.carrier
        self.port = free_port()
        fill = {**ctx, "port": str(self.port)}
        cmd = [part.format(**fill) for part in system.cmd]
        env = {**os.environ, **{k: v.format(**fill) for k, v in system.env.items()}}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        self.log = log
        self._log_file = open(log, "w")
        # a session of its own: stop() signals exactly this server's process group
        self.proc = subprocess.Popen(["taskset", "-c", cpu_list, *cmd], cwd=ROOT, env=env, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def url(self, path: str = "/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        for sig, wait in ((signal.SIGINT, 5), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)  # the group this script created for the server
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        self._log_file.close()


def run_loadgen(url: str, load_cpu: str, size: int, connections: int, pipeline: int, duration: float,
                messages: int = 0, timeout_ms: int = 5000, carrier: str = "") -> dict:
    """ringbolt-ws-load's JSON; with a carrier, `connections` WebSockets on streams of one connection."""
    if carrier:
        spread = [carrier, "-c", "1", "-m", str(connections)]
    else:
        spread = ["-c", str(connections)]
    args = [str(LOADGEN), "--json", *spread, "-p", str(pipeline), "-s", str(size),
            "--cpus", load_cpu, "--timeout", str(timeout_ms)]
    args += ["-n", str(messages)] if messages else ["-d", f"{duration}"]
    before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    out = subprocess.run(["taskset", "-c", load_cpu, *args, url], capture_output=True, text=True,
                         timeout=(duration if not messages else 30) + 60)
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic() - t0
    if not out.stdout.strip():
        raise RuntimeError(f"ringbolt-ws-load exited {out.returncode}: {out.stderr.strip()}")
    result = json.loads(out.stdout)
    # taskset execs the generator, so this child's rusage is the generator's own CPU
    load_cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["load_cpu_share"] = load_cpu_s / wall if wall > 0 else 0.0
    if out.returncode != 0:
        raise RuntimeError(f"ringbolt-ws-load exited {out.returncode}: {out.stderr.strip()}")
    return result


def wait_ready(server: Server, load_cpu: str, seconds: float) -> None:
    """Ready = a short run of verified echoes succeeds (not merely an open port)."""
    deadline = time.monotonic() + seconds
    last = ""
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            tail = server.log.read_text(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"exited with {server.proc.returncode}: {' | '.join(tail)}")
        try:
            r = run_loadgen(server.url(), load_cpu, 64, 1, 1, 0, messages=20, timeout_ms=1000, carrier=server.carrier)
            if r["messages"] == 20 and r["errors"]["total"] == 0:
                return
            last = f"probe: {r['messages']} echoes, errors {r['errors']}, {r.get('first_error', '')}"
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
            last = str(exc)
            if "handshake: " in last:
                # the server answered, but not with a WebSocket: waiting will not change that
                raise RuntimeError(f"no WebSocket echo ({last})") from None
        time.sleep(0.3)
    raise RuntimeError(f"no verified echo within {seconds:.0f} s ({last})")


def machine_task_cpu() -> tuple[float, float]:
    """(CPU seconds all tasks of the machine spent, user+nice+system, from /proc/stat; now)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return sum(int(x) for x in fields[1:4]) / os.sysconf("SC_CLK_TCK"), time.monotonic()


def measure(server: Server, args, size: int) -> dict:
    run_loadgen(server.url(), args.load_cpu, size, args.connections, args.pipeline, args.warmup,
                carrier=server.carrier)
    cpu_before = sum(cpu(server.proc.pid))
    machine_before, t0 = machine_task_cpu()
    r = run_loadgen(server.url(), args.load_cpu, size, args.connections, args.pipeline, args.duration,
                    carrier=server.carrier)
    cpu_after = sum(cpu(server.proc.pid))
    machine_after, t1 = machine_task_cpu()
    n = r["messages"]
    # Everything else the machine ran meanwhile (other users' builds): the measured run is
    # only clean when this is near zero.
    others = (machine_after - machine_before) - (cpu_after - cpu_before) - r["load_cpu_share"] * (t1 - t0)
    return {
        "messages_per_s": r["messages_per_s"],
        "cpu_us_per_msg": (cpu_after - cpu_before) * 1e6 / n if n else float("nan"),
        "server_cpu_share": (cpu_after - cpu_before) / r["duration_s"] if r["duration_s"] else 0.0,
        "load_cpu_share": r["load_cpu_share"],
        "others_cpu_share": max(0.0, others / (t1 - t0)) if t1 > t0 else 0.0,
        "p50_us": r["latency_us"]["p50"],
        "p99_us": r["latency_us"]["p99"],
        "errors": r["errors"]["total"],
        "first_error": r.get("first_error", ""),
        "raw": r,
    }


# ------------------------------------------------------------------ report

def fmt(v: float, digits: int = 0) -> str:
    if v != v:  # NaN
        return "-"
    return f"{v:,.{digits}f}"


def report(args, results: dict, unavailable: dict[str, str], sizes: list[int]) -> str:
    lines = [
        "# WebSocket echo benchmark",
        "",
        f"{dt.datetime.now().isoformat(timespec='seconds')} on {platform.node()} ({platform.platform()}, "
        f"{os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.2f}).",
        f"{args.connections} connections, {args.pipeline} message(s) in flight each, {args.duration:g} s measured "
        f"after {args.warmup:g} s warm-up, median of {args.rounds} interleaved round(s); server on CPU "
        f"{args.server_cpu}, ringbolt-ws-load on CPU {args.load_cpu}; every echo checked byte for byte.",
        f"Systems named -h2 or -h3 carry the {args.connections} WebSockets as streams of one connection of that "
        "protocol (h2c; HTTP/3 with TLS 1.3 inside QUIC).",
        "",
        "```",
        "python3 " + " ".join([os.path.relpath(__file__, ROOT), *sys.argv[1:]]),
        "```",
        "",
    ]
    for size in sizes:
        rows = {name: runs for name, runs in results.items() if runs.get(size)}
        lines += [f"## {size}-byte binary messages", ""]
        if not rows:
            lines += ["(no system ran)", ""]
            continue
        med = {name: {k: statistics.median(m[k] for m in runs[size])
                      for k in ("messages_per_s", "cpu_us_per_msg", "server_cpu_share", "load_cpu_share",
                                "others_cpu_share", "p50_us", "p99_us")}
               for name, runs in rows.items()}
        peers = [n for n in med if is_peer(n)]
        best_rate = max((med[n]["messages_per_s"] for n in peers), default=float("nan"))
        best_cpu = min((med[n]["cpu_us_per_msg"] for n in peers), default=float("nan"))
        lines += ["| system | msg/s | server CPU µs/msg | server CPU | load gen CPU | others' CPU | p50 | p99 "
                  "| errors | msg/s vs best peer | CPU/msg vs best peer |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name in sorted(med, key=lambda n: -med[n]["messages_per_s"]):
            m = med[name]
            errors = sum(x["errors"] for x in rows[name][size])
            lines.append(
                f"| {name} | {fmt(m['messages_per_s'])} | {fmt(m['cpu_us_per_msg'], 1)} | "
                f"{fmt(100 * m['server_cpu_share'])}% | {fmt(100 * m['load_cpu_share'])}% | "
                f"{fmt(100 * m['others_cpu_share'])}% | {fmt(m['p50_us'])} µs | {fmt(m['p99_us'])} µs | {errors} | "
                f"{fmt(m['messages_per_s'] / best_rate, 2)}x | {fmt(m['cpu_us_per_msg'] / best_cpu, 2)}x |")
        lines.append("")
        lines.append("Rounds (msg/s): " + "; ".join(
            f"{name} " + ", ".join(fmt(x["messages_per_s"]) for x in rows[name][size]) for name in rows))
        lines.append("")
    for name, why in unavailable.items():
        lines.append(f"- {name}: unavailable: {why}")
    return "\n".join(lines) + "\n"


def run_system(name: str, ctx: dict[str, str], args, sizes: list[int], logs: Path, rnd: int,
               unavailable: dict[str, str], active: list[str]) -> list[dict]:
    """One round of one system: its server started, every size measured, stopped."""
    server = Server(name, SYSTEMS[name], ctx, args.server_cpu, logs / f"{name}.log")
    runs = []
    try:
        wait_ready(server, args.load_cpu, 20)
        for size in sizes:
            m = measure(server, args, size)
            runs.append(m)
            print(f"round {rnd} {name:16s} {size:>6} B  {m['messages_per_s']:>10,.0f} msg/s  "
                  f"{m['cpu_us_per_msg']:>7.1f} µs CPU/msg  server {100 * m['server_cpu_share']:3.0f}%  "
                  f"load {100 * m['load_cpu_share']:3.0f}%  others {100 * m['others_cpu_share']:3.0f}%  "
                  f"p99 {m['p99_us']} µs  errors {m['errors']}"
                  + (f" ({m['first_error']})" if m["first_error"] else ""), flush=True)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        unavailable[name] = f"round {rnd}: {exc}"
        active.remove(name)
        print(f"round {rnd} {name}: {exc}", file=sys.stderr, flush=True)
        return []
    finally:
        server.stop()
    return runs


def wait_quiet(max_load: float, limit_s: float = 1800) -> None:
    """Until the machine is quiet: both CPUs 90% idle over 3 s and the 1-minute load
    average below max_load (other users' builds share this machine), or limit_s passed."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before, t0 = machine_task_cpu()
        time.sleep(3)
        after, t1 = machine_task_cpu()
        busy = (after - before) / (t1 - t0) / (os.cpu_count() or 1)
        if busy < 0.10 and os.getloadavg()[0] < max_load:
            return
    print(f"the machine is not quiet after {limit_s:.0f} s: measuring anyway", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default="uvicorn,granian-asgi,granian-rsgi,socketify",
                    help=f"comma-separated, from: {', '.join(SYSTEMS)}")
    ap.add_argument("--sizes", default="32,16384", help="message sizes in bytes (default 32,16384)")
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--pipeline", type=int, default=1, help="messages in flight per connection")
    ap.add_argument("--duration", type=float, default=10, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured load before each run")
    ap.add_argument("--rounds", type=int, default=3)
    add_pinning(ap)
    ap.add_argument("--venv", type=Path, default=Path(os.environ.get("WS_PEERS_VENV", DEFAULT_VENV)),
                    help="venv with the peers (default benchmarks/load/.venv-peers or $WS_PEERS_VENV)")
    ap.add_argument("--ringbolt-python", default=os.environ.get("RINGBOLT_PYTHON", sys.executable))
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="LOAD",
                    help="before each system's round, wait until both CPUs are 90%% idle and the 1-minute "
                         "load average is below LOAD")
    ap.add_argument("--max-others", type=float, default=15, metavar="PCT",
                    help="a round in which the rest of the machine used more than PCT%% of a CPU is noisy "
                         "(default 15)")
    ap.add_argument("--retries", type=int, default=0, help="run a noisy round again up to this many times")
    ap.add_argument("--out", type=Path, help="also write the Markdown report here")
    ap.add_argument("--json", type=Path, help="write every run's raw numbers here")
    args = ap.parse_args()

    names = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        ap.error(f"unknown system(s) {', '.join(unknown)}; known: {', '.join(SYSTEMS)}")
    sizes = [int(s) for s in args.sizes.split(",")]
    if not LOADGEN.exists() or any(LOADGEN.stat().st_mtime < p.stat().st_mtime
                                   for p in (ROOT / "tools" / "load").glob("*.[ch]pp")):
        subprocess.run(["make", "-C", str(LOADGEN.parent), "ringbolt-ws-load"], check=True)
    ctx = {"venv": str(args.venv.resolve()), "ringbolt_python": args.ringbolt_python, "bin": str(HERE / ".bin")}
    if any(SYSTEMS[n].carrier == "--http3" for n in names):
        ctx.update(zip(("cert", "key"), make_cert(ROOT / "build" / "ws-bench-certs")))

    unavailable: dict[str, str] = {}
    for name in names:
        probe = [p.format(**ctx) for p in SYSTEMS[name].probe]
        if probe:
            out = subprocess.run(probe, capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                unavailable[name] = (out.stderr.strip().splitlines() or ["probe failed"])[-1]
    active = [n for n in names if n not in unavailable]
    logs = ROOT / "build" / "ws-bench-logs"
    logs.mkdir(parents=True, exist_ok=True)

    results: dict[str, dict[int, list]] = {n: {s: [] for s in sizes} for n in active}
    for rnd in range(1, args.rounds + 1):
        for name in list(active):
            for attempt in range(1, args.retries + 2):
                if args.wait_quiet:
                    wait_quiet(args.wait_quiet)
                runs = run_system(name, ctx, args, sizes, logs, rnd, unavailable, active)
                noisy = [m for m in runs if m["others_cpu_share"] * 100 > args.max_others]
                if not noisy or attempt > args.retries:
                    for size, m in zip(sizes, runs):
                        results[name][size].append(m)
                    break
                print(f"round {rnd} {name}: others used {100 * noisy[0]['others_cpu_share']:.0f}% of a CPU: "
                      f"run again ({attempt}/{args.retries})", flush=True)
    text = report(args, results, unavailable, sizes)
    print()
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({n: {str(s): [{k: v for k, v in m.items()} for m in runs]
                                             for s, runs in r.items()} for n, r in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
