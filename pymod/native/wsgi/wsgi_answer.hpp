// The head of a WSGI app's whole answer (wsgi_answer.cpp), built from the status and
// header list it gave start_response.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "http/response_framer.hpp"

#include <cstddef>

namespace ringbolt::py {

/// `head` for an answer of `body_size` bytes: the checks, order of checks and errors of
/// app_bridge's convert_headers and build_head for a Response (names, CR/LF/NUL,
/// http::check_app_field's framing fields, 1xx refused, a Content-Length that must match
/// the body; a HEAD keeps a declared length), the app's list read in place and the
/// fields written once. A block of fields that recurs (most of an app's answers carry
/// the same lines: Content-Length is framing, not among them) is sent from a kept copy
/// (`head.static_fields`), with no allocation. False with a Python exception set. GIL held.
bool wsgi_answer_head(int status, PyObject* headers, size_t body_size, bool head_request, http::response_head& head);

} // namespace ringbolt::py
