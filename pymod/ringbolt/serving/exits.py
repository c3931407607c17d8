"""How a served process ends, shared by the serve path (``serving/app_server.py``) and the
supervisor: the exit codes, the drain margin of a supervised worker and the error of a
failed startup hook. Apart so that a single process imports none of the supervisor."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1  # the server could not start (io_uring, listeners), or an unexpected error
EXIT_STARTUP_HOOK = 3  # a startup hook raised
# With a drain delay a supervised worker begins its drain this long after the delay (its
# supervisor gates the listeners at the delay's end, before any reactor sweeps them).
DRAIN_MARGIN = 0.25
EXIT_FORCED = 130  # a second SIGINT cut the drain short (128 + SIGINT, as a shell reports it)


class StartupHookError(RuntimeError):
    """A startup hook raised (in a supervised worker: it exits with ``EXIT_STARTUP_HOOK``)."""
