// HTTP/3 on a reactor (--http3): its own UDP socket on the HTTPS listener's host and port
// (SO_REUSEPORT; the server binds the group in order and steers each packet to the socket
// its connection ID names, quic/steering.hpp), a send pool onto the backend, and a quic::endpoint whose connections
// each hold a slot of the reactor's table (slot_state::quic, no fd), so the dispatcher and
// the application's answers reach the connection's h3::connection by slot and generation
// as they reach a TCP connection's protocol. Split from reactor.cpp; the same class.
#include "core/clock.hpp"
#include "core/log.hpp"
#include "h3/connection.hpp"
#include "quic/endpoint.hpp"
#include "quic/send_pool.hpp"
#include "server/reactor.hpp"
#include "uring/listener.hpp"
#include "uring/user_data.hpp"

#include <cerrno>
#include <cstring>
#include <optional>
#include <unistd.h>

namespace ringbolt::server {

namespace {

constexpr uint32_t quic_socket_id = 0; ///< the reactor's one datagram socket

http::peer_address peer_of_datagram(const uring::datagram_address& a) noexcept {
    http::peer_address peer;
    if (a.addr.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&a.addr);
        peer.family = AF_INET;
        peer.port = ntohs(in->sin_port);
        std::memcpy(peer.addr, &in->sin_addr, 4);
    } else if (a.addr.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.addr);
        peer.family = AF_INET6;
        peer.port = ntohs(in6->sin6_port);
        std::memcpy(peer.addr, &in6->sin6_addr, 16);
    }
    peer.secure = true; // QUIC is always TLS 1.3: the scheme is https
    return peer;
}

} // namespace

/// The stream_user the endpoint owns for each connection: forwards to the slot's
/// h3::connection (the slot owns it, as it owns a TCP connection's protocol) and frees the
/// slot when the endpoint deletes the connection. The endpoint deletes its connections
/// only in its own calls (flush, on_timer) or when it is destroyed, never inside a call of
/// this adapter, so the h3::connection outlives every call made through it.
class quic_slot_user final : public quic::stream_user {
  public:
    quic_slot_user(quic_side& q, uint32_t slot, h3::connection& conn) noexcept : _q(q), _slot(slot), _conn(conn) {}
    ~quic_slot_user() override;
    quic_slot_user(const quic_slot_user&) = delete;
    quic_slot_user& operator=(const quic_slot_user&) = delete;

    void on_connected(quic::stream_host& host) noexcept override { _conn.on_connected(host); }
    void on_stream_data(int64_t id, std::span<const uint8_t> data, bool fin) noexcept override {
        _conn.on_stream_data(id, data, fin);
    }
    void on_stream_reset(int64_t id, uint64_t e) noexcept override { _conn.on_stream_reset(id, e); }
    void on_stop_sending(int64_t id, uint64_t e) noexcept override { _conn.on_stop_sending(id, e); }
    void on_stream_closed(int64_t id, uint64_t e) noexcept override { _conn.on_stream_closed(id, e); }
    void on_acked(int64_t id, uint64_t n) noexcept override { _conn.on_acked(id, n); }
    void on_stream_writable(int64_t id) noexcept override { _conn.on_stream_writable(id); }
    void next_output(quic::stream_output& out) noexcept override { _conn.next_output(out); }
    void wrote(int64_t id, size_t n) noexcept override { _conn.wrote(id, n); }
    void blocked(int64_t id) noexcept override { _conn.blocked(id); }
    void begin_drain() noexcept override { _conn.begin_drain(); }
    bool idle() const noexcept override { return _conn.idle(); }

  private:
    quic_side& _q;
    uint32_t _slot;
    h3::connection& _conn;
};

/// A reactor's HTTP/3 pieces. Destroyed before the backend (the send pool's batches are
/// the backend's until sent) and before the slot table (the endpoint's connections free
/// their slots as they go).
struct quic_side final : h3::env_source {
    reactor& r;
    core::block_pool blocks;  ///< ngtcp2's and nghttp3's small blocks (declared first: it outlives `ep`'s connections)
    h3::settings h3_settings; ///< the server's, with this reactor's `blocks`
    uring::datagram_socket sock;
    quic::send_pool pool;
    std::optional<quic::endpoint> ep;
    std::optional<http::protocol_env> turn_env;
    bool receiving = false;
    bool end_logged = false;
    uint64_t closed_seen = 0; ///< the endpoint's closed connections already counted as released memory

