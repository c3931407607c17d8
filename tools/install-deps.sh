#!/usr/bin/env bash
# Installs what building and testing ringbolt needs on Debian 12 (apt + pip).
# Idempotent: only missing Debian packages are installed.
set -euo pipefail

APT_PACKAGES=(build-essential pkg-config liburing-dev libsimdjson-dev libzstd-dev zlib1g-dev
              libgtest-dev libbenchmark-dev wrk clang-14 libclang-rt-14-dev libfuzzer-14-dev
              systemtap-sdt-dev clang-format)
PIP_PACKAGES=("meson>=1.1" "meson-python>=0.15" "pybind11>=2.10" ninja pytest pytest-timeout watchfiles
              flask django  # the WSGI server-mode tests (tests/py/test_wsgi.py)
              fastapi starlette httpx "uvicorn[standard]" python-multipart  # ASGI end-to-end tests
              websockets)  # the WebSocket client of tests/py/test_websocket*.py

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
PYTHON=${PYTHON:-python3}
$PYTHON -m pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
