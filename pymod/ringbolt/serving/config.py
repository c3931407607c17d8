"""Every ``ringbolt serve`` option in one table: its flag, its ``RINGBOLT_*`` environment
variable, its default and help, and its ``--help`` group. The parser, the environment
lookup and docs/cli.md follow this table, so they cannot drift apart.

Where a value comes from: the command line, else ``RINGBOLT_<FLAG>`` (upper snake case of
the long flag, e.g. ``--timeout-keep-alive`` -> ``RINGBOLT_TIMEOUT_KEEP_ALIVE``), else the
default. ``--env-file`` is read before the table is applied, so a ``RINGBOLT_*`` line in
it counts as well (a variable already in the environment is not overridden).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any, Callable

GROUPS = {
    "app": "application",
    "socket": "socket",
    "workers": "workers and threads",
    "http": "HTTP and limits",
    "websocket": "WebSocket",
    "tls": "TLS (uvicorn's --ssl-* names)",
    "timeouts": "timeouts",
    "logging": "logging",
    "development": "development",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 §5.6.2


class ConfigError(Exception):
    """A bad option value (the CLI prints it as one line and exits 2)."""


@dataclass(frozen=True)
class Option:
    flag: str  # the long flag, e.g. "--port"
    group: str  # a key of GROUPS
    help: str
    type: Callable[[str], Any] = str
    default: Any = None  # None: the server's own default (see help)
    choices: tuple[str, ...] | None = None
    kind: str = "value"  # value | bool (--x/--no-x) | switch (presence) | list (repeatable) | optional
    const: Any = None  # kind "optional": the value when the flag comes without one
    aliases: tuple[str, ...] = ()
    metavar: str | None = None
    unsupported: str | None = None  # given explicitly: refused with this reason
    hidden: bool = False

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env(self) -> str:
        return "RINGBOLT_" + self.dest.upper()


class BadValue(argparse.ArgumentTypeError):
    """argparse shows its message as is (a ValueError becomes "invalid <type> value")."""


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadValue(f"expected an integer, not {text!r}") from None


#: The parsers whose flags take a number, and which (int or float): an App.run value of
#: such a flag must be one (options.check_run_values).
NUMBER_PARSERS: dict[Callable[[str], Any], type] = {}

_U32 = 2**32 - 1  # the server's counts and seconds (uint32_t)
_U64 = 2**64 - 1  # the server's byte sizes (uint64_t, size_t)


def _ranged(low: int, high: int) -> Callable[[str], int]:
    """An integer from ``low`` to ``high``: the range of the server's field it fills, so a
    value no field can hold is refused here by name, not by the native layer."""

    def parse(text: str) -> int:
        value = _int(text)
        if not low <= value <= high:
            raise BadValue(f"must be {low}..{high}, not {value}")
        return value

    NUMBER_PARSERS[parse] = int
    return parse


def _positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise BadValue(f"must be at least 1, not {value}")
    return value


def _non_negative(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise BadValue(f"must not be negative, not {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadValue(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise BadValue(f"must be a finite number >= 0, got {text!r}")
    return value


def parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise BadValue(f"expected true/false/1/0, not {text!r}")


def parse_ips(text: str) -> str:
    """``--forwarded-allow-ips``: IPs or CIDR networks, comma-separated, or ``*``."""
    for item in (i.strip() for i in text.split(",")):
        if item and item != "*":
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise BadValue(f"{item!r} is not an IP address or network") from None
    return text


_ATOM = re.compile(r"%%|%\((.)\)s|%")


def parse_access_format(text: str) -> str:
    """``--access-log-format``: only the atoms the native access log knows."""
    for m in _ATOM.finditer(text):
        if m.group(0) == "%%":
            continue
        if m.group(1) is None:
            raise BadValue(f"a '%' that is not %%(x)s or %% at offset {m.start()} of {text!r}")
        if m.group(1) not in "hprmUqHsSbBDLti":
            raise BadValue(f"unknown atom %({m.group(1)})s (known: h p r m U q H s S b B D L t i)")
    return text


def parse_header(text: str) -> tuple[str, str]:
    """``NAME:VALUE`` -> (name, value); the value's surrounding spaces are dropped."""
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name:
        raise BadValue(f"expected NAME:VALUE, not {text!r}")
    if not _TOKEN.match(name):
        raise BadValue(f"invalid header name {name!r}")
    value = value.strip()
    if any(c in value for c in "\r\n\0"):
        raise BadValue(f"the value of header {name!r} contains CR, LF or NUL")
    return name, value


