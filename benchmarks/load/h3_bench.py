#!/usr/bin/env python3
"""HTTP/3 against ringbolt's own h2 over TLS (and HTTPS/1.1): server CPU µs per small
request, one reactor, same run, interleaved rounds (issue 27's target: h3 at most 1.5x
h2 over TLS).

Each round starts one ringbolt server per app (`--threads 1 --workers 1`, pinned with
taskset to --server-cpu, HTTPS with a throwaway P-256 certificate, `--http3`, `--metrics`)
and loads it in turn, on --load-cpu, with:

- h3:     tools/load/ringbolt-h3-load -c C -p P -d D --json  (HTTP/3 over QUIC, UDP)
- h2:     h2load -c C -m P -D D                              (HTTP/2 over TLS, ALPN h2)
- https1: tools/load/ringbolt-load is plain HTTP only, so wrk -c C*P (keep-alive HTTPS/1.1)

(--protocols picks them). Server CPU µs/req is the user+system CPU time of the server
process (/proc, every thread) over the load window, divided by the requests answered in
it; the generator's own warm-up (1 s) is outside the window. p99 latency is each generator's
own (ringbolt-h3-load's histogram, h2load's --log-file, wrk --latency), median of the rounds. The apps are
benchmarks/load/apps/ringbolt_const.py (a native const route: no Python per request) and
ringbolt_app.py (a sync Python handler); both answer GET /plaintext with "Hello, World!".

What the kernel offered the QUIC socket is printed from the server's metrics after each h3
run: UDP datagrams received and how many GRO batches they came in, datagrams sent and in
how many sendmsg messages, of which how many were GSO runs.

    build/venv311/bin/python benchmarks/load/h3_bench.py --rounds 3 --duration 5

Prints a Markdown table of medians (and the per-round figures on stderr), with the load
average before and after: on a shared machine prefer instruction counts for A/B.

--callgrind N counts instructions instead (repeatable on a busy machine): the server runs
under `valgrind --tool=callgrind --instr-atstart=no`, each protocol's generator first sends
--callgrind-warm requests uncounted, then instrumentation is switched on
(callgrind_control -i on), the generator sends N requests on new connections (ringbolt-h3-load
-n N, h2load -n N; their handshakes are in the count, 16 of them by default), and the
profile is dumped: user-space instructions per request, every thread of the server. Kernel
work (the syscalls, UDP and TCP) is not in it.

    build/venv311/bin/python benchmarks/load/h3_bench.py --callgrind 20000 --apps const --protocols h3,h2

--download-mib M times one download of an M MiB static file instead (app.static,
benchmarks/load/apps/ringbolt_static.py, a file of random-looking bytes in a temporary
directory), one connection, one stream, in turn over each protocol on the same server:
ringbolt-h3-load -c 1 -p 1 -n 1, h2load -c 1 -m 1 -n 1, curl --http1.1 over HTTPS, the
client on --load-cpu. Throughput is the file's bytes over the client's wall time (handshake
included); server CPU is the process's user+system time over the download, as seconds and
as ns per byte (the UDP tallies for h3 as above).

    build/venv311/bin/python benchmarks/load/h3_bench.py --download-mib 1024 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
APPS = HERE / "apps"
sys.path.insert(0, str(HERE))
from proc_util import add_pinning, cpu, free_port, insecure_tls, wait_answering  # noqa: E402

APP_MODULES = {"const": "ringbolt_const:app", "python": "ringbolt_app:app", "static": "ringbolt_static:app"}
QUIC_TALLIES = ("udp_received", "udp_gro_batches", "udp_sent", "udp_send_messages", "udp_gso_messages",
                "udp_send_dropped", "quic_packets")


def make_cert(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


class Server:
    """One ringbolt process serving `app` over HTTPS and HTTP/3 on one reactor."""

    def __init__(self, args: argparse.Namespace, app: str, tls: tuple[Path, Path], log: Path,
                 env: dict[str, str] | None = None, probe: str = "/plaintext") -> None:
        self.port = free_port()
        cmd = ["taskset", "-c", args.server_cpu, args.python, "-m", "ringbolt", "serve", APP_MODULES[app],
               "--app-dir", str(APPS), "--port", str(self.port), "--workers", "1", "--threads", "1", "--no-pin",
               "--log-level", "warning", "--no-access-log", "--ssl-certfile", str(tls[0]), "--ssl-keyfile",
               str(tls[1]), "--http3", "--metrics", "/metrics"]
        self.log = log
        self.proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=str(ROOT),
                                     start_new_session=True, env={**os.environ, **(env or {})})
        self._ctx = insecure_tls()
        try:
            wait_answering(self.proc, log, lambda: self.get(probe))
        except RuntimeError:
            self.stop()
            raise

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"https://127.0.0.1:{self.port}{path}", timeout=2, context=self._ctx) as r:
            return r.read()

    def cpu_seconds(self) -> float:
        user, system = cpu(self.proc.pid)
        return user + system

    def tallies(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.get("/metrics").decode().splitlines():
            m = re.match(r"ringbolt_(\w+?)(?:_total)?(?:\{[^}]*\})? ([\d.e+]+)$", line)
            if m and m.group(1) in QUIC_TALLIES:
                out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(2))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_h3(args: argparse.Namespace, port: int) -> tuple[int, int, float]:
    cmd = ["taskset", "-c", args.load_cpu, str(args.h3_load), "-c", str(args.connections), "-p", str(args.streams),
           "-d", str(args.duration), "--warmup", "1", "--json", f"https://127.0.0.1:{port}/plaintext"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    try:
        j = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"ringbolt-h3-load: {out.stdout[-1000:]} {out.stderr[-1000:]}") from None
    return int(j["requests"]), int(j["errors"]["total"]) + int(j["non_2xx_3xx"]), j["latency_us"]["p99"] / 1000


def p99_of_h2load_log(path: str) -> float:
    """p99 in ms of the request times h2load --log-file wrote (start µs, status, µs)."""
    times = sorted(int(line.split()[2]) for line in open(path) if len(line.split()) == 3)
    return times[min(len(times) - 1, int(len(times) * 0.99))] / 1000 if times else float("nan")


def run_h2(args: argparse.Namespace, port: int) -> tuple[int, int, float]:
    log = tempfile.NamedTemporaryFile(prefix="h2load-", suffix=".log", delete=False)
    log.close()
    cmd = ["taskset", "-c", args.load_cpu, "h2load", "-c", str(args.connections), "-m", str(args.streams), "-t", "1",
           "-D", str(args.duration), "--warm-up-time", "1", f"--log-file={log.name}", f"https://127.0.0.1:{port}/plaintext"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60).stdout
        p99 = p99_of_h2load_log(log.name)
    finally:
        os.unlink(log.name)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    proto = re.search(r"Application protocol: (\S+)", out)
    if done is None or proto is None or proto.group(1) != "h2":
        raise RuntimeError(f"h2load: {out[-1500:]}")
    return int(done.group(2)), int(done.group(3)) + int(done.group(4)), p99


def run_https1(args: argparse.Namespace, port: int) -> tuple[int, int, float]:
    cmd = ["taskset", "-c", args.load_cpu, "wrk", "-t1", "--latency", f"-c{args.connections * args.streams}",
           f"-d{args.duration}s", f"https://127.0.0.1:{port}/plaintext"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60).stdout
    m = re.search(r"(\d+) requests in", out)
    if m is None:
        raise RuntimeError(f"wrk: {out[-1500:]}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    n_err = (sum(int(x) for x in errors.groups()) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0)
    p = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(p.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p.group(2)] if p else float("nan")
    return int(m.group(1)), n_err, p99


RUNNERS = {"h3": run_h3, "h2": run_h2, "https1": run_https1}


def send_n(args: argparse.Namespace, proto: str, port: int, n: int) -> int:
    """n requests by the protocol's generator, on new connections; the errors."""
    url = f"https://127.0.0.1:{port}/plaintext"
    if proto == "h3":
        cmd = [str(args.h3_load), "-c", str(args.connections), "-p", str(args.streams), "-n", str(n),
               "--timeout", "60000", "--json", url]
        out = subprocess.run(["taskset", "-c", args.load_cpu, *cmd], capture_output=True, text=True, timeout=900)
        j = json.loads(out.stdout)
        return int(j["errors"]["total"]) + int(j["non_2xx_3xx"]) + int(j["requests"] != n)
    if proto == "h2":
        cmd = ["h2load", "-c", str(args.connections), "-m", str(args.streams), "-t", "1", "-n", str(n), url]
        out = subprocess.run(["taskset", "-c", args.load_cpu, *cmd], capture_output=True, text=True,
                             timeout=900).stdout
        done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
        if done is None:
            raise RuntimeError(f"h2load: {out[-1500:]}")
        if int(done.group(2)) != n:
            print(out[-1500:], file=sys.stderr)
        return n - int(done.group(2))
    raise ValueError(f"--callgrind counts h3 and h2, not {proto}")


