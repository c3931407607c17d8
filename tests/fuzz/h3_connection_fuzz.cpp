// libFuzzer target for one HTTP/3 connection (h3::connection over libnghttp3) with the
// fuzzer as the QUIC transport: the input is a script that delivers random stream bytes on
// random stream ids (request streams, the client's control and QPACK streams, unknown
// ones), resets and STOP_SENDING, pulls output with partial writes and blocked streams,
// acknowledges and "retransmits" what was written, closes streams, drains, and plays the
// application (whole, streamed and aborted answers, trailers, credit for streamed bodies).
//
// Script: one config byte, then operations (a byte each, `% num_ops`, then operands).
// Config bit 0: small limits (field section 300 bytes, body 100 bytes); bit 1: bodies
// larger than 10 bytes are streamed to the app; bit 2: at most 2 concurrent streams;
// bit 4: WebSocket routes (SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 9220). Op 11's operand
// picks by its top two bits: drain or EOF (0), the app accepting the oldest pending request
// as a WebSocket (1), an accepted WebSocket's app (2), or time passing so the streams' and
// sessions' clocks run (3).
// Invariants, checked with abort():
//  (a) the connection credits a stream at most what was delivered on it;
//  (b) offered output is on our own unidirectional streams or on a request stream the
//      client opened and the transport has not closed; piece pointers are set;
//  (c) a request is reported to the dispatcher at most once;
//  (d) once the connection closed itself, it offers nothing more;
//  (e) bytes written and not yet acknowledged stay readable (ASan: "retransmit" reads them);
//  (f) the transport is never asked to reset or stop a stream it did not deliver;
//  (g) a request stream is given back (grant_bidi_stream) at most once, after it closed;
//  (h) an accepted WebSocket hears its close at most once, and once the connection is
//      released, exactly once.
#include "h3/connection.hpp"

#include "tests/fuzz/script_reader.hpp"
#include "tests/fuzz/ws_app_play.hpp"
#include "tests/support/protocol_harness.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace ringbolt;

void check(bool ok, const char* what) {
    fuzz::invariant("h3_connection_fuzz", ok, what);
}

struct env_holder final : h3::env_source {
    http::protocol_env e;
    explicit env_holder(http::protocol_env env) : e(env) {}
    http::protocol_env& env() noexcept override { return e; }
};

// The transport as the fuzzer plays it.
struct fuzz_host final : quic::stream_host {
    int64_t next_uni = 3;
    std::map<int64_t, uint64_t> delivered;
    std::map<int64_t, uint64_t> credited;
    std::set<int64_t> closed; ///< request streams the transport forgot
    bool conn_closed = false;
    int64_t open_uni_stream() noexcept override {
        int64_t id = next_uni;
        next_uni += 4;
        return id;
    }
    void consumed(int64_t id, uint64_t n) noexcept override {
        credited[id] += n;
        check(credited[id] <= delivered[id], "(a) credit beyond what was delivered");
    }
    void reset_stream(int64_t id, uint64_t) noexcept override {
        check(delivered.contains(id), "(f) reset of a stream never delivered");
    }
    void stop_sending(int64_t id, uint64_t) noexcept override {
        check(delivered.contains(id), "(f) STOP_SENDING on a stream never delivered");
    }
    void want_write() noexcept override {}
    void grant_bidi_stream() noexcept override {
        ++allowed;
        ++granted;
        size_t bidi_closed = 0;
        for (int64_t id : closed) {
            bidi_closed += (id & 3) == 0 ? 1 : 0;
        }
        check(granted <= bidi_closed, "(g) a request stream given back twice, or before it closed");
    }
    uint64_t bidi_streams_allowed() const noexcept override { return allowed; }
    void close(uint64_t, std::string_view) noexcept override { conn_closed = true; }
    /// A resumed client's 0-RTT: every request stream's first bytes came early (unsafe
    /// methods are answered 425).
    bool early = false;
    bool came_early(int64_t) const noexcept override { return early; }
    uint64_t allowed = 100;
    uint64_t granted = 0;
};

