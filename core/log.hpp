// Minimal logging for the native side: one line per call to stderr, formatted on the
// caller's stack and queued; a writer thread does the writes, so logging never waits
// for stderr. The Python side configures the level.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <string_view>

namespace ringbolt::core {

enum class log_level : int { debug = 10, info = 20, warning = 30, error = 40 };

void set_log_level(log_level level) noexcept;
bool log_enabled(log_level level) noexcept;
/// Queue one line (never blocks on I/O; dropped and counted when the queue is full).
void log(log_level level, const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));
/// Queue `text` as one line with the timestamp prefix (no level word): the access log.
void log_line(log_level level, std::string_view text) noexcept;
/// Wait up to `timeout_ms` for the lines queued so far to be written; true when they are.
bool log_flush(int timeout_ms) noexcept;
/// Lines this process dropped because the queue was full (stderr not keeping up).
uint64_t log_dropped() noexcept;

} // namespace ringbolt::core
