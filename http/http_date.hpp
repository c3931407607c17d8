// HTTP-date parsing (RFC 9110 §5.6.7) for If-Modified-Since and If-Range: IMF-fixdate
// and, as recipients must, the obsolete RFC 850 and asctime forms. Formatting is
// core/date_cache.hpp's format_imf_fixdate.
#pragma once

#include <ctime>
#include <string_view>

namespace ringbolt::http {

/// Seconds since the epoch (UTC), or -1 when `s` is not an HTTP-date (then the
/// condition that carries it is ignored, as §13.1.3 says).
std::time_t parse_http_date(std::string_view s) noexcept;

} // namespace ringbolt::http
