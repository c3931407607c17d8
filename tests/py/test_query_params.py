"""req.query over a real socket: the QueryParams the server builds in C++ (a read-only
dict of first values, every pair behind getlist/multi_items) against the one Python
builds from the same pairs (the ASGI adapter's), for a table of query strings, in a
sync-only app and in one whose event loop is hosted on the reactor's thread."""

from __future__ import annotations

import gc
import pickle
import random
import sysconfig
from typing import Any
from urllib.parse import parse_qsl

import pytest

from ringbolt import App, QueryParams

from conftest import sync_and_hosted_client

QUERIES = [
    "",
    "a=13&b=42",
    "a=1&b=2&a=3",
    "b=1&b=2&c=3",
    "x=%C3%A9&y&a=1&a=&a=2",
    "flag&e=%zz&sp=two%20words&plus=a+b",
    "a=1&a=1&a=1",
    "k=%FF%FE",  # not UTF-8: kept as surrogate escapes, as a path is
    "name=alice&page=10&sort=-created_at&q=",  # ASCII names and values of every length
    "%61=1&a=2&b=%62&ab=c%3Dd&=v&=",  # an escaped name repeats a plain one; empty names
    "long=" + "x" * 600 + "&long2=" + "%41" * 300,  # longer than the decoder's stack room
    "u=%E2%82%AC&v=%E2%82&w=caf%C3%A9",  # a 3-byte character, a cut one, a 2-byte one
]


def describe(q: Any) -> dict[str, Any]:
    return {
        "type": type(q).__name__,
        "first": dict(q),
        "keys": list(q),
        "values": list(q.values()),
        "len": len(q),
        "pairs": [list(p) for p in q.multi_items()],
        "getlist": {k: q.getlist(k) for k in q},
        "missing": q.getlist("missing"),
        "get": q.get("a", "default"),
        "in": ["a" in q, "missing" in q, 1 in q],
        "repr": repr(q).encode("utf-8", "surrogateescape").decode("latin-1"),
        "equal_to_python": q == QueryParams(q.multi_items()),
        "pickled": pickle.loads(pickle.dumps(q)) == q,
    }


def make_app() -> App:
    app = App()

    @app.get("/q")
    def query(req: Any) -> dict[str, Any]:
        return describe(req.query)

    @app.get("/refused")
    def refused(req: Any) -> dict[str, Any]:
        q = req.query
        out = {}
        for name, attempt in [("setitem", lambda: q.__setitem__("a", "x")), ("delitem", lambda: q.__delitem__("a")),
                              ("update", lambda: q.update(a="x")), ("pop", lambda: q.pop("a")),
                              ("setdefault", lambda: q.setdefault("z", "1")), ("clear", q.clear)]:
            try:
                attempt()
                out[name] = "allowed"
            except TypeError as exc:
                out[name] = str(exc)
        out["after"] = dict(q)
        return out

    @app.get("/pairs")
    def pairs(req: Any) -> dict[str, Any]:
        q = req.query
        return {"pairs": [list(p) for p in q.multi_items()], "first": dict(q)}

    @app.get("/same")
    def same(req: Any) -> dict[str, Any]:
        q = req.query
        return {"short": q["x"] is q["y"], "sixteen": q["m"] is q["n"], "seventeen": q["s"] is q["t"],
                "names": [type(k).__name__ for k in q]}

    kept: list[Any] = []

    @app.get("/keep")
    def keep(req: Any) -> dict[str, int]:
        kept.append(req.query)  # held past the request: never emptied for another
        return {"kept": len(kept)}

    @app.get("/kept")
    def kept_queries(req: Any) -> list[Any]:
        return [[type(q).__name__, [list(p) for p in q.multi_items()], q.getlist("a")] for q in kept]

    @app.get("/allocated")
    def allocated(req: Any) -> dict[str, int]:
        before = gc.get_count()[0]
        req.query  # noqa: B018 (what it costs the collector's count is the point)
        return {"counted": gc.get_count()[0] - before}

    return app


client = sync_and_hosted_client(make_app)


