// The per-reactor QUIC endpoint (see endpoint.hpp): routing by connection ID, accepting
// Initials, and the stateless answers (version negotiation, stateless reset, Retry).
#include "quic/endpoint.hpp"
#include "quic/steering.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cstring>

namespace ringbolt::quic {

namespace {

constexpr uint64_t second = 1'000'000'000;

void random_bytes(uint8_t* dest, size_t len) noexcept {
    while (len > 0) {
        ssize_t n = getrandom(dest, len, 0);
        if (n <= 0) {
            continue;
        }
        dest += n;
        len -= static_cast<size_t>(n);
    }
}

} // namespace

bool endpoint::cid_key::operator==(const cid_key& o) const noexcept {
    return len == o.len && std::memcmp(data, o.data, len) == 0;
}

// Keyed FNV-1a: the client picks its first DCID, so the key stops it from choosing
// colliding ones on purpose.
size_t endpoint::cid_hash::operator()(const cid_key& k) const noexcept {
    uint64_t h = 14695981039346656037ull ^ seed;
    for (size_t i = 0; i < k.len; ++i) {
        h = (h ^ k.data[i]) * 1099511628211ull;
    }
    return static_cast<size_t>(h ^ (h >> 29));
}

endpoint::cid_key endpoint::key_of(const uint8_t* data, size_t len) noexcept {
    cid_key k;
    k.len = static_cast<uint8_t>(std::min<size_t>(len, NGTCP2_MAX_CIDLEN));
    std::memcpy(k.data, data, k.len);
    return k;
}

endpoint::endpoint(const endpoint_config& cfg, std::shared_ptr<const credentials_holder> creds,
                   stream_user_factory factory, datagram_sink& sink)
    : _cfg(cfg), _creds(std::move(creds)), _factory(std::move(factory)), _sink(sink) {
    if (std::all_of(_cfg.secret.begin(), _cfg.secret.end(), [](uint8_t b) { return b == 0; })) {
        random_bytes(_cfg.secret.data(), _cfg.secret.size());
    }
    uint64_t seed = 0;
    random_bytes(reinterpret_cast<uint8_t*>(&seed), sizeof seed);
    _by_cid = decltype(_by_cid)(64, cid_hash{seed});
}

endpoint::~endpoint() = default;

void endpoint::on_datagram(const uring::datagram& d, uint64_t now) noexcept {
    uring::for_each_segment(d, [&](const char* data, size_t len) {
        ++_stats.packets;
        on_packet(reinterpret_cast<const uint8_t*>(data), len, d, now);
    });
}

void endpoint::roll(uint64_t now) noexcept {
    if (now / second != _second) {
        _second = now / second;
        _replies_this_second = 0;
        _initials_this_second = 0;
    }
}

bool endpoint::reply_allowed() noexcept {
    if (_replies_this_second >= _cfg.stateless_resets_per_second) {
        ++_stats.replies_limited;
        return false;
    }
    ++_replies_this_second;
    return true;
}

void endpoint::reply(const uring::datagram& d, const uint8_t* data, size_t len) noexcept {
    iovec iov{const_cast<uint8_t*>(data), len};
    _sink.send(d.peer, d.local, 0, std::span<const iovec>(&iov, 1));
}

void endpoint::on_packet(const uint8_t* data, size_t len, const uring::datagram& d, uint64_t now) noexcept {
    roll(now);
    if (len == 0) [[unlikely]] {
        ++_stats.dropped; // an empty datagram: ngtcp2 asserts on it (Debian builds keep asserts)
        return;
    }
    ngtcp2_version_cid vc;
    int rv = ngtcp2_pkt_decode_version_cid(&vc, data, len, cid_len);
    if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
        send_version_negotiation(vc, len, d);
        return;
    }
    if (rv != 0) {
        ++_stats.dropped;
        return;
    }
    if (auto it = _by_cid.find(key_of(vc.dcid, vc.dcidlen)); it != _by_cid.end()) {
        connection* c = it->second;
        c->on_packet(data, len, d.peer, d.local, d.ecn, now);
        if (!c->dead()) {
            want_write(*c);
        }
        return;
    }
    if ((data[0] & 0x80) == 0) {
        // A short header for a connection we do not know: a connection that is gone (a
        // restart, another reactor's) gets a stateless reset so its client stops at once.
        send_stateless_reset(vc.dcid, len, d);
        return;
    }
    accept_initial(data, len, d, now);
}

void endpoint::send_version_negotiation(const ngtcp2_version_cid& vc, size_t len, const uring::datagram& d) noexcept {
    // RFC 9000 §6: only to a datagram that could carry a first Initial (1200 bytes, §14.1),
    // and never to a Version Negotiation packet (version 0).
    if (len < NGTCP2_MAX_UDP_PAYLOAD_SIZE) {
        ++_stats.dropped;
        return;
    }
    if (vc.version == 0 || !reply_allowed()) {
        return;
    }
    const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
    uint8_t unused = 0;
    getrandom(&unused, 1, 0);
    ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(_buf, sizeof _buf, unused, vc.scid, vc.scidlen, vc.dcid,
                                                          vc.dcidlen, versions, 1);
    if (n > 0) {
        ++_stats.version_negotiations;
        reply(d, _buf, static_cast<size_t>(n));
    }
}

