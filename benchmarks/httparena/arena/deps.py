"""`run deps`: what a fresh Debian 12 machine needs for the runner, installed once.

- apt: PostgreSQL, redis-server, wrk, h2load (nghttp2-client), curl, a C and C++
  toolchain, git, and ngtcp2, nghttp3 and GnuTLS's headers for ringbolt-h3-load;
- pip, into the Python that serves ringbolt's entries (--ringbolt-python): the entry's
  requirements.txt (not ringbolt itself, which that Python must already have), the
  FastAPI entry's (for ringbolt-fastapi) and aioquic (the HTTP/3 checks, h3check.py);
- tools/load/ringbolt-h3-load (make), which stands for h2load-h3 in the HTTP/3 profiles;
- the cache (~/.cache/ringbolt-arena): liburing 2.9 and gcannon built from source
  (gcannon needs a newer liburing than Debian's 2.3; its source gets GCANNON_FIXES
  first, and a binary built without them is built again), a virtualenv per peer made from
  its HttpArena entry's pinned requirements with its Dockerfile's Python version;
- the HttpArena checkout itself when --arena-dir does not exist yet: exported at the
  pinned commit from --arena-git (a local clone or mirror) or from the --github-mirror's
  MDA2AV/HttpArena, without network; cloned from GitHub only when neither is given.

Sources come from GitHub. Offline, --github-mirror DIR serves https://github.com/O/N
from DIR/O/N (a git repository), for git and for pip's git+https requirements alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .checkout import ARENA_URL, PINNED_COMMIT, Checkout
from .systems import EXTRA_PACKAGES, SYSTEMS, dockerfile, python_for

APT_PACKAGES = ["postgresql", "redis-server", "wrk", "nghttp2-client", "curl", "gcc", "g++", "make", "git",
                "pkg-config", "libngtcp2-crypto-gnutls-dev", "libnghttp3-dev", "libgnutls28-dev",
                "libev-dev"]  # libev-dev: bjoern, an sdist built against it
TOOLS_LOAD = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))), "tools", "load")
AIOQUIC = "aioquic"  # the HTTP/3 client of h3check.py (the tree's tests use it too)
LIBURING_TAG = "liburing-2.9"  # what HttpArena's gcannon and ringzero Dockerfiles build
GCANNON_COMMIT = "43b30bc24c8cc6aab37dd7d718b47ffb985e6558"  # gcannon 0.5.3, 2026-04-25
ENTRY_REQUIREMENTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ringbolt",
                                  "requirements.txt")


def git_env(mirror: str | None) -> dict[str, str]:
    """The environment for git (and pip's git) with https://github.com/ served from ``mirror``."""
    env = dict(os.environ)
    if mirror:
        pairs = [(f"url.file://{os.path.abspath(mirror)}/.insteadOf", "https://github.com/"),
                 ("protocol.file.allow", "always")]
        base = int(env.get("GIT_CONFIG_COUNT", "0"))
        for i, (k, v) in enumerate(pairs, base):
            env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = k, v
        env["GIT_CONFIG_COUNT"] = str(base + len(pairs))
    return env


def _say(msg: str) -> None:
    print(f"[arena deps] {msg}", flush=True)


def _run(cmd: list[str], **kw: object) -> None:
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def apt() -> None:
    missing = [p for p in APT_PACKAGES if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout.find("install ok installed") < 0]
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    _say(f"apt-get install {' '.join(missing)}")
    _run([*sudo, "apt-get", "update", "-qq"])
    _run([*sudo, "apt-get", "install", "-y", "-qq", *missing], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def clone(url: str, ref: str, dest: str, mirror: str | None) -> None:
    if os.path.isdir(os.path.join(dest, ".git")):
        return
    env = git_env(mirror)
    _run(["git", "clone", "-q", "--no-checkout", url, dest], env=env)
    _run(["git", "-C", dest, "checkout", "-q", ref], env=env)


def build_liburing(cache: str, mirror: str | None) -> str:
    prefix = os.path.join(cache, "liburing")
    if os.path.exists(os.path.join(prefix, "lib", "liburing.so.2.9")):
        return prefix
    src = os.path.join(cache, "src", "liburing")
    clone("https://github.com/axboe/liburing", LIBURING_TAG, src, mirror)
    _say(f"building {LIBURING_TAG} into {prefix}")
    _run(["./configure", f"--prefix={prefix}"], cwd=src, stdout=subprocess.DEVNULL)
    _run(["make", "-s", "-j2", "-C", "src"], cwd=src, stdout=subprocess.DEVNULL)
    _run(["make", "-s", "-C", "src", "install"], cwd=src, stdout=subprocess.DEVNULL)
    return prefix


# Fixes applied to gcannon's source before it is built: (name, file, text at the pinned
# commit, replacement). Each names the bug it removes; `bin/gcannon.fixes` lists those a
# built binary has, and `run bench` warns about a gcannon built without them.
GCANNON_FIXES = [
    # return_buffer() gives a receive buffer back at an offset from the buffer ring's tail
    # of w->buf_index++, a count that only grows, while each io_uring_buf_ring_advance(1)
    # moves the tail by one: from the second buffer given back on, the entry lands in the
    # wrong slot (tail + buf_index, not tail) and the slot the tail passes over keeps a
    # stale buffer id. The kernel then hands out buffers still being parsed, and one
    # connection's response bytes are read as another's: its parser loses the response
    # boundary and the connection waits for ever for an answer it already received. In
    # HttpArena's json mix (64 connections, -r 25) only 7 to 55 of the 64 connections had
    # a request out on average over a 5 s run (Little's law), fewer the faster the server,
    # so the server idled while the load generator waited
    # (benchmarks/journal/2026-11-26.md, "The json profile: the load generator's stalls").
    ("buffer-ring-offset", "src/worker.c",
     "    io_uring_buf_ring_add(w->buf_ring, addr, w->recv_buf_size,\n"
     "                          bid, w->buf_mask, w->buf_index++);\n"
     "    io_uring_buf_ring_advance(w->buf_ring, 1);\n",
     "    io_uring_buf_ring_add(w->buf_ring, addr, w->recv_buf_size,\n"
     "                          bid, w->buf_mask, 0); /* offset from the tail, which advance() moves */\n"
     "    io_uring_buf_ring_advance(w->buf_ring, 1);\n"),
]


def gcannon_fixes_line() -> str:
    """What `bin/gcannon.fixes` holds for a gcannon built with every fix of GCANNON_FIXES."""
    return f"{GCANNON_COMMIT} " + " ".join(name for name, _, _, _ in GCANNON_FIXES) + "\n"


def gcannon_fixes(binary: str) -> str | None:
    """The fixes a gcannon binary was built with, as its `.fixes` file names them (None
    without one: a binary built before the fixes, or elsewhere)."""
    try:
        with open(binary + ".fixes") as f:
            return f.read().strip()
    except OSError:
        return None


def patch_gcannon(src: str) -> None:
    """Apply GCANNON_FIXES to a gcannon source tree at GCANNON_COMMIT (again: a no-op).
    SystemExit when a fix's text is not found exactly once (another commit)."""
    for name, rel, old, new in GCANNON_FIXES:
        path = os.path.join(src, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if text.count(new) == 1 and old not in text:
            continue
        if text.count(old) != 1:
            raise SystemExit(f"gcannon fix {name}: {rel} does not read as at {GCANNON_COMMIT[:12]}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))


def make_gcannon(src: str, prefix: str) -> str:
    """Build gcannon in ``src`` against the liburing installed at ``prefix``; its path."""
    _run(["make", "-s", "-j2",
          f"CFLAGS=-O2 -Wall -march=native -Iinclude -DUSE_PICO -Iexternal/picohttpparser -I{prefix}/include",
          f"LDFLAGS=-L{prefix}/lib -Wl,-rpath,{prefix}/lib -luring -lpthread"], cwd=src)
    return os.path.join(src, "gcannon")


def build_gcannon(cache: str, mirror: str | None) -> str:
    binary = os.path.join(cache, "bin", "gcannon")
    stamp = binary + ".fixes"
    if os.path.exists(binary) and gcannon_fixes(binary) == gcannon_fixes_line().strip():
        return binary
    prefix = build_liburing(cache, mirror)
    src = os.path.join(cache, "src", "gcannon")
    clone("https://github.com/MDA2AV/gcannon", GCANNON_COMMIT, src, mirror)
    patch_gcannon(src)
    _say(f"building gcannon {GCANNON_COMMIT[:12]} with {', '.join(n for n, _, _, _ in GCANNON_FIXES)}")
    built = make_gcannon(src, prefix)
    os.makedirs(os.path.dirname(binary), exist_ok=True)
    shutil.copy2(built, binary)
    with open(stamp, "w") as f:
        f.write(gcannon_fixes_line())
    return binary


def pip_ringbolt(python: str) -> None:
    """The entries' packages into the Python that runs ringbolt."""
    check = subprocess.run([python, "-c", "import ringbolt"], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"{python} cannot import ringbolt: install it there first (`make venv-py311`, "
                         f"`pip install .` in a checkout, or the wheel), or pass --ringbolt-python")
    reqs = [line.split("#")[0].strip() for line in open(ENTRY_REQUIREMENTS)]
    reqs = [r for r in reqs if r and r != "ringbolt"]
    reqs.append(AIOQUIC)
    _say(f"pip install into {python}: {' '.join(reqs)}")
    _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs])


def build_h3_load() -> str:
    """tools/load/ringbolt-h3-load, the HTTP/3 load generator (one compiler call)."""
    _say("make -C tools/load ringbolt-h3-load")
    _run(["make", "-C", TOOLS_LOAD, "ringbolt-h3-load"])
    return os.path.join(TOOLS_LOAD, "ringbolt-h3-load")


def pip_fastapi(python: str, checkout: Checkout) -> None:
    reqs = checkout.file("frameworks", "fastapi", "requirements.txt")
    _say(f"pip install into {python}: HttpArena's frameworks/fastapi/requirements.txt")
    _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", reqs])


def peer_venv(name: str, checkout: Checkout, cache: str, mirror: str | None) -> str:
    system = SYSTEMS[name]
    entry = system.entry or name
    venv = os.path.join(cache, "venvs", name)
    py = os.path.join(venv, "bin", "python")
    if os.path.exists(os.path.join(venv, ".arena-ok")):
        return venv
    _, _, version = dockerfile(checkout, entry)
    base = python_for(version)
    _say(f"{name}: virtualenv {venv} (Python {version or 'this one'}: {base})")
    shutil.rmtree(venv, ignore_errors=True)
    _run([base, "-m", "venv", venv])
    _run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--upgrade", "pip"])
    reqs = checkout.file("frameworks", entry, "requirements.txt")
    _run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", reqs, *EXTRA_PACKAGES.get(name, [])],
         env=git_env(mirror))
    open(os.path.join(venv, ".arena-ok"), "w").close()
    return venv


def export_tree(git_dir: str, commit: str, dest: str) -> list[str]:
    """Write the files of ``commit`` from the git directory ``git_dir`` (a bare mirror,
    possibly without its largest blobs) into ``dest``, with ``.arena-commit`` naming the
    commit. Returns the paths whose blobs the mirror lacks (left out)."""
    listing = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "-r", "-z", commit], capture_output=True,
                             check=True).stdout
    entries = []
    for item in listing.split(b"\0"):
        if not item:
            continue
        meta, path = item.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind == b"blob":
            entries.append((mode, sha.decode(), path.decode()))
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    missing = []
    with subprocess.Popen(["git", "--git-dir", git_dir, "cat-file", "--batch"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE) as cat:
        assert cat.stdin is not None and cat.stdout is not None
        for mode, sha, path in entries:
            cat.stdin.write(sha.encode() + b"\n")
            cat.stdin.flush()
            head = cat.stdout.readline().split()
            if len(head) < 2 or head[1] == b"missing":
                missing.append(path)
                continue
            data = cat.stdout.read(int(head[2]))
            cat.stdout.read(1)  # the newline after each object
            out = os.path.join(tmp, path)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            if mode == b"120000":
                os.symlink(data.decode(), out)
                continue
            with open(out, "wb") as f:
                f.write(data)
            if mode == b"100755":
                os.chmod(out, 0o755)
        cat.stdin.close()
    with open(os.path.join(tmp, ".arena-commit"), "w", encoding="utf-8") as f:
        f.write(commit + "\n")
    os.replace(tmp, dest)
    return missing


def ensure_checkout(path: str, mirror: str | None, arena_git: str | None = None) -> Checkout:
    """The HttpArena checkout at ``path``: used as it is when it exists; else exported at
    the pinned commit from ``arena_git`` (or the mirror's MDA2AV/HttpArena), else cloned."""
    if os.path.exists(path):
        return Checkout(path)
    if not arena_git and mirror and os.path.isdir(os.path.join(mirror, "MDA2AV", "HttpArena")):
        arena_git = os.path.join(mirror, "MDA2AV", "HttpArena")
    if arena_git:
        _say(f"exporting HttpArena {PINNED_COMMIT[:12]} from {arena_git} into {path}")
        try:
            missing = export_tree(arena_git, PINNED_COMMIT, path)
        except subprocess.CalledProcessError as e:
            raise SystemExit(f"{arena_git} has no HttpArena commit {PINNED_COMMIT} (git: {e.stderr!r}): fetch it "
                             f"there, or give --arena-dir an existing checkout of that commit") from None
        if missing:
            _say(f"the mirror lacks {len(missing)} files (the runner makes stand-ins for the ones it needs): "
                 + ", ".join(missing))
        return Checkout(path)
    _say(f"cloning {ARENA_URL} at {PINNED_COMMIT[:12]} into {path}")
    try:
        clone(ARENA_URL, PINNED_COMMIT, path, mirror)
    except subprocess.CalledProcessError:
        shutil.rmtree(path, ignore_errors=True)
        raise SystemExit(f"could not clone {ARENA_URL} into {path}. Give --arena-dir an existing HttpArena "
                         f"checkout at commit {PINNED_COMMIT}, or --arena-git GITDIR (a clone or mirror holding "
                         f"that commit, exported without network), or --github-mirror DIR holding "
                         f"DIR/MDA2AV/HttpArena") from None
    return Checkout(path)


def main(checkout_dir: str, cache: str, ringbolt_python: str, systems: list[str], mirror: str | None,
         skip_apt: bool = False, arena_git: str | None = None) -> None:
    if not skip_apt:
        apt()
    checkout = ensure_checkout(checkout_dir, mirror, arena_git)
    os.makedirs(cache, exist_ok=True)
    build_gcannon(cache, mirror)
    build_h3_load()
    for name in systems:
        kind = SYSTEMS[name].kind
        if name == "ringbolt":
            pip_ringbolt(ringbolt_python)
        elif name == "ringbolt-fastapi":
            pip_fastapi(ringbolt_python, checkout)
        elif kind == "peer":
            peer_venv(name, checkout, cache, mirror)
        elif name == "ringzero":
            build_liburing(cache, mirror)
    _say("done")
