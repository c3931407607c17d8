"""``WSGIMiddleware``: a WSGI app mounted on a ringbolt app (``app.mount(path, WSGIMiddleware(wsgi))``)
runs on ringbolt's WSGI server (a thread pool, never a reactor)."""

from __future__ import annotations

from typing import Any


class WSGIMiddleware:
    def __init__(self, app: Any, workers: int = 10) -> None:
        self.app = app
        self.workers = workers

    def _rb_mount(self, owner: Any, path: str) -> None:
        owner.mount_wsgi(self.app, threads=self.workers, root_path=path.rstrip("/"))
