// ringbolt._native.Request: a thin Python view of one http::app_request. Attributes
// become Python objects only when read, and are cached. While the handler runs the
// view points into the reactor's batch; if the handler keeps a reference, the request
// is moved into the object (detach) so the view never dangles.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "http/app_request.hpp"

namespace ringbolt::py {

struct python_types; // ringbolt.Headers, QueryParams, BadRequest... (app_bridge.hpp)

struct request_object {
    PyObject_HEAD http::app_request* req; ///< batch entry, or `owned` after detach
    http::app_request* owned;             ///< heap copy once detached
    PyObject* param_names;                ///< tuple of str (borrowed from the bridge, kept alive by it)
    const python_types* types;
    PyObject* cache_method;
    PyObject* cache_path;
    PyObject* cache_headers;
    PyObject* cache_query;
    PyObject* cache_params;
    PyObject* cache_body;
    PyObject* dict; ///< __dict__ for handler-set attributes (req.state-like use)
};

extern PyTypeObject request_type;

/// Ready the type (once, at module init).
int init_request_type();

/// New request view over `req`.
request_object* new_request(http::app_request* req, PyObject* param_names, const python_types* types);

/// The handler returned: if it kept a reference, move the request into the object.
void release_request(request_object* obj);

/// Give the view its own copy of the request now (it will outlive the batch: async).
void detach_request(request_object* obj);

} // namespace ringbolt::py
