"""``ringbolt serve --reload``: a parent process that binds the listening socket, runs
the server as a child on it (``--reload-child-fd``), watches the source directories
with watchfiles and replaces the child when a ``.py`` file changes.

The socket stays open in the parent, so connections made while the child restarts wait
in the accept queue instead of being refused, and the next child serves them. On
SIGTERM/SIGINT the parent closes its socket before it tells the child: the socket then
closes with the child's last reactor, after that reactor's final sweep of the queue, and
new connections are refused instead of queued for nobody and reset when the parent
exits. The child runs in its own process group:
a Ctrl-C at the terminal reaches only the parent, which forwards each SIGINT/SIGTERM, so
a second Ctrl-C still forces the child's exit as it does without --reload.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from .listen import CliError, listen_socket
from ..app import _ensure_logging
from .supervisor import bind_listeners, refuse_new_connections

logger = logging.getLogger("ringbolt")

POLL = 0.1  # seconds between looks at signals, changes and the child


class Reloader:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dirs = [str(Path(d).resolve()) for d in (args.reload_dir or [args.app_dir or "."])]
        self.signals: list[int] = []
        self.bound = False  # whether _bind bound the socket (not --fd): its stop is ours
        self.changed: list[str] = []
        self.lock = threading.Lock()
        self.stop_watching = threading.Event()

    def run(self) -> int:
        try:
            import watchfiles  # optional: only --reload needs it
        except ImportError:
            raise CliError("--reload needs watchfiles (pip install watchfiles)") from None
        _ensure_logging(self.args.log_level)
        for d in self.dirs:
            if not os.path.isdir(d):
                raise CliError(f"--reload-dir {d}: not a directory")
        sock = self._bind()
        sock.set_inheritable(True)
        logger.info("[reloader] pid %d watching %s for .py changes", os.getpid(), ", ".join(self.dirs))
        watcher = threading.Thread(target=self._watch, args=(watchfiles,), name="ringbolt-reload", daemon=True)
        watcher.start()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        child = self._start(sock)
        code = 0
        try:
            while True:
                if self.signals:
                    if self.bound:  # a stop of the socket we bound (not of one handed to us: --fd)
                        refuse_new_connections([sock.fileno()])  # nothing new is accepted; the child sweeps the queue
                    sock.close()  # first: the child's reactors then close the socket as they drain
                    code = self._stop(child)
                    break
                with self.lock:
                    changed, self.changed = self.changed, []
                if changed:
                    shown = ", ".join(os.path.relpath(p) for p in changed[:3])
                    logger.info("[reloader] %s changed: restarting the server", shown)
                    if child.poll() is None:
                        child.send_signal(signal.SIGTERM)
                        self._wait(child)
                    if self.signals:  # stopped meanwhile: do not start another
                        logger.info("[reloader] stopped")
                        break
                    child = self._start(sock)
                    continue
                if child.returncode is None and child.poll() is not None:
                    logger.warning("[reloader] the server exited with code %d: waiting for a change to restart it",
                                   child.returncode)
                self._sleep()
        finally:
            self.stop_watching.set()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sock.close()
            if self.args.uds:
                try:
                    os.unlink(self.args.uds)
                except OSError:
                    pass
        return code

    def _bind(self) -> socket.socket:
        sock = listen_socket(self.args)
        self.bound = self.args.fd is None  # host:port or --uds: bound here
        if sock is not None:
            return sock
        try:
            return bind_listeners(self.args.host, self.args.port, 1, self.args.backlog or 4096)[0]
        except OSError as exc:
            raise CliError(exc.strerror or str(exc), code=1) from None

    def _child_argv(self, fd: int) -> list[str]:
        # The same command line (options the parent consumed are harmless: the child
        # sees --reload-child-fd and serves), plus the socket to serve.
        return [sys.executable, "-m", "ringbolt", *self.args.argv, "--reload-child-fd", str(fd)]

    def _start(self, sock: socket.socket) -> subprocess.Popen[bytes]:
        fd = sock.fileno()
        child = subprocess.Popen(self._child_argv(fd), pass_fds=(fd,), process_group=0)
        logger.info("[reloader] started the server (pid %d)", child.pid)
        return child

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals.append(signum)

    def _stop(self, child: subprocess.Popen[bytes]) -> int:
        """Forward the signals (the first drains; a second SIGINT forces), wait for the child."""
        forwarded = 0
        while True:
            while forwarded < len(self.signals):
                if child.poll() is None:
                    child.send_signal(self.signals[forwarded])
                forwarded += 1
            try:
                code = child.wait(POLL)
                break
            except subprocess.TimeoutExpired:
                continue
        logger.info("[reloader] stopped")
        return code if code > 0 else 0

    def _wait(self, child: subprocess.Popen[bytes]) -> None:
        """Wait for a child we told to stop (SIGTERM); a Ctrl-C meanwhile forces it."""
        while True:
            try:
                child.wait(POLL)
                return
            except subprocess.TimeoutExpired:
                if signal.SIGINT in self.signals:
                    child.send_signal(signal.SIGINT)  # after our SIGTERM: a second signal, the force
                    child.wait()
                    return

    def _sleep(self) -> None:
        self.stop_watching.wait(POLL)

    def _watch(self, watchfiles: Any) -> None:
        try:
            for changes in watchfiles.watch(*self.dirs, watch_filter=watchfiles.PythonFilter(),
                                            stop_event=self.stop_watching, raise_interrupt=False):
                with self.lock:
                    self.changed.extend(sorted({path for _, path in changes}))
        except Exception as exc:  # noqa: BLE001 - say why reloading stopped, keep serving
            logger.error("[reloader] watching stopped: %s", exc)
