"""The llhttp request corpus against the LIVE server (see tests/conformance/README.md).

Rules (strict cases only, ``type == "request"``; each case on a fresh connection):

* a case with ``error`` must not get a 2xx for the bad message: it must be answered with
  a parser error status (400/413/414/417/431/501/505) or closed without an answer. The
  ``messages`` valid requests before the bad one may be answered normally. When the bad
  message is an incomplete head (llhttp flags some field errors before the head ends;
  ringbolt judges framing fields once the head is complete), we wait, then half-close:
  the server must then end the connection without a 2xx. (It keeps a half-closed
  connection with a partial head until the header timeout, then answers 408: the
  server here runs with --header-timeout 2 so that stays short.);
* a case without ``error`` and N messages must get exactly N answers (2xx, or 404/405:
  the catch-all app routes every path; methods outside the router's set get 405), and
  nothing else within a short wait. A ``Host`` field is added after HTTP/1.1 request
  lines that have none (a 1.1 server must reject those: RFC 9112 §3.2);
* N == 0 without error: incomplete input, no answer within a short wait.

Every case where the server differs from llhttp must be listed in POLICY with the
reason; a listed case that no longer differs fails too (keep the table honest). Cases
that test llhttp's parser API (pausing on CONNECT/Upgrade/PRI, skipping a body from a
callback) are listed in PARSER_API with what the server does instead, which is checked.
"""

from __future__ import annotations

import json
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from conftest import REPO, ServerProcess, get

# Vendored with its licence (tests/conformance/LICENSE-llhttp), so the suite runs on any clone.
CORPUS = REPO / "tests/conformance/llhttp_requests.json"

ERROR_STATUSES = {400, 413, 414, 417, 431, 501, 505}
# Waiting for something that must come is bounded generously (a hang bound, not speed):
# the wait ends as soon as it comes, so only a failure pays for it. Waiting for the
# absence of an answer (extras, incomplete input) is short: on a loaded machine a late
# extra answer could be missed, but a correct server can never fail for being slow.
QUIET = 0.4  # seconds without data that mean "no (more) answer"
ANSWER_WAIT = 20  # seconds an expected answer may take
HEADER_TIMEOUT = 2  # --header-timeout and --body-timeout of the server (s): a 408 comes 1-2 s after the last byte
AFTER_HALF_CLOSE = HEADER_TIMEOUT + ANSWER_WAIT  # how long the server may take to end a half-closed partial head
CASE_DEADLINE = QUIET + ANSWER_WAIT + AFTER_HALF_CLOSE + 5  # the exchange gives up: the server never settles

# ---------------------------------------------------------------------------------
# Documented differences from llhttp: case title -> reason. Each is a deliberate policy.
POLICY: dict[str, str] = {
    # Methods: RFC 9110 §9.1 makes the method a token; the server parses any token and
    # leaves the decision to routing. llhttp keeps a fixed method list.
    "Invalid method": "any token is a method (RFC 9110 §9.1); MKCOLA is routed and gets 405, never a handler's 2xx",
    "HTTP protocol and ANNOUNCE method": "any token is a method (RFC 9110 §9.1); ANNOUNCE over HTTP/1.0 gets 405 "
    "(llhttp only knows it as an RTSP method)",
    # Protocol names: only HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3).
    "SOURCE request with ICE": "ICE/1.0 is not HTTP: only HTTP/x.y is accepted (RFC 9112 §2.3), 400",
    "OPTIONS request with RTSP": "RTSP/1.0 is not HTTP: only HTTP/x.y is accepted (RFC 9112 §2.3), 400",
    "ANNOUNCE request with RTSP": "RTSP/1.0 is not HTTP: only HTTP/x.y is accepted (RFC 9112 §2.3), 400",
    # Request-target forms (RFC 9112 §3.2).
    "M-SEARCH request": "asterisk-form is only for OPTIONS (RFC 9112 §3.2.4); 'M-SEARCH *' (SSDP) is 400",
    "`host:port` and basic auth": "userinfo in an http(s) URI is forbidden (RFC 9110 §4.2.4); absolute-form with "
    "'user:pass@' is 400",
    "No HTTP version": "HTTP/0.9 simple requests (no version) are not supported: a request line needs "
    "HTTP-version (RFC 9112 §3), 400",
}

