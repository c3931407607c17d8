#!/usr/bin/env bash
# Instructions per call (callgrind, repeatable on a loaded machine) of ringbolt's
# json_dumps and orjson.dumps on the payloads of json_vs_orjson.py: each is run N and 0
# times under valgrind and the difference divided by N (the Python loop around the call
# is counted for both alike).    benchmarks/json/instr_per_call.sh [python]
set -eu
cd "$(dirname "$0")/../.."
PY=${1:-build/venv311/bin/python}
export PYTHONHASHSEED=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/drive.py" <<'PYEOF'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("b", "benchmarks/json/json_vs_orjson.py")
b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)
lib, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
value = next(v for k, v in b.payloads().items() if k.startswith(name))
fn = {"ringbolt": b.json_dumps, "orjson": b.orjson.dumps}[lib]
fn(value)
for _ in range(n):
    fn(value)
PYEOF
count() { valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$PY" "$tmp/drive.py" "$@" >/dev/null 2>&1
          callgrind_annotate "$tmp/cg.out" | grep -m1 "PROGRAM TOTALS" | awk '{gsub(",","",$1); print $1}'; }
printf '| payload | ringbolt | orjson | ratio |\n|---|---:|---:|---:|\n'
for c in hello small 100 nested; do
    n=$([ $c = 100 ] && echo 300 || echo 3000)
    r=$(( ($(count ringbolt $c $n) - $(count ringbolt $c 0)) / n ))
    o=$(( ($(count orjson $c $n) - $(count orjson $c 0)) / n ))
    printf '| %s | %s | %s | %s |\n' "$c" "$r" "$o" "$(python3 -c "print(f'{$r/$o:.2f}')")"
done
