"""Write the JSON bodies of HttpArena's json-comp profile (GET /json/25?m=4, /json/40?m=8,
/json/50?m=6, the request mix of its gcannon json-compressed case) as ringbolt's entry
serializes them (ringbolt's native JSON writer over the entry's dict), for
content_coding_bench:

    build/venv311/bin/python benchmarks/micro/arena_json_bodies.py HTTPARENA_CHECKOUT OUT_DIR
    RINGBOLT_BENCH_BODIES=OUT_DIR build/bench/benchmarks/micro/content_coding_bench
"""
import json
import os
import sys

from ringbolt._native import json_dumps

checkout, out_dir = sys.argv[1], sys.argv[2]
with open(os.path.join(checkout, "data", "dataset.json"), encoding="utf-8") as f:
    dataset = json.load(f)
os.makedirs(out_dir, exist_ok=True)
for count, m in ((25, 4), (40, 8), (50, 6)):  # benchmarks/httparena/ringbolt/app.py, json_items
    items = [dict(item, total=item["price"] * item["quantity"] * m) for item in dataset[:count]]
    body = json_dumps({"items": items, "count": len(items)})
    path = os.path.join(out_dir, f"json-{count}-m{m}.json")
    with open(path, "wb") as f:
        f.write(body)
    print(f"{path}: {len(body)} bytes")