def parse_cert_reqs(text: str) -> int:
    """``--ssl-cert-reqs``: 0/1/2 (ssl.CERT_NONE/OPTIONAL/REQUIRED, as uvicorn) or the names."""
    names = {"0": 0, "none": 0, "cert_none": 0, "1": 1, "optional": 1, "cert_optional": 1,
             "2": 2, "required": 2, "cert_required": 2}
    value = names.get(text.strip().lower())
    if value is None:
        raise BadValue(f"expected 0/none, 1/optional or 2/required, not {text!r}")
    return value


def parse_sni(text: str) -> tuple[str, str, str]:
    """``--ssl-sni NAME=CERTFILE,KEYFILE`` -> (name, certfile, keyfile)."""
    name, sep, files = text.partition("=")
    cert, comma, key = files.partition(",")
    name = name.strip()
    if not sep or not comma or not name or not cert.strip() or not key.strip():
        raise BadValue(f"expected NAME=CERTFILE,KEYFILE, not {text!r}")
    return name.lower(), cert.strip(), key.strip()


def parse_handshake_timeout(text: str) -> float:
    value = _non_negative_float(text)
    if value < 1:
        raise BadValue(f"must be at least 1 second, not {text!r}")
    return value


NUMBER_PARSERS.update({_int: int, _positive: int, _non_negative: int, _non_negative_float: float,
                       parse_handshake_timeout: float})

