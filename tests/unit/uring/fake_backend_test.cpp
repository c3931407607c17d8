// The in-memory backend a QUIC fuzz target will run on: injected datagrams reach an armed
// socket (GRO batches included), wait while it is not armed, stop at its end; sends are
// captured datagram by datagram with the wire plan's segment sizes, failures included;
// stream recvs over socketpairs share a ring of set size and run dry.
#include "tests/unit/uring/addresses.hpp"
#include "uring/fake_backend.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace ringbolt::uring {
namespace {

using test::bound_address;
using test::ip_address;
using test::port_of;

struct recorder final : io_events {
    void on_accept(int fd) noexcept override { accepted.push_back(fd); }
    void on_accept_end(int) noexcept override {}
    void on_recv(uint32_t slot, uint16_t, const char* p, size_t n) noexcept override {
        stream_in.emplace_back(slot, std::string(p, n));
    }
    void on_recv_end(uint32_t slot, uint16_t, recv_end how) noexcept override { recv_ends.emplace_back(slot, how); }
    void on_send(uint32_t slot, uint16_t, int res) noexcept override { sends.emplace_back(slot, res); }
    void on_writable(uint32_t, uint16_t, int) noexcept override {}
    void on_datagram(uint32_t id, const datagram& d) noexcept override {
        for_each_segment(d, [&](const char* p, size_t n) {
            received.push_back({id, std::string(p, n), port_of(d.peer), port_of(d.local), d.ecn});
        });
    }
    void on_datagram_end(uint32_t id, int res) noexcept override { ends.emplace_back(id, res); }
    void on_datagrams_sent(uint32_t id, datagram_send& b) noexcept override { completed.push_back({id, &b}); }

    struct got {
        uint32_t id;
        std::string payload;
        uint16_t peer_port;
        uint16_t local_port;
        uint8_t ecn;
        bool operator==(const got&) const = default;
    };
    std::vector<got> received;
    std::vector<std::pair<uint32_t, int>> ends;
    std::vector<std::pair<uint32_t, datagram_send*>> completed;
    std::vector<int> accepted;
    std::vector<std::pair<uint32_t, std::string>> stream_in;
    std::vector<std::pair<uint32_t, recv_end>> recv_ends;
    std::vector<std::pair<uint32_t, int>> sends;
};

class FakeBackend : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(_fake.setup_datagrams(datagram_buffers{4, 4096}).ok());
        _sock.fd = 100;
        _sock.family = AF_INET;
        _sock.port = 443;
        _sock.gso = true;
    }
    fake_backend _fake;
    datagram_socket _sock;
    recorder _events;
};

TEST_F(FakeBackend, InjectedDatagramsReachAnArmedSocketOnly) {
    datagram_address peer = ip_address("192.0.2.1", 5000);
    datagram_address local = ip_address("127.0.0.1", 443);
    _fake.inject(3, peer, local, "early", 0, 2);
    _fake.wait(0, _events);
    EXPECT_TRUE(_events.received.empty()) << "not armed: the datagram waits, as in a socket";
    EXPECT_EQ(_fake.queued(3), 1u);
    _fake.arm_datagram(3, _sock);
    _fake.inject(3, peer, local, std::string(1200, 'g') + std::string(1200, 'h') + "tail", 1200);
    _fake.inject(3, peer, local, std::string(4000, 'x')); // more than 4096 - header_room: dropped
    EXPECT_TRUE(_fake.submit()) << "a turn is due";
    _fake.wait(0, _events);
    std::vector<recorder::got> expected = {
        {3, "early", 5000, 443, 2},
        {3, std::string(1200, 'g'), 5000, 443, 0},
        {3, std::string(1200, 'h'), 5000, 443, 0},
        {3, "tail", 5000, 443, 0},
    };
    EXPECT_EQ(_events.received, expected);
    EXPECT_EQ(_fake.dgram_stats.received, 4u);
    EXPECT_EQ(_fake.dgram_stats.gro_batches, 1u);
    EXPECT_EQ(_fake.dgram_stats.truncated, 1u);
    EXPECT_FALSE(_fake.submit());
}

TEST_F(FakeBackend, AnEndStopsDeliveryUntilArmedAgain) {
    datagram_address peer = ip_address("192.0.2.1", 5000);
    _fake.arm_datagram(0, _sock);
    _fake.cancel_datagram(0);
    _fake.inject(0, peer, {}, "after the cancel");
    _fake.wait(0, _events);
    ASSERT_EQ(_events.ends.size(), 1u);
    EXPECT_EQ(_events.ends[0], std::make_pair(0u, -ECANCELED));
    EXPECT_TRUE(_events.received.empty());
    _fake.arm_datagram(0, _sock);
    _fake.wait(0, _events);
    ASSERT_EQ(_events.received.size(), 1u);
    EXPECT_EQ(_events.received[0].payload, "after the cancel");
    _fake.fail_receive(0, -EBADF);
    _fake.wait(0, _events);
    ASSERT_EQ(_events.ends.size(), 2u);
    EXPECT_EQ(_events.ends[1], std::make_pair(0u, -EBADF));
}

