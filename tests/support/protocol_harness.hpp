// What the protocol tests (tests/unit/h2) and fuzz targets (tests/fuzz) share to drive a
// protocol without a ring: the reactor's side (a turn's env, the output sent as bytes)
// and the test dispatcher's rule for which requests are answered natively.
#pragma once

#include "core/counters.hpp"
#include "core/output_queue.hpp"
#include "http/protocol.hpp"
#include "http/response_features.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::test_support {

/// The Date every test env gives (fixed, so outputs can be compared).
inline constexpr std::string_view test_date = "Thu, 01 Jan 2026 00:00:00 GMT";

/// A reactor turn's env at coarse second `now_s`: the fixed date, not draining, the
/// server's default fields, no HTTP/2 upgrade.
http::protocol_env make_env(const http::connection_limits& limits, uint32_t now_s, core::core_counters& counters,
                            http::dispatcher& dispatch, size_t output_limit = SIZE_MAX);

/// Sends everything `q` holds as the reactor would, appending the bytes to `wire`: memory
/// segments as they are, file ranges read with pread (what sendfile would send). Send
/// credits are told as the segments go.
void drain_output(core::output_queue& q, std::string& wire);

/// The bytes drain_output() sends.
std::string take_output(core::output_queue& q);

/// The body of a native answer (see answer_or_keep).
inline constexpr std::string_view native_body = "native";

/// The test dispatchers' rule for a complete request: a path that starts with "/n" is
/// answered natively during the call (200, text/plain, native_body); any other request
/// goes to the application, its seq appended to `to_app` for the test (or the fuzz
/// script) to answer with app_response messages.
http::dispatcher::verdict answer_or_keep(http::protocol& conn, const http::request_event& ev, http::protocol_env& env,
                                         std::vector<uint64_t>& to_app);

/// The limits a protocol fuzz script's config byte picks: bit 0 small ones (a body of
/// 100 bytes, a head of 300 bytes and 4 fields), bit 1 bodies over 10 bytes streamed.
inline http::connection_limits script_limits(uint8_t config) {
    http::connection_limits limits;
    if (config & 1) {
        limits.max_body = 100;
        limits.parser.max_head_bytes = 300;
        limits.parser.max_headers = 4;
    }
    if (config & 2) {
        limits.stream_body_above = 10;
    }
    return limits;
}

/// A producer's stream_control that counts what it hears: bytes sent, closes.
struct counting_control final : http::stream_control {
    uint64_t sent = 0;
    int closed = 0;
    void on_sent(size_t n) noexcept override { sent += n; }
    void on_closed() noexcept override { ++closed; }
};

/// A streamed request body the script's app reads: what was pushed, what the app took,
/// and the most ever left untaken.
struct counted_body final : http::body_stream {
    uint64_t pushed = 0;
    uint64_t taken = 0;
    uint64_t most_untaken = 0;
    void push(std::string_view b) noexcept override {
        pushed += b.size();
        most_untaken = std::max(most_untaken, pushed - taken);
    }
    void finish() noexcept override {}
    void fail(http::body_error) noexcept override {}
    uint64_t unconsumed() const noexcept override { return pushed - taken; }
};

/// The fuzz targets' dispatcher: complete requests go through answer_or_keep; a body
/// that follows is read whole, or (`stream_bodies`) streamed into a counted_body kept in
/// `bodies`. `features` (compression on): requests are decorated as the server's
/// dispatcher does. `check(false, why)` aborts the target: a request reported twice.
struct keeping_dispatcher final : http::dispatcher {
    explicit keeping_dispatcher(void (*check_fn)(bool, const char*)) : check(check_fn) {}
    void (*check)(bool, const char*);
    std::vector<uint64_t> pending;
    std::set<uint64_t> seen;
    std::map<uint64_t, std::shared_ptr<counted_body>> bodies; ///< streamed bodies by seq
    bool stream_bodies = false;
    const http::response_features* features = nullptr;
    verdict on_request(http::protocol& conn, const http::request_event& ev, http::protocol_env& env,
                       std::shared_ptr<http::body_stream>& stream) override;
    /// The app answers the oldest pending request whole: status 100 + 2 * the script's next
    /// byte, text/plain, `body_unit` 'b's per unit of the byte after. False (nothing read,
    /// m untouched) when no request is pending.
    template <class Script> bool answer_oldest(Script& in, size_t body_unit, http::app_response& m) {
        if (pending.empty()) {
            return false;
        }
        m.seq = pending.front();
        pending.erase(pending.begin());
        m.start.status = static_cast<uint16_t>(100 + in.byte() * 2);
        m.start.static_fields = "Content-Type: text/plain\r\n";
        m.body.assign(in.byte() * body_unit, 'b');
        return true;
    }
    /// A part of a streamed answer to the newest pending request, as the script's next byte
    /// (`how`) says: how & 1, the head with a piece (the caller completes the head); how &
    /// 2, a piece; otherwise the end (how & 4: an abort instead; how & 8: trailers), and
    /// the request is no longer pending. False (nothing read) when no request is pending.
    template <class Script> bool stream_part(Script& in, http::app_response& m, uint8_t& how) {
        if (pending.empty()) {
            return false;
        }
        m.seq = pending.back();
        how = in.byte();
        if (how & 1) {
            m.parts = http::app_response::part_head | http::app_response::part_body;
        } else if (how & 2) {
            m.parts = http::app_response::part_body;
        } else {
            m.parts = (how & 4) ? http::app_response::part_abort : http::app_response::part_end;
            if (how & 8) {
                m.rare().trailers = "X-Trailer: 1\r\n";
            }
            pending.pop_back();
        }
        return true;
    }
    /// The app took every byte streamed so far of the oldest pending request's body: `m`
    /// becomes its part_read_more. False (m untouched) when no request is pending.
    bool took_body(http::app_response& m);
};

/// What a scripted connection target starts from: the script's config byte, the limits
/// it picks, counters, and the dispatcher (streaming bodies when `config & stream_bit`).
struct script_start {
    template <class Script>
    script_start(Script& in, void (*check)(bool, const char*), uint8_t stream_bit)
        : config(in.byte()), limits(script_limits(config)), dispatch(check) {
        dispatch.stream_bodies = (config & stream_bit) != 0;
    }
    uint8_t config;
    http::connection_limits limits;
    core::core_counters counters;
    keeping_dispatcher dispatch;
};

} // namespace ringbolt::test_support
