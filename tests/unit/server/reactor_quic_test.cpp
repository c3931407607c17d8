// A reactor serving HTTP/3 on the fake backend: the in-process ngtcp2 client of the QUIC
// tests (tests/unit/quic/quic_pair.hpp) hands its datagrams to the fake's datagram socket
// and reads what the reactor sent, on the real clock. Requests are HTTP/3 frames written
// by hand (QPACK static-table references and literals only, RFC 9204 §4.5), so nothing
// here shares the server's nghttp3: the answers come from the native route and the test
// application (test_server.hpp) through the reactor's slot table.
#include "server/reactor.hpp"
#include "test_server.hpp"
#include "tests/unit/quic/quic_pair.hpp"
#include "uring/fake_backend.hpp"
#include "uring/listener.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace ringbolt::server {
namespace {

using quic::testing::client;
using quic::testing::v4;

/// A HEADERS frame (RFC 9114 §7.2.2) for GET `path` on authority "t", QPACK without the
/// dynamic table: :method GET (static 17), :scheme https (23), :path as a literal with a
/// static name reference (1), :authority likewise (0).
std::string get_request(const std::string& path) {
    std::string block;
    block += '\x00'; // Required Insert Count 0
    block += '\x00'; // Delta Base 0
    block += static_cast<char>(0xC0 | 17);
    block += static_cast<char>(0xC0 | 23);
    auto literal = [&](uint8_t name_index, const std::string& value) {
        block += static_cast<char>(0x50 | name_index); // literal, static name reference
        block += static_cast<char>(value.size());      // (values shorter than 127 bytes)
        block += value;
    };
    literal(1, path);
    literal(0, "t");
    std::string frame;
    frame += '\x01';
    frame += static_cast<char>(block.size()); // (a one-byte varint: under 64)
    frame += block;
    return frame;
}

struct quic_reactor_fixture {
    std::shared_ptr<dispatch::app_routes> routes = test_support::make_routes();
    test_support::test_app app{false};
    std::atomic<uint32_t> pending{0};
    uring::fake_backend* fake = nullptr;
    server_config cfg = test_support::hosted_on_fake(fake);
    int lfd = -1;
    uint16_t port = 0;
    std::unique_ptr<reactor> r;
    uring::datagram_address server_addr;

    quic_reactor_fixture() {
        cfg.http3.enabled = true;
        cfg.http3.credentials = quic::testing::pair_fixture::creds();
        // The TCP listener takes a free port; HTTP/3 binds UDP on the same number, which
        // another process may hold: take another port then (the reactor closes the listener).
        for (int attempt = 0; attempt < 20 && !r; ++attempt) {
            core::result<std::vector<int>> l = uring::open_listeners("127.0.0.1", 0, 1, 16);
            EXPECT_TRUE(l.ok());
            lfd = l.value().front();
            port = uring::local_port(lfd);
            server_addr = v4("127.0.0.1", port);
            r = std::make_unique<reactor>(0, cfg, *routes, app, lfd, -1, true, &pending, nullptr);
            if (!r->setup().ok()) {
                r.reset();
            }
        }
        EXPECT_TRUE(r != nullptr);
    }

    /// One turn each way: the client's datagrams into the fake socket, a reactor turn, and
    /// what the reactor sent back to the client. False once the reactor has drained.
    bool exchange(client& c) {
        uint64_t now = core::monotonic_ns();
        c.retry_blocked();
        for (const std::string& d : c.write(now)) {
            fake->inject(0, c.addr, server_addr, d);
        }
        bool more = r->hosted_turn() != 0;
        for (const uring::fake_backend::sent_datagram& d : fake->sent) {
            EXPECT_EQ(d.id, 0u);
            c.read(d.payload, core::monotonic_ns());
        }
        fake->sent.clear();
        return more;
    }