void endpoint::send_stateless_reset(const uint8_t* dcid, size_t len, const uring::datagram& d) noexcept {
    // RFC 9000 §10.3: smaller than the packet that caused it (no reset loops), and at
    // least 21 bytes so it looks like a short-header packet.
    constexpr size_t min_reset = 1 + NGTCP2_MIN_STATELESS_RESET_RANDLEN + NGTCP2_STATELESS_RESET_TOKENLEN;
    if (len <= min_reset + 20) {
        ++_stats.dropped;
        return;
    }
    if (!reply_allowed()) {
        return;
    }
    ngtcp2_cid cid;
    ngtcp2_cid_init(&cid, dcid, cid_len);
    uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
    reset_token(token, cid);
    size_t total = std::min<size_t>(len - 1, 43);
    uint8_t rand[64];
    size_t randlen = total - NGTCP2_STATELESS_RESET_TOKENLEN;
    random_bytes(rand, randlen);
    ngtcp2_ssize n = ngtcp2_pkt_write_stateless_reset(_buf, sizeof _buf, token, rand, randlen);
    if (n > 0) {
        ++_stats.stateless_resets;
        reply(d, _buf, static_cast<size_t>(n));
    }
}

void endpoint::refuse(const ngtcp2_pkt_hd& hd, const uring::datagram& d) noexcept {
    ++_stats.refused;
    if (!reply_allowed()) {
        return;
    }
    ngtcp2_ssize n = ngtcp2_crypto_write_connection_close(_buf, sizeof _buf, hd.version, &hd.scid, &hd.dcid,
                                                          NGTCP2_CONNECTION_REFUSED, nullptr, 0);
    if (n > 0) {
        reply(d, _buf, static_cast<size_t>(n));
    }
}

void endpoint::send_retry(const ngtcp2_pkt_hd& hd, const uring::datagram& d, uint64_t now) noexcept {
    ngtcp2_cid scid;
    new_cid(scid, cid_len);
    uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
    ngtcp2_ssize tlen = ngtcp2_crypto_generate_retry_token(token, _cfg.secret.data(), _cfg.secret.size(), hd.version,
                                                           reinterpret_cast<const ngtcp2_sockaddr*>(&d.peer.addr),
                                                           d.peer.len, &scid, &hd.dcid, now);
    if (tlen < 0) {
        return;
    }
    ngtcp2_ssize n = ngtcp2_crypto_write_retry(_buf, sizeof _buf, hd.version, &hd.scid, &scid, &hd.dcid, token,
                                               static_cast<size_t>(tlen));
    if (n > 0) {
        ++_stats.retries;
        reply(d, _buf, static_cast<size_t>(n));
    }
}

void endpoint::accept_initial(const uint8_t* data, size_t len, const uring::datagram& d, uint64_t now) noexcept {
    ngtcp2_pkt_hd hd;
    // ngtcp2_accept checks what a first packet must be: an Initial (or 0-RTT) of a version
    // we speak, in a datagram of at least 1200 bytes, with a DCID of at least 8 bytes.
    if (ngtcp2_accept(&hd, data, len) != 0 || hd.type != NGTCP2_PKT_INITIAL) {
        ++_stats.dropped;
        return;
    }
    if (_draining || _conns.size() >= _cfg.max_connections) {
        refuse(hd, d);
        return;
    }
    ++_initials_this_second;

    accept_info info;
    info.client_scid = hd.scid;
    info.original_dcid = hd.dcid;
    info.initial_dcid = hd.dcid;
    info.version = hd.version;
    info.peer = d.peer;
    info.local = d.local;
    if (hd.token.len > 0 && hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
        ngtcp2_cid odcid;
        if (ngtcp2_crypto_verify_retry_token(&odcid, hd.token.base, hd.token.len, _cfg.secret.data(),
                                             _cfg.secret.size(), hd.version,
                                             reinterpret_cast<const ngtcp2_sockaddr*>(&d.peer.addr), d.peer.len,
                                             &hd.dcid, _cfg.retry_token_lifetime_ms * 1'000'000, now) != 0) {
            // RFC 9000 §8.1.3: an invalid Retry token is dropped (or INVALID_TOKEN); a
            // forged one never makes state.
            ++_stats.bad_tokens;
            return;
        }
        info.original_dcid = odcid;
        info.retry_scid = hd.dcid;
        info.retried = true;
        info.token = hd.token;
    } else if (_cfg.retry_above_initials_per_second == 0 ||
               _initials_this_second > _cfg.retry_above_initials_per_second) {
        send_retry(hd, d, now);
        return;
    } else if (_half_open >= _cfg.max_half_open) {
        // Each half-open connection holds ~half_open_connection_bytes for up to the
        // handshake timeout: past the bound a client proves its address first, so what
        // Initials from spoofed addresses can make us hold stays bounded, at any rate.
        ++_stats.half_open_retries;
        send_retry(hd, d, now);
        return;
    }
    new_cid(info.our_scid, cid_len);
    reset_token(info.reset_token, info.our_scid);
    std::unique_ptr<stream_user> user = _factory(d.peer);
    if (user == nullptr) {
        ++_stats.dropped;
        return;
    }
    std::unique_ptr<connection> c =
        connection::accept(info, _cfg.transport, _creds->current(), std::move(user), *this, now);
    if (c == nullptr) {
        ++_stats.dropped;
        return;
    }
    connection* raw = c.get();
    raw->half_open = true;
    ++_half_open;
    for (const ngtcp2_cid& cid : raw->routed_cids()) {
        _by_cid[key_of(cid.data, cid.datalen)] = raw;
    }
    _conns.push_back(std::move(c));
    raw->on_packet(data, len, d.peer, d.local, d.ecn, now);
    if (raw->dead()) {
        // Header checks passed but the packet did not decrypt: noise shaped like an
        // Initial. It is reaped with the other dead connections, and counted as dropped.
        ++_stats.dropped;
        return;
    }
    ++_stats.accepted;
    want_write(*raw);
}

