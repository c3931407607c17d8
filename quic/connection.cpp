// One server-side QUIC connection over ngtcp2 (see connection.hpp): packets in, the
// protocol's stream bytes out, flow-control credit as the protocol reports bytes done.
#include "quic/connection.hpp"

#include "core/log.hpp"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace ringbolt::quic {

namespace {

constexpr uint64_t ms = 1'000'000; // ngtcp2 timestamps are nanoseconds
/// Packets written per write() before the connection yields the turn (and asks again).
constexpr size_t max_packets_per_write = 256;
/// Packets handed to the sink at once: one GSO burst at most.
constexpr size_t packets_per_batch = 32;
/// How late the reactor's timers may wake a paced connection: they have millisecond
/// resolution (reactor_quic.cpp rounds a wait up). The pacer is told the send happened
/// that much earlier, at most, so a path faster than a send quantum a millisecond is not
/// capped at one quantum a millisecond.
constexpr uint64_t pacing_slack = ms;
constexpr size_t max_packet = NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE;

/// Where write() builds packets: one per thread (the reactor's), not one per connection,
/// since the sink copies them before write() returns.
uint8_t* tx_buffer() {
    thread_local std::vector<uint8_t> buf(packets_per_batch * max_packet);
    return buf.data();
}

bool is_bidi(int64_t id) {
    return (id & 0x2) == 0;
}
bool client_initiated(int64_t id) {
    return (id & 0x1) == 0;
}

ngtcp2_addr addr_of(uring::datagram_address& a) {
    return ngtcp2_addr{reinterpret_cast<ngtcp2_sockaddr*>(&a.addr), a.len};
}

bool same_address(const ngtcp2_addr& a, const uring::datagram_address& b) noexcept {
    return a.addrlen == b.len && std::memcmp(a.addr, &b.addr, a.addrlen) == 0;
}

void copy_address(uring::datagram_address& to, const ngtcp2_addr& a) noexcept {
    std::memcpy(&to.addr, a.addr, std::min<size_t>(a.addrlen, sizeof(to.addr)));
    to.len = a.addrlen;
}

} // namespace

connection::connection(const transport_config& cfg, std::unique_ptr<stream_user> user, connection_owner& owner) noexcept
    : _cfg(cfg), _user(std::move(user)), _owner(owner) {}

