// Log lines go to stderr through one process-wide log_queue: the calling thread (a
// reactor) formats the line and queues it, and never waits for stderr (a full pipe, a
// slow terminal); the queue's writer thread does the blocking writes.
#include "core/log.hpp"

#include "core/log_queue.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <pthread.h>
#include <unistd.h>

namespace ringbolt::core {

namespace {
std::atomic<int> g_level{static_cast<int>(log_level::info)};

constexpr size_t queue_slots = 1024;
constexpr int exit_flush_ms = 2000; ///< at exit, stderr gets this long to take what is queued

// Made on first use and never destroyed: threads may still log while the process exits.
std::atomic<log_queue*> g_queue{nullptr};

void flush_at_exit() {
    log_flush(exit_flush_ms);
}

log_queue& queue() noexcept {
    static log_queue* const q = [] {
        auto* made = new log_queue(2, queue_slots);
        g_queue.store(made); // before the fork handlers that use it
        pthread_atfork([] { g_queue.load()->before_fork(); }, [] { g_queue.load()->after_fork_parent(); },
                       [] { g_queue.load()->after_fork_child(); });
        std::atexit(flush_at_exit);
        return made;
    }();
    return *q;
}

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

// "2026-11-22 11:05:08,123 " (local time, as Python logging's asctime writes it).
size_t timestamp(char* out, size_t cap) noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    std::tm tm{};
    localtime_r(&ts.tv_sec, &tm);
    size_t n = std::strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
    int m = std::snprintf(out + n, cap - n, ",%03ld ", ts.tv_nsec / 1000000);
    return n + (m > 0 ? static_cast<size_t>(m) : 0);
}

void log(log_level level, const char* fmt, ...) noexcept {
    if (!log_enabled(level)) {
        return;
    }
    char line[log_queue::line_max];
    size_t t = timestamp(line, sizeof(line));
    int n = static_cast<int>(t) + std::snprintf(line + t, sizeof(line) - t, "[ringbolt] %s: ", level_name(level));
    va_list ap;
    va_start(ap, fmt);
    int m = std::vsnprintf(line + n, sizeof(line) - static_cast<size_t>(n), fmt, ap);
    va_end(ap);
    size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
    if (len > sizeof(line) - 1) {
        len = sizeof(line) - 1; // cut; the queue adds the newline
    }
    queue().push({line, len});
}

void log_line(log_level level, std::string_view text) noexcept {
    if (!log_enabled(level)) {
        return;
    }
    char line[log_queue::line_max];
    size_t n = timestamp(line, sizeof(line));
    size_t m = std::min(text.size(), sizeof(line) - 1 - n);
    std::memcpy(line + n, text.data(), m);
    queue().push({line, n + m});
}

bool log_flush(int timeout_ms) noexcept {
    log_queue* q = g_queue.load();
    return q == nullptr || q->flush(timeout_ms);
}

uint64_t log_dropped() noexcept {
    log_queue* q = g_queue.load();
    return q == nullptr ? 0 : q->dropped();
}

} // namespace ringbolt::core
