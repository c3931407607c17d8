// An in-memory QUIC for h3::connection tests: an nghttp3 client connection on one side,
// the server's h3::connection on the other, and a link between them that plays the QUIC
// transport for both (quic::stream_host for the server). It moves stream bytes in order,
// enforces a stream flow-control window each way (the server's credit is what it reports
// with consumed()), acknowledges what was delivered one round later, carries resets and
// STOP_SENDING, and closes a request stream once both directions are done.
#pragma once

#include "h3/connection.hpp"
#include "tests/support/protocol_harness.hpp"

#include <gtest/gtest.h>
#include <nghttp3/nghttp3.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ringbolt::h3_test {

struct env_holder final : h3::env_source {
    http::protocol_env e;
    explicit env_holder(http::protocol_env env) : e(env) {}
    http::protocol_env& env() noexcept override { return e; }
};

/// The client: requests out, answers in (nghttp3 as the independent peer).
struct client {
    struct answer {
        std::map<std::string, std::string> headers;
        std::map<std::string, std::string> trailers;
        std::string body;
        bool ended = false;
        uint64_t reset = UINT64_MAX; ///< the server's RESET_STREAM code
        uint64_t stop = UINT64_MAX;  ///< the server's STOP_SENDING code
        bool closed = false;
    };
    nghttp3_conn* conn = nullptr;
    std::map<int64_t, answer> answers;
    std::map<int64_t, std::string> bodies; ///< request bodies being sent (kept until the stream closes)
    std::map<int64_t, size_t> body_at;
    std::map<int64_t, size_t> body_chunk;
    std::map<int64_t, bool> body_open; ///< more body will be added (send_more)
    int64_t goaway = -1;
    int64_t next_id = 0;

    client() {
        nghttp3_callbacks cb{};
        cb.recv_header = [](nghttp3_conn*, int64_t id, int32_t, nghttp3_rcbuf* n, nghttp3_rcbuf* v, uint8_t, void* u,
                            void*) -> int {
            auto nb = nghttp3_rcbuf_get_buf(n);
            auto vb = nghttp3_rcbuf_get_buf(v);
            static_cast<client*>(u)->answers[id].headers[std::string(reinterpret_cast<char*>(nb.base), nb.len)] =
                std::string(reinterpret_cast<char*>(vb.base), vb.len);
            return 0;
        };
        cb.recv_trailer = [](nghttp3_conn*, int64_t id, int32_t, nghttp3_rcbuf* n, nghttp3_rcbuf* v, uint8_t, void* u,
                             void*) -> int {
            auto nb = nghttp3_rcbuf_get_buf(n);
            auto vb = nghttp3_rcbuf_get_buf(v);
            static_cast<client*>(u)->answers[id].trailers[std::string(reinterpret_cast<char*>(nb.base), nb.len)] =
                std::string(reinterpret_cast<char*>(vb.base), vb.len);
            return 0;
        };
        cb.recv_data = [](nghttp3_conn*, int64_t id, const uint8_t* d, size_t n, void* u, void*) -> int {
            static_cast<client*>(u)->answers[id].body.append(reinterpret_cast<const char*>(d), n);
            return 0;
        };
        cb.end_stream = [](nghttp3_conn*, int64_t id, void* u, void*) -> int {
            static_cast<client*>(u)->answers[id].ended = true;
            return 0;
        };
        cb.stream_close = [](nghttp3_conn*, int64_t id, uint64_t, void* u, void*) -> int {
            static_cast<client*>(u)->answers[id].closed = true;
            return 0;
        };
        cb.shutdown = [](nghttp3_conn*, int64_t id, void* u) -> int {
            static_cast<client*>(u)->goaway = id;
            return 0;
        };
        nghttp3_settings s;
        nghttp3_settings_default(&s);
        s.qpack_max_dtable_capacity = 4096;
        s.qpack_blocked_streams = 16;
        EXPECT_EQ(nghttp3_conn_client_new(&conn, &cb, &s, nullptr, this), 0);
        EXPECT_EQ(nghttp3_conn_bind_control_stream(conn, 2), 0);
        EXPECT_EQ(nghttp3_conn_bind_qpack_streams(conn, 6, 10), 0);
    }
    ~client() { nghttp3_conn_del(conn); }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    static nghttp3_ssize read_body(nghttp3_conn*, int64_t id, nghttp3_vec* vec, size_t, uint32_t* flags, void* u,
                                   void*) {
        auto* c = static_cast<client*>(u);
        std::string& b = c->bodies[id];
        size_t& at = c->body_at[id];
        size_t n = std::min(c->body_chunk[id], b.size() - at);
        if (n == 0 && c->body_open[id]) {
            return NGHTTP3_ERR_WOULDBLOCK;
        }
        vec[0].base = reinterpret_cast<uint8_t*>(b.data() + at);
        vec[0].len = n;
        at += n;
        if (at == b.size() && !c->body_open[id]) {
            *flags |= NGHTTP3_DATA_FLAG_EOF;
        }
        return 1;
    }

