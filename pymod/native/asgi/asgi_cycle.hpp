// The native part of one ASGI http request and its response (asgi_cycle.cpp), for the
// per-request entry (asgi_call.cpp).
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

namespace ringbolt::py {

/// A new cycle of `type` (ASGICycle or a subclass without an __init__ of its own, as
/// ringbolt.asgi._Cycle) for one request, as type(req, pending, loop) makes it.
PyObject* new_asgi_cycle(PyTypeObject* type, PyObject* req, PyObject* pending, PyObject* loop);

/// The response is complete (state _DONE): the app's return needs nothing more.
bool asgi_cycle_done(PyObject* cycle);

/// loop.call_soon(_native._flush_completions): what an answer staged first since the last
/// flush schedules (complete_async or complete_asgi said so). False with an exception.
bool schedule_flush(PyObject* loop);

/// Ready ASGICycle and add it to `module`; `flush` is _native._flush_completions.
int init_asgi_cycle(PyObject* module, PyObject* flush);

} // namespace ringbolt::py
