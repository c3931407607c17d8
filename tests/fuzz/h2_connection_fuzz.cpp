// libFuzzer target for one whole HTTP/2 connection (h2::connection over libnghttp2): the
// input is a script that feeds client bytes in pieces and plays the application (whole,
// streamed and aborted answers, credit for streamed bodies) and the reactor (sends,
// timeouts, EOF, drain), then checks what came out.
//
// Script: one config byte, then operations (a byte each, `% num_ops`, then operands).
// The client's bytes follow the preface (fed first, so the fuzzer explores frames).
// Config bit 7 makes the receive windows small (16 KiB a stream, 64 KiB the connection).
// Config bits 5-6 turn response compression on (off, gzip, br, zstd; min size 0, so
// every body the client's Accept-Encoding allows is coded): whole answers, streamed
// pieces (http::stream_exchange::code_piece) and file pieces inside a coded stream (refused:
// the stream is reset).
// Invariants, checked with abort():
//  (a) the output is a sequence of whole HTTP/2 frames that starts with the server's
//      SETTINGS, every frame within the default maximum size (16384);
//  (b) stream ids of the server's frames are never even (the server pushes nothing);
//  (c) a request the dispatcher saw is never answered twice (on_request once per seq);
//  (d) once released, the connection queues nothing more;
//  (e) after client bytes, while the connection is open, the client may send more than
//      half the connection window: DATA is credited to the connection as it arrives,
//      never held by bodies no app has read (issue 25);
//  (f) a streamed body never holds more untaken bytes than the stream window;
//  (g) an accepted WebSocket (RFC 8441: the app's 101 on an extended CONNECT's stream)
//      hears its close at most once, and once the connection is released, exactly once.
// WebSocket routes are on (SETTINGS_ENABLE_CONNECT_PROTOCOL): the app may accept any
// pending request as a WebSocket (op 10) and then plays it (op 11).
#include "h2/connection.hpp"
#include "http/response_features.hpp"
#include "ws/connection.hpp"

#include "tests/fuzz/script_reader.hpp"
#include "tests/fuzz/ws_app_play.hpp"
#include "tests/support/protocol_harness.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

