"""validate.sh's checks of the h2 twin of an HTTP/3 profile, made over HTTP/3.

HttpArena has no HTTP/3 check: its baseline-h3 and static-h3 validation pages say the
profiles rely on the h2 checks of the same endpoints on port 8443 (baseline-h2,
static-h2), since curl builds rarely speak HTTP/3 (Debian 12's does not). The runner
runs those (validate.sh itself), and this script makes the same requests and the same
comparisons over QUIC, with aioquic's HTTP/3 client, so that what is measured is known
to answer correctly over HTTP/3 too:

    baseline-h3: ALPN h3; GET /baseline2?a=13&b=42 -> "55"; random a and b -> their
                 sum; Content-Type text/plain
    static-h3:   Content-Type of reset.css, app.js, manifest.json; reset.css not
                 empty; /static/nonexistent.txt -> 404

Run by the runner with the Python that serves ringbolt (it needs the aioquic package,
which `run deps` installs there):

    python h3check.py PROFILE PORT [HOST]

It prints validate.sh's lines ("  PASS [...]", "  FAIL [...]") and its
"=== Results: N passed, M failed ===", so the runner reads both alike.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import sys
from typing import Any

CHECKS = ("baseline-h3", "static-h3")


def _content_type_ok(value: str | None, expected: str) -> bool:
    """check_header's rule: equal, or followed by ";"; text/javascript counts as
    application/javascript (RFC 9239)."""
    if value is None:
        return False

    def norm(v: str) -> str:
        return v.replace("text/javascript", "application/javascript")

    return any(v == e or v.startswith(e + ";") for v, e in ((value, expected), (norm(value), norm(expected))))


async def _session(profile: str, host: str, port: int) -> tuple[int, int]:
    from aioquic.asyncio.client import connect
    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.h3.connection import H3_ALPN, H3Connection
    from aioquic.h3.events import DataReceived, HeadersReceived
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.events import ConnectionTerminated, StreamReset

    class Client(QuicConnectionProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.http = H3Connection(self._quic)
            self.open: dict[int, tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = {}

        def quic_event_received(self, event: Any) -> None:
            if isinstance(event, (StreamReset, ConnectionTerminated)):
                for sid in [event.stream_id] if isinstance(event, StreamReset) else list(self.open):
                    entry = self.open.pop(sid, None)
                    if entry and not entry[1].done():
                        entry[1].set_exception(ConnectionError(f"{type(event).__name__} {event.error_code}"))
            for ev in self.http.handle_event(event):
                entry = self.open.get(getattr(ev, "stream_id", -1))
                if entry is None:
                    continue
                resp, fut = entry
                if isinstance(ev, HeadersReceived) and "status" not in resp:
                    fields = {k.decode().lower(): v.decode() for k, v in ev.headers}
                    resp["status"] = int(fields.pop(":status"))
                    resp["headers"] = fields
                elif isinstance(ev, DataReceived):
                    resp["body"] += ev.data
                if getattr(ev, "stream_ended", False):
                    self.open.pop(ev.stream_id, None)
                    if not fut.done():
                        fut.set_result(resp)

        async def get(self, path: str) -> dict[str, Any]:
            sid = self._quic.get_next_available_stream_id()
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self.open[sid] = ({"body": bytearray()}, fut)
            self.http.send_headers(sid, [(b":method", b"GET"), (b":scheme", b"https"),
                                         (b":authority", f"localhost:{port}".encode()), (b":path", path.encode())],
                                   end_stream=True)
            self.transmit()
            return await asyncio.wait_for(fut, 30)

    cfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    cfg.idle_timeout = 10.0
    cfg.verify_mode = ssl.CERT_NONE  # HttpArena's certificate is self-signed, as curl -k takes it
    passed = failed = 0

    def verdict(ok: bool, label: str, detail: str) -> None:
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"  PASS [{label}] {detail}".rstrip(), flush=True)
        else:
            failed += 1
            print(f"  FAIL [{label}]: {detail}", flush=True)

    async with connect(host, port, configuration=cfg, create_protocol=Client, wait_connected=True) as client:
        assert isinstance(client, Client)
        alpn = client._quic.tls.alpn_negotiated
        verdict(alpn == "h3", "HTTP/3 protocol negotiation", f"(ALPN {alpn})")

        async def body(label: str, path: str, expected: str) -> None:
            try:
                r = await client.get(path)
                got = bytes(r["body"]).decode(errors="replace").strip()
                verdict(r["status"] == 200 and got == expected, label,
                        "" if got == expected else f"expected body '{expected}', got HTTP {r['status']} '{got[:80]}'")
            except (ConnectionError, asyncio.TimeoutError) as exc:
                verdict(False, label, f"no answer: {exc!r}")

        async def header(label: str, path: str, expected: str) -> None:
            try:
                r = await client.get(path)
                value = r["headers"].get("content-type")
                verdict(_content_type_ok(value, expected), label,
                        f"(Content-Type: {value})" if _content_type_ok(value, expected)
                        else f"expected Content-Type '{expected}', got '{value}'")
            except (ConnectionError, asyncio.TimeoutError) as exc:
                verdict(False, label, f"no answer: {exc!r}")

        async def status(label: str, path: str, expected: int) -> None:
            try:
                r = await client.get(path)
                verdict(r["status"] == expected, label, f"expected HTTP {expected}, got HTTP {r['status']}"
                        if r["status"] != expected else f"(HTTP {expected})")
            except (ConnectionError, asyncio.TimeoutError) as exc:
                verdict(False, label, f"no answer: {exc!r}")

        if profile == "baseline-h3":
            await body("GET /baseline2?a=13&b=42 over HTTP/3", "/baseline2?a=13&b=42", "55")
            a, b = random.randint(100, 999), random.randint(100, 999)
            await body(f"GET /baseline2?a={a}&b={b} over HTTP/3 (random)", f"/baseline2?a={a}&b={b}", str(a + b))
            await header("GET /baseline2 Content-Type over HTTP/3", "/baseline2?a=1&b=1", "text/plain")
        else:
            await header("GET /static/reset.css Content-Type over HTTP/3", "/static/reset.css", "text/css")
            await header("GET /static/app.js Content-Type over HTTP/3", "/static/app.js", "application/javascript")
            await header("GET /static/manifest.json Content-Type over HTTP/3", "/static/manifest.json",
                         "application/json")
            try:
                r = await client.get("/static/reset.css")
                n = len(r["body"])
                verdict(r["status"] == 200 and n > 0, "static-h3 response size",
                        f"({n} bytes)" if n > 0 else f"empty response (HTTP {r['status']})")
            except (ConnectionError, asyncio.TimeoutError) as exc:
                verdict(False, "static-h3 response size", f"no answer: {exc!r}")
            await status("GET /static/nonexistent.txt over HTTP/3", "/static/nonexistent.txt", 404)
    return passed, failed


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0] not in CHECKS:
        print(f"usage: h3check.py {{{','.join(CHECKS)}}} PORT [HOST]", file=sys.stderr)
        return 2
    profile, port = argv[0], int(argv[1])
    host = argv[2] if len(argv) > 2 else "127.0.0.1"
    print(f"[test] {profile} endpoint over HTTP/3 (aioquic, UDP {host}:{port})", flush=True)
    try:
        import aioquic  # noqa: F401
    except ImportError:
        print(f"  FAIL [HTTP/3 client]: aioquic is not installed in {sys.executable} (pip install aioquic; "
              "`run deps` does)", flush=True)
        print("=== Results: 0 passed, 1 failed ===")
        return 1
    try:
        passed, failed = asyncio.run(asyncio.wait_for(_session(profile, host, port), 60))
    except (OSError, ConnectionError, asyncio.TimeoutError) as exc:
        print(f"  FAIL [HTTP/3 connection]: no QUIC connection to {host}:{port}: {exc!r}", flush=True)
        passed, failed = 0, 1
    print(f"=== Results: {passed} passed, {failed} failed ===", flush=True)
    return 0 if failed == 0 and passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
