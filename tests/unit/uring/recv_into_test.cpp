// arm_recv_into on both kernel backends, over a loopback TCP pair: a body's bytes land in
// the caller's room in pieces larger than the buffer ring's (no copy through it), each
// receive ends once (on_recv_into, or on_recv_end at EOF, a reset or a cancel), and a
// receive armed again at once goes on where the last one stopped.
#include "tests/unit/uring/tcp_pair.hpp"
#include "uring/epoll_backend.hpp"
#include "uring/uring_backend.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <string>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace ringbolt::uring {
namespace {

constexpr size_t room_size = 64 * 1024;
constexpr size_t ring_buffer_size = 4096;

// Takes each receive's bytes out of the room and arms the next receive at once, as the
// reactor does while a body streams.
class body_reader final : public io_events {
  public:
    body_reader(io_backend& b, int fd) : room(room_size), _backend(b), _fd(fd) {}
    void on_accept(int) noexcept override {}
    void on_accept_end(int) noexcept override {}
    void on_recv(uint32_t, uint16_t, const char* data, size_t len) noexcept override { ring_bytes.append(data, len); }
    void on_recv_into(uint32_t slot, uint16_t gen, size_t len) noexcept override {
        received.append(room.data(), len);
        largest = std::max(largest, len);
        ++pieces;
        armed = false;
        if (keep_reading) {
            arm(slot, gen);
        }
    }
    void on_recv_end(uint32_t, uint16_t, recv_end how) noexcept override {
        end = how;
        armed = false;
    }
    void on_send(uint32_t, uint16_t, int) noexcept override {}
    void on_writable(uint32_t, uint16_t, int) noexcept override {}

    void arm(uint32_t slot = 0, uint16_t gen = 1) {
        ASSERT_FALSE(armed) << "one receive at a time";
        ASSERT_TRUE(_backend.arm_recv_into(_fd, slot, gen, {room.data(), room.size()}));
        armed = true;
    }

    std::string received;
    std::string ring_bytes; ///< bytes that came through on_recv: must stay empty
    size_t largest = 0;
    size_t pieces = 0;
    bool armed = false;
    bool keep_reading = true;
    std::optional<recv_end> end;
    std::vector<char> room;

  private:
    io_backend& _backend;
    int _fd;
};

class RecvIntoTest : public ::testing::TestWithParam<const char*> {
  protected:
    void SetUp() override {
        _wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_GE(_wake_fd, 0);
        if (std::string(GetParam()) == "io_uring") {
            _backend = std::make_unique<uring_backend>();
        } else {
            _backend = std::make_unique<epoll_backend>();
        }
        _backend->counters = &_counters;
        backend_config cfg;
        cfg.ring_entries = 64;
        cfg.buffer_count = 16;
        cfg.buffer_size = ring_buffer_size;
        core::result<void> r = _backend->setup(cfg, _wake_fd);
        if (!r.ok()) {
            GTEST_SKIP() << GetParam() << " unavailable: " << core::errc_name(r.error());
        }
        ASSERT_TRUE(_backend->can_recv_into());
        testing::make_tcp_pair(_ours, _peer, io_backend::accepted_socket_flags);
    }
    void TearDown() override {
        if (_peer >= 0) {
            ::close(_peer);
        }
        if (_ours >= 0) {
            ::shutdown(_ours, SHUT_RDWR);
            body_reader sink(*_backend, _ours);
            sink.keep_reading = false;
            for (int turn = 0; turn < 20; ++turn) {
                _backend->wait(5, sink); // the ring lets go of the receive before the fd closes
            }
            _backend->forget(_ours);
            ::close(_ours);
        }
        _backend.reset();
        if (_wake_fd >= 0) {
            ::close(_wake_fd);
        }
    }
    /// Turn until `done` holds (at most ~5 s).
    template <typename F> void turn_until(body_reader& sink, F done) {
        for (int turn = 0; turn < 1000 && !done(); ++turn) {
            ASSERT_TRUE(_backend->wait(5, sink));
        }
    }

