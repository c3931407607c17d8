"""What tests/py/test_http3_browser.py serves to headless Chromium over HTTP/3: a page
whose script fetches from the same origin (a request's version, a 3 MiB upload, a
20 MiB streamed answer, 32 requests at once) and writes what it got into the page, and
the routes those fetches reach (transfer_routes.py, /inspect)."""

from transfer_routes import add_transfer_routes

from ringbolt import App, Response

app = App()
add_transfer_routes(app)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>ringbolt over HTTP/3</title></head>
<body><pre id="out">pending</pre>
<script>
(async () => {
  const out = {};
  out.version = (await (await fetch("/inspect?from=script")).json()).http_version;
  const body = new Uint8Array(3 * 1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251;
  out.uploaded = (await (await fetch("/upload", {method: "POST", body})).json()).received;
  const echoed = new Uint8Array(await (await fetch("/echo", {method: "POST", body: body.subarray(0, 65536)})).arrayBuffer());
  out.echo_same = echoed.length === 65536 && echoed.every((b, i) => b === body[i]);
  out.streamed = (await (await fetch("/stream/PIECES")).arrayBuffer()).byteLength;
  const many = await Promise.all([...Array(32).keys()].map(
    (i) => fetch("/inspect?i=" + i).then((r) => r.json())));
  out.parallel_h3 = many.filter((m) => m.http_version === "3").length;
  document.getElementById("out").textContent = "done " + JSON.stringify(out);
})().catch((e) => { document.getElementById("out").textContent = "error " + e; });
</script></body></html>
"""

STREAM_PIECES = 3500  # 3500 pieces of 6000 bytes: 21,000,000 bytes


@app.get("/page")
def page(req):
    return Response(PAGE.replace("PIECES", str(STREAM_PIECES)), content_type="text/html; charset=utf-8")


@app.route("/inspect", methods=["GET"])
def inspect_(req):
    return {"http_version": req.http_version, "query": dict(req.query)}
