"""`pip install .` on a machine that lacks one system library fails with a message that
names the Debian package and tools/install-deps.sh (meson.build), instead of meson's bare
"Dependency not found" somewhere in pip's output. The library is hidden from pkg-config
(PKG_CONFIG_LIBDIR: a copy of the search path without its .pc) and from meson's CMake
lookup (a native file whose cmake is `false`); the build stops at configure, in seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def pkg_config_dirs() -> list[Path]:
    out = subprocess.run(["pkg-config", "--variable", "pc_path", "pkg-config"], capture_output=True, text=True,
                         check=True).stdout.strip()
    extra = os.environ.get("PKG_CONFIG_PATH", "")
    return [Path(d) for d in (extra.split(":") if extra else []) + out.split(":") if d and Path(d).is_dir()]


@pytest.mark.parametrize("pc_name, debian_package", [
    ("liburing", "liburing-dev"),
    ("simdjson", "libsimdjson-dev"),
    ("libzstd", "libzstd-dev"),
    ("libbrotlienc", "libbrotli-dev"),
    ("libnghttp2", "libnghttp2-dev"),
    ("libngtcp2", "libngtcp2-dev"),
    ("libngtcp2_crypto_gnutls", "libngtcp2-crypto-gnutls-dev"),
    ("gnutls", "libgnutls28-dev"),
])
def test_pip_install_names_the_missing_package(tmp_path: Path, pc_name: str, debian_package: str) -> None:
    libdir = tmp_path / "pkgconfig"
    libdir.mkdir()
    for d in pkg_config_dirs():
        for pc in d.glob("*.pc"):
            if pc.stem != pc_name and not (libdir / pc.name).exists():
                (libdir / pc.name).symlink_to(pc)
    assert not (libdir / f"{pc_name}.pc").exists()
    native = tmp_path / "no-cmake.ini"
    native.write_text("[binaries]\ncmake = 'false'\n")
    env = {**os.environ, "PKG_CONFIG_LIBDIR": str(libdir), "PKG_CONFIG_PATH": ""}
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                          "--disable-pip-version-check", "--target", str(tmp_path / "target"),
                          f"-Cbuild-dir={tmp_path / 'build'}", f"-Csetup-args=--native-file={native}", str(REPO)],
                         env=env, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert f"ringbolt needs {pc_name}" in out, out
    assert f"apt-get install {debian_package}" in out, out
    assert "tools/install-deps.sh" in out, out
    assert not (tmp_path / "target" / "ringbolt").exists()
