#!/usr/bin/env python3
"""User-space instructions per request of a whole ringbolt server, old build vs new,
counted by callgrind (repeatable on a noisy machine, unlike timings). Each build serves
the app under `valgrind --tool=callgrind --instr-atstart=no`; one keep-alive connection
sends --warm requests, then instrumentation is switched on (callgrind_control -i on),
--n requests follow one at a time (each request is one reactor turn, no batching; with
--connections N they go over N connections at once, so a turn holds up to N), and
the profile is dumped (callgrind_control -d): instructions / n, every thread of the
server (reactor, Python). Kernel work (the syscalls themselves) is not counted. An app
with an asyncio loop thread (ASGI, async handlers) needs RINGBOLT_IO=epoll here: on
io_uring valgrind keeps its thread lock while the reactor waits in io_uring_enter, and
the loop thread never runs (the script stops with that message after ANSWER_TIMEOUT).

    OLD_PYTHON=build/venv-old/bin/python NEW_PYTHON=build/venv-new/bin/python \
        python3 benchmarks/load/instr_per_request.py --app benchmarks.load.apps.ringbolt_const:app --path /json

--body-size N sends POSTs with an N-byte body instead (uploads: e.g. --app
benchmarks.load.apps.ringbolt_stream:app --path /upload --body-size 500000). --raw FILE sends
a request as written in a file (HttpArena's requests/post_chunked.raw: a chunked body), and
--pipeline N writes N requests at once (HttpArena's pipelined profile: 16).

--websocket SIZE counts per WebSocket message instead: one connection, upgraded on --path,
echoes SIZE-byte binary messages one at a time (RINGBOLT_IO=epoll, the echo runs on the loop):

    RINGBOLT_IO=epoll python3 benchmarks/load/instr_per_request.py --app-dir benchmarks/load/ws \
        --app ringbolt_echo:app --path / --websocket 4096

--peer 'LABEL=COMMAND' (repeatable) counts another server the same way, in a third row:
COMMAND is split like a shell line, `{port}` in it is the port to serve, and it runs from
the repository root. Only processes the command runs directly are counted (a server that
forks workers needs its one-process mode), e.g. uvicorn on the same FastAPI app:

    --peer 'uvicorn=benchmarks/load/.venv-peers/bin/python -m uvicorn fastapi_app:app
            --app-dir benchmarks/load/apps --port {port} --loop uvloop --http httptools
            --no-access-log --log-level warning'
"""
import argparse
import glob
import http.client
import os
import re
import shlex
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from proc_util import free_port, wait_listening

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))




ANSWER_TIMEOUT = 120  # seconds for one answer under valgrind (a few are normal; minutes are a hang)
EXPECT_STATUS = b"200"  # --expect-status: what every answer must be (a 201 create, a 422 refusal)


def _chunked_end(buf, at):
    """Where a chunked body starting at `at` ends, its last chunk and (empty) trailer
    included (0: not whole yet)."""
    while True:
        eol = buf.find(b"\r\n", at)
        if eol < 0:
            return 0
        size = int(buf[at:eol].split(b";")[0], 16)
        if size == 0:
            end = buf.find(b"\r\n\r\n", eol)  # the trailer section, empty or not
            return end + 4 if end >= 0 else 0
        at = eol + 2 + size + 2
        if len(buf) < at:
            return 0


def _answer_end(buf):
    """Where the first whole answer in `buf` ends (0: not whole yet); raises on another
    status than --expect-status (200).
    The body is framed by Content-Length or chunked."""
    i = buf.find(b"\r\n\r\n")
    if i < 0:
        return 0
    if re.search(rb"(?i)\r\ntransfer-encoding:[^\r]*chunked", buf[:i]):
        end = _chunked_end(buf, i + 4)
        if end == 0:
            return 0
    else:
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", buf[:i])
        end = i + 4 + (int(m.group(1)) if m else 0)
        if len(buf) < end:
            return 0
    if not buf.startswith(b"HTTP/1.1 " + EXPECT_STATUS):
        raise RuntimeError(buf[:200])
    return end


def wait_ready(port, path, srv, timeout=300):
    """Until GET `path` answers 200 (--ready: an app with health probes answers 503 until
    its startup has run, which takes a while under valgrind)."""
    deadline = time.monotonic() + timeout
    while True:
        if srv.poll() is not None:
            raise RuntimeError(f"the server exited with status {srv.returncode} before it was ready")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"GET {path} never answered 200 in {timeout} s")
        time.sleep(0.5)


def build_request(path, headers=(), body=None):
    """One request's bytes: a GET, or a POST with a Content-Length body."""
    extra = "".join(f"{h}\r\n" for h in headers)
    if body is None:
        return f"GET {path} HTTP/1.1\r\nHost: localhost:8000\r\n{extra}\r\n".encode()
    return f"POST {path} HTTP/1.1\r\nHost: localhost:8000\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body


