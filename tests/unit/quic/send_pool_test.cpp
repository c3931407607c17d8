// The QUIC endpoint on an io backend's datagram socket, as a reactor will drive it: the
// fake backend delivers a client's datagrams to the endpoint (io_events::on_datagram),
// the endpoint's output goes out through quic::send_pool as GSO send batches, and the
// batches come back to the pool when the backend reports them sent.
#include "quic/send_pool.hpp"
#include "tests/unit/quic/quic_pair.hpp"
#include "uring/fake_backend.hpp"

#include <gtest/gtest.h>

namespace ringbolt::quic::testing {
namespace {

struct quic_events final : uring::io_events {
    endpoint* ep = nullptr;
    send_pool* pool = nullptr;
    uint64_t now = 0;
    void on_accept(int) noexcept override {}
    void on_accept_end(int) noexcept override {}
    void on_recv(uint32_t, uint16_t, const char*, size_t) noexcept override {}
    void on_recv_end(uint32_t, uint16_t, uring::recv_end) noexcept override {}
    void on_send(uint32_t, uint16_t, int) noexcept override {}
    void on_writable(uint32_t, uint16_t, int) noexcept override {}
    void on_datagram(uint32_t, const uring::datagram& d) noexcept override { ep->on_datagram(d, now); }
    void on_datagrams_sent(uint32_t, uring::datagram_send& b) noexcept override { pool->on_sent(b); }
};

class QuicOnFakeBackend : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(_io.setup_datagrams(uring::datagram_buffers{}).ok());
        uring::datagram_socket sock;
        sock.fd = 100;
        sock.family = AF_INET;
        sock.port = 4433;
        sock.gso = true;
        _io.arm_datagram(0, sock);
        _ep = std::make_unique<endpoint>(
            endpoint_config{}, pair_fixture::creds(),
            [](const uring::datagram_address&) { return std::make_unique<echo_user>(); }, _pool);
        _events.ep = _ep.get();
        _events.pool = &_pool;
        _events.now = 1'000'000'000;
    }

    /// One reactor turn: the client's datagrams in, the endpoint's out, to the client.
    size_t turn(client& c) {
        size_t moved = 0;
        for (const std::string& d : c.write(_events.now)) {
            _io.inject(0, c.addr, _server, d);
            ++moved;
        }
        _io.wait(0, _events);
        _ep->flush(_events.now);
        for (const uring::fake_backend::sent_datagram& d : _io.sent) {
            c.read(d.payload, _events.now);
            gso_segments += d.segment_size != 0 ? 1 : 0;
            ++moved;
        }
        _io.sent.clear();
        return moved;
    }

    bool run(client& c, const std::function<bool()>& done) {
        for (int i = 0; i < 100000 && !done(); ++i) {
            c.retry_blocked();
            if (turn(c) > 0) {
                _events.now += 1'000'000;
                continue;
            }
            uint64_t t = std::min(_ep->next_expiry(), c.expiry());
            if (t == UINT64_MAX) {
                break;
            }
            _events.now = std::max(_events.now + 1, t);
            _ep->on_timer(_events.now);
            c.on_expiry(_events.now);
        }
        return done();
    }

    uring::datagram_address _server = v4("127.0.0.1", 4433);
    uring::fake_backend _io;
    send_pool _pool{_io, 0};
    quic_events _events;
    std::unique_ptr<endpoint> _ep;
    size_t gso_segments = 0;
};

TEST_F(QuicOnFakeBackend, EchoesThroughSendBatchesWithGso) {
    client c(v4("127.0.0.1", 40000), _server, _events.now);
    ASSERT_TRUE(run(c, [&] { return c.handshake_done; }));
    std::string body(256 * 1024, '\0');
    for (size_t i = 0; i < body.size(); ++i) {
        body[i] = static_cast<char>(i * 131 + 7);
    }
    int64_t id = c.open_bidi();
    c.send(id, body, true);
    ASSERT_TRUE(run(c, [&] { return c.streams[id].in_fin; }));
    EXPECT_TRUE(c.streams[id].in == body);
    // Bursts of full packets went out as GSO runs, and every batch came back to the pool.
    EXPECT_GT(gso_segments, 0u);
    EXPECT_GT(_io.dgram_stats.gso_messages, 0u);
    _io.wait(0, _events);
    EXPECT_EQ(_pool.inflight(), 0u);
    EXPECT_EQ(_pool.dropped(), 0u);
}

TEST_F(QuicOnFakeBackend, FailedSendsAreCountedAndRecovered) {
    client c(v4("127.0.0.1", 40000), _server, _events.now);
    ASSERT_TRUE(run(c, [&] { return c.handshake_done; }));
    int64_t id = c.open_bidi();
    c.send(id, std::string(64 * 1024, 'r'), true);
    _io.fail_sends(-ENOBUFS, 3); // the kernel refuses three messages: QUIC sends them again
    ASSERT_TRUE(run(c, [&] { return c.streams[id].in_fin; }));
    EXPECT_EQ(c.streams[id].in, std::string(64 * 1024, 'r'));
    EXPECT_GT(_pool.send_errors(), 0u);
}

} // namespace
} // namespace ringbolt::quic::testing
