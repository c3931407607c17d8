// The io_uring backend alone on socketpairs, with a ring of 8 entries: more operations
// queued in one turn than the SQ holds, and a ring that refuses submissions (a submit
// from a thread other than the SINGLE_ISSUER owner gets EEXIST), where operations must
// wait in order for the next wait() instead of crashing on a null SQE.
#include "uring/reactor.hpp"
#include "uring/uring_backend.hpp"

#include <gtest/gtest.h>

#include <string>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace ringbolt::uring {
namespace {

constexpr unsigned ring_entries = 8;
constexpr uint32_t pairs = 16; // each with a send and a recv: 32 ops, 4x the SQ

// Records completions per connection slot.
class recorder final : public io_events {
  public:
    explicit recorder(size_t n) : sent(n, -1), received(n), recv_ended(n, false) {}
    void on_accept(int) noexcept override {}
    void on_accept_end(int) noexcept override {}
    void on_recv(uint32_t slot, uint16_t, const char* data, size_t len) noexcept override {
        received[slot].append(data, len);
    }
    void on_recv_end(uint32_t slot, uint16_t, recv_end) noexcept override { recv_ended[slot] = true; }
    void on_send(uint32_t slot, uint16_t, int res) noexcept override { sent[slot] = res; }
    void on_writable(uint32_t, uint16_t, int) noexcept override {}

    std::vector<int> sent;
    std::vector<std::string> received;
    std::vector<bool> recv_ended;
};

class UringBackendTest : public ::testing::Test {
  protected:
    void SetUp() override {
        _wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_GE(_wake_fd, 0);
        server_config cfg;
        cfg.ring_entries = ring_entries;
        cfg.buffer_count = 16;
        cfg.buffer_size = 4096;
        _backend.counters = &_counters;
        result<void> r = _backend.setup(cfg, _wake_fd);
        if (!r.ok()) {
            GTEST_SKIP() << "io_uring unavailable: " << errc_name(r.error());
        }
        for (uint32_t i = 0; i < pairs; ++i) {
            int sv[2];
            ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
            _ours.push_back(sv[0]);
            _peers.push_back(sv[1]);
            _messages.push_back("message " + std::to_string(i));
        }
    }

    void TearDown() override {
        for (int fd : _ours) {
            ::shutdown(fd, SHUT_RDWR); // ends the multishot recvs before the ring goes
        }
        recorder sink(pairs);
        for (int turn = 0; turn < 50 && !all_ended(sink); ++turn) {
            _backend.wait(10, sink);
        }
        for (int fd : _ours) {
            ::close(fd);
        }
        for (int fd : _peers) {
            ::close(fd);
        }
        if (_wake_fd >= 0) {
            ::close(_wake_fd);
        }
    }

    bool all_ended(const recorder& sink) const {
        for (uint32_t i = 0; i < _ours.size(); ++i) {
            if (!sink.recv_ended[i]) {
                return false;
            }
        }
        return true;
    }

    /// Turn the loop until every send completed and every peer's reply was received.
    void run_until_done(recorder& sink) {
        std::vector<bool> replied(pairs, false);
        for (int turn = 0; turn < 200; ++turn) {
            ASSERT_TRUE(_backend.wait(10, sink));
            bool done = true;
            for (uint32_t i = 0; i < pairs; ++i) {
                if (sink.sent[i] >= 0 && !replied[i]) {
                    // Our send arrived: answer, so that the recv armed alongside completes.
                    std::string got(_messages[i].size(), '\0');
                    ASSERT_EQ(::recv(_peers[i], got.data(), got.size(), MSG_WAITALL), static_cast<ssize_t>(got.size()));
                    EXPECT_EQ(got, _messages[i]);
                    std::string reply = "re: " + got;
                    ASSERT_EQ(::send(_peers[i], reply.data(), reply.size(), 0), static_cast<ssize_t>(reply.size()));
                    replied[i] = true;
                }
                done = done && replied[i] && sink.received[i] == "re: " + _messages[i];
            }
            if (done) {
                break;
            }
        }
        for (uint32_t i = 0; i < pairs; ++i) {
            EXPECT_EQ(sink.sent[i], static_cast<int>(_messages[i].size())) << "pair " << i;
            EXPECT_EQ(sink.received[i], "re: " + _messages[i]) << "pair " << i;
        }
        EXPECT_EQ(_backend.unsubmitted(), 0u);
    }

    /// A recv and a send on every pair, all in one turn.
    void queue_ops() {
        for (uint32_t i = 0; i < pairs; ++i) {
            _backend.arm_recv(_ours[i], i, 0);
            _iov[i] = {_messages[i].data(), _messages[i].size()};
            _msg[i] = msghdr{};
            _msg[i].msg_iov = &_iov[i];
            _msg[i].msg_iovlen = 1;
            _backend.send(_ours[i], i, 0, &_msg[i]);
        }
    }

    uring_backend _backend;
    iovec _iov[pairs];
    msghdr _msg[pairs];
    core_counters _counters;
    int _wake_fd = -1;
    std::vector<int> _ours;
    std::vector<int> _peers;
    std::vector<std::string> _messages;
};

TEST_F(UringBackendTest, MoreOpsThanTheRingHoldsInOneTurn) {
    queue_ops();
    EXPECT_EQ(_backend.unsubmitted(), 0u) << "the ring took them by submitting early";
    recorder sink(pairs);
    run_until_done(sink);
}

TEST_F(UringBackendTest, RefusedSubmitKeepsOpsInOrderForTheNextWait) {
    // From another thread the kernel refuses every submit (SINGLE_ISSUER): the SQ cannot
    // drain, so get_sqe finds no room even after submitting.
    std::thread other([this] { queue_ops(); });
    other.join();
    if (_backend.unsubmitted() == 0) {
        GTEST_SKIP() << "the ring is not SINGLE_ISSUER here: the other thread's submit went through";
    }
    EXPECT_EQ(_backend.unsubmitted(), 2 * pairs - (ring_entries - 1)) << "what did not fit (the wake read holds one)";
    recorder sink(pairs);
    run_until_done(sink);
}

} // namespace
} // namespace ringbolt::uring
