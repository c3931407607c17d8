#!/usr/bin/env bash
# setup_peers.sh - prepare the peer servers for pymod/ringbolt_bench/harness.py.
#
# Idempotent. Creates benchmarks/load/.venv-peers (gitignored) with the Python peers,
# installs nginx from Debian if missing, and builds the C io_uring ceiling server into
# benchmarks/load/.bin/. A peer that fails to install is reported and skipped; the
# harness later reports it as "unavailable: <reason>".
set -u
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-peers"
bin="$here/.bin"
python="${PYTHON:-python3}"
failed=()

say() { printf '\n== %s\n' "$*"; }

say "virtualenv $venv"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" || { echo "cannot create venv"; exit 1; }
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true

# One pip call per peer so that one broken peer does not block the others.
for pkg in "uvicorn[standard]" uvloop httptools granian fastapi fastpysgi socketify robyn hypercorn litestar msgspec matplotlib jinja2 asyncpg \
    pyjwt itsdangerous slowapi; do
    if "$venv/bin/python" -m pip install --quiet "$pkg" 2> >(grep -v "^WARNING: Location" >&2); then
        echo "ok: $pkg"
    else
        echo "FAILED: $pkg"; failed+=("$pkg")
    fi
done

say "nginx"
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light \
            || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx) >/dev/null \
            || { echo "FAILED: nginx"; failed+=(nginx); }
        # The Debian package starts a system nginx on port 80; the harness runs its own.
        if command -v systemctl >/dev/null 2>&1; then systemctl stop nginx >/dev/null 2>&1 || true; fi
        if [ -f /run/nginx.pid ]; then kill "$(cat /run/nginx.pid)" 2>/dev/null || true; fi
    else
        echo "FAILED: nginx (not root: apt-get install nginx by hand)"; failed+=(nginx)
    fi
fi

say "C io_uring ceiling server"
mkdir -p "$bin"
if cc -O2 -Wall -Wextra -o "$bin/c_uring_hello" "$here/c_uring_hello.c" -luring; then
    echo "built: $bin/c_uring_hello"
else
    echo "FAILED: c_uring_hello (needs liburing-dev >= 2.3)"; failed+=(c_uring_hello)
fi

say "api-performance-tests data (apiperf_bench.py)"
# Litestar's framework benchmark's own test data, at the commit its apps were taken from.
data="$here/.apiperf-data"
if [ ! -f "$data/test_data/1M.json" ]; then
    rm -rf "$data"
    if git clone -q --no-checkout "${APIPERF_REPO:-https://github.com/litestar-org/api-performance-tests}" "$data" \
        && git -C "$data" checkout -q 1eadaf1 -- test_data/1K.json test_data/1M.json test_data/persons_50.json \
            test_data/persons_500.json; then
        echo "checked out: $data/test_data"
    else
        echo "FAILED: api-performance-tests data"; failed+=(apiperf-data)
    fi
fi

say "versions"
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("uvicorn", "uvloop", "httptools", "granian", "fastapi", "litestar", "msgspec", "fastpysgi", "socketify", "robyn",
             "matplotlib"):
    try:
        print(f"{name:12s} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name:12s} not installed")
PY
( /usr/sbin/nginx -v 2>&1 || nginx -v 2>&1 ) | head -1
for tool in wrk h2load oha; do
    if command -v "$tool" >/dev/null 2>&1; then
        case "$tool" in
            wrk) echo "wrk         $(wrk -v 2>&1 | head -1)";;
            h2load) echo "h2load      $(h2load --version 2>&1 | head -1)";;
            oha) echo "oha         $(oha --version 2>&1 | head -1)";;
        esac
    else
        echo "$tool: not on PATH"
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo; echo "unavailable: ${failed[*]} (the harness will skip them)"
fi
exit 0
