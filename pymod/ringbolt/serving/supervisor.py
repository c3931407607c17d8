"""The supervisor of worker processes (``App.run(workers=N)``, ``ringbolt serve --workers N``).

Python has one GIL per process, so using every core for Python code needs processes.
The supervisor (the process that called ``App.run``):

- binds the listening sockets once: ``threads`` sockets per worker, each with
  ``SO_REUSEADDR`` and ``SO_REUSEPORT``, bound to host:port, after a probe bind without
  ``SO_REUSEPORT`` has shown that no other process listens there (else: "Address already
  in use"); reactor ``i`` of worker ``w`` accepts from socket ``w * threads + i`` (native
  config ``listen_fds``) only, and worker ``w``'s reactors are pinned from CPU
  ``w * threads`` on (``cpu_offset``). The supervisor keeps the sockets open while it
  serves, so a worker exiting never closes a listener: no connection is refused during
  restarts and reloads, those queued on a slot's listeners wait for its next worker. A
  worker keeps only its own slot's sockets (it closes the others it inherited), and
  hands them to its server, which closes them once its reactors hold their own;
- steers new connections to the listeners of the workers that are ready (a classic BPF
  program on the ``SO_REUSEPORT`` group, ``steer_connections``): the kernel would
  otherwise spread them over every listener, and while a worker is down (or crash-loops
  at start-up) the share hashed to its listeners would wait in their accept queues. Only
  connections already queued on a worker's listeners when it died (or during the few
  milliseconds before the supervisor notices) wait for its successor;
- forks the workers (``os.fork()``, after the app was imported: no re-import); each
  runs ``App.serve_worker`` (startup hooks, server, shutdown hooks) and reports "ready"
  (or its start-up error) over a pipe;
- restarts a worker that dies, with an exponential backoff (0.1 s doubling to 5 s)
  while workers die within a second of starting; if a worker of the first start
  fails, stops everything and raises (the CLI exits 1);
- with ``http3``, binds the UDP sockets the same way (``threads`` per worker, in group
  order, held across restarts; two banks of them where the 256 positions allow: a new
  worker started beside a predecessor that still drains serves the other bank) and
  steers each datagram to the socket whose position the first byte of its QUIC
  connection ID names (``steer_quic``, the native server's program, quic/steering.hpp);
  worker ``w`` of bank ``b`` serves sockets ``(b * workers + w) * threads + i`` (native
  config ``quic_fds``, ``quic_position``) and every worker keys its stateless resets
  with one secret (``quic_secret``) and remembers the 0-RTT ClientHellos it took in one
  shared memfd (``quic_replay_fd``: a replay is refused whichever worker it reaches). A worker that dies leaves its sockets in the group, so no
  other worker's connections move; its successor answers what queued for it with
  stateless resets, which the clients accept. New clients' Initials (a connection ID of
  their own choosing) go only to the sockets of the ready workers, as new TCP
  connections do;
- or serves listeners it is given (``listen_fds``: ``--uds``, ``--fd``, the reloader's
  socket): every worker's reactors accept from those, so the workers that are up take
  every connection and nothing needs steering;
- SIGTERM/SIGINT: closes its listeners, then forwards SIGTERM to the workers (each
  drains), waits up to the graceful timeout + 5 s, SIGKILLs stragglers, returns; a
  second SIGINT (Ctrl-C twice) SIGKILLs the workers at once. Each socket then closes
  with the last reactor accepting from it, right after that reactor swept its accept
  queue, and once all are closed new connections are refused (``_stop_all``);
- SIGHUP: replaces the workers one by one (start a new one, wait until it is ready,
  SIGTERM an old one, wait until it has exited, next);
- ``limit_max_requests``: a worker that reached its limit says so and drains; the
  supervisor starts its replacement at once (not a crash: no backoff).

The supervisor runs no thread (it forks) and does not touch io_uring. It does not import
the App: a worker's side of the protocol (``StartupHookError``, the exit codes) lives in
``exits.py``, which ``App`` imports without this module (a single process needs none of it).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from typing import Any, Callable

from .. import _native
# (the worker's side of the protocol, re-exported: ringbolt.supervisor's names since its start)
from .exits import DRAIN_MARGIN as DRAIN_MARGIN
from .exits import EXIT_ERROR as EXIT_ERROR
from .exits import EXIT_FORCED as EXIT_FORCED
from .exits import EXIT_OK as EXIT_OK
from .exits import EXIT_STARTUP_HOOK as EXIT_STARTUP_HOOK
from .exits import StartupHookError as StartupHookError

logger = logging.getLogger("ringbolt")

BACKOFF_MIN = 0.1
BACKOFF_MAX = 5.0
QUICK_DEATH = 1.0  # a worker dying sooner than this after its start counts towards the backoff
KILL_GRACE = 5.0  # added to graceful_timeout before SIGKILL
_HANDLED = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}  # the supervisor's signals


# A worker's entry point (``App.serve_worker``): called in the forked worker with host,
# port, threads and the keywords listen_fds, cpu_offset, on_ready, on_limit,
# limit_max_requests and the serve options; returns after the drain.
ServeWorker = Callable[..., None]


def describe_status(status: int) -> str:
    """``exit code 3`` / ``signal SIGKILL`` for a ``waitpid`` status."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"signal {name}" + (" (core dumped)" if os.WCOREDUMP(status) else "")
    if os.WIFEXITED(status):
        return f"exit code {os.WEXITSTATUS(status)}"
    return f"status {status}"


