"""Checks for ``App.static`` arguments (the serving itself is native: http/static_files)."""
from __future__ import annotations

import os
import re

from .errors import require_str

# RFC 3986 pchar minus '%' (a prefix is written decoded and must match raw paths as sent).
_PREFIX_CHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")


def check_static(
    prefix: str,
    directory: str | os.PathLike[str],
    index: str | None,
    cache_control: str | None,
    precompressed: bool,
    dotfiles: bool,
) -> tuple[str, str, str, str, bool, bool]:
    """Validate ``App.static`` arguments; returns what ``Server.add_static`` takes."""
    require_str("static prefix", prefix)
    if not prefix.startswith("/"):
        raise ValueError(f"static prefix must start with '/': {prefix!r}")
    if not _PREFIX_CHARS.fullmatch(prefix):
        raise ValueError(
            f"static prefix {prefix!r} may only hold unreserved path characters (no '%', '?', '#', '{{', spaces)"
        )
    norm = prefix.rstrip("/")
    segments = norm.split("/")[1:]
    if any(seg in ("", ".", "..") for seg in segments):
        raise ValueError(f"static prefix must not hold empty, '.' or '..' segments: {prefix!r}")
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"static directory must be a str or path, not {type(directory).__name__}")
    path = os.fspath(directory)
    if not isinstance(path, str):
        raise TypeError("static directory must be a str path, not bytes")
    if not os.path.isdir(path):
        raise ValueError(f"static directory {path!r} does not exist or is not a directory")
    if index is None:
        index = ""
    if not isinstance(index, str):
        raise TypeError(f"index must be a str or None, not {type(index).__name__}")
    if index and ("/" in index or "\\" in index or "\0" in index or index in (".", "..")):
        raise ValueError(f"index must be a plain file name: {index!r}")
    if cache_control is None:
        cache_control = ""
    if not isinstance(cache_control, str):
        raise TypeError(f"cache_control must be a str or None, not {type(cache_control).__name__}")
    if any(c in cache_control for c in "\r\n\0") or not cache_control.isascii():
        raise ValueError(f"cache_control is not a valid header value: {cache_control!r}")
    return norm, os.path.abspath(path), index, cache_control.strip(), bool(precompressed), bool(dotfiles)
