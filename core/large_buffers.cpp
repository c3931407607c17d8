// The kept large buffers: a few strings under one mutex (taken and given once per large
// answer, a cost next to writing and sending a large body), freed after an idle while.
#include "core/large_buffers.hpp"

#include <mutex>
#include <time.h>
#include <vector>

namespace ringbolt::core::large_buffers {

namespace {

struct pool {
    std::mutex lock;
    std::vector<std::string> kept;
    size_t bytes = 0;
    int64_t last_demand_s = -1'000'000; ///< when a large answer was last written (coarse clock)
};

/// Never destroyed: reactors may give a sent buffer back while the process exits.
pool& the_pool() noexcept {
    static pool* p = [] {
        pool* made = new pool();
        made->kept.reserve(max_kept);
        return made;
    }();
    return *p;
}

int64_t now_s() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return ts.tv_sec;
}

} // namespace

bool take(std::string& into, size_t at_least) noexcept {
    pool& p = the_pool();
    std::string found;
    {
        std::lock_guard<std::mutex> g(p.lock);
        p.last_demand_s = now_s();
        if (p.kept.empty()) {
            return false;
        }
        size_t best = 0;
        for (size_t i = 1; i < p.kept.size(); ++i) {
            size_t c = p.kept[i].capacity();
            size_t b = p.kept[best].capacity();
            // The smallest that is large enough; the largest while none is.
            if ((c >= at_least && (b < at_least || c < b)) || (b < at_least && c > b)) {
                best = i;
            }
        }
        found.swap(p.kept[best]);
        p.kept[best].swap(p.kept.back());
        p.kept.pop_back();
        p.bytes -= found.capacity();
    }
    into.swap(found); // (what `into` held is freed here, outside the lock)
    return true;
}

void give(std::string&& buffer) noexcept {
    size_t capacity = buffer.capacity();
    if (capacity < min_capacity) {
        std::string().swap(buffer);
        return;
    }
    pool& p = the_pool();
    {
        std::lock_guard<std::mutex> g(p.lock);
        if (p.kept.size() < max_kept && p.bytes + capacity <= max_bytes && now_s() - p.last_demand_s < idle_seconds) {
            p.kept.emplace_back(std::move(buffer));
            p.bytes += capacity;
            return;
        }
    }
    std::string().swap(buffer);
}

size_t sweep() noexcept {
    pool& p = the_pool();
    std::vector<std::string> freed;
    size_t bytes = 0;
    {
        std::lock_guard<std::mutex> g(p.lock);
        if (p.kept.empty() || now_s() - p.last_demand_s < idle_seconds) {
            return 0;
        }
        freed.swap(p.kept);
        p.kept.reserve(max_kept);
        bytes = p.bytes;
        p.bytes = 0;
    }
    return bytes; // (freed here, outside the lock)
}

size_t kept_bytes() noexcept {
    pool& p = the_pool();
    std::lock_guard<std::mutex> g(p.lock);
    return p.bytes;
}

size_t kept_count() noexcept {
    pool& p = the_pool();
    std::lock_guard<std::mutex> g(p.lock);
    return p.kept.size();
}

} // namespace ringbolt::core::large_buffers