    /// A request; `body` (sent in `chunk`-byte DATA frames) makes it a POST-like one.
    /// `open`: the body goes on (send_more) until finish_body.
    int64_t request(const std::string& path, std::vector<std::pair<std::string, std::string>> extra = {},
                    const std::string& method = "GET", const std::string* body = nullptr, size_t chunk = 65536,
                    bool open = false) {
        int64_t id = next_id;
        next_id += 4;
        std::vector<std::pair<std::string, std::string>> h = {
            {":method", method}, {":scheme", "https"}, {":authority", "x"}, {":path", path}};
        h.insert(h.end(), extra.begin(), extra.end());
        std::vector<nghttp3_nv> nva;
        for (auto& [n, v] : h) {
            nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()), n.size(),
                           v.size(), NGHTTP3_NV_FLAG_NONE});
        }
        nghttp3_data_reader dr{read_body};
        if (body != nullptr || open) {
            bodies[id] = body != nullptr ? *body : std::string();
            body_at[id] = 0;
            body_chunk[id] = chunk;
            body_open[id] = open;
        }
        EXPECT_EQ(nghttp3_conn_submit_request(conn, id, nva.data(), nva.size(), body != nullptr || open ? &dr : nullptr,
                                              nullptr),
                  0);
        return id;
    }
    void send_more(int64_t id, const std::string& more, bool finish) {
        bodies[id] += more;
        body_open[id] = !finish;
        nghttp3_conn_resume_stream(conn, id);
    }
};

/// The link: the transport for both sides.
struct link final : quic::stream_host {
    h3::connection& server;
    client& cl;
    uint64_t window = 1 << 20;        ///< each direction's stream flow-control window
    uint64_t client_window = 1 << 20; ///< server -> client, per stream
    int64_t next_uni = 3;
    int uni_limit = 3;
    /// The client's bidirectional streams allowed in all (QUIC's MAX_STREAMS): a request
    /// stream numbered past it waits (blocked) until the server grants more.
    uint64_t allowed = 100;
    uint64_t grants = 0;
    std::set<int64_t> stream_limited; ///< client streams waiting for MAX_STREAMS
    int64_t closing = -1;             ///< the stream on_stream_closed is being told of
    bool hold_acks = false;           ///< the client acknowledges nothing (its windows stay where they are)
    /// What the connection may still carry server -> client, every stream together (QUIC's
    /// MAX_DATA, the congestion window): once spent, the stream offered next is told there
    /// is no room (wrote 0), as a full connection window or packet tells it.
    uint64_t conn_budget = UINT64_MAX;
    // client -> server
    std::map<int64_t, uint64_t> sent;   ///< bytes of the stream given to the server
    std::map<int64_t, uint64_t> credit; ///< what the server reported consumed
    std::set<int64_t> client_blocked;
    std::set<int64_t> client_fin; ///< the client's direction is done (FIN delivered, or reset)
    // server -> client
    std::map<int64_t, uint64_t> server_sent;
    std::map<int64_t, uint64_t> server_acked;
    std::set<int64_t> server_blocked;
    std::set<int64_t> server_fin; ///< FIN written (done once acked)
    std::vector<std::pair<int64_t, uint64_t>> unacked;
    std::map<int64_t, uint64_t> server_resets; ///< RESET_STREAM codes the server sent
    std::map<int64_t, uint64_t> server_stops;  ///< STOP_SENDING codes the server sent
    std::vector<std::pair<int64_t, uint64_t>> pending_stops;
    std::set<int64_t> closed;
    uint64_t max_unacked = 0; ///< most response bytes the server held for retransmission
    bool want = false;
    bool closed_conn = false;
    uint64_t close_code = 0;
    std::string close_reason;

