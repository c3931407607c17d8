// Listening sockets: one per reactor, all bound to the same address with SO_REUSEPORT
// so the kernel spreads connections across cores. The one implementation: the
// supervisor binds its workers' listeners through it too (ringbolt._native.bind_listeners).
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ringbolt::uring {

/// Create, bind and listen. `port` 0 picks a free port (read it with local_port()).
result<int> open_listener(const std::string& host, uint16_t port, int backlog) noexcept;

/// Whether host:port is free for a new server: bind a probe socket there WITHOUT
/// SO_REUSEPORT (with SO_REUSEADDR, so connections in TIME_WAIT do not count), then
/// close it. The reuseport listeners would otherwise join another process's listeners
/// on that port and the kernel would split the traffic between the two servers.
/// Fails with EADDRINUSE when something listens there.
result<void> probe_address_free(const std::string& host, uint16_t port) noexcept;

/// `count` listeners on host:port, in the order they join the port's SO_REUSEPORT group:
/// the probe above first (port != 0), then the first listener (port 0: it picks the
/// port) and the others on its port. On failure none stays open.
result<std::vector<int>> open_listeners(const std::string& host, uint16_t port, unsigned count, int backlog) noexcept;

/// "cannot listen on host:port: <why>" for an open_listeners failure's errno.
std::string describe_listen_failure(const std::string& host, uint16_t port, int sys_errno);

/// The port a bound socket got (0 for a socket that is not TCP/IP, e.g. AF_UNIX).
uint16_t local_port(int fd) noexcept;

} // namespace ringbolt::uring
