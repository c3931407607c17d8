#!/usr/bin/env python3
"""Large-body benchmarks of ringbolt's connection core: streamed responses (sync and
async generators), FileResponse against nginx, uploads through req.stream(), and a slow
reader. Self-contained, bounded and pinned; prints a Markdown report.

    python3 benchmarks/load/stream_bench.py --python build/venv-new/bin/python \
        --size 1073741824 --rounds 3 --cases sync,async,file,nginx,upload,upload-chunked,slow-sync,slow-async

Every measurement starts a fresh server (`taskset -c SERVER_CPU`), sends one small warm-up
request of the same kind, then the measured one; the client runs under `taskset -c
LOAD_CPU`. Cases run interleaved round by round (sync async file nginx ..., then again).

Cases (the app is benchmarks/load/apps/ringbolt_stream.py):
  raw               a reference, not a ceiling: a bare blocking Python socket server sending the
                    same 64 KiB bytes object SIZE/64Ki times with sendall() (Content-Length),
                    pinned like the server (one send per chunk, blocking when the socket is full)
  sync, async       GET /stream-{sync,async}/SIZE: 64 KiB bytes chunks from a sync / async
                    generator (chunked encoding on the wire)
  file              GET /file: FileResponse of a SIZE-byte file under /tmp (created here)
  nginx             the same file from nginx (1 worker, sendfile on), pinned like the server
  upload            POST /upload, SIZE bytes with Content-Length, from a Python socket client;
                    the async handler does `async for chunk in req.stream(): n += len(chunk)`
  upload-chunked    the same with Transfer-Encoding: chunked (1 MiB chunks)
  slow-sync/async   a Python socket reader at --slow-rate bytes/s (4 KiB recv + sleeps) for
                    --slow-seconds on /stream-{sync,async}/SIZE, then it closes; afterwards the
                    server's CPU over 2 s (a producer left running would show) and a health check

Columns: GB/s is 1e9 bytes per second (body bytes / client time); server CPU is utime+stime
of the server's processes (all threads) over the measured request; peak RSS is the largest
VmRSS sampled every 100 ms over the server's processes (warm-up included) and, for
ringbolt, VmHWM read at the end; ctx switches are voluntary + nonvoluntary context
switches summed over every thread of the server (/proc/PID/task/*/status) during the
measured request, per 64 KiB of body.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

from proc_util import TCK, add_pinning, cpu, free_port, nginx_conf, tree, wait_listening

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
APP = "benchmarks.load.apps.ringbolt_stream:app"
CHUNK = 65536
PAGE = os.sysconf("SC_PAGE_SIZE")

NGINX_SERVER = """        location = /file {{
            default_type application/octet-stream;
            alias {file};
        }}"""


# ---------------------------------------------------------------- clients (own process)

def client_read(port: int, path: str, rate: float, seconds: float, bufsize: int) -> None:
    """GET path with Connection: close, discard everything; print bytes, seconds, status.
    rate > 0: read at about `rate` bytes/s with `bufsize` recvs, stop after `seconds`."""
    s = socket.create_connection(("127.0.0.1", port))
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    t0 = time.perf_counter()
    s.sendall(req)
    buf = bytearray(bufsize)
    view = memoryview(buf)
    total = 0
    head = b""
    body_start = None
    while True:
        if rate > 0:
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
            ahead = total / rate - elapsed
            if ahead > 0:
                time.sleep(min(ahead, seconds - elapsed))
                continue
        n = s.recv_into(view)
        if n == 0:
            break
        if body_start is None:
            head += bytes(view[:n])
            i = head.find(b"\r\n\r\n")
            if i >= 0:
                body_start = len(head) - (i + 4)
                total += body_start
                head = head[: i + 4]
            continue
        total += n
    t1 = time.perf_counter()
    s.close()
    status = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/") else "?"
    # total counts wire bytes after the head (chunk framing included: ~10 bytes per chunk)
    print(json.dumps({"bytes": total, "seconds": t1 - t0, "status": status}))


def client_upload(port: int, size: int, chunked: bool) -> None:
    """POST /upload with `size` bytes (Content-Length, or chunked in 1 MiB chunks)."""
    s = socket.create_connection(("127.0.0.1", port))
    block = b"u" * (1 << 20)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    t0 = time.perf_counter()
    # No "Connection: close": with it, a streamed body is never read (408 after the
    # keep-alive timeout; ringbolt 5e124bd). The answer is read by its Content-Length.
    s.sendall(f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n{framing}\r\n\r\n".encode())
    left = size
    while left > 0:
        n = min(left, len(block))
        piece = block if n == len(block) else block[:n]
        if chunked:
            s.sendall(b"%x\r\n" % n)
            s.sendall(piece)
            s.sendall(b"\r\n")
        else:
            s.sendall(piece)
        left -= n
    if chunked:
        s.sendall(b"0\r\n\r\n")
    resp = b""
    for d in _received(s):
        resp += d
        i = resp.find(b"\r\n\r\n")
        if i >= 0:
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", resp[:i])
            if m and len(resp) >= i + 4 + int(m.group(1)):
                break
    t1 = time.perf_counter()
    s.close()
    m = re.search(rb'"received":\s*(\d+)', resp)
    k = re.search(rb'"chunks":\s*(\d+)', resp)
    status = resp.split(b" ", 2)[1].decode() if resp.startswith(b"HTTP/") else "?"
    print(json.dumps({"bytes": size, "seconds": t1 - t0, "status": status,
                      "received": int(m.group(1)) if m else None, "handler_chunks": int(k.group(1)) if k else None}))


def raw_server(port: int) -> None:
    """A reference for the copy path: a blocking socket server that answers GET /raw/N with a
    Content-Length of N and N bytes sent 64 KiB per send() from one bytes object (what a
    streamed response asks of the kernel, without any framework)."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    chunk = b"x" * CHUNK
    while True:
        c, _ = ls.accept()
        buf = b""
        closing = False
        for d in _received(c):
            buf += d
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                m = re.match(rb"GET /raw/(\d+) ", head)
                n = int(m.group(1)) if m else 0
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
                full, rest = divmod(n, CHUNK)
                for _ in range(full):
                    c.sendall(chunk)
                c.sendall(chunk[:rest])
                if b"connection: close" in head.lower():
                    closing = True
                    break
            if closing:
                break
        c.close()