std::unique_ptr<connection> connection::accept(const accept_info& info, const transport_config& cfg,
                                               std::shared_ptr<const tls_credentials> creds,
                                               std::unique_ptr<stream_user> user, connection_owner& owner,
                                               uint64_t now) noexcept {
    std::unique_ptr<connection> c(new (std::nothrow) connection(cfg, std::move(user), owner));
    if (c == nullptr) {
        return nullptr;
    }
    c->_bidi_allowed = cfg.max_streams_bidi;
    c->_spare_nodes.reserve(max_spare_nodes); // (giving one back never allocates)
    c->_peer = info.peer;
    c->_local = info.local;
    ngtcp2_path path{addr_of(c->_local), addr_of(c->_peer), nullptr};

    ngtcp2_settings s;
    ngtcp2_api::default_settings(s);
    s.initial_ts = now;
    s.token = info.token;
    // ngtcp2 ends every handshake at the longer deadline; one whose client has not
    // answered ends at the shorter (expiry, on_expiry).
    s.handshake_timeout = std::max(cfg.answered_handshake_timeout_ms, cfg.handshake_timeout_ms) * ms;
    c->_unanswered_until = now + cfg.handshake_timeout_ms * ms;
    s.max_window = std::max(cfg.max_buffered_bytes, cfg.connection_window);
    s.cc_algo = ngtcp2_api::cc_algo(cfg.congestion);
    // No auto-tuning of stream windows: ngtcp2 0.12 grows a stream's window inside a
    // MAX_STREAM_DATA frame that, when its packet has no room for it, goes out in a later
    // packet while the stream's own limit is left where it was (fixed in ngtcp2 0.19:
    // "Update strm->rx.max_offset before writing a frame to packet"). The client then
    // holds a larger limit than the one checked here; a body no app reads yet fills it
    // and the connection ends in FLOW_CONTROL_ERROR with every request on it. The
    // connection's window (MAX_DATA, recorded before it is written) is auto-tuned still.
    s.max_stream_window = 0;

    ngtcp2_transport_params p;
    ngtcp2_api::default_params(p);
    p.initial_max_streams_bidi = cfg.max_streams_bidi;
    p.initial_max_streams_uni = cfg.max_streams_uni;
    p.initial_max_stream_data_bidi_remote = cfg.stream_window;
    p.initial_max_stream_data_bidi_local = cfg.stream_window;
    p.initial_max_stream_data_uni = cfg.stream_window;
    p.initial_max_data = cfg.connection_window;
    p.max_idle_timeout = cfg.idle_timeout_ms * ms;
    // Migration is on (RFC 9000 §9): a client's address may change, by a NAT rebinding (a
    // new port, or a new address from a carrier NAT's pool) or by its own choice (a phone
    // that leaves Wi-Fi). ngtcp2 validates each new path (PATH_CHALLENGE, the 3x
    // anti-amplification limit until then, the old path kept to fall back to) and
    // write() sends where it says. Packets reach this reactor by connection ID, whatever
    // their source (quic/steering.hpp). With migration off, ngtcp2 dropped every packet
    // from a new address.
    p.disable_active_migration = 0;
    p.active_connection_id_limit = 4;
    p.original_dcid = info.original_dcid;
    if (info.retried) {
        p.retry_scid = info.retry_scid;
        p.retry_scid_present = 1;
    }
    p.stateless_reset_token_present = 1;
    std::copy(std::begin(info.reset_token), std::end(info.reset_token), p.stateless_reset_token);

    const ngtcp2_mem* mem = nullptr;
    if (cfg.blocks != nullptr) {
        ngtcp2_api::block_allocator(c->_mem, cfg.blocks);
        mem = &c->_mem;
    }
    if (ngtcp2_api::server_new(&c->_conn, info.client_scid, info.our_scid, path, info.version, s, p, mem, c.get()) !=
        0) {
        c->_conn = nullptr;
        return nullptr;
    }
    c->_ref.get_conn = [](ngtcp2_crypto_conn_ref* ref) { return static_cast<connection*>(ref->user_data)->_conn; };
    c->_ref.user_data = c.get();
    c->_creds = std::move(creds);
    c->_tls = c->_creds->new_server_session(&c->_ref);
    if (c->_tls == nullptr) {
        return nullptr;
    }
    ngtcp2_conn_set_tls_native_handle(c->_conn, c->_tls);
    c->_cids.push_back(info.our_scid);
    c->_cids.push_back(info.initial_dcid);
    return c;
}

bool connection::resumed() const noexcept {
    return _tls != nullptr && session_resumed(_tls);
}

bool connection::took_early_data() const noexcept {
    return _tls != nullptr && early_data_accepted(_tls);
}

connection::~connection() {
    if (_conn != nullptr) {
        ngtcp2_conn_del(_conn);
    }
    if (_tls != nullptr) {
        gnutls_deinit(_tls);
    }
}

bool connection::streams_live() const noexcept {
    return _user_connected && (_phase == phase::handshake || _phase == phase::open);
}

bool connection::delivering() const noexcept {
    return streams_live() && !_app_close;
}

uint64_t connection::unconsumed_bytes() const noexcept {
    uint64_t n = 0;
    for (const auto& [id, s] : _streams) {
        n += s.input_done ? 0 : s.delivered - s.consumed;
    }
    return n;
}

void connection::on_packet(const uint8_t* data, size_t len, const uring::datagram_address& peer,
                           const uring::datagram_address& local, uint8_t ecn, uint64_t now) noexcept {
    if (_phase == phase::closing) {
        // RFC 9000 §10.2.1: answer with the close again, less often as packets keep coming.
        ++_packets_in_closing;
        if ((_packets_in_closing & (_packets_in_closing - 1)) == 0) {
            _send_close = true;
            _owner.want_write(*this);
        }
        return;
    }
    if (_phase != phase::handshake && _phase != phase::open) {
        return;
    }
    uring::datagram_address from = peer;
    uring::datagram_address to = local;
    ngtcp2_path path{addr_of(to), addr_of(from), nullptr};
    int rv = ngtcp2_api::read_packet(_conn, path, ecn, data, len, now);
    if (rv == 0) {
        follow_path();
        _owner.want_write(*this);
        return;
    }
    switch (rv) {
    case NGTCP2_ERR_DRAINING:
        enter_end(phase::draining, now, close_reason::peer_closed);
        return;
    case NGTCP2_ERR_DROP_CONN:
    case NGTCP2_ERR_RETRY:
        enter_end(phase::dead, now, close_reason::dropped);
        return;
    default:
        if (!_app_close) {
            log_transport_error(rv);
        }
        start_close(rv, now, _app_close ? close_reason::app_closed : close_reason::local_error);
        _owner.want_write(*this);
        return;
    }
}

