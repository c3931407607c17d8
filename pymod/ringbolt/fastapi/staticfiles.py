"""``StaticFiles``: files served natively by ringbolt's server when mounted
(``app.mount("/static", StaticFiles(directory="static"), name="static")``)."""

from __future__ import annotations

import os
from typing import Any


class StaticFiles:
    def __init__(self, *, directory: str | os.PathLike[str] | None = None, packages: Any = None, html: bool = False,
                 check_dir: bool = True, follow_symlink: bool = False) -> None:
        if directory is None:
            raise ValueError("ringbolt's StaticFiles serves a directory: give directory=")
        self.directory = os.fspath(directory)
        self.html = html
        if check_dir and not os.path.isdir(self.directory):
            raise RuntimeError(f"Directory '{self.directory}' does not exist")

    def _rb_mount(self, owner: Any, path: str) -> None:
        owner.static(path.rstrip("/") or "/", self.directory, index="index.html" if self.html else None)
