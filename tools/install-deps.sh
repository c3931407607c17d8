#!/usr/bin/env bash
# Installs what building and testing ringbolt needs on Debian 12 (apt + pip).
# Idempotent: only missing Debian packages are installed.
set -euo pipefail

APT_PACKAGES=(build-essential pkg-config liburing-dev libsimdjson-dev libzstd-dev zlib1g-dev libbrotli-dev libssl-dev
              libnghttp2-dev nghttp2-client libgtest-dev libbenchmark-dev wrk clang-14 libclang-rt-14-dev libfuzzer-14-dev
              systemtap-sdt-dev clang-format libcap2
              libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev libgnutls28-dev  # QUIC and HTTP/3 (quic/, h3/)
              ngtcp2-client  # an independent QUIC client for the HTTP/3 interop tests
              chromium  # a real browser over HTTP/3 (tests/py/test_http3_browser.py)
              haproxy  # a load balancer sending the PROXY protocol (tests/py/test_proxy_protocol.py)
              ccache  # meson compiles through it when found: the matrix builds share their C++ core objects
              redis-server  # the Redis cache store shared by workers (tests/py/test_cache.py)
              postgresql  # the fortunes page on a cluster of its own (tests/py/test_templates.py)
              qemu-system-x86 busybox-static cpio  # Debian's other kernels in a VM (tools/kernel-vm, make kernels)
              debootstrap  # a Debian unstable root for CPython 3.14 (tools/cpython-root, make py314)
              )
PIP_PACKAGES=("meson>=1.1" "meson-python>=0.15" ninja pytest pytest-timeout watchfiles
              flask django  # the WSGI server-mode tests (tests/py/test_wsgi.py)
              gunicorn  # ringbolt.workers.RingboltWorker under gunicorn's arbiter (tests/py/test_gunicorn_worker.py)
              fastapi==0.165.0 starlette httpx "uvicorn[standard]" python-multipart  # ASGI end-to-end tests; FastAPI's version is make fastapi-tutorial's
              inline-snapshot dirty-equals pytest-xdist httpx2 sqlmodel "pwdlib[argon2]" pyyaml a2wsgi strawberry-graphql  # FastAPI's tutorial tests' own needs (make fastapi-tutorial)
              websockets  # the WebSocket client of tests/py/test_websocket*.py
              zstandard brotli  # decode compressed responses (tests/py/test_compression.py)
              hypothesis  # property tests (tests/py/test_json_types.py)
              h2 "httpx[http2]"  # HTTP/2 frame-level and client tests (tests/py/test_http2*.py)
              aioquic  # the HTTP/3 client of the end-to-end QUIC tests
              pydantic msgspec  # typed routes' body and response models (tests/py/test_typed_*.py)
              orjson ujson  # FastAPI's ORJSONResponse and UJSONResponse (tests/py/test_fastapi_responses.py, the tutorial)
              drf-spectacular-sidecar  # ringbolt[docs]: Swagger UI's and ReDoc's files for /docs and /redoc
              openapi-spec-validator  # validates the OpenAPI documents (tests/py/test_typed_openapi.py)
              opentelemetry-sdk opentelemetry-exporter-otlp-proto-http  # ringbolt[otel]; tests/py/test_tracing.py's receiver decodes with its opentelemetry-proto
              schemathesis  # run against a service's own document (tests/py/test_typed_openapi_schemathesis.py)
              jinja2 redis  # ringbolt[templates], ringbolt[redis] (tests/py/test_templates.py, test_cache.py)
              asyncpg  # the fortunes app on PostgreSQL (tests/py/test_templates.py)
              "pyjwt[crypto]"  # ringbolt[auth]: JWT verification and the tokens of tests/py/test_auth*.py
              )  # (one entry a line, the list closed on its own line: each addition is one line)

PYTHON=${PYTHON:-python3}
# VENV_FROM (set by make for an interpreter that refuses pip installs, PEP 668): create
# $PYTHON's virtualenv from it. Debian's own Python needs python3-venv for that (ensurepip)
# and python3-dev for Python.h, which the extension is compiled against.
VENV_FROM=${VENV_FROM:-}
base=${VENV_FROM:-$PYTHON}
if [ "$($base -c 'import sys; print(sys.base_prefix)')" = /usr ]; then
    $base -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("include"), "Python.h")))' \
        || APT_PACKAGES+=(python3-dev)
    if [ -n "$VENV_FROM" ]; then
        $base -c 'import ensurepip' 2>/dev/null || APT_PACKAGES+=(python3-venv)
    fi
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "install-deps: apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ -n "$VENV_FROM" ]; then
    venv=$(dirname "$(dirname "$PYTHON")")
    if [ ! -x "$PYTHON" ]; then
        echo "install-deps: $VENV_FROM refuses pip installs (PEP 668): creating the virtualenv $venv"
        "$VENV_FROM" -m venv "$venv"
        # Debian 12's venv starts with pip 23.0, older than the -C (config settings) the Makefile passes
        "$PYTHON" -m pip install -q --disable-pip-version-check --upgrade pip
    elif [ "$("$PYTHON" -c 'import sys; print(sys.base_prefix, sys.version_info[:2])')" != \
           "$("$VENV_FROM" -c 'import sys; print(sys.base_prefix, sys.version_info[:2])')" ]; then
        echo "install-deps: $venv was made from another Python than $VENV_FROM: remove it, or pass VENV=another/dir" >&2
        exit 1
    fi
fi
$PYTHON -m pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