// The peer broke QUIC (a frame error, flow control, a stream limit, TLS): the
// CONNECTION_CLOSE says so with its code; this says it once in the log, at debug.
void connection::log_transport_error(int liberr) const noexcept {
    if (!core::log_enabled(core::log_level::debug)) {
        return;
    }
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    const auto* sa = reinterpret_cast<const sockaddr*>(&_peer.addr);
    if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    core::log(core::log_level::debug, "QUIC connection from %s port %u closed: %s (transport error 0x%llx)", host, port,
              ngtcp2_strerror(liberr),
              static_cast<unsigned long long>(ngtcp2_err_infer_quic_transport_error_code(liberr)));
}

void connection::enter_end(phase p, uint64_t now, close_reason why) noexcept {
    _phase = p;
    if (_why == close_reason::none) {
        _why = why;
    }
    // RFC 9000 §10.2: the closing and draining periods last three PTO.
    _end_at = p == phase::dead ? now : now + 3 * ngtcp2_conn_get_pto(_conn);
}

void connection::start_close(int liberr, uint64_t now, close_reason why) noexcept {
    if (_phase == phase::closing || _phase == phase::draining || _phase == phase::dead) {
        return;
    }
    _close_packet.resize(max_packet);
    ngtcp2_ssize n;
    if (_app_close) {
        n = ngtcp2_api::write_close_app(_conn, _close_packet.data(), _close_packet.size(), _app_error,
                                        reinterpret_cast<const uint8_t*>(_app_reason.data()), _app_reason.size(), now);
    } else {
        n = ngtcp2_api::write_close_liberr(_conn, _close_packet.data(), _close_packet.size(), liberr, now);
    }
    if (n <= 0) {
        _close_packet.clear();
        enter_end(phase::dead, now, why);
        return;
    }
    _close_packet.resize(static_cast<size_t>(n));
    _send_close = true;
    enter_end(phase::closing, now, why);
}

bool connection::drain_done() const noexcept {
    return _draining && _open_bidi == 0 && _user->idle();
}

void connection::flush_packets(datagram_sink& sink, size_t first, size_t count, const size_t* sizes, const uint8_t* ecn,
                               const uring::datagram_address& to, const uring::datagram_address& from) noexcept {
    iovec iov[packets_per_batch];
    size_t run = first;
    size_t n = 0;
    for (size_t i = first; i < first + count; ++i) {
        if (n > 0 && ecn[i] != ecn[run]) {
            sink.send(to, from, ecn[run], std::span<const iovec>(iov, n));
            n = 0;
            run = i;
        }
        iov[n++] = iovec{tx_buffer() + i * max_packet, sizes[i]};
    }
    if (n > 0) {
        sink.send(to, from, ecn[run], std::span<const iovec>(iov, n));
    }
}

void connection::follow_path() noexcept {
    const ngtcp2_path* p = ngtcp2_conn_get_path(_conn);
    if (!same_address(p->remote, _peer)) {
        copy_address(_peer, p->remote);
    }
    if (!same_address(p->local, _local)) {
        copy_address(_local, p->local);
    }
}

