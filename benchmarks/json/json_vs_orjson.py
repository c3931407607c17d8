"""ringbolt's JSON writer (ringbolt._native.json_dumps, the code every dict a handler
returns goes through) against json.dumps and orjson.dumps on typical API payloads.

    python benchmarks/json/json_vs_orjson.py [--rounds 7] [--seconds 0.2]

Each round times every (payload, library) pair once (timeit, best of 3 batches sized to
about --seconds), interleaved, so a machine that speeds up or slows down affects all
alike; the table gives the median over the rounds in ns per call and the ratio to
orjson (below 1.0: ringbolt is faster). Every output is checked to parse back to the
same value first. json.dumps gets a default= for datetime/UUID and encodes to bytes, as
a server must; orjson needs none.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import timeit
import uuid
from typing import Any, Callable

from ringbolt._native import json_dumps

try:
    import orjson
except ImportError:  # pragma: no cover - the comparison needs it
    sys.exit("orjson is not installed: pip install orjson (into this virtualenv only)")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def stdlib_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode()


def payloads() -> dict[str, Any]:
    base = dt.datetime(2026, 11, 22, 17, 30, 0, 123456, tzinfo=dt.timezone.utc)
    records = [
        {
            "id": 10_000 + i,
            "uuid": uuid.UUID(int=(0x9F3C2B1A << 96) + i * 7919),
            "name": f"user {i}",
            "email": f"user{i}@example.com",
            "score": round(i * 1.37, 2),
            "active": i % 3 != 0,
            "manager": None if i % 5 else 10_000 + i // 5,
            "created": base + dt.timedelta(minutes=i),
        }
        for i in range(100)
    ]
    nested = {
        "order": {
            "id": "ord_8c1f2e",
            "status": "shipped",
            "customer": {"id": 77, "name": "Zoë Müller", "address": {"street": "1 Rue de Rivoli", "city": "Paris",
                                                                    "zip": "75001", "geo": [48.8606, 2.3376]}},
            "lines": [
                {"sku": f"SKU-{n:04d}", "qty": n % 4 + 1, "price": 9.99 + n,
                 "options": {"gift": n % 2 == 0, "note": "handle with care\n" if n == 3 else None}}
                for n in range(12)
            ],
            "totals": {"net": 251.88, "tax": 50.38, "gross": 302.26, "currency": "EUR"},
        },
        "links": {"self": "/orders/ord_8c1f2e", "customer": "/customers/77"},
        "meta": {"request_id": "a1b2c3d4", "took_ms": 3, "cached": False},
    }
    return {
        "hello": {"message": "Hello, World!"},
        "small dict": {"id": 1234, "name": "Alice", "email": "alice@example.com", "active": True, "score": 97.5,
                       "tags": ["admin", "beta"]},
        "100 records (str/int/float/bool/None/datetime/UUID)": records,
        "nested document": nested,
    }


def check(name: str, value: Any) -> None:
    ours = json_dumps(value)
    if json.loads(ours) != json.loads(orjson.dumps(value)) or json.loads(ours) != json.loads(stdlib_dumps(value)):
        sys.exit(f"{name}: the outputs differ")


def time_one(fn: Callable[[Any], bytes], value: Any, seconds: float) -> float:
    timer = timeit.Timer(lambda: fn(value))
    n, _ = timer.autorange()
    n = max(1, int(n * seconds / 0.2))
    return min(timer.repeat(repeat=3, number=n)) / n * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.2, help="about this long per batch")
    args = parser.parse_args()
    libs: dict[str, Callable[[Any], bytes]] = {
        "ringbolt": json_dumps,
        "orjson": orjson.dumps,
        "json": stdlib_dumps,
    }
    data = payloads()
    for name, value in data.items():
        check(name, value)
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, value in data.items():
            for lib, fn in libs.items():
                results.setdefault((name, lib), []).append(time_one(fn, value, args.seconds))
    print(f"python {sys.version.split()[0]}, orjson {orjson.__version__}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {args.rounds} rounds")
    print(f"| payload | bytes | ringbolt ns | orjson ns | json ns | ringbolt / orjson | json / ringbolt |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, value in data.items():
        med = {lib: statistics.median(results[(name, lib)]) for lib in libs}
        print(f"| {name} | {len(json_dumps(value)):,} | {med['ringbolt']:,.0f} | {med['orjson']:,.0f} | "
              f"{med['json']:,.0f} | {med['ringbolt'] / med['orjson']:.2f} | {med['json'] / med['ringbolt']:.1f} |")


if __name__ == "__main__":
    main()
