"""Templates (ringbolt.templating, docs/templates.md) over real sockets with httpx:
autoescape of a `<script>` name, a plain-text template left as written, status and
headers, a missing template (500 and the log line naming it), async rendering (an await
inside the template), FastAPI's TemplateResponse with context processors; and
TechEmpower's fortunes page from benchmarks/load/apps/ringbolt_fortunes.py against a
PostgreSQL cluster the test starts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from conftest import REPO, LoggedServer, ServerProcess, free_port

SCRIPT = "<script>alert('x')</script>"
SEGMENT = SCRIPT.replace("/", "%2F")  # one path segment: the route's {name}
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    s = LoggedServer("templates_app:app", tmp_path_factory.mktemp("templates") / "server.log", "--threads", "1")
    yield s
    assert s.stop() == 0, s.output()


def test_name_is_escaped(client: httpx.Client) -> None:
    r = client.get("/hello/" + SEGMENT)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert f"<p>Hello, {ESCAPED}!</p>" in r.text
    assert "<script>" not in r.text
    assert client.get('/hello/a"b&c').text.count("a&#34;b&amp;c") == 1


def test_text_template_is_not_escaped(client: httpx.Client) -> None:
    r = client.get("/text/<b>")
    assert r.text == "Hello, <b>!"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"


def test_status_and_headers(client: httpx.Client) -> None:
    r = client.get("/teapot")
    assert r.status_code == 418 and r.headers["x-kind"] == "pot" and "Hello, tea!" in r.text


def test_missing_template_is_a_500_naming_it(client: httpx.Client, srv: LoggedServer) -> None:
    r = client.get("/missing")
    assert r.status_code == 500
    line = srv.wait_log("nowhere.html")
    assert "Exception in handler for GET /missing" in line
    assert "template 'nowhere.html' not found in" in line
    assert client.get("/hello/again").status_code == 200  # the server goes on


def test_async_rendering(client: httpx.Client) -> None:
    r = client.get("/async/" + SEGMENT)
    assert r.status_code == 200 and r.text.strip() == f"<p>Bonjour, {ESCAPED}!</p>"
    assert f"Hello, {ESCAPED}!" in client.get("/async-sync-env/" + SEGMENT).text


def test_sync_response_on_an_async_environment_names_the_call(client: httpx.Client, srv: LoggedServer) -> None:
    assert client.get("/async-misuse").status_code == 500
    assert "await templates.response_async" in srv.wait_log("response_async")


def test_template_response_and_context_processors(client: httpx.Client) -> None:
    assert client.get("/page").text.strip() == "<p>/page ringbolt</p>"


# ---- without a server ----

def test_construction_refusals(tmp_path: Path) -> None:
    from ringbolt.templating import Templates
    with pytest.raises(FileNotFoundError, match="nowhere"):
        Templates(directory=tmp_path / "nowhere")
    with pytest.raises(TypeError, match="directory or an env"):
        Templates()


def test_strings_are_escaped_by_default(tmp_path: Path) -> None:
    from ringbolt.templating import Templates
    t = Templates(directory=tmp_path)
    assert t.env.from_string("{{ x }}").render(x="<i>") == "&lt;i&gt;"


def test_jinja2_is_imported_only_by_templating() -> None:
    code = ("import sys, ringbolt\n"
            "assert 'jinja2' not in sys.modules and 'redis' not in sys.modules\n"
            "sys.modules['jinja2'] = None\n"
            "try:\n"
            "    import ringbolt.templating\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'ringbolt[templates]'" in out.stdout


# ---- TechEmpower's fortunes, on PostgreSQL ----

def test_fortunes_page_is_the_escaped_sorted_table() -> None:
    sys.path.insert(0, str(REPO / "benchmarks" / "load"))
    from fortunes_db import fortunes_db
    from fortunes_expected import EXPECTED, check_table

    with fortunes_db(free_port()) as url:
        s = ServerProcess("ringbolt_fortunes:app", "--app-dir", str(REPO / "benchmarks" / "load" / "apps"),
                          env={"DATABASE_URL": url, "DB_POOL": "2"})
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{s.port}", timeout=10) as c:
                for _ in range(2):
                    r = c.get("/fortunes")
                    assert r.status_code == 200
                    check_table(r.text, r.headers["content-type"])
                    assert r.text == EXPECTED
        finally:
            assert s.stop() == 0, s.output()


def test_the_docs_example(tmp_path: Path) -> None:
    """docs/templates.md's first block and its template, served as they are."""
    text = (REPO / "docs" / "templates.md").read_text()
    (tmp_path / "templates_doc.py").write_text(re.findall(r"```python\n(.*?)```", text, re.S)[0])
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "hello.html").write_text(re.findall(r"```html\n(.*?)```", text, re.S)[0])
    s = ServerProcess("templates_doc:app", "--app-dir", str(tmp_path), "--threads", "1")
    try:
        r = httpx.get(f"http://127.0.0.1:{s.port}/hello/" + SEGMENT, timeout=10)
        assert r.status_code == 200 and f"<p>Hello, {ESCAPED}!</p>" in r.text
    finally:
        assert s.stop() == 0, s.output()