@pytest.mark.parametrize("qs", QUERIES)
def test_query_matches_python_built(client: Any, qs: str) -> None:
    r = client.get("/q?" + qs if qs else "/q")
    assert r.status_code == 200, r.text
    got = r.json()
    pairs = parse_qsl(qs, keep_blank_values=True, errors="surrogateescape")
    expected = describe(QueryParams(pairs))
    assert got == expected
    assert got["type"] == "QueryParams"
    assert got["pairs"] == [list(p) for p in pairs]
    assert got["equal_to_python"] and got["pickled"]


def test_query_is_read_only(client: Any) -> None:
    r = client.get("/refused?a=1&a=2")
    assert r.status_code == 200, r.text
    got = r.json()
    for name in ("setitem", "delitem", "update", "pop", "setdefault", "clear"):
        assert got[name] == "'QueryParams' object is read-only", name
    assert got["after"] == {"a": "1"}


def test_python_built_query_params() -> None:
    q = QueryParams([("a", "1"), ("b", "2"), ("a", "3")])
    assert isinstance(q, dict) and q["a"] == "1" and q.getlist("a") == ["1", "3"]
    assert q.multi_items() == [("a", "1"), ("b", "2"), ("a", "3")]
    assert repr(q) == "QueryParams([('a', '1'), ('b', '2'), ('a', '3')])"
    assert q != QueryParams([("a", "1"), ("b", "2")]) and q == {"a": "1", "b": "2"}
    assert QueryParams() == {} and QueryParams().getlist("a") == []
    with pytest.raises(KeyError):
        q["missing"]
    with pytest.raises(TypeError):
        q |= {"c": "4"}


GIL_BUILD = not sysconfig.get_config_var("Py_GIL_DISABLED")


def test_equal_short_texts_are_one_str(client: Any) -> None:
    """Short ASCII names and values (1-16 bytes) come from the recent ones on a GIL build:
    two equal values in one query are one object; 17 bytes and longer are made each time."""
    sixteen, seventeen = "v" * 16, "w" * 17
    for _ in range(3):
        r = client.get(f"/same?x=13&y=13&m={sixteen}&n={sixteen}&s={seventeen}&t={seventeen}")
        assert r.status_code == 200, r.text
        assert r.json() == {"short": GIL_BUILD, "sixteen": GIL_BUILD, "seventeen": False,
                            "names": ["str"] * 6}


def test_recent_texts_replaced_stay_right(client: Any) -> None:
    """Many more distinct short texts than the recent ones kept (slots replaced over and
    over), texts that differ only in a last NUL, a case or a length, every length around
    the 16-byte bound, non-ASCII beside ASCII: each request's pairs are its own."""
    rng = random.Random(28)
    alphabet = "abcXYZ019-_.~"
    fixed = ["a", "a%00", "A", "aa", "a" * 15, "a" * 16, "a" * 17, "%00", "%C3%A9", "%FF", "a%C3%A9"]
    for i in range(240):
        parts = []
        for _ in range(rng.randint(1, 5)):
            name = rng.choice(fixed) if rng.random() < 0.3 else "".join(
                rng.choice(alphabet) for _ in range(rng.randint(1, 18)))
            value = rng.choice(fixed) if rng.random() < 0.3 else "".join(
                rng.choice(alphabet) for _ in range(rng.randint(0, 18)))
            parts.append(f"{name}={value}")
        qs = "&".join(parts)
        r = client.get("/pairs?" + qs)
        assert r.status_code == 200, (i, qs, r.text)
        pairs = parse_qsl(qs, keep_blank_values=True, errors="surrogateescape")
        got = r.json()
        assert got["pairs"] == [list(p) for p in pairs], (i, qs)
        assert got["first"] == dict(QueryParams(pairs)), (i, qs)


