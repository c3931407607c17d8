"""The runner's readers: HttpArena's profile specs, the load generators' outputs, the
changes made to their command lines, validate.sh's verdict and the medians."""

from __future__ import annotations

import pytest

from arena import checkout, loadgen, report, systems, validate

GCANNON_HTTP = """{
  "version": "0.5.3", "mode": "http", "elapsed_sec": 2.004, "duration_sec": 2,
  "requests": 1000, "responses": 1000,
  "latency_us": {"avg": 900, "p50": 800, "p90": 1500, "p99": 4200, "p999": 9000, "samples": 1000},
  "status": {"2xx": 990, "3xx": 0, "4xx": 7, "5xx": 3, "other": 0},
  "errors": {"connect": 1, "read": 2, "timeout": 0},
  "reconnects": 40
}"""
GCANNON_WS = """  Target: 127.0.0.1/ws
{ "mode": "websocket", "elapsed_sec": 1.000, "requests": 500, "responses": 500, "ws_frames": 500,
  "latency_us": {"p99": 16900}, "status": {"2xx": 500, "3xx": 0, "4xx": 0, "5xx": 0, "other": 0},
  "errors": {"connect": 0, "read": 0, "timeout": 0}, "reconnects": 0 }"""
WRK = """Running 2s test @ http://127.0.0.1:1
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms  500.00us  10.00ms   80.00%
  Latency Distribution
     50%  900.00us
     75%    1.50ms
     90%    2.00ms
     99%    4.25ms
  120000 requests in 2.00s, 55.53MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 20
Requests/sec:  60000.00
"""
H2LOAD = """finished in 2.00s, 50000.00 req/s, 1.20MB/s
requests: 100000 total, 100100 started, 100000 done, 99990 succeeded, 10 failed, 2 errored, 1 timeout
status codes: 99990 2xx, 0 3xx, 10 4xx, 0 5xx
"""


@pytest.mark.parametrize("text, ok, seconds, p99, non_2xx, errors", [
    (GCANNON_HTTP, 990, 2.004, 4.2, 10, 3),
    (GCANNON_WS, 500, 1.0, 16.9, 0, 0),
])
def test_gcannon(text: str, ok: int, seconds: float, p99: float, non_2xx: int, errors: int) -> None:
    r = loadgen.parse_gcannon(text)
    assert (r.ok, r.seconds, r.p99_ms, r.non_2xx, r.errors) == (ok, seconds, p99, non_2xx, errors)
    assert r.rps == pytest.approx(ok / seconds)


