"""What tests/py/test_http3_browser.py serves to headless Chromium over HTTP/3: a page
whose script fetches from the same origin (a request's version, a 3 MiB upload, a
20 MiB streamed answer, 32 requests at once) and writes what it got into the page, and
the routes those fetches reach (transfer_routes.py, /inspect); and /many, whose script
fetches N resources (/res/{i}, a body of its own each), all at once or one after
another, and writes how many came back right and over HTTP/3."""

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


MANY_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>ringbolt: many resources over HTTP/3</title>
<link rel="icon" href="data:,"></head>
<body><pre id="out">pending</pre>
<script>
(async () => {
  const n = COUNT, sequential = SEQUENTIAL;
  performance.setResourceTimingBufferSize(n + 16);  // 250 by default
  const want = (i) => "resource " + i + ": " + i * i + "\\n";
  const one = async (i) => {
    try {
      const r = await fetch("/res/" + i);
      const text = await r.text();
      const right = r.status === 200 && text === want(i);
      return right ? null : i + ": " + r.status + " " + JSON.stringify(text.slice(0, 60));
    } catch (e) {
      return i + ": " + e;
    }
  };
  let results = [];
  if (sequential) {
    for (let i = 0; i < n; i++) results.push(await one(i));
  } else {
    results = await Promise.all([...Array(n).keys()].map(one));
  }
  const failed = results.filter((f) => f !== null);
  const res = performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.startsWith("/res/"));
  const h3 = new Set(res.filter((e) => e.nextHopProtocol === "h3").map((e) => e.name)).size;
  const page = performance.getEntriesByType("navigation")[0].nextHopProtocol;
  const out = {ok: n - failed.length, h3, page, failed};
  document.getElementById("out").textContent = "done " + JSON.stringify(out);
})().catch((e) => { document.getElementById("out").textContent = "error " + e; });
</script></body></html>
"""


def resource(i: int) -> str:
    """The body of /res/{i} (the page checks each; a misplaced answer shows)."""
    return f"resource {i}: {i * i}\n"


@app.get("/many")
def many(req):
    """`n` resources fetched at once, or one after another with `mode=sequential`."""
    n = min(int(req.query.get("n", "300")), 2000)
    sequential = "true" if req.query.get("mode") == "sequential" else "false"
    return Response(MANY_PAGE.replace("COUNT", str(n)).replace("SEQUENTIAL", sequential),
                    content_type="text/html; charset=utf-8")


@app.get("/res/{i:int}")
def res(req):
    return Response(resource(req.params["i"]), content_type="text/plain; charset=utf-8")
