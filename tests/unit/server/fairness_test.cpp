// Fairness of a hosted reactor's turns: with more readable connections than receive
// buffers, a connection that holds a complete request is answered within one turn,
// whatever the number of connections and the order the requests arrive in. The reactor
// runs hosted turns (what the event loop calls) on the fake backend, whose buffer ring
// serves recvs still armed before recvs armed again, as the kernel's does.
#include "server/reactor.hpp"
#include "server/server.hpp"
#include "test_server.hpp"
#include "uring/fake_backend.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>
#include <poll.h>
#include <random>
#include <string>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace ringbolt::server {
namespace {

constexpr std::string_view request = "GET /app/c HTTP/1.1\r\nHost: t\r\n\r\n";
constexpr std::string_view answer_body = "app:/app/c:";

// N clients in a closed loop (a new request as soon as the last is answered, as a load
// generator's connections do) against one hosted reactor on the fake backend.
class closed_loop {
  public:
    closed_loop(size_t n, uint32_t buffers) : _routes(test_support::make_routes()), _app(false) {
        auto set_buffers = [buffers](uring::fake_backend& f) { f.stream_buffers = buffers; };
        _config = test_support::hosted_on_fake(_fake, set_buffers);
        _reactor = std::make_unique<reactor>(0, _config, *_routes, _app, -1, -1, true, &_pending, nullptr);
        EXPECT_TRUE(_reactor->setup().ok());
        _fake->order_streams = [this](std::vector<uring::fake_backend::readable_stream>& r) {
            // Recvs armed earlier first (the kernel's order); among them, the order this
            // round's requests were written in.
            std::stable_sort(r.begin(), r.end(), [this](const auto& a, const auto& b) {
                return a.armed_wait != b.armed_wait ? a.armed_wait < b.armed_wait : _arrival[a.fd] < _arrival[b.fd];
            });
        };
        for (size_t i = 0; i < n; ++i) {
            int sv[2];
            EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
            _fake->accept_stream(sv[0]); // the reactor closes it
            _clients.push_back({sv[1], sv[0]});
        }
        _arrival.assign(static_cast<size_t>(_clients.back().server_fd) + 1, 0);
        _reactor->hosted_turn(); // accepted: each arms its recv
    }
    ~closed_loop() {
        for (const client& c : _clients) {
            ::close(c.fd);
        }
    }

    /// One round: every client with no request in flight writes one, in `order` (client
    /// indices), then the loop turns once. Returns the most turns any answer took.
    unsigned round(const std::vector<size_t>& order) {
        unsigned rank = 0;
        for (size_t i : order) {
            client& c = _clients[i];
            if (c.written_turn < 0) {
                EXPECT_EQ(::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL),
                          static_cast<ssize_t>(request.size()));
                c.written_turn = static_cast<long>(_turns);
                _arrival[c.server_fd] = rank++;
            }
        }
        _reactor->hosted_turn();
        ++_turns;
        unsigned worst = 0;
        for (client& c : _clients) {
            char buf[4096];
            ssize_t n;
            while ((n = ::recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
                c.in.append(buf, static_cast<size_t>(n));
            }
            size_t at = c.in.find(answer_body);
            if (at != std::string::npos) {
                c.in.erase(0, at + answer_body.size());
                ++answered;
                c.written_turn = -1;
            } else if (c.written_turn >= 0) {
                worst = std::max(worst, static_cast<unsigned>(_turns - static_cast<unsigned long>(c.written_turn)));
            }
        }
        max_wait = std::max(max_wait, worst);
        return worst;
    }
    size_t size() const noexcept { return _clients.size(); }
    const uring::fake_backend& fake() const noexcept { return *_fake; }

    uint64_t answered = 0;
    unsigned max_wait = 0; ///< turns a request written before a turn still waited after it

