// The bridge's hand-over to the event loop: a pending answer for each async request
// (a capsule the loop completes), and the requests staged for the loop per turn.
#pragma once

#include "pymod/native/bridge/app_bridge.hpp"

namespace ringbolt::py {

/// A pending answer for `req` (an async handler's request), answered through `sink`: a
/// capsule that complete_async / complete_asgi / claim_pending take, and whose
/// destructor answers 500 when it was never completed. Null with a Python exception set.
PyObject* new_pending(app_bridge& bridge, const dispatch::app_request& req, server::response_sink& sink);

/// Stage `items` (a list of (handler, request, pending); stolen) for the event loop: the
/// first staging since the loop last took them asks for its wake-up. GIL held.
void stage_for_loop(PyObject* items);

} // namespace ringbolt::py