void connection::write(uint64_t now, datagram_sink& sink) noexcept {
    if (_phase == phase::dead || _phase == phase::draining) {
        return;
    }
    if (_phase != phase::closing && (_app_close || (_draining && (drain_done() || now >= _drain_deadline)))) {
        start_close(0, now, _app_close ? close_reason::app_closed : close_reason::drained);
    }
    if (_phase == phase::closing) {
        if (_send_close && !_close_packet.empty()) {
            _send_close = false;
            iovec iov{_close_packet.data(), _close_packet.size()};
            sink.send(_peer, _local, 0, std::span<const iovec>(&iov, 1));
        }
        return;
    }
    if (!_fin_retry.empty()) {
        std::vector<int64_t> retry;
        retry.swap(_fin_retry);
        for (int64_t id : retry) {
            _user->on_stream_writable(id);
        }
    }
    size_t udp = std::min(ngtcp2_api::max_udp_payload(_conn), max_packet);
    // Pacing (RFC 9002 §7.7): at most one send quantum of packets per write, spaced by
    // ngtcp2's pacer (its expiry says when the next may go; the controller's rate, CUBIC's
    // from its window and RTT, BBR's its own). Without it a window's worth leaves in one
    // burst, which a router's queue on a slower link drops.
    size_t quantum = std::max<size_t>(1, ngtcp2_api::send_quantum(_conn) / udp);
    size_t budget = std::min(quantum, max_packets_per_write);
    uint64_t late = now > _paced_until ? std::min(now - _paced_until, pacing_slack) : 0;
    size_t sizes[packets_per_batch];
    uint8_t ecns[packets_per_batch];
    size_t count = 0;
    // The batch's path: packets go where ngtcp2 says (the current path; a new one it
    // validates, a probe of the old). A packet on another path than the batch's starts a
    // batch of its own.
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    uring::datagram_address to = _peer;
    uring::datagram_address from = _local;
    size_t batch = 0; ///< the batch's first slot
    size_t total = 0;
    bool more = false;
    // Each turn of the loop resolves one offer (wrote or blocked) or writes one packet;
    // the bound keeps a protocol that keeps offering what ngtcp2 refuses from spinning.
    for (size_t turns = 0; turns < 4 * max_packets_per_write + 1024; ++turns) {
        stream_output out;
        bool offered = false;
        // Before the handshake completes too, once the protocol is connected (0-RTT
        // requests): ngtcp2 puts a server's stream data in 1-RTT packets with its first
        // flight (0.5-RTT data, RFC 9001 §4.1.1), under the anti-amplification limit.
        if (delivering() && _unacked < _cfg.max_unacked_bytes) {
            _user->next_output(out);
            offered = out.stream_id >= 0;
        }
        ngtcp2_vec vec[stream_output::max_pieces];
        size_t pieces = offered ? std::min(out.count, stream_output::max_pieces) : 0;
        size_t bytes = 0;
        for (size_t i = 0; i < pieces; ++i) {
            vec[i] = ngtcp2_vec{const_cast<uint8_t*>(out.pieces[i].data), out.pieces[i].len};
            bytes += out.pieces[i].len;
        }
        uint32_t flags = offered ? NGTCP2_WRITE_STREAM_FLAG_MORE : 0;
        if (offered && out.fin) {
            flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
        }
        ngtcp2_ssize taken = -1;
        uint8_t* dest = tx_buffer() + count * max_packet;
        ngtcp2_ssize n = ngtcp2_api::write_stream(_conn, &ps.path, dest, udp, &ecns[count], &taken, flags,
                                                  offered ? out.stream_id : -1, vec, pieces, now);
        if (offered) {
            if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
                n == NGTCP2_ERR_STREAM_NOT_FOUND) {
                _user->blocked(out.stream_id);
                continue;
            }
            if (taken >= 0) {
                auto it = _streams.find(out.stream_id);
                if (it != _streams.end()) {
                    it->second.unacked += static_cast<uint64_t>(taken);
                    _unacked += static_cast<uint64_t>(taken);
                }
                _user->wrote(out.stream_id, static_cast<size_t>(taken));
            } else if (bytes == 0 && out.fin) {
                // A fin alone that found no room: telling `wrote` would say the fin went.
                _user->blocked(out.stream_id);
                _fin_retry.push_back(out.stream_id);
            } else {
                _user->wrote(out.stream_id, 0);
            }
            if (n == NGTCP2_ERR_WRITE_MORE) {
                continue; // the packet has room for another stream's data
            }
        }
        if (n < 0) {
            start_close(static_cast<int>(n), now, close_reason::local_error);
            if (count > batch) {
                flush_packets(sink, batch, count - batch, sizes, ecns, to, from);
            }
            write(now, sink); // sends the close
            return;
        }
        if (n == 0) {
            break; // nothing more now (or congestion control, pacing)
        }
        if (!same_address(ps.path.remote, to) || !same_address(ps.path.local, from)) [[unlikely]] {
            if (count > batch) {
                flush_packets(sink, batch, count - batch, sizes, ecns, to, from);
            }
            batch = count;
            copy_address(to, ps.path.remote);
            copy_address(from, ps.path.local);
        }
        sizes[count++] = static_cast<size_t>(n);
        if (total + count >= budget) {
            more = true; // the pacer says when the next quantum goes (expiry)
            break;
        }
        if (count == packets_per_batch) {
            flush_packets(sink, batch, count - batch, sizes, ecns, to, from);
            total += count;
            count = 0;
            batch = 0;
        }
    }
    if (count > batch) {
        flush_packets(sink, batch, count - batch, sizes, ecns, to, from);
    }
    total += count;
    if (total > 0) {
        ngtcp2_api::update_pkt_tx_time(_conn, now - late);
        _paced_until = more ? ngtcp2_conn_get_expiry(_conn) : UINT64_MAX;
    }
}

