"""Bad configuration is refused with a clear error at start-up, never a crash or a
server that half-starts: App.run options, route patterns, Response/HTTPError values,
and the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import APPS, REPO, free_port
from ringbolt import App, HTTPError, Response


def _app(path: str = "/x") -> App:
    app = App()
    app.get(path)(lambda req: {})
    return app


@pytest.mark.parametrize(
    "options, message",
    [
        ({"max_headers": 0}, "max_headers must be 1..128"),
        ({"max_headers": 500}, "max_headers must be 1..128"),
        ({"header_timeout": 0}, "timeouts must be at least 1 second"),
        ({"keep_alive_timeout": 0}, "timeouts must be at least 1 second"),
        ({"io": "kqueue"}, "io must be 'auto', 'io_uring' or 'epoll'"),
        ({"threads": 0}, "threads must be at least 1"),
        ({"metrics": "no-slash"}, "metrics path must start with '/'"),
    ],
)
def test_bad_run_options(options, message):
    with pytest.raises(ValueError, match=message):
        _app().run(port=free_port(), log_level="warning", **options)


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("/a/{x:double}", 'unknown parameter type "double"'),
        ("/a/{}", "invalid parameter name"),
        ("/a/{x}/{x}", 'duplicate parameter name "x"'),
        ("/a/b{x}", "a parameter must be a whole segment"),
    ],
)
def test_bad_route_patterns(pattern, message):
    app = _app(pattern)
    with pytest.raises(ValueError, match=message):
        app.run(port=free_port(), log_level="warning")


def test_duplicate_route_and_bad_method():
    app = _app("/dup")
    with pytest.raises(ValueError, match="route GET /dup conflicts with GET /dup, registered before"):
        app.get("/dup")(lambda req: {})  # refused when registered, not at start-up
    with pytest.raises(ValueError, match="invalid HTTP method 'GE T' for route '/m'"):
        App().route("/m", methods=["GE T"])  # not a token: refused when registered
    app = App()
    app.route("/m", methods=["CONNECT"])(lambda req: {})
    with pytest.raises(ValueError, match="CONNECT cannot be routed"):
        app.run(port=free_port(), log_level="warning")
    with pytest.raises(ValueError, match="must start with '/'"):
        App().get("relative")


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: Response("x", status=99), ValueError),
        (lambda: Response("x", status="200"), ValueError),
        (lambda: Response("x", headers={"x": "a\nb"}), ValueError),
        (lambda: Response("x", headers={"bad name": "v"}), ValueError),
        (lambda: Response("x", headers={"x": 1}), TypeError),
        (lambda: Response("x", content_type="text/plain\r\nx: y"), ValueError),
        (lambda: HTTPError(1000), ValueError),
    ],
)
def test_bad_response_values(make, error):
    with pytest.raises(error):
        make()


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--max-headers", "0"], 1, "max_headers must be 1..128"),
        (["--header-timeout", "0"], 1, "timeouts must be at least 1 second"),
        (["--io", "kqueue"], 2, "invalid choice: 'kqueue'"),
        (["--threads", "0"], 1, "threads must be at least 1"),
        (["--ws-max-size", "0"], 2, "must be at least 1"),
        (["--ws-ping-interval", "-1"], 2, "must be a finite number >= 0"),
        (["--ws-ping-timeout", "soon"], 2, "expected a number of seconds"),
    ],
)
def test_cli_refuses_bad_options(args, code, message):
    p = subprocess.run(
        [sys.executable, "-m", "ringbolt", "serve", "basic:app", "--app-dir", str(APPS), "--port", str(free_port()),
         *args],
        capture_output=True, text=True, timeout=30, cwd=str(REPO),
    )
    assert p.returncode == code, p.stderr
    assert message in p.stderr


@pytest.mark.parametrize("option, value, error, message", [
    ("ws_max_size", 0, ValueError, "ws_max_size must be at least 1, not 0"),
    ("ws_max_size", 1.5, TypeError, "ws_max_size must be an integer, not float 1.5"),
    ("ws_ping_interval", -1, ValueError, "ws_ping_interval must be a finite number >= 0"),
    ("ws_ping_timeout", "20", TypeError, "ws_ping_timeout must be a number, not str '20'"),
])
def test_app_run_refuses_bad_websocket_options(option, value, error, message):
    app = App()

    @app.websocket("/ws")
    async def ws(ws):
        await ws.accept()

    with pytest.raises(error, match=message):
        app.run(port=free_port(), log_level="warning", **{option: value})
