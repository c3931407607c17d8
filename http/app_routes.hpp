// The application's routes as the reactors see them: the route table plus, per
// handler id, whether it is answered natively (pre-serialized) or by Python.
// Built once before the reactors start; read-only (shared) afterwards.
#pragma once

#include "http/router.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ringbolt::http {

struct native_response {
    uint16_t status = 200;
    std::string headers; ///< "Name: value\r\n" lines (validated), without Content-Length
    std::string body;
};

struct route_target {
    bool native = false;
    uint32_t handler = 0;    ///< Python handler index (when !native)
    native_response response; ///< when native
};

struct app_routes {
    route_table table;
    std::vector<route_target> targets; ///< indexed by the router's handler id
};

} // namespace ringbolt::http