// Written, unacknowledged output of one stream: the pieces' memory, in order.
struct written {
    struct span {
        const uint8_t* p;
        size_t n;
    };
    std::deque<span> spans;
    uint64_t bytes = 0;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::script_reader in{data, size};
    test_support::script_start start(in, check, 2);
    auto& [config, limits, counters, dispatch] = start;
    env_holder envs(test_support::make_env(limits, 1000, counters, dispatch));
    h3::settings cfg;
    if (config & 4) {
        cfg.max_concurrent_streams = 2;
    }
    cfg.file_chunk = 4096;
    cfg.websocket = (config & 16) != 0;
    fuzz_host host;
    std::map<int64_t, written> unacked;
    auto conn = std::make_unique<h3::connection>(envs, cfg);
    conn->open(1, 1, {}, 1000, limits);
    host.early = (config & 8) != 0;
    conn->on_connected(host);
    fuzz::ws_app_play sockets{check, {}}; ///< the accepted WebSockets' app
    constexpr int num_ops = 12;
    // Stream ids the script names: client request streams 0..60, the client's
    // unidirectional streams 2, 6, 10, 14.
    auto pick_stream = [&](uint8_t b) -> int64_t {
        return (b & 1) ? 2 + 4 * int64_t{(b >> 1) & 3} : 4 * int64_t{(b >> 1) & 15};
    };
    uint64_t sink = 0;
    while (in.n > 0) {
        uint8_t op = in.byte() % num_ops;
        http::protocol_env& e = envs.e;
        switch (op) {
        case 0:
        case 1:
        case 2: { // stream bytes
            uint8_t how = in.byte();
            int64_t id = pick_stream(in.byte());
            size_t len = 1 + in.byte() * (op == 2 ? 16 : 1);
            std::string_view bytes = in.bytes(len);
            if (host.closed.contains(id) || host.conn_closed) {
                break; // the transport delivers nothing more on a closed stream or connection
            }
            host.delivered[id] += bytes.size();
            conn->on_stream_data(id, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, (how & 1) != 0);
            break;
        }
        case 3: // the app answers the oldest pending request whole, trailers or not
            if (http::app_response m; dispatch.answer_oldest(in, 7, m)) {
                if (in.byte() & 1) {
                    m.rare().trailers = "X-Trailer: 1\r\n";
                }
                conn->on_app_message(std::move(m), e);
            }
            break;
        case 4: { // a streamed answer: head, pieces, end or abort
            http::app_response m;
            uint8_t how = 0;
            if (dispatch.stream_part(in, m, how)) {
                if (how & 1) {
                    m.start.status = 200;
                    m.stream = std::make_shared<test_support::counting_control>();
                }
                m.body.assign(in.byte() * 97u, 's');
                conn->on_app_message(std::move(m), e);
            }
            break;
        }
        case 5: // the app took streamed body bytes
            if (http::app_response m; dispatch.took_body(m)) {
                conn->on_app_message(std::move(m), e);
            }
            break;
        case 6: { // the transport pulls output: whole, partial, or blocked
            uint8_t how = in.byte();
            for (int k = 0; k < 64; ++k) {
                quic::stream_output out;
                conn->next_output(out);
                if (out.stream_id < 0) {
                    break;
                }
                check(!host.conn_closed, "(d) output after the connection closed");
                int64_t id = out.stream_id;
                check((id & 3) == 3 || ((id & 3) == 0 && host.delivered.contains(id) && !host.closed.contains(id)),
                      "(b) output on a stream we may not send on");
                uint64_t total = 0;
                for (size_t i = 0; i < out.count; ++i) {
                    check(out.pieces[i].data != nullptr || out.pieces[i].len == 0, "(b) a piece without memory");
                    total += out.pieces[i].len;
                }
                if ((how & 3) == 3 && total > 0 && (id & 3) == 0) {
                    conn->blocked(id);
                    conn->on_stream_writable(id);
                    break;
                }
                uint64_t n = (how & 3) == 2 ? total / 2 : total;
                written& w = unacked[id];
                uint64_t left = n;
                for (size_t i = 0; i < out.count && left > 0; ++i) {
                    size_t take = static_cast<size_t>(std::min<uint64_t>(left, out.pieces[i].len));
                    w.spans.push_back({out.pieces[i].data, take});
                    left -= take;
                }
                w.bytes += n;
                conn->wrote(id, static_cast<size_t>(n));
            }
            break;
        }
        case 7: { // acknowledgements, in order per stream, of part of what was written
            uint8_t how = in.byte();
            for (auto& [id, w] : unacked) {
                uint64_t n = (how & 1) ? w.bytes : w.bytes / 2;
                uint64_t left = n;
                while (left > 0 && !w.spans.empty()) {
                    written::span& s = w.spans.front();
                    size_t take = static_cast<size_t>(std::min<uint64_t>(left, s.n));
                    s.p += take;
                    s.n -= take;
                    left -= take;
                    if (s.n == 0) {
                        w.spans.pop_front();
                    }
                }
                w.bytes -= n;
                if (n > 0 && !host.conn_closed) {
                    conn->on_acked(id, n);
                }
            }
            break;
        }
        case 8: // "retransmit": read every written, unacknowledged byte again (e)
            for (auto& [id, w] : unacked) {
                for (const written::span& s : w.spans) {
                    for (size_t i = 0; i < s.n; ++i) {
                        sink += s.p[i];
                    }
                }
            }
            break;
        case 9: { // the client resets a stream, or asks us to stop sending on it
            uint8_t how = in.byte();
            int64_t id = pick_stream(in.byte());
            if (!host.delivered.contains(id) || host.closed.contains(id) || host.conn_closed) {
                break;
            }
            if (how & 1) {
                conn->on_stream_reset(id, 0x10c);
            } else if ((id & 3) == 0) {
                conn->on_stop_sending(id, 0x10c);
            }
            break;
        }
        case 10: { // the transport forgets a request stream
            int64_t id = pick_stream(in.byte() & 0xfe);
            if (!host.delivered.contains(id) || host.closed.contains(id) || host.conn_closed) {
                break;
            }
            host.closed.insert(id);
            conn->on_stream_closed(id, 0x100);
            unacked.erase(id); // its pieces may go now
            break;
        }
        case 11: {
            uint8_t how = in.byte();
            http::app_response m;
            if ((how >> 6) == 1 && sockets.accept(in, dispatch.pending, m)) {
                conn->on_app_message(std::move(m), e); // a 101 with its upgrade
            } else if ((how >> 6) == 2 && sockets.play(in, m)) {
                conn->on_app_message(std::move(m), e); // a message, a ping, its close, a failure, credit
            } else if ((how >> 6) == 3) {
                e.now_s += 1 + how % 40; // time passes: the clocks of the streams and their sessions
                conn->on_timeout(e);
            } else if ((how >> 6) == 0 && (how & 1)) {
                conn->begin_drain();
            } else if ((how >> 6) == 0) {
                conn->end_input(e);
            }
            break;
        }
        default:
            break;
        }
    }
    (void)conn->idle();
    conn->release();
    conn.reset();
    sockets.check_all_closed(); // (h)
    return static_cast<int>(sink & 0);
}
