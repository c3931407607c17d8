"""``FastAPI``: ringbolt's ``App`` with FastAPI's constructor, its conventions
(``conventions="fastapi"``: ``{"detail": ...}`` error bodies, redirects, return encoding,
the OpenAPI document's error schemas) and its app-level calls: ``exception_handler``
with a Starlette-style ``(request, exc)`` handler, ``middleware("http")``,
``add_middleware`` for the middleware ringbolt runs itself, ``on_event``, ``mount``,
``state``."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

from ..app import App
from .datastructures import State
from .requests import request_of
from .routing import _FastAPIRoutes


class FastAPI(_FastAPIRoutes, App):
    """A ringbolt app that behaves as a FastAPI app (see the module's docstring)."""

    _plain_handlers = False  # FastAPI plans every handler: def h(item_id) takes a value

    def __init__(self, *, debug: bool = False, routes: Sequence[Any] | None = None, title: str = "FastAPI",
                 summary: str | None = None, description: str = "", version: str = "0.1.0",
                 openapi_url: str | None = "/openapi.json", openapi_tags: list[dict[str, Any]] | None = None,
                 servers: list[dict[str, Any]] | None = None, dependencies: Sequence[Any] | None = None,
                 default_response_class: Any = None, redirect_slashes: bool = True, docs_url: str | None = "/docs",
                 redoc_url: str | None = "/redoc", swagger_ui_oauth2_redirect_url: str | None = "/docs/oauth2-redirect",
                 swagger_ui_init_oauth: dict[str, Any] | None = None, middleware: Sequence[Any] | None = None,
                 exception_handlers: dict[Any, Callable[..., Any]] | None = None,
                 on_startup: Sequence[Callable[[], Any]] | None = None,
                 on_shutdown: Sequence[Callable[[], Any]] | None = None, lifespan: Any = None,
                 terms_of_service: str | None = None, contact: dict[str, Any] | None = None,
                 license_info: dict[str, Any] | None = None, openapi_prefix: str = "", root_path: str = "",
                 root_path_in_servers: bool = True, responses: dict[int | str, Any] | None = None,
                 callbacks: Any = None, webhooks: Any = None, deprecated: bool | None = None,
                 include_in_schema: bool = True, swagger_ui_parameters: dict[str, Any] | None = None,
                 generate_unique_id_function: Any = None, separate_input_output_schemas: bool = True,
                 **extra: Any) -> None:
        super().__init__(debug=debug, title=title, version=version, summary=summary,
                         description=description or None, openapi_url=openapi_url, docs_url=docs_url,
                         redoc_url=redoc_url, openapi_tags=openapi_tags, servers=servers,
                         terms_of_service=terms_of_service, contact=contact, license_info=license_info,
                         swagger_ui_parameters=swagger_ui_parameters, swagger_ui_init_oauth=swagger_ui_init_oauth,
                         conventions="fastapi")
        self._route_dependencies = list(dependencies or ())
        self.state = State()
        self.extra = extra
        self.redirect_slashes = redirect_slashes
        self.root_path = root_path
        self.separate_input_output_schemas = separate_input_output_schemas
        self.webhooks = webhooks
        for exc_type, handler in (exception_handlers or {}).items():
            self.add_exception_handler(exc_type, handler)
        for fn in on_startup or ():
            self.on_startup(fn)
        for fn in on_shutdown or ():
            self.on_shutdown(fn)
        if lifespan is not None:
            self._use_lifespan(lifespan)
        for mw in middleware or ():
            cls, args, kwargs = mw
            self.add_middleware(cls, *args, **kwargs)

    # ---- errors ----
    def add_exception_handler(self, exc_class_or_status_code: Any, handler: Callable[..., Any]) -> None:
        if isinstance(exc_class_or_status_code, int):
            raise NotImplementedError("exception handlers by status code are not supported yet")
        app = self
        if inspect.iscoroutinefunction(handler):
            async def call_async(req: Any, exc: Any) -> Any:
                return await handler(request_of(req, app), exc)
            self._exception_handlers[exc_class_or_status_code] = call_async
        else:
            def call(req: Any, exc: Any) -> Any:
                return handler(request_of(req, app), exc)
            self._exception_handlers[exc_class_or_status_code] = call

    def exception_handler(self, exc_class_or_status_code: Any) -> Callable[[Any], Any]:
        def decorator(fn: Any) -> Any:
            self.add_exception_handler(exc_class_or_status_code, fn)
            return fn
        return decorator

    # ---- middleware ----
    def middleware(self, middleware_type: Any) -> Any:
        """``@app.middleware("http")``: ``async def mw(request, call_next)``."""
        if middleware_type != "http":
            raise ValueError(f"only @app.middleware('http') is supported, not {middleware_type!r}")
        app = self

        def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            async def mw(req: Any, call_next: Any) -> Any:
                async def next_(request: Any) -> Any:
                    return await call_next(req)
                return await fn(request_of(req, app), next_)
            App.middleware(self, mw)
            return fn
        return decorator

    def add_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        install = getattr(middleware_class, "_rb_install", None)
        if install is None:
            raise TypeError(f"ringbolt.fastapi cannot run the ASGI middleware {middleware_class!r} around its routes: "
                            "write it as @app.middleware('http'), or serve the unchanged FastAPI app with "
                            "`ringbolt serve`, which runs any middleware")
        install(self, *args, **kwargs)

    def _rb_add_check(self, fn: Callable[..., Any]) -> None:
        """A check that runs before every route and its middleware (TrustedHost...)."""
        self._middleware.insert(0, fn)

    # ---- lifecycle ----
    def on_event(self, event_type: str) -> Callable[[Any], Any]:
        def decorator(fn: Any) -> Any:
            if event_type == "startup":
                self.on_startup(fn)
            elif event_type == "shutdown":
                self.on_shutdown(fn)
            else:
                raise ValueError(f"unknown event {event_type!r} (startup or shutdown)")
            return fn
        return decorator

    def _use_lifespan(self, lifespan: Any) -> None:
        held: list[Any] = []
        app = self

        async def start() -> None:
            cm = lifespan(app)
            state = await cm.__aenter__()
            held.append(cm)
            if state:
                for key, value in dict(state).items():
                    setattr(app.state, key, value)

        async def stop() -> None:
            while held:
                await held.pop().__aexit__(None, None, None)

        self.on_startup(start)
        self.on_shutdown(stop)

    # ---- mounts ----
    def mount(self, path: str, app: Any, name: str | None = None) -> None:
        mount = getattr(app, "_rb_mount", None)
        if mount is None:
            raise TypeError(f"ringbolt.fastapi cannot mount {app!r} at {path!r} yet")
        mount(self, path)