def send_concurrently(port, req, n, connections):
    """n requests over `connections` keep-alive connections, each sending its next request
    once its answer came (as gcannon -p 1 does): the server's turns then hold up to
    `connections` requests, the batches its app hand-over acts on."""
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    sel = selectors.DefaultSelector()
    left = {s: n // connections + (1 if k < n % connections else 0) for k, s in enumerate(socks)}
    bufs = {s: b"" for s in socks}
    for s in socks:
        s.setblocking(False)
        if left[s]:
            s.sendall(req)
            sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while sel.get_map():
        events = sel.select(timeout=5)
        if not events and time.monotonic() > deadline:
            raise RuntimeError(f"no answer in {ANSWER_TIMEOUT} s")
        for key, _ in events:
            s = key.fileobj
            d = s.recv(65536)
            if not d:
                raise RuntimeError("connection closed")
            deadline = time.monotonic() + ANSWER_TIMEOUT
            bufs[s] += d
            while (end := _answer_end(bufs[s])) > 0:
                bufs[s] = bufs[s][end:]
                left[s] -= 1
                if left[s] > 0:
                    s.sendall(req)  # small: the socket's buffer takes it at once
                else:
                    sel.unregister(s)
    for s in socks:
        s.close()


def send_requests(port, req, n, pipeline=1, connections=1):
    """n requests: over `connections` connections at once (send_concurrently), or on one
    keep-alive connection, `pipeline` of them per write (n is rounded up to a whole number
    of writes), each write's answers read before the next write."""
    if connections > 1:
        send_concurrently(port, req, n, connections)
        return
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(ANSWER_TIMEOUT)
    buf = b""
    for _ in range(-(-n // pipeline)):
        s.sendall(req * pipeline)
        answered = 0
        while answered < pipeline:
            end = _answer_end(buf)
            if end > 0:
                buf = buf[end:]
                answered += 1
                continue
            try:
                d = s.recv(65536)
            except socket.timeout:
                raise RuntimeError(
                    f"no answer in {ANSWER_TIMEOUT} s. An app with an asyncio loop thread (ASGI, async handlers) "
                    "hangs on io_uring under valgrind, which keeps its thread lock while the reactor waits in "
                    "io_uring_enter: run with RINGBOLT_IO=epoll") from None
            if not d:
                raise RuntimeError("connection closed")
            buf += d
    s.close()


class WebSocketEcho:
    """One WebSocket connection to an echo route: `echo(n)` sends n masked binary messages
    of `size` bytes, one at a time, each after the echo of the one before, and checks that
    each came back whole and unchanged. Warm-up and measurement share the connection, so
    the opening handshake is not counted."""

    def __init__(self, port, path, size):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(ANSWER_TIMEOUT)
        self.payload = os.urandom(size)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(self.payload))
        if size < 126:
            head = bytes([0x82, 0x80 | size])
        elif size < 65536:
            head = bytes([0x82, 0x80 | 126]) + size.to_bytes(2, "big")
        else:
            head = bytes([0x82, 0x80 | 127]) + size.to_bytes(8, "big")
        self.frame = head + mask + masked
        self.buf = b""
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost:8000\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                          .encode())
        while b"\r\n\r\n" not in self.buf:
            self._read()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head[:200])

    def _read(self):
        d = self.sock.recv(65536)
        if not d:
            raise RuntimeError("connection closed")
        self.buf += d

    def _message(self):
        """The payload of the next whole (unfragmented, unmasked) message from the server."""
        while True:
            b = self.buf
            if len(b) >= 2:
                n, at = b[1] & 0x7F, 2
                if n == 126 and len(b) >= 4:
                    n, at = int.from_bytes(b[2:4], "big"), 4
                elif n == 127 and len(b) >= 10:
                    n, at = int.from_bytes(b[2:10], "big"), 10
                if n < 126 or at > 2:
                    if len(b) >= at + n:
                        if b[0] != 0x82:
                            raise RuntimeError(f"expected one whole binary message, got first byte {b[0]:#x}")
                        self.buf = b[at + n:]
                        return b[at:at + n]
            self._read()

    def echo(self, n):
        for _ in range(n):
            self.sock.sendall(self.frame)
            if self._message() != self.payload:
                raise RuntimeError("the echo differs from the message sent")

    def close(self):
        self.sock.close()


