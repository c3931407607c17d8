"""A small Flask app for tests/py/test_wsgi.py: routing, forms, JSON, errors, redirects,
send_file and a streamed response."""

import os

from flask import Flask, Response, abort, jsonify, redirect, request, send_file, stream_with_context, url_for

app = Flask(__name__)


@app.get("/")
def index():
    return "hello from flask"


@app.get("/users/<int:uid>")
def user(uid):
    return jsonify(id=uid, q=request.args.get("q"))


@app.post("/form")
def form():
    return jsonify(name=request.form["name"], tags=request.form.getlist("tag"),
                   upload=(request.files["doc"].read().decode() if "doc" in request.files else None))


@app.post("/json")
def echo_json():
    data = request.get_json()
    return jsonify(got=data, n=len(data["items"])), 201


@app.get("/missing")
def missing():
    abort(404)


@app.get("/boom")
def boom():
    raise RuntimeError("flask-view-raised")


@app.get("/old")
def old():
    return redirect(url_for("user", uid=7, q="moved"))


@app.get("/file")
def file():
    return send_file(os.environ["WSGI_TEST_FILE"], mimetype="application/octet-stream")


@app.get("/stream")
def stream():
    def gen():
        for i in range(3):
            yield f"part-{i};"

    return Response(stream_with_context(gen()), mimetype="text/plain")
