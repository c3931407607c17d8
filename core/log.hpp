// Minimal logging for the native side: one line per call to stderr, no allocation on
// the caller's side beyond the formatted line. The Python side configures the level.
#pragma once

#include <cstdarg>

namespace ringbolt {

enum class log_level : int { debug = 10, info = 20, warning = 30, error = 40 };

void set_log_level(log_level level) noexcept;
bool log_enabled(log_level level) noexcept;
void log(log_level level, const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

} // namespace ringbolt
