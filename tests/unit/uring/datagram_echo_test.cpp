// Datagram sockets on the real backends (io_uring and epoll) over loopback: a UDP echo of
// many datagrams of every size (0..1472 bytes, and 64 KiB GSO bursts of 1200-byte
// segments) checked byte for byte with the peer's and the local address and the ECN bits
// both ways; GRO batches split correctly whether the kernel coalesces or not; a tiny
// buffer ring that runs dry keeps delivering; a wildcard socket answers from the address
// it was reached at.
#include "tests/unit/uring/addresses.hpp"
#include "uring/epoll_backend.hpp"
#include "uring/listener.hpp"
#include "uring/uring_backend.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <optional>
#include <ostream>
#include <string>
#include <sys/eventfd.h>
#include <unistd.h>
#include <vector>

namespace ringbolt::uring {
namespace {

using test::bound_address;
using test::ip_address;
using test::port_of;

std::string address_text(const datagram_address& a) {
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (a.len != 0 && a.addr.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&a.addr);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (a.len != 0 && a.addr.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.addr);
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    return std::string(host) + "#" + std::to_string(port);
}

bool same_address(const datagram_address& a, const datagram_address& b) {
    return a.len != 0 && b.len != 0 && address_text(a) == address_text(b);
}

/// A datagram's bytes, distinct per sequence number where the size allows.
std::string payload_for(uint32_t seq, size_t size) {
    std::string p(size, '\0');
    for (size_t i = 0; i < size; ++i) {
        p[i] = static_cast<char>((seq * 131 + i * 7 + (i >> 8)) & 0xff);
    }
    std::memcpy(p.data(), &seq, std::min(size, sizeof(seq)));
    return p;
}

/// The test's side: a plain blocking UDP socket on the loopback address of its family
/// that sends with an ECN codepoint (and UDP_SEGMENT for a burst) and reads without waiting.
class udp_client {
  public:
    struct reply {
        std::string payload;
        datagram_address from;
        uint8_t ecn;
    };

    udp_client(int family, const char* host) : _family(family) {
        _fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        datagram_address self = ip_address(host, 0);
        if (_fd < 0 || ::bind(_fd, reinterpret_cast<sockaddr*>(&self.addr), self.len) != 0) {
            return;
        }
        int one = 1;
        int big = 4 << 20;
        setsockopt(_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
        setsockopt(_fd, family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6, family == AF_INET ? IP_RECVTOS : IPV6_RECVTCLASS,
                   &one, sizeof(one));
        self_address = bound_address(_fd);
    }
    ~udp_client() {
        if (_fd >= 0) {
            ::close(_fd);
        }
    }
    bool ok() const { return self_address.len != 0; }

    /// One sendmsg: one datagram, or (segment != 0) a GSO burst of the payloads back to back.
    bool send(const datagram_address& to, const std::string& bytes, uint8_t ecn, uint16_t segment = 0) {
        iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
        alignas(cmsghdr) unsigned char control[64] = {};
        msghdr m{};
        m.msg_name = const_cast<sockaddr_storage*>(&to.addr);
        m.msg_namelen = to.len;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof(control);
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        int tos = ecn;
        c->cmsg_level = _family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
        c->cmsg_type = _family == AF_INET ? IP_TOS : IPV6_TCLASS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &tos, sizeof(tos));
        size_t used = CMSG_SPACE(sizeof(int));
        if (segment != 0) {
            c = CMSG_NXTHDR(&m, c);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            std::memcpy(CMSG_DATA(c), &segment, sizeof(segment));
            used += CMSG_SPACE(sizeof(uint16_t));
        }
        m.msg_controllen = used;
        return ::sendmsg(_fd, &m, 0) == static_cast<ssize_t>(bytes.size());
    }

    std::optional<reply> receive() {
        std::string buf(65536, '\0');
        iovec iov{buf.data(), buf.size()};
        alignas(cmsghdr) unsigned char control[64];
        reply r{};
        msghdr m{};
        m.msg_name = &r.from.addr;
        m.msg_namelen = sizeof(r.from.addr);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof(control);
        ssize_t n = ::recvmsg(_fd, &m, MSG_DONTWAIT);
        if (n < 0) {
            return std::nullopt;
        }
        r.from.len = m.msg_namelen;
        buf.resize(static_cast<size_t>(n));
        r.payload = std::move(buf);
        datagram d;
        read_datagram_control(control, m.msg_controllen, 0, d); // the backend's reader: TOS / TCLASS
        r.ecn = d.ecn;
        return r;
    }

