"""The shape of the installed package: its modules import each other without a cycle
(imports inside functions count), and the runtime package never imports the load
harness (the top-level package ringbolt_bench beside it), which `ringbolt bench` still
reaches by module name."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import ringbolt

PACKAGE = Path(ringbolt.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its text (module level,
    inside functions, under TYPE_CHECKING alike); the native extension is a leaf."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from x import y`: the module x.y if there is one, else the module x
            fulls = [f"{base}.{alias.name}" for alias in node.names]
            targets = [full if full in modules or full.startswith("ringbolt._native") else base for full in fulls]
        else:
            continue
        for target in targets:
            if target.startswith("ringbolt._native"):
                continue
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def test_the_package_has_no_import_cycle():
    modules = _modules()
    assert "ringbolt.app" in modules and "ringbolt.serving.cli" in modules, sorted(modules)
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "ringbolt.app" in graph["ringbolt"] and "ringbolt.app" in graph["ringbolt.serving.cli"]  # the walk sees imports
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(name):] + [name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, trail + [name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_runtime_package_never_imports_the_harness():
    modules = _modules()
    for name, path in modules.items():
        text = path.read_text()
        assert "import ringbolt_bench" not in text and "from ringbolt_bench" not in text, name
    assert not (PACKAGE / "bench").exists()
    # Every module of the package imported (but __main__, which runs the CLI): the
    # harness is still not loaded.
    names = sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE)], "ringbolt.") if m.name != "ringbolt.__main__")
    assert "ringbolt.cli" in names and "ringbolt.testing" in names, names
    code = f"import importlib, sys\nfor m in {names!r}: importlib.import_module(m)\nprint('ringbolt_bench' in sys.modules)"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "False", p.stdout + p.stderr


def test_bench_command_reaches_the_harness_by_name():
    p = subprocess.run([sys.executable, "-m", "ringbolt", "bench", "--help"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("usage: ringbolt bench") and "--compare" in p.stdout, p.stdout
    p = subprocess.run([sys.executable, "-m", "ringbolt", "bench"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stderr.startswith("ringbolt: error: the following arguments are required: app"), \
        p.stderr
    p = subprocess.run([sys.executable, "-m", "ringbolt", "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "bench" in p.stdout, p.stdout


def test_every_module_of_the_source_tree_is_installed():
    """Each .py (and .pyi, py.typed) under pymod/ringbolt is in pymod/meson.build's install
    lists: a module left out imports in a source checkout and fails in the installed
    package (an ImportError at the first route that needs it)."""
    src = Path(__file__).resolve().parents[2] / "pymod"
    listed = (src / "meson.build").read_text()
    missing = [str(p.relative_to(src)) for p in sorted((src / "ringbolt").rglob("*"))
               if p.suffix in (".py", ".pyi") and "__pycache__" not in p.parts
               and f"'{p.relative_to(src)}'" not in listed]
    assert missing == [], f"add these to pymod/meson.build: {missing}"


def test_a_public_module_that_moved_is_the_moved_module_itself():
    """ringbolt.auth, .sessions, .csrf, .cli, .config, .options, .supervisor, .reloader and
    .workers keep their import paths (a service's imports, gunicorn's ``-k
    ringbolt.workers.RingboltWorker``) and are the modules of the package's folders
    themselves: an attribute set or patched through either path is the same."""
    import importlib

    for public, home in [("auth", "security.auth"), ("sessions", "security.sessions"), ("csrf", "security.csrf"),
                         ("cli", "serving.cli"), ("config", "serving.config"), ("options", "serving.options"),
                         ("supervisor", "serving.supervisor"), ("reloader", "serving.reloader"),
                         ("workers", "serving.workers")]:
        assert importlib.import_module(f"ringbolt.{public}") is importlib.import_module(f"ringbolt.{home}"), public


def test_every_module_of_the_source_tree_is_installed() -> None:
    """pymod/meson.build names each module it installs: a new module it does not name is
    missing from the installed package and its wheel (model_plan.py was, once)."""
    import re

    root = Path(__file__).resolve().parents[2]
    listed = set(re.findall(r"'(ringbolt/[^']+\.py)'", (root / "pymod" / "meson.build").read_text()))
    tree = {str(p.relative_to(root / "pymod")) for p in (root / "pymod" / "ringbolt").rglob("*.py")}
    assert tree - listed == set(), "modules pymod/meson.build does not install"
