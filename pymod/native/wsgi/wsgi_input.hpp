// ringbolt._native.WSGIInput: wsgi.input over a request body already in memory
// (wsgi_input.cpp). A streamed body has ringbolt.wsgi.BodyInput instead.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

namespace ringbolt::py {

/// A new WSGIInput reading `body` (exact bytes) from its start. GIL held.
PyObject* new_wsgi_input(PyObject* body);

/// Ready the type and add it to `module` (once, at module init).
int init_wsgi_input(PyObject* module);

} // namespace ringbolt::py
