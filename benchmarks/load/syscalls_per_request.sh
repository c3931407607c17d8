#!/bin/bash
# System calls and context switches per request of one `ringbolt serve` process under wrk:
# the server pinned to CPU 0, wrk (-t1 -c64) to CPU 1, a 2 s warm-up, then `perf stat`
# on the server's pid for 5 s while wrk runs for 5 s. Counts divided by wrk's requests
# (the two windows start together; the ratio is good to a few percent).
#
#   benchmarks/load/syscalls_per_request.sh PYTHON MODULE:APP PATH [ringbolt serve args...]
#   benchmarks/load/syscalls_per_request.sh build/venv-next/bin/python \
#       benchmarks.load.apps.wsgi_app:app /plaintext --wsgi-threads=1
set -euo pipefail
if [ $# -lt 3 ]; then
    sed -n '2,9p' "$0"
    exit 2
fi
PY=$1 APP=$2 URL_PATH=$3
shift 3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$ROOT"
taskset -c 0 "$PY" -m ringbolt serve "$APP" --host 127.0.0.1 --port "$PORT" --threads 1 --workers 1 \
    --log-level warning "$@" >"$TMP/server.log" 2>&1 &
SP=$!
trap 'kill -TERM $SP 2>/dev/null || true; wait $SP 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do
    ss -ltn | grep -q ":$PORT " && break
    kill -0 $SP 2>/dev/null || { cat "$TMP/server.log"; exit 1; }
    sleep 0.1
done
taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:$PORT$URL_PATH" >/dev/null
perf stat -x, -o "$TMP/perf.txt" -p $SP \
    -e raw_syscalls:sys_enter,syscalls:sys_enter_write,syscalls:sys_enter_futex \
    -e syscalls:sys_enter_io_uring_enter,syscalls:sys_enter_epoll_wait,context-switches -- sleep 5 &
PERF=$!
taskset -c 1 wrk -t1 -c64 -d5s "http://127.0.0.1:$PORT$URL_PATH" >"$TMP/wrk.txt"
wait $PERF
REQ=$(awk '/requests in/ {print $1}' "$TMP/wrk.txt")
echo "$APP GET $URL_PATH ${*:-}: $REQ requests in 5 s"
awk -F, -v r="$REQ" '/^[0-9]/ {printf "%-36s %10d  %.4f/req\n", $3, $1, $1 / r}' "$TMP/perf.txt"
