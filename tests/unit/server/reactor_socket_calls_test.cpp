// Every socket call the reactor makes outside the completion queue goes through its
// io backend: a connection's peer lookup and close, a listener's refusal and close at a
// drain, and a TLS transport's kTLS calls (keys, and its records of its own sent and read
// with their type). The fake backend records them (and makes them on the real
// descriptors, or plays the kernel's TLS).
#include "server/reactor.hpp"
#include "test_server.hpp"
#include "tests/unit/tls/test_cert.hpp"
#include "tls/context.hpp"
#include "uring/fake_backend.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

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

/// Sends `req` on the client's end, then turns the hosted reactor (20 turns at most) until
/// the answer read back holds `until`; returns what was read.
std::string exchange(reactor& r, int client, const std::string& req, const std::string& until) {
    EXPECT_EQ(::send(client, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    std::string got;
    for (int turn = 0; turn < 20 && got.find(until) == std::string::npos; ++turn) {
        r.hosted_turn();
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(client, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
            got.append(buf, static_cast<size_t>(n));
        }
    }
    return got;
}

/// A hosted reactor on a fake backend (test_support::hosted_on_fake) serving test_app's
/// routes, and a client on a socketpair whose other end the fake's listener accepts.
struct hosted_reactor {
    std::shared_ptr<dispatch::app_routes> routes = test_support::make_routes();
    test_support::test_app app{false};
    std::atomic<uint32_t> pending{0};
    uring::fake_backend* fake = nullptr;
    server_config cfg;
    std::unique_ptr<reactor> r;
    int sv[2] = {-1, -1}; ///< the server's end (accepted by the reactor), the client's

    explicit hosted_reactor(bool kernel_tls = false) {
        cfg = test_support::hosted_on_fake(fake, [kernel_tls](uring::fake_backend& f) { f.kernel_tls = kernel_tls; });
    }

    /// The reactor on listener `lfd` (-1: none), set up, and the client's connection
    /// handed to it (accepted at its next turn).
    void start(int lfd) {
        r = std::make_unique<reactor>(0, cfg, *routes, app, lfd, -1, true, &pending, nullptr);
        ASSERT_TRUE(r->setup().ok());
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        fake->accept_stream(sv[0]);
    }
};

TEST(ReactorSocketCalls, AConnectionAndADrainCallOnlyTheBackend) {
    hosted_reactor h;
    // A TCP listener this "process bound" (no listen_fds): the drain refuses new clients on it.
    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ASSERT_GE(lfd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(lfd, 16), 0);

    ASSERT_NO_FATAL_FAILURE(h.start(lfd));
    h.r->hosted_turn();
    EXPECT_TRUE(has(h.fake->peer_names, h.sv[0])); // the accept asked the backend for the peer

    const std::string got = exchange(*h.r, h.sv[1], "GET /app/c HTTP/1.1\r\nHost: t\r\n\r\n", "app:/app/c:");
    ASSERT_NE(got.find("app:/app/c:"), std::string::npos) << got;
    EXPECT_FALSE(has(h.fake->closed, h.sv[0]));

    ::close(h.sv[1]); // the client goes: the reactor closes its end through the backend
    for (int turn = 0; turn < 20 && !has(h.fake->closed, h.sv[0]); ++turn) {
        h.r->hosted_turn();
    }
    EXPECT_TRUE(has(h.fake->closed, h.sv[0]));

    h.r->request_stop(); // the drain: the listener refused and closed through the backend
    for (int turn = 0; turn < 20 && !has(h.fake->closed, lfd); ++turn) {
        if (h.r->hosted_turn() == 0) {
            break;
        }
    }
    EXPECT_EQ(h.fake->refused, std::vector<int>{lfd});
    EXPECT_TRUE(has(h.fake->closed, lfd));
    h.r.reset();
}

// kTLS on a connection, with the fake backend playing the kernel's TLS (this host has
// none): the transport attaches the kernel's TLS layer, gives it the sending keys, sends
// its session tickets as records of their type, gives it the receiving keys, reads the
// client's close_notify with its type, and sends its own: each through the backend. Had the
// transport made one of these calls itself, on the socketpair (no TCP, no kernel TLS) it
// fails, and the connection stays in user space or ends.
TEST(ReactorSocketCalls, KtlsKeysAndRecordsGoThroughTheBackend) {
    using call = uring::fake_backend::tls_call;
    uring::fake_backend probe_calls; // the probe's loopback connections, as a kernel with kTLS answers
    probe_calls.kernel_tls = true;
    ASSERT_TRUE(tls::set_ktls_probe_calls(probe_calls)) << "the probe ran before this test";
    ASSERT_EQ(tls::ktls_unavailable_reason(), "");
    tls::testing::cert_files cert = tls::testing::make_cert("ktls.test");
    tls::options opts;
    opts.certfile = cert.cert;
    opts.keyfile = cert.key;
    opts.alpn.ids = {"http/1.1"};
    std::string error;
    auto ctx = tls::context::build(opts, error);
    ASSERT_NE(ctx, nullptr) << error;
    ASSERT_TRUE(ctx->ktls());

    hosted_reactor h(true);
    h.cfg.transports = std::make_shared<tls::factory>(ctx);
    ASSERT_NO_FATAL_FAILURE(h.start(-1));
    auto has_call = [&](call::kind_t kind, uint8_t type = 0, uring::tls_direction dir = uring::tls_direction::send) {
        return std::any_of(h.fake->tls_calls.begin(), h.fake->tls_calls.end(), [&](const call& c) {
            return c.kind == kind && (type == 0 || c.type == type) && (kind != call::keys || c.dir == dir);
        });
    };

    // The handshake, over the socket: OpenSSL's client on the other end.
    SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
    ASSERT_NE(cctx, nullptr);
    SSL* client = SSL_new(cctx);
    SSL_set_fd(client, h.sv[1]);
    SSL_set_connect_state(client);
    int done = 0;
    for (int turn = 0; turn < 50 && done != 1; ++turn) {
        done = SSL_do_handshake(client);
        h.r->hosted_turn();
    }
    ASSERT_EQ(done, 1) << SSL_get_error(client, done);
    // The server's handshake ends with the client's Finished: the kernel takes the sending
    // (tickets go out as handshake records of their type) and, as that input ended on a
    // record's end, the receiving.
    for (int turn = 0; turn < 20 && !has_call(call::keys, 0, uring::tls_direction::receive); ++turn) {
        h.r->hosted_turn();
    }
    EXPECT_TRUE(has_call(call::attach));
    EXPECT_TRUE(has_call(call::keys, 0, uring::tls_direction::send));
    EXPECT_TRUE(has_call(call::record_sent, 22)) << "the session tickets, as handshake records";
    ASSERT_TRUE(has_call(call::keys, 0, uring::tls_direction::receive));

    // The "kernel" decrypts and encrypts now: the client's plaintext is read as it comes,
    // the answer goes out as plaintext (the reactor's own send).
    const std::string got = exchange(*h.r, h.sv[1], "GET /app/c HTTP/1.1\r\nHost: t\r\n\r\n", "app:/app/c:");
    EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
    EXPECT_NE(got.find("app:/app/c:"), std::string::npos) << got;

    // The client's close_notify, a record the kernel hands over only with its type: read
    // through the backend; the server's own goes out the same way, then the close.
    h.fake->queue_tls_record(h.sv[0], 21, std::string("\x01\x00", 2));
    for (int turn = 0; turn < 20 && !has(h.fake->closed, h.sv[0]); ++turn) {
        h.r->hosted_turn();
    }
    EXPECT_TRUE(has_call(call::record_read, 21));
    EXPECT_TRUE(has_call(call::record_sent, 21)) << "the server's close_notify";
    EXPECT_TRUE(has(h.fake->closed, h.sv[0]));
    for (const call& c : h.fake->tls_calls) {
        EXPECT_EQ(c.fd, h.sv[0]) << "a kTLS call on another socket";
    }

    SSL_free(client);
    SSL_CTX_free(cctx);
    ::close(h.sv[1]);
    h.r->request_stop();
    for (int turn = 0; turn < 20 && h.r->hosted_turn() != 0; ++turn) {
    }
    h.r.reset();
}

} // namespace
} // namespace ringbolt::server
