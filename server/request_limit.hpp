// A process's request budget (`--limit-max-requests`, gunicorn's `--max-requests`): the
// reactors add what they counted at the end of each turn, and the turn that reaches the
// limit begins the drain of them all at once, so a worker recycles after its limit plus
// the requests already in flight, whatever the load and however often anyone looks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace ringbolt::server {

class request_limit {
  public:
    /// `limit`: requests before the drain (0: none); `on_reached` runs once, on the
    /// reactor thread whose turn reached it.
    request_limit(uint64_t limit, std::function<void()> on_reached)
        : _limit(limit), _on_reached(std::move(on_reached)) {}

    bool active() const noexcept { return _limit != 0; }
    uint64_t limit() const noexcept { return _limit; }
    /// Requests counted so far (every reactor's, as of their last turn).
    uint64_t served() const noexcept { return _served.load(std::memory_order_relaxed); }
    /// The limit was reached: the drain has begun (any thread).
    bool reached() const noexcept { return _reached.load(std::memory_order_acquire); }

    /// A reactor counted `n` more requests in its turn. One atomic add per turn that
    /// counted any, not per request: the cores share no cache line per request. True
    /// when the limit is reached with these (the caller drains before it answers them,
    /// whether or not its add was the one that reached it and stopped the server).
    bool add(uint64_t n) noexcept {
        if (_limit == 0) {
            return false;
        }
        uint64_t before = _served.fetch_add(n, std::memory_order_relaxed);
        if (before < _limit && before + n >= _limit) {
            _reached.store(true, std::memory_order_release);
            if (_on_reached) {
                _on_reached();
            }
        }
        return before + n >= _limit;
    }

  private:
    const uint64_t _limit;
    std::function<void()> _on_reached;
    std::atomic<uint64_t> _served{0};
    std::atomic<bool> _reached{false};
};

} // namespace ringbolt::server
