// The io_uring backend's receive ring (uring/recv_ring.hpp) on socketpairs, with each
// layout this kernel can run (whole 4 KiB buffers; 32 KiB buffers consumed incrementally):
// every byte arrives in order while the ring grows from its few buffers; under a steady
// load of 64 connections the memory it keeps stays within its budget (docs/deployment.md,
// "Memory"); a quiet ring is replaced by a small one and its pages go back to the system,
// and the recvs still armed on it carry on, on the new one; under a load that fell, one
// twice the largest run replaces it.
#include "tests/unit/uring/io_recorder.hpp"
#include "tests/unit/uring/socket_pairs.hpp"
#include "uring/ring.hpp"
#include "uring/uring_backend.hpp"

#include <gtest/gtest.h>

#include <string>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace ringbolt::uring {
namespace {

/// What a reactor keeps at most in receive buffers at 64 busy connections (the budget
/// docs/deployment.md states): 512 KiB, 128 whole buffers or 16 incremental ones.
constexpr uint64_t steady_budget = 512 * 1024;

class RecvRingTest : public ::testing::TestWithParam<bool> {
  protected:
    /// `shared`: the ring a hosted event loop's reactor has (COOP_TASKRUN: the kernel runs a
    /// recv's task work at any system call's return, so a burst is taken as it comes,
    /// with no publish in between, as on a reactor whose thread runs Python).
    void start(unsigned buffer_count, size_t connections, bool shared = false) {
        if (GetParam() && !incremental_available()) {
            GTEST_SKIP() << "this kernel's buffers are not consumed incrementally";
        }
        _wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_GE(_wake_fd, 0);
        backend_config cfg;
        cfg.buffer_count = buffer_count;
        cfg.buffer_size = 4096;
        cfg.incremental_buffers = GetParam();
        cfg.shared_ring = shared;
        _backend.counters = &_counters;
        core::result<void> r = _backend.setup(cfg, _wake_fd);
        if (!r.ok()) {
            GTEST_SKIP() << "io_uring unavailable: " << core::errc_name(r.error());
        }
        ASSERT_EQ(_backend.receive_plan().incremental, GetParam());
        for (size_t i = 0; i < connections; ++i) {
            ASSERT_TRUE(_pairs.add(SOCK_NONBLOCK));
            _backend.arm_recv(_pairs.ours[i], static_cast<uint32_t>(i), 0);
        }
        _sink = std::make_unique<io_recorder>(connections);
        _sent.resize(connections);
    }

    static bool incremental_available() {
        core::result<ring_features> f = probe_io_uring();
        return f.ok() && f.value().incremental_buffers;
    }

    void TearDown() override {
        if (_sink) {
            _pairs.shutdown_ours();
            for (int turn = 0; turn < 100; ++turn) {
                _backend.wait(5, *_sink);
            }
        }
        _pairs.close_all();
        if (_wake_fd >= 0) {
            ::close(_wake_fd);
        }
    }

    /// Every peer writes one message of `size` bytes (its index and round in it).
    void send_round(int round, size_t size) {
        for (size_t i = 0; i < _pairs.peers.size(); ++i) {
            std::string m = "[" + std::to_string(i) + ":" + std::to_string(round) + "]";
            m.resize(size, static_cast<char>('a' + (i + round) % 26));
            ASSERT_EQ(::write(_pairs.peers[i], m.data(), m.size()), static_cast<ssize_t>(m.size()));
            _sent[i] += m;
        }
    }

    /// Turn until every byte sent arrived; recvs that ended are armed again (a reactor
    /// reads the socket first: the next recv reads it here).
    void turn_until_received() {
        for (int turn = 0; turn < 2000; ++turn) {
            ASSERT_TRUE(_backend.wait(10, *_sink));
            for (size_t i = 0; i < _pairs.ours.size(); ++i) {
                if (_sink->recv_ended[i]) {
                    ASSERT_EQ(_sink->last_end, recv_end::rearm) << "connection " << i;
                    _sink->recv_ended[i] = false;
                    _backend.arm_recv(_pairs.ours[i], static_cast<uint32_t>(i), 0);
                }
            }
            if (_sink->received == _sent) {
                return;
            }
        }
        for (size_t i = 0; i < _pairs.ours.size(); ++i) {
            ASSERT_EQ(_sink->received[i].size(), _sent[i].size()) << "connection " << i;
            ASSERT_EQ(_sink->received[i], _sent[i]) << "connection " << i;
        }
    }

