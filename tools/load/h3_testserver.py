#!/usr/bin/env python3
"""Owns: a tiny HTTP/3 server on aioquic (asyncio) for ringbolt-h3-load's tests, so the
other side of every QUIC handshake, QPACK block and stream is independent code. Not a
general server. A self-signed certificate for localhost/127.0.0.1 is made at start-up.

Usage: python3 h3_testserver.py [PORT]   (0 or none: any free UDP port). Prints
"PORT udp STATS tcp" when ready; the counters are served as JSON over HTTP/1.1 on
127.0.0.1:tcp, so a test can read them without speaking HTTP/3.

Routes (HTTP/3):
  /               200 "Hello, World!"
  /big            200, 100000-byte body
  /status/NNN     status NNN, empty body
  /echo           200, the request body echoed back (any method)
  /hold           never answered (the client's timeout must fire)
  /reset          the request stream is reset (H3_REQUEST_REJECTED) instead of answered
  /goaway         200 "Hello, World!", then GOAWAY (RFC 9114 §5.2): no stream after this one
Stats (HTTP/1.1 on the TCP port): /__stats -> {"requests", "connections", "paths",
"body_bytes", "cancelled" (held requests the client reset or stopped)}; /__reset clears them.
"""
from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import sys
import tempfile
from pathlib import Path

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import H3_ALPN, FrameType, H3Connection, encode_frame
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated, StopSendingReceived, StreamReset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

STATS = {"requests": 0, "connections": 0, "paths": {}, "body_bytes": 0, "cancelled": 0}
H3_REQUEST_REJECTED = 0x010B


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Http3Server(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._http: H3Connection | None = None
        self._requests: dict[int, dict] = {}

    def quic_event_received(self, event) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._http = H3Connection(self._quic)
            STATS["connections"] += 1
        if isinstance(event, (StreamReset, StopSendingReceived)):
            # a held request the client gave up on (RESET_STREAM and/or STOP_SENDING)
            if self._requests.pop(event.stream_id, None) is not None:
                STATS["cancelled"] += 1
        if self._http is None:
            return
        for ev in self._http.handle_event(event):
            self.http_event(ev)

    def http_event(self, ev) -> None:
        if isinstance(ev, HeadersReceived):
            head = dict(ev.headers)
            req = {"path": head.get(b":path", b"/").decode(), "method": head.get(b":method", b"").decode(),
                   "body": bytearray()}
            self._requests[ev.stream_id] = req
            if ev.stream_ended:
                self.answer(ev.stream_id)
        elif isinstance(ev, DataReceived) and ev.stream_id in self._requests:
            self._requests[ev.stream_id]["body"] += ev.data
            if ev.stream_ended:
                self.answer(ev.stream_id)

    def answer(self, stream_id: int) -> None:
        req = self._requests[stream_id]
        path = req["path"].split("?", 1)[0]
        STATS["requests"] += 1
        STATS["paths"][path] = STATS["paths"].get(path, 0) + 1
        STATS["body_bytes"] += len(req["body"])
        if path == "/hold":
            return  # stays in _requests: a reset by the client counts as cancelled
        del self._requests[stream_id]
        if path == "/reset":
            self._quic.reset_stream(stream_id, H3_REQUEST_REJECTED)
            self.transmit()
            return
        status, body = 200, b"Hello, World!"
        if path == "/big":
            body = b"b" * 100000
        elif path == "/echo":
            body = bytes(req["body"])
        elif path.startswith("/status/"):
            status, body = int(path[len("/status/"):]), b""
        elif path not in ("/", "/goaway"):
            status, body = 404, b""
        assert self._http is not None
        self._http.send_headers(stream_id, [(b":status", str(status).encode()),
                                            (b"content-length", str(len(body)).encode())],
                                end_stream=not body)
        if body:
            self._http.send_data(stream_id, body, end_stream=True)
        if path == "/goaway":
            # the first stream id the server will not process: the next client bidi stream
            control = self._http._local_control_stream_id
            self._quic.send_stream_data(control, encode_frame(FrameType.GOAWAY, encode_uint_var(stream_id + 4)))
        self.transmit()


async def stats_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    line = await reader.readline()
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass
    path = line.split()[1].decode() if len(line.split()) > 1 else "/"
    if path == "/__reset":
        STATS.update(requests=0, connections=0, paths={}, body_bytes=0, cancelled=0)
    body = json.dumps(STATS).encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    writer.close()


async def main(port: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(Path(tmp))
        config = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN, max_datagram_frame_size=None)
        config.load_cert_chain(cert, key)
        server = await serve("127.0.0.1", port, configuration=config, create_protocol=Http3Server)
        udp_port = server._transport.get_extra_info("sockname")[1]
        stats = await asyncio.start_server(stats_handler, "127.0.0.1", 0)
        print(f"PORT {udp_port} STATS {stats.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    except KeyboardInterrupt:
        pass