uint64_t connection::expiry() const noexcept {
    switch (_phase) {
    case phase::dead:
        return 0;
    case phase::closing:
    case phase::draining:
        return _end_at;
    default:
        return std::min({ngtcp2_conn_get_expiry(_conn), _drain_deadline, unanswered_deadline()});
    }
}

uint64_t connection::unanswered_deadline() const noexcept {
    if (_phase != phase::handshake || _unanswered_until == UINT64_MAX) {
        return UINT64_MAX;
    }
    if (ngtcp2_api::peer_acknowledged(_conn)) {
        _unanswered_until = UINT64_MAX; // answered: ngtcp2's (longer) handshake deadline only
        return UINT64_MAX;
    }
    return _unanswered_until;
}

void connection::on_expiry(uint64_t now) noexcept {
    if (_phase == phase::closing || _phase == phase::draining) {
        if (now >= _end_at) {
            _phase = phase::dead;
        }
        return;
    }
    if (_phase == phase::dead) {
        return;
    }
    if (_draining && now >= _drain_deadline) {
        _owner.want_write(*this); // write() closes it
        return;
    }
    if (now >= unanswered_deadline()) {
        enter_end(phase::dead, now, close_reason::handshake_timeout);
        return;
    }
    if (ngtcp2_conn_get_expiry(_conn) > now) {
        return;
    }
    int rv = ngtcp2_conn_handle_expiry(_conn, now);
    if (rv == NGTCP2_ERR_IDLE_CLOSE) {
        enter_end(phase::dead, now, close_reason::idle); // silently (RFC 9000 §10.1)
        return;
    }
    if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
        // (ngtcp2's deadline is the answered one: this client hears us, and is told, with
        // CONNECTION_REFUSED, rather than left to wait for its own timeout)
        start_close(rv, now, close_reason::handshake_timeout);
        _owner.want_write(*this);
        return;
    }
    if (rv != 0) {
        start_close(rv, now, close_reason::local_error);
    }
    _owner.want_write(*this);
}

void connection::begin_drain(uint64_t now) noexcept {
    if (_draining || (_phase != phase::handshake && _phase != phase::open)) {
        return;
    }
    _draining = true;
    _drain_deadline = now + _cfg.drain_timeout_ms * ms;
    if (_user_connected) {
        _user->begin_drain();
    }
    _owner.want_write(*this);
}

// --- stream_host ---

int64_t connection::open_uni_stream() noexcept {
    if (!delivering()) {
        return -1;
    }
    int64_t id = -1;
    if (ngtcp2_conn_open_uni_stream(_conn, &id, nullptr) != 0) {
        return -1;
    }
    add_stream(id);
    return id;
}

// The connection window had these bytes back as they arrived (on_stream_data); the
// stream's window no longer matters.
void connection::credit_rest(stream_state& s) noexcept {
    s.consumed = s.delivered;
    s.input_done = true;
}

void connection::consumed(int64_t stream_id, uint64_t n) noexcept {
    auto it = _streams.find(stream_id);
    if (it == _streams.end() || it->second.input_done || n == 0 || !streams_live()) {
        return; // closed, reset or stopped: its bytes were credited back already
    }
    stream_state& s = it->second;
    n = std::min(n, s.delivered - s.consumed);
    s.consumed += n;
    ngtcp2_conn_extend_max_stream_offset(_conn, stream_id, n); // (the connection's: on arrival)
    _owner.want_write(*this);
}