    quic_side(reactor& owner, const uring::datagram_socket& s) noexcept
        : r(owner), sock(s), pool(*owner._backend, quic_socket_id) {}
    ~quic_side() override {
        ep.reset(); // its connections free their slots
        if (sock.fd >= 0) {
            r._backend->forget(sock.fd);
            r._backend->close_socket(sock.fd);
        }
    }
    quic_side(const quic_side&) = delete;
    quic_side& operator=(const quic_side&) = delete;

    /// The reactor's per-turn env, made fresh as each QUIC entry point begins (the Date,
    /// the second and the drain flag move between turns).
    void refresh_env() noexcept { turn_env.emplace(r.env()); }
    http::protocol_env& env() noexcept override {
        if (!turn_env) {
            refresh_env();
        }
        return *turn_env;
    }

    std::unique_ptr<quic::stream_user> make_user(const uring::datagram_address& peer) noexcept;
    void free_slot(uint32_t slot) noexcept;
};

void quic_side_deleter::operator()(quic_side* q) const noexcept {
    delete q;
}

quic_slot_user::~quic_slot_user() {
    _q.free_slot(_slot);
}

std::unique_ptr<quic::stream_user> quic_side::make_user(const uring::datagram_address& peer) noexcept {
    uint32_t slot;
    if (!r._free_slots.empty()) {
        slot = r._free_slots.back();
        r._free_slots.pop_back();
    } else {
        slot = static_cast<uint32_t>(r._slots.size());
        if (slot >= uring::max_slots) {
            return nullptr; // the endpoint drops the Initial (counted)
        }
        r._slots.emplace_back();
    }
    reactor::conn_slot& s = r._slots[slot];
    s.fd = -1;
    s.state = reactor::slot_state::quic;
    s.recv = reactor::recv_state::idle;
    s.send = reactor::send_state::idle;
    s.eof_stashed = false;
    s.dirty = false;
    // The slot's first protocol waits for its next TCP connection (reactor::on_accept).
    if (s.proto && !s.parked_first) {
        s.parked_first = std::move(s.proto);
    }
    auto conn = std::make_unique<h3::connection>(*this, h3_settings);
    conn->open(slot, s.gen, peer_of_datagram(peer), r._now_s, r._config.limits);
    h3::connection& raw = *conn;
    s.proto = std::move(conn);
    r._counters.connections_accepted.add();
    return std::make_unique<quic_slot_user>(*this, slot, raw);
}

void quic_side::free_slot(uint32_t slot) noexcept {
    reactor::conn_slot& s = r._slots[slot];
    if (s.proto) {
        s.proto->release(); // streaming producers learn the client is gone
    }
    s.proto.reset();
    s.state = reactor::slot_state::free;
    s.dirty = false; // (flush_dirty skips slots that are not open)
    ++s.gen;
    r._free_slots.push_back(slot);
    r._counters.connections_closed.add();
}

void reactor::quic_release_blocks() noexcept {
    _quic->blocks.clear();
}

