"""Per-call CPU and output size of gzip levels 1 vs 6 and brotli qualities 1, 2 and 4 on a
2 KB JSON body, the figures behind enable_compression's automatic small-body levels.
Python's zlib is the zlib ringbolt links; the `brotli` module bundles its own brotli
(check brotli.__version__ against the system's libbrotli, 1.0.9 on Debian 12), so for br
the figures that apply to the server come from compression_bench (BM_br_2k/1, /2):
    taskset -c 1 python3 benchmarks/micro/compression_levels.py"""
import json, time, zlib, brotli
body = json.dumps([{"id": i, "name": f"user{i}", "email": f"user{i}@example.com", "active": i % 2 == 0} for i in range(28)]).encode()
def per_call(fn, n=20000):
    best = 1e9
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n): fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best
g1 = per_call(lambda: zlib.compress(body, 1)); g6 = per_call(lambda: zlib.compress(body, 6))
b1 = per_call(lambda: brotli.compress(body, quality=1))
b2 = per_call(lambda: brotli.compress(body, quality=2)); b4 = per_call(lambda: brotli.compress(body, quality=4))
l = lambda x: len(x)
br = lambda q: l(brotli.compress(body, quality=q))
print(f"body {len(body)} B, brotli module {brotli.__version__}; gzip6/gzip1 time {g6/g1:.2f}x, size {l(zlib.compress(body,6))/l(zlib.compress(body,1)):.2f}; "
      f"br4/br2 time {b4/b2:.2f}x, size {br(4)/br(2):.2f}; br1/br2 time {b1/b2:.2f}x, size {br(1)/br(2):.2f}")
