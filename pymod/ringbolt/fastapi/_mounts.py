"""``app.mount(path, app, name=...)`` on a ringbolt.fastapi app, by what is mounted:

- ``StaticFiles``: the directory served natively under the path;
- a ringbolt app (``FastAPI``, ``App``): its routes served under the path by the same
  server, each planned and answered as that app plans and answers them (its exception
  handlers, middleware, dependency overrides and document), its static directories too;
  its lifespan does not run, as Starlette runs none of a mounted app's;
- a WSGI app (``WSGIMiddleware(wsgi_app)``, Starlette's or a2wsgi's): on ringbolt's WSGI
  server, its thread pool, with ``SCRIPT_NAME`` the path;
- any other ASGI app: through ringbolt's ASGI server, its scope's ``root_path`` the path
  (and ``path`` the whole path, as Starlette's ``Mount`` gives it).

The WSGI and ASGI apps take what no route of the app takes: a path under none of their
mounts is FastAPI's 404 ``{"detail": "Not Found"}``. An app takes WSGI mounts or ASGI
mounts, not both (one server fallback): the error says so."""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from ..app import App

_NOT_FOUND = b'{"detail":"Not Found"}'


def _under(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith(prefix + "/")


class WSGIMounts:
    """The WSGI apps mounted on one app, by path prefix (the server's fallback)."""

    def __init__(self) -> None:
        self.mounts: list[tuple[str, Callable[..., Any]]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, app in self.mounts:
            if _under(path, prefix):
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                environ["PATH_INFO"] = path[len(prefix):]
                return app(environ, start_response)  # type: ignore[no-any-return]
        start_response("404 Not Found", [("content-type", "application/json"),
                                         ("content-length", str(len(_NOT_FOUND)))])
        return [_NOT_FOUND]


class ASGIMounts:
    """The ASGI apps mounted on one app, by path prefix (the server's fallback). Their
    lifespans do not run (Starlette runs none of a mounted app's)."""

    def __init__(self) -> None:
        self.mounts: list[tuple[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":  # (mounted with lifespan="off": not sent)
            return
        path = scope["path"]
        for prefix, app in self.mounts:
            if _under(path, prefix):
                child = dict(scope)
                child["app_root_path"] = scope.get("app_root_path", scope.get("root_path", ""))
                child["root_path"] = scope.get("root_path", "") + prefix
                await app(child, receive, send)
                return
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1000, "reason": ""})
            return
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(_NOT_FOUND)).encode())]})
        await send({"type": "http.response.body", "body": _NOT_FOUND})


def _wsgi_of(app: Any) -> Callable[..., Any] | None:
    """The WSGI app inside a WSGI-to-ASGI adapter (ringbolt.fastapi's, Starlette's or
    a2wsgi's ``WSGIMiddleware``), else None."""
    from .middleware.wsgi import WSGIMiddleware
    if isinstance(app, WSGIMiddleware):
        return app.app  # type: ignore[no-any-return]
    cls = type(app)
    if cls.__name__ == "WSGIMiddleware" and cls.__module__.split(".")[0] == "a2wsgi" and callable(
            getattr(app, "app", None)):
        return app.app  # type: ignore[no-any-return]
    return None


def mount(owner: App, path: str, app: Any, name: str | None) -> None:
    """Mount ``app`` at ``path`` on ``owner`` (see the module's docstring)."""
    from .staticfiles import StaticFiles
    if path and (not path.startswith("/") or "{" in path):
        raise ValueError(f"a mount path starts with '/' and holds no parameters: {path!r}")
    names: dict[str, tuple[str, Any]] = owner.__dict__.setdefault("_mount_names", {})
    if name is not None:
        names[name] = (path, app)
    if isinstance(app, StaticFiles):
        app._rb_mount(owner, path)
        return
    if isinstance(app, App):
        if app is owner:
            raise ValueError("an app cannot be mounted on itself")
        app.__dict__["_mount_parent"] = owner
        app.__dict__["_mount_prefix"] = path
        owner._mounted_apps.append((path, app))
        if name is None:
            names.setdefault("", (path, app))  # searched for its route names by url_path_for
        return
    wsgi = _wsgi_of(app)
    if wsgi is not None:
        if owner._asgi is not None:
            raise ValueError(f"cannot mount the WSGI app {wsgi!r} at {path!r}: this app mounts ASGI apps, and "
                             "ringbolt serves one kind of mounted app per app (mount the WSGI app on an ASGI "
                             "adapter, a2wsgi's, on a sub-app instead)")
        if owner._wsgi is None:
            owner.mount_wsgi(WSGIMounts())
        mounts = getattr(owner._wsgi, "app", None)
        if not isinstance(mounts, WSGIMounts):
            raise ValueError(f"cannot mount the WSGI app {wsgi!r} at {path!r}: the app serves one with mount_wsgi")
        mounts.mounts.append((path, wsgi))
        return
    if not callable(app):
        raise TypeError(f"app.mount() takes an ASGI app, a WSGIMiddleware, StaticFiles or a ringbolt app, "
                        f"not {type(app).__name__}")
    if owner._wsgi is not None:
        raise ValueError(f"cannot mount the ASGI app {app!r} at {path!r}: this app mounts WSGI apps, and ringbolt "
                         "serves one kind of mounted app per app")
    if owner._asgi is None:
        owner.mount_asgi(ASGIMounts(), lifespan="off")
    dispatch = getattr(owner._asgi, "app", None)
    if not isinstance(dispatch, ASGIMounts):
        raise ValueError(f"cannot mount the ASGI app {app!r} at {path!r}: the app serves one with mount_asgi")
    dispatch.mounts.append((path, app))


def url_path_for(app: Any, name: str, params: dict[str, Any]) -> str | None:
    """The path of the route, static mount or mounted app's route called ``name``
    (``"mount:route"`` inside a named mount), with ``params`` put in; None if none."""
    for d in app._defs:
        options = d.options or {}
        own = options.get("name") or getattr(d.handler, "__name__", None)
        if own == name:
            path = _fill(d.path, params)
            if path is not None:
                return path
    names: dict[str, tuple[str, Any]] = app.__dict__.get("_mount_names", {})
    for mount_name, (prefix, target) in names.items():
        if mount_name and mount_name == name and "path" in params and not isinstance(target, App):
            return prefix + "/" + str(params["path"]).lstrip("/")
        if isinstance(target, App):
            inner = name[len(mount_name) + 1:] if mount_name and name.startswith(mount_name + ":") else (
                name if not mount_name else None)
            if inner is not None:
                found = url_path_for(target, inner, params)
                if found is not None:
                    return prefix + found
    return None


def _fill(pattern: str, params: dict[str, Any]) -> str | None:
    """``pattern`` with its ``{name}``/``{name:conv}`` segments filled from ``params``
    (which must name exactly those), else None."""
    names = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*)?\}", pattern)
    if set(names) != set(params):
        return None
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*)?\}", lambda m: str(params[m.group(1)]), pattern)
