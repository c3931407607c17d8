// The start-up probe (uring/ring.cpp) on this machine's kernel: its self-tests of a
// multishot recv into a buffer ring, without and with a byte limit, find what the kernel
// has, and the tier line for the start-up log names exactly that.
#include "uring/ring.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <sys/utsname.h>

namespace ringbolt::uring {
namespace {

bool kernel_at_least(int major, int minor) {
    utsname u;
    int ma = 0;
    int mi = 0;
    if (uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) {
        return false;
    }
    return ma > major || (ma == major && mi >= minor);
}

TEST(RingProbe, TheRecvSelfTestsFindWhatThisKernelHas) {
    for (bool shared : {false, true}) {
        core::result<ring_features> probe = uring::probe_io_uring(shared);
        ASSERT_TRUE(probe.ok()) << "shared " << shared << ": " << describe_setup_failure(probe.sys_errno());
        const ring_features& f = probe.value();
        EXPECT_TRUE(f.multishot_recv) << "multishot recv into a buffer ring: kernel 6.0+";
        EXPECT_EQ(f.recv_limit, kernel_at_least(6, 17)) << "a multishot recv's byte limit: kernel 6.17+";
        std::string tail = f.recv_limit ? ", multishot accept+recv, buffer ring, recv byte limit)"
                                        : ", multishot accept+recv, buffer ring)";
        ASSERT_GE(f.tier.size(), tail.size());
        EXPECT_EQ(f.tier.substr(f.tier.size() - tail.size()), tail) << f.tier;
    }
}

} // namespace
} // namespace ringbolt::uring
