// Every socket call the reactor makes outside the completion queue goes through its
// io backend: a connection's peer lookup and close, a listener's refusal and close at a
// drain. The fake backend records them (and makes them on the real descriptors).
#include "server/reactor.hpp"
#include "test_server.hpp"
#include "uring/fake_backend.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace ringbolt::server {
namespace {

bool has(const std::vector<int>& v, int fd) {
    return std::find(v.begin(), v.end(), fd) != v.end();
}

TEST(ReactorSocketCalls, AConnectionAndADrainCallOnlyTheBackend) {
    auto routes = test_support::make_routes();
    test_support::test_app app(false);
    std::atomic<uint32_t> pending{0};
    uring::fake_backend* fake = nullptr;
    server_config cfg;
    cfg.host_loop = true;
    cfg.pin_threads = false;
    cfg.wrap_backend = [&fake](std::unique_ptr<uring::io_backend>) {
        auto f = std::make_unique<uring::fake_backend>();
        fake = f.get();
        return std::unique_ptr<uring::io_backend>(std::move(f));
    };
    // A TCP listener this "process bound" (no listen_fds): the drain refuses new clients on it.
    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ASSERT_GE(lfd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(lfd, 16), 0);

    auto r = std::make_unique<reactor>(0, cfg, *routes, app, lfd, -1, true, &pending, nullptr);
    ASSERT_TRUE(r->setup().ok());
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    fake->accept_stream(sv[0]);
    r->hosted_turn();
    EXPECT_TRUE(has(fake->peer_names, sv[0])); // the accept asked the backend for the peer

    const std::string req = "GET /app/c HTTP/1.1\r\nHost: t\r\n\r\n";
    ASSERT_EQ(::send(sv[1], req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    std::string got;
    for (int turn = 0; turn < 20 && got.find("app:/app/c:") == std::string::npos; ++turn) {
        r->hosted_turn();
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
            got.append(buf, static_cast<size_t>(n));
        }
    }
    ASSERT_NE(got.find("app:/app/c:"), std::string::npos) << got;
    EXPECT_FALSE(has(fake->closed, sv[0]));

    ::close(sv[1]); // the client goes: the reactor closes its end through the backend
    for (int turn = 0; turn < 20 && !has(fake->closed, sv[0]); ++turn) {
        r->hosted_turn();
    }
    EXPECT_TRUE(has(fake->closed, sv[0]));

    r->request_stop(); // the drain: the listener refused and closed through the backend
    for (int turn = 0; turn < 20 && !has(fake->closed, lfd); ++turn) {
        if (r->hosted_turn() == 0) {
            break;
        }
    }
    EXPECT_EQ(fake->refused, std::vector<int>{lfd});
    EXPECT_TRUE(has(fake->closed, lfd));
    r.reset();
}

} // namespace
} // namespace ringbolt::server
