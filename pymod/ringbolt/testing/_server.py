"""The app under test, served for real: ``App._serve`` on an ephemeral 127.0.0.1 port in
a background thread of this process (its reactor, its event loop), so a test shares the
app's objects and monkeypatches with the server. Signal handlers are left alone (they
are only installed from the main thread)."""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any

from ..app import App

_serving_lock = threading.Lock()
_serving: set[int] = set()  # id() of the Apps a TestClient serves now
_running: "weakref.WeakSet[ServerThread]" = weakref.WeakSet()  # started, not yet stopped


class ServerThread:
    """One run of ``app``: ``start()`` returns once it accepts (startup hooks done) and
    raises what stopped it from starting; ``stop()`` drains it, runs the shutdown hooks
    and raises what they raised."""

    def __init__(self, app: App, *, threads: int, options: dict[str, Any]) -> None:
        if not isinstance(app, App):
            raise TypeError(f"TestClient serves a ringbolt.App, not {type(app).__name__}"
                            " (mount an ASGI/WSGI app on an App with app.mount_asgi / app.mount_wsgi)")
        self.app = app
        self.host = "127.0.0.1"
        self.port = 0
        self._threads = threads
        self._options = options
        self._ready = threading.Event()
        self._info: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._abandoned = False
        #: started by a request of a client outside any ``with`` block (FastAPI's
        #: module-level ``client = TestClient(app)``): stopped when its test module ends
        #: (``stop_request_started``); the client's next request starts it again
        self.started_by_request = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float) -> None:
        with _serving_lock:
            if id(self.app) in _serving or self.app._server is not None:
                raise RuntimeError("this App is already being served (one TestClient per App at a time; "
                                   "leave the other client's `with` block first)")
            _serving.add(id(self.app))
        self._ready.clear()  # a second run of this server: nothing of the first one's
        self._info = self._error = None
        self._abandoned = False
        self._thread = threading.Thread(target=self._main, name="ringbolt-testclient", daemon=True)
        _running.add(self)
        self._thread.start()
        try:
            ready = self._ready.wait(timeout)
        except BaseException:  # the waiting thread interrupted (a test's timeout): as below
            self._abandoned = True
            self.app.stop()
            raise
        if not ready:
            self._abandoned = True  # not up yet, so nothing to stop: it stops itself once it is
            self.app.stop()
            raise RuntimeError(f"the app did not start within {timeout} s")
        if self._info is None:
            self._thread.join(timeout)
            error = self._error
            self._error = None
            raise RuntimeError(f"the app failed to start: {error!r}") from error
        self.port = int(self._info["port"])

    def _main(self) -> None:
        try:
            self.app._serve(self.host, 0, self._threads, _ready=self._on_ready, **self._options)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            self._error = exc
        finally:
            with _serving_lock:
                _serving.discard(id(self.app))
            self._ready.set()

    def _on_ready(self, info: dict[str, Any]) -> None:
        self._info = info
        self._ready.set()
        if self._abandoned:  # start() gave up waiting (a loaded machine): never leave it serving
            self.app.stop()

    def stop(self, timeout: float) -> None:
        thread = self._thread
        if thread is None:
            return
        self._thread = None
        _running.discard(self)
        self.app.stop()
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the app did not stop within {timeout} s")
        error, self._error = self._error, None
        if error is not None:
            raise RuntimeError(f"the app failed while stopping: {error!r}") from error


def stop_request_started(timeout: float = 10.0) -> None:
    """Stop the servers that clients' requests started outside ``with`` blocks (ringbolt's
    pytest plugin, as each test module ends): a suite of many modules, each with its
    module-level client, keeps one server running, not one per module (each with its
    threads, waking to take the GIL)."""
    for server in list(_running):
        if server.started_by_request and server.running:
            server.stop(timeout)


@atexit.register
def _stop_running() -> None:
    """Stop every server a test left running when the process exits (a client never
    closed). Its thread is a daemon: left to the interpreter's finalization, it would be
    ended (pthread_exit) inside the native loop when it next takes the GIL, and that
    unwinding through the server's C++ frames aborts the process."""
    for server in list(_running):
        try:
            server.stop(10.0)
        except Exception:  # noqa: BLE001 - the process is exiting: nobody to tell
            pass
