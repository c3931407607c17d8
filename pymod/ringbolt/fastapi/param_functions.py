"""``fastapi.param_functions``: the markers by FastAPI's function names."""

from ..params import Body, Cookie, Depends, File, Form, Header, Path, Query, Security

__all__ = ["Body", "Cookie", "Depends", "File", "Form", "Header", "Path", "Query", "Security"]
