// The access log: one line per answered request, formatted by the thread that answers
// it and written by the log queue's writer thread (never by a reactor or a handler
// thread). Process-wide: configured once before the server starts.
#pragma once

#include "dispatch/app_request.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringbolt::dispatch {

/// One answered request.
struct access_entry {
    const http::peer_address* peer = nullptr;
    std::string_view method;
    std::string_view target;
    uint8_t version_minor = 1;
    uint16_t status = 0;
    int64_t body_bytes = -1;     ///< -1: not known when the head went out (a streamed body)
    uint64_t start_ns = 0;       ///< when the request was handed on (0: not measured)
    std::string_view request_id; ///< app.enable_request_id: the request's id ("" when off)
};

/// The default format, uvicorn's: `127.0.0.1:52000 - "GET /path HTTP/1.1" 200 OK`.
inline constexpr std::string_view default_access_format = "%(h)s:%(p)s - \"%(r)s\" %(s)s %(S)s";

/// Enable (with `format`) or disable the access log. Atoms: %(h)s client address,
/// %(p)s client port, %(r)s request line, %(m)s method, %(U)s target path, %(q)s query
/// (without '?'), %(H)s protocol, %(s)s status, %(S)s reason phrase, %(b)s body bytes
/// ('-' when streamed), %(B)s body bytes (0 when streamed), %(D)s microseconds in the
/// application, %(L)s seconds in the application, %(t)s time [22/Nov/2026:11:05:08 +0000],
/// %(i)s the request id (app.enable_request_id; '-' when off), %% a percent sign. Returns an error message for an
/// unknown atom, or for a format whose own text and fields leave the client's text (method, target, request id)
/// fewer than `access_client_share_min` bytes each, else "".
std::string configure_access_log(bool enabled, std::string_view format);

/// A line's bytes, "[ringbolt] ACCESS: " included: what a log queue slot holds after the timestamp.
inline constexpr size_t access_line_max = 1000;
/// The least a line keeps for each piece of the client's text; a format that leaves less is refused.
inline constexpr size_t access_client_share_min = 64;

/// The line for `e` in the configured format, written into `out`; its length. The client's text is
/// given what the rest of the line leaves (its most being decided by configure_access_log), shared
/// so that a short piece is whole and the longest are cut alike, each cut one ending in "...[+N]"
/// (N: the bytes left out): the status, size and time always reach the line, whatever the target.
size_t format_access_line(const access_entry& e, std::array<char, access_line_max>& out) noexcept;

/// Set by configure_access_log (before the reactors start); read on every request, so
/// the test is inline (one load), not a call.
extern std::atomic<bool> access_log_on;
inline bool access_log_enabled() noexcept {
    return access_log_on.load(std::memory_order_relaxed);
}

/// Queue the line for `e` (call only when access_log_enabled()).
void write_access_log(const access_entry& e) noexcept;

} // namespace ringbolt::dispatch