core::result<void> reactor::setup_quic() noexcept {
    const http3_config& h3 = _config.http3;
    if (!h3.enabled) {
        return {};
    }
    core::result<uring::datagram_socket> sock{uring::datagram_socket{}};
    if (_index < h3.sockets.size()) {
        sock = h3.sockets[_index]; // bound in order by the server (or its supervisor): ours now
    } else {
        // A reactor made on its own (tests): its own socket, at position _index.
        uring::datagram_options opts;
        opts.reuseport = true;
        opts.gro = true;
        opts.receive_buffer = quic_receive_buffer;
        const uint16_t port = uring::local_port(_listen_fd); // the HTTPS listener's: Alt-Svc names it
        sock = uring::open_datagram_socket(_config.host, port, opts);
        if (!sock.ok()) {
            core::log(core::log_level::error, "reactor %u: HTTP/3: cannot open UDP %s:%u: %s", _index,
                      _config.host.c_str(), port, std::strerror(sock.sys_errno()));
            return {sock.error(), sock.sys_errno()};
        }
    }
    uring::datagram_buffers buffers; // 32 buffers of a GRO batch each: 2 MiB a reactor
    if (core::result<void> rc = _backend->setup_datagrams(buffers); !rc.ok()) {
        ::close(sock.value().fd);
        core::log(core::log_level::error, "reactor %u: HTTP/3: datagram buffers: %s", _index,
                  std::strerror(rc.sys_errno()));
        return rc;
    }
    _quic.reset(new quic_side(*this, sock.value()));
    quic::endpoint_config cfg;
    cfg.transport = h3.transport;
    cfg.transport.blocks = &_quic->blocks;
    _quic->h3_settings = h3.settings;
    _quic->h3_settings.blocks = &_quic->blocks;
    _quic->h3_settings.websocket = _websockets;
    cfg.group_position = static_cast<uint8_t>(h3.first_position + _index); // (< 256: server::start checks)
    cfg.max_connections = h3.max_connections;
    cfg.secret = h3.secret;
    cfg.retry_above_initials_per_second = h3.retry_above_initials_per_second;
    cfg.max_half_open = h3.max_half_open;
    quic_side* q = _quic.get();
    q->ep.emplace(
        cfg, h3.credentials, [q](const uring::datagram_address& peer) { return q->make_user(peer); }, q->pool);
    _backend->arm_datagram(quic_socket_id, q->sock);
    q->receiving = true;
    return {};
}

void reactor::on_datagram(uint32_t id, const uring::datagram& d) noexcept {
    if (!_quic || id != quic_socket_id) [[unlikely]] {
        return;
    }
    _quic->refresh_env();
    _quic->ep->on_datagram(d, core::monotonic_ns());
}

void reactor::on_datagram_end(uint32_t id, int res) noexcept {
    if (!_quic || id != quic_socket_id) [[unlikely]] {
        return;
    }
    _quic->receiving = false;
    if (res == -ECANCELED || _draining) {
        return;
    }
    // An error ended the receive (the backend re-arms by itself on ENOBUFS): arm it again,
    // saying so once.
    if (!_quic->end_logged) {
        _quic->end_logged = true;
        core::log(core::log_level::warning, "reactor %u: HTTP/3: UDP receive ended (%s); receiving again", _index,
                  std::strerror(-res));
    }
    _backend->arm_datagram(quic_socket_id, _quic->sock);
    _quic->receiving = true;
}

void reactor::on_datagrams_sent(uint32_t id, uring::datagram_send& batch) noexcept {
    if (!_quic || id != quic_socket_id) [[unlikely]] {
        return;
    }
    _quic->pool.on_sent(batch);
}