  private:
    struct client {
        int fd;
        int server_fd;
        long written_turn = -1; ///< the turn before which its request was written (-1: none in flight)
        std::string in;
    };
    server_config _config;
    std::shared_ptr<dispatch::app_routes> _routes;
    test_support::test_app _app;
    std::atomic<uint32_t> _pending{0};
    uring::fake_backend* _fake = nullptr;
    std::unique_ptr<reactor> _reactor;
    std::vector<client> _clients;
    std::vector<unsigned> _arrival; ///< by server-side fd: rank of its request in this round
    unsigned long _turns = 0;
};

// Eight connections, two buffers: six recvs run dry in the first turn. Each is answered in
// that turn, not after the two that got buffers (and write again at once) took the ring
// turn after turn (before the fix they never were).
TEST(HostedFairness, ConnectionsThatRanOutOfBuffersAreServedInTheSameTurn) {
    closed_loop loop(8, 2);
    std::vector<size_t> order(loop.size());
    std::iota(order.begin(), order.end(), 0);
    for (int r = 0; r < 20; ++r) {
        EXPECT_EQ(loop.round(order), 0u) << "round " << r;
    }
    EXPECT_EQ(loop.answered, 8u * 20);
    EXPECT_GT(loop.fake().recvs_ran_dry, 0u); // the path under test ran
}

// Every arrival order of five requests, one buffer: each order, for a few rounds, answers
// every request in the turn after it was written.
TEST(HostedFairness, EveryArrivalOrderIsServedWithinOneTurn) {
    std::vector<size_t> order(5);
    std::iota(order.begin(), order.end(), 0);
    do {
        closed_loop loop(order.size(), 1);
        for (int r = 0; r < 4; ++r) {
            loop.round(order);
        }
        EXPECT_EQ(loop.max_wait, 0u);
        EXPECT_EQ(loop.answered, 5u * 4);
    } while (std::next_permutation(order.begin(), order.end()));
}

// The property over N (1..200), the ring's size (1..N+1) and a fresh random arrival order
// every round: no request waits past the turn after it came.
TEST(HostedFairness, PropertyOverConnectionCountsAndArrivalOrders) {
    std::mt19937_64 rng(29);
    uint64_t dry = 0;
    for (int trial = 0; trial < 60; ++trial) {
        size_t n = 1 + rng() % 200;
        uint32_t buffers = static_cast<uint32_t>(1 + rng() % (n + 1));
        closed_loop loop(n, buffers);
        std::vector<size_t> order(n);
        std::iota(order.begin(), order.end(), 0);
        for (int r = 0; r < 12; ++r) {
            std::shuffle(order.begin(), order.end(), rng);
            loop.round(order);
        }
        EXPECT_EQ(loop.max_wait, 0u) << "n=" << n << " buffers=" << buffers;
        EXPECT_EQ(loop.answered, n * 12) << "n=" << n << " buffers=" << buffers;
        dry += loop.fake().recvs_ran_dry;
    }
    EXPECT_GT(dry, 0u);
}

// The same path on real sockets: an io_uring reactor hosting a loop (server_config::
// host_loop, the ring shared as for ringbolt's asyncio loop) with a ring of 32 buffers and
// 256 connections in a closed loop for 1.5 s (or until 8 answers each on average), the
// loop answering each turn's requests right after it (deliver_here) at some 20 µs and a
// system call each, as Python's does. The ring runs dry thousands of times; every
// connection keeps its share of answers.
// (This one passes without the fix as well: the starvation needs the longer turns of a
// loaded Python loop, which tests/py cannot reach without a ring this small.)
class hosting_app final : public app_handler {
  public:
    // Every request is "async": staged by the turn, answered by the loop right after it
    // (deliver_here, which sends at once), as ringbolt's loop answers an ASGI app.
    uint64_t handle_batch(unsigned, std::span<dispatch::app_request> batch, std::vector<http::app_response>&,
                          response_sink& sink) noexcept override {
        for (auto& req : batch) {
            _staged.push_back({&sink, req.conn_slot, req.conn_gen, req.seq});
        }
        return 0;
    }
    bool host_loop(reactor& r) noexcept override {
        while (true) {
            pollfd p{r.poll_fd(), POLLIN, 0};
            ::poll(&p, 1, 250);
            int state = r.hosted_turn();
            turns.fetch_add(1, std::memory_order_relaxed);
            std::vector<job> jobs;
            jobs.swap(_staged);
            std::vector<http::app_response> out;
            for (const job& j : jobs) {
                // What Python costs a request: some 20 µs, and a system call (the kernel's
                // task work runs on its way back: recvs still armed take buffers there).
                auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
                while (std::chrono::steady_clock::now() < until) {
                }
                (void)::getppid();
                http::app_response a;
                a.conn_slot = j.slot;
                a.conn_gen = j.gen;
                a.seq = j.seq;
                a.body = "ok";
                a.start.fields = "Content-Type: text/plain\r\n";
                a.start.content_length = 2;
                out.push_back(std::move(a));
            }
            if (!jobs.empty() && !jobs[0].sink->deliver_here(out)) {
                jobs[0].sink->deliver(out);
            }
            if (state == 0) {
                return true;
            }
        }
    }

