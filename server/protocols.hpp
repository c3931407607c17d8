// The protocols a connection may leave HTTP/1.1 for, as the composition root registers
// them: one line a protocol in protocols.cpp. Adding a protocol is a folder of its own
// and a line there; the reactor and HTTP/1.1 only ask the registry.
#pragma once

#include "http/protocol_registry.hpp"
#include "server/server_config.hpp"

#include <string>
#include <vector>

namespace ringbolt::server {

/// The registry a reactor serves `config`'s listener with (`--http` leaves HTTP/2 out
/// of an HTTP/1.1-only listener). `websocket`: a route takes WebSockets, so HTTP/2 offers
/// them too (RFC 8441's extended CONNECT).
http::protocol_registry protocols_for(const server_config& config, bool websocket = false);

/// What TLS's ALPN offers on `config`'s listener (RFC 7301), from the registry: its
/// protocols' ids in registration order, then HTTP/1.1's unless the listener is
/// HTTP/2-only. `required`: HTTP/1.1 is not served, so a client whose ALPN list shares
/// none of `ids` is refused (no_application_protocol) rather than served without ALPN.
struct alpn_choice {
    std::vector<std::string> ids;
    bool required = false;
};
alpn_choice alpn_offer_for(const server_config& config);

} // namespace ringbolt::server
