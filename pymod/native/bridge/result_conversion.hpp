// The pieces of result conversion the bridge's other files share: a status, a body and a
// header list as a Response carries them, and an HTTPError made its problem answer.
// convert_result and build_head, the whole conversions, are declared in app_bridge.hpp.
#pragma once

#include "pymod/native/bridge/app_bridge.hpp"

#include <string_view>

namespace ringbolt::py {

/// A Response's status (an int in 100..999). False with a Python exception set.
bool convert_status(PyObject* status, response_parts& out);
/// A Response's body (None, bytes, str, or dict/list as JSON); `set_type`: give its
/// default Content-Type. False with a Python exception set.
bool convert_body(PyObject* body, response_parts& out, bool set_type);
/// A Response's headers (a mapping or a list of pairs, str or bytes). False with a
/// Python exception set.
bool convert_headers(PyObject* headers, response_parts& out);
/// An HTTPError (`exc` an instance of `types.http_error`) as its answer: status,
/// headers and body into `parts` and `head`. The body is its RFC 9457 problem
/// (application/problem+json), or with `detail_body` FastAPI's `{"detail": ...}`
/// (application/json; none for a status that has no body: 1xx, 204, 205, 304). False
/// with a Python exception set when it cannot be (the caller answers 500).
bool convert_http_error(PyObject* exc, response_parts& parts, http::response_head& head, bool detail_body = false);

} // namespace ringbolt::py
