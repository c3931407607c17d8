// Names interned once at module init: attribute and key lookups then pass a str object,
// which CPython would otherwise make (and intern) from a C string on every call.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <initializer_list>

namespace ringbolt::py {

struct interned_name {
    PyObject** slot;  ///< where the str goes (a file's static)
    const char* text; ///< its text
};

/// Intern each `text` into its `slot` (a slot that holds one already is kept). False with
/// the error set when one could not be made. GIL held.
inline bool intern_names(std::initializer_list<interned_name> names) noexcept {
    for (const interned_name& n : names) {
        if (*n.slot == nullptr && (*n.slot = PyUnicode_InternFromString(n.text)) == nullptr) {
            return false;
        }
    }
    return true;
}

} // namespace ringbolt::py
