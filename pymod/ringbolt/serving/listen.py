"""What the CLI and the reloader share below them: ``CliError`` (one line, ``ringbolt:
error: ...``, and an exit code) and the listening socket ``ringbolt serve`` hands to the
server instead of letting it bind host:port: ``--fd`` (inherited), ``--uds`` (bound
here), or the reloader's (``--reload-child-fd``)."""

from __future__ import annotations

import argparse
import os
import socket
import stat

EXIT_USAGE = 2  # bad arguments, an app that cannot be imported (as argparse)


class CliError(Exception):
    """Printed as one line ``ringbolt: error: ...``; exits ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def listen_socket(args: argparse.Namespace) -> socket.socket | None:
    """The socket for --uds / --fd (and the reloader's), or None: the server binds host:port."""
    if args.reload_child_fd is not None:
        return socket.socket(fileno=args.reload_child_fd)
    if args.fd is not None:
        if args.uds:
            raise CliError("--fd and --uds exclude each other")
        return inherited_socket(args.fd)
    if args.uds:
        return bind_unix(args.uds, args.backlog or 4096)
    return None


def inherited_socket(fd: int) -> socket.socket:
    """The listening stream socket ``fd`` (inherited from systemd or a supervisor)."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise CliError(f"--fd {fd}: not a socket ({exc.strerror or exc})") from None
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.detach()
        raise CliError(f"--fd {fd}: not a listening stream socket")
    return sock


def bind_unix(path: str, backlog: int) -> socket.socket:
    """A listening unix socket at ``path`` (mode 0666, like uvicorn). A socket file left
    by a server that is gone is replaced; one a live server accepts on is refused, as a
    TCP port in use is."""
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise CliError(f"--uds {path}: exists and is not a socket", code=1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
            except (ConnectionRefusedError, FileNotFoundError):
                os.unlink(path)  # stale: nobody accepts on it
            else:
                raise CliError(f"cannot listen on unix:{path}: Address already in use (another process serves it)",
                               code=1)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o666)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on unix:{path}: {exc.strerror or exc}", code=1) from None
    return sock
