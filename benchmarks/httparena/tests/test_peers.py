"""HttpArena's other Python entries as peers: bjoern (WSGI on libev), bottle and Flask
(gunicorn, sync workers), each started from the checkout's frameworks/<entry> with its
Dockerfile's CMD in its own virtualenv, bound to 127.0.0.1 and the run's ports, with
one worker on the one CPU it is pinned to. And every Python entry of the checkout is
either one of the runner's systems or named, with the reason, as not measured.

Needs the HttpArena checkout (ARENA_DIR) and the peers' virtualenvs (`benchmarks/
httparena/run deps --systems bjoern,bottle,flask`); when one is missing the test fails
naming it, it never skips.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time

import pytest

from arena import procs
from arena.checkout import Checkout
from arena.cli import default_cache
from arena.systems import NOT_MEASURED, SYSTEMS, Context, venv_dir

pytestmark = pytest.mark.timeout(300)

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = ("bjoern", "bottle", "flask")
# The processes of one server at one CPU: bjoern's app.py forks WRK_COUNT - 1 = 0 more;
# bottle's and Flask's launcher.py starts gunicorn twice (plain and TLS), each a master
# and one sync worker.
PROCESSES = {"bjoern": 1, "bottle": 5, "flask": 5}


def _checkout() -> Checkout:
    arena = os.environ.get("ARENA_DIR")
    if not arena or not os.path.isfile(os.path.join(arena, "scripts", "validate.sh")):
        pytest.fail("ARENA_DIR must name an HttpArena checkout (`make arena-smoke` clones one, or "
                    "`benchmarks/httparena/run deps --arena-dir DIR`)")
    return Checkout(arena)


def _ctx(checkout: Checkout, cpu: str) -> Context:
    ctx = Context(checkout, os.environ.get("ARENA_CACHE") or default_cache(), sys.executable, cpu, {})
    for name in PEERS:
        if not os.path.exists(os.path.join(venv_dir(ctx, name), ".arena-ok")):
            pytest.fail(f"no virtualenv for {name} in {ctx.cache}: run `benchmarks/httparena/run deps "
                        f"--systems {','.join(PEERS)}`")
    return ctx


def _listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (/proc/net/tcp, tcp6)."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, _, hexport = local.rpartition(":")
                if state == "0A" and int(hexport, 16) == port:
                    out.add(addr)
    return out


def _get(port: int, path: str, tls: bool = False) -> tuple[int, dict[str, str], bytes]:
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _wait(port: int, proc: procs.Proc, tls: bool = False) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.alive(), f"{proc.name} exited while starting: {proc.log_tail()}"
        try:
            _get(port, "/baseline11?a=1&b=1", tls)
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{proc.name} did not answer on {port} within 60 s: {proc.log_tail()}")


def _refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_every_python_entry_is_a_system_or_named_as_not_measured() -> None:
    checkout = _checkout()
    python_entries = set()
    for entry in os.listdir(checkout.file("frameworks")):
        meta = checkout.file("frameworks", entry, "meta.json")
        if os.path.isfile(meta) and json.load(open(meta)).get("language") == "Python":
            python_entries.add(entry)
    assert {"bjoern", "bottle", "flask", "pyronova", "slimeweb"} <= python_entries
    run_here = {s.entry for s in SYSTEMS.values() if s.kind == "peer"}
    assert python_entries - run_here == set(NOT_MEASURED), (python_entries - run_here, set(NOT_MEASURED))
    # `run list` says so too
    out = subprocess.run([sys.executable, os.path.join(HERE, "run"), "list", "--arena-dir", checkout.path,
                          "--systems", ",".join(PEERS)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for entry in NOT_MEASURED:
        assert f"not measured: HttpArena's {entry} entry: " in out.stdout
    baseline = next(line for line in out.stdout.splitlines() if line.startswith("baseline "))
    assert baseline.split()[-3:] == list(PEERS), baseline


@pytest.mark.parametrize("name", PEERS)
def test_peer_starts_on_loopback_with_one_worker(name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The entry's own code, launched as the runner launches it: it answers on the run's
    ports (TLS too for the gunicorn ones: json-tls), only on 127.0.0.1, with the worker
    count of one CPU; stopped by pid, nothing of it is left."""
    checkout = _checkout()
    cpu = str(sorted(os.sched_getaffinity(0))[0])
    ctx = _ctx(checkout, cpu)
    ports = dict(zip(("plain", "tls_h1", "tls_h2", "h2c"), procs.free_ports(4, consecutive=2)))
    launch = SYSTEMS[name].launch(ctx, ports, str(tmp_path))
    subs = [s for s in launch.substitutions if "0.0.0.0" in s]
    assert subs and all("127.0.0.1" in s for s in subs), launch.substitutions
    assert any(f"-> {str(ports['plain'])!r}" in s or f":{ports['plain']}" in s or f"= {ports['plain']}" in s
               for s in launch.substitutions), launch.substitutions
    proc = procs.start(name, launch.argv, cwd=launch.cwd, env=launch.env, cpus=cpu,
                       log_path=str(tmp_path / "server.log"))
    try:
        _wait(ports["plain"], proc)
        status, headers, body = _get(ports["plain"], "/baseline11?a=13&b=29")
        assert (status, body) == (200, b"42")
        status, headers, body = _get(ports["plain"], "/json/3?m=2")
        assert status == 200 and headers["content-type"].startswith("application/json")
        doc = json.loads(body)
        assert doc["count"] == 3 and doc["items"][0]["total"] == pytest.approx(
            doc["items"][0]["price"] * doc["items"][0]["quantity"] * 2)
        with_tls = "json-tls" in SYSTEMS[name].tests(ctx)
        if with_tls:
            _wait(ports["tls_h1"], proc, tls=True)
            status, _, body = _get(ports["tls_h1"], "/baseline11?a=1&b=2", tls=True)
            assert (status, body) == (200, b"3")
        for port in (ports["plain"], ports["tls_h1"]) if with_tls else (ports["plain"],):
            assert _listening_addresses(port) == {"0100007F"}, f"{name} listens beyond 127.0.0.1 on {port}"
        tree = procs.tree(proc.pid)
        # taskset execs the server in place: the tree is the server's own processes
        assert len(tree) == PROCESSES[name], [open(f"/proc/{p}/cmdline").read() for p in tree]
        for p in tree:
            assert os.sched_getaffinity(p) == {int(cpu)}, p
    finally:
        pids = procs.tree(proc.pid)
        proc.stop()
    assert not proc.alive()
    assert not [p for p in pids if os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().split()[2] != "Z"]
    assert _refused(ports["plain"]) and _refused(ports["tls_h1"])


