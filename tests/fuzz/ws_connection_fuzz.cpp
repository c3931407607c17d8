// libFuzzer target for one whole WebSocket connection after the switch: the input is a
// script that drives a ws::connection the way a client (raw bytes and well-formed
// frames), the application (messages, close, taking what arrived) and the reactor
// (sends, timeouts, EOF, drain) would, then checks what came out.
//
// Script: one config byte, then operations (a byte each, `% num_ops`, then operands).
// Invariants, checked with abort():
//  (a) the channel hears on_closed at most once, and once the connection is done it
//      reads nothing more and queues nothing more;
//  (b) the wire parses as server frames: unmasked, no reserved bits (RSV1 only on a
//      compressed data frame), known opcodes, control frames final and at most 125
//      bytes, a close frame's code sendable, and nothing after the close frame;
//  (c) every message handed to the app is within max_message, and text is valid UTF-8;
//  (d) credit: the bytes credited back never exceed what the app's messages put on the
//      wire, and equal it once the queue is empty;
//  (e) an open connection with a ping interval always has a deadline.
#include "ws/connection.hpp"

#include "tests/fuzz/script_reader.hpp"
#include "tests/support/counting_ws_channel.hpp"
#include "ws/utf8.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace ringbolt;
using namespace ringbolt::ws;

void check(bool ok, const char* what) {
    fuzz::invariant("ws_connection_fuzz", ok, what);
}

struct fuzz_channel final : test_support::counting_ws_channel {
    uint64_t max_message = 0;
    void on_message(opcode op, std::string&& p) noexcept override {
        check(closed == 0, "(a) a message after the close");
        check(p.size() <= max_message, "(c) a message over max_message");
        check(op == opcode::text || op == opcode::binary, "(c) a message is text or binary");
        check(op != opcode::text || valid_utf8(p), "(c) a text message that is not UTF-8");
        delivered += p.size();
    }
    void on_closed(uint16_t, std::string_view) noexcept override {
        ++closed;
        check(closed == 1, "(a) on_closed twice");
    }
    void on_sent(size_t n) noexcept override {
        counting_ws_channel::on_sent(n);
        check(sent <= framed_wire, "(d) more credit than bytes framed");
    }
};

/// Checks the server's frames as they come (a frame may span sends).
struct wire_checker {
    std::string buf;
    bool closed = false;
    bool deflate = false;
    void add(std::string_view bytes) {
        buf.append(bytes);
        while (buf.size() >= 2) {
            auto b0 = static_cast<uint8_t>(buf[0]);
            auto b1 = static_cast<uint8_t>(buf[1]);
            check((b1 & 0x80) == 0, "(b) a masked server frame");
            uint64_t len = b1 & 0x7F;
            size_t at = 2;
            if (len == 126) {
                if (buf.size() < 4) {
                    return;
                }
                len = (static_cast<uint8_t>(buf[2]) << 8) | static_cast<uint8_t>(buf[3]);
                at = 4;
            } else if (len == 127) {
                if (buf.size() < 10) {
                    return;
                }
                len = 0;
                for (int i = 0; i < 8; ++i) {
                    len = (len << 8) | static_cast<uint8_t>(buf[2 + i]);
                }
                at = 10;
            }
            if (buf.size() < at + len) {
                return;
            }
            uint8_t op = b0 & 0x0F;
            check(!closed, "(b) a frame after the close frame");
            check((b0 & 0x30) == 0, "(b) RSV2/RSV3 set");
            check(op == 1 || op == 2 || op == 8 || op == 9 || op == 10, "(b) an unknown opcode");
            check((b0 & 0x80) != 0, "(b) a server frame that is not final");
            check(!(b0 & 0x40) || (deflate && (op == 1 || op == 2)), "(b) RSV1 where no compression applies");
            if (op >= 8) {
                check(len <= 125, "(b) a control frame over 125 bytes");
            }
            if (op == 8) {
                check(len != 1, "(b) a 1-byte close payload");
                if (len >= 2) {
                    auto code =
                        static_cast<uint16_t>((static_cast<uint8_t>(buf[at]) << 8) | static_cast<uint8_t>(buf[at + 1]));
                    check(sendable_close_code(code), "(b) a close code that must not be sent");
                }
                closed = true;
            }
            buf.erase(0, at + len);
        }
    }
};

std::string client_frame(uint8_t b0, std::string_view payload, const uint8_t mask[4]) {
    std::string f;
    f.push_back(static_cast<char>(b0));
    size_t n = payload.size();
    if (n < 126) {
        f.push_back(static_cast<char>(0x80 | n));
    } else {
        f.push_back(static_cast<char>(0x80 | 126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n & 0xFF));
    }
    f.append(reinterpret_cast<const char*>(mask), 4);
    for (size_t i = 0; i < n; ++i) {
        f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    }
    return f;
}

struct null_dispatcher final : http::dispatcher {
    verdict on_request(http::protocol&, const http::request_event&, http::protocol_env&,
                       std::shared_ptr<http::body_stream>&) override {
        return verdict::answered;
    }
};