    link(h3::connection& s, client& c) : server(s), cl(c) {}

    // quic::stream_host
    int64_t open_uni_stream() noexcept override {
        if (uni_limit-- <= 0) {
            return -1;
        }
        int64_t id = next_uni;
        next_uni += 4;
        return id;
    }
    void consumed(int64_t id, uint64_t n) noexcept override {
        EXPECT_FALSE(closed.contains(id)) << "credit for a closed stream " << id;
        credit[id] += n;
    }
    void reset_stream(int64_t id, uint64_t code) noexcept override {
        if (!server_resets.contains(id)) {
            server_resets[id] = code;
            cl.answers[id].reset = code;
            nghttp3_conn_shutdown_stream_read(cl.conn, id);
        }
    }
    void stop_sending(int64_t id, uint64_t code) noexcept override {
        if (!server_stops.contains(id)) {
            server_stops[id] = code;
            cl.answers[id].stop = code;
            pending_stops.push_back({id, code}); // the client resets its side, after this call
        }
    }
    void want_write() noexcept override { want = true; }
    void grant_bidi_stream() noexcept override {
        ++allowed;
        ++grants;
        EXPECT_LE(grants, closed.size() + (closing >= 0 ? 1 : 0)) << "a stream given back twice, or before it closed";
    }
    uint64_t bidi_streams_allowed() const noexcept override { return allowed; }
    /// Streams whose first bytes came in 0-RTT (a resumed client's early data).
    std::set<int64_t> early;
    bool came_early(int64_t id) const noexcept override { return early.contains(id); }
    void close(uint64_t code, std::string_view reason) noexcept override {
        closed_conn = true;
        close_code = code;
        close_reason.assign(reason);
    }

    /// The client resets its sending side (RESET_STREAM): its QUIC delivers it at once.
    void client_reset(int64_t id, uint64_t code) {
        nghttp3_conn_shutdown_stream_write(cl.conn, id);
        client_fin.insert(id);
        server.on_stream_reset(id, code);
    }

    bool client_to_server() {
        bool progress = false;
        for (int i = 0; i < 100000 && !closed_conn; ++i) {
            int64_t id = -1;
            int fin = 0;
            nghttp3_vec vec[16];
            nghttp3_ssize n = nghttp3_conn_writev_stream(cl.conn, &id, &fin, vec, 16);
            EXPECT_GE(n, 0);
            if (n < 0 || id < 0) {
                break;
            }
            uint64_t total = nghttp3_vec_len(vec, static_cast<size_t>(n));
            if ((id & 3) == 0 && static_cast<uint64_t>(id / 4) >= this->allowed) {
                nghttp3_conn_block_stream(cl.conn, id); // RFC 9000 §4.6: not open yet
                stream_limited.insert(id);
                continue;
            }
            uint64_t allowed = total;
            if ((id & 3) == 0) {
                uint64_t limit = credit[id] + window - sent[id];
                allowed = std::min(total, limit);
            }
            if (allowed == 0 && total > 0) {
                nghttp3_conn_block_stream(cl.conn, id);
                client_blocked.insert(id);
                continue;
            }
            std::string bytes;
            for (nghttp3_ssize k = 0; k < n && bytes.size() < allowed; ++k) {
                bytes.append(reinterpret_cast<const char*>(vec[k].base),
                             std::min<size_t>(vec[k].len, allowed - bytes.size()));
            }
            EXPECT_EQ(nghttp3_conn_add_write_offset(cl.conn, id, allowed), 0);
            sent[id] += allowed;
            bool f = fin != 0 && allowed == total;
            if (!client_fin.contains(id)) {
                server.on_stream_data(id, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, f);
            }
            if (f) {
                client_fin.insert(id);
            }
            nghttp3_conn_add_ack_offset(cl.conn, id, allowed);
            progress = true;
        }
        for (auto it = stream_limited.begin(); it != stream_limited.end();) {
            if (static_cast<uint64_t>(*it / 4) < allowed) {
                nghttp3_conn_unblock_stream(cl.conn, *it);
                it = stream_limited.erase(it);
                progress = true;
            } else {
                ++it;
            }
        }
        for (auto it = client_blocked.begin(); it != client_blocked.end();) {
            if (credit[*it] + window > sent[*it]) {
                nghttp3_conn_unblock_stream(cl.conn, *it);
                it = client_blocked.erase(it);
                progress = true;
            } else {
                ++it;
            }
        }
        return progress;
    }

