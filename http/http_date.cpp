// HTTP-date: the three forms of RFC 9110 §5.6.7, to UTC seconds without the C library's
// locale or time zone (timegm is avoided: a days-from-civil computation instead).
#include "http/http_date.hpp"

#include <cstdint>

namespace ringbolt::http {

namespace {

int month_of(std::string_view m) noexcept {
    constexpr std::string_view names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; ++i) {
        if (m == names[i]) {
            return i + 1;
        }
    }
    return 0;
}

bool digits(std::string_view s, size_t n, int& out) noexcept {
    if (s.size() < n) {
        return false;
    }
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian).
int64_t days_from_civil(int64_t y, int m, int d) noexcept {
    y -= m <= 2 ? 1 : 0;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

// "HH:MM:SS"
bool parse_time(std::string_view s, int& h, int& mi, int& sec) noexcept {
    return s.size() == 8 && s[2] == ':' && s[5] == ':' && digits(s, 2, h) && digits(s.substr(3), 2, mi) &&
           digits(s.substr(6), 2, sec) && h < 24 && mi < 60 && sec <= 60;
}

std::time_t make(int y, int mon, int d, int h, int mi, int s) noexcept {
    if (mon == 0 || d < 1 || d > 31 || y < 1970) {
        return -1;
    }
    return static_cast<std::time_t>(days_from_civil(y, mon, d) * 86400 + h * 3600 + mi * 60 + s);
}

} // namespace

std::time_t parse_http_date(std::string_view s) noexcept {
    int y = 0;
    int d = 0;
    int h = 0;
    int mi = 0;
    int sec = 0;
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (s.size() == 29 && s[3] == ',' && s[4] == ' ' && s[7] == ' ' && s[11] == ' ' && s[16] == ' ' &&
        s.substr(25) == " GMT") {
        if (!digits(s.substr(5), 2, d) || !digits(s.substr(12), 4, y) || !parse_time(s.substr(17, 8), h, mi, sec)) {
            return -1;
        }
        return make(y, month_of(s.substr(8, 3)), d, h, mi, sec);
    }
    // asctime: "Sun Nov  6 08:49:37 1994"
    if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
        std::string_view day = s.substr(8, 2);
        if (day[0] == ' ') {
            if (!digits(day.substr(1), 1, d)) {
                return -1;
            }
        } else if (!digits(day, 2, d)) {
            return -1;
        }
        if (!parse_time(s.substr(11, 8), h, mi, sec) || !digits(s.substr(20), 4, y)) {
            return -1;
        }
        return make(y, month_of(s.substr(4, 3)), d, h, mi, sec);
    }
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years: §5.6.7 says a year
    // more than 50 years ahead is the past century).
    size_t comma = s.find(", ");
    if (comma != std::string_view::npos && comma >= 6 && comma <= 9) {
        std::string_view rest = s.substr(comma + 2);
        if (rest.size() != 22 || rest[2] != '-' || rest[6] != '-' || rest[9] != ' ' || rest.substr(18) != " GMT") {
            return -1;
        }
        int yy = 0;
        if (!digits(rest, 2, d) || !digits(rest.substr(7), 2, yy) || !parse_time(rest.substr(10, 8), h, mi, sec)) {
            return -1;
        }
        y = yy < 70 ? 2000 + yy : 1900 + yy;
        return make(y, month_of(rest.substr(3, 3)), d, h, mi, sec);
    }
    return -1;
}

} // namespace ringbolt::http
