#!/usr/bin/env python3
"""Writes the seed corpus of connection_fuzz (tests/fuzz/corpus/connection/).

A seed is a script: a config byte, then operations with their operands, as
connection_fuzz.cpp reads them (`enum op`, `canned_requests`). Run it again after
changing the script format: `python3 tests/fuzz/connection_seeds.py`.
"""
import pathlib

QUEUE, RAW, SEND, ANSWER, HEAD, BODY, END, ABORT, BAD, TIME, OUT, TURN, DRAIN, EOF, GONE = range(15)

# canned_requests indexes
GET_PY, HEAD_PY, GET10, GET10_KA, HEAD10_KA, POST_CL, POST_CHUNKED, POST_EXPECT = range(8)
GET_NATIVE, HEAD_NATIVE, GET_USER, GET_PY_CLOSE, NOT_FOUND, DELETE_405, GET_204, METRICS = range(8, 16)
CONNECT, NO_HOST, CRLF, TOO_LARGE, UPLOAD_CL, UPLOAD_CHUNKED, UPLOAD_EXPECT, UPLOAD_BAD_CHUNK = range(16, 24)
PUT_EXPECT, KEEP_ALIVE_CLOSE, WATCH_GET, WATCH_CL, WATCH_CHUNKED = range(24, 29)
NUM_CANNED = 29
# websocket_requests indexes (config bit 0x10 only), after the canned ones
WS_OK, WS_FRAME_BEHIND, WS_V8, WS_NO_KEY, WS_PLAIN, WS_CLOSE, WS_HTTP10, WS_POST = range(NUM_CANNED, NUM_CANNED + 8)
WEBSOCKET = 0x10  # config bit
ACCEPT_101 = 6  # answer status index 6 (299) on a handshake: the app accepts with 101

# answer/stream flags: bits 0-1 length mode, 2-3 body source, 4-5 Connection value,
# 6 Date+Server, 7 Transfer-Encoding from the app
EXACT, UNKNOWN, SHORT, LONG = 0, 1, 2, 3
OWNED, BORROWED, FILE, NONE = 0, 4, 8, 12
CONN_CLOSE, CONN_KEEP, CONN_BOTH = 0x10, 0x20, 0x30
DATE_SERVER, APP_TE = 0x40, 0x80
# stream head length modes: 0/1 unknown, 2 declared = size/16, 3 declared = size
S_DECL_SMALL, S_DECL_EXACT = 2, 3


def queue(*idx):
    return [b for i in idx for b in (QUEUE, i)]


def send_all():
    return [SEND, 0]


def flush():
    return [OUT, 0, 0, TURN]


def answer(pick=0, flags=EXACT | OWNED, size=3, status=0):
    return [ANSWER, pick, flags, size, status]


def head(pick=0, flags=UNKNOWN | NONE, size=0, status=0):
    return [HEAD, pick, flags, size, status]


def body(pick=0, source=0, size=2):
    return [BODY, pick, source, size]


def end(pick=0, trailers=0):
    return [END, pick, trailers]


def raw(data):
    return [RAW, len(data)] + list(data)


