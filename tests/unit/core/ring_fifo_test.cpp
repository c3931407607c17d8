// ring_fifo: order kept across wrap-arounds and growth, every element destroyed exactly
// once (popped, moved while growing, or left at destruction), no allocation once grown.
#include "core/ring_fifo.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>

namespace ringbolt {
namespace {

struct counted {
    static inline int live = 0;
    std::string text;
    std::unique_ptr<int> owned;
    counted(std::string t, int v) : text(std::move(t)), owned(std::make_unique<int>(v)) { ++live; }
    counted(counted&& o) noexcept : text(std::move(o.text)), owned(std::move(o.owned)) { ++live; }
    ~counted() { --live; }
};

TEST(RingFifo, KeepsOrderThroughWrapAndGrowthAgainstADeque) {
    // Pushes and pops interleaved by a fixed pattern, checked against std::deque.
    core::ring_fifo<counted> fifo;
    std::deque<int> model;
    int next = 0;
    for (int round = 0; round < 200; ++round) {
        int pushes = (round * 7) % 23;
        int pops = (round * 5) % 19;
        for (int i = 0; i < pushes; ++i, ++next) {
            fifo.emplace_back("v" + std::to_string(next), next);
            model.push_back(next);
        }
        for (int i = 0; i < pops && !model.empty(); ++i) {
            ASSERT_FALSE(fifo.empty());
            EXPECT_EQ(*fifo.front().owned, model.front());
            EXPECT_EQ(fifo.front().text, "v" + std::to_string(model.front()));
            fifo.pop_front();
            model.pop_front();
        }
        ASSERT_EQ(fifo.size(), model.size());
        ASSERT_EQ(counted::live, static_cast<int>(model.size()));
    }
}

TEST(RingFifo, NoGrowthOnceAtTheHighWaterMark) {
    core::ring_fifo<counted> fifo;
    for (int i = 0; i < 40; ++i) {
        fifo.emplace_back("x", i);
    }
    size_t grown = fifo.capacity();
    EXPECT_GE(grown, 40u);
    for (int i = 0; i < 10000; ++i) {
        fifo.pop_front();
        fifo.emplace_back("y", i); // steady state: one in, one out, the ring wraps
    }
    EXPECT_EQ(fifo.capacity(), grown);
    EXPECT_EQ(fifo.size(), 40u);
}

TEST(RingFifo, DestroysWhatIsLeft) {
    {
        core::ring_fifo<counted> fifo;
        for (int i = 0; i < 37; ++i) {
            fifo.emplace_back("left", i);
        }
        fifo.pop_front();
        EXPECT_EQ(counted::live, 36);
    }
    EXPECT_EQ(counted::live, 0);
}

TEST(RingFifo, MovedOutFrontIsStillDestroyedOnPop) {
    core::ring_fifo<counted> fifo;
    fifo.emplace_back("a", 1);
    counted taken(std::move(fifo.front()));
    EXPECT_EQ(*taken.owned, 1);
    fifo.pop_front();
    EXPECT_TRUE(fifo.empty());
    EXPECT_EQ(counted::live, 1); // `taken` only
}

} // namespace
} // namespace ringbolt
