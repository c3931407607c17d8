// What crosses from a reactor to the application (Python) and back: a request copied
// out of the receive buffers into one owned string with offsets into it, and a fully
// serialized response. Copying here is what lets receive buffers go back to the ring
// as soon as they are parsed.
#pragma once

#include "http/router.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::http {

/// Spare capacity after app_request::data so a JSON parser (simdjson) can read the
/// body in place, without copying it into a padded buffer.
inline constexpr size_t app_request_padding = 64;

struct span32 {
    uint32_t off = 0;
    uint32_t len = 0;
    std::string_view in(const std::string& s) const noexcept { return {s.data() + off, len}; }
};

struct app_param {
    param_type type;
    span32 raw;
    int64_t int_value;
};

struct peer_address {
    uint8_t family = 0; ///< AF_INET / AF_INET6 (0: unknown)
    uint16_t port = 0;  ///< host byte order
    uint8_t addr[16] = {};
};

struct app_request {
    // Where the response goes.
    uint32_t conn_slot = 0;
    uint32_t conn_gen = 0;
    uint64_t seq = 0;
    uint32_t handler = 0;  ///< index of the application's handler
    uint32_t route_id = 0; ///< router id (metrics label)
    uint64_t start_ns = 0; ///< when the request was complete (0: not timed)

    std::string data; ///< request head bytes, then the (decoded) body
    span32 method, target, path, query, body;
    uint16_t method_id = 0;
    uint8_t version_minor = 1;
    bool keep_alive = true;
    bool head_request = false;
    std::vector<span32> headers; ///< name, value, name, value, ...
    uint8_t num_params = 0;
    app_param params[max_route_params];
    peer_address peer;
};

struct app_response {
    uint32_t conn_slot = 0;
    uint32_t conn_gen = 0;
    uint64_t seq = 0;
    uint16_t status = 200;
    bool close = false; ///< close after this response
    uint32_t route_id = 0;
    uint64_t start_ns = 0;
    std::string bytes; ///< the whole serialized response
};

} // namespace ringbolt::http
