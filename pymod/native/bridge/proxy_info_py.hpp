// What a load balancer's PROXY protocol header said (core::proxy_info) as a Python dict:
// `req.proxy_protocol`, the ASGI scope's extensions["proxy_protocol"] and the WSGI
// environ's "ringbolt.proxy_protocol" (docs/deployment.md#proxy-protocol).
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "core/proxy_info.hpp"

namespace ringbolt::py {

/// {"version", "balancer", "destination", "alpn", "authority", "unique_id", "ssl"}: a new
/// dict, or nullptr with an exception set.
PyObject* proxy_info_dict(const core::proxy_info& info);

} // namespace ringbolt::py
