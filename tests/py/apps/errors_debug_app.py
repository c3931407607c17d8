"""App(debug=True): the traceback in the 500 problem."""

from ringbolt import App

app = App(debug=True)


@app.get("/crash")
def crash(req):
    raise RuntimeError("visible in debug")


@app.get("/async-crash")
async def async_crash(req):
    raise RuntimeError("visible in debug (async)")
