// The start-up probe (uring/ring.cpp) on this machine's kernel: its self-tests of a
// multishot recv into a buffer ring, without and with a byte limit, and of incremental
// buffer consumption find what the kernel has, and the tier line for the start-up log names exactly that.
#include "uring/ring.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringbolt::uring {
namespace {

TEST(RingProbe, TheRecvSelfTestsFindWhatThisKernelHas) {
    for (bool shared : {false, true}) {
        core::result<ring_features> probe = uring::probe_io_uring(shared);
        ASSERT_TRUE(probe.ok()) << "shared " << shared << ": " << describe_setup_failure(probe.sys_errno());
        const ring_features& f = probe.value();
        EXPECT_TRUE(f.multishot_recv) << "multishot recv into a buffer ring: kernel 6.0+";
        EXPECT_EQ(f.recv_limit, kernel_at_least(6, 17)) << "a multishot recv's byte limit: kernel 6.17+";
        EXPECT_EQ(f.incremental_buffers, kernel_at_least(6, 15))
            << "incremental buffers: kernel 6.12+, used from 6.15 ("
            << (f.incremental_why_not ? f.incremental_why_not : "") << ")";
        std::string tail = std::string(", multishot accept+recv, buffer ring") +
                           (f.recv_limit ? ", recv byte limit" : "") +
                           (f.incremental_buffers ? ", incremental buffers)" : ")");
        ASSERT_GE(f.tier.size(), tail.size());
        EXPECT_EQ(f.tier.substr(f.tier.size() - tail.size()), tail) << f.tier;
    }
}

} // namespace
} // namespace ringbolt::uring
