// Rate limit for a log line about a condition that can recur thousands of times a
// second (accept failing on EMFILE): the first occurrence is logged, then at most one
// line per interval, which says how many occurrences were held back in between.
#pragma once

#include <cstdint>

namespace ringbolt::core {

/// Single-threaded (one per reactor); times are coarse seconds, 0 never used as a time.
class log_throttle {
  public:
    explicit log_throttle(uint32_t interval_s) noexcept : _interval_s(interval_s) {}

    /// An occurrence at `now_s`. True: log it now; `held_back` is then the number of
    /// occurrences not logged since the previous logged one.
    bool admit(uint32_t now_s, uint64_t& held_back) noexcept {
        if (_logged_at != 0 && now_s - _logged_at < _interval_s) {
            ++_held_back;
            return false;
        }
        held_back = _held_back;
        _held_back = 0;
        _logged_at = now_s;
        return true;
    }

    /// Occurrences held back whose interval has passed without a new one being logged:
    /// returns their count once (then 0), so a summary line can report them.
    uint64_t take_overdue(uint32_t now_s) noexcept {
        if (_held_back == 0 || now_s - _logged_at < _interval_s) {
            return 0;
        }
        uint64_t n = _held_back;
        _held_back = 0;
        _logged_at = now_s;
        return n;
    }

  private:
    uint32_t _interval_s;
    uint32_t _logged_at = 0;
    uint64_t _held_back = 0;
};

} // namespace ringbolt::core
