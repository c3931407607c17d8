// IMF-fixdate formatting against known instants, and refresh only on a new second.
#include "core/date_cache.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <string>

namespace ringbolt {
namespace {

struct date_case {
    std::time_t t;
    const char* expected;
};

TEST(DateCache, FormatsKnownInstants) {
    const date_case cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"}, // RFC 9110 §5.6.7 example
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {4102444799, "Thu, 31 Dec 2099 23:59:59 GMT"},
        {-1, "Wed, 31 Dec 1969 23:59:59 GMT"}, // a file's mtime may be before 1970
        {-2207520000, "Thu, 18 Jan 1900 00:00:00 GMT"},
        {2147483648, "Tue, 19 Jan 2038 03:14:08 GMT"},
        {4107542400, "Mon, 01 Mar 2100 00:00:00 GMT"}, // 2100 is no leap year
        {253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
    };
    for (const auto& c : cases) {
        char buf[32] = {};
        core::format_imf_fixdate(c.t, buf);
        EXPECT_EQ(std::string(buf, 29), c.expected) << c.t;
    }
}

// The arithmetic against libc's gmtime_r, day by day over 1900-2200 and at odd seconds.
TEST(DateCache, AgreesWithGmtime) {
    static const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (std::time_t t = -2208988800; t < 7258118400; t += 86400 + 3607) {
        struct tm tm;
        ASSERT_NE(gmtime_r(&t, &tm), nullptr);
        char want[64];
        std::snprintf(want, sizeof(want), "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[tm.tm_wday], tm.tm_mday,
                      month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        char got[32] = {};
        core::format_imf_fixdate(t, got);
        ASSERT_EQ(std::string(got, 29), want) << t;
    }
}

TEST(DateCache, RefreshChangesOnlyOnNewSecond) {
    core::date_cache d;
    d.refresh(784111777);
    std::string first(d.value());
    d.refresh(784111777);
    EXPECT_EQ(d.value(), first);
    d.refresh(784111778);
    EXPECT_EQ(d.value(), "Sun, 06 Nov 1994 08:49:38 GMT");
}

} // namespace
} // namespace ringbolt
