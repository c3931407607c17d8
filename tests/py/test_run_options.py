"""App.run's options come from the one option table (ringbolt.config.OPTIONS): every
flag of ``ringbolt serve`` is an App.run option (under its own name or a listed other
one), a named parameter of App.run, or listed as CLI-only with its reason; an unknown
name is a TypeError naming it; and ``ringbolt serve`` passes every flag it was given on
to App.run under that name."""

from __future__ import annotations

import argparse
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import APPS, REPO, free_port
from ringbolt import App, config, options
from ringbolt.cli import _run_options

NATIVE = REPO / "pymod" / "native"
PACKAGE = REPO / "pymod" / "ringbolt"


def _app() -> App:
    app = App()
    app.get("/")(lambda req: {})
    return app


@pytest.mark.parametrize("o", config.OPTIONS, ids=lambda o: o.flag)
def test_every_table_option_has_a_place(o: config.Option):
    run = inspect.signature(App.run).parameters
    if o.dest in options.CLI_ONLY:
        assert options.CLI_ONLY[o.dest], o.dest  # a reason is given
        with pytest.raises(TypeError, match=rf"unknown option '{o.dest}': it is a `ringbolt serve` flag only"):
            _app().run(port=free_port(), log_level="warning", **{o.dest: "x"})
    elif o.dest in options.RUN_PARAMETERS:
        assert o.dest in run and run[o.dest].kind != inspect.Parameter.VAR_KEYWORD, o.dest
    else:
        name = options.RENAMED.get(o.dest, o.dest)
        assert name in options.RUN_OPTIONS
        options.check_run_options({name: object()}, "App.run")  # accepted: no TypeError


def _read_by_name(name: str) -> bool:
    """The server reads the option by this name somewhere (native config or Python)."""
    quoted = f'"{name}"'
    for path in [*NATIVE.rglob("*.cpp"), *PACKAGE.rglob("*.py")]:  # every package folder
        if path.name == "options.py":
            continue
        if quoted in path.read_text():
            return True
    return False


@pytest.mark.parametrize("name", sorted(options.RUN_OPTIONS))
def test_every_run_option_is_read_by_the_server(name: str):
    # A renamed option that nothing reads would be accepted and silently ignored.
    assert _read_by_name(name), f"App.run accepts {name!r} but no server code reads it"


def test_the_mapping_names_only_table_flags():
    dests = {o.dest for o in config.OPTIONS}
    for name in (*options.CLI_ONLY, *options.RENAMED, *options.RUN_PARAMETERS):
        assert name in dests, name
    assert not options.RUN_ONLY & dests  # App.run-only options have no flag
    assert not set(options.CLI_ONLY) & set(options.RENAMED)


@pytest.mark.parametrize("given, message", [
    ({"max_body_sise": 10}, "unknown option 'max_body_sise'; did you mean 'max_body_size'?"),
    ({"header": [("x-a", "b")]}, "unknown option 'header'; did you mean 'headers'?"),
    ({"timeout_keep_alive": 5}, "unknown option 'timeout_keep_alive'"),
    ({"no_pin": True}, "unknown option 'no_pin'"),
    ({"reload": True}, "unknown option 'reload': it is a `ringbolt serve` flag only"),
    ({"uds": "/tmp/x.sock"}, "unknown option 'uds': it is a `ringbolt serve` flag only"),
    ({"nonsense_option": 1}, r"unknown option 'nonsense_option' \(known options: access_log,"),
])
def test_unknown_options_name_the_wrong_name(given, message):
    with pytest.raises(TypeError, match=message):
        _app().run(port=free_port(), log_level="warning", **given)


def test_serve_passes_every_flag_under_its_run_name():
    parser = argparse.ArgumentParser()
    config.add_options(parser)
    args = parser.parse_args([
        "--max-body-size", "5", "--timeout-keep-alive", "7", "--timeout-graceful-shutdown", "3",
        "--header", "x-a: b", "--no-pin", "--ws-max-size", "100", "--ssl-min-version", "TLSv1.3",
        "--access-log", "--no-date-header", "--metrics",
    ])
    config.resolve(args, environ={})
    got = _run_options(args)
    assert got == {"max_body_size": 5, "keep_alive_timeout": 7, "graceful_timeout": 3, "headers": [("x-a", "b")],
                   "pin_threads": False, "ws_max_size": 100, "ssl_min_version": "TLSv1.3", "access_log": True,
                   "date_header": False, "metrics": "/metrics"}
    options.check_run_options(got, "App.run")
    # Nothing set: nothing passed (the server's defaults apply); CLI-only flags never are.
    args = parser.parse_args(["--reload", "--app-dir", "x", "--workers", "2"])
    config.resolve(args, environ={})
    assert _run_options(args) == {}