def test_texts_around_the_eighth_byte(client: Any) -> None:
    """A short text is read as two words, bytes 1-8 and 9-16: texts that differ only past
    the eighth byte, and a non-ASCII byte in either word (straddling them, or the
    sixteenth), each come back as sent, the first time and from the recent ones after."""
    texts = ["a" * 8, "a" * 8 + "b", "a" * 8 + "c", "a" * 9, "a" * 7 + "%C3%A9",
             "a" * 8 + "%C3%A9", "a" * 15 + "%FF", "a" * 14 + "%C3%A9", "b" * 8 + "%00"]
    for _ in range(3):
        for i, t in enumerate(texts):
            qs = f"{t}={texts[-1 - i]}&n{i}={t}"
            r = client.get("/pairs?" + qs)
            assert r.status_code == 200, (qs, r.text)
            pairs = parse_qsl(qs, keep_blank_values=True, errors="surrogateescape")
            assert r.json()["pairs"] == [list(p) for p in pairs], qs


def test_a_finished_query_is_used_again(client: Any) -> None:
    """A QueryParams nobody kept goes back emptied for the next request (GIL builds): its
    making then allocates no object the collector counts; one kept or made from a query
    with a repeated name does not spoil the next ones."""
    for qs in ["a=1&a=2", "a=1&b=2", "a=1&a=2&a=3", "x=1"]:
        assert client.get("/pairs?" + qs).status_code == 200
    counts = [client.get(f"/allocated?a={i}&b={i % 3}").json()["counted"] for i in range(20)]
    assert counts == [0 if GIL_BUILD else 1] * 20
    r = client.get("/pairs?b=7&c=8")
    assert r.json() == {"pairs": [["b", "7"], ["c", "8"]], "first": {"b": "7", "c": "8"}}


def test_a_kept_query_keeps_its_pairs(client: Any) -> None:
    """A handler that keeps req.query keeps it whole, whatever the requests after it."""
    client.get("/kept")  # the module's app keeps a list: start from its length
    start = len(client.get("/kept").json())
    sent = ["a=1&b=2", "a=1&a=2", "a=3", "z=%C3%A9&a=x&a=y"]
    for qs in sent:
        assert client.get("/keep?" + qs).status_code == 200
        for i in range(5):  # other queries in between, built in the freed ones
            assert client.get(f"/pairs?a={i}&q={qs[:1]}").status_code == 200
    got = client.get("/kept").json()[start:]
    expected = []
    for qs in sent:
        pairs = parse_qsl(qs, keep_blank_values=True)
        expected.append(["QueryParams", [list(p) for p in pairs], [v for k, v in pairs if k == "a"]])
    assert got == expected


def test_queries_of_changing_names_after_one_another(client: Any) -> None:
    """A finished query's names may be kept for the next query with the same names in the
    same order (only the values replaced): every other shape after it — names reordered,
    fewer, more, repeated, escaped, empty, long values — still gets exactly its own pairs."""
    shapes = [
        "a=1&b=2", "a=3&b=4", "b=5&a=6", "a=7", "a=8&b=9&c=10", "a=11&b=12", "a=13&a=14",
        "a=15&b=16", "%61=17&b=18", "a=19&b=20", "", "a=21&b=22", "a=&b=", "a&b",
        "a=" + "v" * 40 + "&b=" + "w" * 17, "a=23&b=24", "=25&=26", "a=27&b=28&a=29",
        "a=%C3%A9&b=x+y", "a=30&b=31", "b=32", "a=33&b=34", "c=1&d=2&e=3&f=4&g=5&h=6&i=7&j=8&k=9",
        "c=1&d=2&e=3&f=4&g=5&h=6&i=7&j=8&k=9", "a=35&b=36",
    ]
    rng = random.Random(28)
    order = shapes + [rng.choice(shapes) for _ in range(150)]
    for i, qs in enumerate(order):
        r = client.get("/pairs?" + qs if qs else "/pairs")
        assert r.status_code == 200, r.text
        pairs = parse_qsl(qs, keep_blank_values=True, errors="surrogateescape")
        got = r.json()
        assert got["pairs"] == [list(p) for p in pairs], (i, qs)
        assert got["first"] == dict(QueryParams(pairs)), (i, qs)
        assert list(got["first"]) == list(dict(QueryParams(pairs))), (i, qs)  # the names' order