unsigned reactor::quic_flush(unsigned wait_ms) noexcept {
    uint64_t now = core::monotonic_ns();
    _quic->refresh_env();
    _quic->ep->flush(now);
    // The connections the endpoint freed (in this flush, or at its timers) count toward the
    // tick's malloc_trim as freed output does, each at least what a half-open one held: a
    // flood's thousands of connections, freed, would otherwise stay in the process's RSS.
    if (uint64_t closed = _quic->ep->stats().closed; closed != _quic->closed_seen) {
        _released_bytes += (closed - _quic->closed_seen) * quic::half_open_connection_bytes;
        _quic->closed_seen = closed;
    }
    publish_quic_counters();
    uint64_t due = _quic->ep->next_expiry();
    if (due == UINT64_MAX) {
        return wait_ms;
    }
    if (due <= now) {
        return 0;
    }
    uint64_t ms = (due - now + 999'999) / 1'000'000; // a timer never fires early
    return ms < wait_ms ? static_cast<unsigned>(ms) : wait_ms;
}

// A score of relaxed stores a turn, on reactors that serve HTTP/3 only.
void reactor::publish_quic_counters() noexcept {
    const quic::endpoint_stats& e = _quic->ep->stats();
    const uring::datagram_stats& d = _backend->dgram_stats;
    quic_counters& c = _quic_counters;
    c.quic_packets.set(e.packets);
    c.quic_dropped.set(e.dropped);
    c.quic_connections_accepted.set(e.accepted);
    c.quic_connections_refused.set(e.refused);
    c.quic_connections_closed.set(e.closed);
    c.quic_idle_closed.set(e.idle_closed);
    c.quic_errors.set(e.errors);
    c.quic_version_negotiations.set(e.version_negotiations);
    c.quic_stateless_resets.set(e.stateless_resets);
    c.quic_replies_limited.set(e.replies_limited);
    c.quic_retries.set(e.retries);
    c.quic_half_open_retries.set(e.half_open_retries);
    c.quic_half_open.set(_quic->ep->half_open());
    c.quic_bad_tokens.set(e.bad_tokens);
    c.quic_tickets.set(e.tickets);
    c.quic_resumed.set(e.resumed);
    c.quic_early_data.set(e.early_data);
    c.quic_early_overflows.set(e.early_overflows);
    c.udp_received.set(d.received);
    c.udp_gro_batches.set(d.gro_batches);
    c.udp_truncated.set(d.truncated);
    c.udp_sent.set(d.sent);
    c.udp_send_messages.set(d.send_messages);
    c.udp_gso_messages.set(d.gso_messages);
    c.udp_send_errors.set(d.send_errors);
    c.udp_send_dropped.set(_quic->pool.dropped());
}

// A hosted reactor's turns do not wait in the reactor (the loop waits, for poll_fd() and
// its tick): the loop is told when the next QUIC timer (loss recovery, acknowledgements,
// idle) falls due, and calls again by then.
int reactor::hosted_quic_state() noexcept {
    unsigned ms = quic_flush(hosted_tick_ms);
    uint64_t now = core::monotonic_ns();
    if (ms >= hosted_tick_ms) {
        _hosted_due_ns = now + uint64_t{hosted_tick_ms} * 1'000'000; // the tick comes by then
        return 0;
    }
    if (ms == 0) {
        _hosted_due_ns = now;
        return 2;
    }
    _hosted_due_ns = now + uint64_t{ms} * 1'000'000;
    return 8 | static_cast<int>(ms << 4);
}

void reactor::hosted_quic_after_delivery() noexcept {
    unsigned ms = quic_flush(hosted_tick_ms);
    if (ms < hosted_tick_ms && core::monotonic_ns() + uint64_t{ms} * 1'000'000 < _hosted_due_ns) {
        wake(); // the loop turns next and hears of the earlier timer
    }
}

void reactor::quic_timers() noexcept {
    uint64_t now = core::monotonic_ns();
    if (_quic->ep->next_expiry() <= now) {
        _quic->refresh_env();
        _quic->ep->on_timer(now);
    }
}

void reactor::quic_begin_drain() noexcept {
    if (!_quic) {
        return;
    }
    _quic->refresh_env();
    _quic->ep->begin_drain(core::monotonic_ns()); // new Initials are refused; streams in flight finish
}

// A connection in its closing or draining period (RFC 9000 §10.2: three PTO, which an
// inline handler that held the reactor for a second stretches to seconds) has nothing
// left to deliver: a reactor that exits need not wait it out.
bool reactor::quic_drained() const noexcept {
    if (!_quic) {
        return true;
    }
    for (const auto& c : _quic->ep->connections()) {
        if (c->state() == quic::connection::phase::handshake || c->state() == quic::connection::phase::open) {
            return false;
        }
    }
    return true;
}

void reactor::report_quic_drain() const noexcept {
    if (!_quic) {
        return;
    }
    size_t shown = 0;
    for (const auto& c : _quic->ep->connections()) {
        if (c->state() != quic::connection::phase::handshake && c->state() != quic::connection::phase::open) {
            continue;
        }
        if (++shown > 8) {
            core::log(core::log_level::info, "reactor %u: draining: more QUIC connections open", _index);
            break;
        }
        core::log(core::log_level::info,
                  "reactor %u: draining: QUIC connection %s, %zu request stream(s) open, %llu byte(s) unacknowledged",
                  _index, c->state() == quic::connection::phase::handshake ? "in its handshake" : "open",
                  c->open_bidi(), static_cast<unsigned long long>(c->unacked_bytes()));
    }
}

} // namespace ringbolt::server
