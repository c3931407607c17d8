// core/small_blocks: a released block is the next one of its class, with its contents
// kept where the caller asked (resize) and zeroed where asked (zeroed); the pool keeps a
// bounded number and frees them when it ends (clean under valgrind and the sanitizers).
#include "core/small_blocks.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using ringbolt::core::block_pool;

bool aligned16(void* p) {
    return (reinterpret_cast<uintptr_t>(p) & 15) == 0;
}

TEST(BlockPool, AReleasedBlockIsTheNextOfItsClass) {
    block_pool pool;
    for (size_t n : {size_t{1}, size_t{32}, size_t{33}, size_t{200}, size_t{4096}}) {
        void* a = pool.alloc(n);
        ASSERT_NE(a, nullptr);
        EXPECT_TRUE(aligned16(a));
        std::memset(a, 0xab, n); // all of it is the caller's
        pool.release(a);
        void* b = pool.alloc(n);
        if (block_pool::pooled) {
            EXPECT_EQ(a, b) << n; // the same memory back, no malloc
        }
        pool.release(b);
    }
}

TEST(BlockPool, LargeBlocksZeroedAndResized) {
    block_pool pool;
    void* big = pool.alloc(100000); // past the classes: malloc's
    ASSERT_NE(big, nullptr);
    EXPECT_TRUE(aligned16(big));
    pool.release(big);
    auto* z = static_cast<unsigned char*>(pool.zeroed(10, 7));
    ASSERT_NE(z, nullptr);
    for (int i = 0; i < 70; ++i) {
        EXPECT_EQ(z[i], 0);
    }
    EXPECT_EQ(pool.zeroed(SIZE_MAX / 2, 3), nullptr); // overflow: refused, as calloc
    std::memcpy(z, "0123456789", 10);
    z = static_cast<unsigned char*>(pool.resize(z, 20)); // its class (128) holds it
    EXPECT_EQ(std::memcmp(z, "0123456789", 10), 0);
    z = static_cast<unsigned char*>(pool.resize(z, 5000)); // to a large block, contents moved
    ASSERT_NE(z, nullptr);
    EXPECT_EQ(std::memcmp(z, "0123456789", 10), 0);
    z = static_cast<unsigned char*>(pool.resize(z, 9000));
    EXPECT_EQ(std::memcmp(z, "0123456789", 10), 0);
    pool.release(z);
    pool.release(nullptr);
    void* fresh = pool.resize(nullptr, 40);
    ASSERT_NE(fresh, nullptr);
    pool.release(fresh);
}

TEST(BlockPool, KeepsABoundedNumberAndFreesThemAtItsEnd) {
    block_pool pool;
    std::vector<void*> blocks;
    for (int i = 0; i < 10000; ++i) {
        blocks.push_back(pool.alloc(64));
    }
    for (void* p : blocks) {
        pool.release(p);
    }
    EXPECT_EQ(pool.kept(), block_pool::pooled ? block_pool::kept_bytes_per_class / 64 : 0u); // the rest freed
    pool.clear(); // before memory goes back to the system
    EXPECT_EQ(pool.kept(), 0u);
    void* again = pool.alloc(64); // (from malloc now) and kept again when given back
    pool.release(again);
    EXPECT_EQ(pool.kept(), block_pool::pooled ? 1u : 0u);
} // the kept ones are freed with the pool (valgrind and LSan see no leak)

} // namespace
