"""``fastapi.params``: the marker classes (ringbolt.params)."""

from ..params import Body, Cookie, Depends, File, Form, Header, Param, Path, Query, Security

__all__ = ["Body", "Cookie", "Depends", "File", "Form", "Header", "Param", "Path", "Query", "Security"]
