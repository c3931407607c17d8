"""A/B of two ringbolt builds on the same app: interleaved rounds (old, new, old, new...),
server pinned to CPU 0, wrk to CPU 1, req/s and server CPU µs per request (/proc).
OLD_PYTHON is an interpreter with the other build installed, e.g.
    git worktree add /tmp/wt-old REV && python3 -m venv --system-site-packages /tmp/venv-old
    /tmp/venv-old/bin/pip install --no-build-isolation /tmp/wt-old
    OLD_PYTHON=/tmp/venv-old/bin/python python3 benchmarks/load/ab_ringbolt.py
"""
import os, re, signal, socket, statistics, subprocess, time
PY = {"old": os.environ.get("OLD_PYTHON", "/tmp/venv-old/bin/python"), "new": "python3"}
APP = "benchmarks.load.apps.ringbolt_app:app"
tck = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tck
res = {"old": [], "new": []}
for rnd in range(3):
    for v in ("old", "new"):
        port = 8850 + rnd * 2 + (v == "new")
        srv = subprocess.Popen(["taskset", "-c", "0", PY[v], "-m", "ringbolt", "serve", APP, "--port", str(port),
                                "--threads", "1", "--log-level", "warning"], cwd=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
        for _ in range(100):
            try: socket.create_connection(("127.0.0.1", port), 0.2).close(); break
            except OSError: time.sleep(0.1)
        subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", "-d2s", f"http://127.0.0.1:{port}/json"], capture_output=True)
        c0 = cpu(srv.pid)
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", "-d6s", f"http://127.0.0.1:{port}/json"], capture_output=True, text=True).stdout
        c1 = cpu(srv.pid)
        total = int(re.search(r"(\d+) requests in", out).group(1)); rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        res[v].append((rps, (c1 - c0) * 1e6 / total))
        srv.send_signal(signal.SIGTERM); srv.wait(15)
        print(v, rnd, f"{rps:,.0f} req/s", f"{(c1-c0)*1e6/total:.2f} CPU µs/req", flush=True)
for v in ("old", "new"):
    print(v, "median", f"{statistics.median(r[0] for r in res[v]):,.0f} req/s", f"{statistics.median(r[1] for r in res[v]):.2f} CPU µs/req")