namespace {

using namespace ringbolt;

void check(bool ok, const char* what) {
    fuzz::invariant("h2_connection_fuzz", ok, what);
}

// (a), (b): the wire so far parses as whole frames.
void check_frames(const std::string& wire) {
    size_t pos = 0;
    bool first = true;
    while (pos + 9 <= wire.size()) {
        auto b = [&](size_t i) { return static_cast<uint8_t>(wire[pos + i]); };
        size_t len = (size_t{b(0)} << 16) | (size_t{b(1)} << 8) | b(2);
        uint8_t type = b(3);
        uint32_t sid = ((uint32_t{b(5)} << 24) | (uint32_t{b(6)} << 16) | (uint32_t{b(7)} << 8) | b(8)) & 0x7fffffff;
        if (first) {
            check(type == 4, "(a) the first frame is not SETTINGS");
            first = false;
        }
        check(len <= 16384, "(a) a frame over 16384 bytes");
        check(sid == 0 || sid % 2 == 1, "(b) a frame on an even stream");
        pos += 9 + len;
    }
    check(pos == wire.size(), "(a) a partial frame at the end of the output");
}

// The file streamed answers take file pieces from (sendfile in the server; the harness
// reads it back with pread): 64 KiB of a pattern, made once.
int pattern_file() {
    static int fd = [] {
        int f = memfd_create("h2_connection_fuzz", 0);
        if (f < 0) {
            std::abort();
        }
        std::string content(65536, '\0');
        for (size_t i = 0; i < content.size(); ++i) {
            content[i] = static_cast<char>('a' + i % 23);
        }
        if (::write(f, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
            std::abort();
        }
        return f;
    }();
    return fd;
}

// A borrowed body's bytes (app_response::borrowed, kept alive by `keep`).
constexpr std::string_view borrowed_text = "borrowed bytes, as a Python bytes object lends them: 0123456789abcdef";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::script_reader in{data, size};
    test_support::script_start start(in, check, 4);
    auto& [config, limits, counters, dispatch] = start;
    http::response_features features;
    static const char* const codings[] = {"gzip", "br", "zstd"};
    if (uint8_t pick = (config >> 5) & 3; pick != 0) {
        std::string error = http::configure_compression(features, 0, {codings[pick - 1]}, {-1}, {});
        check(error.empty(), "compression configuration refused");
        dispatch.features = &features;
    }
    uint32_t now = 1000;
    h2::settings cfg;
    cfg.websocket = true;
    if (config & 8) {
        cfg.abuse.reset_burst = 3;
        cfg.control_burst = 3;
        cfg.max_concurrent_streams = 2;
    }
    if (config & 128) {
        // Small windows: a few DATA frames fill a stream's window and the connection's.
        cfg.initial_window = 16384;
        cfg.connection_window = 65535;
        limits.body_window = 16384;
    }
    h2::connection conn(cfg);
    conn.open(1, 1, {}, now, limits);
    std::string wire;
    auto env = [&]() {
        // start's members by name: clang before 16 refuses structured bindings in a lambda
        return test_support::make_env(start.limits, now, start.counters, start.dispatch,
                                      (start.config & 16) ? size_t{20000} : size_t{1} << 20);
    };
    {
        auto e = env();
        conn.on_data(h2::client_preface, e);
    }
    std::vector<std::shared_ptr<test_support::counting_control>> controls;
    fuzz::ws_app_play sockets{check, {}}; ///< the accepted WebSockets' app
    bool released = false;
    constexpr int num_ops = 12;
    while (in.n > 0) {
        uint8_t op = in.byte() % num_ops;
        auto e = env();
        switch (op) {
        case 0:
        case 1:
        case 2: { // client bytes
            size_t len = 1 + in.byte() * (op == 2 ? 8 : 1);
            conn.on_data(in.bytes(len), e);
            check(conn.closing() || conn.receive_window() > static_cast<int32_t>(cfg.connection_window / 2),
                  "(e) the connection window is held");
            break;
        }
        case 3: // the app answers the oldest pending request whole
            if (http::app_response m; dispatch.answer_oldest(in, 1, m)) {
                conn.on_app_message(std::move(m), e);
            }
            break;
        case 4: { // a streamed answer: head and a piece, later pieces and the end
            http::app_response m;
            uint8_t how = 0;
            if (dispatch.stream_part(in, m, how)) {
                if (how & 1) {
                    // how & 32: no Content-Type (never compressed); how & 64: the end too.
                    if (how & 64) {
                        m.parts |= http::app_response::part_end;
                        dispatch.pending.pop_back();
                    }
                    m.start.static_fields = (how & 32) ? "" : "Content-Type: text/plain\r\n";
                    auto c = std::make_shared<test_support::counting_control>();
                    controls.push_back(c);
                    m.stream = c;
                }
                size_t len = static_cast<size_t>(in.byte()) * 97;
                if ((how & 16) && (m.parts & http::app_response::part_body)) {
                    // A file piece: a range of the pattern file (refused inside a coded stream).
                    http::app_response_more& more = m.rare();
                    more.file = std::make_shared<core::file_handle>(::dup(pattern_file()));
                    more.file_offset = len % 4096;
                    more.file_length = len;
                } else if ((how & 128) && len > 0) {
                    m.rare().borrowed = borrowed_text.substr(0, len % borrowed_text.size() + 1);
                    m.more->keep = std::make_shared<int>(0);
                } else {
                    m.body.assign(len, 's');
                }
                conn.on_app_message(std::move(m), e);
            }
            break;
        }
        case 5: // the app took streamed body bytes
            if (http::app_response m; dispatch.took_body(m)) {
                conn.on_app_message(std::move(m), e);
            }
            break;
        case 6: // the reactor sends what is queued
            test_support::drain_output(conn.output(), wire);
            break;
        case 7: // time passes
            now += 1 + in.byte() % 40;
            if (conn.deadline() != 0 && now >= conn.deadline()) {
                auto e2 = env();
                conn.on_timeout(e2);
            }
            break;
        case 8:
            conn.begin_drain(now, 1);
            break;
        case 9:
            if (in.byte() & 1) {
                conn.end_input(e);
            } else {
                conn.release();
                released = true;
            }
            break;
        case 10: // the app accepts the oldest pending request as a WebSocket: a 101 with its upgrade
            if (http::app_response m; sockets.accept(in, dispatch.pending, m)) {
                conn.on_app_message(std::move(m), e);
            }
            break;
        case 11: // an accepted WebSocket's app: a message, a ping, its close, a failure, credit
            if (http::app_response m; sockets.play(in, m)) {
                conn.on_app_message(std::move(m), e);
            }
            break;
        default:
            break;
        }
        if (released) {
            check(conn.output().empty(), "(d) output after release");
            break;
        }
    }
    test_support::drain_output(conn.output(), wire);
    check_frames(wire);
    // Until the client acknowledges the server's SETTINGS, a stream's window is the
    // protocol's initial 65,535 bytes (RFC 9113 §6.9.2).
    uint64_t stream_window = std::max<uint64_t>({cfg.initial_window, limits.body_window, 65535});
    for (auto& [seq, body] : dispatch.bodies) {
        check(body->most_untaken <= stream_window, "(f) a streamed body past its window");
    }
    conn.release();
    sockets.check_all_closed(); // (g)
    return 0;
}