# Cases that test llhttp's parser API rather than a server: title -> (why, what the server
# must do instead: the status of the first answer).
PARSER_API: dict[str, tuple[str, int]] = {
    "Multiple tokens with folding and LWS": ("pause on Upgrade; the server ignores Upgrade (RFC 9110 §7.8)", 200),
    "Setting a flag and pausing": ("pause on Upgrade; the server ignores Upgrade (RFC 9110 §7.8)", 200),
    "Emitting part of body and pausing": ("pause on Upgrade; the server ignores Upgrade (RFC 9110 §7.8)", 200),
    "Upgrade GET request": ("pause on Upgrade; the server ignores Upgrade (RFC 9110 §7.8)", 200),
    "Upgrade POST request": ("pause on Upgrade; the server ignores Upgrade (RFC 9110 §7.8)", 200),
    "CONNECT request": ("pause on CONNECT; the server does not tunnel: 501", 501),
    "CONNECT request with CAPS": ("pause on CONNECT; the server does not tunnel: 501", 501),
    "CONNECT with body": ("pause on CONNECT; the server does not tunnel: 501", 501),
    "Underscore in hostname": ("pause on CONNECT; the server does not tunnel: 501", 501),
    "PRI request HTTP2": ("pause on PRI (HTTP/2 preface); 'PRI *' is not OPTIONS, so 400 (no h2c)", 400),
    # llhttp's test runs this one with skipBody (on_headers_complete returns 1): the
    # callback, not the bytes, makes the second message. Over the wire the second
    # request is body bytes of the first (Content-Length: 123), so no answer yet.
    "Content-Length reset when no body is received": ("on_headers_complete skips the body (parser API)", 0),
}

HOST_LINE = b"Host: example.com\r\n"
REQ_LINE = re.compile(rb"(?:^|(?<=\n))[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^ \r\n]+ HTTP/1\.1\r\n")


def add_host(raw: bytes) -> bytes:
    """Insert a Host field after each HTTP/1.1 request line whose head has none."""
    out = bytearray()
    pos = 0
    for m in REQ_LINE.finditer(raw):
        end = m.end()
        head_end = raw.find(b"\r\n\r\n", end - 2)
        block = raw[end - 2 : head_end if head_end >= 0 else len(raw)]
        if re.search(rb"(?i)\r\nhost[ \t]*:", block):
            continue
        out += raw[pos:end] + HOST_LINE
        pos = end
    out += raw[pos:]
    return bytes(out)


def load_cases() -> list[dict]:
    # No silent skip: a missing or emptied corpus is an error at collection, not 0 tests.
    cases = [c for c in json.loads(CORPUS.read_text()) if c["type"] == "request"]
    if len(cases) < 100:
        raise RuntimeError(f"{CORPUS}: only {len(cases)} strict request cases (134 expected): corpus damaged?")
    seen: dict[str, int] = {}
    for c in cases:
        n = seen.get(c["title"], 0) + 1
        seen[c["title"]] = n
        c["id"] = c["title"] if n == 1 else f"{c['title']} #{n}"
    return cases


CASES = load_cases()


# ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    statuses: list[int] = field(default_factory=list)
    closed: bool = False  # the server closed (EOF/reset)
    half_closed: bool = False  # we shut down our side to end an incomplete bad message
    settled: bool = True  # False: still receiving when CASE_DEADLINE passed
    junk: bytes = b""  # bytes that did not parse as a response

    def describe(self) -> str:
        s = ",".join(map(str, self.statuses)) or "no answer"
        if self.half_closed:
            s += " (after our half-close)"
        if self.closed:
            s += " +close"
        if self.junk:
            s += f" junk={self.junk[:60]!r}"
        return s