    int fd() const { return _fd; }
    datagram_address self_address;

  private:
    int _family;
    int _fd = -1;
};

/// The server side: echoes every datagram to its sender, from the address it was sent
/// to, with its ECN bits; what one turn received from one peer goes out as one batch
/// (the backend sends equal-size runs with GSO), after the turn (flush()).
class echo_server final : public io_events {
  public:
    echo_server(io_backend& backend, datagram_address expected_peer, datagram_address expected_local,
                bool echo_back = true)
        : echo(echo_back), _backend(backend), _expected_peer(expected_peer), _expected_local(expected_local) {}

    ~echo_server() override {
        EXPECT_EQ(_in_flight.size(), 0u) << "batches must outlive their sends (on_datagrams_sent)";
    }

    void on_accept(int) noexcept override { ADD_FAILURE() << "no stream socket here"; }
    void on_accept_end(int) noexcept override {}
    void on_recv(uint32_t, uint16_t, const char*, size_t) noexcept override { ADD_FAILURE(); }
    void on_recv_end(uint32_t, uint16_t, recv_end) noexcept override {}
    void on_send(uint32_t, uint16_t, int) noexcept override { ADD_FAILURE(); }
    void on_writable(uint32_t, uint16_t, int) noexcept override { ADD_FAILURE(); }

    void on_datagram(uint32_t id, const datagram& d) noexcept override {
        EXPECT_EQ(id, 7u);
        if (_expected_peer.len != 0 && !same_address(d.peer, _expected_peer)) {
            ++wrong_peer;
        }
        if (_expected_local.len != 0 && !same_address(d.local, _expected_local)) {
            ++wrong_local;
        }
        last_local = d.local;
        ++deliveries;
        if (d.segment_size != 0 && d.len > d.segment_size) {
            ++coalesced;
        }
        if (!echo) {
            for_each_segment(d, [&](const char* p, size_t n) { segments.emplace_back(p, n); });
            return;
        }
        if (_turn.empty() || !same_address(_turn.back()->send.peer, d.peer) || _turn.back()->send.ecn != d.ecn) {
            _turn.push_back(std::make_unique<echo_batch>());
            _turn.back()->send.peer = d.peer;
            _turn.back()->send.local = answer_from_local ? d.local : datagram_address{};
            _turn.back()->send.ecn = d.ecn;
        }
        for_each_segment(d, [&](const char* p, size_t n) { _turn.back()->pieces.emplace_back(p, n); });
    }
    void on_datagram_end(uint32_t, int res) noexcept override { end = res; }
    void on_datagrams_sent(uint32_t id, datagram_send& b) noexcept override {
        EXPECT_EQ(id, 7u);
        EXPECT_EQ(b.error, 0) << std::strerror(-b.error);
        EXPECT_EQ(b.sent, b.payloads.size());
        echoed += b.sent;
        for (auto it = _in_flight.begin(); it != _in_flight.end(); ++it) {
            if (&(*it)->send == &b) {
                _in_flight.erase(it);
                return;
            }
        }
        ADD_FAILURE() << "a completion for a batch never sent";
    }

    /// Send what this turn received (payload views point into each batch's own strings).
    void flush() {
        for (auto& b : _turn) {
            for (const std::string& p : b->pieces) {
                b->send.payloads.push_back({const_cast<char*>(p.data()), p.size()});
            }
            _backend.send_datagrams(7, b->send);
            _in_flight.push_back(std::move(b));
        }
        _turn.clear();
    }
    size_t in_flight() const { return _in_flight.size(); }

    bool echo = true;
    bool answer_from_local = true;
    size_t wrong_peer = 0;
    size_t wrong_local = 0;
    size_t deliveries = 0;
    size_t coalesced = 0;
    size_t echoed = 0;
    std::optional<int> end;
    datagram_address last_local;
    std::vector<std::string> segments; ///< echo off: what arrived, split, in order