TEST_F(FakeBackend, SendsAreCapturedAsTheWireCarriesThem) {
    _fake.arm_datagram(1, _sock);
    std::vector<std::string> bytes = {std::string(1200, 'a'), std::string(1200, 'b'), std::string(300, 'c'), "d"};
    datagram_send batch;
    batch.peer = ip_address("192.0.2.9", 6000);
    batch.local = ip_address("127.0.0.2", 443);
    batch.ecn = 1;
    for (std::string& b : bytes) {
        batch.payloads.push_back({b.data(), b.size()});
    }
    _fake.send_datagrams(1, batch);
    EXPECT_TRUE(_events.completed.empty()) << "completions come with the next wait";
    _fake.wait(0, _events);
    ASSERT_EQ(_events.completed.size(), 1u);
    EXPECT_EQ(_events.completed[0].first, 1u);
    EXPECT_EQ(_events.completed[0].second, &batch);
    EXPECT_EQ(batch.sent, 4u);
    EXPECT_EQ(batch.error, 0);
    ASSERT_EQ(_fake.sent.size(), 4u);
    const uint16_t segment_sizes[] = {1200, 1200, 1200, 0}; // a GSO run of three, then one alone
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(_fake.sent[i].payload, bytes[i]);
        EXPECT_EQ(_fake.sent[i].segment_size, segment_sizes[i]) << i;
        EXPECT_EQ(port_of(_fake.sent[i].peer), 6000);
        EXPECT_EQ(port_of(_fake.sent[i].local), 443);
        EXPECT_EQ(_fake.sent[i].ecn, 1);
    }
    EXPECT_EQ(_fake.dgram_stats.gso_messages, 1u);
    EXPECT_EQ(_fake.dgram_stats.send_messages, 2u);

    // A failed message: its datagrams are not sent, the batch carries the error.
    _fake.sent.clear();
    _fake.fail_sends(-EMSGSIZE);
    _fake.send_datagrams(1, batch);
    _fake.wait(0, _events);
    ASSERT_EQ(_events.completed.size(), 2u);
    EXPECT_EQ(batch.error, -EMSGSIZE);
    EXPECT_EQ(batch.sent, 1u);
    ASSERT_EQ(_fake.sent.size(), 1u);
    EXPECT_EQ(_fake.sent[0].payload, "d");
}

// Streams over socketpairs, a ring of one buffer: the recv armed first takes it, the
// other runs dry (its bytes stay in the socket); sends reach the peer at once and
// complete at the next wait.
TEST_F(FakeBackend, StreamRecvsShareTheRingAndRunDry) {
    int a[2], b[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
    _fake.stream_buffers = 1;
    _fake.accept_stream(a[0]);
    _fake.wait(0, _events);
    EXPECT_EQ(_events.accepted, std::vector<int>{a[0]});
    _fake.arm_recv(a[0], 0, 0);
    _fake.wait(0, _events);
    _fake.arm_recv(b[0], 1, 0); // armed a wait later
    ASSERT_EQ(::send(b[1], "second", 6, 0), 6);
    ASSERT_EQ(::send(a[1], "first", 5, 0), 5);
    _fake.wait(0, _events);
    ASSERT_EQ(_events.stream_in.size(), 1u);
    EXPECT_EQ(_events.stream_in[0], std::make_pair(0u, std::string("first")));
    ASSERT_EQ(_events.recv_ends.size(), 1u);
    EXPECT_EQ(_events.recv_ends[0], std::make_pair(1u, recv_end::rearm));
    char buf[16];
    EXPECT_EQ(::recv(b[0], buf, sizeof(buf), 0), 6); // still in the socket
    EXPECT_EQ(_fake.recvs_delivered, 1u);
    EXPECT_EQ(_fake.recvs_ran_dry, 1u);

    iovec iov{const_cast<char*>("answer"), 6};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    _fake.send(a[0], 0, 0, &msg, false);
    EXPECT_EQ(::recv(a[1], buf, sizeof(buf), 0), 6);
    EXPECT_TRUE(_events.sends.empty());
    _fake.wait(0, _events);
    EXPECT_EQ(_events.sends, (std::vector<std::pair<uint32_t, int>>{{0u, 6}}));
    for (int fd : {a[0], a[1], b[0], b[1]}) {
        ::close(fd);
    }
}

} // namespace
} // namespace ringbolt::uring