@pytest.mark.parametrize("parse, text", [
    (loadgen.parse_gcannon, "gcannon: connect failed"),
    (loadgen.parse_wrk, "unable to connect to 127.0.0.1:1 Connection refused"),
    (loadgen.parse_h2load, "No protocol negotiated. Aborted"),
])
def test_output_without_results_is_an_error(parse, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        parse(text)


def test_wrk() -> None:
    r = loadgen.parse_wrk(WRK)
    assert (r.ok, r.seconds, r.p99_ms, r.non_2xx, r.errors) == (119980, 2.0, 4.25, 20, 4)


@pytest.mark.parametrize("value, ms", [("900.00us", 0.9), ("4.25ms", 4.25), ("1.50s", 1500.0), ("2.00m", 120000.0)])
def test_wrk_units(value: str, ms: float) -> None:
    assert loadgen._ms(value) == pytest.approx(ms)


def test_h2load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = loadgen.parse_h2load(H2LOAD)
    assert (r.ok, r.seconds, r.non_2xx, r.errors) == (99990, 2.0, 10, 13)
    log = tmp_path / "lat.tsv"
    log.write_text("".join(f"{1000 + i}\t200\t{(i + 1) * 10}\n" for i in range(200)))
    assert loadgen.h2load_p99_ms(str(log)) == pytest.approx(1.99)  # the 198th of 200 sorted: 1990 µs


@pytest.mark.parametrize("tool, argv, want", [
    ("gcannon", ["gc", "http://localhost:8080", "--raw", "a.raw", "-c", "64", "-t", "64", "-d", "15s", "-r", "5"],
     ["gc", "http://127.0.0.1:8080", "--raw", "a.raw", "-c", "64", "-t", "1", "-d", "3s", "-r", "5", "--json"]),
    ("wrk", ["wrk", "-t", "64", "-c", "64", "-d", "5s", "-s", "x.lua", "https://localhost:8081"],
     ["wrk", "--latency", "-t", "1", "-c", "64", "-d", "3s", "-s", "x.lua", "https://127.0.0.1:8081"]),
    # h2load's -d is a request body file (production-stack), not a duration
    ("h2load", ["h2load", "-i", "u.txt", "-d", "body.json", "-c", "64", "-m", "32", "-t", "64", "-D", "5s"],
     ["h2load", "-i", "u.txt", "-d", "body.json", "-c", "64", "-m", "32", "-t", "1", "-D", "3s"]),
])
def test_adjust(tool: str, argv: list[str], want: list[str]) -> None:
    assert loadgen.adjust(argv, tool, duration=3) == want


# HttpArena's h2load-h3 command lines (h2load_h3_build_args) as ringbolt-h3-load's
@pytest.mark.parametrize("argv, want", [
    (["h3l", "--alpn-list=h3", "https://localhost:8443/baseline2?a=1&b=1", "-c", "64", "-m", "64", "-t", "64", "-D",
      "5s"],
     ["h3l", "--json", "--timeout", "45000", "-c", "64", "-p", "64", "-t", "1", "-d", "3s", "https://127.0.0.1:8443/baseline2?a=1&b=1"]),
    # -i without a URL: the list's first URI gives host and port, as h2load takes them
    (["h3l", "--alpn-list=h3", "-i", "{uris}", "-H", "Accept-Encoding: br;q=1, gzip;q=0.8", "-c", "64", "-m", "64",
      "-t", "64", "-D", "5s"],
     ["h3l", "--json", "--timeout", "45000", "-i", "{uris}", "-H", "Accept-Encoding: br;q=1, gzip;q=0.8", "-c", "64", "-p", "64", "-t", "1",
      "-d", "3s", "https://127.0.0.1:9443/static/reset.css"]),
])
def test_adjust_h3(tmp_path, argv: list[str], want: list[str]) -> None:  # type: ignore[no-untyped-def]
    uris = tmp_path / "uris.txt"
    uris.write_text("\nhttps://127.0.0.1:9443/static/reset.css\nhttps://127.0.0.1:9443/static/app.js\n")
    fill = [a.replace("{uris}", str(uris)) for a in argv]
    assert loadgen.adjust(fill, "h2load-h3", duration=3) == [a.replace("{uris}", str(uris)) for a in want]


@pytest.mark.parametrize("argv, message", [
    (["h3l", "--alpn-list=h2", "https://x:1/"], "ALPN"),
    (["h3l", "--alpn-list=h3", "--npn-list=h3", "https://x:1/"], "no ringbolt-h3-load equivalent"),
    (["h3l", "--alpn-list=h3", "-c", "1"], "without a URL"),
])
def test_adjust_h3_refuses_what_it_cannot_map(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        loadgen.adjust(argv, "h2load-h3", duration=3)


H3LOAD = (
    '{"url":"https://127.0.0.1:1/","threads":1,"connections":64,"pipeline":64,"duration_s":2.000000,'
    '"requests":7803,"errors":{"connect":0,"read":2,"write":0,"timeout":1,"parse":0,"total":3},"reconnects":1,'
    '"unfinished":4080,"non_2xx_3xx":5,"status":{"200":7700,"204":98,"404":5},'
    '"latency_us":{"count":7803,"p50":397311,"p99":1702064,"max":1702064},"histogram_us":[[1,2,3]]}\n')


def test_h3load() -> None:
    r = loadgen.parse_h3load(H3LOAD)
    assert (r.tool, r.ok, r.seconds, r.p99_ms, r.non_2xx, r.errors) == ("ringbolt-h3-load", 7798, 2.0, 1702.064, 5, 3)
    assert r.extra == {"reconnects": 1, "unfinished": 4080, "first_error": None}
    assert r.rps == pytest.approx(3899)
    none = loadgen.parse_h3load(H3LOAD.replace('"count":7803', '"count":0'))
    assert none.p99_ms is None  # no latency sample: no p99, not 0
    with pytest.raises(ValueError, match="printed no JSON"):
        loadgen.parse_h3load("", "ringbolt-h3-load: cannot open an HTTP/3 connection")


def test_h3_validation_merges_the_twin_and_the_h3_checks() -> None:
    twin = validate.parse_output("  PASS [a]\n  PASS [b]\n=== Results: 2 passed, 0 failed ===\n")
    h3 = validate.parse_output("  PASS [c]\n  FAIL [d]: no answer\n=== Results: 1 passed, 1 failed ===\n")
    both = validate.merge(twin, h3)
    assert (both.ok, both.passed, both.failed, both.failures) == (False, 3, 1, ["FAIL [d]: no answer"])
    assert validate.merge(twin, validate.parse_output("=== Results: 1 passed, 0 failed ===\n")).ok
    assert validate.H3_TWINS == {"baseline-h3": "baseline-h2", "static-h3": "static-h2"}


@pytest.mark.parametrize("name, spec, want", [
    ("baseline", "1|0|0-31,64-95|512,4096|", checkout.Profile("baseline", 1, 0, "0-31,64-95", (512, 4096), "")),
    ("pipelined", "16|0|0-3|512|pipeline", checkout.Profile("pipelined", 16, 0, "0-3", (512,), "pipeline")),
])
def test_profile_spec(name: str, spec: str, want: checkout.Profile) -> None:
    assert checkout.parse_profile_spec(name, spec) == want


def test_profile_spec_refuses_a_bad_line() -> None:
    with pytest.raises(ValueError, match="4 '\\|'"):
        checkout.parse_profile_spec("x", "1|0|0|512")


@pytest.mark.parametrize("endpoint, tool", [
    ("", "gcannon"), ("ws-echo", "gcannon"), ("crud", "gcannon"), ("static", "wrk"), ("json-tls", "wrk"),
    ("h2", "h2load"), ("json-h2c", "h2load"), ("static-h3", "h2load-h3"), ("grpc-stream", "ghz"),
])
def test_endpoint_tool(endpoint: str, tool: str) -> None:
    assert checkout.endpoint_tool(endpoint) == tool


@pytest.mark.parametrize("output, ok, passed, failed, failures", [
    ("  PASS [a]\n  FAIL [b]: expected body '55', got ''\n\n=== Results: 1 passed, 1 failed ===\n",
     False, 1, 1, ["FAIL [b]: expected body '55', got ''"]),
    ("  PASS [a]\n  PASS [b]\n=== Results: 2 passed, 0 failed ===\n", True, 2, 0, []),
    # validate.sh killed before its summary: a failure, never a pass
    ("  PASS [a]\n", False, 0, 1, ["validate.sh ended without its Results line: PASS [a]"]),
    ("=== Results: 0 passed, 0 failed ===\n", False, 0, 0, []),  # nothing checked is no pass
])
def test_validate_verdict(output: str, ok: bool, passed: int, failed: int, failures: list[str]) -> None:
    v = validate.parse_output(output)
    assert (v.ok, v.passed, v.failed, v.failures) == (ok, passed, failed, failures)


def test_validate_script_patch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = ('#!/bin/bash\nFRAMEWORK="$1"\nPORT=8080\nH2PORT=8443\nH1TLS_PORT=8081\nH2C_PORT=8082\n'
              'SCRIPT_DIR="$(cd "$(dirname "$0")" && pwd)"\nROOT_DIR="$SCRIPT_DIR/.."\n'
              'META_FILE="$ROOT_DIR/frameworks/$FRAMEWORK/meta.json"\ncurl http://localhost:$PORT/\n')
    (tmp_path / "scripts" / "lib").mkdir(parents=True)
    (tmp_path / "scripts" / "lib" / "profiles.sh").write_text("")
    (tmp_path / "scripts" / "validate.sh").write_text(script)
    out = validate.patched_script(checkout.Checkout(str(tmp_path)),
                                  {"plain": 1, "tls_h2": 2, "tls_h1": 3, "h2c": 4}, "/m/meta.json")
    assert "PORT=1\nH2PORT=2\nH1TLS_PORT=3\nH2C_PORT=4\n" in out
    assert f"SCRIPT_DIR={tmp_path}/scripts\n" in out and "META_FILE=/m/meta.json\n" in out
    assert "curl http://localhost:$PORT/" in out  # the checks themselves are untouched
    (tmp_path / "scripts" / "validate.sh").write_text(script.replace("H2C_PORT=8082\n", ""))
    with pytest.raises(RuntimeError, match="H2C_PORT"):
        validate.patched_script(checkout.Checkout(str(tmp_path)), {"plain": 1, "tls_h2": 2, "tls_h1": 3, "h2c": 4},
                                "/m")


def test_summary_takes_medians_of_good_rounds() -> None:
    runs = [{"profile": "json", "connections": 64, "system": "a", "rps": v, "p99_ms": 1.0, "cpu_us_per_req": c,
             "cpu_busy": 1.0, "error": None, "non_2xx": 0, "errors": 0} for v, c in ((100, 9), (300, 7), (200, 8))]
    runs.append({"profile": "json", "connections": 64, "system": "a", "error": "server died"})
    (row,) = report.summarize(runs)
    assert (row["rps"], row["cpu_us_per_req"], row["rounds_ok"], row["rounds"]) == (200, 8, 3, 4)


@pytest.mark.parametrize("spec, cpus", [("0", [0]), ("0,2", [0, 2]), ("1-3", [1, 2, 3]), ("0,4-5", [0, 4, 5])])
def test_cpu_list(spec: str, cpus: list[int]) -> None:
    assert systems.cpu_list(spec) == cpus


def test_a_load_generators_own_cpu_and_sleeps_are_counted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A real process stands for the tool: it burns 0.3 s of CPU, sleeps 20 times, then
    prints wrk's report. run() keeps what the process used: its CPU and its sleeps."""
    import sys
    tool = tmp_path / "tool.py"
    tool.write_text("import sys, time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
                    "for _ in range(20): time.sleep(0.005)\n"
                    f"sys.stdout.write({WRK!r})\n")
    r = loadgen.run([sys.executable, str(tool)], "wrk", cpus=None, log_dir=str(tmp_path), label="t", timeout=60)
    assert r.ok == 119980
    assert r.load_user_s is not None and r.load_sys_s is not None and r.load_sleeps is not None
    assert 0.25 <= r.load_user_s + r.load_sys_s <= 3.0, (r.load_user_s, r.load_sys_s)
    assert 20 <= r.load_sleeps <= 2000, r.load_sleeps


def test_cpu_figures_split_the_server_and_read_the_load_generator() -> None:
    from arena import bench, procs
    r = loadgen.Result("gcannon", ok=100_000, seconds=2.0, p99_ms=1.0, load_user_s=1.2, load_sys_s=0.4,
                       load_sleeps=2_500)
    f = bench.cpu_figures(user_ticks=procs.TICKS * 1, sys_ticks=procs.TICKS * 3, seconds=4.0, result=r)
    assert f["cpu_seconds"] == pytest.approx(4.0) and f["cpu_busy"] == pytest.approx(1.0)
    assert (f["cpu_us_per_req"], f["cpu_user_us_per_req"], f["cpu_sys_us_per_req"]) == \
        (pytest.approx(40.0), pytest.approx(10.0), pytest.approx(30.0))
    assert f["load_busy"] == pytest.approx(0.4) and f["load_sleeps_per_1k"] == pytest.approx(25.0)
    none = bench.cpu_figures(0, 0, 4.0, loadgen.Result("gcannon", ok=0, seconds=2.0, p99_ms=None))
    assert none["cpu_us_per_req"] is None and none["load_sleeps_per_1k"] is None and none["load_busy"] is None