def parse_responses(buf: bytes, first_is_head: bool, out: Outcome) -> bytes:
    """Consume complete responses from buf (Content-Length framing); return the rest."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return buf
        lines = buf[:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
        if not m:
            out.junk = buf
            return b""
        status = int(m.group(1))
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        no_body = status < 200 or status in (204, 304) or (first_is_head and not out.statuses)
        if no_body:
            length = 0
        if len(buf) < end + 4 + length:
            return buf
        buf = buf[end + 4 + length :]
        if status >= 200:
            out.statuses.append(status)


def exchange(port: int, raw: bytes, expect_answers: int, half_close_after_quiet: bool) -> Outcome:
    out = Outcome()
    first_is_head = raw.lstrip(b"\r\n").startswith(b"HEAD ")
    deadline = time.monotonic() + CASE_DEADLINE
    buf = b""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WAIT) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(raw)
        while True:
            if time.monotonic() >= deadline:
                out.settled = False
                break
            # Expected answers still missing: wait for them; then only a short wait for extras.
            quiet = ANSWER_WAIT if len(out.statuses) < expect_answers else QUIET
            if out.half_closed:
                quiet = max(0.05, t_half + AFTER_HALF_CLOSE - time.monotonic())
            s.settimeout(quiet)
            try:
                data = s.recv(65536)
            except socket.timeout:
                if half_close_after_quiet and not out.half_closed:
                    out.half_closed = True
                    t_half = time.monotonic()
                    s.shutdown(socket.SHUT_WR)
                    continue
                break
            except ConnectionResetError:
                out.closed = True
                break
            if not data:
                out.closed = True
                break
            buf = parse_responses(buf + data, first_is_head, out)
        out.junk = out.junk or buf
    return out


def judge(case: dict, o: Outcome) -> str | None:
    """None when the server behaves as llhttp says it should; else what differs."""
    n = case["messages"]
    answered = [s for s in o.statuses if 200 <= s < 300 or s in (404, 405)]
    if o.junk:
        return f"unparsable bytes: {o.describe()}"
    if case["error"]:
        before, rest = o.statuses[:n], o.statuses[n:]
        if any(not (200 <= s < 300 or s in (404, 405)) for s in before):
            return f"a valid message before the bad one was refused: {o.describe()}"
        if len(before) < n and not o.closed:
            return f"valid messages before the bad one not answered: {o.describe()}"
        if rest and rest[0] not in ERROR_STATUSES and not (o.half_closed and rest[0] == 408):
            return f"bad message accepted ({rest[0]}): {o.describe()}"
        if len(rest) > 1:
            return f"answers after the bad message: {o.describe()}"
        if not rest and not o.closed:
            return f"bad message neither refused nor closed: {o.describe()}"
        return None
    if n == 0:
        return None if not o.statuses and not o.closed else f"incomplete input was answered/closed: {o.describe()}"
    if len(o.statuses) != n or len(answered) != n:
        return f"expected {n} answers: {o.describe()}"
    return None


@pytest.fixture(scope="module")
def results():
    # Short read timeouts: the server keeps a connection whose peer half-closed with a
    # partial head or body until that timeout (then 408), and a drain waits for them.
    srv = ServerProcess(
        "catchall:app", "--threads", "2", "--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(HEADER_TIMEOUT)
    )
    try:
        jobs = []
        with ThreadPoolExecutor(max_workers=16) as pool:
            for c in CASES:
                raw = add_host(c["raw"].encode("utf-8"))
                api = PARSER_API.get(c["id"])
                expect = api[1] and 1 if api else (0 if c["error"] else c["messages"])
                jobs.append((c, pool.submit(exchange, srv.port, raw, expect, bool(c["error"]) and not api)))
            res = {c["id"]: (c, f.result()) for c, f in jobs}
        assert srv.proc.poll() is None, f"server died during the corpus: {srv.output()}"
        assert get(srv, "/after/corpus").status == 200
        yield res
    finally:
        code = srv.stop()
    assert code == 0, srv.output()


@pytest.mark.parametrize("case_id", [c["id"] for c in CASES])
def test_llhttp_case(results, case_id):
    case, o = results[case_id]
    assert o.settled, f"still receiving after {CASE_DEADLINE} s: {o.describe()}"
    if case_id in PARSER_API:
        why, status = PARSER_API[case_id]
        if status == 0:
            assert not o.statuses, f"{why}: expected no answer yet, got {o.describe()}"
        else:
            assert o.statuses and o.statuses[0] == status, f"{why}: expected {status} first, got {o.describe()}"
        return
    diff = judge(case, o)
    if case_id in POLICY:
        assert diff is not None, f"documented difference no longer differs (remove it from POLICY): {o.describe()}"
        return
    assert diff is None, f"{diff}\nraw={case['raw']!r}\nerror={case['error']!r} messages={case['messages']}"


def test_tables_name_real_cases():
    ids = {c["id"] for c in CASES}
    assert set(POLICY) <= ids, set(POLICY) - ids
    assert set(PARSER_API) <= ids, set(PARSER_API) - ids
    assert not set(POLICY) & set(PARSER_API)