void connection::reset_stream(int64_t stream_id, uint64_t app_error) noexcept {
    if (!streams_live() || _app_close) {
        return;
    }
    ngtcp2_conn_shutdown_stream_write(_conn, stream_id, app_error);
    _owner.want_write(*this);
}

void connection::stop_sending(int64_t stream_id, uint64_t app_error) noexcept {
    if (!streams_live() || _app_close) {
        return;
    }
    ngtcp2_conn_shutdown_stream_read(_conn, stream_id, app_error);
    if (auto it = _streams.find(stream_id); it != _streams.end()) {
        credit_rest(it->second);
    }
    _owner.want_write(*this);
}

void connection::want_write() noexcept {
    _owner.want_write(*this);
}

void connection::grant_bidi_stream() noexcept {
    if (!streams_live() || _app_close) {
        return;
    }
    ++_bidi_allowed;
    ngtcp2_conn_extend_max_streams_bidi(_conn, 1);
    _owner.want_write(*this);
}

void connection::close(uint64_t app_error, std::string_view reason) noexcept {
    if (_app_close || !delivering()) {
        return;
    }
    _app_close = true;
    _app_error = app_error;
    _app_reason.assign(reason.substr(0, 256));
    _owner.want_write(*this);
}

// --- ngtcp2's events ---

int connection::on_handshake_completed() noexcept {
    _phase = phase::open;
    // One ticket a connection: the client may resume (and send 0-RTT) next time. A
    // refusal costs the client its resumption, not this connection.
    _ticket_sent = send_session_ticket(_tls);
    _owner.handshake_completed(*this);
    connect_user();
    return 0;
}

void connection::connect_user() noexcept {
    if (_user_connected || _app_close) {
        return;
    }
    _user_connected = true;
    _user->on_connected(*this);
    std::vector<early_piece> early;
    early.swap(_early_input);
    for (early_piece& p : early) {
        ngtcp2_conn_extend_max_offset(_conn, p.bytes.size());
        auto it = _streams.find(p.stream_id);
        if (it == _streams.end() || it->second.input_done || !delivering()) {
            continue; // reset or closed meanwhile (ngtcp2 credited it), or the protocol closed
        }
        _user->on_stream_data(p.stream_id, {reinterpret_cast<const uint8_t*>(p.bytes.data()), p.bytes.size()}, p.fin);
    }
    if (_draining) {
        _user->begin_drain();
    }
}

bool connection::came_early(int64_t stream_id) const noexcept {
    if (_early_bytes == 0) {
        return false; // (every request asks: no table lookup when nothing came early)
    }
    auto it = _streams.find(stream_id);
    return it != _streams.end() && it->second.early;
}

void connection::add_stream(int64_t stream_id) noexcept {
    if (_spare_nodes.empty()) {
        _streams.emplace(stream_id, stream_state{});
        return;
    }
    stream_table::node_type node = std::move(_spare_nodes.back());
    _spare_nodes.pop_back();
    node.key() = stream_id;
    node.mapped() = stream_state{};
    _streams.insert(std::move(node)); // (a stream id is new: it takes the node)
}

int connection::on_stream_open(int64_t stream_id) noexcept {
    add_stream(stream_id);
    if (is_bidi(stream_id) && client_initiated(stream_id)) {
        ++_open_bidi;
    }
    return 0;
}

