// IMF-fixdate formatting against known instants, and refresh only on a new second.
#include "core/date_cache.hpp"

#include <gtest/gtest.h>

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
    };
    for (const auto& c : cases) {
        char buf[32] = {};
        format_imf_fixdate(c.t, buf);
        EXPECT_EQ(std::string(buf, 29), c.expected) << c.t;
    }
}

TEST(DateCache, RefreshChangesOnlyOnNewSecond) {
    date_cache d;
    d.refresh(784111777);
    std::string first(d.value());
    d.refresh(784111777);
    EXPECT_EQ(d.value(), first);
    d.refresh(784111778);
    EXPECT_EQ(d.value(), "Sun, 06 Nov 1994 08:49:38 GMT");
}

} // namespace
} // namespace ringbolt
