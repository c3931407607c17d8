// Listening sockets: one per reactor, all bound to the same address with SO_REUSEPORT
// so the kernel spreads connections across cores.
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <string>

namespace ringbolt::uring {

/// Create, bind and listen. `port` 0 picks a free port (read it with local_port()).
result<int> open_listener(const std::string& host, uint16_t port, int backlog) noexcept;

/// The port a bound socket got.
uint16_t local_port(int fd) noexcept;

} // namespace ringbolt::uring
