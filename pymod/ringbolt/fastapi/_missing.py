"""FastAPI's and Starlette's modules that have no sense on ringbolt: importing one (as
``ringbolt.fastapi.X``, or as ``fastapi.X``/``starlette.X`` once a service's imports point
here) fails with a ``ModuleNotFoundError`` that says why and what to use instead, not
Python's bare "No module named". A finder placed last on ``sys.meta_path``: it answers
only for these names, after every other finder found nothing."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Sequence

_PACKAGE = "ringbolt.fastapi."

#: module (after "ringbolt.fastapi.") -> why it has no sense here, and what to use instead
MISSING: dict[str, str] = {
    "dependencies": "FastAPI's dependency solver (get_dependant, solve_dependencies) runs per request; ringbolt "
                    "plans each route's dependencies once when it is registered: declare them with Depends and "
                    "replace them in tests with app.dependency_overrides",
    "dependencies.utils": "see ringbolt.fastapi.dependencies: ringbolt plans dependencies once per route "
                          "(Depends, app.dependency_overrides)",
    "dependencies.models": "see ringbolt.fastapi.dependencies: ringbolt plans dependencies once per route",
    "middleware.asyncexitstack": "no exit stack to manage: ringbolt closes the dependencies with yield itself",
    "middleware.sessions": "Starlette's SessionMiddleware: use ringbolt's sessions (ringbolt.sessions, "
                           "docs/sessions.md), signed cookies checked natively",
    "middleware.authentication": "Starlette's AuthenticationMiddleware: authenticate with a Security dependency "
                                 "(ringbolt.fastapi.security, or ringbolt.auth's JWTAuth, docs/auth.md)",
    "authentication": "Starlette's authentication backends: authenticate with a Security dependency "
                      "(ringbolt.fastapi.security, or ringbolt.auth, docs/auth.md)",
    "middleware.errors": "ServerErrorMiddleware is built in: an unhandled exception answers 500 (exception "
                         "handlers: app.exception_handler(Exception))",
    "middleware.exceptions": "ExceptionMiddleware is built in: app.exception_handler(...)",
    "middleware.body_limit": "the request body limit is the server's: ringbolt serve --max-body-size, or "
                             "App.run(max_body_size=...)",
    "middleware.opentelemetry": "ringbolt traces requests itself: app.enable_tracing() (docs/tracing.md)",
    "telemetry": "FastAPI(telemetry={...}) is taken as it is (its tracing; docs/from-fastapi.md), and ringbolt "
                 "traces requests itself: app.enable_tracing() (docs/tracing.md)",
    "endpoints": "Starlette's HTTPEndpoint/WebSocketEndpoint classes: write the handlers as functions with "
                 "@app.get/@app.post/@app.websocket",
    "convertors": "path converters are ringbolt's router's own: {x:int}, {x:float}, {x:uuid}, {x:path} "
                  "(docs/routing.md); a custom converter is a typed path parameter",
    "schemas": "Starlette's SchemaGenerator: the OpenAPI document is app.openapi()",
    "config": "Starlette's Config: read settings with pydantic-settings or os.environ",
    "cli": "FastAPI's CLI: run the app with `ringbolt serve module:app` (docs/cli.md)",
}


class MissingFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PACKAGE):
            return None
        why = MISSING.get(fullname[len(_PACKAGE):])
        if why is None:
            return None
        raise ModuleNotFoundError(f"No module named {fullname!r}: {why}", name=fullname)


def install() -> None:
    if not any(isinstance(f, MissingFinder) for f in sys.meta_path):
        sys.meta_path.append(MissingFinder())
