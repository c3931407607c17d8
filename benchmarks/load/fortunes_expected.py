"""The one right answer to GET /fortunes (TechEmpower's test, as benchmarks/load's apps
render it through Jinja2 from apps/templates/fortunes.html): the 12 rows and the one added
at request time, sorted by message, every row escaped. Written out here by hand, not
rendered, so a check against it can fail."""
from __future__ import annotations

ROWS = (
    '<tr><td>11</td><td>&lt;script&gt;alert(&#34;This should not be displayed in a browser alert box.&#34;);'
    '&lt;/script&gt;</td></tr>'
    "<tr><td>4</td><td>A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1</td></tr>"
    "<tr><td>5</td><td>A computer program does what you tell it to do, not what you want it to do.</td></tr>"
    "<tr><td>2</td><td>A computer scientist is someone who fixes things that aren&#39;t broken.</td></tr>"
    "<tr><td>8</td><td>A list is only as strong as its weakest link. — Donald Knuth</td></tr>"
    "<tr><td>0</td><td>Additional fortune added at request time.</td></tr>"
    "<tr><td>3</td><td>After enough decimal places, nobody gives a damn.</td></tr>"
    "<tr><td>7</td><td>Any program that runs right is obsolete.</td></tr>"
    "<tr><td>10</td><td>Computers make very fast, very accurate mistakes.</td></tr>"
    "<tr><td>6</td><td>Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen</td></tr>"
    "<tr><td>9</td><td>Feature: A bug with seniority.</td></tr>"
    "<tr><td>1</td><td>fortune: No such file or directory</td></tr>"
    "<tr><td>12</td><td>フレームワークのベンチマーク</td></tr>"
)
EXPECTED = ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>"
            + ROWS + "</table></body></html>")


def check_table(body: str, content_type: str) -> None:
    """Raises ValueError naming the difference unless ``body`` is the expected page."""
    if content_type.replace(" ", "").lower() != "text/html;charset=utf-8":
        raise ValueError(f"/fortunes answered Content-Type {content_type!r}, not text/html; charset=utf-8")
    got = body.strip()
    if got != EXPECTED:
        at = next((i for i, (a, b) in enumerate(zip(got, EXPECTED)) if a != b), min(len(got), len(EXPECTED)))
        raise ValueError(f"/fortunes differs from the expected table at character {at}: "
                         f"got {got[max(0, at - 40):at + 60]!r}, expected {EXPECTED[max(0, at - 40):at + 60]!r}")
