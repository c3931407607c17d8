"""Routes for tests/py/test_http3_resumption.py: a count of the requests that reached the
app, by method, so a test can tell whether a request (or its replay) ran. With
EARLY_DATA_APP_RAN set, each run is also appended to that file ("METHOD pid" a line): the
count of a server with several worker processes."""

import os
import threading

from workers_app import started  # (RINGBOLT_TEST_SLOW_AFTER_FIRST: a worker's successor starts late)

from ringbolt import App

app = App()
app.on_startup(started)
_lock = threading.Lock()
_ran: dict[str, int] = {}


_ran_file = os.environ.get("EARLY_DATA_APP_RAN")


def _count(method: str) -> int:
    with _lock:
        _ran[method] = _ran.get(method, 0) + 1
        if _ran_file:
            with open(_ran_file, "a") as f:
                f.write(f"{method} {os.getpid()}\n")
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
