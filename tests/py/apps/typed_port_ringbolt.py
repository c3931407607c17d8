"""typed_port_fastapi.py ported to ringbolt: its very source, with the two lines that
name the framework changed (the import, and ``App()`` for ``FastAPI()``), run here as
this module. tests/py/test_typed_port.py sends both the same requests."""

from pathlib import Path

_SOURCE = (Path(__file__).parent / "typed_port_fastapi.py").read_text()
_PORTED = (_SOURCE
           .replace("from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query",
                    "from ringbolt import App, Depends, Header, HTTPException, Path, Query")
           .replace("app = FastAPI()", "app = App()"))
assert _PORTED.count("ringbolt import") == 1 and "App()" in _PORTED and "fastapi" not in _PORTED.split('"""', 2)[2]
exec(compile(_PORTED, __file__.replace("ringbolt", "ported"), "exec"), globals())  # noqa: S102 - our own test app
