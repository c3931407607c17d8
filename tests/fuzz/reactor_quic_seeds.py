"""Writes the seed corpus of reactor_quic_fuzz (tests/fuzz/corpus/reactor_quic): scripts in
the target's format (see reactor_quic_fuzz.cpp) driving its in-process client through a
handshake with the reactor, HTTP/3 requests to a native route, the application and no
route, raw stream bytes, a reset, stray datagrams and a drain.
Run with any Python 3: python tests/fuzz/reactor_quic_seeds.py"""

from __future__ import annotations

import struct
from pathlib import Path

OUT = Path(__file__).parent / "corpus" / "reactor_quic"
RAW, CLIENT, TURN, GET, STREAM, DRAIN, RESET = range(7)
NATIVE, APP, NOWHERE = range(3)


def raw(data: bytes) -> bytes:
    return bytes([RAW]) + struct.pack(">H", len(data)) + data


def rounds(n: int, idx: int = 255, xor: int = 0) -> bytes:
    return bytes([CLIENT, idx, xor, TURN]) * n


def get(path: int) -> bytes:
    return bytes([GET, path])


def stream(data: bytes) -> bytes:
    return bytes([STREAM]) + struct.pack(">H", len(data)) + data


HANDSHAKE = rounds(16)  # (a turn sends what the turn before it made: two rounds a flight)
SHORT = bytes([0x40]) + bytes(range(60))
UNKNOWN_VERSION = bytes([0xC0, 0x1A, 0x2A, 0x3A, 0x4A, 8]) + bytes(8) + bytes([8]) + bytes(8) + bytes(1180)
# A HEADERS frame whose field section is cut short, then a DATA frame before any HEADERS.
BAD_FRAMES = bytes([0x01, 0x05, 0x00, 0x00, 0xD1]) + bytes([0x00, 0x03]) + b"abc"

SEEDS = {
    "get_native_and_app": HANDSHAKE + get(NATIVE) + get(APP) + rounds(16),
    "no_route_then_drain": HANDSHAKE + get(NOWHERE) + rounds(4) + bytes([DRAIN]) + rounds(16),
    "stray_datagrams_first": raw(b"") + raw(SHORT) + raw(UNKNOWN_VERSION) + bytes([TURN]) + HANDSHAKE + get(NATIVE)
    + rounds(12),
    "bad_frames_on_a_stream": HANDSHAKE + stream(BAD_FRAMES) + rounds(12) + get(APP) + rounds(12),
    "reset_a_request": HANDSHAKE + get(APP) + bytes([RESET, 0x0C]) + rounds(12),
    "corrupted_handshake": rounds(2, 0, 0x41) + rounds(16),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in SEEDS.items():
        (OUT / name).write_bytes(data)


if __name__ == "__main__":
    main()
