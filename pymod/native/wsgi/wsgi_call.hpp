// WSGICall's answer as the bridge reads it (wsgi_call.cpp): WSGI's common case, a list or
// tuple of bytes, comes back as the request's StartResponse carrying the joined body, and
// becomes the response message here without a ringbolt.Response in between.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "dispatch/app_request.hpp"

#include <cstdint>

namespace ringbolt::py {

struct python_types; // app_bridge.hpp

/// True when a registered handler is a WSGICall (the bridge then calls run_wsgi_call).
bool is_wsgi_call(PyObject* handler) noexcept;

/// Run the WSGI app of `handler` (a WSGICall) for `req`, as calling it with a Request
/// would, without making the Request unless the Python path needs it (a streamed body:
/// then from `param_names` and `types`, and released before returning). The result
/// for app_bridge::finish (new reference), or nullptr with an exception. GIL held.
PyObject* run_wsgi_call(PyObject* handler, dispatch::app_request& req, PyObject* param_names,
                        const python_types* types);

/// ringbolt._native.StartResponse (wsgi_call.cpp).
extern PyTypeObject wsgi_start_type;

/// A StartResponse carrying the body WSGICall joined (rather than one made from Python).
bool carries_wsgi_answer(PyObject* start) noexcept;

/// True when a handler's result is a WSGICall answer: for any other result, one compare
/// with a constant address. GIL held.
inline bool is_wsgi_answer(PyObject* result) noexcept {
    return Py_IS_TYPE(result, &wsgi_start_type) && carries_wsgi_answer(result);
}

/// The answer's head, body and end in `resp`: the app's status and header list checked
/// as app_bridge's build_head checks a Response's (same errors), its fields written once
/// at their size. `body_bytes`: the body's length (for the access log). False with a
/// Python exception set: the bridge answers 500. GIL held.
bool wsgi_answer_message(PyObject* result, bool head_request, http::app_response& resp, int64_t& body_bytes);

/// Ready StartResponse, WSGICall and WSGIInput and add them to `module` (once, at module init).
int init_wsgi_call(PyObject* module);

} // namespace ringbolt::py