  private:
    struct echo_batch {
        datagram_send send;
        std::list<std::string> pieces; ///< stable addresses for the iovecs
    };
    io_backend& _backend;
    datagram_address _expected_peer;
    datagram_address _expected_local;
    std::vector<std::unique_ptr<echo_batch>> _turn;
    std::list<std::unique_ptr<echo_batch>> _in_flight;
};

struct backend_case {
    const char* io;
    int family;
};

void PrintTo(const backend_case& c, std::ostream* os) {
    *os << c.io << (c.family == AF_INET ? " IPv4" : " IPv6");
}

std::string case_name(const ::testing::TestParamInfo<backend_case>& info) {
    return std::string(info.param.io == std::string("io_uring") ? "uring" : "epoll") +
           (info.param.family == AF_INET ? "_v4" : "_v6");
}

const char* loopback(int family) {
    return family == AF_INET ? "127.0.0.1" : "::1";
}

class DatagramTest : public ::testing::TestWithParam<backend_case> {
  protected:
    /// The backend with `buffers`, and a socket on the family's loopback (or `host`).
    void start(const datagram_buffers& buffers, bool gro, const char* host = nullptr) {
        int family = GetParam().family;
        if (family == AF_INET6) {
            int probe = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            datagram_address a = ip_address("::1", 0);
            bool have_v6 = probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&a.addr), a.len) == 0;
            int why = errno;
            if (probe >= 0) {
                ::close(probe);
            }
            if (!have_v6) {
                GTEST_SKIP() << "SKIPPED LOUDLY: this machine has no IPv6 loopback (bind ::1: " << std::strerror(why)
                             << ")";
            }
        }
        _wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_GE(_wake_fd, 0);
        if (GetParam().io == std::string("io_uring")) {
            _backend = std::make_unique<uring_backend>();
        } else {
            _backend = std::make_unique<epoll_backend>();
        }
        _backend->counters = &_counters;
        backend_config cfg;
        cfg.ring_entries = 256;
        cfg.buffer_count = 16;
        cfg.buffer_size = 4096;
        core::result<void> r = _backend->setup(cfg, _wake_fd);
        if (!r.ok()) {
            GTEST_SKIP() << "SKIPPED LOUDLY: " << GetParam().io << " unavailable: " << core::errc_name(r.error());
        }
        ASSERT_TRUE(_backend->setup_datagrams(buffers).ok());
        datagram_options opts;
        opts.gro = gro;
        core::result<datagram_socket> s =
            uring::open_datagram_socket(host != nullptr ? host : loopback(family), 0, opts);
        ASSERT_TRUE(s.ok()) << std::strerror(s.sys_errno());
        _sock = s.value();
        if (!gro) {
            EXPECT_FALSE(_sock.gro) << "GRO was not asked for";
        }
        int big = 4 << 20;
        setsockopt(_sock.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
        _server_address = ip_address(loopback(family), _sock.port);
    }

    void TearDown() override {
        if (_sock.fd >= 0 && _backend) {
            // The receive lets go of the socket and the buffers before either goes.
            ended_sink sink;
            _backend->cancel_datagram(7);
            for (int turn = 0; turn < 500 && !sink.ended; ++turn) {
                _backend->wait(10, sink);
            }
            EXPECT_TRUE(sink.ended) << "the cancelled receive never ended";
            ::close(_sock.fd);
        }
        _backend.reset();
        if (_wake_fd >= 0) {
            ::close(_wake_fd);
        }
    }

    struct ended_sink final : io_events {
        void on_accept(int) noexcept override {}
        void on_accept_end(int) noexcept override {}
        void on_recv(uint32_t, uint16_t, const char*, size_t) noexcept override {}
        void on_recv_end(uint32_t, uint16_t, recv_end) noexcept override {}
        void on_send(uint32_t, uint16_t, int) noexcept override {}
        void on_writable(uint32_t, uint16_t, int) noexcept override {}
        void on_datagram_end(uint32_t, int res) noexcept override {
            EXPECT_EQ(res, -ECANCELED);
            ended = true;
        }
        bool ended = false;
    };

    /// Turn the loop (and read the client) until `done`, at most 30 s (a loaded machine).
    template <typename Done, typename Read> bool pump(echo_server& server, Done done, Read read) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            if (!_backend->wait(2, server)) {
                return false;
            }
            server.flush();
            read();
        }
        return true;
    }

    /// A client on the loopback address of the case's family.
    udp_client loopback_client() const {
        int family = GetParam().family;
        return udp_client(family, loopback(family));
    }

    /// A server that keeps what `client` sends (no echo), its receive armed.
    echo_server collector(const udp_client& client) {
        _backend->arm_datagram(7, _sock);
        return echo_server(*_backend, client.self_address, _server_address, false);
    }

    /// Turn the loop until `server` has kept `n` datagrams (a collector).
    bool collect(echo_server& server, size_t n) {
        return pump(
            server, [&] { return server.segments.size() >= n; }, [] {});
    }

    core::core_counters _counters;
    std::unique_ptr<io_backend> _backend;
    datagram_socket _sock;
    datagram_address _server_address;
    int _wake_fd = -1;
};

