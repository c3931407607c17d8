"""Running a profile's load generator and reading its results.

The command line is HttpArena's (Checkout.tool_args); the runner changes only what a
one-machine run must: the thread count (-t: one load CPU), the duration (-d/-D; the
database profiles hard-code 10 s and 15 s there), `localhost` for 127.0.0.1 (the servers
listen on IPv4 loopback), and it asks each tool for what it would otherwise not print:
gcannon `--json`, wrk `--latency` (for p99), h2load `--log-file` (per-request latency,
for p99). Requests per second are counted as HttpArena's parsers count them: 2xx
responses (received WebSocket frames for echo-ws) divided by the measured time.

The HTTP/3 profiles name h2load built with ngtcp2 (h2load-h3); Debian's h2load has no
HTTP/3, so the runner gives the same request mix to the project's ringbolt-h3-load
(tools/load: ngtcp2 + nghttp3, closed loop) with its options for h2load's: -c
connections, -m streams in flight per connection (its -p), -t, -D (its -d), -H, -i (a URI
list each connection takes in turn, as h2load does), and --timeout 45000 (h2load has no
request timeout; the tool's default is 2 s). It is a different client from
HttpArena's: its own costs and pacing, not h2load's (the README says how).
"""

from __future__ import annotations

import json
import os
import resource
import re
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    tool: str
    ok: int  # 2xx responses (frames for echo-ws)
    seconds: float
    p99_ms: float | None
    non_2xx: int = 0
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # the load generator's own resource use over the run (its process and threads): CPU
    # seconds and voluntary context switches (each one a sleep: it had nothing to do)
    load_user_s: float | None = None
    load_sys_s: float | None = None
    load_sleeps: int | None = None

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rps"] = self.rps
        return d


def adjust(argv: list[str], tool: str, *, duration: int, threads: int = 1) -> list[str]:
    """HttpArena's argv with the thread count, the duration (whole seconds: wrk and h2load
    take no fractions) and the host changed."""
    out = list(argv)
    dur = f"{int(duration)}s"
    for i, a in enumerate(out[:-1]):
        if a == "-t":
            out[i + 1] = str(threads)
        elif a in ("-d", "-D") and not (tool == "h2load" and a == "-d"):  # h2load -d is a data file
            out[i + 1] = dur
    out = [a.replace("//localhost:", "//127.0.0.1:") for a in out]
    if tool == "h2load-h3":
        return h3_equivalent(out)
    if tool == "gcannon":
        out.append("--json")
    elif tool == "wrk":
        out.insert(1, "--latency")
    return out


# ringbolt-h3-load cancels a request unanswered after --timeout (2 s by default) and
# bounds each handshake by it; h2load has no request timeout (HttpArena's h2load_h3_run
# only stops the whole run after 45 s), and with 4,096 streams in flight an answer can
# take more than 2 s on a busy machine: wait as long as that run could last.
H3_TIMEOUT_MS = 45_000


def h3_equivalent(argv: list[str]) -> list[str]:
    """h2load-h3's argv (HttpArena's h2load_h3_build_args, whose binary is already
    ringbolt-h3-load) as ringbolt-h3-load's, with --json. Without a URL (-i), the list's
    first URI gives the host and port, as h2load takes them. An option with no
    equivalent is an error, not dropped."""
    out = [argv[0], "--json", "--timeout", str(H3_TIMEOUT_MS)]
    url = None
    uri_file = None
    i = 1
    same = {"-c": "-c", "-t": "-t", "-m": "-p", "-D": "-d", "-H": "-H", "-i": "-i"}
    while i < len(argv):
        a = argv[i]
        if a.startswith("--alpn-list="):
            if a != "--alpn-list=h3":
                raise ValueError(f"h2load-h3: ALPN {a} (ringbolt-h3-load speaks h3 only)")
            i += 1
        elif a in same and i + 1 < len(argv):
            out += [same[a], argv[i + 1]]
            if a == "-i":
                uri_file = argv[i + 1]
            i += 2
        elif a.startswith("-"):
            raise ValueError(f"h2load-h3 option {a} has no ringbolt-h3-load equivalent (arena/loadgen.py)")
        else:
            url = a
            i += 1
    if url is None:
        if uri_file is None:
            raise ValueError(f"h2load-h3 without a URL or -i: {' '.join(argv)}")
        with open(uri_file, encoding="utf-8") as f:
            url = next((line.strip() for line in f if line.strip()), None)
        if url is None:
            raise ValueError(f"{uri_file} holds no URI")
    return [*out, url]


def run(argv: list[str], tool: str, *, cpus: str | None, log_dir: str, label: str, timeout: float) -> Result:
    """Run the tool (pinned to ``cpus``) and parse its output; the raw output is kept in
    ``log_dir``."""
    cmd = list(argv)
    latency_log = None
    if tool == "h2load":
        latency_log = os.path.join(log_dir, f"{label}.h2load-latency.tsv")
        cmd.insert(1, f"--log-file={latency_log}")
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    # The tool is the only child reaped during the run (taskset execs it): what the
    # children's usage grows by is the tool's.
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        text = out.stdout + out.stderr
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{tool} did not finish within {timeout:.0f} s") from exc
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.path.join(log_dir, f"{label}.{tool}.txt"), "w") as f:
        f.write(" ".join(cmd) + "\n\n" + text)
    result = _parse(tool, text, out.stdout, latency_log)
    result.load_user_s = usage1.ru_utime - usage0.ru_utime
    result.load_sys_s = usage1.ru_stime - usage0.ru_stime
    result.load_sleeps = usage1.ru_nvcsw - usage0.ru_nvcsw
    return result


