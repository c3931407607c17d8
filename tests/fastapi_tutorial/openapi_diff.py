"""The OpenAPI document of each of FastAPI's tutorial apps (``docs_src``), made by FastAPI
and by ringbolt.fastapi, and their differences: the tool for making ringbolt's document
FastAPI's (docs/openapi.md).

    python tests/fastapi_tutorial/openapi_diff.py [AREA-or-MODULE ...] [--show 20] [--quiet]

``AREA-or-MODULE``: ``query_params`` (every module under docs_src/query_params),
``docs_src.body.tutorial001`` (one), or nothing (every module). Each module is imported
twice, in two subprocesses: with FastAPI itself, and with the imports of ``fastapi`` and
``starlette`` made ringbolt's (fastapi_swap.py, as the tutorial tests run). A module
with no app (a router, a helper) is left out; one that does not import under the swap
(a module ringbolt.fastapi lacks...) is reported as "does not import" and skipped. The
last line counts the apps whose documents are identical.

FastAPI's source distribution comes from run.py (build/fastapi-tutorial/).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import DEFAULT_VERSION, fetch  # noqa: E402

#: seconds one module may take to import and make its document
MODULE_TIMEOUT = 30


def modules(root: Path, wanted: list[str]) -> list[str]:
    """The dotted names of the docs_src modules ``wanted`` names (all when empty)."""
    found = sorted(".".join(p.relative_to(root).with_suffix("").parts)
                   for p in (root / "docs_src").rglob("*.py") if p.name != "__init__.py")
    if not wanted:
        return found
    out = []
    for w in wanted:
        prefix = w if w.startswith("docs_src") else f"docs_src.{w}"
        out += [m for m in found if m == prefix or m.startswith(prefix + ".") or m.startswith(prefix + "_")
                and "." not in m[len(prefix):]]
    return list(dict.fromkeys(out))


# ---- in the worker subprocess ----

def _find_app(mod: Any) -> Any:
    app = getattr(mod, "app", None)
    if app is not None and callable(getattr(app, "openapi", None)):
        return app
    for value in vars(mod).values():
        if type(value).__name__ == "FastAPI" and callable(getattr(value, "openapi", None)):
            return value
    return None


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout(f"more than {MODULE_TIMEOUT}s")


def worker(names: list[str]) -> None:
    """One JSON line per module: {"module", "status", "doc" | "error"}. ``--alias
    fastapi.X=module`` arguments (first) make ``fastapi.X`` that module."""
    import importlib
    import warnings

    while names and names[0] == "--alias":
        name, _, target = names[1].partition("=")
        sys.modules[name] = importlib.import_module(target)
        names = names[2:]

    warnings.simplefilter("ignore")
    signal.signal(signal.SIGALRM, _alarm)
    out = sys.stdout
    sys.stdout = sys.stderr  # what an app prints must not mix with the lines
    for name in names:
        row: dict[str, Any] = {"module": name}
        signal.alarm(MODULE_TIMEOUT)
        try:
            try:
                mod = importlib.import_module(name)
            except BaseException as exc:  # noqa: BLE001 - any failure is this module's
                row.update(status="import", error=f"{type(exc).__name__}: {exc}")
                continue
            app = _find_app(mod)
            if app is None:
                row.update(status="no-app")
                continue
            try:
                doc = app.openapi()
                row.update(status="ok", doc=json.loads(json.dumps(doc, default=str)))
            except BaseException as exc:  # noqa: BLE001
                tb = traceback.format_exc().strip().splitlines()
                row.update(status="openapi", error=f"{type(exc).__name__}: {exc}", where=tb[-3:-1])
        finally:
            signal.alarm(0)
            out.write(json.dumps(row) + "\n")
            out.flush()


# ---- the differences ----

def _short(value: Any, width: int = 160) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[:width - 3] + "..."


def differences(ref: Any, ours: Any, where: str = "") -> Iterator[str]:
    """One line per difference: ``where: - FastAPI's + ringbolt's``."""
    if isinstance(ref, dict) and isinstance(ours, dict):
        for key in ref:
            at = f"{where}.{key}" if where else str(key)
            if key not in ours:
                yield f"{at}: missing (FastAPI: {_short(ref[key])})"
            else:
                yield from differences(ref[key], ours[key], at)
        for key in ours:
            if key not in ref:
                yield f"{where}.{key}: extra (ringbolt: {_short(ours[key])})"
        return
    if isinstance(ref, list) and isinstance(ours, list) and len(ref) == len(ours):
        for i, (a, b) in enumerate(zip(ref, ours)):
            yield from differences(a, b, f"{where}[{i}]")
        return
    if ref != ours or isinstance(ref, bool) != isinstance(ours, bool):  # 0 == 0.0, as the tests compare
        yield f"{where}: - {_short(ref)}\n{' ' * (len(where) + 2)}+ {_short(ours)}"


def run_worker(root: Path, swap: bool, names: list[str], aliases: list[str] = []) -> dict[str, dict[str, Any]]:
    env = dict(os.environ)
    if swap:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-c", "import sys; sys.path.insert(0, '.'); "
           + ("import fastapi_swap; " if swap else "")
           + f"sys.path.insert(0, {str(HERE)!r}); import openapi_diff; openapi_diff.worker(sys.argv[1:])",
           *[a for alias in (aliases if swap else []) for a in ("--alias", alias)], *names]
    proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          timeout=MODULE_TIMEOUT * len(names) + 60)
    out = {}
    for line in proc.stdout.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        out[row["module"]] = row
    for name in names:  # the worker died on this one
        out.setdefault(name, {"module": name, "status": "import", "error": f"the worker ended ({proc.returncode})"})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wanted", nargs="*", help="areas (query_params) or modules (docs_src.body.tutorial001)")
    ap.add_argument("--version", default=DEFAULT_VERSION)
    ap.add_argument("--show", type=int, default=12, help="differences shown per app (0: none)")
    ap.add_argument("--quiet", action="store_true", help="only the apps that differ and the counts")
    ap.add_argument("--json", type=Path, help="write {module: status} here")
    ap.add_argument("--alias", action="append", default=[], metavar="fastapi.X=MODULE",
                    help="under the swap, make fastapi.X this module (one ringbolt.fastapi lacks yet)")
    args = ap.parse_args()

    root = fetch(args.version)
    names = modules(root, args.wanted)
    if not names:
        print(f"no docs_src module matches {args.wanted}")
        return 2
    reference = run_worker(root, False, names)
    ported = run_worker(root, True, names, args.alias)
    counts = {"identical": 0, "differ": 0, "does not import": 0, "no document": 0}
    statuses: dict[str, str] = {}
    for name in names:
        ref, ours = reference[name], ported[name]
        if ref["status"] != "ok":
            continue  # no app (or FastAPI itself has no document for it)
        if ours["status"] == "import":
            counts["does not import"] += 1
            statuses[name] = "does not import"
            if not args.quiet:
                print(f"~ {name}: does not import: {ours['error'][:200]}")
            continue
        if ours["status"] != "ok":
            counts["no document"] += 1
            statuses[name] = "no document"
            print(f"! {name}: no document: {ours.get('error', ours['status'])[:300]} {ours.get('where', '')}")
            continue
        diff = list(differences(ref["doc"], ours["doc"]))
        if not diff:
            counts["identical"] += 1
            statuses[name] = "identical"
            if not args.quiet:
                print(f"= {name}")
            continue
        counts["differ"] += 1
        statuses[name] = "differ"
        print(f"- {name}: {len(diff)} difference(s)")
        for line in diff[:args.show]:
            print("    " + line.replace("\n", "\n    "))
    if args.json:
        args.json.write_text(json.dumps(statuses, indent=1))
    apps = sum(counts.values())
    print(f"\n{counts['identical']} of {apps} apps identical; " + ", ".join(f"{v} {k}" for k, v in counts.items()
                                                                        if k != "identical"))
    return 0 if counts["identical"] == apps else 1


if __name__ == "__main__":
    sys.exit(main())
