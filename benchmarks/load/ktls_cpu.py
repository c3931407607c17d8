#!/usr/bin/env python3
"""Server CPU per MiB of a 1 MiB static file over TLS, with kTLS and without
(--no-ssl-ktls), in one run: docs/deployment.md's kTLS figure; with --upload, of a 1 MiB
request body instead (kTLS's receiving: TLS 1.3's where the kernel takes new keys, TLS
1.2's, --tls12, wherever it has kTLS). Meant for a kernel that
offers kTLS, which this project's development host does not: run it in Debian's kernel
in a VM (tools/kernel-vm), where only the ratio means something (the VM emulates the CPU):

    tools/kernel-vm --suite bookworm linux-image-amd64 -- \\
        build/venv/bin/python benchmarks/load/ktls_cpu.py --rounds 3 --files 60

Each round starts ringbolt (one reactor thread, a P-256 certificate made here) once with
kTLS and once without, in turn; a client on one keep-alive connection (Python's ssl,
TLS 1.3: AES-256-GCM, the server's first choice; --tls12: TLS 1.2, ECDHE-ECDSA-AES256-GCM)
fetches the file --files times, and the
server's user+system CPU (/proc/PID/stat) over those fetches is divided by the MiB
received (--upload: sent). The server's counter tls_ktls_tx (--upload: tls_ktls_rx) says
which way each run went. Prints a
Markdown table: each round, then the medians and their ratio.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from proc_util import cpu, free_port, insecure_tls, stop, wait_listening  # noqa: E402


def certificate(d: Path) -> tuple[Path, Path]:
    crt, key = d / "server.crt", d / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    return crt, key


def run(python: str, d: Path, ktls: bool, files: int, digest: bytes, upload: bool,
        tls12: bool) -> tuple[float, int]:
    """(server CPU seconds per MiB, the server's tls_ktls_tx count: tls_ktls_rx's with `upload`)."""
    crt, key = d / "server.crt", d / "server.key"
    port = free_port()
    app = d / "app.py"
    log = open(d / f"server-{'ktls' if ktls else 'user'}.log", "wb")  # said when the server fails
    proc = subprocess.Popen([python, "-m", "ringbolt", "serve", "app:app", "--app-dir", str(d), "--port", str(port),
                             "--threads", "1", "--metrics", "--ssl-certfile", str(crt), "--ssl-keyfile", str(key),
                             *([] if ktls else ["--no-ssl-ktls"])],
                            stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "STATIC": str(d)})
    assert app.exists()
    try:
        try:
            wait_listening("127.0.0.1", port, 120, proc)
        except RuntimeError:
            sys.exit(f"the server did not start:\n{Path(log.name).read_text(errors='replace')[-2000:]}")
        ctx = insecure_tls()
        if tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=120)
        data = (d / "file.bin").read_bytes()

        def once() -> bytes:
            if upload:
                conn.request("POST", "/upload", body=data)
            else:
                conn.request("GET", "/static/file.bin")
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, (r.status, body[:200])
            return body

        # the handshake and a first exchange, outside the window (an upload is answered
        # with its length: the body's bytes are checked by tests/kernels, not timed here)
        assert once() == (b"1048576" if upload else data)
        before = sum(cpu(proc.pid))
        for _ in range(files):
            assert len(once()) == (7 if upload else 1 << 20)
        used = sum(cpu(proc.pid)) - before
        got = files << 20
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        counter = "ringbolt_tls_ktls_rx_total" if upload else "ringbolt_tls_ktls_tx_total"
        count = sum(int(v) for v in re.findall(counter + r'\{core="\d+"\} (\d+)', text))
        return used / (got / (1 << 20)), count
    finally:
        stop(proc, 30)
        log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable, help="the interpreter with ringbolt installed")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--files", type=int, default=60, help="1 MiB fetches (or uploads) per run")
    ap.add_argument("--upload", action="store_true", help="POST 1 MiB bodies: the receiving side")
    ap.add_argument("--tls12", action="store_true", help="TLS 1.2 (AES-256-GCM) instead of TLS 1.3")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        certificate(d)
        data = os.urandom(1 << 20)
        (d / "file.bin").write_bytes(data)
        (d / "app.py").write_text("import os\nfrom ringbolt import App\napp = App()\n"
                                  "app.static('/static', os.environ['STATIC'])\n"
                                  "@app.post('/upload')\n"
                                  "def upload(req):\n"
                                  "    return str(len(req.body)).encode()\n")
        digest = hashlib.sha256(data).digest()
        rows: dict[bool, list[float]] = {True: [], False: []}
        what = "uploads" if args.upload else "fetches"
        print(f"kernel {os.uname().release}; TLS {'1.2' if args.tls12 else '1.3'}; {args.files} x 1 MiB {what} "
              "per run; server CPU ms per MiB\n")
        print("| round | kTLS | user space | kTLS connections |")
        print("|---:|---:|---:|---:|")
        for i in range(args.rounds):
            k, kcount = run(args.python, d, True, args.files, digest, args.upload, args.tls12)
            u, ucount = run(args.python, d, False, args.files, digest, args.upload, args.tls12)
            if kcount == 0:
                side = "receiving" if args.upload else "sending"
                sys.exit(f"no connection's {side} went to the kernel: `ringbolt doctor` says why (kTLS line)")
            assert ucount == 0, ucount
            rows[True].append(k)
            rows[False].append(u)
            print(f"| {i + 1} | {k * 1e3:.2f} | {u * 1e3:.2f} | {kcount} |", flush=True)
            time.sleep(0.5)
        mk, mu = statistics.median(rows[True]), statistics.median(rows[False])
        print(f"| median | {mk * 1e3:.2f} | {mu * 1e3:.2f} | |")
        print(f"\nkTLS / user space: {mk / mu:.2f}")


if __name__ == "__main__":
    main()
