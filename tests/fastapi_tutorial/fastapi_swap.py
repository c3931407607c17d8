"""A pytest plugin (``-p fastapi_swap``) that makes ``import fastapi...`` and
``import starlette...`` give ringbolt's modules: ``fastapi`` is ``ringbolt.fastapi``,
``fastapi.X`` is ``ringbolt.fastapi.X``, and ``starlette.X`` is ``ringbolt.fastapi.X`` too
(FastAPI re-exports Starlette's names under its own modules: ``starlette.responses`` is
``fastapi.responses``). That is what a team moving a service changes by hand: its imports,
nothing else. FastAPI's tutorial tests and their ``docs_src`` apps run unchanged under it.

A name ringbolt.fastapi has no module for fails to import with ringbolt's own message
(ModuleNotFoundError naming ``ringbolt.fastapi.X``), as a moved service would."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Sequence

_ROOTS = {"fastapi": "ringbolt.fastapi", "starlette": "ringbolt.fastapi"}


def _target(fullname: str) -> str | None:
    root, _, rest = fullname.partition(".")
    base = _ROOTS.get(root)
    if base is None:
        return None
    return base + ("." + rest if rest else "")


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # a placeholder the import system makes; exec_module swaps it out

    def exec_module(self, module: ModuleType) -> None:
        # The import system takes whatever sys.modules holds under the name once this
        # returns: ringbolt's module itself, its own __name__ and __spec__ untouched.
        sys.modules[module.__name__] = importlib.import_module(self.target)


class SwapFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        dest = _target(fullname)
        if dest is None:
            return None
        if importlib.util.find_spec(dest) is None:
            raise ModuleNotFoundError(f"No module named {fullname!r}: ringbolt.fastapi has no {dest!r}", name=fullname)
        return importlib.machinery.ModuleSpec(fullname, _Alias(dest))


def install() -> None:
    for name in list(sys.modules):
        if _target(name) is not None and not sys.modules[name].__name__.startswith("ringbolt."):
            del sys.modules[name]  # imported before the swap (a plugin's import): forget it
    if not any(isinstance(f, SwapFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, SwapFinder())


install()


def pytest_report_header() -> str:
    import ringbolt.fastapi

    return f"fastapi and starlette imports are ringbolt.fastapi ({ringbolt.fastapi.__file__})"