enum op : uint8_t {
    op_raw,      ///< raw client bytes
    op_frame,    ///< a well-formed masked client frame (any opcode/flags from the script)
    op_app_send, ///< the app sends text/binary/ping/close
    op_app_take, ///< the app takes everything delivered; the reactor pumps
    op_send,     ///< the reactor sends the queue (credit)
    op_timeout,  ///< time passes to the deadline
    op_eof,      ///< the client sends EOF
    op_drain,    ///< the server drains
    num_ops
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::script_reader in{data, size};
    uint8_t config = in.byte();
    settings cfg;
    cfg.max_message = (config & 1) ? 300 : 70000;
    cfg.read_window = (config & 2) ? 100 : 1 << 20;
    cfg.ping_interval_s = (config & 4) ? 0 : 20;
    cfg.ping_timeout_s = 5;
    cfg.close_timeout_s = 3;
    if (config & 8) {
        cfg.deflate = deflate_params{};
        cfg.deflate->client_no_context_takeover = (config & 16) != 0;
        cfg.deflate->server_no_context_takeover = (config & 32) != 0;
        cfg.deflate_cfg.compress_above = 8;
    }
    auto chan = std::make_shared<fuzz_channel>();
    chan->max_message = cfg.max_message;
    http::connection_limits limits;
    core::core_counters counters;
    null_dispatcher dispatch;
    uint32_t now = 1000;
    auto env = [&] { return http::protocol_env{limits, "date", now, false, counters, dispatch}; };
    wire_checker wire;
    wire.deflate = cfg.deflate.has_value();
    // A client's compressor for compressed frames (the server must inflate them).
    std::unique_ptr<deflate_codec> client_codec;
    if (cfg.deflate) {
        client_codec = std::make_unique<deflate_codec>(*cfg.deflate, cfg.deflate_cfg);
    }

    auto conn = std::make_unique<connection>(chan, cfg);
    {
        std::string_view pending = in.bytes(in.byte() % 16);
        conn->start(pending, now, counters);
    }
    auto send_all = [&] {
        core::send_batch b;
        while (conn->output().take_front(b, 8, SIZE_MAX)) {
            for (const core::segment& s : b.segments()) {
                wire.add(s.bytes());
            }
            b.consume(b.remaining());
            b.reset();
        }
        check(chan->sent == chan->framed_wire, "(d) the queue is empty but not all credit came back");
    };
    {
        auto e = env();
        conn->pump(e);
    }
    while (in.n > 0) {
        bool done_before = conn->close_after_flush();
        uint64_t queued_before = conn->output().bytes();
        auto e = env();
        switch (static_cast<op>(in.byte() % num_ops)) {
        case op_raw: {
            std::string_view bytes = in.bytes(in.byte() % 64);
            bool taken = conn->on_data(bytes, e);
            check(!(done_before && taken), "(a) bytes read after the connection was done");
            break;
        }
        case op_frame: {
            uint8_t b0 = in.byte();
            uint8_t kind = in.byte();
            size_t len = kind % 4 == 0 ? in.byte() * 3u : in.byte() % 40u;
            std::string payload(in.bytes(len));
            if ((b0 & 0x40) && client_codec && (kind & 0x10)) {
                std::string packed;
                client_codec->compress(payload, packed);
                payload = std::move(packed);
            }
            const uint8_t mask[4] = {kind, 0x5a, in.byte(), 0xc3};
            bool taken = conn->on_data(client_frame(b0, payload, mask), e);
            check(!(done_before && taken), "(a) a frame read after the connection was done");
            break;
        }
        case op_app_send: {
            uint8_t kind = in.byte();
            http::app_response m;
            m.parts = http::app_response::part_message;
            static const uint8_t ops[] = {1, 2, 9, 8};
            m.opcode = ops[kind % 4];
            if (m.opcode == 8) {
                uint16_t code = (kind & 4) ? 1000 : 4000 + (kind >> 3);
                m.body.push_back(static_cast<char>(code >> 8));
                m.body.push_back(static_cast<char>(code & 0xFF));
            } else if (m.opcode == 1) {
                m.body.assign(in.byte() % 50, 'a');
            } else {
                m.body.assign(in.bytes(in.byte()));
            }
            conn->on_app_message(std::move(m), e);
            break;
        }
        case op_app_take:
            chan->taken = chan->delivered;
            conn->pump(e);
            break;
        case op_send:
            send_all();
            break;
        case op_timeout:
            if (conn->deadline() != 0) {
                now = conn->deadline();
                auto later = env();
                conn->on_timeout(later);
            }
            break;
        case op_eof:
            conn->end_input(e);
            break;
        case op_drain:
            conn->begin_drain(now, 1);
            break;
        case num_ops:
            break;
        }
        if (done_before) {
            check(conn->output().bytes() <= queued_before, "(a) output queued after the connection was done");
        }
        if (!conn->close_after_flush() && cfg.ping_interval_s != 0) {
            check(conn->deadline() != 0, "(e) an open connection without a deadline");
        }
    }
    send_all();
    conn->release();
    check(chan->closed == 1, "(a) release() without telling the app");
    check(conn->output().empty(), "(a) output left after release()");
    return 0;
}
