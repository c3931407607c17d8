"""The app tests/kernels/test_kernel_serving.py serves on each kernel: a GET, a body echoed,
a slow answer (for the drain), a WebSocket echo, static files, and the worker's pid; for
test_kernel_ktls.py's browser, a page whose script makes requests and reports them."""

import asyncio
import os
from pathlib import Path

from ringbolt import App, Response

app = App()
STATIC = Path(os.environ.get("KERNEL_STATIC_DIR", "/tmp"))
app.static("/static", STATIC)


@app.get("/hello")
def hello(req):
    return {"hello": req.http_version, "pid": os.getpid()}


@app.post("/echo")
def echo(req):
    return req.body


# Three GETs and a 300 kB body echoed on the page's connection, then what the script saw,
# POSTed to /report: the app prints it as one "REPORT {json}" line.
PAGE = """<!doctype html><html><body><pre id="out">running</pre><script>
async function run() {
  const out = {answers: [], echoed: false};
  try {
    for (let i = 0; i < 3; i++) {
      out.answers.push((await (await fetch("/hello")).json()).hello);
    }
    const body = new Uint8Array(300000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251;
    const back = new Uint8Array(await (await fetch("/echo", {method: "POST", body})).arrayBuffer());
    out.echoed = back.length === body.length && back.every((v, i) => v === body[i]);
  } catch (e) {
    out.error = String(e);
  }
  await fetch("/report", {method: "POST", body: JSON.stringify(out)});
  document.getElementById("out").textContent = "done";
}
run();
</script></body></html>"""


@app.get("/browser")
def browser(req):
    return Response.html(PAGE)


@app.post("/report")
def report(req):
    print("REPORT " + req.body.decode(), flush=True)
    return {"ok": True}


@app.get("/slow")
async def slow(req):
    print("slow: started", flush=True)  # the drain test signals once it is running
    await asyncio.sleep(float(req.query.get("s", "1")))
    return {"slept": True, "pid": os.getpid()}


@app.websocket("/ws")
async def ws(sock):
    await sock.accept()
    async for message in sock:
        await sock.send_text(str(message).upper())
