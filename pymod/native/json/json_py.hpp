// JSON between Python objects and bytes: ringbolt's own writer (json_writer.cpp: the
// JSON types with json.dumps semantics, ensure_ascii=False and compact separators, plus
// datetime/date/time, UUID, Enum, Decimal, dataclasses and a `default` callable) and a
// simdjson-based reader producing Python objects (json_py.cpp).
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string>
#include <string_view>

namespace ringbolt::py {

/// Bytes of padding a buffer needs after its end for parse_json without a copy.
inline constexpr size_t json_padding = 64;

/// Append the JSON text of `obj` to `out`. Returns false with a Python exception set
/// (TypeError naming an unsupported type, ValueError for NaN/Infinity, nesting too deep
/// or a str that cannot read back the same). Values of other types go to the calling
/// thread's json_default_scope callable, if any. GIL held.
bool write_json(PyObject* obj, std::string& out);
/// The same with an explicit `default_fn` (nullptr: none) for values of other types.
bool write_json(PyObject* obj, std::string& out, PyObject* default_fn);

/// While it lives, write_json on this thread calls `default_fn` (borrowed; nullptr:
/// none) for values of types it does not know: an App's json_default around the
/// conversion of its handlers' results.
class json_default_scope {
  public:
    explicit json_default_scope(PyObject* default_fn) noexcept;
    ~json_default_scope();
    json_default_scope(const json_default_scope&) = delete;
    json_default_scope& operator=(const json_default_scope&) = delete;

  private:
    PyObject* _previous;
};

/// The text of a ringbolt.RawJSON (raw_json.cpp): true and `text` when `obj` is one.
bool raw_json_view(PyObject* obj, std::string_view& text) noexcept;
/// Ready the RawJSON type and add it to `module` (once, at module init); -1 on error.
int init_raw_json(PyObject* module);

/// ringbolt._native.json_dumps(obj, default=None) -> bytes (METH_FASTCALL | METH_KEYWORDS).
PyObject* json_dumps(PyObject* module, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);

/// Parse `len` bytes of JSON. `padded`: at least json_padding readable bytes follow
/// `data`. Returns a new reference, or nullptr with an exception set: ValueError
/// subclass `error_type` (if given) carrying the cause.
PyObject* parse_json(const char* data, size_t len, bool padded, PyObject* error_type);

/// Whether simdjson refused a number only for its size (an integer beyond 64 bits, 1e99999):
/// its NUMBER_ERROR, and simdjson 4's BIGINT_ERROR. Python's json module reads those exactly.
template <class Error> bool number_beyond_simdjson(Error e) {
    if constexpr (requires { Error::BIGINT_ERROR; }) {
        if (e == Error::BIGINT_ERROR) {
            return true;
        }
    }
    return e == Error::NUMBER_ERROR;
}

} // namespace ringbolt::py
