"""The load generators the harness drives (wrk, ringbolt-load, h2load, oha): each one's
command line for a scenario, the parser of its output into one LoadResult, and one run
of it pinned to the load CPUs."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .processes import LIVE, stop_process
from .scenarios import Scenario
from .systems import ROOT

HERE = Path(__file__).resolve().parent  # the wrk scripts

@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    non_2xx: int = 0
    socket_errors: int = 0
    raw: str = ""


@dataclass
class LoadSpec:
    generator: str
    port: int
    scenario: Scenario
    duration: float
    connections: int
    threads: int
    pipeline: int
    tmp: Path


def cpu_count_of(cpus: str) -> int:
    n = 0
    for part in cpus.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            n += int(hi) - int(lo) + 1
        elif part.strip():
            n += 1
    return max(n, 1)


def body_file(spec: LoadSpec) -> Optional[Path]:
    if spec.scenario.body is None:
        return None
    path = spec.tmp / f"{spec.scenario.name}.body"
    path.write_bytes(spec.scenario.body)
    return path


def wrk_command(spec: LoadSpec) -> tuple[list[str], dict[str, str]]:
    url = f"http://127.0.0.1:{spec.port}{spec.scenario.path}"
    env = {}
    if spec.scenario.method != "GET":
        env["WRK_METHOD"] = spec.scenario.method
    bf = body_file(spec)
    if bf:
        env["WRK_BODY_FILE"] = str(bf)
        env["WRK_CONTENT_TYPE"] = spec.scenario.content_type
    cmd = ["wrk", "-t", str(min(spec.threads, spec.connections)), "-c", str(spec.connections),
           "-d", f"{spec.duration:g}s", "--timeout", "5s"]
    if spec.pipeline > 1:
        cmd += ["-s", str(HERE / "pipeline.lua"), url, "--", str(spec.pipeline)]
    else:
        cmd += ["-s", str(HERE / "report.lua"), url]
    return cmd, env


def parse_wrk(out: str) -> LoadResult:
    m = re.search(r"^HARNESS (.*)$", out, re.M)
    if not m:
        raise ValueError("no HARNESS line in wrk output (Lua done() hook did not run)")
    kv = {k: float(v) for k, v in (item.split("=") for item in m.group(1).split())}
    res = LoadResult(requests=int(kv["requests"]), seconds=kv["duration_us"] / 1e6, raw=out)
    res.rps = res.requests / res.seconds if res.seconds else 0.0
    res.p50_ms, res.p99_ms = kv["p50_us"] / 1000, kv["p99_us"] / 1000
    res.socket_errors = int(kv["connect"] + kv["read"] + kv["write"] + kv["timeout"])
    non = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    res.non_2xx = int(non.group(1)) if non else 0
    return res


def h2load_command(spec: LoadSpec) -> tuple[list[str], dict[str, str]]:
    url = f"http://127.0.0.1:{spec.port}{spec.scenario.path}"
    cmd = ["h2load", "--h1", "-c", str(spec.connections), "-t", str(min(spec.threads, spec.connections)),
           "-D", f"{max(1, round(spec.duration))}", "-m", str(spec.pipeline),
           "--log-file", str(spec.tmp / "h2load.log")]
    bf = body_file(spec)
    if bf:  # h2load turns a data file into a POST
        cmd += ["-d", str(bf), "-H", f"content-type: {spec.scenario.content_type}"]
    return cmd + [url], {}


def parse_h2load(out: str, log_path: Optional[Path] = None) -> LoadResult:
    res = LoadResult(raw=out)
    fin = re.search(r"finished in ([\d.]+)(ms|s), ([\d.]+) req/s", out)
    reqs = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                     r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if not (fin and reqs and codes):
        raise ValueError("could not parse h2load output")
    res.seconds = float(fin.group(1)) / (1000 if fin.group(2) == "ms" else 1)
    res.requests = int(reqs.group(3))
    res.rps = float(fin.group(3))
    res.non_2xx = int(codes.group(2)) + int(codes.group(3)) + int(codes.group(4))
    res.socket_errors = int(reqs.group(6)) + int(reqs.group(7))
    if log_path and log_path.exists():  # lines: start time (us), status, latency (us)
        lat = []
        with open(log_path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
        if lat:
            lat.sort()
            res.p50_ms = lat[int(0.50 * (len(lat) - 1))] / 1000
            res.p99_ms = lat[int(0.99 * (len(lat) - 1))] / 1000
    return res


def oha_command(spec: LoadSpec) -> tuple[list[str], dict[str, str]]:
    if spec.pipeline > 1:
        raise ValueError("oha cannot pipeline")
    url = f"http://127.0.0.1:{spec.port}{spec.scenario.path}"
    help_text = subprocess.run(["oha", "--help"], capture_output=True, text=True).stdout
    fmt = ["--output-format", "json"] if "--output-format" in help_text else ["--json"]
    cmd = ["oha", "--no-tui", *fmt, "-z", f"{spec.duration:g}s", "-c", str(spec.connections),
           "-m", spec.scenario.method]
    bf = body_file(spec)
    if bf:
        cmd += ["-D", str(bf), "-T", spec.scenario.content_type]
    return cmd + [url], {}


def parse_oha(out: str) -> LoadResult:
    data = json.loads(out[out.index("{"):])
    summary = data.get("summary", {})
    res = LoadResult(raw=out)
    codes = {int(k): v for k, v in (data.get("statusCodeDistribution") or {}).items()}
    res.requests = sum(codes.values())
    res.seconds = float(summary.get("total", 0.0))
    res.rps = float(summary.get("requestsPerSec", 0.0))
    pct = data.get("latencyPercentiles", {})
    if "p50" in pct and pct["p50"] is not None:
        res.p50_ms = pct["p50"] * 1000
    if "p99" in pct and pct["p99"] is not None:
        res.p99_ms = pct["p99"] * 1000
    res.non_2xx = sum(v for k, v in codes.items() if not 200 <= k < 300)
    res.socket_errors = sum((data.get("errorDistribution") or {}).values())
    return res


RINGBOLT_LOAD_DIR = ROOT / "tools" / "load"


def ringbolt_load_binary() -> Optional[str]:
    """$RINGBOLT_LOAD, else tools/load/ringbolt-load (built with make when missing),
    else ringbolt-load on PATH."""
    env = os.environ.get("RINGBOLT_LOAD")
    if env:
        return env
    local = RINGBOLT_LOAD_DIR / "ringbolt-load"
    if not local.exists() and RINGBOLT_LOAD_DIR.is_dir() and shutil.which("make"):
        subprocess.run(["make", "-C", str(RINGBOLT_LOAD_DIR)], capture_output=True)
    if local.exists():
        return str(local)
    return shutil.which("ringbolt-load")


def ringbolt_load_command(spec: LoadSpec) -> tuple[list[str], dict[str, str]]:
    url = f"http://127.0.0.1:{spec.port}{spec.scenario.path}"
    exe = ringbolt_load_binary() or "ringbolt-load"
    cmd = [exe, "--json", "-t", str(min(spec.threads, spec.connections)), "-c", str(spec.connections),
           "-d", f"{spec.duration:g}", "-p", str(spec.pipeline), "--timeout", "5000",
           "-m", spec.scenario.method]
    bf = body_file(spec)
    if bf:
        cmd += ["--body-file", str(bf), "-H", f"Content-Type: {spec.scenario.content_type}"]
    return cmd + [url], {}


def parse_ringbolt_load(out: str) -> LoadResult:
    """The --json object (see tools/load/README.md); latencies are in microseconds."""
    data = json.loads(out[out.index("{"):])
    res = LoadResult(raw=out)
    res.requests = int(data["requests"])
    res.seconds = float(data["duration_s"])
    res.rps = float(data["requests_per_s"])
    lat = data.get("latency_us") or {}
    if lat.get("count"):
        res.p50_ms, res.p99_ms = lat["p50"] / 1000, lat["p99"] / 1000
    # same meaning as wrk's "Non-2xx or 3xx responses" and socket errors
    res.non_2xx = int(data["non_2xx_3xx"])
    res.socket_errors = int(data["errors"]["total"])
    return res


def run_load(spec: LoadSpec, load_cpus: str) -> LoadResult:
    if spec.generator == "wrk":
        cmd, extra_env = wrk_command(spec)
    elif spec.generator == "ringbolt-load":
        cmd, extra_env = ringbolt_load_command(spec)
    elif spec.generator == "h2load":
        cmd, extra_env = h2load_command(spec)
    elif spec.generator == "oha":
        cmd, extra_env = oha_command(spec)
    else:
        raise ValueError(f"unknown generator {spec.generator}")
    env = {**os.environ, **extra_env}
    proc = subprocess.Popen(["taskset", "-c", load_cpus, *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=str(spec.tmp),
                            start_new_session=True)
    LIVE[proc.pid] = proc
    try:
        out, _ = proc.communicate(timeout=spec.duration + 60)
    finally:
        if proc.poll() is None:
            stop_process(proc)
        LIVE.pop(proc.pid, None)
    if proc.returncode != 0:
        raise RuntimeError(f"{spec.generator} exited {proc.returncode}: {out.strip()[-300:]}")
    if spec.generator == "wrk":
        return parse_wrk(out)
    if spec.generator == "h2load":
        return parse_h2load(out, spec.tmp / "h2load.log")
    if spec.generator == "ringbolt-load":
        return parse_ringbolt_load(out)
    return parse_oha(out)
