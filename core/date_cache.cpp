// IMF-fixdate formatting without locale or strftime (which takes a lock).
#include "core/date_cache.hpp"

#include <cstring>

namespace ringbolt {

namespace {
constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void put2(char* p, int v) noexcept {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
}
} // namespace

void format_imf_fixdate(std::time_t t, char* out) noexcept {
    struct tm tm;
    gmtime_r(&t, &tm);
    std::memcpy(out, day_names[tm.tm_wday], 3);
    out[3] = ',';
    out[4] = ' ';
    put2(out + 5, tm.tm_mday);
    out[7] = ' ';
    std::memcpy(out + 8, month_names[tm.tm_mon], 3);
    out[11] = ' ';
    int year = tm.tm_year + 1900;
    put2(out + 12, year / 100);
    put2(out + 14, year % 100);
    out[16] = ' ';
    put2(out + 17, tm.tm_hour);
    out[19] = ':';
    put2(out + 20, tm.tm_min);
    out[22] = ':';
    put2(out + 23, tm.tm_sec);
    std::memcpy(out + 25, " GMT", 4);
}

void date_cache::refresh(std::time_t now) noexcept {
    if (now == _second) [[likely]] {
        return;
    }
    _second = now;
    format_imf_fixdate(now, _buf);
}

} // namespace ringbolt