/// Sizes of the plain case: every edge of a datagram up to the 1472 bytes of a 1500-byte
/// Ethernet MTU.
constexpr size_t plain_sizes[] = {0, 1, 2, 3, 4, 7, 64, 100, 512, 1000, 1199, 1200, 1201, 1350, 1452, 1472};

struct echo_case {
    const char* name;
    unsigned rounds;        ///< windows sent, each echoed whole before the next
    size_t per_round;       ///< datagrams per window
    bool sizes_cycle;       ///< plain_sizes in turn; otherwise 1200 bytes (the last 700)
    bool client_gso;        ///< the window leaves the client as one GSO burst
    bool expect_server_gso; ///< the echo must have used UDP_SEGMENT (where offered)
};

constexpr echo_case echo_cases[] = {
    {"every size, ECN both ways", 20, 16, true, false, false},
    {"64 KiB GSO bursts of 1200-byte segments", 8, 54, false, true, true},
    {"runs of 1200-byte datagrams sent one by one", 6, 40, false, false, true},
};

TEST_P(DatagramTest, EchoIsByteExactWithAddressesAndEcn) {
    start(datagram_buffers{}, true);
    if (IsSkipped() || HasFatalFailure()) {
        return;
    }
    udp_client client = loopback_client();
    ASSERT_TRUE(client.ok());
    echo_server server(*_backend, client.self_address, _server_address);
    _backend->arm_datagram(7, _sock);
    uint32_t seq = 0;
    for (const echo_case& c : echo_cases) {
        SCOPED_TRACE(c.name);
        datagram_stats before = _backend->dgram_stats;
        std::multimap<std::string, uint8_t> outstanding; // payload -> ECN it was sent with
        size_t wrong_source = 0;
        size_t wrong_ecn = 0;
        size_t unexpected = 0;
        auto read = [&] {
            while (std::optional<udp_client::reply> r = client.receive()) {
                wrong_source += same_address(r->from, _server_address) ? 0 : 1;
                auto it = outstanding.find(r->payload);
                if (it == outstanding.end()) {
                    ++unexpected;
                    continue;
                }
                wrong_ecn += it->second == r->ecn ? 0 : 1;
                outstanding.erase(it);
            }
        };
        size_t total = 0;
        for (unsigned round = 0; round < c.rounds; ++round) {
            uint8_t ecn = static_cast<uint8_t>((seq + round) % 4); // Not-ECT, ECT(1), ECT(0), CE
            std::string burst;
            for (size_t i = 0; i < c.per_round; ++i, ++seq) {
                size_t size =
                    c.sizes_cycle ? plain_sizes[seq % std::size(plain_sizes)] : (i + 1 == c.per_round ? 700 : 1200);
                std::string p = payload_for(seq, size);
                outstanding.emplace(p, ecn);
                if (c.client_gso) {
                    burst += p;
                } else {
                    ASSERT_TRUE(client.send(_server_address, p, ecn)) << std::strerror(errno);
                }
            }
            if (c.client_gso) {
                ASSERT_TRUE(client.send(_server_address, burst, ecn, 1200)) << std::strerror(errno);
            }
            total += c.per_round;
            ASSERT_TRUE(pump(
                server, [&] { return outstanding.empty() && server.in_flight() == 0; }, read))
                << outstanding.size() << " of " << c.per_round << " datagrams not echoed in round " << round;
        }
        EXPECT_EQ(server.wrong_peer, 0u);
        EXPECT_EQ(server.wrong_local, 0u);
        EXPECT_EQ(wrong_source, 0u);
        EXPECT_EQ(wrong_ecn, 0u);
        EXPECT_EQ(unexpected, 0u);
        const datagram_stats& after = _backend->dgram_stats;
        EXPECT_EQ(after.received - before.received, total);
        EXPECT_EQ(after.sent - before.sent, total);
        EXPECT_EQ(after.send_errors, 0u);
        EXPECT_EQ(after.truncated, 0u);
        if (c.expect_server_gso && _sock.gso) {
            EXPECT_GT(after.gso_messages - before.gso_messages, 0u) << "equal-size runs must leave with UDP_SEGMENT";
        }
        std::printf("[ %s ] %s: %zu datagrams echoed in %llu messages (%llu with GSO), %llu GRO batches received\n",
                    case_name({GetParam(), 0}).c_str(), c.name, total,
                    static_cast<unsigned long long>(after.send_messages - before.send_messages),
                    static_cast<unsigned long long>(after.gso_messages - before.gso_messages),
                    static_cast<unsigned long long>(after.gro_batches - before.gro_batches));
    }
    EXPECT_FALSE(server.end.has_value()) << "the receive ended by itself: " << server.end.value_or(0);
}