OPTIONS: tuple[Option, ...] = (
    # application
    Option("--interface", "app", "what the app is: auto (a ringbolt.App, else an ASGI 3 app, else a WSGI app), "
           "or say which", default="auto", choices=("auto", "native", "asgi", "wsgi")),
    Option("--factory", "app", "APP names a function returning the app: call it (no arguments)", kind="switch"),
    Option("--app-dir", "app", "directory put first on sys.path before importing APP", default=".", metavar="DIR"),
    Option("--root-path", "app", "ASGI/WSGI root_path: the prefix the app is mounted under behind a proxy",
           default="", metavar="PATH"),
    Option("--lifespan", "app", "ASGI lifespan: auto (used if the app supports it), on (a failure is fatal), off",
           default="auto", choices=("auto", "on", "off")),
    Option("--plan", "app", "a FastAPI or Starlette app: serve each route that can be planned through ringbolt's "
           "own per-route plans, the rest through ASGI (said at start-up; `ringbolt routes APP` lists them); "
           "--no-plan: the whole app through ASGI (default on)", type=parse_bool, kind="bool"),
    Option("--env-file", "app", "KEY=VALUE lines put into the environment before the app is imported "
           "(variables already set win)", metavar="PATH"),
    # socket
    Option("--host", "socket", "address to listen on", default="127.0.0.1"),
    Option("--port", "socket", "TCP port (0: any free port)", type=_ranged(0, 65535), default=8000),
    Option("--uds", "socket", "listen on this unix socket path instead of host:port", metavar="PATH"),
    Option("--fd", "socket", "serve the listening socket inherited as file descriptor N (systemd, a supervisor)",
           type=_non_negative, metavar="N"),
    Option("--backlog", "socket", "accept queue length per listener (default 4096)", type=_positive, metavar="N"),
    Option("--io", "socket", "kernel interface (default auto: io_uring, else epoll)",
           choices=("auto", "io_uring", "epoll")),
    # workers
    Option("--workers", "workers", "worker processes under a supervisor (default: $WEB_CONCURRENCY or 1)",
           type=_int, metavar="N"),
    Option("--threads", "workers", "reactor threads per worker (default: CPUs available // workers, at least 1)",
           type=_int, metavar="N"),
    Option("--handler-threads", "workers", "run handlers on N Python threads instead of inline on the reactors "
           "(for handlers that block; default 0 = inline)", type=_ranged(0, _U32), metavar="N"),
    Option("--limit-max-requests", "workers", "a worker drains and is replaced after this many requests "
           "(+ up to 10%% jitter)", type=_int, metavar="N"),
    Option("--no-pin", "workers", "do not pin reactor threads to CPUs", kind="switch"),
    Option("--reactor-sched", "workers", "reactor threads' scheduling policy: batch (SCHED_BATCH: a reactor's "
           "wake-up does not preempt the Python thread on its CPU), normal, or auto (default: batch when requests "
           "go to the worker's asyncio loop on its own thread, an ASGI app or async handlers, and no handler pool; "
           "else normal)",
           choices=("auto", "batch", "normal")),
    Option("--loop", "workers", "event loop implementation: auto (uvloop when installed, else asyncio's), asyncio "
           "or uvloop (default auto)", choices=("auto", "asyncio", "uvloop")),
    Option("--wsgi-threads", "workers", "threads running a WSGI app per worker (default 2x CPUs available, "
           "4 to 32)", type=_positive, metavar="N"),
    # HTTP and limits
    Option("--limit-concurrency", "http", "requests waiting for Python per worker (all its reactors together); above it answer 503 "
           "with Retry-After", type=_ranged(0, _U32), metavar="N"),
    Option("--limit-connections", "http", "connections per reactor thread; accepting pauses at the cap",
           type=_ranged(0, _U32), metavar="N"),
    Option("--max-body-size", "http", "request body bytes (default 16 MiB) -> 413", type=_ranged(0, _U64), metavar="BYTES"),
    Option("--body-receive-buffer", "http", "socket receive buffer (SO_RCVBUF) a plaintext connection gets once a "
           "request body streams on it: as much as the kernel grants (net.core.rmem_max, or any with CAP_NET_ADMIN), "
           "none under 2 MiB; 0 leaves the kernel's autotuning (default 8 MiB)", type=_non_negative, metavar="BYTES"),
    Option("--max-request-line", "http", "request line bytes (default 8192) -> 414", type=_ranged(0, _U64), metavar="BYTES"),
    Option("--max-header-size", "http", "request head bytes (default 16384) -> 431", type=_ranged(0, _U64), metavar="BYTES"),
    Option("--max-headers", "http", "request header fields (default 100) -> 431", type=_ranged(0, _U64), metavar="N"),
    Option("--header", "http", "a field added to every response (repeatable; a Server here replaces ours; "
           "RINGBOLT_HEADER: one per line)", type=parse_header, kind="list", metavar="NAME:VALUE"),
    Option("--server-header", "http", "send Server: ringbolt (default on)", type=parse_bool, kind="bool"),
    Option("--date-header", "http", "send Date (default on)", type=parse_bool, kind="bool"),
    Option("--proxy-headers", "http", "from --forwarded-allow-ips peers, take client, scheme and host from "
           "Forwarded or X-Forwarded-For/Proto/Host (default off)", type=parse_bool, kind="bool"),
    Option("--forwarded-allow-ips", "http", "comma-separated IPs or CIDR networks whose forwarding headers are "
           "trusted, or * (default 127.0.0.1)", type=parse_ips, metavar="IPS"),
    Option("--proxy-protocol", "http", "read HAProxy's PROXY protocol header (v1 text, v2 binary, any: both) a load "
           "balancer sends before each connection, before TLS; required from --forwarded-allow-ips peers, refused "
           "from others (default off)", choices=("off", "v1", "v2", "any")),
    Option("--http", "http", "HTTP versions served (Granian's flag): auto (HTTP/1.1 and HTTP/2), 1 (HTTP/1.1 only: "
           "no h2c, no h2 in ALPN) or 2 (HTTP/2 only: h2c with prior knowledge, ALPN offers only h2; an HTTP/1.1 "
           "request is answered 505) (default auto)", choices=("auto", "1", "2")),
    Option("--http2", "http", "serve HTTP/2 next to HTTP/1.1: h2c with prior knowledge or Upgrade: h2c, h2 by ALPN "
           "over TLS (default on; --no-http2 is --http 1)", type=parse_bool, kind="bool"),
    Option("--http3", "http", "serve HTTP/3 over QUIC on the UDP port of the HTTPS listener's number (needs "
           "--ssl-certfile and --ssl-keyfile); TCP answers advertise it with Alt-Svc (default off)",
           type=parse_bool, kind="bool"),
    Option("--http3-max-streams", "http", "request streams an HTTP/3 client may have open at once (QUIC "
           "MAX_STREAMS; default 100)", type=_positive, metavar="N"),
    Option("--http3-idle-timeout", "http", "seconds an HTTP/3 connection may stay silent before it closes "
           "(default 30)", type=parse_handshake_timeout, metavar="S"),
    Option("--http3-stream-window", "http", "HTTP/3 request body bytes a client may send ahead per stream "
           "(QUIC flow control; default 262144)", type=_positive, metavar="BYTES"),
    Option("--http3-connection-window", "http", "HTTP/3 request body bytes a client may send ahead on a "
           "connection, all streams together (default 1048576)", type=_positive, metavar="BYTES"),
    Option("--http3-retry-above", "http", "new HTTP/3 connections a second (per thread) past which a client must "
           "first prove its address with a QUIC Retry round trip (default 1000; 0: always)", type=_non_negative,
           metavar="N"),
    Option("--http3-max-half-open", "http", "HTTP/3 connections in their handshake (per thread) past which a new "
           "client must first prove its address with a QUIC Retry round trip: bounds what an Initial flood makes "
           "the server hold, some 128 KiB each (default 256)", type=_non_negative, metavar="N"),
    Option("--http3-early-data", "http", "answer the requests a resuming HTTP/3 client sends in 0-RTT at once "
           "(those of --http3-early-methods; others get 425 Too Early; replays are refused); --no-http3-early-data: "
           "resumption only (default on)", type=parse_bool, kind="bool"),
    Option("--http3-early-methods", "http", "the methods answered from HTTP/3 0-RTT data, comma-separated (default "
           "GET,HEAD,OPTIONS,TRACE: the safe ones); name others only if the app makes their replay harmless (other "
           "methods get 425 Too Early; never CONNECT)", metavar="METHODS"),
    Option("--http3-cc", "http", "the congestion controller of HTTP/3 connections: cubic (TCP's default on Linux), "
           "bbr (paces at the path's measured bandwidth; loses less to random loss) or reno (default cubic)",
           choices=("cubic", "bbr", "reno")),
    Option("--metrics", "http", "serve Prometheus metrics natively at PATH (default /metrics)", kind="optional",
           const="/metrics", metavar="PATH"),
    # WebSocket (uvicorn's flag names)
    Option("--ws-max-size", "websocket", "bytes of a WebSocket message, after decompression (default 16 MiB); "
           "more: close 1009", type=_positive, metavar="BYTES"),
    Option("--ws-ping-interval", "websocket", "seconds a WebSocket may stay idle before the server pings "
           "(default 20; 0: never)", type=_non_negative_float, metavar="S"),
    Option("--ws-ping-timeout", "websocket", "seconds a ping may go unanswered before close 1011 (default 20; "
           "0: wait for ever)", type=_non_negative_float, metavar="S"),
    Option("--ws-per-message-deflate", "websocket", "accept permessage-deflate compression when a client "
           "offers it (default on)", type=parse_bool, kind="bool"),
    # TLS
    Option("--ssl-keyfile", "tls", "PEM private key: serve HTTPS (with --ssl-certfile)", metavar="PATH"),
    Option("--ssl-certfile", "tls", "PEM certificate chain (leaf first): the default certificate", metavar="PATH"),
    Option("--ssl-keyfile-password", "tls", "password of an encrypted --ssl-keyfile", metavar="PASSWORD"),
    Option("--ssl-ca-certs", "tls", "PEM CA bundle client certificates are checked against (mTLS)",
           metavar="PATH"),
    Option("--ssl-cert-reqs", "tls", "client certificates: 0 none (default), 1 optional (checked when sent), "
           "2 required", type=parse_cert_reqs, metavar="N"),
    Option("--ssl-ciphers", "tls", "OpenSSL cipher list for TLS 1.2 (default: OpenSSL's; uvicorn's TLSv1 means "
           "the same)", metavar="LIST"),
    Option("--ssl-min-version", "tls", "oldest TLS version accepted (default TLSv1.2)",
           choices=("TLSv1.2", "TLSv1.3")),
    Option("--ssl-sni", "tls", "another certificate for an SNI name, '*.example.com' allowed (repeatable; "
           "RINGBOLT_SSL_SNI: one per line); unknown names get the default certificate", type=parse_sni,
           kind="list", metavar="NAME=CERTFILE,KEYFILE"),
    Option("--ssl-ktls", "tls", "let the kernel encrypt what TLS connections send (kTLS) where it offers it and "
           "the cipher allows; a client that asks for new server keys (TLS 1.3 KeyUpdate) is then disconnected "
           "(default on)", type=parse_bool, kind="bool"),
    Option("--ssl-handshake-timeout", "tls", "seconds a TLS handshake may take (default 10)",
           type=parse_handshake_timeout, metavar="S"),
    # timeouts
    Option("--timeout-keep-alive", "timeouts", "seconds an idle keep-alive connection stays open (default 5)",
           type=_ranged(0, _U32), aliases=("--keep-alive-timeout",), metavar="S"),
    Option("--timeout-graceful-shutdown", "timeouts", "drain deadline after SIGTERM/Ctrl-C, seconds (default 30)",
           type=_ranged(0, _U32), metavar="S"),
    Option("--header-timeout", "timeouts", "seconds to receive a request head (default 10) -> 408",
           type=_ranged(0, _U32), metavar="S"),
    Option("--body-timeout", "timeouts", "seconds between body reads (default 30)", type=_ranged(0, _U32), metavar="S"),
    Option("--min-body-rate", "timeouts", "bytes/s a request body must average once it has taken longer than "
           "--body-timeout; below it: 408 (default 1024, 0 = no floor)", type=_ranged(0, _U32), metavar="BYTES"),
    Option("--write-timeout", "timeouts", "seconds output may wait without the client taking a byte of it (default 30)",
           type=_ranged(0, _U32), metavar="S"),
    # logging
    Option("--log-level", "logging", "log level (trace shows what debug does)", default="info",
           choices=("critical", "error", "warning", "info", "debug", "trace")),
    Option("--log-config", "logging", "logging configuration: .json (dictConfig), .yaml/.yml (dictConfig, needs "
           "PyYAML) or .ini (fileConfig)", metavar="PATH"),
    Option("--access-log", "logging", "one line per answered request, written off the serving threads "
           "(default off)", type=parse_bool, kind="bool"),
    Option("--access-log-format", "logging", "atoms %%(h)s client, %%(p)s port, %%(r)s request line, %%(m)s, %%(U)s "
           "path, %%(q)s query, %%(H)s protocol, %%(s)s status, %%(S)s reason, %%(b)s/%%(B)s bytes, %%(D)s us, "
           "%%(L)s s, %%(t)s time (docs/cli.md; default uvicorn's format)", type=parse_access_format,
           metavar="FORMAT"),
    # development
    Option("--reload", "development", "restart the server when .py files change (watchfiles)", kind="switch"),
    Option("--reload-dir", "development", "directory to watch (repeatable; default: --app-dir; "
           "RINGBOLT_RELOAD_DIR: separated by ':')", kind="list", metavar="DIR"),
    Option("--reload-child-fd", "development", "internal: the reloader's listening socket", type=_int,
           hidden=True),
)

