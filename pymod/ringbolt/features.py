"""The native response features an App turns on: compression, CORS, request ids and
security headers. This module only checks and records the options; every request is
handled in C++ (``http/response_features.cpp``), with no Python per request."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

_ALGORITHMS = ("zstd", "br", "gzip")
_LEVELS = {"zstd": (1, 19), "br": (0, 11), "gzip": (1, 9)}


def _names(value: str | Iterable[str], what: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    out = list(value)
    for v in out:
        if not isinstance(v, str):
            raise TypeError(f"{what} must be strings, not {type(v).__name__}")
    return out


class ResponseFeatures:
    """What ``App.enable_compression/cors/request_id/security_headers`` asked for."""

    def __init__(self) -> None:
        self.compression: tuple[int, list[str], list[int], list[str]] | None = None
        self.cors: tuple[list[str], list[str], list[str], bool, list[str], int] | None = None
        self.request_id: str | None = None
        self.security: list[tuple[str, str]] | None = None

    def set_compression(self, min_size: int, algorithms: Iterable[str], level: int | Mapping[str, int] | None,
                        exclude_types: Iterable[str]) -> None:
        if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 0:
            raise ValueError(f"min_size must be a non-negative int, not {min_size!r}")
        algos = _names(algorithms, "algorithms")
        if not algos:
            raise ValueError("algorithms must name at least one of 'zstd', 'br', 'gzip'")
        for a in algos:
            if a not in _ALGORITHMS:
                raise ValueError(f"unknown compression algorithm {a!r} (use 'zstd', 'br' or 'gzip')")
        if len(set(algos)) != len(algos):
            raise ValueError(f"an algorithm is listed twice in {algos!r}")
        levels: list[int] = []
        if isinstance(level, Mapping):
            unknown = set(level) - set(algos)
            if unknown:
                raise ValueError(f"level names algorithms that are not enabled: {sorted(unknown)!r}")
        for a in algos:
            lv = level.get(a) if isinstance(level, Mapping) else level
            if lv is None:
                levels.append(-1)
                continue
            if isinstance(lv, bool) or not isinstance(lv, int):
                raise TypeError(f"level must be an int, not {type(lv).__name__}")
            lo, hi = _LEVELS[a]
            if not lo <= lv <= hi:
                raise ValueError(f"compression level {lv} is out of range for {a} ({lo}-{hi})")
            levels.append(lv)
        self.compression = (min_size, algos, levels, _names(exclude_types, "exclude_types"))

    def set_cors(self, allow_origins: str | Iterable[str], allow_methods: str | Iterable[str],
                 allow_headers: str | Iterable[str], allow_credentials: bool, expose_headers: str | Iterable[str],
                 max_age: int | None) -> None:
        origins = _names(allow_origins, "allow_origins")
        if not origins:
            raise ValueError("allow_origins must list at least one origin (or '*')")
        if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0):
            raise ValueError(f"max_age must be a non-negative int or None, not {max_age!r}")
        self.cors = (origins, _names(allow_methods, "allow_methods"), _names(allow_headers, "allow_headers"),
                     bool(allow_credentials), _names(expose_headers, "expose_headers"),
                     -1 if max_age is None else max_age)

    def set_security(self, *, content_type_options: bool, frame_options: str | None, referrer_policy: str | None,
                     hsts: bool | int, hsts_include_subdomains: bool, hsts_preload: bool,
                     content_security_policy: str | None, cross_origin_opener_policy: str | None,
                     extra: Mapping[str, str]) -> None:
        fields: list[tuple[str, str]] = []
        if content_type_options:
            fields.append(("X-Content-Type-Options", "nosniff"))
        if frame_options is not None:
            if frame_options.upper() not in ("DENY", "SAMEORIGIN"):
                raise ValueError(f"frame_options must be 'DENY', 'SAMEORIGIN' or None, not {frame_options!r}")
            fields.append(("X-Frame-Options", frame_options.upper()))
        if referrer_policy is not None:
            fields.append(("Referrer-Policy", referrer_policy))
        if hsts is not False:
            age = 31536000 if hsts is True else hsts
            if isinstance(age, bool) or not isinstance(age, int) or age < 0:
                raise ValueError(f"hsts must be False, True or a max-age in seconds, not {hsts!r}")
            value = f"max-age={age}"
            if hsts_include_subdomains:
                value += "; includeSubDomains"
            if hsts_preload:
                value += "; preload"
            fields.append(("Strict-Transport-Security", value))
        if content_security_policy is not None:
            fields.append(("Content-Security-Policy", content_security_policy))
        if cross_origin_opener_policy is not None:
            fields.append(("Cross-Origin-Opener-Policy", cross_origin_opener_policy))
        for name, value in extra.items():
            fields.append((name, value))
        names = [n.lower() for n, _ in fields]
        if len(set(names)) != len(names):
            raise ValueError("a security header is set twice")
        self.security = fields

    def apply(self, server: Any) -> None:
        """Hand the options to the native server (it checks header names and values)."""
        if self.compression is not None:
            server.enable_compression(*self.compression)
        if self.cors is not None:
            server.enable_cors(*self.cors)
        if self.request_id is not None:
            server.enable_request_id(self.request_id)
        if self.security is not None:
            server.enable_security_headers(self.security)
