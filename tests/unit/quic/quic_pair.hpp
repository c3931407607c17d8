// Test-only pieces for driving a quic::endpoint without sockets: an in-process ngtcp2
// CLIENT connection with a GnuTLS client session, an echo stream_user on the server, a
// sink that keeps what the endpoint sends, and a pump that passes datagrams by value
// between them on a virtual clock (timers fire by moving the clock, never by sleeping).
// Written against ngtcp2 0.12 like quic/ngtcp2_api.*.
#pragma once

#include "quic/client_start.hpp"
#include "quic/crypto_callbacks.hpp"
#include "quic/endpoint.hpp"
#include "tests/unit/tls/test_cert.hpp"

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ringbolt::quic::testing {

inline uring::datagram_address v4(const char* host, uint16_t port) {
    uring::datagram_address a{};
    auto* in = reinterpret_cast<sockaddr_in*>(&a.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, host, &in->sin_addr);
    a.len = sizeof(sockaddr_in);
    return a;
}

/// One datagram on the virtual wire.
struct wire_datagram {
    uring::datagram_address peer;
    uring::datagram_address local;
    std::string bytes;
};

/// Keeps what the endpoint sends (the payloads are copied: they are valid for the call only).
struct capture_sink final : datagram_sink {
    std::vector<wire_datagram> sent;
    void send(const uring::datagram_address& peer, const uring::datagram_address& local, uint8_t,
              std::span<const iovec> payloads) noexcept override {
        for (const iovec& v : payloads) {
            sent.push_back({peer, local, std::string(static_cast<const char*>(v.iov_base), v.iov_len)});
        }
    }
    std::vector<wire_datagram> take() {
        std::vector<wire_datagram> out;
        out.swap(sent);
        return out;
    }
};

/// A stream_user that echoes each client bidi stream once its input ends. Streams listed
/// in `hold` are not reported consumed (their bytes stay in the protocol's hands).
struct echo_user final : stream_user {
    struct stream {
        std::string in;
        bool in_fin = false;
        std::string out;
        bool out_ready = false;
        size_t written = 0;
        size_t acked = 0;
        bool fin_written = false;
        bool blocked = false;
        bool closed = false;
        bool reset = false;
    };
    stream_host* host = nullptr;
    bool connected = false;
    bool draining = false;
    int64_t uni_id = -1;
    std::map<int64_t, stream> streams;
    std::set<int64_t> hold;
    int64_t last_offer = -1;
    bool last_offer_fin = false;
    int resets = 0;
    int closes = 0;

    void on_connected(stream_host& h) noexcept override {
        host = &h;
        connected = true;
        uni_id = h.open_uni_stream(); // as HTTP/3 opens its control stream
    }
    void on_stream_data(int64_t id, std::span<const uint8_t> data, bool fin) noexcept override {
        stream& s = streams[id];
        s.in.append(reinterpret_cast<const char*>(data.data()), data.size());
        if (hold.count(id) == 0) {
            host->consumed(id, data.size());
        }
        if (fin) {
            s.in_fin = true;
            s.out = s.in;
            s.out_ready = true;
            host->want_write();
        }
    }
    void on_stream_reset(int64_t id, uint64_t app_error) noexcept override {
        streams[id].reset = true;
        ++resets;
        host->reset_stream(id, app_error); // as HTTP/3 does: the request is gone
    }
    void on_stop_sending(int64_t id, uint64_t app_error) noexcept override { host->reset_stream(id, app_error); }
    void on_stream_closed(int64_t id, uint64_t) noexcept override {
        streams[id].closed = true;
        ++closes;
        if ((id & 3) == 0) {
            host->grant_bidi_stream(); // nothing of it is left here
        }
    }
    void on_acked(int64_t id, uint64_t n) noexcept override { streams[id].acked += n; }
    void on_stream_writable(int64_t id) noexcept override { streams[id].blocked = false; }
    void next_output(stream_output& out) noexcept override {
        // Round robin from after the stream offered last.
        auto it = streams.upper_bound(last_offer);
        for (size_t i = 0; i < streams.size(); ++i, ++it) {
            if (it == streams.end()) {
                it = streams.begin();
            }
            stream& s = it->second;
            if (s.out_ready && !s.blocked && !s.closed && !s.reset && !s.fin_written) {
                out.stream_id = it->first;
                out.fin = true;
                size_t left = s.out.size() - s.written;
                out.count = 0;
                for (size_t off = 0; off < left && out.count < 4; off += 4096) {
                    out.pieces[out.count++] =
                        out_piece{reinterpret_cast<const uint8_t*>(s.out.data()) + s.written + off,
                                  std::min<size_t>(4096, left - off)};
                }
                out.fin = s.written + std::min<size_t>(left, 4 * 4096) == s.out.size();
                last_offer = it->first;
                last_offer_fin = out.fin;
                return;
            }
        }
        out.stream_id = -1;
    }
    void wrote(int64_t id, size_t n) noexcept override {
        stream& s = streams[id];
        s.written += n;
        if (last_offer_fin && s.written == s.out.size()) {
            s.fin_written = true;
        }
    }
    void blocked(int64_t id) noexcept override { streams[id].blocked = true; }
    void begin_drain() noexcept override { draining = true; }
    bool idle() const noexcept override {
        return std::all_of(streams.begin(), streams.end(), [](const auto& kv) { return kv.second.closed; });
    }
};

/// An ngtcp2 client connection with a GnuTLS client session (no certificate check: the
/// test's certificate is self-signed and the test is about the transport).
class client {
  public:
    struct stream {
        std::string out;
        size_t sent = 0;
        bool fin = false; ///< the whole of `out` is all there is
        bool fin_sent = false;
        bool blocked = false;
        std::string in;
        bool in_fin = false;
        bool reset = false;
        bool closed = false;
    };

    uring::datagram_address addr;
    uring::datagram_address server;
    std::map<int64_t, stream> streams;
    bool handshake_done = false;
    bool retried = false;
    bool got_close = false;
    std::string alpn;

    client(uring::datagram_address self, uring::datagram_address to, uint64_t now) : addr(self), server(to) {
        gnutls_certificate_allocate_credentials(&_cred);
        gnutls_init(&_tls, GNUTLS_CLIENT | GNUTLS_NO_END_OF_EARLY_DATA);
        gnutls_priority_set_direct(_tls,
                                   "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:"
                                   "+AES-256-GCM:+CHACHA20-POLY1305:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1",
                                   nullptr);
        ngtcp2_crypto_gnutls_configure_client_session(_tls);
        gnutls_credentials_set(_tls, GNUTLS_CRD_CERTIFICATE, _cred);
        gnutls_datum_t proto{reinterpret_cast<unsigned char*>(const_cast<char*>("h3")), 2};
        gnutls_alpn_set_protocols(_tls, &proto, 1, 0);
        gnutls_server_name_set(_tls, GNUTLS_NAME_DNS, "localhost", 9);
        _ref.get_conn = [](ngtcp2_crypto_conn_ref* r) { return static_cast<client*>(r->user_data)->_conn; };
        _ref.user_data = this;
        gnutls_session_set_ptr(_tls, &_ref);

        ngtcp2_callbacks cb{};
        set_client_crypto_callbacks(cb); // recv_retry: our own, below
        cb.recv_retry = [](ngtcp2_conn* c, const ngtcp2_pkt_hd* hd, void* ud) {
            static_cast<client*>(ud)->retried = true;
            return ngtcp2_crypto_recv_retry_cb(c, hd, ud);
        };
        set_random_callbacks(cb);
        cb.handshake_completed = [](ngtcp2_conn*, void* ud) {
            static_cast<client*>(ud)->handshake_done = true;
            return 0;
        };
        cb.recv_stream_data = [](ngtcp2_conn* c, uint32_t flags, int64_t id, uint64_t, const uint8_t* data, size_t len,
                                 void* ud, void*) {
            stream& s = static_cast<client*>(ud)->streams[id];
            s.in.append(reinterpret_cast<const char*>(data), len);
            s.in_fin = s.in_fin || (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;
            ngtcp2_conn_extend_max_stream_offset(c, id, len);
            ngtcp2_conn_extend_max_offset(c, len);
            return 0;
        };
        cb.stream_close = [](ngtcp2_conn*, uint32_t, int64_t id, uint64_t, void* ud, void*) {
            static_cast<client*>(ud)->streams[id].closed = true;
            return 0;
        };
        cb.stream_reset = [](ngtcp2_conn*, int64_t id, uint64_t, uint64_t, void* ud, void*) {
            static_cast<client*>(ud)->streams[id].reset = true;
            return 0;
        };
        cb.extend_max_stream_data = [](ngtcp2_conn*, int64_t id, uint64_t, void* ud, void*) {
            static_cast<client*>(ud)->streams[id].blocked = false;
            return 0;
        };

        client_start start = client_start_at(now);
        start.params.initial_max_streams_uni = 3;
        start.params.max_idle_timeout = 0; // the server's timeout decides
        ngtcp2_path path{{reinterpret_cast<ngtcp2_sockaddr*>(&addr.addr), addr.len},
                         {reinterpret_cast<ngtcp2_sockaddr*>(&server.addr), server.len},
                         nullptr};
        _rv = ngtcp2_conn_client_new(&_conn, &start.dcid, &start.scid, &path, NGTCP2_PROTO_VER_V1, &cb, &start.settings,
                                     &start.params, nullptr, this);
        ngtcp2_conn_set_tls_native_handle(_conn, _tls);
    }
    ~client() {
        ngtcp2_conn_del(_conn);
        gnutls_deinit(_tls);
        gnutls_certificate_free_credentials(_cred);
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    bool ok() const { return _rv == 0 && _conn != nullptr; }
    ngtcp2_conn* conn() { return _conn; }

    int64_t open_bidi() {
        int64_t id = -1;
        if (ngtcp2_conn_open_bidi_stream(_conn, &id, nullptr) != 0) {
            return -1;
        }
        streams[id];
        return id;
    }
    int64_t open_uni() {
        int64_t id = -1;
        if (ngtcp2_conn_open_uni_stream(_conn, &id, nullptr) != 0) {
            return -1;
        }
        streams[id];
        return id;
    }
    void send(int64_t id, std::string data, bool fin) {
        stream& s = streams[id];
        s.out += data;
        s.fin = fin;
    }
    void reset(int64_t id, uint64_t code) { ngtcp2_conn_shutdown_stream_write(_conn, id, code); }
    /// A request on a new bidirectional stream: `body` with FIN; the stream becomes `newest`
    /// (nothing is sent when no stream may be opened).
    void send_request(std::string body) {
        int64_t id = open_bidi();
        if (id >= 0) {
            send(id, std::move(body), true);
            newest = id;
        }
    }
    int64_t newest = -1; ///< the last stream send_request opened
    /// The fuzz targets' "send with a byte flipped" op, its datagram index and flip from
    /// `in` (a script_reader): what write_flipped gives, or false when `in` has fewer than
    /// two bytes left.
    template <class Reader> bool write_flipped_from(Reader& in, uint64_t now, std::vector<std::string>& out) {
        if (!in.has(2)) {
            return false;
        }
        uint8_t idx = in.byte();
        uint8_t flip = in.byte();
        out = write_flipped(now, idx, flip);
        return true;
    }
    /// The fuzz targets' "reset the newest stream" op, its code from `in` (a script_reader):
    /// false when `in` has no byte left; the byte is read only when there is a stream.
    template <class Reader> bool reset_newest(Reader& in) {
        if (!in.has(1)) {
            return false;
        }
        if (newest >= 0) {
            reset(newest, in.byte());
        }
        return true;
    }

    /// Feed one datagram from the server; returns ngtcp2's result.
    int read(const std::string& bytes, uint64_t now) {
        ngtcp2_path path{{reinterpret_cast<ngtcp2_sockaddr*>(&addr.addr), addr.len},
                         {reinterpret_cast<ngtcp2_sockaddr*>(&server.addr), server.len},
                         nullptr};
        ngtcp2_pkt_info pi{};
        int rv =
            ngtcp2_conn_read_pkt(_conn, &path, &pi, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), now);
        if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_CLOSING) {
            got_close = true;
        }
        return rv;
    }

    /// The datagrams the client has to send now.
    /// What write() gives, datagram `idx` (if there is one) with a byte flipped: the byte
    /// at `flip` % its size, xor'ed with flip | 1 (the fuzz targets' corruption).
    std::vector<std::string> write_flipped(uint64_t now, uint8_t idx, uint8_t flip) {
        std::vector<std::string> out = write(now);
        if (idx < out.size() && !out[idx].empty()) {
            out[idx][static_cast<size_t>(flip) % out[idx].size()] ^= static_cast<char>(flip | 1);
        }
        return out;
    }
    std::vector<std::string> write(uint64_t now) {
        std::vector<std::string> out;
        if (ngtcp2_conn_is_in_closing_period(_conn) || ngtcp2_conn_is_in_draining_period(_conn)) {
            return out;
        }
        uint8_t buf[NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE];
        for (int turns = 0; turns < 20000; ++turns) {
            int64_t id = -1;
            for (auto& [sid, s] : streams) {
                if ((sid & 0x1) == 0 && !s.blocked && !s.fin_sent && (s.sent < s.out.size() || s.fin)) {
                    if (s.sent < s.out.size() || s.fin) {
                        id = sid;
                        break;
                    }
                }
            }
            ngtcp2_vec v{};
            uint32_t flags = 0;
            size_t cnt = 0;
            if (id >= 0) {
                stream& s = streams[id];
                v = ngtcp2_vec{reinterpret_cast<uint8_t*>(s.out.data()) + s.sent, s.out.size() - s.sent};
                cnt = v.len > 0 ? 1 : 0;
                flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (s.fin ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0);
            }
            ngtcp2_ssize taken = -1;
            ngtcp2_pkt_info pi{};
            ngtcp2_ssize n = ngtcp2_conn_writev_stream(_conn, nullptr, &pi, buf, 1452, &taken, flags, id,
                                                       cnt > 0 ? &v : nullptr, cnt, now);
            if (id >= 0) {
                stream& s = streams[id];
                if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
                    n == NGTCP2_ERR_STREAM_NOT_FOUND) {
                    s.blocked = true;
                    continue;
                }
                if (taken >= 0) {
                    s.sent += static_cast<size_t>(taken);
                    if (s.fin && s.sent == s.out.size()) {
                        s.fin_sent = true;
                    }
                } else if (n >= 0) {
                    // No room for the stream now (connection flow control or a full packet).
                    s.blocked = n == 0 || ngtcp2_conn_get_max_data_left(_conn) == 0;
                }
                if (n == NGTCP2_ERR_WRITE_MORE) {
                    continue;
                }
            }
            if (n <= 0) {
                break;
            }
            out.emplace_back(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
        }
        return out;
    }
    /// Unblock streams blocked on connection-level credit (checked each pump round).
    void retry_blocked() {
        if (ngtcp2_conn_get_max_data_left(_conn) > 0) {
            for (auto& [sid, s] : streams) {
                s.blocked = false;
            }
        }
    }
    uint64_t expiry() const { return ngtcp2_conn_get_expiry(_conn); }
    void on_expiry(uint64_t now) {
        if (ngtcp2_conn_get_expiry(_conn) <= now) {
            if (ngtcp2_conn_handle_expiry(_conn, now) != 0) {
                got_close = true;
            }
        }
    }
    std::string selected_alpn() {
        gnutls_datum_t p{};
        if (gnutls_alpn_get_selected_protocol(_tls, &p) != 0) {
            return "";
        }
        return std::string(reinterpret_cast<const char*>(p.data), p.size);
    }
    /// The server's certificate (DER) as the handshake gave it; empty before.
    std::string peer_cert_der() {
        unsigned n = 0;
        const gnutls_datum_t* certs = gnutls_certificate_get_peers(_tls, &n);
        return n == 0 ? std::string() : std::string(reinterpret_cast<const char*>(certs[0].data), certs[0].size);
    }
    /// The error of the CONNECTION_CLOSE the server sent, when it sent one.
    ngtcp2_connection_close_error close_error() {
        ngtcp2_connection_close_error e;
        ngtcp2_conn_get_connection_close_error(_conn, &e);
        return e;
    }

  private:
    gnutls_certificate_credentials_t _cred = nullptr;
    gnutls_session_t _tls = nullptr;
    ngtcp2_crypto_conn_ref _ref{};
    ngtcp2_conn* _conn = nullptr;
    int _rv = -1;
};

/// An endpoint on 127.0.0.1:4433 with echo users, and the virtual wire to its clients.
struct pair_fixture {
    /// Credentials of a self-signed certificate for `cn`, made once per name.
    static std::shared_ptr<const tls_credentials> loaded(const std::string& cn = "localhost") {
        static std::map<std::string, std::shared_ptr<const tls_credentials>> made;
        auto& c = made[cn];
        if (!c) {
            tls::testing::cert_files f = tls::testing::make_cert(cn);
            std::string error;
            c = tls_credentials::load(f.cert, f.key, resumption{}, error);
        }
        return c;
    }
    /// A holder (what a server's endpoints share) of the "localhost" credentials.
    static std::shared_ptr<credentials_holder> creds() { return std::make_shared<credentials_holder>(loaded()); }

    uring::datagram_address server_addr = v4("127.0.0.1", 4433);
    std::shared_ptr<credentials_holder> holder = creds(); ///< what a reload replaces
    capture_sink sink;
    std::vector<echo_user*> users; ///< owned by their connections; valid while those live
    std::unique_ptr<endpoint> ep;
    uint64_t now = 1'000'000'000;
    size_t largest_flush = 0; ///< the most bytes one flush in pump() sent (what pacing bounds)

    explicit pair_fixture(endpoint_config cfg = {}) {
        ep = std::make_unique<endpoint>(
            cfg, holder,
            [this](const uring::datagram_address&) {
                auto u = std::make_unique<echo_user>();
                users.push_back(u.get());
                return std::unique_ptr<stream_user>(std::move(u));
            },
            sink);
    }

    std::unique_ptr<client> new_client(uint16_t port = 40000) {
        return std::make_unique<client>(v4("127.0.0.1", port), server_addr, now);
    }

    void to_server(const client& c, const std::string& bytes) {
        uring::datagram d;
        d.peer = c.addr;
        d.local = server_addr;
        d.data = bytes.data();
        d.len = bytes.size();
        ep->on_datagram(d, now);
    }

    /// What the endpoint sends now: its queued datagrams, flushed.
    std::vector<wire_datagram> flushed() {
        ep->flush(now);
        return sink.take();
    }

    /// The clock jumps to the endpoint's next timer, which runs; what that sends is
    /// dropped (a silent peer never sees it).
    void run_next_timer() {
        now = std::max(now + 1, ep->next_expiry());
        ep->on_timer(now);
        sink.take();
    }

    /// Pass datagrams both ways until `done` holds or the wire falls silent with no timer
    /// left; when silent, the clock jumps to the next timer. Each busy round takes 1 ms of
    /// virtual time (the round-trip time the congestion controller sees).
    bool pump(std::vector<client*> clients, const std::function<bool()>& done, int max_rounds = 200000) {
        for (int round = 0; round < max_rounds; ++round) {
            size_t moved = 0;
            for (client* c : clients) {
                c->retry_blocked();
                for (const std::string& d : c->write(now)) {
                    to_server(*c, d);
                    ++moved;
                }
            }
            ep->flush(now);
            std::vector<wire_datagram> out = sink.take();
            size_t flushed_bytes = 0;
            for (const wire_datagram& d : out) {
                flushed_bytes += d.bytes.size();
            }
            largest_flush = std::max(largest_flush, flushed_bytes);
            for (const wire_datagram& d : out) {
                ++moved;
                for (client* c : clients) {
                    if (std::memcmp(&d.peer.addr, &c->addr.addr, c->addr.len) == 0) {
                        c->read(d.bytes, now);
                    }
                }
            }
            if (done()) {
                return true;
            }
            if (moved > 0) {
                now += 1'000'000;
                continue;
            }
            uint64_t t = ep->next_expiry();
            for (client* c : clients) {
                t = std::min(t, c->expiry());
            }
            if (t == UINT64_MAX) {
                return done();
            }
            now = std::max(now + 1, t);
            ep->on_timer(now);
            for (client* c : clients) {
                c->on_expiry(now);
            }
        }
        return done();
    }
};

} // namespace ringbolt::quic::testing