// The steering program tells our IDs from a client's own by their length and mark.
static_assert(endpoint::cid_len == steered_cid_len);

void endpoint::new_cid(ngtcp2_cid& cid, size_t len) noexcept {
    len = std::clamp<size_t>(len, 1, NGTCP2_MAX_CIDLEN);
    do {
        random_bytes(cid.data, len);
        cid.data[0] = _cfg.group_position;
        if (len == steered_cid_len) {
            cid.data[1] = static_cast<uint8_t>(_cfg.group_position ^ steered_cid_mark); // ours, says the program
        }
        cid.datalen = len;
    } while (_by_cid.count(key_of(cid.data, len)) != 0);
}

void endpoint::reset_token(uint8_t* token, const ngtcp2_cid& cid) noexcept {
    ngtcp2_crypto_generate_stateless_reset_token(token, _cfg.secret.data(), _cfg.secret.size(), &cid);
}

bool endpoint::issue_cid(connection& c, ngtcp2_cid& cid, uint8_t* token, size_t cidlen) noexcept {
    new_cid(cid, cidlen);
    reset_token(token, cid);
    _by_cid[key_of(cid.data, cid.datalen)] = &c;
    return true;
}

void endpoint::retire_cid(const ngtcp2_cid& cid) noexcept {
    _by_cid.erase(key_of(cid.data, cid.datalen));
}

void endpoint::want_write(connection& c) noexcept {
    if (!c.write_queued) {
        c.write_queued = true;
        _dirty.push_back(&c);
    }
}

void endpoint::handshake_completed(connection& c) noexcept {
    if (c.half_open) {
        c.half_open = false;
        --_half_open;
    }
    _stats.tickets += c.ticket_sent() ? 1 : 0;
    if (c.resumed()) {
        ++_stats.resumed;
        _stats.early_data += c.took_early_data() ? 1 : 0;
    }
}

void endpoint::flush(uint64_t now) noexcept {
    // A connection may ask again while it writes (a turn's packet budget is used up):
    // it is written at the next flush, not in this loop.
    std::vector<connection*> batch;
    batch.swap(_dirty);
    for (connection* c : batch) {
        c->write_queued = false;
    }
    for (connection* c : batch) {
        c->write(now, _sink);
    }
    remove_dead(now);
}

uint64_t endpoint::next_expiry() const noexcept {
    uint64_t t = UINT64_MAX;
    for (const auto& c : _conns) {
        t = std::min(t, c->expiry());
    }
    return t;
}

void endpoint::on_timer(uint64_t now) noexcept {
    for (const auto& c : _conns) {
        if (c->expiry() <= now) {
            c->on_expiry(now);
        }
    }
    flush(now);
}

void endpoint::begin_drain(uint64_t now) noexcept {
    _draining = true;
    for (const auto& c : _conns) {
        c->begin_drain(now);
    }
}

void endpoint::remove_dead(uint64_t) noexcept {
    for (size_t i = 0; i < _conns.size();) {
        connection* c = _conns[i].get();
        if (!c->dead()) {
            ++i;
            continue;
        }
        for (const ngtcp2_cid& cid : c->routed_cids()) {
            auto it = _by_cid.find(key_of(cid.data, cid.datalen));
            if (it != _by_cid.end() && it->second == c) {
                _by_cid.erase(it);
            }
        }
        if (c->write_queued) {
            _dirty.erase(std::remove(_dirty.begin(), _dirty.end(), c), _dirty.end());
        }
        if (c->half_open) {
            --_half_open;
        }
        ++_stats.closed;
        _stats.early_overflows += c->early_overflow() ? 1 : 0;
        if (c->why_closed() == close_reason::idle || c->why_closed() == close_reason::handshake_timeout) {
            ++_stats.idle_closed;
        } else if (c->why_closed() == close_reason::local_error) {
            ++_stats.errors;
        }
        _conns[i] = std::move(_conns.back());
        _conns.pop_back();
    }
}

} // namespace ringbolt::quic