def bind_listeners(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """``count`` sockets on host:port with SO_REUSEADDR + SO_REUSEPORT, listening, in the
    order they joined the port's ``SO_REUSEPORT`` group (what ``steer_connections``
    counts on). Port 0: the first socket picks a free port, the others take the same one.

    The native server's own binding (``uring/listener.cpp``) does it, with its probe:
    ``OSError`` "address already in use" when another process listens there.
    """
    return [socket.socket(fileno=fd) for fd in _native.bind_listeners(host, port, count, backlog)]


SO_ATTACH_REUSEPORT_CBPF = 51  # <asm-generic/socket.h>, Linux 4.5
_SKF_AD_RANDOM = (-0x1000 + 56) & 0xFFFFFFFF  # ancillary load: a random u32
_BPF_LD_W_ABS, _BPF_MOD_K, _BPF_JEQ_K, _BPF_RET_K = 0x20, 0x94, 0x15, 0x06
_NO_CHOICE = 0xFFFFFFFF  # an index past the group: the kernel picks by its usual hash
_MAX_QUIC_SOCKETS = 256  # a QUIC connection ID's first byte names the socket (quic/steering.hpp)


def steering_program(live: list[int], total: int) -> list[tuple[int, int, int, int]]:
    """Classic BPF for an ``SO_REUSEPORT`` group of ``total`` sockets: pick one of the
    ``live`` positions (in the order the sockets joined the group) at random. With every
    socket live, or none, it picks nothing and the kernel spreads by its hash over all."""
    if not live or len(live) >= total:
        return [(_BPF_RET_K, 0, 0, _NO_CHOICE)]
    prog = [(_BPF_LD_W_ABS, 0, 0, _SKF_AD_RANDOM), (_BPF_MOD_K, 0, 0, len(live))]
    for n, position in enumerate(live):
        prog += [(_BPF_JEQ_K, 0, 1, n), (_BPF_RET_K, 0, 0, position)]
    prog.append((_BPF_RET_K, 0, 0, _NO_CHOICE))
    return prog


def steer_connections(sock: socket.socket, live: list[int], total: int) -> None:
    """Attach ``steering_program`` to the group ``sock`` belongs to (replacing the last
    one). Raises ``OSError`` where the kernel refuses it."""
    raw = b"".join(struct.pack("=HBBI", *ins) for ins in steering_program(live, total))  # sock_filter[]
    buf = ctypes.create_string_buffer(raw, len(raw))
    fprog = _SockFprog(len(raw) // 8, ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(fprog))


def bind_quic_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` UDP sockets on host:port with SO_REUSEPORT, in group order, for HTTP/3
    (the native server's own binding, ``uring/listener.cpp``). ``OSError`` naming the port."""
    return [socket.socket(fileno=fd) for fd in _native.bind_quic_sockets(host, port, count)]


def steer_quic(sock: socket.socket, total: int, live: list[int] | None = None) -> None:
    """Attach the QUIC steering program to the group ``sock`` belongs to (replacing the
    last one): a datagram with one of our connection IDs goes to the socket at position
    ``dcid[0] % total`` (the first byte names the socket of the reactor that made it); a
    new client's Initial to one of the ``live`` positions (none given, or all: any).
    ``OSError`` where the kernel refuses it."""
    _native.steer_quic(sock.fileno(), total, live or [])


def refuse_new_connections(fds: list[int]) -> None:
    """A stop's first step on the listeners this process bound, before the processes that
    accept from them drain (``_native.refuse_new_connections``): new clients are turned
    away (TCP: their SYNs go unanswered, and they are refused once every descriptor is
    closed; unix: refused at once) while connections under way still reach the queues
    that the reactors sweep as they begin to drain. Closing without it reset a connection
    that completed between a reactor's last sweep and its close, after the client had
    written its request. Not for a listener handed to this process (``--fd``, the
    reloader's): whoever holds it for the next server decides when it stops."""
    for fd in fds:
        try:
            _native.refuse_new_connections(fd)
        except OSError as exc:
            logger.warning("new connections may be reset during this stop (%s)", exc.strerror or exc)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]  # struct sock_fprog


class Worker:
    def __init__(self, pid: int, index: int, generation: int, pipe: int, bank: int = 0) -> None:
        self.pid = pid
        self.index = index  # its slot: its listeners and CPUs (from index * threads on)
        self.bank = bank  # --http3: which of its slot's two sets of UDP sockets it serves
        self.generation = generation
        self.pipe = pipe  # read end of the report pipe (-1 once closed)
        self.buf = b""
        self.started = time.monotonic()
        self.ready = False
        self.retiring: str | None = None  # why it is going away: "reload", "limit", "shutdown"
        self.error: str | None = None  # start-up error it reported


class Supervisor:
    def __init__(
        self,
        serve_worker: ServeWorker,
        *,
        host: str,
        port: int,
        workers: int,
        threads: int,
        log_level: str = "info",
        limit_max_requests: int | None = None,
        options: dict[str, Any] | None = None,
        drain_delay: float = 0.0,
    ) -> None:
        self.serve_worker = serve_worker
        # app.health(drain_delay=): on a stop the workers answer ready 503 and keep
        # serving this long, on listeners kept open, before anything drains.
        self.drain_delay = drain_delay
        self.host = host
        self.port = port
        self.count = workers
        self.threads = threads
        self.log_level = log_level
        self.limit_max_requests = limit_max_requests
        self.options = dict(options or {})
        self.given_fds: list[int] = list(self.options.pop("listen_fds", None) or [])
        # the CLI bound them (--uds), so their stop is this one; not --fd, not the reloader's
        self.owns_given = bool(self.options.pop("owns_listeners", False))
        self.bind_name: str | None = self.options.get("bind_name")
        for key in ("cpu_offset", "threads", "host", "port"):
            self.options.pop(key, None)
        self.graceful_timeout = float(self.options.get("graceful_timeout", 30))
        self.backlog = int(self.options.get("backlog", 4096))
        self.listeners: list[socket.socket] = []
        self.quic_sockets: list[socket.socket] = []  # --http3: UDP, threads per worker, in group order
        self.quic_banks = 1  # sets of workers x threads UDP sockets (_bind_quic)
        self.slot_bank: dict[int, int] = {}  # the bank each slot's newest worker serves
        self.workers: dict[int, Worker] = {}
        self.generation = 0
        self.signals: list[int] = []
        self.wake_r = self.wake_w = -1
        self.backoff = 0.0
        self.next_spawn = 0.0
        # The slots (worker indexes) that have had a ready worker. Counted by slot, not
        # over the live workers: a worker that was ready and died before the others'
        # reports were read still counts.
        self.slots_ready: set[int] = set()
        self.stopping = False
        self.reloading = False
        self.forced = False  # a second SIGINT cut the drain short
        self.steered: list[int] | None = None  # the listener positions new connections go to
        self.quic_steered: list[int] | None = None  # the UDP positions new QUIC clients go to

    @property
    def booting(self) -> bool:
        """Until a worker has been ready in each of the N slots."""
        return len(self.slots_ready) < self.count

    # ---- logging ----
    def log(self, level: int, msg: str, *args: Any) -> None:
        logger.log(level, "[supervisor] " + msg, *args)

    # ---- entry point ----
    def run(self) -> None:
        """Serve until SIGTERM/SIGINT. Raises ``OSError`` (bind) or ``RuntimeError`` (a
        worker of the first start failed) after having stopped everything."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("workers > 1 needs App.run to be called from the main thread (signals, fork)")
        # The handlers go in before the port accepts: a SIGTERM from then on drains.
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _HANDLED}
        previous_wakeup = signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        failure: str | None = None
        # The memory the workers' rate limits count in (dispatch/rate_limit.hpp): one limit
        # across them all and their successors. Empty until a worker with limits sizes it.
        self.options["rate_limit_fd"] = os.memfd_create("ringbolt-rate-limit", os.MFD_CLOEXEC)
        try:
            if self.given_fds:
                where = self.bind_name or f"inherited socket {self.given_fds[0]}"
                if self.options.get("http3"):  # QUIC on the UDP port of the listener handed over (--fd)
                    probe = socket.socket(fileno=os.dup(self.given_fds[0]))
                    try:
                        address = probe.getsockname()
                    finally:
                        probe.close()
                    if isinstance(address, tuple):  # (a unix socket: the server refuses http3 itself)
                        self._bind_quic(address[0], address[1])
            else:
                self.listeners = bind_listeners(self.host, self.port, self.count * self.threads, self.backlog)
                port = self.listeners[0].getsockname()[1]
                if self.options.get("http3"):
                    self._bind_quic(self.host, port)
                scheme = "https" if self.options.get("ssl_certfile") else "http"
                where = "%s://%s:%d" % (scheme, self.host if ":" not in self.host else f"[{self.host}]", port)
            self.log(logging.INFO, "pid %d listening on %s (workers: %d, threads per worker: %d)",
                     os.getpid(), where, self.count, self.threads)
            failure = self._loop()
        finally:
            self._stop_all()
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._close_listeners()
            os.close(self.wake_r)
            os.close(self.wake_w)
        if failure is not None:
            raise RuntimeError(failure)
        if self.forced:
            raise SystemExit(EXIT_FORCED)
        self.log(logging.INFO, "stopped")

    def _bind_quic(self, host: str, port: int) -> None:
        """The workers' UDP sockets on the HTTPS port, steered by connection ID, and the
        secret their stateless resets share."""
        # Two banks of workers x threads sockets where positions allow: a slot's new worker
        # serves the bank its draining predecessor does not (a reload, a request limit).
        self.quic_banks = 2 if 2 * self.count * self.threads <= _MAX_QUIC_SOCKETS else 1
        total = self.quic_banks * self.count * self.threads
        self.quic_sockets = bind_quic_sockets(host, port, total)
        try:
            steer_quic(self.quic_sockets[0], total)
        except OSError as exc:
            self.log(logging.WARNING, "HTTP/3: cannot steer datagrams by connection ID (%s): the kernel spreads "
                     "them by address, and new clients may wait for a worker that is down",
                     exc.strerror or exc)
        self.options["quic_secret"] = os.urandom(32)
        # The memory every worker (and each successor: they are forked from here) remembers
        # the ClientHellos whose 0-RTT data it took in, so that a replay of one is refused
        # whichever worker the steering sends it to (quic/replay_store.hpp).
        self.options["quic_replay_fd"] = os.memfd_create("ringbolt-quic-replay", os.MFD_CLOEXEC)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals.append(signum)

    # ---- the loop ----
    def _loop(self) -> str | None:
        """Returns None on a requested shutdown, an error message on a failed first start."""
        while True:
            while self.signals:
                sig = self.signals.pop(0)
                if sig in (signal.SIGTERM, signal.SIGINT):
                    self.log(logging.INFO, "%s received: draining %d worker(s)", signal.Signals(sig).name,
                             len(self.workers))
                    return None
                if sig == signal.SIGHUP:
                    self.generation += 1
                    self.reloading = True
                    self.log(logging.INFO, "SIGHUP received: replacing workers one by one")
            failure = self._reap()
            if failure is not None:
                return failure
            self._spawn_as_needed()
            self._steer()
            self._wait_events(self._timeout())

    def _timeout(self) -> float:
        if self.next_spawn > time.monotonic():
            return min(0.5, max(0.0, self.next_spawn - time.monotonic()))
        return 0.5

    def _wait_events(self, timeout: float) -> None:
        fds = [self.wake_r] + [w.pipe for w in self.workers.values() if w.pipe >= 0]
        try:
            readable, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            return
        for fd in readable:
            if fd == self.wake_r:
                try:
                    while os.read(self.wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
                continue
            for w in list(self.workers.values()):
                if w.pipe == fd:
                    self._read_reports(w)

    def _read_reports(self, w: Worker) -> None:
        try:
            data = os.read(w.pipe, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            os.close(w.pipe)
            w.pipe = -1
            return
        w.buf += data
        while b"\n" in w.buf:
            line, w.buf = w.buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            event = msg.get("event")
            if event == "ready":
                w.ready = True
                was_booting = self.booting
                self.slots_ready.add(w.index)
                self.log(logging.INFO, "worker %d (pid %d) ready", w.index, w.pid)
                if was_booting and not self.booting:
                    self.log(logging.INFO, "all %d workers ready", self.count)
            elif event == "error":
                w.error = str(msg.get("message", "unknown error"))
            elif event == "limit":
                w.retiring = "limit"
                self.log(logging.INFO, "worker %d (pid %d) reached its request limit: starting its replacement",
                         w.index, w.pid)

    def _reap(self) -> str | None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid == 0:
                return None
            w = self.workers.pop(pid, None)
            if w is None:
                continue
            if w.pipe >= 0:  # a last report may still sit in the pipe
                self._read_reports(w)
                if w.pipe >= 0:
                    os.close(w.pipe)
                    w.pipe = -1
            lived = time.monotonic() - w.started
            how = describe_status(status)
            clean = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
            if w.retiring is not None:
                self.log(logging.INFO, "worker %d (pid %d) exited (%s, %s)", w.index, pid, how, w.retiring)
            elif not w.ready and (self.booting or not clean):
                why = w.error or f"worker exited with {how} before it was ready"
                self.log(logging.ERROR, "worker %d (pid %d) failed to start (%s): %s", w.index, pid, how, why)
                # Only a first start fails the whole start: once a slot has had a ready
                # worker, the app can start, and its replacements crash-loop with backoff
                # (also while another slot's "ready" report is still unread).
                if self.booting and w.index not in self.slots_ready:
                    return f"worker failed to start: {why}"
            elif clean:
                self.log(logging.INFO, "worker %d (pid %d) exited (%s): replacing it", w.index, pid, how)
            else:
                self.log(logging.WARNING, "worker %d (pid %d) died (%s) after %.1f s: replacing it",
                         w.index, pid, how, lived)
            if w.retiring is None and (not clean or not w.ready) and lived < QUICK_DEATH:
                self.backoff = BACKOFF_MIN if self.backoff == 0 else min(BACKOFF_MAX, self.backoff * 2)
                self.next_spawn = time.monotonic() + self.backoff
                self.log(logging.WARNING, "workers die quickly: next start in %.1f s", self.backoff)
            elif w.retiring is None and not clean:
                self.backoff = 0.0

    def _steer(self) -> None:
        """New connections go to the listeners of the ready workers that are not going
        away (a slot being replaced keeps its share while its old worker still serves)."""
        ready = {w.index for w in self.workers.values() if w.ready and w.retiring is None}
        live = [i * self.threads + t for i in sorted(ready) for t in range(self.threads)]
        # New QUIC clients: the ready workers' sockets; before any is ready, those of the
        # workers starting (not the other bank's, which nobody reads).
        serving = [w for w in self.workers.values() if w.retiring is None]
        chosen = [w for w in serving if w.ready] or serving
        self._steer_quic(sorted(self._quic_first(w.bank, w.index) + t for w in chosen for t in range(self.threads)))
        if not self.listeners:
            return  # given listeners are shared by every worker
        if live == self.steered:
            return
        try:
            steer_connections(self.listeners[0], live, len(self.listeners))
        except OSError as exc:
            self.log(logging.WARNING, "cannot steer new connections to the ready workers (%s): a worker that is "
                     "down keeps its share of them waiting", exc.strerror or exc)
            self.steered = live
            return
        if self.steered is not None or len(live) < len(self.listeners):
            self.log(logging.DEBUG, "new connections go to the listeners of workers %s", sorted(ready))
        self.steered = live

    def _quic_first(self, bank: int, index: int) -> int:
        """The group position of the first UDP socket of slot ``index`` in ``bank``."""
        return (bank * self.count + index) * self.threads

    def _steer_quic(self, live: list[int]) -> None:
        """New QUIC clients go to the UDP sockets of the ready workers too; packets of a
        connection always go to the socket its ID names (``steer_quic``)."""
        if not self.quic_sockets or live == self.quic_steered:
            return
        try:
            steer_quic(self.quic_sockets[0], len(self.quic_sockets), live)
        except OSError as exc:
            self.log(logging.WARNING, "HTTP/3: cannot steer new clients to the ready workers (%s)",
                     exc.strerror or exc)
        self.quic_steered = live

    def _active(self) -> list[Worker]:
        return [w for w in self.workers.values() if w.retiring is None]

    def _spawn_as_needed(self) -> None:
        if self.stopping or time.monotonic() < self.next_spawn:
            return
        active = self._active()
        occupied = {w.index for w in active}
        for index in range(self.count):
            if index not in occupied:
                self._spawn(index)
        if not self.reloading or self.booting:
            return
        active = self._active()
        old = [w for w in active if w.generation < self.generation]
        if any(w.retiring == "reload" for w in self.workers.values()):
            return  # wait until the previous old worker has exited
        if not old:
            self.reloading = False
            self.log(logging.INFO, "reload complete")
            return
        if any(not w.ready for w in active):
            return  # wait until the new worker is ready
        victim = min(old, key=lambda w: w.index)
        if not any(w.index == victim.index and w.generation == self.generation for w in active):
            self._spawn(victim.index)  # its successor, on the same listeners
            return
        victim.retiring = "reload"
        self.log(logging.INFO, "worker %d (pid %d): SIGTERM (reload)", victim.index, victim.pid)
        self._kill(victim.pid, signal.SIGTERM)

    # ---- workers ----
    def _spawn(self, index: int) -> Worker:
        # A worker replacing one that died serves its bank (and answers what queued there);
        # one starting beside a predecessor that still drains (a reload, a request limit)
        # the other bank, so no packet of the old worker's connections reaches it.
        bank = self.slot_bank.get(index, 0)
        if self.quic_banks == 2 and any(o.index == index and o.bank == bank for o in self.workers.values()):
            bank = 1 - bank
        self.slot_bank[index] = bank
        r, w = os.pipe()
        # The signals stay blocked across the fork until the worker has reset their
        # handlers: a SIGTERM sent (by _stop_all) to a worker still in that window would
        # otherwise run the supervisor's handler in the worker and be lost, and the worker
        # would serve on until the SIGKILL after the graceful timeout.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED)
        pid = os.fork()
        if pid == 0:  # the worker; never returns
            os.close(r)
            self._worker_main(index, bank, w, mask)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(w)
        os.set_blocking(r, False)
        worker = Worker(pid, index, self.generation, r, bank)
        self.workers[pid] = worker
        self.log(logging.INFO, "started worker %d (pid %d)", index, pid)
        return worker

    def _worker_main(self, index: int, bank: int, report_fd: int, mask: set[int | signal.Signals]) -> None:
        code = EXIT_ERROR
        try:
            code = self._worker_body(index, bank, report_fd, mask)
        except BaseException:  # noqa: BLE001 - a worker must never return into the supervisor's stack
            try:
                traceback.print_exc()
            except BaseException:  # noqa: BLE001
                pass
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)

    def _worker_body(self, index: int, bank: int, report_fd: int, mask: set[int | signal.Signals]) -> int:
        pid = os.getpid()
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloads are the supervisor's business
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a SIGTERM that came meanwhile acts now
        os.close(self.wake_r)
        os.close(self.wake_w)
        for other in self.workers.values():
            if other.pipe >= 0:
                os.close(other.pipe)
        self.workers = {}
        # This worker keeps exactly the listeners it serves, and hands them to the server,
        # which closes them once its reactors hold their own: a descriptor of a listener
        # left open here (another slot's, inherited through the fork, or its own) would
        # keep the socket accepting after its reactors drained it, until this process
        # exits and the kernel resets what was queued.
        own = self.listeners[index * self.threads:(index + 1) * self.threads]
        listen_fds = list(self.given_fds) or [sock.detach() for sock in own]
        for sock in self.listeners:
            sock.close()  # the others (and ours, detached: a no-op)
        self.listeners = []
        quic: dict[str, Any] = {}
        if self.quic_sockets:  # the same for the UDP sockets: a worker holds only its slot's
            first = self._quic_first(bank, index)
            own_udp = self.quic_sockets[first:first + self.threads]
            quic = {"quic_fds": [sock.detach() for sock in own_udp], "quic_position": first}
            for sock in self.quic_sockets:
                sock.close()
            self.quic_sockets = []
        self.given_fds = []
        logger.addFilter(_PidPrefix(f"[worker {pid}] "))

        def report(**msg: Any) -> None:
            try:
                os.write(report_fd, json.dumps(msg).encode() + b"\n")
            except OSError:
                pass

        try:
            self.serve_worker(
                self.host,
                self.port,
                self.threads,
                limit_max_requests=self.limit_max_requests,
                on_ready=lambda info: report(event="ready", port=info["port"]),
                on_limit=lambda: report(event="limit"),
                listen_fds=listen_fds,
                cpu_offset=index * self.threads,
                **quic,
                **self.options,
            )
        except StartupHookError as exc:
            logger.error("%s", exc, exc_info=exc.__cause__ or exc)
            report(event="error", message=str(exc))
            return EXIT_STARTUP_HOOK
        except (OSError, RuntimeError, ValueError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            logger.error("cannot start: %s", message)
            report(event="error", message=message)
            return EXIT_ERROR
        return EXIT_OK

    def _kill(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def _close_listeners(self) -> None:
        """Drop the supervisor's descriptors of the listening sockets (those it bound and
        those the CLI handed over). The workers hold their own: each socket closes when
        the last reactor accepting from it has drained its accept queue."""
        for sock in self.listeners + self.quic_sockets:
            sock.close()
        self.listeners = []
        self.quic_sockets = []
        for fd in self.given_fds:
            os.close(fd)
        self.given_fds = []

    def _stop_all(self) -> None:
        """Close the supervisor's listeners, SIGTERM every worker, wait (graceful timeout
        + 5 s), SIGKILL the rest, reap.

        The listeners close first. Kept open while the workers drain (as they once
        were), each held every connection the kernel completed after its worker's
        reactors had swept their accept queue and closed their descriptors: nobody
        accepted them, and they were reset when the supervisor closed the sockets at the
        end (clients had written their requests). Closed here, before the workers are
        told, a socket closes with its worker's last reactor, right after that reactor's
        final sweep; from then on new connections go to listeners still open, and once
        none is, the kernel refuses them (ECONNREFUSED: nothing was sent, a client
        retries)."""
        self.stopping = True
        if self.drain_delay > 0:
            # The workers first: their ready probes answer 503 while every listener still
            # takes new connections; each begins its drain DRAIN_MARGIN after this delay,
            # so the listeners are gated below before any reactor sweeps them.
            for w in self.workers.values():
                w.retiring = "shutdown"
                self._kill(w.pid, signal.SIGTERM)
            until = time.monotonic() + self.drain_delay
            while self.workers and time.monotonic() < until and signal.SIGINT not in self.signals:
                self._reap()
                self._wait_events(min(0.05, max(0.0, until - time.monotonic())))
        refuse_new_connections([s.fileno() for s in self.listeners] + (self.given_fds if self.owns_given else []))
        self._close_listeners()
        for w in self.workers.values():
            if w.retiring != "shutdown":
                w.retiring = "shutdown"
                self._kill(w.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.graceful_timeout + KILL_GRACE + DRAIN_MARGIN
        while self.workers and time.monotonic() < deadline:
            self._reap()
            if not self.workers:
                break
            forced = False
            while self.signals:  # a second SIGINT (Ctrl-C twice) cuts the drain short; SIGTERM does not
                forced = self.signals.pop(0) == signal.SIGINT or forced
            if forced:
                self.log(logging.WARNING, "SIGINT received again: SIGKILL to %d worker(s)", len(self.workers))
                self.forced = True
                break
            self._wait_events(min(0.2, max(0.0, deadline - time.monotonic())))
        for w in self.workers.values():
            if time.monotonic() >= deadline:
                self.log(logging.WARNING, "worker %d (pid %d) still running after %.0f s: SIGKILL",
                         w.index, w.pid, self.graceful_timeout + KILL_GRACE)
            self._kill(w.pid, signal.SIGKILL)
        for pid in list(self.workers):
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                continue
            w = self.workers.pop(pid)
            self.log(logging.INFO, "worker %d (pid %d) exited (%s)", w.index, pid, describe_status(status))
        for w in self.workers.values():
            if w.pipe >= 0:
                os.close(w.pipe)
        self.workers = {}


class _PidPrefix(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_ringbolt_prefixed", False):
            record.msg = self.prefix + str(record.msg)
            record._ringbolt_prefixed = True
        return True
