// Owns: what the load tools' HTTP/2 and HTTP/3 client connections (h2_connection,
// h3_connection) keep alike — the socket, the phase, when it opened, whether the server
// said GOAWAY, the first error, the time of the call in progress — and how the socket is
// opened and closed.
#pragma once

#include "command_line.hpp"

#include <cstdint>
#include <string>

namespace ringbolt_load {

class client_connection {
  public:
    enum class phase {
        closed,      // no socket: not opened yet, or ended
        handshaking, // the transport's or the protocol's set-up in progress, no stream yet
        ready,       // streams may open
    };

    int fd() const noexcept { return _fd; }
    phase state() const noexcept { return _phase; }
    int64_t opened_ns() const noexcept { return _opened_ns; }
    bool got_goaway() const noexcept { return _goaway; }
    const std::string& error() const noexcept { return _error; }
    // Its socket joins an epoll set for reading, with `key` as its event's data.
    void watch_reads(int epoll_fd, uint64_t key) const noexcept;

  protected:
    enum class recv_status { again, drained, failed };
    // After a receive returned < 0: try again (EINTR), nothing more now (EAGAIN), or
    // failed (error() names the errno).
    recv_status after_recv_error() noexcept;
    // A new socket of `type` (SOCK_STREAM, SOCK_DGRAM; close-on-exec added) for the
    // target's family, at `now`; false with error() saying why.
    bool open_socket(const load_target& target, int type, int64_t now);
    // The socket closed and the state back to closed (the protocol's own first).
    void close_socket() noexcept;

    phase _phase = phase::closed;
    int _fd = -1;
    int64_t _opened_ns = 0;
    int64_t _now = 0; // the time of the call in progress (for callbacks)
    bool _goaway = false;
    std::string _error;
};

// A thread's housekeeping of one connection, by its phase: a closed one opens again once
// reopen_at passed (open()); one still setting up after timeout_ns is dropped (drop());
// a ready one has its streams' deadlines checked, then ready().
template <class Conn, class Open, class Drop, class Ready>
void tend_connection(Conn& c, int64_t reopen_at, int64_t now, int64_t timeout_ns, Open open, Drop drop, Ready ready) {
    switch (c.state()) {
    case client_connection::phase::closed:
        if (now >= reopen_at) {
            open();
        }
        break;
    case client_connection::phase::handshaking:
        if (now - c.opened_ns() >= timeout_ns) {
            drop();
        }
        break;
    case client_connection::phase::ready:
        c.expire_requests(now, timeout_ns);
        ready();
        break;
    }
}

} // namespace ringbolt_load