    std::atomic<uint64_t> turns{0}; ///< hosted turns so far (the client reads it)

  private:
    struct job {
        response_sink* sink;
        uint32_t slot, gen;
        uint64_t seq;
    };
    std::vector<job> _staged; ///< the reactor's thread only
};

TEST(HostedFairness, RealSocketsADryRingKeepsEveryConnectionServed) {
    hosting_app app;
    server_config cfg;
    cfg.port = 0;
    cfg.threads = 1;
    cfg.io = "io_uring";
    cfg.pin_threads = false;
    cfg.host_loop = true;
    cfg.buffer_count = 32;
    cfg.incremental_buffers = false; // whole buffers: 32 at most for 256 connections, dry every turn
    server srv(cfg, test_support::make_routes(), app);
    ASSERT_TRUE(srv.start().ok()) << srv.error_message();

    constexpr int conns = 256;
    const std::string req = "GET /app/c HTTP/1.1\r\nHost: t\r\n\r\n";
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::vector<int> fds(conns);
    std::vector<uint64_t> done(conns, 0);
    std::vector<std::string> in(conns);
    for (int i = 0; i < conns; ++i) {
        fds[i] = test_support::connect_to(srv.port());
        int fl = 1;
        ASSERT_EQ(::ioctl(fds[i], FIONBIO, &fl), 0);
        epoll_event ev{EPOLLIN, {.u32 = static_cast<uint32_t>(i)}};
        ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev), 0);
        ASSERT_EQ(::send(fds[i], req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    }
    // 1.5 s, and on (up to 20 s, a loaded machine) until the mean connection has 8 answers.
    auto start = std::chrono::steady_clock::now();
    uint64_t answered = 0;
    auto more = [&] {
        auto now = std::chrono::steady_clock::now();
        return now < start + std::chrono::milliseconds(1500) ||
               (answered < 8u * conns && now < start + std::chrono::seconds(20));
    };
    std::vector<epoll_event> evs(conns);
    while (more()) {
        int n = ::epoll_wait(ep, evs.data(), conns, 100);
        for (int k = 0; k < n; ++k) {
            uint32_t i = evs[k].data.u32;
            char buf[4096];
            ssize_t got;
            while ((got = ::recv(fds[i], buf, sizeof(buf), 0)) > 0) {
                in[i].append(buf, static_cast<size_t>(got));
            }
            size_t at;
            while ((at = in[i].find("\r\n\r\nok")) != std::string::npos) {
                in[i].erase(0, at + 6);
                ++done[i];
                ++answered;
                ASSERT_EQ(::send(fds[i], req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
            }
        }
    }
    for (int fd : fds) {
        ::close(fd);
    }
    ::close(ep);
    srv.stop();
    ASSERT_TRUE(srv.wait_exit(30000));
    srv.join();
    uint64_t total = 0;
    for (uint64_t d : done) {
        total += d;
    }
    uint64_t least = *std::min_element(done.begin(), done.end());
    const auto& counters = srv.reactors().at(0)->counters();
    std::printf("[ info ] %llu answers in %llu turns, fewest on one connection %llu (mean %.1f), enobufs %llu\n",
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(app.turns.load()),
                static_cast<unsigned long long>(least), static_cast<double>(total) / conns,
                static_cast<unsigned long long>(counters.enobufs.get()));
    EXPECT_GT(counters.enobufs.get(), 0u) << "the buffer ring never ran dry: the path under test did not run";
    // A closed loop served fairly answers every connection about equally often.
    EXPECT_GE(least * 2, total / conns) << "a connection got less than half the mean share of answers";
}

} // namespace
} // namespace ringbolt::server
