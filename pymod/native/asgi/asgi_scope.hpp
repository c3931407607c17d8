// The ASGI http scope of a request (asgi_scope.cpp): what `Request._asgi_scope(base)`
// returns, for the ASGI fallback's native path.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "dispatch/app_request.hpp"

namespace ringbolt::py {

/// A copy of `base` (a dict: type, asgi, scheme, server, root_path...) with the request
/// `r`'s method and path (the Request's own str objects, borrowed), http_version,
/// raw_path, query_string, headers (lower-cased names; a trusted proxy's host for Host),
/// client, "https" over TLS or behind a trusted proxy that says so, and the TLS extension.
/// New reference; nullptr with an exception. GIL held.
PyObject* asgi_scope_of(const dispatch::app_request& r, PyObject* base, PyObject* method, PyObject* path);

} // namespace ringbolt::py