def _parse(tool: str, text: str, stdout: str, latency_log: str | None) -> Result:
    if tool == "gcannon":
        return parse_gcannon(text)
    if tool == "wrk":
        return parse_wrk(text)
    if tool == "h2load-h3":
        return parse_h3load(stdout, text)
    if tool == "h2load":
        result = parse_h2load(text)
        if latency_log and os.path.exists(latency_log):
            result.p99_ms = h2load_p99_ms(latency_log)
            os.unlink(latency_log)  # large; the percentile is what is kept
        return result
    raise ValueError(f"unknown load generator {tool}")


def parse_gcannon(text: str) -> Result:
    """gcannon --json: {"elapsed_sec", "status": {"2xx"...}, "latency_us": {"p99"}, ...};
    in --ws mode ("mode": "websocket") the echoed frames count (gcannon_parse's ws-echo rule)."""
    start = text.find("{")
    if start < 0:
        raise ValueError(f"gcannon printed no JSON: {text.strip()[-300:]}")
    data = json.loads(text[start:text.rfind("}") + 1])
    status = data.get("status", {})
    if data.get("mode") == "websocket":
        ok = int(data.get("ws_frames", data.get("responses", 0)))
    else:
        ok = int(status.get("2xx", 0))
    non_2xx = sum(int(status.get(k, 0)) for k in ("3xx", "4xx", "5xx", "other"))
    errors = sum(int(v) for v in data.get("errors", {}).values())
    p99 = data.get("latency_us", {}).get("p99")
    return Result("gcannon", ok, float(data.get("elapsed_sec") or data.get("duration_sec") or 0),
                  p99 / 1000 if p99 is not None else None, non_2xx, errors,
                  {"reconnects": data.get("reconnects", 0), "responses": data.get("responses"),
                   "per_template": data.get("per_template")})


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        raise ValueError(f"not a wrk duration: {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(text: str) -> Result:
    """wrk --latency: "N requests in 5.00s", "Non-2xx or 3xx responses: K", the 99%
    line of the latency distribution, "Socket errors: connect a, read b, write c, timeout d"."""
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", text)
    if not m:
        raise ValueError(f"wrk printed no request count: {text.strip()[-300:]}")
    total = int(m.group(1))
    seconds = _ms(m.group(2) + m.group(3)) / 1000
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    non_2xx = int(bad.group(1)) if bad else 0
    p99 = re.search(r"^\s*99%\s+(\S+)", text, re.M)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = sum(int(x) for x in errs.groups()) if errs else 0
    return Result("wrk", total - non_2xx, seconds, _ms(p99.group(1)) if p99 else None, non_2xx, errors)


def parse_h2load(text: str) -> Result:
    """h2load: "finished in 5.00s, ...", "status codes: a 2xx, b 3xx, c 4xx, d 5xx",
    "requests: ... e failed, f errored, g timeout"."""
    m = re.search(r"finished in ([\d.]+)(ms|s|m),", text)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if not m or not codes:
        raise ValueError(f"h2load printed no summary: {text.strip()[-300:]}")
    req = re.search(r"requests: .*?(\d+) failed, (\d+) errored, (\d+) timeout", text)
    errors = sum(int(x) for x in req.groups()) if req else 0
    ok, c3, c4, c5 = (int(x) for x in codes.groups())
    return Result("h2load", ok, _ms(m.group(1) + m.group(2)) / 1000, None, c3 + c4 + c5, errors)


def parse_h3load(stdout: str, text: str = "") -> Result:
    """ringbolt-h3-load --json: {"duration_s", "status": {"200": n...}, "errors": {"total"},
    "latency_us": {"count", "p99"}, "reconnects", "unfinished", "first_error"}; 2xx count
    as ok."""
    start = stdout.find("{")
    if start < 0:
        raise ValueError(f"ringbolt-h3-load printed no JSON: {(text or stdout).strip()[-300:]}")
    data = json.loads(stdout[start:stdout.rfind("}") + 1])
    status = {int(k): int(v) for k, v in data.get("status", {}).items()}
    ok = sum(n for code, n in status.items() if 200 <= code < 300)
    lat = data.get("latency_us", {})
    p99 = lat.get("p99") if lat.get("count") else None
    return Result("ringbolt-h3-load", ok, float(data["duration_s"]), p99 / 1000 if p99 is not None else None,
                  sum(status.values()) - ok, int(data.get("errors", {}).get("total", 0)),
                  {"reconnects": data.get("reconnects", 0), "unfinished": data.get("unfinished", 0),
                   "first_error": data.get("first_error")})


def h2load_p99_ms(path: str) -> float | None:
    """The 99th percentile of h2load's per-request log (third column: microseconds)."""
    lat = []
    with open(path) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 3:
                try:
                    lat.append(int(parts[2]))
                except ValueError:
                    pass
    if not lat:
        return None
    lat.sort()
    return lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1000
