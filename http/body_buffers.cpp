#include "http/body_buffers.hpp"

#include <mutex>
#include <vector>

namespace ringbolt::http {

namespace {

struct kept_buffers {
    std::mutex lock;
    std::vector<std::string> buffers; // last given back at the end
    size_t bytes = 0;
};

// Leaked on purpose: requests may end after static destruction began (a handler thread
// finishing at exit), and a give then must still find the pool.
kept_buffers& pool() noexcept {
    static kept_buffers* p = new kept_buffers;
    return *p;
}

} // namespace

std::string take_body_buffer(size_t capacity) {
    std::string out;
    if (capacity >= body_buffer_min) {
        kept_buffers& p = pool();
        std::lock_guard<std::mutex> g(p.lock);
        for (size_t i = p.buffers.size(); i-- > 0;) {
            if (p.buffers[i].capacity() >= capacity) {
                out.swap(p.buffers[i]);
                p.bytes -= out.capacity();
                p.buffers.erase(p.buffers.begin() + static_cast<std::ptrdiff_t>(i));
                break;
            }
        }
    }
    out.reserve(capacity);
    return out;
}

void give_body_buffer(std::string&& s) noexcept {
    std::string mine = std::move(s);
    s.clear();
    size_t cap = mine.capacity();
    if (cap < body_buffer_min) {
        return;
    }
    mine.clear();
    kept_buffers& p = pool();
    std::lock_guard<std::mutex> g(p.lock);
    if (p.bytes + cap > body_buffers_kept_max) {
        return; // freed after the lock is released (`mine` was declared before `g`)
    }
    try {
        p.buffers.push_back(std::move(mine));
        p.bytes += cap;
    } catch (...) {
        // no room to keep it: freed
    }
}

size_t body_buffers_kept() noexcept {
    kept_buffers& p = pool();
    std::lock_guard<std::mutex> g(p.lock);
    return p.bytes;
}

} // namespace ringbolt::http
