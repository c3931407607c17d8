// Listening sockets: one per reactor, all bound to the same address with SO_REUSEPORT
// so the kernel spreads connections across cores. The one implementation: the
// supervisor binds its workers' listeners through it too (ringbolt._native.bind_listeners).
// Datagram (UDP) sockets are opened here too, with what the kernel offers for them.
#pragma once

#include "core/result.hpp"
#include "uring/datagram.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ringbolt::uring {

/// Create, bind and listen. `port` 0 picks a free port (read it with local_port()).
core::result<int> open_listener(const std::string& host, uint16_t port, int backlog) noexcept;

/// Whether host:port is free for a new server: bind a probe socket there WITHOUT
/// SO_REUSEPORT (with SO_REUSEADDR, so connections in TIME_WAIT do not count), then
/// close it. The reuseport listeners would otherwise join another process's listeners
/// on that port and the kernel would split the traffic between the two servers.
/// Fails with EADDRINUSE when something listens there.
core::result<void> probe_address_free(const std::string& host, uint16_t port) noexcept;

/// `count` listeners on host:port, in the order they join the port's SO_REUSEPORT group:
/// the probe above first (port != 0), then the first listener (port 0: it picks the
/// port) and the others on its port. On failure none stays open.
core::result<std::vector<int>> open_listeners(const std::string& host, uint16_t port, unsigned count,
                                              int backlog) noexcept;

/// A stop's first step on a listener whose last descriptor is about to close: new
/// clients are turned away while what is already under way still reaches the accept
/// queue, which the owner then sweeps. TCP: a socket filter drops SYN without ACK (the
/// client retries and is refused once the listener is closed, before it wrote anything;
/// handshakes under way complete). Unix: shut for reading, connect() is refused at once.
/// Closing without it resets every connection that completes between the last sweep and
/// the close, after its client wrote a request. EINVAL: not a listening stream socket.
core::result<void> refuse_new_connections(int fd) noexcept;

/// "cannot listen on host:port: <why>" for an open_listeners failure's errno.
std::string describe_listen_failure(const std::string& host, uint16_t port, int sys_errno);

/// What open_datagram_socket asks of the kernel.
struct datagram_options {
    bool reuseport = false; ///< SO_REUSEPORT: several sockets (one per reactor) share the port
    /// UDP_GRO: the kernel may hand over a run of datagrams from one peer as one batch
    /// (datagram::segment_size). Needs receive buffers of datagram_buffers::gro_size.
    bool gro = true;
    /// SO_RCVBUF asked for (0: the kernel's default). Where net.core.rmem_max caps it,
    /// SO_RCVBUFFORCE is tried (CAP_NET_ADMIN); datagram_socket::receive_buffer says what
    /// the socket got. A full buffer drops datagrams (a burst of many QUIC connections).
    int receive_buffer = 0;
    /// The first socket of a process logs what the kernel offered. Off for the supervisor's
    /// binding: a process that forks workers starts no thread before it forks (the log's
    /// writer thread), and each worker says it for the sockets it adopts.
    bool announce = true;
};

/// A non-blocking UDP socket bound to host:port (port 0: a free one; IPv4 or IPv6 as the
/// host resolves) that reports each datagram's local address (IP_PKTINFO /
/// IPV6_RECVPKTINFO) and ECN bits (IP_RECVTOS, and IPV6_RECVTCLASS on IPv6), with UDP_GRO
/// when asked and accepted, `gso` when UDP_SEGMENT works (probed once per process), and
/// the receive buffer asked for. The first call logs what the kernel offered (GRO, GSO,
/// the receive buffer, and the sysctl to raise when it got less); what it refuses is left off.
core::result<datagram_socket> open_datagram_socket(const std::string& host, uint16_t port,
                                                   const datagram_options& options = {}) noexcept;

/// `count` datagram sockets on host:port with SO_REUSEPORT (whatever `options` says), in
/// the order they join the port's group: the order a steering program counts in
/// (quic/steering.hpp). Port 0: the first picks a free port, the others join it. On
/// failure none stays open.
core::result<std::vector<datagram_socket>> open_datagram_group(const std::string& host, uint16_t port, unsigned count,
                                                               const datagram_options& options = {}) noexcept;

/// A bound datagram socket another process opened (a supervisor's, inherited): made
/// non-blocking, set up as open_datagram_socket sets its own, and described. EINVAL: not
/// a bound UDP socket. `fd` stays the caller's (closed by whoever owns the result).
core::result<datagram_socket> adopt_datagram_socket(int fd, const datagram_options& options = {}) noexcept;

/// The port a bound socket got (0 for a socket that is not TCP/IP, e.g. AF_UNIX).
uint16_t local_port(int fd) noexcept;

/// A TCP connection to ourselves on 127.0.0.1, for a probe of what the kernel offers an
/// established socket (kTLS's upper layer and keys: tls/context.cpp). Closed when it goes.
class loopback_connection {
  public:
    loopback_connection() noexcept;
    ~loopback_connection();
    loopback_connection(const loopback_connection&) = delete;
    loopback_connection& operator=(const loopback_connection&) = delete;
    /// The accepted end, or -1 when the connection failed (`error()` says why).
    int accepted() const noexcept { return _accepted; }
    /// The errno of the step that failed (0 when none did).
    int error() const noexcept { return _error; }

  private:
    int _listener = -1;
    int _client = -1;
    int _accepted = -1;
    int _error = 0;
};

} // namespace ringbolt::uring