def count(py, args, n, tmp, peer_cmd=None):
    """Instructions the server executes for n requests: instrumentation is off at start,
    turned on after `--warm` requests (callgrind_control -i on), the profile is dumped
    after the n measured ones (callgrind_control -d), so start-up and shutdown are not in it.
    The server is ringbolt under `py`, or `peer_cmd` (a --peer command) when given."""
    port = free_port()
    out = os.path.join(tmp, f"cg-{port}.out")
    per_thread = ["--separate-threads=yes"] if args.threads_split else []
    if peer_cmd is not None:
        server = [part.replace("{port}", str(port)) for part in shlex.split(peer_cmd)]
    else:
        server = [py, "-m", "ringbolt", "serve", args.app, "--port", str(port), "--threads", "1", "--log-level", "warning",
                  "--max-body-size", str(1 << 30), *(["--app-dir", args.app_dir] if args.app_dir else [])]
    cmd = ["taskset", "-c", args.server_cpu, "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
           "--instr-atstart=no", *per_thread, *server]
    srv = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_listening("127.0.0.1", port, 300, srv)
        if args.ready:
            wait_ready(port, args.ready, srv)
        ctl = lambda *a: subprocess.run(["callgrind_control", *a, str(srv.pid)], capture_output=True, text=True,
                                        timeout=120, check=True)
        if args.websocket is not None:
            ws = WebSocketEcho(port, args.path, args.websocket)
            ws.echo(args.warm)
            ctl("-i", "on")
            ws.echo(n)
            ctl("-d")
            ws.close()
        else:
            send_requests(port, args.request, args.warm, args.pipeline, args.connections)
            ctl("-i", "on")
            send_requests(port, args.request, n, args.pipeline, args.connections)
            ctl("-d")
        time.sleep(1)
    finally:
        srv.kill()
        srv.wait()
    total = 0
    threads = {}
    pool = []  # one count per handler-pool thread
    for f in glob.glob(out + "*"):
        count_in_file = 0
        role = "other"
        with open(f) as fh:
            for line in fh:
                if line.startswith("summary:") or line.startswith("totals:"):
                    count_in_file = max(count_in_file, int(line.split()[1]))
                elif args.threads_split and line.startswith("fn=") and role != "handler pool":
                    if "pool_main" in line:
                        role = "handler pool"
                    elif "reactor" in line and "run" in line:
                        role = "reactor"
        if args.threads_split:
            if role == "handler pool":
                pool.append(count_in_file)
            else:
                threads[role] = threads.get(role, 0) + count_in_file
            total += count_in_file
        else:
            total = max(total, count_in_file)
    if args.threads_split:
        pool.sort(reverse=True)
        threads["handler pool, all threads"] = sum(pool)
        threads["handler pool, busiest thread"] = pool[0] if pool else 0
        args.split_result = threads
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", default="benchmarks.load.apps.ringbolt_app:app")
    ap.add_argument("--path", default="/json")
    ap.add_argument("--n", type=int, default=2000, help="measured requests")
    ap.add_argument("--warm", type=int, default=200, help="requests before the measurement")
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--header", action="append", default=[], help="a request header ('Name: value'), repeatable")
    ap.add_argument("--threads-split", action="store_true",
                    help="callgrind --separate-threads=yes: also print each thread's share (handler pool, reactor)")
    ap.add_argument("--keep", help="copy the callgrind profiles here (old.out, new.out) for callgrind_annotate; "
                                   "with --threads-split, every thread's (old-1.out, old-2.out, ...: the numbers "
                                   "are callgrind's; the profile names its thread's first function)")
    ap.add_argument("--peer", action="append", default=[], metavar="LABEL=COMMAND",
                    help="also count another server serving the same app: COMMAND with {port} (see above)")
    ap.add_argument("--body-size", type=int, help="POST a body of this many random bytes (Content-Length) instead of a GET")
    ap.add_argument("--connections", type=int, default=1,
                    help="spread the requests over this many keep-alive connections, each sending its next "
                         "request once its answer came: turns then hold up to this many requests (default 1: "
                         "one request per turn)")
    ap.add_argument("--app-dir", help="`ringbolt serve --app-dir` (an app beside modules of its own)")
    ap.add_argument("--raw", help="send this file's bytes as the request instead (one whole request, e.g. HttpArena's "
                                  "requests/post_chunked.raw); --path, --header and --body-size are then not used")
    ap.add_argument("--pipeline", type=int, default=1,
                    help="requests per write (HttpArena's pipelined profile: 16); the answers of one write are "
                         "read before the next, and --n and --warm are rounded up to whole writes")
    ap.add_argument("--websocket", type=int, metavar="SIZE",
                    help="count per WebSocket message instead: --path is an echo route (e.g. --app-dir "
                         "benchmarks/load/ws --app ringbolt_echo:app --path /), each message SIZE bytes, "
                         "binary, sent after the echo of the one before; --n and --warm count messages")
    ap.add_argument("--expect-status", type=int, default=200,
                    help="the status every answer must have (default 200; e.g. 201 for a create, 422 for the "
                         "cost of a validation error)")
    ap.add_argument("--only-new", action="store_true",
                    help="count NEW_PYTHON's ringbolt only (no old build): against --peer servers")
    ap.add_argument("--ready", metavar="PATH",
                    help="before the warm-up, wait until GET PATH answers 200 (an app with health probes: "
                         "/health/startup)")
    args = ap.parse_args()
    global EXPECT_STATUS
    EXPECT_STATUS = str(args.expect_status).encode()
    if args.websocket is not None and (args.pipeline > 1 or args.connections > 1 or args.raw or args.body_size):
        ap.error("--websocket sends messages one at a time on one connection: no --pipeline, --connections, "
                 "--raw or --body-size")
    args.body = os.urandom(args.body_size) if args.body_size else None
    if args.pipeline < 1:
        ap.error("--pipeline wants at least 1")
    if args.pipeline > 1 and args.connections > 1:
        ap.error("--pipeline and --connections do not go together (one connection pipelines)")
    if args.raw:
        with open(args.raw, "rb") as f:
            args.request = f.read()
    else:
        args.request = build_request(args.path, args.header, args.body)
    args.n = -(-args.n // args.pipeline) * args.pipeline
    peers = {}
    for spec in args.peer:
        label, sep, command = spec.partition("=")
        if not sep or not label or label in ("old", "new") or "{port}" not in command:
            ap.error(f"--peer wants LABEL=COMMAND with {{port}} in the command, got {spec!r}")
        peers[label] = command
    if args.threads_split and args.only_new:
        ap.error("--threads-split compares the old build's threads with the new one's: not with --only-new")
    if args.threads_split and peers:
        ap.error("--threads-split counts ringbolt's thread roles; it does not go with --peer")
    py = {"old": os.environ.get("OLD_PYTHON", "/tmp/venv-old/bin/python"), "new": os.environ.get("NEW_PYTHON", "python3")}
    tmp = tempfile.mkdtemp(prefix="instr-req-")
    try:
        res = {}
        split = {}
        builds = ("new",) if args.only_new else ("old", "new")
        for v in (*builds, *peers):
            a = count(py.get(v), args, args.n, tmp, peers.get(v) if v not in py else None)
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                dumps = glob.glob(os.path.join(tmp, "cg-*"))
                if args.threads_split:
                    for f in dumps:  # cg-<port>.out[.<dump>]-<thread>: callgrind's names
                        thread = re.search(r"\.out(?:\.\d+)?-(\d+)$", f)
                        if thread:
                            shutil.move(f, os.path.join(args.keep, f"{v}-{thread.group(1)}.out"))
                else:
                    shutil.move(max(dumps, key=os.path.getsize), os.path.join(args.keep, f"{v}.out"))
                for f in dumps:
                    if os.path.exists(f):
                        os.remove(f)
            res[v] = a / args.n
            if args.threads_split:
                split[v] = {role: c / args.n for role, c in args.split_result.items()}
            print(f"{v}: {a:,} instructions for {args.n} {'messages' if args.websocket is not None else 'requests'}: "
                  f"{res[v]:,.0f} each", file=sys.stderr, flush=True)
        print(f"command: `OLD_PYTHON={py['old']} NEW_PYTHON={py['new']} python3 benchmarks/load/instr_per_request.py "
              f"{' '.join(sys.argv[1:])}`\n")
        what = f"POST {args.path}` ({args.body_size:,} B body)" if args.body else f"GET {args.path}`"
        unit = "request"
        if args.websocket is not None:
            what, unit = f"WebSocket {args.path}`, {args.websocket} B binary echoes", "message"
        if args.raw:
            what = f"{args.request.split(b' HTTP/')[0].decode(errors='replace')}` ({os.path.basename(args.raw)})"
        if args.pipeline > 1:
            what += f", {args.pipeline} per write"
        print(f"| {args.app} `{what} | user-space instructions per {unit} |")
        print("|---|---:|")
        for v in builds:
            print(f"| {v} | {res[v]:,.0f} |")
        if not args.only_new:
            print(f"| new/old | {res['new'] / res['old']:.3f} |")
        for label in peers:
            print(f"| {label} | {res[label]:,.0f} |")
            print(f"| new/{label} | {res['new'] / res[label]:.3f} |")
        if args.threads_split:
            roles = sorted(set(split["old"]) | set(split["new"]))
            print("\n| thread | old | new | new/old |")
            print("|---|---:|---:|---:|")
            for role in roles:
                o, n = split["old"].get(role, 0), split["new"].get(role, 0)
                print(f"| {role} | {o:,.0f} | {n:,.0f} | {n / o if o else float('nan'):.3f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