    uring_backend _backend;
    core::core_counters _counters;
    int _wake_fd = -1;
    testing::socket_pairs _pairs;
    std::vector<std::string> _sent;
    std::unique_ptr<io_recorder> _sink;
};

// 300 connections' bytes at once on a ring that starts with far fewer buffers: the ring
// runs dry, grows, and every byte arrives, in order, on its own connection.
TEST_P(RecvRingTest, GrowsWhenDryAndDeliversEveryByteInOrder) {
    start(4096, 300);
    if (IsSkipped() || HasFatalFailure()) {
        return;
    }
    recv_ring_stats before = _backend.receive_buffers();
    for (int round = 0; round < 6; ++round) {
        send_round(round, GetParam() ? 1500 : 700); // more bytes than the first offer holds
        turn_until_received();
        if (HasFatalFailure()) {
            return;
        }
    }
    recv_ring_stats after = _backend.receive_buffers();
    EXPECT_GT(_counters.enobufs.get(), 0u) << "the first offer never ran dry: the growth did not run";
    EXPECT_GT(after.grows, before.grows);
    EXPECT_GT(after.offered, before.offered);
}

// The memory a reactor keeps for receiving under a steady load of 64 connections, each
// sending a small request at a time, stays within the budget: the ring offers what a
// turn takes, not a buffer for every connection that could have bytes.
TEST_P(RecvRingTest, SteadyLoadStaysWithinItsBudget) {
    start(4096, 64);
    if (IsSkipped() || HasFatalFailure()) {
        return;
    }
    for (int round = 0; round < 400; ++round) {
        send_round(round, 120 + round % 200); // request heads of 120-319 bytes
        turn_until_received();
        if (HasFatalFailure()) {
            return;
        }
    }
    recv_ring_stats st = _backend.receive_buffers();
    std::printf("[ info ] %s: offered %u buffers of %u bytes, %u touched, %llu bytes resident, %llu dry recvs\n",
                GetParam() ? "incremental" : "whole buffers", st.offered, st.buffer_size, st.touched,
                static_cast<unsigned long long>(st.resident), static_cast<unsigned long long>(_counters.enobufs.get()));
    EXPECT_LE(st.resident, steady_budget);
    EXPECT_LE(uint64_t{st.touched} * st.buffer_size, steady_budget);
}

// After a burst grew it, a ring that goes quiet is replaced by one of its first size and
// the burst's pages go back; the recvs still armed on the old ring end at their next
// bytes (ENOBUFS, not counted as a dry ring) and carry on on the new one, losing nothing.
TEST_P(RecvRingTest, AQuietRingShrinksAndItsPagesGoBack) {
    start(4096, 600);
    if (IsSkipped() || HasFatalFailure()) {
        return;
    }
    send_round(0, GetParam() ? 3000 : 1000);
    turn_until_received();
    if (HasFatalFailure()) {
        return;
    }
    recv_ring_stats grown = _backend.receive_buffers();
    ASSERT_GT(grown.grows, 0u);
    uint64_t dry = _counters.enobufs.get();
    for (uint32_t s = 0; s < recv_ring_quiet_seconds; ++s) {
        _backend.on_second();
    }
    ASSERT_TRUE(_backend.wait(0, *_sink)); // the completion queue is empty: the old ring's pages go
    recv_ring_stats shrunk = _backend.receive_buffers();
    EXPECT_EQ(shrunk.shrinks, grown.shrinks + 1);
    EXPECT_EQ(shrunk.retiring, 0u);
    EXPECT_LT(shrunk.offered, grown.offered);
    EXPECT_LT(shrunk.resident, grown.resident / 4) << "grown " << grown.resident << ", after " << shrunk.resident;
    std::printf("[ info ] %s: %llu bytes resident after the burst, %llu once quiet\n",
                GetParam() ? "incremental" : "whole buffers", static_cast<unsigned long long>(grown.resident),
                static_cast<unsigned long long>(shrunk.resident));
    send_round(1, 200);
    turn_until_received();
    if (HasFatalFailure()) {
        return;
    }
    EXPECT_EQ(_counters.enobufs.get(), dry) << "recvs armed on the replaced ring counted as a dry ring";
}

// On a hosted reactor's ring, bursts of 600 connections grow the ring (once a run: a
// burst's dry recvs come over several turns); when the load falls to 64 connections' small
// requests, no turn takes a quarter of what it offers, and after the quiet seconds it is
// replaced by one half as large again as the largest turn (halving at most each time), its
// pages then back within the budget.
TEST_P(RecvRingTest, AFallingLoadShrinksTheRingToWhatATurnTakes) {
    start(4096, 600, true);
    if (IsSkipped() || HasFatalFailure()) {
        return;
    }
    for (int round = 0; round < 4; ++round) {
        send_round(round, GetParam() ? 3000 : 1000);
        turn_until_received();
        if (HasFatalFailure()) {
            return;
        }
    }
    recv_ring_stats grown = _backend.receive_buffers();
    ASSERT_GE(grown.offered, 4 * _backend.receive_plan().min_buffers);
    std::vector<int> all_peers = _pairs.peers;
    _pairs.peers.resize(64);                                     // the others fall silent
    for (uint32_t s = 0; s < 3 * recv_ring_quiet_seconds; ++s) { // (the bursts' last turns count in the first)
        for (int round = 0; round < 20; ++round) {
            send_round(100 + round, 150);
            turn_until_received();
            if (HasFatalFailure()) {
                return;
            }
        }
        _backend.on_second();
    }
    _pairs.peers = all_peers;
    ASSERT_TRUE(_backend.wait(0, *_sink));
    recv_ring_stats shrunk = _backend.receive_buffers();
    std::printf("[ info ] %s: offered %u after the bursts, %u under 64 connections\n",
                GetParam() ? "incremental" : "whole buffers", grown.offered, shrunk.offered);
    EXPECT_GT(shrunk.shrinks, grown.shrinks);
    EXPECT_LT(shrunk.offered, grown.offered);
    EXPECT_LE(uint64_t{shrunk.offered} * shrunk.buffer_size, steady_budget);
    EXPECT_LE(shrunk.resident, steady_budget);
}

INSTANTIATE_TEST_SUITE_P(Layouts, RecvRingTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                             return p.param ? std::string("Incremental") : std::string("WholeBuffers");
                         });

} // namespace
} // namespace ringbolt::uring
