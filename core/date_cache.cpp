// IMF-fixdate formatting without locale, strftime or gmtime_r (glibc's takes the time
// zone lock on every call: a static file's Last-Modified is formatted per request, on
// every reactor).
#include "core/date_cache.hpp"

#include <cstdint>
#include <cstring>

namespace ringbolt::core {

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
    // Whole days since 1970-01-01 (floored: times before 1970 too) and the second of the
    // day; the civil date from the day count by Howard Hinnant's civil_from_days (the
    // proleptic Gregorian calendar in 400-year eras, pure arithmetic).
    int64_t days = static_cast<int64_t>(t) / 86400;
    int64_t secs = static_cast<int64_t>(t) % 86400;
    if (secs < 0) {
        secs += 86400;
        --days;
    }
    int64_t wday = (days + 4) % 7; // 1970-01-01 was a Thursday
    if (wday < 0) {
        wday += 7;
    }
    int64_t z = days + 719468; // days since 0000-03-01
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      // day of the era, 0..146096
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; // year of the era, 0..399
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               // day of the year from March
    int64_t mp = (5 * doy + 2) / 153;                                    // month from March, 0..11
    int mday = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);           // 1..31
    int mon = static_cast<int>(mp < 10 ? mp + 2 : mp - 10);              // 0..11 from January
    int year = static_cast<int>(yoe + era * 400 + (mon <= 1 ? 1 : 0));
    std::memcpy(out, day_names[wday], 3);
    out[3] = ',';
    out[4] = ' ';
    put2(out + 5, mday);
    out[7] = ' ';
    std::memcpy(out + 8, month_names[mon], 3);
    out[11] = ' ';
    put2(out + 12, year / 100);
    put2(out + 14, year % 100);
    out[16] = ' ';
    int sec = static_cast<int>(secs);
    put2(out + 17, sec / 3600);
    out[19] = ':';
    put2(out + 20, sec / 60 % 60);
    out[22] = ':';
    put2(out + 23, sec % 60);
    std::memcpy(out + 25, " GMT", 4);
}

void date_cache::refresh(std::time_t now) noexcept {
    if (now == _second) [[likely]] {
        return;
    }
    _second = now;
    format_imf_fixdate(now, _buf);
}

} // namespace ringbolt::core