SEEDS = {
    "native_get": [0] + queue(GET_NATIVE) + send_all() + flush(),
    "app_whole": [0] + queue(GET_PY) + send_all() + answer() + flush(),
    "pipelined_out_of_order": [0] + queue(GET_PY, GET_NATIVE, POST_CL) + send_all()
    + answer(pick=1, size=4) + answer(pick=0, size=2) + flush(),
    "head_request": [0] + queue(HEAD_PY, HEAD_NATIVE) + send_all() + answer(size=10) + flush(),
    "http10_close_delimited": [0] + queue(GET10) + send_all() + head() + body(size=3) + end() + flush(),
    "http10_keep_alive": [0] + queue(GET10_KA, HEAD10_KA) + send_all() + answer() + answer() + flush(),
    "streamed_chunked_short_sends": [0] + queue(GET_PY) + send_all() + head() + body(size=3) + [OUT, 7, 1]
    + body(source=1, size=80) + [OUT, 0x85, 2] + body(source=2, size=1) + end(trailers=1) + flush(),
    "streamed_declared_exact": [0] + queue(GET_PY) + send_all() + head(flags=S_DECL_EXACT | OWNED, size=4)
    + end() + flush(),
    "streamed_overflow": [0] + queue(GET_PY, GET_PY) + send_all() + head(flags=S_DECL_SMALL | OWNED, size=32)
    + flush() + body(size=1) + end() + flush(),
    "streamed_short_end": [0] + queue(GET_PY) + send_all() + head(flags=S_DECL_EXACT | NONE, size=8)
    + body(size=2) + end() + flush(),
    "abort_mid_stream": [0] + queue(GET_PY, GET_NATIVE) + send_all() + head() + body(size=5)
    + [ABORT, 0x80] + flush(),
    "borrowed_and_file": [0] + queue(GET_PY, GET_USER) + send_all() + answer(flags=EXACT | BORROWED, size=200)
    + head(flags=UNKNOWN | FILE, size=100) + [OUT, 0x90, 9] + end() + flush(),
    "expect_continue": [0] + queue(PUT_EXPECT) + send_all() + [OUT, 0, 0] + raw(b"abcd") + send_all()
    + answer() + flush(),
    "timeout_partial_head": [0] + queue(GET_PY) + [SEND, 10, TIME, 30] + flush(),
    "idle_after_app_answer": [0] + queue(GET_PY) + send_all() + answer() + flush() + [TIME, 6] + flush(),
    "drain_while_busy": [0] + queue(GET_PY, GET_PY) + send_all() + [DRAIN, 1] + answer() + answer() + flush(),
    "peer_eof_with_owed": [0] + queue(GET_PY) + send_all() + [EOF] + answer() + flush(),
    "gone_mid_stream": [0] + queue(GET_PY, GET_PY) + send_all() + head() + body(size=4) + head(pick=0) + [GONE]
    + body() + end(),
    "backpressure": [1] + queue(*([GET_NATIVE] * 12)) + send_all() + [OUT, 50, 0, TURN, OUT, 0, 0, TURN] + flush(),
    "connect_refused": [0] + queue(CONNECT, GET_NATIVE) + send_all() + flush(),
    "bad_request_after_app": [0] + queue(GET_PY, NO_HOST) + send_all() + answer() + flush(),
    "admission_503": [4] + queue(GET_PY, GET_PY, GET_PY, GET_PY) + send_all() + answer() + answer() + flush(),
    "producer_bugs": [0] + queue(GET_PY, GET_PY, GET_PY) + send_all() + head() + [BAD, 0, 0, BAD, 1, 0, BAD, 2, 3]
    + flush(),
    "app_connection_close": [0] + queue(GET_PY, GET_PY) + send_all()
    + answer(flags=EXACT | OWNED | CONN_BOTH | DATE_SERVER | APP_TE) + flush(),
    "request_close_then_more": [0] + queue(GET_PY, GET_PY_CLOSE, GET_NATIVE) + send_all() + answer() + answer()
    + flush(),
    "wrong_lengths": [0] + queue(GET_PY, GET_PY) + send_all() + answer(flags=SHORT | OWNED, size=8)
    + answer(flags=LONG | OWNED, size=8) + flush(),
    "raw_split_request": [0] + raw(b"GET /users/5 HTTP/1.1\r\nHo") + send_all() + raw(b"st: a\r\n\r\n") + [SEND, 3]
    + send_all() + answer() + flush(),
    "chunked_body_and_too_large": [0] + queue(POST_CHUNKED, TOO_LARGE) + send_all() + answer() + flush(),
    "slow_body": [8] + raw(b"POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nab") + send_all()
    + [TIME, 31, TIME, 20] + raw(b"cd") + send_all() + flush(),
    "status_204_304_and_404": [0] + queue(GET_204, NOT_FOUND, DELETE_405, GET_PY, GET_PY) + send_all()
    + answer(size=5, status=2) + answer(size=5, status=3) + flush(),
    "ws_accept": [WEBSOCKET] + queue(WS_OK) + send_all() + answer(status=ACCEPT_101),
    "ws_accept_frame_behind_split": [WEBSOCKET] + queue(WS_FRAME_BEHIND) + [SEND, 40, SEND, 90] + send_all()
    + answer(status=ACCEPT_101),
    "ws_accept_after_answered": [WEBSOCKET] + queue(GET_PY, WS_OK) + send_all() + answer() + [OUT, 0, 0]
    + answer(status=ACCEPT_101),
    "ws_accept_behind_owed": [WEBSOCKET] + queue(GET_PY, WS_OK) + send_all() + answer(pick=1, status=ACCEPT_101)
    + answer() + flush(),
    "ws_denied_then_http": [WEBSOCKET] + queue(WS_OK, GET_PY) + send_all() + answer(size=4) + flush() + answer()
    + flush(),
    "ws_refusals": [WEBSOCKET] + queue(WS_V8, WS_NO_KEY, WS_PLAIN, WS_POST) + send_all() + answer() + flush(),
    "ws_close_requested": [WEBSOCKET] + queue(WS_CLOSE) + send_all() + answer(status=ACCEPT_101) + flush(),
    "ws_http10": [WEBSOCKET] + queue(WS_HTTP10) + send_all() + answer(status=ACCEPT_101) + flush(),
    "ws_drain": [WEBSOCKET] + queue(WS_OK) + send_all() + [DRAIN, 1] + answer(status=ACCEPT_101) + flush(),
}


def main():
    out = pathlib.Path(__file__).resolve().parent / "corpus" / "connection"
    out.mkdir(parents=True, exist_ok=True)
    for name, script in SEEDS.items():
        (out / name).write_bytes(bytes(script))


if __name__ == "__main__":
    main()
