// Log lines go to stderr in one write() each so lines of different threads never mix.
#include "core/log.hpp"

#include <atomic>
#include <cstdio>
#include <unistd.h>

namespace ringbolt {

namespace {
std::atomic<int> g_level{static_cast<int>(log_level::info)};

const char* level_name(log_level l) noexcept {
    switch (l) {
    case log_level::debug:
        return "DEBUG";
    case log_level::info:
        return "INFO";
    case log_level::warning:
        return "WARNING";
    case log_level::error:
        return "ERROR";
    }
    return "?";
}
} // namespace

void set_log_level(log_level level) noexcept {
    g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool log_enabled(log_level level) noexcept {
    return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void log(log_level level, const char* fmt, ...) noexcept {
    if (!log_enabled(level)) {
        return;
    }
    char line[1024];
    int n = std::snprintf(line, sizeof(line), "[ringbolt] %s: ", level_name(level));
    va_list ap;
    va_start(ap, fmt);
    int m = std::vsnprintf(line + n, sizeof(line) - static_cast<size_t>(n) - 1, fmt, ap);
    va_end(ap);
    size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2;
    }
    line[len++] = '\n';
    ssize_t ignored = ::write(2, line, len);
    (void)ignored;
}

} // namespace ringbolt
