"""HTTP/2 (h2c, prior knowledge) load comparison: ringbolt against Granian (RSGI and
ASGI, --http 2) and nginx (http2), one worker each, with h2load -c 100 -m 10.

The server runs on one CPU and h2load on another (taskset); servers are measured in
interleaved rounds and the median req/s of each is reported, with the ratios to
ringbolt's. Usage (Granian from its own venv):

    python benchmarks/load/h2_bench.py --granian build/venv-granian/bin/granian \\
        --rounds 3 --duration 5 --path /plaintext
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def nginx_conf(tmp: Path, port: int) -> Path:
    text = (HERE / "nginx.conf.tmpl").read_text().replace("@PORT@", str(port)).replace("@TMPDIR@", str(tmp))
    text = text.replace(f"listen 127.0.0.1:{port} backlog=4096;", f"listen 127.0.0.1:{port} http2 backlog=4096;")
    (tmp / "body10k.bin").write_bytes(b"x" * 10240)
    conf = tmp / "nginx.conf"
    conf.write_text(text)
    return conf


def start(name: str, port: int, cpu: str, args: argparse.Namespace, tmp: Path) -> subprocess.Popen[bytes]:
    pin = ["taskset", "-c", cpu]
    env = {**os.environ, "PYTHONPATH": str(APPS)}
    if name == "ringbolt":
        cmd = [args.python, "-m", "ringbolt", "serve", "ringbolt_app:app", "--app-dir", str(APPS), "--port",
               str(port), "--threads", "1", "--no-pin", "--log-level", "warning"]
    elif name == "granian-rsgi":
        cmd = [args.granian, "--interface", "rsgi", "--http", "2", "--workers", "1", "--runtime-threads", "1",
               "--port", str(port), "--log-level", "warning", "granian_rsgi:app"]
    elif name == "granian-asgi":
        cmd = [args.granian, "--interface", "asgi", "--http", "2", "--workers", "1", "--runtime-threads", "1",
               "--port", str(port), "--log-level", "warning", "uvicorn_asgi:app"]
    elif name == "nginx":
        cmd = [args.nginx, "-p", str(tmp), "-c", str(nginx_conf(tmp, port))]
    else:
        raise ValueError(name)
    proc = subprocess.Popen(pin + cmd, cwd=str(APPS), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, proc)
    return proc


def h2load(port: int, cpu: str, args: argparse.Namespace) -> tuple[float, str]:
    cmd = ["taskset", "-c", cpu, "h2load", "-c", str(args.connections), "-m", str(args.streams), "-t", "1",
           "-D", str(args.duration), "--warm-up-time", "1", f"http://127.0.0.1:{port}{args.path}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60).stdout
    m = re.search(r"finished in .*?, ([\d.]+) req/s", out)
    fails = re.search(r"requests: .* (\d+) failed, (\d+) errored", out)
    if m is None or fails is None:
        raise RuntimeError(out)
    note = "" if fails.group(1) == "0" and fails.group(2) == "0" else f" ({fails.group(1)} failed, {fails.group(2)} errored)"
    return float(m.group(1)), note


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable, help="the Python with ringbolt installed")
    p.add_argument("--granian", default=shutil.which("granian") or "granian")
    p.add_argument("--nginx", default="/usr/sbin/nginx")
    p.add_argument("--servers", default="ringbolt,granian-rsgi,granian-asgi,nginx")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--streams", type=int, default=10)
    p.add_argument("--path", default="/plaintext")
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--client-cpu", default="1")
    args = p.parse_args()
    args.granian = os.path.abspath(args.granian) if os.sep in args.granian else args.granian
    args.python = os.path.abspath(args.python) if os.sep in args.python else args.python
    names = args.servers.split(",")
    results: dict[str, list[float]] = {n: [] for n in names}
    print(f"load average before: {os.getloadavg()}")
    for r in range(args.rounds):
        for name in names:
            port = free_port()
            with tempfile.TemporaryDirectory() as tmp:
                proc = start(name, port, args.server_cpu, args, Path(tmp))
                try:
                    rps, note = h2load(port, args.client_cpu, args)
                finally:
                    proc.terminate()
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            results[name].append(rps)
            print(f"round {r + 1} {name:14s} {rps:10.0f} req/s{note}", flush=True)
    print(f"load average after: {os.getloadavg()}")
    base = statistics.median(results[names[0]])
    print(f"\n| server | median req/s | runs | {names[0]} / server |\n|---|---|---|---|")
    for name in names:
        med = statistics.median(results[name])
        runs = ", ".join(f"{v:.0f}" for v in results[name])
        print(f"| {name} | {med:.0f} | {runs} | {base / med:.2f}x |")


if __name__ == "__main__":
    main()
