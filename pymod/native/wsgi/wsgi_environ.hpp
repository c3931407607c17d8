// The WSGI environ of a request (wsgi_environ.cpp): `Request._wsgi_environ(base)`, and
// what WSGICall calls directly.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "dispatch/app_request.hpp"

namespace ringbolt::py {

/// A copy of `base` (a dict: SERVER_*, SCRIPT_NAME, wsgi.*) with the CGI variables of the
/// request `r`: REQUEST_METHOD, PATH_INFO
/// (percent-decoded), QUERY_STRING, RAW_URI, SERVER_PROTOCOL, REMOTE_ADDR, REMOTE_PORT,
/// HTTPS and the SSL_* variables over TLS, CONTENT_TYPE, CONTENT_LENGTH and HTTP_*;
/// bytes read as latin-1 (PEP 3333). New reference; nullptr with an exception. GIL held.
PyObject* wsgi_environ(const dispatch::app_request& r, PyObject* base);

/// Add `environ_base` to `module` (once, at module init).
int init_wsgi_environ(PyObject* module);

} // namespace ringbolt::py