int connection::on_stream_data(int64_t stream_id, const uint8_t* data, size_t len, bool fin, bool early) noexcept {
    auto it = _streams.try_emplace(stream_id).first;
    if (it->second.input_done) {
        return 0; // reset or stopped: ngtcp2 credits what still arrives itself
    }
    it->second.early = it->second.early || early;
    it->second.delivered += len;
    if (early || !_user_connected) {
        // 0-RTT data (a resumed client's requests, sent with its first flight) is read
        // before the client's address is validated and before its handshake completes:
        // at most max_early_bytes of it, more closes the connection.
        _early_bytes += len;
        if (_early_bytes > max_early_bytes) {
            _early_overflow = true; // ngtcp2 closes the connection (INTERNAL_ERROR)
            _early_input.clear();
            return NGTCP2_ERR_CALLBACK_FAILURE;
        }
    }
    if (early && !_user_connected) {
        // Answered at once, not when the handshake completes: the protocol starts now and
        // its answers to safe requests leave with the server's first flight, as 0.5-RTT
        // data (RFC 9001 §4.1.1; RFC 8470: what may run from early data is HTTP/3's to
        // decide, the rest gets 425). GnuTLS took this early data only past its
        // anti-replay check (tls_session.hpp): a replayed first flight gets none.
        connect_user();
    }
    if (!_user_connected) {
        // Stream data before the handshake completes that is not 0-RTT (1-RTT packets
        // that overtook the client's Finished): it waits here, in order, and reaches the
        // protocol right after on_connected (the connection's window is given back only
        // then).
        if (!_app_close) {
            _early_input.push_back({stream_id, std::string(reinterpret_cast<const char*>(data), len), fin});
        }
        return 0;
    }
    // The connection window is given back as bytes arrive, the stream's only as the
    // protocol reports them consumed (as HTTP/2 does, h2/): bodies no app reads yet hold
    // their streams' windows, never the connection's, so they cannot starve the body the
    // app reads (one WSGI thread, eight uploads on one connection). What a client can make
    // the server hold is bounded by its open streams' windows.
    ngtcp2_conn_extend_max_offset(_conn, len);
    if (delivering()) {
        _user->on_stream_data(stream_id, std::span<const uint8_t>(data, len), fin);
    }
    return 0;
}

int connection::on_acked(int64_t stream_id, uint64_t n) noexcept {
    if (auto it = _streams.find(stream_id); it != _streams.end()) {
        uint64_t k = std::min(n, it->second.unacked);
        it->second.unacked -= k;
        _unacked -= k;
    }
    if (delivering()) {
        _user->on_acked(stream_id, n);
    }
    return 0;
}

int connection::on_stream_close(int64_t stream_id, uint64_t app_error) noexcept {
    if (auto it = _streams.find(stream_id); it != _streams.end()) {
        credit_rest(it->second);
        _unacked -= it->second.unacked;
        if (_spare_nodes.size() < max_spare_nodes) {
            _spare_nodes.push_back(_streams.extract(it));
        } else {
            _streams.erase(it);
        }
        // ngtcp2 gives the client no new stream credit by itself. A unidirectional one
        // closed, one more; a bidirectional one when the protocol is done with it
        // (grant_bidi_stream), which may be later: its request's work still counts.
        if (client_initiated(stream_id) && is_bidi(stream_id)) {
            _open_bidi -= _open_bidi > 0 ? 1 : 0;
        } else if (client_initiated(stream_id)) {
            ngtcp2_conn_extend_max_streams_uni(_conn, 1);
        }
    }
    if (delivering()) {
        _user->on_stream_closed(stream_id, app_error);
    }
    return 0;
}

int connection::on_stream_reset(int64_t stream_id, uint64_t app_error) noexcept {
    if (delivering()) {
        _user->on_stream_reset(stream_id, app_error);
    }
    if (auto it = _streams.find(stream_id); it != _streams.end()) {
        credit_rest(it->second);
    }
    return 0;
}

int connection::on_stop_sending(int64_t stream_id, uint64_t app_error) noexcept {
    if (delivering()) {
        _user->on_stop_sending(stream_id, app_error);
    }
    return 0;
}

int connection::on_stream_writable(int64_t stream_id) noexcept {
    if (delivering()) {
        _user->on_stream_writable(stream_id);
    }
    return 0;
}

int connection::new_connection_id(ngtcp2_cid* cid, uint8_t* token, size_t cidlen) noexcept {
    if (!_owner.issue_cid(*this, *cid, token, cidlen)) {
        return -1;
    }
    _cids.push_back(*cid);
    return 0;
}

int connection::retire_connection_id(const ngtcp2_cid* cid) noexcept {
    auto same = [cid](const ngtcp2_cid& c) {
        return c.datalen == cid->datalen && std::equal(c.data, c.data + c.datalen, cid->data);
    };
    if (auto it = std::find_if(_cids.begin(), _cids.end(), same); it != _cids.end()) {
        _owner.retire_cid(*it);
        _cids.erase(it);
    }
    return 0;
}

} // namespace ringbolt::quic
