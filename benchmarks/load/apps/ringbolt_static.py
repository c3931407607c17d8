"""app.static over $RINGBOLT_BENCH_STATIC for benchmarks/load/static_bench.py."""

import os

from ringbolt import App

app = App()
app.static("/", os.environ["RINGBOLT_BENCH_STATIC"])
