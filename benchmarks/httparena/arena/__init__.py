"""The local HttpArena runner (benchmarks/httparena/run)."""