    bool server_to_client() {
        bool progress = false;
        want = false;
        for (int i = 0; i < 100000 && !closed_conn; ++i) {
            quic::stream_output out;
            server.next_output(out);
            if (out.stream_id < 0) {
                break;
            }
            int64_t id = out.stream_id;
            uint64_t total = 0;
            for (size_t k = 0; k < out.count; ++k) {
                total += out.pieces[k].len;
            }
            uint64_t allowed = total;
            if ((id & 3) == 0) {
                allowed = std::min(total, server_acked[id] + client_window - server_sent[id]);
            }
            if (allowed == 0 && total > 0) {
                server.blocked(id);
                server_blocked.insert(id);
                continue;
            }
            if (conn_budget == 0 && total > 0) {
                server.wrote(id, 0);
                break;
            }
            allowed = std::min(allowed, conn_budget);
            conn_budget -= allowed;
            std::string bytes;
            for (size_t k = 0; k < out.count && bytes.size() < allowed; ++k) {
                bytes.append(reinterpret_cast<const char*>(out.pieces[k].data),
                             std::min<size_t>(out.pieces[k].len, allowed - bytes.size()));
            }
            server.wrote(id, allowed);
            server_sent[id] += allowed;
            bool f = out.fin && allowed == total;
            if (!server_resets.contains(id)) {
                nghttp3_ssize rv = nghttp3_conn_read_stream(cl.conn, id, reinterpret_cast<const uint8_t*>(bytes.data()),
                                                            bytes.size(), f ? 1 : 0);
                EXPECT_GE(rv, 0) << nghttp3_strerror(static_cast<int>(rv));
            }
            if (f) {
                server_fin.insert(id);
            }
            if (allowed > 0) {
                unacked.push_back({id, allowed});
            }
            progress = true;
        }
        max_unacked = std::max(max_unacked, server.unacked_bytes());
        return progress;
    }

    bool acks_and_events() {
        bool progress = (!unacked.empty() && !hold_acks) || !pending_stops.empty();
        auto acks = hold_acks ? decltype(unacked)() : std::move(unacked);
        if (!hold_acks) {
            unacked.clear();
        }
        for (auto [id, n] : acks) {
            if (closed.contains(id)) {
                continue;
            }
            server_acked[id] += n;
            server.on_acked(id, n);
        }
        for (auto it = server_blocked.begin(); it != server_blocked.end();) {
            if (server_acked[*it] + client_window > server_sent[*it]) {
                int64_t id = *it;
                it = server_blocked.erase(it);
                server.on_stream_writable(id);
                progress = true;
            } else {
                ++it;
            }
        }
        auto stops = std::move(pending_stops);
        pending_stops.clear();
        for (auto [id, code] : stops) {
            // RFC 9000 §3.5: STOP_SENDING makes the client reset what it still sends.
            if (!client_fin.contains(id) && !closed.contains(id)) {
                client_reset(id, code);
            }
        }
        // A request stream closes once both directions are done.
        for (int64_t id = 0; id < cl.next_id; id += 4) {
            if (closed.contains(id) || closed_conn) {
                continue;
            }
            bool server_done =
                server_resets.contains(id) || (server_fin.contains(id) && server_acked[id] == server_sent[id]);
            if (server_done && client_fin.contains(id)) {
                closing = id;
                server.on_stream_closed(id, 0x100); // (it may still credit the stream's input)
                closing = -1;
                closed.insert(id);
                nghttp3_conn_close_stream(cl.conn, id, 0x100);
                progress = true;
            }
        }
        return progress;
    }

    /// One round: each side sends what it may, then acknowledgements and resets arrive.
    bool step() {
        bool p = client_to_server();
        p |= server_to_client();
        p |= acks_and_events();
        return p && !closed_conn;
    }
    /// Run the link until nothing moves.
    void pump() {
        for (int r = 0; r < 100000; ++r) {
            if (!step()) {
                return;
            }
        }
        ADD_FAILURE() << "the link did not settle";
    }
};

} // namespace ringbolt::h3_test