// A GSO burst from the client reaches a GRO socket either coalesced (segment_size set,
// the payload several datagrams back to back) or one datagram at a time, as the kernel
// decides; either way the segments come out whole and in order. A socket without GRO must
// never see a batch.
TEST_P(DatagramTest, GroBatchesSplitIntoTheDatagramsSent) {
    for (bool gro : {true, false}) {
        SCOPED_TRACE(gro ? "GRO on" : "GRO off");
        TearDown();
        _sock = datagram_socket{};
        _wake_fd = -1;
        start(datagram_buffers{}, gro);
        if (IsSkipped() || HasFatalFailure()) {
            return;
        }
        udp_client client = loopback_client();
        ASSERT_TRUE(client.ok());
        echo_server server = collector(client);
        std::vector<std::string> sent;
        uint32_t seq = 1000;
        for (int burst = 0; burst < 6; ++burst) {
            std::string bytes;
            for (int i = 0; i < 21; ++i, ++seq) { // 20 x 1200 and a 500-byte tail
                sent.push_back(payload_for(seq, i == 20 ? 500 : 1200));
                bytes += sent.back();
            }
            ASSERT_TRUE(client.send(_server_address, bytes, 0, 1200)) << std::strerror(errno);
        }
        ASSERT_TRUE(collect(server, sent.size()));
        EXPECT_EQ(server.segments, sent);
        EXPECT_EQ(server.wrong_peer, 0u);
        if (!gro) {
            EXPECT_EQ(server.coalesced, 0u) << "a socket without UDP_GRO got a coalesced batch";
        }
        std::printf("[ %s ] GRO %s: %zu datagrams in %zu deliveries, %zu coalesced by the kernel\n",
                    case_name({GetParam(), 0}).c_str(), gro ? "on" : "off", sent.size(), server.deliveries,
                    server.coalesced);
    }
}

// A buffer ring of two 2 KiB buffers under a burst of 64 datagrams: io_uring's multishot
// recvmsg runs dry (ENOBUFS) and is armed again until the burst is read; epoll reads it
// two at a time. Nothing is corrupted, and a second burst afterwards arrives whole.
TEST_P(DatagramTest, ATinyBufferRingRunsDryAndKeepsDelivering) {
    start(datagram_buffers{2, 2048}, false);
    if (IsSkipped() || HasFatalFailure()) {
        return;
    }
    udp_client client = loopback_client();
    ASSERT_TRUE(client.ok());
    echo_server server = collector(client);
    ASSERT_TRUE(_backend->wait(0, server)); // the receive is armed before the burst
    // Datagrams [from, to) of `size` bytes, sent one by one.
    auto send_each = [&](uint32_t from, uint32_t to, size_t size) {
        std::vector<std::string> sent;
        for (uint32_t seq = from; seq < to; ++seq) {
            sent.push_back(payload_for(seq, size));
            EXPECT_TRUE(client.send(_server_address, sent.back(), 0)) << std::strerror(errno);
        }
        return sent;
    };
    std::vector<std::string> first = send_each(0, 64, 1000);
    // UDP may drop under a burst, but not here: the datagrams wait in the socket (4 MiB).
    ASSERT_TRUE(collect(server, first.size())) << server.segments.size() << " of 64 arrived";
    EXPECT_EQ(server.segments, first);
    if (GetParam().io == std::string("io_uring")) {
        EXPECT_GT(_backend->dgram_stats.enobufs, 0u) << "two buffers should have run dry under 64 datagrams";
        EXPECT_GE(_backend->dgram_stats.rearms, _backend->dgram_stats.enobufs);
    } else {
        EXPECT_GE(_backend->dgram_stats.recv_calls, 32u) << "recvmmsg reads at most two at a time";
    }
    server.segments.clear();
    std::vector<std::string> second = send_each(100, 116, 1400);
    ASSERT_TRUE(collect(server, second.size()));
    EXPECT_EQ(server.segments, second);
    // Larger than a buffer's payload room (2048 - header_room): dropped and counted, the
    // receive goes on.
    ASSERT_TRUE(client.send(_server_address, payload_for(200, 1900), 0));
    ASSERT_TRUE(client.send(_server_address, payload_for(201, 10), 0));
    ASSERT_TRUE(collect(server, second.size() + 1));
    EXPECT_EQ(server.segments.back(), payload_for(201, 10));
    EXPECT_EQ(_backend->dgram_stats.truncated, 1u);
    EXPECT_FALSE(server.end.has_value());
    std::printf("[ %s ] 64-datagram burst into 2 buffers: %llu ENOBUFS re-arms, %llu recvmmsg calls\n",
                case_name({GetParam(), 0}).c_str(), static_cast<unsigned long long>(_backend->dgram_stats.enobufs),
                static_cast<unsigned long long>(_backend->dgram_stats.recv_calls));
}