def test_bench_validates_and_measures_the_peers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`run bench` for 2 s of baseline: bjoern and bottle pass HttpArena's validation and
    are measured; Flask's entry answers /baseline11 as text/html, which validate.sh
    rejects, so it is left out of the measurement (and named) unless --measure-invalid."""
    checkout = _checkout()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, load_cpu = str(cpus[0]), str(cpus[1] if len(cpus) > 1 else cpus[0])
    _ctx(checkout, server_cpu)
    out = tmp_path / "peers.json"
    cmd = [sys.executable, os.path.join(HERE, "run"), "bench", "--arena-dir", checkout.path,
           "--systems", ",".join(PEERS), "--profiles", "baseline", "--rounds", "1", "--duration", "2",
           "--warmup", "1", "--connections", "16", "--server-cpus", server_cpu, "--load-cpus", load_cpu,
           "--out", str(out)]
    if os.environ.get("ARENA_CACHE"):
        cmd += ["--cache", os.environ["ARENA_CACHE"]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=280, stdin=subprocess.DEVNULL)
    data = json.loads(out.read_text())
    rows = {r["system"]: r for r in data["runs"]}
    for name in ("bjoern", "bottle"):
        v = data["validation"][name]["baseline"]
        assert v["ok"] and v["failed"] == 0 and v["passed"] >= 10, v
        row = rows[name]
        assert row["error"] is None, row
        assert row["ok"] > 0 and row["rps"] > 0 and row["non_2xx"] == 0, row
        assert row["cpu_us_per_req"] > 0, row
        assert all(_refused(p) for p in row["ports"].values()), f"{name}: a server port still answers"
    v = data["validation"]["flask"]["baseline"]
    assert not v["ok"] and any("Content-Type" in f and "text/html" in f for f in v["failures"]), v
    assert rows["flask"]["error"] == "failed HttpArena's validation", rows["flask"]
    assert proc.returncode == 1  # a row with an error: the runner says so in its exit status
    assert any(n.startswith("HttpArena's pyronova entry serves baseline but is not measured") for n in data["notes"])
    assert any(n.startswith("HttpArena's slimeweb entry serves baseline but is not measured") for n in data["notes"])
    assert {k: data["versions"][k]["python"][:4] for k in PEERS} == {"bjoern": "3.9.", "bottle": "3.13",
                                                                     "flask": "3.13"}