    /// Turns until `done` holds (at most ~2 s of real time).
    bool pump(client& c, const std::function<bool()>& done) {
        for (int i = 0; i < 2000; ++i) {
            if (done()) {
                return true;
            }
            if (!exchange(c)) {
                return done();
            }
            if (i > 50) {
                ::usleep(1000); // the client's and the reactor's timers (ACK delay) run on the real clock
            }
        }
        return done();
    }
};

TEST(ReactorQuic, ServesHttp3RequestsThroughTheSlotTable) {
    quic_reactor_fixture f;
    client c(v4("127.0.0.1", 40100), f.server_addr, core::monotonic_ns());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(f.pump(c, [&] { return c.handshake_done; }));

    // A native answer (the dispatcher, same turn) and the application's (the reactor's
    // batch, answered by slot and generation), on two streams of one connection.
    int64_t native = c.open_bidi();
    c.send(native, get_request("/native"), true);
    int64_t app = c.open_bidi();
    c.send(app, get_request("/app/x"), true);
    ASSERT_TRUE(f.pump(c, [&] { return c.streams[native].in_fin && c.streams[app].in_fin; }));
    const std::string& a = c.streams[native].in;
    const std::string& b = c.streams[app].in;
    ASSERT_FALSE(a.empty());
    EXPECT_EQ(a[0], '\x01') << "a HEADERS frame first";
    EXPECT_NE(a.find("native"), std::string::npos);
    EXPECT_NE(b.find("app:/app/x:"), std::string::npos);
    EXPECT_EQ(f.r->counters().connections_accepted.get(), 1u);
}

// An HTTP/3 connection error (here RFC 9114 §6.2.1: a second control stream,
// H3_STREAM_CREATION_ERROR) ends the connection with a CONNECTION_CLOSE carrying its code,
// counted; the client does not wait for its own timeouts (issue 40, finding 4).
TEST(ReactorQuic, AConnectionErrorIsSentAsConnectionClose) {
    quic_reactor_fixture f;
    client c(v4("127.0.0.1", 40102), f.server_addr, core::monotonic_ns());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(f.pump(c, [&] { return c.handshake_done; }));
    int64_t req = c.open_bidi();
    c.send(req, get_request("/native"), true);
    ASSERT_TRUE(f.pump(c, [&] { return c.streams[req].in_fin; }));
    const std::string settings = std::string("\x00\x04\x00", 3); // stream type control, SETTINGS (empty)
    int64_t control = c.open_uni();
    c.send(control, settings, false);
    ASSERT_TRUE(f.pump(c, [&] { return c.streams[control].sent == settings.size(); }));
    EXPECT_FALSE(c.got_close);
    int64_t second = c.open_uni();
    c.send(second, settings, false);
    ASSERT_TRUE(f.pump(c, [&] { return c.got_close; })) << "no CONNECTION_CLOSE";
    ngtcp2_connection_close_error e = c.close_error();
    EXPECT_EQ(e.type, NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION);
    EXPECT_EQ(e.error_code, 0x103u); // H3_STREAM_CREATION_ERROR
    EXPECT_EQ(f.r->counters().h3_connection_errors.get(), 1u);
}

// A NAT rebinding (RFC 9000 §9.3): the client's packets come from a new port, then from a
// new address, mid-connection, its QUIC unaware. The server validates the new path and
// answers there (issue 40, finding 5: it kept sending to the old address, where nothing
// listens, and the client's requests timed out).
TEST(ReactorQuic, AConnectionSurvivesItsClientsAddressChanging) {
    quic_reactor_fixture f;
    client c(v4("127.0.0.1", 40104), f.server_addr, core::monotonic_ns());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(f.pump(c, [&] { return c.handshake_done; }));
    int64_t first = c.open_bidi();
    c.send(first, get_request("/native"), true);
    ASSERT_TRUE(f.pump(c, [&] { return c.streams[first].in_fin; }));
    for (const uring::datagram_address& moved : {v4("127.0.0.1", 40105), v4("127.0.0.2", 40106)}) {
        // What the server sees as the source from now on; the client's QUIC does not know.
        std::vector<uring::datagram_address> sent_to;
        int64_t next = c.open_bidi();
        c.send(next, get_request("/native"), true);
        bool answered = false;
        for (int i = 0; i < 2000 && !answered; ++i) {
            uint64_t now = core::monotonic_ns();
            c.retry_blocked();
            for (const std::string& d : c.write(now)) {
                f.fake->inject(0, moved, f.server_addr, d);
            }
            f.r->hosted_turn();
            for (const uring::fake_backend::sent_datagram& d : f.fake->sent) {
                sent_to.push_back(d.peer);
                if (d.peer.len == moved.len && std::memcmp(&d.peer.addr, &moved.addr, moved.len) == 0) {
                    c.read(d.payload, core::monotonic_ns()); // only what reaches the new address arrives
                }
            }
            f.fake->sent.clear();
            answered = c.streams[next].in_fin;
            if (i > 50) {
                ::usleep(1000);
            }
        }
        EXPECT_TRUE(answered) << "no answer at the new address";
        ASSERT_FALSE(sent_to.empty());
        EXPECT_EQ(std::memcmp(&sent_to.back().addr, &moved.addr, moved.len), 0) << "the last datagram went elsewhere";
    }
    EXPECT_EQ(f.r->counters().connections_accepted.get(), 1u);
}

// A hosted reactor's turn does not wait: it tells the loop when QUIC's next timer falls
// due (8 | ms << 4), and a turn by then runs it. Here the answer goes unacknowledged (the
// client's ACKs are withheld), so the loss timer is due within the loop's tick, and the
// turn at that time sends a probe with nothing received.
TEST(ReactorQuic, HostedTurnSaysWhenTheNextQuicTimerFallsDue) {
    quic_reactor_fixture f;
    client c(v4("127.0.0.1", 40102), f.server_addr, core::monotonic_ns());
    ASSERT_TRUE(f.pump(c, [&] { return c.handshake_done; }));
    int64_t id = c.open_bidi();
    c.send(id, get_request("/native"), true);
    for (const std::string& d : c.write(core::monotonic_ns())) {
        f.fake->inject(0, c.addr, f.server_addr, d);
    }
    int state = f.r->hosted_turn();
    ASSERT_FALSE(f.fake->sent.empty()) << "the answer went out";
    f.fake->sent.clear();             // and never reaches the client: no ACK comes back
    ASSERT_NE(state & 3, 0) << state; // (2 on the fake backend: its sends complete at once)
    // Due within the tick at once, unless the handshake measured a long round trip (a
    // loaded machine under ASan: a loss timer beyond the 250 ms tick); then a later turn,
    // once the timer is that near, says so, and none sends anything before it.
    const uint64_t nearing_until = core::monotonic_ns() + 5'000'000'000;
    while (!(state & 8) && f.fake->sent.empty() && core::monotonic_ns() < nearing_until) {
        ::usleep(1000);
        state = f.r->hosted_turn();
    }
    ASSERT_TRUE(f.fake->sent.empty()) << "a turn sent before saying when the timer falls due";
    ASSERT_TRUE(state & 8) << "a timer within the tick: " << state;
    unsigned ms = static_cast<unsigned>(state) >> 4;
    EXPECT_GT(ms, 0u);
    EXPECT_LT(ms, reactor::hosted_tick_ms);
    // Turns before then find nothing to do; the turn at that time sends the probe.
    bool probed = false;
    uint64_t until = core::monotonic_ns() + uint64_t{ms} * 1'000'000 + 200'000'000;
    while (!probed && core::monotonic_ns() < until) {
        state = f.r->hosted_turn();
        probed = !f.fake->sent.empty();
        if (!probed && (state & 8)) {
            ::usleep((static_cast<unsigned>(state) >> 4) * 1000);
        } else if (!probed) {
            ::usleep(1000);
        }
    }
    EXPECT_TRUE(probed) << "no probe within " << ms << " ms + 200 ms";
}

TEST(ReactorQuic, GarbageDatagramsThenServiceThenDrain) {
    quic_reactor_fixture f;
    // Garbage first: nothing answers it with a connection, nothing breaks.
    for (size_t size : {0, 1, 7, 30, 1200, 1400}) {
        std::string junk(size, '\0');
        quic::fill_random(reinterpret_cast<uint8_t*>(junk.data()), junk.size());
        f.fake->inject(0, v4("127.0.0.1", 40200), f.server_addr, junk);
    }
    f.r->hosted_turn();
    f.r->hosted_turn();
    EXPECT_EQ(f.r->counters().connections_accepted.get(), 0u);

    client c(v4("127.0.0.1", 40101), f.server_addr, core::monotonic_ns());
    ASSERT_TRUE(f.pump(c, [&] { return c.handshake_done; }));
    int64_t id = c.open_bidi();
    c.send(id, get_request("/native"), true);
    ASSERT_TRUE(f.pump(c, [&] { return c.streams[id].in_fin; }));
    EXPECT_NE(c.streams[id].in.find("native"), std::string::npos);

    // The drain: GOAWAY and CONNECTION_CLOSE once no stream is open, then the reactor ends
    // (hosted_turn says 0) with the client's connection still there.
    f.r->request_stop();
    bool ended = false;
    for (int i = 0; i < 2000 && !ended; ++i) {
        ended = !f.exchange(c);
        ::usleep(500);
    }
    EXPECT_TRUE(ended);
    EXPECT_TRUE(c.got_close);
}

} // namespace
} // namespace ringbolt::server