// A socket bound to the wildcard address reached at 127.0.0.2 answers from 127.0.0.2 when
// the echo names the datagram's local address (IP_PKTINFO both ways), and from the
// kernel's choice (127.0.0.1) when it does not: the control proves the test can fail.
// The IPv6 case binds "::" (dual-stack): the IPv4 client is a v4-mapped peer, the local
// address comes from IPV6_PKTINFO as a mapped one, and the answer takes the IPv4 path.
TEST_P(DatagramTest, AWildcardSocketAnswersFromTheAddressItWasReachedAt) {
    bool v6 = GetParam().family == AF_INET6;
    if (v6) {
        FILE* f = std::fopen("/proc/sys/net/ipv6/bindv6only", "r");
        int only = f != nullptr ? std::fgetc(f) : '1';
        if (f != nullptr) {
            std::fclose(f);
        }
        if (only != '0') {
            GTEST_SKIP() << "SKIPPED LOUDLY: net.ipv6.bindv6only is set: \"::\" takes no IPv4 peers";
        }
    }
    start(datagram_buffers{}, true, v6 ? "::" : "0.0.0.0");
    if (IsSkipped() || HasFatalFailure()) {
        return;
    }
    udp_client client(AF_INET, "127.0.0.1");
    ASSERT_TRUE(client.ok());
    uint16_t client_port = ntohs(reinterpret_cast<const sockaddr_in*>(&client.self_address.addr)->sin_port);
    datagram_address second = ip_address("127.0.0.2", _sock.port);
    echo_server server(*_backend, v6 ? ip_address("::ffff:127.0.0.1", client_port) : client.self_address,
                       v6 ? ip_address("::ffff:127.0.0.2", _sock.port) : second);
    _backend->arm_datagram(7, _sock);
    for (bool from_local : {true, false}) {
        server.answer_from_local = from_local;
        ASSERT_TRUE(client.send(second, "where from?", 2));
        std::optional<udp_client::reply> got;
        // The echo's batch stays the server's until its completion (on epoll the reply can
        // be read before the completion is reported).
        ASSERT_TRUE(pump(
            server, [&] { return got.has_value() && server.in_flight() == 0; },
            [&] {
                if (!got) {
                    got = client.receive();
                }
            }));
        EXPECT_EQ(got->payload, "where from?");
        EXPECT_EQ(address_text(got->from),
                  from_local ? "127.0.0.2#" + std::to_string(_sock.port) : "127.0.0.1#" + std::to_string(_sock.port));
        EXPECT_EQ(got->ecn, 2) << "ECN of a v4-mapped peer takes IP_TOS both ways";
    }
    EXPECT_EQ(server.wrong_peer, 0u);
    EXPECT_EQ(server.wrong_local, 0u) << "IP_PKTINFO named another local address: " << address_text(server.last_local);
}

INSTANTIATE_TEST_SUITE_P(Backends, DatagramTest,
                         ::testing::Values(backend_case{"io_uring", AF_INET}, backend_case{"io_uring", AF_INET6},
                                           backend_case{"epoll", AF_INET}, backend_case{"epoll", AF_INET6}),
                         case_name);

} // namespace
} // namespace ringbolt::uring