BY_DEST = {o.dest: o for o in OPTIONS}


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add every option, grouped; defaults stay None so that the environment and the
    table's default can be applied after parsing (see ``resolve``)."""
    groups = {key: parser.add_argument_group(title) for key, title in GROUPS.items()}
    for o in OPTIONS:
        target = groups[o.group]
        names = (o.flag, *o.aliases)
        shown_default = o.default not in (None, "") and "default" not in o.help
        env_help = "" if o.hidden else (f" (default {o.default})" if shown_default else "") + f" [env {o.env}]"
        text = argparse.SUPPRESS if o.hidden else o.help + env_help
        if o.kind == "bool":
            target.add_argument(*names, dest=o.dest, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif o.kind == "switch":
            target.add_argument(*names, dest=o.dest, action="store_const", const=True, default=None, help=text)
        elif o.kind == "list":
            target.add_argument(*names, dest=o.dest, action="append", type=o.type, default=None,
                                metavar=o.metavar, help=text)
        elif o.kind == "optional":
            target.add_argument(*names, dest=o.dest, nargs="?", const=o.const, default=None,
                                metavar=o.metavar, help=text)
        else:
            target.add_argument(*names, dest=o.dest, type=o.type, default=None, choices=o.choices,
                                metavar=o.metavar, help=text)


def _from_env(o: Option, raw: str) -> Any:
    try:
        if o.kind == "switch":
            return parse_bool(raw) or None
        if o.kind == "bool":
            return parse_bool(raw)
        if o.kind == "list":
            parts = raw.splitlines() if o.dest in ("header", "ssl_sni") else raw.split(os.pathsep)
            return [o.type(p) for p in parts if p.strip()]
        if o.kind == "optional":
            low = raw.strip().lower()
            if low in _TRUE:
                return o.const
            return None if low in _FALSE else raw
        value = o.type(raw)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise ConfigError(f"{o.env}={raw!r}: {exc}") from None
    if o.choices is not None and value not in o.choices:
        raise ConfigError(f"{o.env}={raw!r}: choose from {', '.join(o.choices)}")
    return value


def resolve(args: argparse.Namespace, environ: os._Environ[str] | dict[str, str] | None = None) -> set[str]:
    """Fill what the command line left unset from ``RINGBOLT_*``, then from the table's
    defaults; refuse unsupported options that were asked for. Returns the names of the
    options set explicitly (command line or environment)."""
    env = os.environ if environ is None else environ
    explicit: set[str] = set()
    for o in OPTIONS:
        value = getattr(args, o.dest, None)
        if value is None and not o.hidden:
            raw = env.get(o.env)
            if raw is not None and raw != "":
                value = _from_env(o, raw)
        if value is not None:
            explicit.add(o.dest)
        else:
            value = o.default
        setattr(args, o.dest, value)
        if o.unsupported is not None and value not in (None, False):
            raise ConfigError(f"{o.flag} is not supported yet: {o.unsupported}")
    return explicit


def load_env_file(path: str, environ: os._Environ[str] | dict[str, str] | None = None) -> None:
    """Put the file's KEY=VALUE lines into the environment; variables already set win.
    python-dotenv reads it when installed, else the small parser below (comments,
    blank lines, ``export KEY=...``, single or double quotes)."""
    env = os.environ if environ is None else environ
    if not os.path.isfile(path):
        raise ConfigError(f"--env-file {path}: no such file")
    try:
        from dotenv import dotenv_values  # optional: python-dotenv, when installed
    except ImportError:
        values = _parse_env_file(path)
    else:
        values = {k: v for k, v in dotenv_values(path).items() if v is not None}
    for key, value in values.items():
        env.setdefault(key, value)


def _parse_env_file(path: str) -> dict[str, str]:
    values: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[7:].lstrip()
            key, sep, value = line.partition("=")
            key = key.strip()
            if not sep or not key.replace("_", "a").isalnum():
                raise ConfigError(f"--env-file {path} line {number}: expected KEY=VALUE")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            elif " #" in value:
                value = value.split(" #", 1)[0].rstrip()
            values[key] = value
    return values
