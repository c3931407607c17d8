// The reactor class's accepting: holding and resuming it (the connection cap, back-off
// after accept errors), the listener's queue swept at a drain, and a new connection's
// slot, transport and first protocol; split from reactor.cpp.
#include "server/reactor.hpp"

#include "core/log.hpp"
#include "core/probes.hpp"
#include "uring/user_data.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace ringbolt::server {

namespace {

// accept(2) errors that the next queued connection is not expected to repeat: the
// failed one was taken off the queue (aborted, or a network error passed on, as the
// man page lists for TCP). Anything else, above all EMFILE/ENFILE/ENOMEM/ENOBUFS, would
// fail again at once while connections are queued.
bool accept_error_is_transient(int err) noexcept {
    switch (err) {
    case ECONNABORTED:
    case EINTR:
    case EAGAIN:
    case EPERM: // a firewall rule refused this connection
    case EPROTO:
    case ENOPROTOOPT:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENONET:
    case EOPNOTSUPP:
    case ETIMEDOUT:
        return true;
    default:
        return false;
    }
}

} // namespace

void reactor::update_accepting() noexcept {
    if (_draining) {
        return; // the drain owns the listener: begin_drain / on_accept_end sweep and close it
    }
    bool was_held = _accept_hold.any();
    if (_config.limit_connections != 0) {
        // Backpressure: at the connection cap stop accepting (the kernel's backlog holds
        // new clients); resume once below it.
        _accept_hold.at_connection_cap = _live >= _config.limit_connections;
    }
    if (_accept_hold.any()) {
        if (!was_held && _accept_armed) {
            _backend->cancel_accept(_listen_fd); // its on_accept_end comes back here
        }
    } else if (!_accept_armed) {
        _backend->arm_accept(_listen_fd);
        _accept_armed = true;
    }
}

// Draining: the accept request is gone. Connections already queued on the listener
// (possibly after a wake-up that the cancelled request consumed: accept polls are
// exclusive, so no other worker was woken for them) are taken and served with
// Connection: close instead of being stranded or reset.
void reactor::sweep_accept_queue() noexcept {
    _backend->accept_queued(_listen_fd, 4096, *this);
}

void reactor::on_accept_end(int res) noexcept {
    _accept_armed = false;
    if (_draining) {
        if (_listen_fd >= 0) {
            sweep_accept_queue();
            _backend->forget(_listen_fd);
            _backend->close_socket(_listen_fd);
            _listen_fd = -1;
        }
        return;
    }
    if (res != -ECANCELED) {
        // Out of descriptors or memory the failed connection stays queued, so arming again
        // at once fails again at once: a spin, and a log line each time. Back off until
        // the tick; a transient error (the connection is gone) re-arms now.
        bool transient = accept_error_is_transient(-res);
        if (!transient) {
            _accept_hold.backing_off = true;
        }
        uint64_t held_back = 0;
        core::log_throttle& throttle = transient ? _accept_transient_log : _accept_backoff_log;
        if (throttle.admit(_now_s, held_back)) {
            const char* action =
                transient ? "re-arming" : "pausing accept, retrying when a connection closes and every second";
            if (held_back == 0) {
                core::log(core::log_level::warning, "reactor %u: accept: %s (%s)", _index, std::strerror(-res), action);
            } else {
                core::log(core::log_level::warning,
                          "reactor %u: accept: %s (%s; %llu more accept error(s) since the last report)", _index,
                          std::strerror(-res), action, static_cast<unsigned long long>(held_back));
            }
        }
    }
    update_accepting();
}

void reactor::on_accept(int fd) noexcept {
    if (_live >= _config.max_connections) [[unlikely]] {
        _backend->close_socket(fd);
        return;
    }
    // The connection's facts begin with the socket's peer; a PROXY header and TLS complete
    // them (conn_slot::facts).
    http::peer_address facts = peer_of(*_backend, fd);
    std::unique_ptr<transport::transport> own_tp;
    if (_config.transports) [[unlikely]] {
        own_tp = _config.transports->make(_counters, _now_s);
        if (!own_tp) {
            _backend->close_socket(fd); // out of memory for the TLS state
            return;
        }
    }
    if (_config.proxy.policy.versions != 0) [[unlikely]] {
        // Behind a load balancer: its PROXY header comes first, before TLS (a balancer's
        // header is required, anyone else's refused: transport/proxy_transport.hpp).
        if (facts.family == 0) {
            // Gone before it could be looked at (getpeername: ENOTCONN; a balancer's health
            // check that connects and closes at once): who sent its bytes is unknown, so
            // none of them is read.
            _backend->close_socket(fd);
            return;
        }
        bool balancer = _config.proxy.balancers.contains(facts);
        own_tp = std::make_unique<ringbolt::transport::proxy_transport>(std::move(own_tp), _config.proxy.policy,
                                                                        balancer, _counters, _now_s);
    }
    uint32_t slot;
    if (!_free_slots.empty()) {
        slot = _free_slots.back();
        _free_slots.pop_back();
    } else {
        slot = static_cast<uint32_t>(_slots.size());
        if (slot >= uring::max_slots) {
            _backend->close_socket(fd);
            return;
        }
        _slots.emplace_back();
    }
    conn_slot& s = _slots[slot];
    s.fd = fd;
    s.state = slot_state::open;
    s.recv = recv_state::idle;
    s.send = send_state::idle;
    s.eof_stashed = false;
    s.dirty = false;
    s.rcvbuf_wide = false;
    s.own_tp = std::move(own_tp);
    s.tp = s.own_tp ? s.own_tp.get() : &transport::plain_transport::instance();
    s.alpn_seen = false;
    if (s.parked_first) {
        s.proto = std::move(s.parked_first); // the last connection switched protocols
    } else if (!s.proto) {
        s.proto = _protocols.make_first(); // HTTP/1.1 (server/protocols.cpp), kept with the slot, reused
    }
    if (s.own_tp) {
        s.own_tp->attach_socket(fd, *_backend);
        facts.secure = s.own_tp->secure();
        facts.tls = s.own_tp->tls_info(); // filled when the handshake completes
    }
    s.facts = facts;
    s.proto->open(slot, s.gen, s.facts, _now_s, _config.limits);
    ++_live;
    _counters.connections_accepted.add();
    _counters.connections_open.set(_live);
    RB_PROBE2(accept, slot, fd);
    if (_draining) [[unlikely]] {
        s.proto->begin_drain(_now_s, fresh_grace_s); // its first request is answered with Connection: close
    }
    arm_recv(s, slot);
    update_accepting();
}

} // namespace ringbolt::server
