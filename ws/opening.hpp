// Whether an HTTP request is a WebSocket opening handshake, and whether it is a valid
// one (RFC 6455 §4.2.1), decided on the reactor before anything reaches the application.
#pragma once

#include "http/parser.hpp"

#include <string_view>

namespace ringbolt::ws {

enum class opening_status : uint8_t {
    not_websocket, ///< no `Upgrade: websocket` (with Connection: upgrade): an ordinary request
    valid,         ///< GET, HTTP/1.1, version 13, a well-formed key (an HTTP/2 extended CONNECT: no key)
    bad_version,   ///< Sec-WebSocket-Version is not 13: 426 with `Sec-WebSocket-Version: 13` (§4.4)
    bad_request,   ///< not GET, HTTP/1.0, no Host, or a missing/malformed key: 400
};

struct opening_check {
    opening_status status = opening_status::not_websocket;
    std::string_view key;     ///< Sec-WebSocket-Key (when valid)
    std::string_view why;     ///< what is wrong, one sentence (logs, tests)
    std::string_view problem; ///< the refusal's RFC 9457 problem+json body (a constant naming `why`)
};

opening_check check_opening(const http::request_head& head) noexcept;

/// How a request to a route that takes WebSockets is refused: the status, its header
/// lines (the problem type first) and the RFC 9457 problem body; status 0: not refused.
struct opening_refusal {
    uint16_t status = 0;
    std::string_view fields;
    std::string_view body;
};

/// The answer `check` calls for: a bad version is 426 naming version 13 (§4.4), a bad
/// handshake 400 (§4.2.1); anything else, on a route that takes only WebSockets, 426
/// asking for the handshake (RFC 9110 §15.5.22). The protocol validates; the dispatcher
/// decides whether the route takes WebSockets at all and sends what this returns.
opening_refusal refusal_of(const opening_check& check, bool websocket_only) noexcept;

} // namespace ringbolt::ws
