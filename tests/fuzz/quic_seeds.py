"""Writes the seed corpus of quic_endpoint_fuzz (tests/fuzz/corpus/quic_endpoint): scripts
in the target's format (see quic_endpoint_fuzz.cpp) driving its in-process client through
a handshake, echoed streams, resets, drain, timers and stray datagrams.
Run with any Python 3: python tests/fuzz/quic_seeds.py"""

from __future__ import annotations

import struct
from pathlib import Path

OUT = Path(__file__).parent / "corpus" / "quic_endpoint"
RAW, CLIENT, SERVER, TIME, STREAM, DRAIN, RESET = range(7)


def raw(data: bytes) -> bytes:
    return bytes([RAW]) + struct.pack(">H", len(data)) + data


def rounds(n: int, idx: int = 255, xor: int = 0) -> bytes:
    return bytes([CLIENT, idx, xor, SERVER]) * n


def stream(n: int) -> bytes:
    return bytes([STREAM]) + struct.pack(">H", n)


HANDSHAKE = rounds(4)
SHORT = bytes([0x40]) + bytes(range(60))
UNKNOWN_VERSION = bytes([0xC0, 0x1A, 0x2A, 0x3A, 0x4A, 8]) + bytes(8) + bytes([8]) + bytes(8) + bytes(1180)

SEEDS = {
    "handshake": HANDSHAKE,
    "echo_one_stream": HANDSHAKE + stream(3000) + rounds(6),
    "echo_many_streams": HANDSHAKE + b"".join(stream(100 * i) for i in range(1, 9)) + rounds(8),
    "reset_mid_stream": HANDSHAKE + stream(60000) + rounds(1) + bytes([RESET, 12]) + rounds(4),
    "drain_with_open_stream": HANDSHAKE + stream(500) + bytes([DRAIN]) + rounds(4) + bytes([TIME, 250]) + rounds(2),
    "idle_timeout": HANDSHAKE + bytes([TIME, 255, TIME, 255, TIME, 255]) + rounds(1),
    "corrupt_handshake": rounds(1) + rounds(1, 0, 77) + rounds(3),
    "corrupt_stream_packet": HANDSHAKE + stream(2000) + rounds(1, 0, 5) + rounds(3),
    "strays": raw(SHORT) + raw(UNKNOWN_VERSION) + raw(b"") + raw(b"\xff" * 40) + HANDSHAKE + raw(SHORT),
    "loss_and_timers": HANDSHAKE + stream(20000) + bytes([CLIENT, 255, 0, TIME, 30, TIME, 30]) + rounds(5),
}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in SEEDS.items():
        (OUT / name).write_bytes(data)
