"""The options ``App.run(**options)`` takes, and the check that refuses any other name
(a typo such as ``max_body_sise`` is an error naming it, never silently ignored).

They are derived from the one option table, ``config.OPTIONS`` (what ``ringbolt serve``
parses): every flag is an ``App.run`` option under its own name, except those below,
each listed with its reason. A flag added to the table is therefore an ``App.run``
option at once, and ``ringbolt serve`` passes it on (``run_options``)."""

from __future__ import annotations

import argparse
from typing import Any, Callable, Mapping

from .config import BY_DEST, NUMBER_PARSERS, OPTIONS, BadValue, Option

#: Flags that are named parameters of ``App.run`` itself, not ``**options``.
RUN_PARAMETERS = frozenset({"host", "port", "threads", "workers", "limit_max_requests", "log_level"})

#: Flags whose ``App.run`` option has another name (and, for a switch, the value it gives).
RENAMED: Mapping[str, str] = {
    "header": "headers",  # repeatable --header: App.run(headers=[(name, value), ...])
    "timeout_keep_alive": "keep_alive_timeout",  # uvicorn's flag names, ringbolt's option names
    "timeout_graceful_shutdown": "graceful_timeout",
    "no_pin": "pin_threads",  # --no-pin: pin_threads=False
}
_CONVERT: Mapping[str, Callable[[Any], Any]] = {"no_pin": lambda on: not on}

#: ``ringbolt serve`` only: what the CLI does before or around ``App.run``.
CLI_ONLY: Mapping[str, str] = {
    "interface": "how the CLI reads APP (App.run serves the App it is called on)",
    "factory": "how the CLI reads APP",
    "app_dir": "where the CLI imports APP from",
    "root_path": "given to ringbolt.asgi/ringbolt.wsgi apps by the CLI",
    "lifespan": "given to ringbolt.asgi apps by the CLI",
    "plan": "how the CLI serves a FastAPI or Starlette app (ringbolt.fastapi.adopt)",
    "env_file": "read by the CLI before APP is imported",
    "uds": "the CLI binds the unix socket and hands it over",
    "fd": "the CLI wraps the inherited socket and hands it over",
    "wsgi_threads": "the thread pool of a WSGI app the CLI wraps",
    "log_config": "the CLI configures logging before APP is imported",
    "reload": "the CLI's reloader restarts the process",
    "reload_dir": "the CLI's reloader",
    "reload_child_fd": "internal to the reloader",
}

#: ``App.run`` options with no flag: the WebSocket close timeout (uvicorn has no flag for
#: it either; ``ringbolt serve`` keeps its default).
RUN_ONLY = frozenset({"ws_close_timeout"})

#: Public server options of ``App.run``: the table's flags, and RUN_ONLY.
RUN_OPTIONS = frozenset(
    RENAMED.get(o.dest, o.dest) for o in OPTIONS if o.dest not in CLI_ONLY and o.dest not in RUN_PARAMETERS
) | RUN_ONLY

#: Passed by ringbolt's own CLI and supervisor (inherited listeners and UDP sockets), not
#: documented for apps.
_INTERNAL = frozenset({"listen_fds", "bind_name", "owns_listeners", "quic_fds", "quic_position", "quic_secret",
                       "quic_replay_fd", "rate_limit_fd", "conventions", "redirect_slashes"})


def _check_table() -> None:
    """Every name above is a flag of the table (a stale entry would hide a new flag)."""
    for name in (*RUN_PARAMETERS, *RENAMED, *CLI_ONLY):
        if name not in BY_DEST:
            raise AssertionError(f"ringbolt.options names {name!r}, which config.OPTIONS does not have")


_check_table()


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """``App.run`` keyword options from ``ringbolt serve``'s parsed flags (those left
    unset, None, are the server's defaults and not passed)."""
    options: dict[str, Any] = {}
    for o in OPTIONS:
        if o.dest in CLI_ONLY or o.dest in RUN_PARAMETERS:
            continue
        value = getattr(args, o.dest, None)
        if value is None or (o.kind == "switch" and value is False):
            continue
        convert = _CONVERT.get(o.dest)
        options[RENAMED.get(o.dest, o.dest)] = convert(value) if convert is not None else value
    return options


def check_run_options(options: Mapping[str, Any], where: str) -> None:
    """TypeError naming the first unknown option (and the closest known one)."""
    for name in options:
        if name in RUN_OPTIONS or name in _INTERNAL:
            continue
        known = sorted(RUN_OPTIONS)
        import difflib  # the error's hint only
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        if name in CLI_ONLY:
            hint = f": it is a `ringbolt serve` flag only ({CLI_ONLY[name]})"
        elif close:
            hint = f"; did you mean {close[0]!r}?"
        else:
            hint = f" (known options: {', '.join(known)})"
        raise TypeError(f"{where}() got an unknown option {name!r}{hint}")


#: The table's option of each App.run name (a renamed switch, converted, has none here).
_BY_RUN_NAME: Mapping[str, Option] = {
    RENAMED.get(o.dest, o.dest): o for o in OPTIONS if o.dest not in CLI_ONLY and o.dest not in _CONVERT
}


def check_run_values(values: Mapping[str, Any], where: str) -> None:
    """The numbers ``App.run`` is given pass the rule ``ringbolt serve`` applies to the
    same flag: TypeError for a value that is not a number (a bool is not one), ValueError
    naming the option and its range for one out of it, rather than the native layer's
    cast failure or a value taken silently (a negative backlog)."""
    for name, value in values.items():
        option = _BY_RUN_NAME.get(name)
        if option is None or value is None or option.type not in NUMBER_PARSERS:
            continue
        number = NUMBER_PARSERS[option.type]
        allowed = (int,) if number is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            kind = "an integer" if number is int else "a number"
            raise TypeError(f"{where}(): {name} must be {kind}, not {type(value).__name__} {value!r}")
        try:
            option.type(str(value))
        except BadValue as e:
            raise ValueError(f"{where}(): {name} {e}") from None
