"""tools/kernel-vm's refusal of paths the guest cannot see: the guest mounts a tmpfs of its
own on /tmp and /run over the shared root (its init), so a checkout, a working directory,
a Python or a script there was "No such file" inside the VM, after a boot. The script says
why at once instead, before it needs qemu or a kernel: these run on the host and in a
guest alike (pytest's tmp_path is under /tmp in both)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KERNEL_VM = REPO / "tools" / "kernel-vm"


def run(script: Path, *command: str, cwd: Path = REPO, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=path) if path is not None else None
    return subprocess.run(["/bin/bash", str(script), "linux-image-amd64", "--", *command], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=30)


def checkout_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "checkout" / "tools" / "kernel-vm"
    copy.parent.mkdir(parents=True)
    shutil.copy(KERNEL_VM, copy)
    return copy


def python_link(tmp_path: Path) -> Path:
    link = tmp_path / "venv" / "bin" / "python"
    link.parent.mkdir(parents=True)
    link.symlink_to(sys.executable)
    return link


def test_the_host_paths_here_are_not_under_tmp() -> None:
    # What the cases below take as the paths outside /tmp.
    for p in (REPO, REPO.resolve(), Path(sys.executable)):
        assert not str(p).startswith(("/tmp/", "/run/")), p


# (what is under /tmp, how the script is run, what the refusal names)
HIDDEN = {
    "the checkout": lambda t: (checkout_copy(t), ["true"], REPO, "the checkout"),
    "the working directory": lambda t: (KERNEL_VM, ["true"], t, "the working directory"),
    "the Python": lambda t: (KERNEL_VM, [str(python_link(t)), "-V"], REPO, "the command's program"),
    "the Python after env": lambda t: (KERNEL_VM, ["env", "A=1", str(python_link(t)), "-V"], REPO,
                                       "the command's program"),
    "a PYTHONPATH": lambda t: (KERNEL_VM, ["env", f"PYTHONPATH={REPO}:{t}", sys.executable, "-V"], REPO,
                               "PYTHONPATH's"),
    "a script": lambda t: (KERNEL_VM, [sys.executable, str(t)], REPO, "the command's argument"),
}


@pytest.mark.parametrize("case", list(HIDDEN))
def test_a_path_under_tmp_is_refused_saying_why(tmp_path: Path, case: str) -> None:
    assert str(tmp_path).startswith("/tmp/"), tmp_path  # pytest's base, --basetemp=/tmp/pytest in a guest
    script, command, cwd, named = HIDDEN[case](tmp_path)
    r = run(script, *command, cwd=cwd)
    assert r.returncode == 2, (case, r.returncode, r.stderr)
    assert named in r.stderr and "/tmp" in r.stderr and "tmpfs" in r.stderr, (case, r.stderr)
    assert "qemu" not in r.stderr, (case, r.stderr)  # said before anything else is looked for


def test_paths_outside_tmp_pass_to_the_next_check(tmp_path: Path) -> None:
    # A PATH with only what the checks before the tools' use: the next check finds no qemu
    # and says so (no download, no boot).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "realpath"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    r = run(KERNEL_VM, "env", f"PYTHONPATH={REPO}", sys.executable, "-V", path=str(bin_dir))
    assert r.returncode == 2 and "qemu-system-x86_64 is missing" in r.stderr, r.stderr