    std::unique_ptr<io_backend> _backend;
    core::core_counters _counters;
    int _wake_fd = -1;
    int _peer = -1;
    int _ours = -1;
};

TEST_P(RecvIntoTest, ABodyArrivesWholeInPiecesLargerThanTheRingBuffers) {
    std::string body(3 * 1024 * 1024 + 17, '\0');
    for (size_t i = 0; i < body.size(); ++i) {
        body[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
    }
    body_reader sink(*_backend, _ours);
    sink.arm();
    std::thread sender([&] {
        size_t pos = 0;
        while (pos < body.size()) {
            ssize_t n = ::send(_peer, body.data() + pos, std::min<size_t>(body.size() - pos, 100'000), MSG_NOSIGNAL);
            if (n <= 0) {
                return;
            }
            pos += static_cast<size_t>(n);
        }
        ::shutdown(_peer, SHUT_WR);
    });
    turn_until(sink, [&] { return sink.end.has_value(); });
    sender.join();
    ASSERT_TRUE(sink.end.has_value());
    EXPECT_EQ(*sink.end, recv_end::eof);
    EXPECT_TRUE(sink.received == body) << "received " << sink.received.size() << " of " << body.size();
    EXPECT_TRUE(sink.ring_bytes.empty()) << "bytes went through the buffer ring";
    EXPECT_LE(sink.largest, room_size);
    EXPECT_GT(sink.largest, ring_buffer_size) << "no receive was larger than a ring buffer";
    EXPECT_LT(sink.pieces, body.size() / ring_buffer_size) << "as many receives as through the ring";
    std::printf("[ info ] %s: %zu bytes in %zu receives, largest %zu\n", GetParam(), sink.received.size(), sink.pieces,
                sink.largest);
}

TEST_P(RecvIntoTest, ACancelEndsTheReceiveWithoutBytes) {
    body_reader sink(*_backend, _ours);
    sink.arm();
    _backend->wait(5, sink);
    _backend->cancel_recv(_ours, 0, 1);
    turn_until(sink, [&] { return sink.end.has_value(); });
    ASSERT_TRUE(sink.end.has_value());
    EXPECT_EQ(*sink.end, recv_end::cancelled);
    EXPECT_EQ(sink.pieces, 0u);
    // The socket is read again afterwards: nothing was lost to the cancelled receive.
    ASSERT_EQ(::send(_peer, "after", 5, 0), 5);
    sink.end.reset();
    sink.keep_reading = false;
    sink.arm();
    turn_until(sink, [&] { return sink.pieces > 0 || sink.end.has_value(); });
    EXPECT_EQ(sink.received, "after");
}

TEST_P(RecvIntoTest, AResetEndsTheReceiveWithAnError) {
    body_reader sink(*_backend, _ours);
    sink.arm();
    _backend->wait(5, sink);
    linger lg{1, 0};
    ASSERT_EQ(::setsockopt(_peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    ::close(_peer); // RST
    _peer = -1;
    turn_until(sink, [&] { return sink.end.has_value(); });
    ASSERT_TRUE(sink.end.has_value());
    EXPECT_EQ(*sink.end, recv_end::error);
}

TEST_P(RecvIntoTest, NotArmedAgainTheSocketIsNotReadAndNoEventSpins) {
    body_reader sink(*_backend, _ours);
    sink.keep_reading = false; // a paused body: the reactor arms nothing after the receive
    sink.arm();
    ASSERT_EQ(::send(_peer, "first", 5, 0), 5);
    turn_until(sink, [&] { return sink.pieces > 0; });
    ASSERT_EQ(sink.received, "first");
    ASSERT_EQ(::send(_peer, "second", 6, 0), 6);
    uint64_t waits_before = _counters.submit_calls.get();
    auto t0 = std::chrono::steady_clock::now();
    for (int turn = 0; turn < 5; ++turn) {
        _backend->wait(20, sink);
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(sink.received, "first") << "read while not armed";
    EXPECT_TRUE(sink.ring_bytes.empty());
    EXPECT_GE(ms, 80) << "a wait returned at once: readiness of an unarmed socket was still reported";
    EXPECT_EQ(_counters.submit_calls.get() - waits_before, 5u);
    sink.arm();
    turn_until(sink, [&] { return sink.received.size() == 11; });
    EXPECT_EQ(sink.received, "firstsecond");
}

INSTANTIATE_TEST_SUITE_P(Backends, RecvIntoTest, ::testing::Values("io_uring", "epoll"),
                         [](const auto& info) { return std::string(info.param) == "io_uring" ? "uring" : "epoll"; });

} // namespace
} // namespace ringbolt::uring
