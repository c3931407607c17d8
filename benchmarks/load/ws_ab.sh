#!/usr/bin/env bash
# A/B of two ringbolt builds on the WebSocket echo (benchmarks/load/ws/ringbolt_echo.py): server on CPU 0, ringbolt-ws-load on CPU 1; per run msg/s,
# server CPU µs/msg (with its user and system parts, /proc) and context switches/msg (perf stat on the server's threads).
set -u
TMP=$(mktemp); trap 'rm -f "$TMP"' EXIT
# Usage: OLD_PYTHON=/path/venv/bin/python [NEW_PYTHON=python3] [SIZE=32] [ROUNDS=3] benchmarks/load/ws_ab.sh
SIZE=${SIZE:-32}
ROUNDS=${ROUNDS:-3}
# OLD_PYTHON / NEW_PYTHON: interpreters with the two builds installed (e.g. a venv per worktree).
declare -A PY=([old]=${OLD_PYTHON:?} [new]=${NEW_PYTHON:-python3})
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
for r in $(seq 1 $ROUNDS); do
  for v in old new; do
    PORT=$(python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")
    (cd $HERE/ws && exec taskset -c 0 ${PY[$v]} -m ringbolt serve ringbolt_echo:app --port $PORT --no-access-log >/dev/null 2>&1) &
    for i in $(seq 50); do ss -ltn | grep -q ":$PORT " && break; sleep 0.2; done
    SP=$(pgrep -f "ringbolt serve ringbolt_echo:app --port $PORT" | head -1)
    $ROOT/tools/load/ringbolt-ws-load -c 100 -s $SIZE -d 1s --cpus 1 ws://127.0.0.1:$PORT/ >/dev/null 2>&1
    read -r u0 s0 < <(awk '{print $14, $15}' /proc/$SP/stat) # utime, stime of all its threads (clock ticks)
    perf stat -x, -e task-clock,context-switches -p $SP -- sleep 5 2>"$TMP" &
    PERFPID=$!
    out=$($ROOT/tools/load/ringbolt-ws-load -c 100 -s $SIZE -d 5s --cpus 1 ws://127.0.0.1:$PORT/ 2>&1 | grep echoes)
    wait $PERFPID
    read -r u1 s1 < <(awk '{print $14, $15}' /proc/$SP/stat)
    kill $SP; wait 2>/dev/null
    n=$(echo "$out" | awk '{print $2}')
    ms=$(grep task-clock "$TMP" | cut -d, -f1)
    cs=$(grep context-switches "$TMP" | cut -d, -f1)
    hz=$(getconf CLK_TCK)
    python3 -c "n=$n;ms=$ms;cs=$cs;u=($u1-$u0)/$hz;s=($s1-$s0)/$hz;print(f'round $r $v size $SIZE: {n/5:9.0f} msg/s  {ms*1000/n:6.2f} cpu-us/msg (user {u*1e6/n:.2f}, system {s*1e6/n:.2f})  {cs/n:5.3f} cs/msg  load {open(\"/proc/loadavg\").read().split()[0]}')"
  done
done
