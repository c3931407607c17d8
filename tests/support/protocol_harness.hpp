// What the protocol tests (tests/unit/h2) and fuzz targets (tests/fuzz) share to drive a
// protocol without a ring: the reactor's side (a turn's env, the output sent as bytes)
// and the test dispatcher's rule for which requests are answered natively.
#pragma once

#include "core/counters.hpp"
#include "core/output_queue.hpp"
#include "http/protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::test_support {

/// The Date every test env gives (fixed, so outputs can be compared).
inline constexpr std::string_view test_date = "Thu, 01 Jan 2026 00:00:00 GMT";

/// A reactor turn's env at coarse second `now_s`: the fixed date, not draining, the
/// server's default fields, no HTTP/2 upgrade.
http::protocol_env make_env(const http::connection_limits& limits, uint32_t now_s, core_counters& counters,
                            http::dispatcher& dispatch, size_t output_limit = SIZE_MAX);

/// Sends everything `q` holds as the reactor would, appending the bytes to `wire`: memory
/// segments as they are, file ranges read with pread (what sendfile would send). Send
/// credits are told as the segments go.
void drain_output(http::output_queue& q, std::string& wire);

/// The bytes drain_output() sends.
std::string take_output(http::output_queue& q);

/// The body of a native answer (see answer_or_keep).
inline constexpr std::string_view native_body = "native";

/// The test dispatchers' rule for a complete request: a path that starts with "/n" is
/// answered natively during the call (200, text/plain, native_body); any other request
/// goes to the application, its seq appended to `to_app` for the test (or the fuzz
/// script) to answer with app_response messages.
http::dispatcher::verdict answer_or_keep(http::protocol& conn, const http::request_event& ev, http::protocol_env& env,
                                         std::vector<uint64_t>& to_app);

} // namespace ringbolt::test_support
