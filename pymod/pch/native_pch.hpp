// The extension's precompiled header (pymod/meson.build, _native): Python's headers, the
// standard headers and the bridge's own headers that most of its sources include, parsed
// once per build instead of once per source (no include guard: it is only ever the first
// thing a compile reads). Python.h comes first, as CPython asks.

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pymod/native/bridge/app_bridge.hpp"
#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/bridge/response_stream.hpp"
#include "pymod/native/json/json_py.hpp"
#include "pymod/native/py_type.hpp"
