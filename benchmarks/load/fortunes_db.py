"""The TechEmpower "fortunes" database (its 12 rows, `fortune(id, message)`) in a
PostgreSQL cluster of its own: the HttpArena runner's throwaway cluster (initdb + pg_ctl
in a temporary directory, role/password `bench`, database `benchmark`) seeded with it.
Used by fortunes_bench.py and by the fortunes tests (benchmarks/load/tests,
tests/py/test_templates.py).

    with fortunes_db(port) as url:   # postgres://bench:bench@127.0.0.1:PORT/benchmark
        ...
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Iterator

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "httparena"))
from arena.services import Postgres  # noqa: E402

# TechEmpower's rows (toolset/databases/postgres/create-postgres.sql), id then message
ROWS = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. — Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "フレームワークのベンチマーク"),
]
EXTRA = "Additional fortune added at request time."
QUERY = "SELECT id, message FROM fortune"


def seed_sql() -> str:
    values = ",\n".join("({}, '{}')".format(i, m.replace("'", "''")) for i, m in ROWS)
    return ("CREATE TABLE fortune (id integer NOT NULL PRIMARY KEY, message varchar(2048) NOT NULL);\n"
            f"INSERT INTO fortune (id, message) VALUES\n{values};\n")


@contextlib.contextmanager
def fortunes_db(port: int, cpus: str | None = None) -> Iterator[str]:
    """A running cluster with the fortune table; yields its URL, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="ringbolt-fortunes-") as d:
        seed = os.path.join(d, "seed.sql")
        with open(seed, "w", encoding="utf-8") as f:
            f.write(seed_sql())
        os.chmod(d, 0o755)  # the postgres user (a root runner's) reads the seed through psql: as us, fine too
        os.chmod(seed, 0o644)
        pg = Postgres(seed, cpus=cpus, port=port, log_dir=d, table="fortune")
        try:
            pg.start()
            yield pg.url
        finally:
            pg.stop()
