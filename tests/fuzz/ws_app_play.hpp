// What a protocol's fuzz target plays as a WebSocket's application, the same on every
// protocol that hosts one (HTTP/2, RFC 8441; HTTP/3, RFC 9220): accept a pending request
// with a 101 carrying the upgrade, then send messages, pings, a close, an abort, or
// credit for what it read. Each accepted WebSocket's channel counts its closes: it hears
// its close at most once (and, once its connection is released, exactly once).
#pragma once

#include "http/app_message.hpp"
#include "ws/connection.hpp"

#include "tests/fuzz/script_reader.hpp"
#include "tests/support/counting_ws_channel.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ringbolt::fuzz {

/// A WebSocket's application that takes each message as it comes, and counts its closes.
struct taking_channel final : test_support::counting_ws_channel {
    explicit taking_channel(void (*check_fn)(bool, const char*)) : check(check_fn) {}
    void (*check)(bool, const char*);
    void on_message(ws::opcode, std::string&& p) noexcept override {
        delivered += p.size();
        taken = delivered;
    }
    void on_closed(uint16_t, std::string_view) noexcept override {
        ++closed;
        check(closed == 1, "a WebSocket heard its close twice");
    }
};

/// What ws_accept gives the 101 (pymod/native/websocket): told when the switch cannot
/// happen, so the app hears 1006 instead of waiting for ever.
struct upgrade_watch final : http::stream_control {
    std::shared_ptr<taking_channel> chan;
    explicit upgrade_watch(std::shared_ptr<taking_channel> c) : chan(std::move(c)) {}
    void on_sent(size_t) noexcept override {}
    void on_closed() noexcept override { chan->on_closed(ws::close_code::abnormal, "connection lost"); }
};

/// The application's side of the WebSockets of one connection.
struct ws_app_play {
    void (*check)(bool, const char*);
    std::vector<std::pair<uint64_t, std::shared_ptr<taking_channel>>> sockets; ///< accepted, by seq

    /// The app accepts the oldest of `pending` as a WebSocket (small read windows and
    /// message limits from the script): `m` is its 101. False when nothing is pending.
    bool accept(script_reader& in, std::vector<uint64_t>& pending, http::app_response& m) {
        if (pending.empty()) {
            return false;
        }
        m.seq = pending.front();
        pending.erase(pending.begin());
        uint8_t how = in.byte();
        ws::settings cfg;
        cfg.read_window = 1 + static_cast<uint64_t>(how & 15) * 64; // small: reading pauses
        cfg.max_message = 1 + static_cast<uint64_t>(how >> 4) * 4096;
        auto chan = std::make_shared<taking_channel>(check);
        sockets.emplace_back(m.seq, chan);
        m.parts = http::app_response::part_head;
        m.start.status = 101;
        m.start.static_fields = "X-Accepted: 1\r\n";
        m.rare().upgrade = std::make_shared<ws::upgrade>(chan, cfg);
        m.stream = std::make_shared<upgrade_watch>(chan);
        return true;
    }

    /// An accepted WebSocket's app: a message, a ping, its close, an abort, or credit.
    /// False when none was accepted.
    bool play(script_reader& in, http::app_response& m) {
        if (sockets.empty()) {
            return false;
        }
        m.seq = sockets[in.byte() % sockets.size()].first;
        uint8_t how = in.byte();
        switch (how % 5) {
        case 0:
        case 1:
            m.parts = http::app_response::part_message;
            m.opcode = static_cast<uint8_t>(how % 5 == 0 ? ws::opcode::text : ws::opcode::binary);
            m.body.assign(static_cast<size_t>(in.byte()) * 61, 'w');
            break;
        case 2:
            m.parts = http::app_response::part_message;
            m.opcode = static_cast<uint8_t>((how & 8) ? ws::opcode::close : ws::opcode::ping);
            m.body = (how & 8) ? std::string("\x03\xe8"
                                             "bye")
                               : std::string("p");
            break;
        case 3:
            m.parts = http::app_response::part_abort;
            break;
        default:
            m.parts = http::app_response::part_read_more;
            break;
        }
        return true;
    }

    /// After the connection's release: every accepted WebSocket heard its close.
    void check_all_closed() const {
        for (const auto& [seq, chan] : sockets) {
            check(chan->closed == 1, "a WebSocket never heard its close");
        }
    }
};

} // namespace ringbolt::fuzz