def _received(sock: socket.socket) -> Iterator[bytes]:
    """What ``sock`` receives, piece by piece, until the peer closes."""
    while d := sock.recv(65536):
        yield d


# ---------------------------------------------------------------- /proc helpers



def status_field(pid: int, name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pid: int) -> int:
    return sum(status_field(p, "VmRSS") for p in tree(pid))


def hwm_kib(pid: int) -> int:
    return sum(status_field(p, "VmHWM") for p in tree(pid))


def cpu_s(pid: int) -> float:
    return sum(cpu(pid))


def threads(pid: int) -> dict[str, dict]:
    """tid -> {comm, ctx (vol+nonvol), vol, nonvol, cpu_s} for every thread of the tree."""
    out = {}
    for p in tree(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            base = f"/proc/{p}/task/{t}"
            try:
                with open(base + "/comm") as f:
                    comm = f.read().strip()
                vol = nonvol = 0
                with open(base + "/status") as f:
                    for line in f:
                        if line.startswith("voluntary_ctxt_switches:"):
                            vol = int(line.split()[1])
                        elif line.startswith("nonvoluntary_ctxt_switches:"):
                            nonvol = int(line.split()[1])
                with open(base + "/stat") as f:
                    fl = f.read().rsplit(")", 1)[1].split()
                cpu_time = (int(fl[11]) + int(fl[12])) / TCK
            except OSError:
                continue
            out[f"{p}/{t}"] = {"comm": comm, "vol": vol, "nonvol": nonvol, "cpu": cpu_time, "role": role(str(p), t, comm)}
    return out


WCHAN_ROLE = {"io_cqring_wait": "reactor (io_uring wait)", "do_epoll_wait": "event loop (epoll)",
              "ep_poll": "event loop (epoll)", "futex_do_wait": "thread in a futex wait",
              "futex_wait_queue": "thread in a futex wait", "sigsuspend": "master (sigsuspend)",
              "sigsuspend.isra.0": "master (sigsuspend)", "0": "running", "inet_csk_accept": "accept",
              "sk_wait_data": "recv"}


def role(pid: str, tid: str, comm: str) -> str:
    """A thread's name: its comm, and where it sleeps when idle (wchan)."""
    try:
        with open(f"/proc/{pid}/task/{tid}/wchan") as f:
            w = f.read().strip()
    except OSError:
        w = "?"
    where = WCHAN_ROLE.get(w, w or "running")
    return f"{comm}: {'main thread, ' if pid == tid and comm == 'python' else ''}{where}"


def thread_delta(before: dict, after: dict, idle: dict) -> dict[str, dict]:
    """Per thread name: switches (vol, nonvol) and CPU during the window. Threads are
    named from `idle`, a snapshot taken once the server is idle again."""
    by = {}
    for tid, a in after.items():
        b = before.get(tid, {"vol": 0, "nonvol": 0, "cpu": 0.0})
        name = idle.get(tid, a)["role"]
        d = by.setdefault(name, {"vol": 0, "nonvol": 0, "cpu": 0.0, "threads": 0})
        d["vol"] += a["vol"] - b["vol"]
        d["nonvol"] += a["nonvol"] - b["nonvol"]
        d["cpu"] += a["cpu"] - b["cpu"]
        d["threads"] += 1
    return by


class Sampler(threading.Thread):
    """Largest VmRSS (summed over the process tree) every 100 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self.stop.wait(0.1)


# ---------------------------------------------------------------- servers



def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_ringbolt(args, port: int, log) -> subprocess.Popen:
    env = dict(os.environ, STREAM_BENCH_FILE=args.file)
    cmd = ["taskset", "-c", args.server_cpu, args.python, "-m", "ringbolt", "serve", APP, "--port", str(port),
           "--threads", "1", "--log-level", "warning", "--max-body-size", str(2 * args.size + (1 << 20))]
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    wait_listening("127.0.0.1", port, 20, p)
    return p


def start_raw(args, port: int, log) -> subprocess.Popen:
    cmd = ["taskset", "-c", args.server_cpu, sys.executable, os.path.abspath(__file__), "--_rawserver", str(port)]
    p = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    wait_listening("127.0.0.1", port, 20, p)
    return p


def start_nginx(args, port: int, tmp: str, log) -> subprocess.Popen:
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(nginx_conf(tmp, port, NGINX_SERVER.format(file=args.file), connections=1024, user_root=True))
    cmd = ["taskset", "-c", args.server_cpu, args.nginx, "-p", tmp, "-c", os.path.join(tmp, "nginx.conf")]
    p = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    wait_listening("127.0.0.1", port, 20, p)
    return p


# ---------------------------------------------------------------- one measurement

def run_client(args, argv: list[str], timeout: float) -> dict:
    out = subprocess.run(["taskset", "-c", args.load_cpu] + argv, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"client failed ({out.returncode}): {out.stderr.strip()[:300]}")
    return out


def curl_get(args, port: int, path: str) -> dict:
    out = run_client(args, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}",
                            f"http://127.0.0.1:{port}{path}"], args.timeout)
    code, size, t = out.stdout.split()
    return {"status": code, "bytes": int(size), "seconds": float(t)}


def py_client(args, extra: list[str], timeout: float) -> dict:
    out = run_client(args, [sys.executable, os.path.abspath(__file__)] + extra, timeout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def get(args, port: int, path: str) -> dict:
    if args.client == "curl":
        return curl_get(args, port, path)
    return py_client(args, ["--_read", str(port), path, "0", "0", str(1 << 20)], args.timeout)


def measure(args, case: str, tmp: str, log) -> dict:
    port = free_port()
    n = args.size
    nginx = case == "nginx"
    if nginx:
        srv = start_nginx(args, port, tmp, log)
    elif case == "raw":
        srv = start_raw(args, port, log)
    else:
        srv = start_ringbolt(args, port, log)
    sampler = Sampler(srv.pid)
    sampler.start()
    res: dict = {"case": case}
    try:
        warm = 8 << 20
        if case in ("sync", "async", "slow-sync", "slow-async"):
            kind = case.split("-")[-1]
            path = f"/stream-{kind}/{n}"
            get(args, port, f"/stream-{kind}/{warm}")
        elif case == "raw":
            path = f"/raw/{n}"
            get(args, port, f"/raw/{warm}")
        elif case in ("file", "nginx"):
            path = "/file"
            curl_get(args, port, "/file")  # warm-up: the whole file once (page cache, sendfile path)
        elif case.startswith("upload"):
            py_client(args, ["--_upload", str(port), str(warm), "1" if case == "upload-chunked" else "0"], 60)
        time.sleep(0.2)
        t_before, c_before = threads(srv.pid), cpu_s(srv.pid)
        if case.startswith("slow"):
            r = py_client(args, ["--_read", str(port), path, str(args.slow_rate), str(args.slow_seconds), "4096"],
                          args.slow_seconds + 30)
        elif case.startswith("upload"):
            r = py_client(args, ["--_upload", str(port), str(n), "1" if case == "upload-chunked" else "0"],
                          args.timeout)
        else:
            r = get(args, port, path)
        c_after, t_after = cpu_s(srv.pid), threads(srv.pid)
        res.update(r)
        res["server_cpu_s"] = c_after - c_before
        time.sleep(0.3)
        res["threads"] = thread_delta(t_before, t_after, threads(srv.pid))
        res["ctx"] = sum(d["vol"] + d["nonvol"] for d in res["threads"].values())
        res["chunks"] = n / CHUNK if not case.startswith("slow") else r["bytes"] / CHUNK
        if case.startswith("slow"):
            # after the reader has gone: a producer that kept going would burn CPU here
            time.sleep(0.5)
            c0 = cpu_s(srv.pid)
            time.sleep(2.0)
            res["cpu_after_close_s"] = cpu_s(srv.pid) - c0
            res["healthy_after"] = curl_get(args, port, "/stream-sync/1000")["bytes"] == 1000
        time.sleep(0.3)
        res["peak_rss_mib"] = max(sampler.peak, rss_kib(srv.pid)) / 1024
        res["hwm_mib"] = hwm_kib(srv.pid) / 1024
        res["alive"] = srv.poll() is None
        if case.startswith("upload"):
            res["ok"] = r["status"] == "200" and r.get("received") == n
        elif case.startswith("slow"):
            res["ok"] = r["status"] == "200" and res["alive"]
        else:
            res["ok"] = r["status"] == "200" and r["bytes"] >= n
        res["gbps"] = r["bytes"] / r["seconds"] / 1e9
    finally:
        sampler.stop.set()
        stop(srv, signal.SIGQUIT if nginx else signal.SIGTERM)
    return res


# ---------------------------------------------------------------- report

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def report(args, results: list[dict], up0: str, up1: str, cmd: str) -> str:
    lines = [f"command: `{cmd}`", "", f"machine load before: `{up0}`  ", f"machine load after: `{up1}`", ""]
    lines += ["| case | rounds ok | GB/s median | GB/s range | x nginx | server CPU s | peak RSS MiB (sampled) "
              "| VmHWM MiB | ctx switches / 64 KiB |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    by = {}
    for r in results:
        by.setdefault(r["case"], []).append(r)
    ng = med([r["gbps"] for r in by.get("nginx", []) if r.get("ok")])
    for case in args.cases:
        rs = [r for r in by.get(case, []) if "error" not in r]
        ok = [r for r in rs if r.get("ok")]
        g = [r["gbps"] for r in ok]
        ratio = f"{med(g) / ng:.2f}" if g and ng == ng and case != "nginx" else ""
        lines.append(
            f"| {case} | {len(ok)}/{len(rs)} | {med(g):.2f} | {min(g, default=0):.2f} - {max(g, default=0):.2f} "
            f"| {ratio} | {med([r['server_cpu_s'] for r in ok]):.2f} | {max((r['peak_rss_mib'] for r in rs), default=0):.1f} "
            f"| {max((r['hwm_mib'] for r in rs), default=0):.1f} | {med([r['ctx'] / r['chunks'] for r in ok if r['chunks']]):.2f} |")
    lines += ["", "Peak RSS and VmHWM: the largest over rounds. Per round:", "",
              "| round | case | status | bytes | seconds | GB/s | server CPU s | peak RSS MiB | VmHWM MiB | ctx | extra |",
              "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['round']} | {r['case']} | error: {r['error']} | | | | | | | | |")
            continue
        extra = []
        if "received" in r:
            extra.append(f"received={r['received']}, handler woken for {r.get('handler_chunks')} chunks")
        if "cpu_after_close_s" in r:
            extra.append(f"CPU 2 s after close={r['cpu_after_close_s']:.2f} s, healthy after={r['healthy_after']}")
        lines.append(f"| {r['round']} | {r['case']} | {r['status']} | {r['bytes']} | {r['seconds']:.3f} | {r['gbps']:.2f} "
                     f"| {r['server_cpu_s']:.2f} | {r['peak_rss_mib']:.1f} | {r['hwm_mib']:.1f} | {r['ctx']} | {', '.join(extra)} |")
    lines += ["", "Context switches and CPU per server thread (medians over rounds), during the measured request:", "",
              "| case | thread | voluntary | nonvoluntary | CPU s |", "|---|---|---:|---:|---:|"]
    for case in args.cases:
        ok = [r for r in by.get(case, []) if r.get("ok")]
        names = sorted({n for r in ok for n in r["threads"]})
        for name in names:
            ds = [r["threads"].get(name, {"vol": 0, "nonvol": 0, "cpu": 0}) for r in ok]
            lines.append(f"| {case} | {name} | {med([d['vol'] for d in ds]):.0f} | {med([d['nonvol'] for d in ds]):.0f} "
                         f"| {med([d['cpu'] for d in ds]):.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--_read":
        port, path, rate, secs, bufsize = sys.argv[2:7]
        return client_read(int(port), path, float(rate), float(secs), int(bufsize))
    if len(sys.argv) > 1 and sys.argv[1] == "--_rawserver":
        return raw_server(int(sys.argv[2]))
    if len(sys.argv) > 1 and sys.argv[1] == "--_upload":
        port, size, chunked = sys.argv[2:5]
        return client_upload(int(port), int(size), chunked == "1")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default="python3", help="interpreter with ringbolt installed")
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--size", type=int, default=1 << 30, help="bytes per transfer (default 1 GiB)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cases", default="raw,sync,async,file,nginx,upload,upload-chunked,slow-sync,slow-async")
    ap.add_argument("--client", choices=["curl", "py"], default="curl", help="downloads: curl or a Python reader")
    add_pinning(ap)
    ap.add_argument("--file", default="/tmp/ringbolt-stream-bench.bin", help="created (zeros) if missing or of another size")
    ap.add_argument("--slow-rate", type=float, default=1e6)
    ap.add_argument("--slow-seconds", type=float, default=20)
    ap.add_argument("--timeout", type=float, default=300, help="seconds for one transfer")
    ap.add_argument("--json", help="write every result here")
    ap.add_argument("--out", help="write the Markdown report here too")
    args = ap.parse_args()
    args.cases = [c for c in args.cases.split(",") if c]
    cmd = " ".join([os.path.relpath(__file__, ROOT) if __file__.startswith(ROOT) else __file__] + sys.argv[1:])
    if any(c in ("file", "nginx") for c in args.cases):
        if not os.path.exists(args.file) or os.path.getsize(args.file) != args.size:
            with open(args.file, "wb") as f:
                block = b"\0" * (1 << 20)
                for _ in range(args.size >> 20):
                    f.write(block)
                f.write(b"\0" * (args.size & ((1 << 20) - 1)))
    # the orchestrator (RSS sampler) stays off the server's CPU
    os.sched_setaffinity(0, {int(args.load_cpu)})
    up0 = os.popen("uptime").read().strip()
    results = []
    tmp = tempfile.mkdtemp(prefix="stream-bench-")
    log = open(os.path.join(tmp, "servers.log"), "ab")
    try:
        for rnd in range(args.rounds):
            for case in args.cases:
                try:
                    r = measure(args, case, tmp, log)
                except Exception as e:  # noqa: BLE001 - reported in the table
                    r = {"case": case, "error": str(e)[:200]}
                r["round"] = rnd
                results.append(r)
                if "error" in r:
                    print(f"round {rnd} {case}: ERROR {r['error']}", file=sys.stderr, flush=True)
                else:
                    print(f"round {rnd} {case}: {r['gbps']:.2f} GB/s, ok={r['ok']}, CPU {r['server_cpu_s']:.2f} s, "
                          f"peak RSS {r['peak_rss_mib']:.1f} MiB, ctx {r['ctx']}", file=sys.stderr, flush=True)
    finally:
        log.close()
        up1 = os.popen("uptime").read().strip()
        text = report(args, results, up0, up1, cmd)
        print(text)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        with open(os.path.join(tmp, "servers.log"), "rb") as f:
            tail = f.read()[-2000:]
        if tail.strip():
            print("server log (tail):\n" + tail.decode(errors="replace"), file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
