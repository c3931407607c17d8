// kept_stack: values kept in place (the same memory comes back, last given first taken),
// the bound, clear (later gives kept again) against release (nothing kept from then on),
// every value freed exactly once, and the thread-exit release of a thread_local stack.
#include "core/kept_stack.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace ringbolt {
namespace {

static_assert(std::is_trivially_destructible_v<core::kept_stack<std::string, 4>>);

std::string buffer_of(size_t capacity) {
    std::string s;
    s.reserve(capacity);
    s.assign(capacity / 2, 'x');
    return s;
}

TEST(KeptStack, GivesBackTheSameMemoryLastGivenFirst) {
    core::kept_stack<std::string, 4> stack;
    std::string a = buffer_of(1000);
    std::string b = buffer_of(2000);
    const char* a_data = a.data();
    const char* b_data = b.data();
    ASSERT_TRUE(stack.give(a));
    ASSERT_TRUE(stack.give(b));
    EXPECT_EQ(a.capacity(), std::string().capacity()); // moved in: nothing left behind
    EXPECT_EQ(stack.size(), 2u);

    std::string first;
    std::string second;
    ASSERT_TRUE(stack.take(first));
    ASSERT_TRUE(stack.take(second));
    EXPECT_EQ(first.data(), b_data); // last given, first taken
    EXPECT_EQ(second.data(), a_data);
    EXPECT_EQ(first.size(), 1000u); // the value as given (clearing is the giver's choice)
    std::string none = "unchanged";
    EXPECT_FALSE(stack.take(none));
    EXPECT_EQ(none, "unchanged");
}

TEST(KeptStack, RefusesOverTheBoundAndLeavesTheValue) {
    core::kept_stack<std::vector<int>, 2> stack;
    std::vector<std::vector<int>> values(3, std::vector<int>(100, 7));
    EXPECT_TRUE(stack.give(values[0]));
    EXPECT_TRUE(stack.give(values[1]));
    EXPECT_FALSE(stack.give(values[2]));
    EXPECT_EQ(values[2].size(), 100u); // refused: still the caller's
    EXPECT_EQ(stack.size(), 2u);
    stack.release(); // trivially destructible: what it keeps is its owner's to let go
}

TEST(KeptStack, ClearFreesAndKeepsAgainReleaseKeepsNothingMore) {
    int freed = 0;
    int items[3] = {};
    core::kept_stack<int*, 8> stack;
    for (int* p : {&items[0], &items[1]}) {
        int* given = p;
        ASSERT_TRUE(stack.give(given));
    }
    stack.clear([&](int*& p) {
        EXPECT_TRUE(p == &items[0] || p == &items[1]);
        ++freed;
    });
    EXPECT_EQ(freed, 2);
    EXPECT_EQ(stack.size(), 0u);
    int* again = &items[2];
    EXPECT_TRUE(stack.give(again)); // cleared, not released: kept again

    stack.release([&](int*& p) {
        EXPECT_EQ(p, &items[2]);
        ++freed;
    });
    EXPECT_EQ(freed, 3);
    int* late = &items[0];
    EXPECT_FALSE(stack.give(late)); // released: the caller frees what comes later
    int* taken = nullptr;
    EXPECT_FALSE(stack.take(taken));
    EXPECT_EQ(taken, nullptr);
}

// The pattern of the runtime's per-thread stacks: constant-initialized, armed by the first
// give, released by at_thread_exit when the thread ends.
struct thread_stack {
    core::kept_stack<std::string, 4> kept;
    bool armed = false;
};
constinit thread_local thread_stack t_stack;
size_t g_released_with = 0;
bool g_give_after_release = true;

void release_at_exit() noexcept {
    g_released_with = t_stack.kept.size();
    t_stack.kept.release();
    std::string late = buffer_of(100);
    g_give_after_release = t_stack.kept.give(late);
}

TEST(KeptStack, AThreadsStackIsReleasedWhenTheThreadEnds) {
    std::thread worker([] {
        for (int i = 0; i < 3; ++i) {
            std::string s = buffer_of(500);
            ASSERT_TRUE(t_stack.kept.give(s));
            if (!t_stack.armed) {
                t_stack.armed = true;
                core::at_thread_exit<release_at_exit>();
            }
        }
    });
    worker.join();
    EXPECT_EQ(g_released_with, 3u); // the exit ran with the three kept, and freed them
    EXPECT_FALSE(g_give_after_release);
    EXPECT_EQ(t_stack.kept.size(), 0u); // this thread's own stack is another
}

} // namespace
} // namespace ringbolt
