// The protocols a connection may leave HTTP/1.1 for, as the composition root registers
// them: one line a protocol in protocols.cpp. Adding a protocol is a folder of its own
// and a line there; the reactor and HTTP/1.1 only ask the registry.
#pragma once

#include "http/protocol_registry.hpp"
#include "server/server_config.hpp"

namespace ringbolt::uring {

/// The registry a reactor serves `config`'s listener with (`--http` leaves HTTP/2 out
/// of an HTTP/1.1-only listener).
http::protocol_registry protocols_for(const server_config& config);

} // namespace ringbolt::uring