def callgrind_count(args: argparse.Namespace, app: str, proto: str, tls: tuple[Path, Path], tmp: Path) -> float:
    """User-space instructions of the server per request (see --callgrind)."""
    port = free_port()
    out = tmp / f"cg-{app}-{proto}-{port}.out"
    cmd = ["taskset", "-c", args.server_cpu, "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
           "--instr-atstart=no", args.python, "-m", "ringbolt", "serve", APP_MODULES[app], "--app-dir", str(APPS),
           "--port", str(port), "--workers", "1", "--threads", "1", "--no-pin", "--log-level", "warning",
           "--no-access-log", "--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1]), "--http3"]
    srv = subprocess.Popen(cmd, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        ctx = insecure_tls()
        deadline = time.monotonic() + 300
        while True:  # until it answers over HTTPS (a TCP connect alone comes too early)
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/plaintext", timeout=30, context=ctx) as r:
                    r.read()
                break
            except OSError:
                if srv.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server under valgrind did not start")
                time.sleep(0.5)
        send_n(args, proto, port, args.callgrind_warm)
        ctl = ["callgrind_control"]
        subprocess.run([*ctl, "-i", "on", str(srv.pid)], capture_output=True, timeout=120, check=True)
        errors = send_n(args, proto, port, args.callgrind)
        subprocess.run([*ctl, "-d", str(srv.pid)], capture_output=True, timeout=120, check=True)
        time.sleep(1)
    finally:
        srv.kill()
        srv.wait()
    total = 0
    for f in tmp.glob(out.name + "*"):  # the dump (.1); the file of the killed process is empty
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")) and int(line.split()[1]) > total:
                total = int(line.split()[1])
                if args.keep:
                    shutil.copy(f, Path(args.keep) / f"{app}-{proto}.out")
    if errors:
        print(f"{app} {proto}: {errors} requests failed under valgrind", file=sys.stderr)
    return total / args.callgrind


def measure(args: argparse.Namespace, srv: Server, proto: str) -> dict[str, float]:
    before_t = srv.tallies() if proto == "h3" else {}
    if proto == "https1":  # wrk has no warm-up of its own
        RUNNERS[proto](argparse.Namespace(**{**vars(args), "duration": 1}), srv.port)
    # The generators' warm-up second is inside this window for h3 and h2: CPU is read
    # after it, by waiting it out here while they run.
    result: dict[str, float] = {}
    t0 = time.monotonic()
    cpu0 = None

    def sample() -> None:
        nonlocal cpu0
        time.sleep(1.0 if proto != "https1" else 0.0)
        cpu0 = (srv.cpu_seconds(), time.monotonic())

    th = threading.Thread(target=sample)
    th.start()
    requests, errors, p99 = RUNNERS[proto](args, srv.port)
    cpu1 = (srv.cpu_seconds(), time.monotonic())
    th.join()
    assert cpu0 is not None
    window = cpu1[1] - cpu0[1]
    result["rps"] = requests / args.duration
    # requests counted by the generator over its measured window (args.duration); the CPU
    # window is the same span give or take the generator's start and report (< 50 ms).
    result["cpu_us"] = 1e6 * (cpu1[0] - cpu0[0]) / requests if requests else float("nan")
    result["errors"] = errors
    result["p99_ms"] = p99
    result["window_s"] = window
    result["elapsed_s"] = time.monotonic() - t0
    if proto == "h3":
        after_t = srv.tallies()
        for k in QUIC_TALLIES:
            result[k] = after_t.get(k, 0.0) - before_t.get(k, 0.0)
    return result


def callgrind_main(args: argparse.Namespace, apps: list[str], protos: list[str]) -> int:
    print(f"load average before: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    counts: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="rb-h3-cg-") as tmp:
        tls = make_cert(Path(tmp))
        for app in apps:
            for proto in protos:
                counts[(app, proto)] = callgrind_count(args, app, proto, tls, Path(tmp))
                print(f"{app} {proto}: {counts[(app, proto)]:.0f} instructions/request", file=sys.stderr, flush=True)
    print(f"load average after: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    print(f"| app | protocol | server instructions/request ({args.callgrind} requests, -c {args.connections} "
          f"-p/-m {args.streams}) | x h2 |")
    print("|---|---|---|---|")
    for app in apps:
        base = counts.get((app, "h2"))
        for proto in protos:
            ratio = f"{counts[(app, proto)] / base:.2f}" if base else "-"
            print(f"| {app} | {proto} | {counts[(app, proto)]:.0f} | {ratio} |")
    return 0


def download_once(args: argparse.Namespace, proto: str, url: str, size: int) -> float:
    """One download of `url` (size bytes) over proto; the client's wall time in seconds."""
    pin = ["taskset", "-c", args.load_cpu]
    t0 = time.monotonic()
    if proto == "h3":
        out = subprocess.run([*pin, str(args.h3_load), "-c", "1", "-p", "1", "-n", "1", "--timeout", "600000",
                              "--json", url], capture_output=True, text=True, timeout=900)
        took = time.monotonic() - t0
        j = json.loads(out.stdout)
        ok = int(j["requests"]) == 1 and int(j["errors"]["total"]) == 0 and int(j["bytes"]) >= size
    elif proto == "h2":
        out = subprocess.run([*pin, "h2load", "-c", "1", "-m", "1", "-t", "1", "-n", "1", url], capture_output=True,
                             text=True, timeout=900)
        took = time.monotonic() - t0
        ok = (re.search(r"requests: 1 total, 1 started, 1 done, 1 succeeded", out.stdout) is not None
              and re.search(r"Application protocol: h2\b", out.stdout) is not None)
    else:
        out = subprocess.run([*pin, "curl", "-sk", "--http1.1", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                              url], capture_output=True, text=True, timeout=900)
        took = time.monotonic() - t0
        ok = out.stdout.split() == ["200", str(size)]
    if not ok:
        raise RuntimeError(f"{proto} download failed: {out.stdout[-1500:]} {out.stderr[-1500:]}")
    return took


def download_main(args: argparse.Namespace, protos: list[str]) -> int:
    size = args.download_mib << 20
    results: dict[str, list[dict[str, float]]] = {pr: [] for pr in protos}
    print(f"load average before: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="rb-h3-dl-") as tmp:
        tls = make_cert(Path(tmp))
        files = Path(tmp) / "files"
        files.mkdir()
        block = os.urandom(1 << 20)
        with (files / "big.bin").open("wb") as f:
            for _ in range(args.download_mib):
                f.write(block)
        for r in range(args.rounds):
            srv = Server(args, "static", tls, Path(tmp) / f"server-dl-{r}.log",
                         env={"RINGBOLT_BENCH_STATIC": str(files)}, probe="/metrics")
            try:
                url = f"https://127.0.0.1:{srv.port}/big.bin"
                for proto in protos:
                    before_t = srv.tallies() if proto == "h3" else {}
                    cpu0 = srv.cpu_seconds()
                    took = download_once(args, proto, url, size)
                    res = {"seconds": took, "mib_s": args.download_mib / took, "cpu_s": srv.cpu_seconds() - cpu0}
                    res["ns_per_byte"] = 1e9 * res["cpu_s"] / size
                    extra = ""
                    if proto == "h3":
                        after_t = srv.tallies()
                        for k in QUIC_TALLIES:
                            res[k] = after_t.get(k, 0.0) - before_t.get(k, 0.0)
                        extra = (f"; UDP out {res['udp_sent']:.0f} datagrams in {res['udp_send_messages']:.0f} "
                                 f"messages ({res['udp_gso_messages']:.0f} GSO), in {res['udp_received']:.0f} in "
                                 f"{res['udp_gro_batches']:.0f} GRO batches")
                    results[proto].append(res)
                    print(f"round {r + 1} {proto:6s} {res['mib_s']:8.1f} MiB/s {res['cpu_s']:6.2f} s server CPU "
                          f"({res['ns_per_byte']:.2f} ns/byte){extra}", file=sys.stderr, flush=True)
            finally:
                srv.stop()
    print(f"load average after: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    print(f"| protocol | {args.download_mib} MiB download, MiB/s median | server CPU s median | ns/byte | "
          "runs (MiB/s; CPU s) | UDP datagrams per sendmsg out | GSO messages |")
    print("|---|---|---|---|---|---|---|")
    for proto in protos:
        runs = results[proto]
        msgs = gso = "-"
        if proto == "h3":
            tx = sum(x["udp_sent"] for x in runs)
            m = sum(x["udp_send_messages"] for x in runs)
            msgs = f"{tx / m:.2f}" if m else "-"
            gso = f"{sum(x['udp_gso_messages'] for x in runs):.0f} of {m:.0f}"
        print(f"| {proto} | {statistics.median(x['mib_s'] for x in runs):.1f} | "
              f"{statistics.median(x['cpu_s'] for x in runs):.2f} | "
              f"{statistics.median(x['ns_per_byte'] for x in runs):.2f} | "
              f"{'; '.join('%.0f, %.2f' % (x['mib_s'], x['cpu_s']) for x in runs)} | {msgs} | {gso} |")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable, help="the Python with ringbolt installed")
    p.add_argument("--h3-load", default=str(ROOT / "tools" / "load" / "ringbolt-h3-load"))
    p.add_argument("--apps", default="const,python", help="const (native route), python (sync handler)")
    p.add_argument("--protocols", default="h3,h2,https1")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--streams", type=int, default=8, help="streams in flight per connection (h3 -p, h2load -m)")
    add_pinning(p)
    p.add_argument("--callgrind", type=int, default=0, metavar="N",
                   help="count instructions per request over N requests instead (see above)")
    p.add_argument("--callgrind-warm", type=int, default=2000)
    p.add_argument("--keep", help="--callgrind: copy the profiles here (APP-PROTO.out)")
    p.add_argument("--download-mib", type=int, default=0, metavar="M",
                   help="time one download of an M MiB static file per protocol instead (see above)")
    args = p.parse_args()
    apps = args.apps.split(",")
    protos = args.protocols.split(",")
    https1_tool = "curl" if args.download_mib else "wrk"
    for tool in (["h2load"] if "h2" in protos else []) + ([https1_tool] if "https1" in protos else []):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    if "h3" in protos and not os.access(args.h3_load, os.X_OK):
        sys.exit(f"{args.h3_load} is missing: make -C tools/load ringbolt-h3-load")
    if args.callgrind:
        return callgrind_main(args, apps, protos)
    if args.download_mib:
        return download_main(args, protos)
    results: dict[tuple[str, str], list[dict[str, float]]] = {(a, pr): [] for a in apps for pr in protos}
    print(f"load average before: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="rb-h3-bench-") as tmp:
        tls = make_cert(Path(tmp))
        for r in range(args.rounds):
            for app in apps:
                srv = Server(args, app, tls, Path(tmp) / f"server-{app}-{r}.log")
                try:
                    for proto in protos:
                        res = measure(args, srv, proto)
                        results[(app, proto)].append(res)
                        extra = ""
                        if proto == "h3":
                            extra = (f"; UDP in {res['udp_received']:.0f} datagrams in {res['udp_gro_batches']:.0f}"
                                     f" GRO batches, out {res['udp_sent']:.0f} datagrams in "
                                     f"{res['udp_send_messages']:.0f} messages ({res['udp_gso_messages']:.0f} GSO)")
                        print(f"round {r + 1} {app:6s} {proto:6s} {res['rps']:9.0f} req/s "
                              f"{res['cpu_us']:6.2f} server CPU us/req, p99 {res['p99_ms']:.2f} ms, "
                              f"{res['errors']:.0f} errors{extra}",
                              file=sys.stderr, flush=True)
                finally:
                    srv.stop()
    print(f"load average after: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    print("| app | protocol | req/s median | server CPU µs/req median | runs (µs/req) | x h2 | p99 ms median | errors |"
          " UDP datagrams per GRO batch in | datagrams per sendmsg out | GSO messages |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for app in apps:
        h2_med = statistics.median(x["cpu_us"] for x in results[(app, "h2")]) if "h2" in protos else None
        for proto in protos:
            runs = results[(app, proto)]
            med_cpu = statistics.median(x["cpu_us"] for x in runs)
            med_rps = statistics.median(x["rps"] for x in runs)
            errs = sum(x["errors"] for x in runs)
            ratio = f"{med_cpu / h2_med:.2f}" if h2_med else "-"
            gro = gso = msgs = "-"
            if proto == "h3":
                rx = sum(x["udp_received"] for x in runs)
                b = sum(x["udp_gro_batches"] for x in runs)
                tx = sum(x["udp_sent"] for x in runs)
                m = sum(x["udp_send_messages"] for x in runs)
                gro = f"{rx / b:.2f}" if b else f"no GRO ({rx:.0f} datagrams)"
                msgs = f"{tx / m:.2f}" if m else "-"
                gso = f"{sum(x['udp_gso_messages'] for x in runs):.0f} of {m:.0f}"
            print(f"| {app} | {proto} | {med_rps:.0f} | {med_cpu:.2f} | "
                  f"{', '.join('%.2f' % x['cpu_us'] for x in runs)} | {ratio} | "
                  f"{statistics.median(x['p99_ms'] for x in runs):.2f} | {errs:.0f} | {gro} | {msgs} | {gso} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
