// A WebSocket's application end in Python (ringbolt._native.WebSocket): the reactor
// hands it whole messages and the close (ws::app_channel), the event loop takes them
// and sends through it, each direction with its own flow control and waiter.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

namespace ringbolt::py {

/// Ready the type and add `WebSocket` and `ws_accept` to the module.
bool init_websocket(PyObject* module);

} // namespace ringbolt::py
