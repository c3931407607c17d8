"""What the harness requests and how it knows a correct answer: the scenario table
(plaintext, json, param, echo, body10k) and the readiness check that asks a started
server for its scenario until the answer is right. Adding a scenario is one entry in
SCENARIOS."""
from __future__ import annotations

import http.client
import json
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional


def make_echo_body() -> bytes:
    """A deterministic JSON document of exactly 1024 bytes."""
    doc = {"id": 42, "name": "ringbolt-echo", "active": True, "score": 3.25,
           "tags": ["alpha", "beta", "gamma", "delta"],
           "items": [{"k": i, "v": f"value-{i:03d}"} for i in range(20)], "pad": ""}
    raw = json.dumps(doc, separators=(",", ":"))
    doc["pad"] = "p" * (1024 - len(raw))
    body = json.dumps(doc, separators=(",", ":")).encode()
    assert len(body) == 1024, len(body)
    return body


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    body: Optional[bytes] = None
    content_type: str = "application/json"
    # checks a response: (status, content-type, body) -> error message or None
    check: Callable[[int, str, bytes], Optional[str]] = lambda s, ct, b: None


def _expect(status: int, want_ct: str, predicate: Callable[[bytes], bool]) -> Callable[..., Any]:
    def check(got_status: int, ct: str, body: bytes) -> Optional[str]:
        if got_status != status:
            return f"status {got_status}, want {status}"
        if want_ct not in ct.lower():
            return f"content-type {ct!r}, want {want_ct}"
        try:
            ok = predicate(body)
        except Exception as exc:  # bad JSON and the like
            return f"body check failed: {exc!r}"
        return None if ok else f"unexpected body {body[:80]!r}"
    return check


ECHO_BODY = make_echo_body()
SCENARIOS: dict[str, Scenario] = {
    "plaintext": Scenario("plaintext", "GET", "/plaintext",
                          check=_expect(200, "text/plain", lambda b: b == b"Hello, World!")),
    "json": Scenario("json", "GET", "/json",
                     check=_expect(200, "application/json",
                                   lambda b: json.loads(b) == {"message": "Hello, World!"})),
    "param": Scenario("param", "GET", "/users/12345",
                      check=_expect(200, "application/json", lambda b: json.loads(b) == {"id": 12345})),
    "echo": Scenario("echo", "POST", "/echo", body=ECHO_BODY,
                     check=_expect(200, "application/json",
                                   lambda b: json.loads(b) == json.loads(ECHO_BODY))),
    "body10k": Scenario("body10k", "GET", "/body10k",
                        check=_expect(200, "", lambda b: len(b) == 10240)),
}
ALL_SCENARIOS = frozenset(SCENARIOS)


def http_request(port: int, scenario: Scenario, timeout: float = 2.0) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": scenario.content_type} if scenario.body is not None else {}
        conn.request(scenario.method, scenario.path, body=scenario.body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type", ""), resp.read()
    finally:
        conn.close()


def wait_ready(proc: subprocess.Popen[Any], port: int, scenario: Scenario, timeout: float) -> Optional[str]:
    """None once the scenario URL answers correctly; else why not."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with code {proc.returncode} before answering"
        try:
            status, ctype, body = http_request(port, scenario)
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
            continue
        err = scenario.check(status, ctype, body)
        return None if err is None else f"wrong answer: {err}"
    return f"not ready after {timeout:.0f}s ({last})"
