"""``fastapi.background`` / ``starlette.background``: ``BackgroundTasks`` and ``BackgroundTask``."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from ..background import BackgroundTasks


class BackgroundTask:
    """One ``func(*args, **kwargs)`` to run after the response (Starlette's)."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.is_async = inspect.iscoroutinefunction(func)

    def __call__(self) -> Any:
        return self.func(*self.args, **self.kwargs)


__all__ = ["BackgroundTasks", "BackgroundTask"]
