// log_throttle: first occurrence logged, then one line per interval carrying the count
// held back, and an overdue summary when the occurrences stop.
#include "core/log_throttle.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ringbolt {
namespace {

struct step {
    uint32_t now_s;
    bool occurrence;     ///< true: admit(); false: take_overdue()
    bool want_logged;    ///< admit() result (occurrences only)
    uint64_t want_count; ///< held_back reported by admit(), or take_overdue()'s result
};

TEST(LogThrottle, FirstThenOncePerIntervalWithHeldBackCount) {
    const std::vector<step> steps = {
        {100, true, true, 0},   // first occurrence: logged
        {100, true, false, 0},  // same second: held back
        {105, true, false, 0},  // inside the interval: held back
        {105, false, false, 0}, // nothing overdue yet
        {109, true, false, 0},  // still inside
        {110, true, true, 3},   // interval over: logged, 3 were held back
        {111, true, false, 0},  // held back
        {112, true, false, 0},  // held back, then the condition stops
        {119, false, false, 0}, // not overdue yet
        {120, false, false, 2}, // overdue: the 2 held back are reported once
        {121, false, false, 0}, // and only once
        {125, true, false, 0},  // the summary counts as a report: held back again
        {131, true, true, 1},
    };
    core::log_throttle t(10);
    for (size_t i = 0; i < steps.size(); ++i) {
        const step& s = steps[i];
        if (s.occurrence) {
            uint64_t held_back = 12345;
            bool logged = t.admit(s.now_s, held_back);
            EXPECT_EQ(logged, s.want_logged) << "step " << i;
            if (logged) {
                EXPECT_EQ(held_back, s.want_count) << "step " << i;
            }
        } else {
            EXPECT_EQ(t.take_overdue(s.now_s), s.want_count) << "step " << i;
        }
    }
}

} // namespace
} // namespace ringbolt
