// Taking the exception a failed CPython call left set, as one object: the bridge, the
// WSGI call and anything else that hands an app's exception on (to a log line, to a 500)
// take it the same way.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

namespace ringbolt::py {

/// The exception now set, taken and cleared (a new reference, its traceback attached),
/// or null when none is set.
inline PyObject* take_exception() noexcept {
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != nullptr && value != nullptr) {
        PyException_SetTraceback(value, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

/// Sets `value` (a reference take_exception returned, stolen) as the exception again.
inline void restore_exception(PyObject* value) noexcept {
    if (value == nullptr) {
        return;
    }
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(value);
#else
    PyErr_Restore(Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(value))), value, PyException_GetTraceback(value));
#endif
}

/// The exception now set, as one object: taken as take_exception() does, None when none
/// is set (a new reference either way).
inline PyObject* fetch_exception() noexcept {
    PyObject* value = take_exception();
    return value != nullptr ? value : Py_NewRef(Py_None);
}

} // namespace ringbolt::py
