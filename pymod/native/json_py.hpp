// JSON between Python objects and bytes: ringbolt's own writer (dict/list/str/int/
// float/bool/None, json.dumps semantics with ensure_ascii=False and compact
// separators) and a simdjson-based reader producing Python objects.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string>

namespace ringbolt::py {

/// Bytes of padding a buffer needs after its end for parse_json without a copy.
inline constexpr size_t json_padding = 64;

/// Append the JSON text of `obj` to `out`. Returns false with a Python exception set
/// (TypeError for unsupported types, ValueError for NaN/Infinity or nesting too deep).
bool write_json(PyObject* obj, std::string& out);

/// Parse `len` bytes of JSON. `padded`: at least json_padding readable bytes follow
/// `data`. Returns a new reference, or nullptr with an exception set: ValueError
/// subclass `error_type` (if given) carrying the cause.
PyObject* parse_json(const char* data, size_t len, bool padded, PyObject* error_type);

} // namespace ringbolt::py
