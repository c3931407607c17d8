// The kept large answer buffers (core/large_buffers.hpp): a sent large buffer is kept while
// large answers are written and given to the next one (the smallest large enough, its
// memory the same), and small ones and those past the bounds are freed (an idle pool
// freeing what it keeps: tests/py/test_large_answers.py).
#include "core/large_buffers.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringbolt::core {
namespace {

std::string sized(size_t capacity) {
    std::string s;
    s.reserve(capacity);
    s.assign(capacity / 2, 'x');
    return s;
}

void empty_pool() {
    std::string out;
    while (large_buffers::take(out, 0)) {
    }
}

TEST(LargeBuffers, ASentBufferServesTheNextLargeAnswer) {
    empty_pool();
    std::string none;
    EXPECT_FALSE(large_buffers::take(none, 1 << 20)); // also says large answers are written
    std::string sent = sized(2 << 20);
    const char* memory = sent.data();
    large_buffers::give(std::move(sent));
    EXPECT_EQ(large_buffers::kept_count(), 1u);
    std::string next;
    ASSERT_TRUE(large_buffers::take(next, 1 << 20));
    EXPECT_EQ(next.data(), memory) << "not the kept memory";
    EXPECT_GE(next.capacity(), size_t{2} << 20);
    EXPECT_EQ(large_buffers::kept_count(), 0u);
}

TEST(LargeBuffers, TheSmallestLargeEnoughIsTakenElseTheLargest) {
    empty_pool();
    std::string probe;
    large_buffers::take(probe, 0);
    for (size_t mib : {4, 1, 2}) {
        large_buffers::give(sized(mib << 20));
    }
    std::string got;
    ASSERT_TRUE(large_buffers::take(got, (1 << 20) + 1));
    EXPECT_GE(got.capacity(), size_t{2} << 20);
    EXPECT_LT(got.capacity(), size_t{4} << 20);
    ASSERT_TRUE(large_buffers::take(got, size_t{64} << 20));
    EXPECT_GE(got.capacity(), size_t{4} << 20) << "none large enough: the largest";
    empty_pool();
}

TEST(LargeBuffers, SmallBuffersAndThosePastTheBoundsAreFreed) {
    empty_pool();
    std::string probe;
    large_buffers::take(probe, 0);
    large_buffers::give(sized(large_buffers::min_capacity / 2));
    EXPECT_EQ(large_buffers::kept_count(), 0u);
    size_t each = large_buffers::max_bytes / 4;
    for (int i = 0; i < 6; ++i) {
        large_buffers::give(sized(each));
    }
    EXPECT_LE(large_buffers::kept_bytes(), large_buffers::max_bytes);
    EXPECT_LE(large_buffers::kept_count(), 4u);
    empty_pool();
}

} // namespace
} // namespace ringbolt::core
