// The HTTP Date header value (IMF-fixdate, RFC 9110 §5.6.7), formatted at most once
// per second per core and refreshed once per loop turn.
#pragma once

#include <cstdint>
#include <ctime>
#include <string_view>

namespace ringbolt::core {

class date_cache {
  public:
    date_cache() noexcept { refresh(std::time(nullptr)); }

    /// Re-format only when the second changed. Call once per loop turn.
    void refresh(std::time_t now) noexcept;
    void refresh() noexcept { refresh(std::time(nullptr)); }

    /// "Sun, 06 Nov 1994 08:49:37 GMT" (always 29 bytes).
    std::string_view value() const noexcept { return {_buf, 29}; }

  private:
    std::time_t _second = -1;
    char _buf[32] = {};
};

/// Format `t` as IMF-fixdate into out[0..29). Exposed for tests.
void format_imf_fixdate(std::time_t t, char* out) noexcept;

} // namespace ringbolt::core