def _numeric_run_options() -> list[tuple[str, config.Option]]:
    got = []
    for name in sorted(options.RUN_OPTIONS | {"port"}):
        o = options._BY_RUN_NAME.get(name)
        if o is not None and o.type in config.NUMBER_PARSERS:
            got.append((name, o))
    return got


NUMERIC = _numeric_run_options()


def test_the_numeric_options_are_found():
    names = {name for name, _ in NUMERIC}
    assert {"port", "max_body_size", "backlog", "keep_alive_timeout", "limit_connections", "http3_idle_timeout",
            "ws_ping_interval", "body_receive_buffer"} <= names, names


@pytest.mark.parametrize("name, o", NUMERIC, ids=[n for n, _ in NUMERIC])
def test_app_run_refuses_a_negative_number_by_name(name: str, o: config.Option):
    # Every numeric option of the table is at least 0: -1 is out of range for each.
    with pytest.raises(ValueError, match=rf"^App\.run\(\): {name} must "):
        _app().run(**{"port": free_port(), "log_level": "warning", name: -1})


@pytest.mark.parametrize("name, o", NUMERIC, ids=[n for n, _ in NUMERIC])
def test_app_run_refuses_a_number_given_as_text_or_bool(name: str, o: config.Option):
    for wrong in ("10", True):
        with pytest.raises(TypeError, match=rf"^App\.run\(\): {name} must be (an integer|a number), not "):
            _app().run(**{"port": free_port(), "log_level": "warning", name: wrong})


@pytest.mark.parametrize("name, value, message", [
    ("port", 65536, "port must be 0..65535, not 65536"),
    ("max_body_size", 2**64, "max_body_size must be 0..18446744073709551615, not 18446744073709551616"),
    ("keep_alive_timeout", 2**32, "keep_alive_timeout must be 0..4294967295, not 4294967296"),
    ("backlog", 0, "backlog must be at least 1, not 0"),
    ("limit_connections", 1.5, "limit_connections must be an integer, not float 1.5"),
])
def test_app_run_refuses_what_the_servers_field_cannot_hold(name, value, message):
    # Before: pybind11's "Unable to cast Python instance of type <class 'int'> to C++ type
    # '?'", naming neither the option nor the range; a negative backlog was taken silently.
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        _app().run(**{"port": free_port(), "log_level": "warning", name: value})


@pytest.mark.parametrize("name, value, error, message", [
    ("server_header", "yes", TypeError, "server_header has the wrong type: str 'yes'"),
    ("headers", 5, TypeError, "headers has the wrong type: int 5"),
    ("io", 1, TypeError, "io has the wrong type: int 1"),
])
def test_a_value_the_native_layer_cannot_read_is_named(name, value, error, message):
    # Options the table gives no number rule reach the native server's reader, which names
    # the option whose value it cannot convert.
    with pytest.raises(error, match=re.escape(message)):
        _app().run(**{"port": free_port(), "log_level": "warning", name: value})


@pytest.mark.parametrize("args, message", [
    (["--max-body-size", "-1"], "argument --max-body-size: must be 0..18446744073709551615, not -1"),
    (["--port", "70000"], "argument --port: must be 0..65535, not 70000"),
    (["--timeout-keep-alive", "-5"], "argument --timeout-keep-alive/--keep-alive-timeout: must be 0..4294967295"),
])
def test_serve_refuses_a_number_out_of_the_fields_range(args, message):
    p = subprocess.run([sys.executable, "-m", "ringbolt", "serve", "basic:app", "--app-dir", str(APPS),
                        *args], capture_output=True, text=True, timeout=30, cwd=str(REPO))
    assert p.returncode == 2, p.stderr
    assert message in p.stderr, p.stderr
