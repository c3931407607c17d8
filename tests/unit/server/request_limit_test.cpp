// The process's request budget shared by the reactors (server/request_limit.hpp): the
// add that reaches the limit, and only that one, stops the server, whichever thread
// makes it and however the counts are batched; every add from then on says drain.
#include "server/request_limit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace ringbolt::server {
namespace {

struct batch_case {
    const char* name;
    uint64_t limit;
    std::vector<uint64_t> adds; ///< one reactor's turns, in order
    int reached_after;          ///< the index of the add that reaches the limit (-1: none)
};

TEST(RequestLimit, ReachedByTheAddThatCrossesIt) {
    const std::vector<batch_case> cases = {
        {"one at a time", 3, {1, 1, 1, 1}, 2},   {"a turn of many crosses it", 10, {4, 4, 4, 4}, 2},
        {"a turn lands on it", 8, {4, 4, 4}, 1}, {"the first turn passes it", 2, {50}, 0},
        {"not yet", 100, {10, 20, 30}, -1},      {"no limit", 0, {1, 1000}, -1},
    };
    for (const batch_case& c : cases) {
        SCOPED_TRACE(c.name);
        int calls = 0;
        request_limit limit(c.limit, [&calls] { ++calls; });
        EXPECT_EQ(limit.active(), c.limit != 0);
        uint64_t sum = 0;
        for (size_t i = 0; i < c.adds.size(); ++i) {
            bool drain = limit.add(c.adds[i]);
            sum += c.adds[i];
            bool want = c.reached_after >= 0 && static_cast<int>(i) >= c.reached_after;
            EXPECT_EQ(drain, want) << "add " << i << ": the reactor that made it drains";
            EXPECT_EQ(limit.reached(), want) << "after add " << i;
            EXPECT_EQ(calls, want ? 1 : 0) << "after add " << i;
            EXPECT_EQ(limit.served(), c.limit != 0 ? sum : 0u); // (without a limit nothing is counted)
        }
    }
}

TEST(RequestLimit, ManyReactorsStopTheServerOnce) {
    constexpr uint64_t each = 10000;
    constexpr unsigned threads = 4;
    std::atomic<int> calls{0};
    request_limit limit(threads * each / 2, [&calls] { calls.fetch_add(1); });
    std::vector<std::thread> reactors;
    for (unsigned t = 0; t < threads; ++t) {
        reactors.emplace_back([&limit, t] {
            for (uint64_t i = 0; i < each; i += 1 + t) { // batches of different sizes
                limit.add(1 + t);
            }
        });
    }
    for (auto& t : reactors) {
        t.join();
    }
    EXPECT_EQ(calls.load(), 1);
    EXPECT_TRUE(limit.reached());
}

} // namespace
} // namespace ringbolt::server
