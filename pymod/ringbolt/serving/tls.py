"""TLS helpers of the serve path: the single-process SIGHUP reload (a supervisor
replaces its workers instead, see ``ringbolt.supervisor``)."""

from __future__ import annotations

import logging
import signal
from typing import Any, Callable

logger = logging.getLogger("ringbolt")


def reload_on_sighup(server: Any) -> Callable[[int, Any], None]:
    """A SIGHUP handler: new certificates and keys for new connections; open connections
    keep theirs. Bad files leave the old ones in use (logged, the server goes on)."""

    def on_sighup(signum: int, frame: Any) -> None:
        try:
            server.reload_tls()
        except ValueError as exc:
            logger.error("SIGHUP: TLS reload failed, keeping the current certificates: %s", exc)
        else:
            logger.info("%s received: TLS certificates reloaded for new connections",
                        signal.Signals(signum).name)

    return on_sighup
