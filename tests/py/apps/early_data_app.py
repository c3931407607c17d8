"""Routes for tests/py/test_http3_resumption.py: a count of the requests that reached the
app, by method, so a test can tell whether a request (or its replay) ran."""

import threading

from ringbolt import App

app = App()
_lock = threading.Lock()
_ran: dict[str, int] = {}


def _count(method: str) -> int:
    with _lock:
        _ran[method] = _ran.get(method, 0) + 1
        return _ran[method]


@app.get("/hit")
def hit_get(req):
    return {"method": "GET", "ran": _count("GET")}


@app.post("/hit")
def hit_post(req):
    return {"method": "POST", "ran": _count("POST"), "body": len(req.body)}


@app.get("/ran")
def ran(req):
    with _lock:
        return dict(_ran)
