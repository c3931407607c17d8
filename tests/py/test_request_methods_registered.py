"""The Request's methods written in Python (req.form(), req.set_cookie(),
req.delete_cookie(), req.background, and finish_result after the handler) reach
ringbolt._reqresp through the callables the package registers at import
(_native._set_request_methods): the native module imports no module of the package.
Proved in a fresh interpreter where importing ringbolt._reqresp after start-up fails, so
a native import of it would answer 500."""

import os
import subprocess
import sys

SCRIPT = r"""
import sys, threading
import ringbolt
from ringbolt import App
from ringbolt.testing import TestClient

sys.modules["ringbolt._reqresp"] = None  # from here on, importing it raises ImportError

app = App()
ran = threading.Event()

@app.post("/form")
def form(req):
    return {"name": req.form()["name"]}

@app.get("/cookies")
def cookies(req):
    req.set_cookie("kept", "1")
    req.delete_cookie("gone")
    req.background.add(ran.set)
    return {"ok": True}

with TestClient(app) as client:
    r = client.post("/form", data={"name": "ann"})
    print("form", r.status_code, r.text)
    r = client.get("/cookies")
    print("cookies", r.status_code, sorted(c.split(";")[0] for c in r.headers.get_list("set-cookie")))
    print("background", ran.wait(10))
"""


def test_request_methods_use_the_registered_callables():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert 'form 200 {"name":"ann"}' in lines, out.stdout + out.stderr
    assert "cookies 200 ['gone=', 'kept=1']" in lines, out.stdout + out.stderr
    assert "background True" in lines, out.stdout + out.stderr
