"""The options ``App.run(**options)`` takes, and the check that refuses any other name
(a typo such as ``max_body_sise`` is an error naming it, never silently ignored)."""

from __future__ import annotations

import difflib
from typing import Any, Mapping

#: Public server options of ``App.run`` (``ringbolt serve`` has a flag for each).
RUN_OPTIONS = frozenset({
    "max_body_size", "max_request_line", "max_header_size", "max_headers",
    "header_timeout", "body_timeout", "min_body_rate", "keep_alive_timeout", "write_timeout",
    "graceful_timeout", "backlog", "pin_threads", "io",
    "limit_connections", "limit_concurrency", "handler_threads", "metrics",
    "headers", "server_header", "date_header", "access_log", "access_log_format",
    "proxy_headers", "forwarded_allow_ips",
    "ws_max_size", "ws_ping_interval", "ws_ping_timeout", "ws_close_timeout", "ws_per_message_deflate",
    "ssl_keyfile", "ssl_certfile", "ssl_keyfile_password", "ssl_ca_certs", "ssl_cert_reqs", "ssl_ciphers",
    "ssl_min_version", "ssl_sni", "ssl_handshake_timeout",
})

#: Passed by ringbolt's own CLI and supervisor (inherited listeners), not documented for apps.
_INTERNAL = frozenset({"listen_fds", "bind_name"})


def check_run_options(options: Mapping[str, Any], where: str) -> None:
    """TypeError naming the first unknown option (and the closest known one)."""
    for name in options:
        if name in RUN_OPTIONS or name in _INTERNAL:
            continue
        close = difflib.get_close_matches(name, sorted(RUN_OPTIONS), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known options: {', '.join(sorted(RUN_OPTIONS))})"
        raise TypeError(f"{where}() got an unknown option {name!r}{hint}")
