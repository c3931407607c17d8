"""An app whose log stream refuses the line a SIGTERM handler writes the way CPython's
stream does when the signal interrupted a write to it (RuntimeError: reentrant call
inside <_io.BufferedWriter name='<stderr>'>), for tests/py/test_drain_faults.py; the
rest of the log goes on to stderr."""

import logging
import os
import sys

from ringbolt import App

app = App()


class InterruptedStream:
    """From the handler's line on, the next two writes are refused: the line, and
    logging's report of the failure (the real stream is still in the interrupted write)."""

    refusing = 0

    def write(self, text: str) -> int:
        if "received: draining" in text and InterruptedStream.refusing == 0:
            InterruptedStream.refusing = 2
        if InterruptedStream.refusing > 0:
            InterruptedStream.refusing -= 1
            raise RuntimeError("reentrant call inside <_io.BufferedWriter name='<stderr>'>")
        return sys.__stderr__.write(text)

    def flush(self) -> None:
        sys.__stderr__.flush()


@app.on_startup
def take_the_log_stream() -> None:
    for handler in logging.getLogger("ringbolt").handlers + logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(InterruptedStream())
    sys.stderr = InterruptedStream()  # logging's own error report goes there too


@app.get("/ping")
def ping(req):
    return {"pid": os.getpid()}
