// The runtime end to end without Python: a server with reactors on real sockets on
// 127.0.0.1, native routes, and a C++ application that answers inline or from another
// thread (the handler-threads path). Under `make tsan` this is what checks the inbox,
// the wake-ups and the drain for data races.
#include "http/response_writer.hpp"
#include "uring/server.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace ringbolt::uring {
namespace {

// Answers "app:<path>:<body>"; inline, or from its own thread through the sink.
class test_app final : public app_handler {
  public:
    explicit test_app(bool offload) : _offload(offload) {
        if (_offload) {
            _worker = std::thread([this] { work(); });
        }
    }
    ~test_app() override { stop(); }

    /// Join the worker: after this no deliver() happens (required before the server goes).
    void stop() {
        {
            std::lock_guard<std::mutex> lock(_mutex);
            _stop = true;
        }
        _cv.notify_all();
        if (_worker.joinable()) {
            _worker.join();
        }
    }
    bool offloads() const noexcept override { return _offload; }

    uint64_t handle_batch(unsigned, std::vector<http::app_request>& batch, std::vector<http::app_response>& out,
                          response_sink&) noexcept override {
        for (auto& req : batch) {
            out.push_back(answer(req));
        }
        return 0;
    }

    void submit(unsigned, std::vector<http::app_request>& batch, response_sink& sink) noexcept override {
        std::lock_guard<std::mutex> lock(_mutex);
        for (auto& req : batch) {
            _queue.push_back({&sink, std::move(req)});
        }
        _cv.notify_one();
    }

  private:
    struct job {
        response_sink* sink;
        http::app_request req;
    };

    static http::app_response answer(const http::app_request& req) {
        http::app_response r;
        r.conn_slot = req.conn_slot;
        r.conn_gen = req.conn_gen;
        r.seq = req.seq;
        r.body = "app:" + std::string(req.path.in(req.data)) + ":" + std::string(req.body.in(req.data));
        r.start.fields = "Content-Type: text/plain; charset=utf-8\r\n";
        r.start.content_length = static_cast<int64_t>(r.body.size());
        return r;
    }

    void work() {
        std::unique_lock<std::mutex> lock(_mutex);
        while (true) {
            _cv.wait(lock, [this] { return _stop || !_queue.empty(); });
            if (_queue.empty()) {
                return;
            }
            std::deque<job> jobs;
            jobs.swap(_queue);
            lock.unlock();
            for (auto& j : jobs) {
                std::vector<http::app_response> one;
                one.push_back(answer(j.req));
                j.sink->deliver(one);
            }
            lock.lock();
        }
    }

    bool _offload;
    std::mutex _mutex;
    std::condition_variable _cv;
    std::deque<job> _queue;
    bool _stop = false;
    std::thread _worker;
};

std::shared_ptr<http::app_routes> make_routes() {
    auto routes = std::make_shared<http::app_routes>();
    EXPECT_EQ(routes->table.add("/native", http::method_get, 0), "");
    http::route_target native;
    native.kind = http::target_kind::native;
    native.response.headers = "Content-Type: text/plain\r\n";
    native.response.body = "native";
    routes->targets.push_back(native);
    EXPECT_EQ(routes->table.add("/app/{x}", http::method_get | http::method_post, 1), "");
    http::route_target app;
    app.kind = http::target_kind::python;
    routes->targets.push_back(app);
    return routes;
}

int connect_to(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

// Read `n` Content-Length-framed responses; returns their bodies.
std::vector<std::string> read_bodies(int fd, size_t n) {
    std::vector<std::string> bodies;
    std::string buf;
    char chunk[16384];
    while (bodies.size() < n) {
        size_t end = buf.find("\r\n\r\n");
        if (end != std::string::npos) {
            size_t cl = buf.find("Content-Length: ");
            size_t len = cl < end ? std::stoul(buf.substr(cl + 16)) : 0;
            if (buf.size() >= end + 4 + len) {
                bodies.push_back(buf.substr(end + 4, len));
                buf.erase(0, end + 4 + len);
                continue;
            }
        }
        ssize_t r = ::recv(fd, chunk, sizeof(chunk), 0);
        if (r <= 0) {
            break;
        }
        buf.append(chunk, static_cast<size_t>(r));
    }
    return bodies;
}

struct mode {
    const char* io;
    bool offload;
};

class ServerTest : public ::testing::TestWithParam<mode> {
  protected:
    /// An ephemeral port on 127.0.0.1, this test's backend, unpinned threads.
    server_config config(unsigned threads) const {
        server_config cfg;
        cfg.port = 0;
        cfg.threads = threads;
        cfg.io = GetParam().io;
        cfg.pin_threads = false;
        return cfg;
    }
};

TEST_P(ServerTest, ConcurrentPipelinedClients) {
    test_app app(GetParam().offload);
    server_config cfg = config(2);
    cfg.buffer_count = 64; // small ring: ENOBUFS paths get exercised under load
    server srv(cfg, make_routes(), app);
    ASSERT_TRUE(srv.start().ok()) << srv.error_message();
    const uint16_t port = srv.port();

    constexpr int clients = 8;
    constexpr int rounds = 25;
    std::vector<std::thread> threads;
    std::vector<int> failures(clients, 0);
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            int fd = connect_to(port);
            for (int r = 0; r < rounds; ++r) {
                std::string x = std::to_string(c) + "-" + std::to_string(r);
                std::string reqs = "GET /app/" + x + " HTTP/1.1\r\nHost: t\r\n\r\n" +
                                   "GET /native HTTP/1.1\r\nHost: t\r\n\r\n" + "POST /app/" + x +
                                   " HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz";
                if (::send(fd, reqs.data(), reqs.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reqs.size())) {
                    ++failures[c];
                    break;
                }
                auto bodies = read_bodies(fd, 3);
                std::vector<std::string> want = {"app:/app/" + x + ":", "native", "app:/app/" + x + ":xyz"};
                if (bodies != want) {
                    ++failures[c];
                }
            }
            ::close(fd);
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (int c = 0; c < clients; ++c) {
        EXPECT_EQ(failures[c], 0) << "client " << c;
    }
    uint64_t requests = 0;
    for (const auto& r : srv.reactors()) {
        requests += r->counters().requests.get();
    }
    EXPECT_EQ(requests, static_cast<uint64_t>(clients * rounds * 3));
    srv.stop();
    srv.join();
    app.stop();
}

TEST_P(ServerTest, DrainAnswersInFlightAndClosesIdle) {
    test_app app(GetParam().offload);
    server srv(config(1), make_routes(), app);
    ASSERT_TRUE(srv.start().ok()) << srv.error_message();
    int busy = connect_to(srv.port());
    int idle = connect_to(srv.port());
    std::string req = "GET /app/a HTTP/1.1\r\nHost: t\r\n\r\n";
    ASSERT_EQ(::send(busy, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    auto first = read_bodies(busy, 1);
    ASSERT_EQ(first, std::vector<std::string>{"app:/app/a:"});
    srv.stop();
    ASSERT_TRUE(srv.wait_exit(5000)) << "drain did not finish";
    srv.join();
    app.stop();
    char c;
    EXPECT_LE(::recv(idle, &c, 1, 0), 0) << "idle connection must be closed by the drain";
    ::close(busy);
    ::close(idle);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerTest,
                         ::testing::Values(mode{"io_uring", false}, mode{"io_uring", true}, mode{"epoll", false},
                                           mode{"epoll", true}),
                         [](const auto& info) {
                             return std::string(info.param.io == std::string("epoll") ? "epoll" : "uring") +
                                    (info.param.offload ? "_offload" : "_inline");
                         });

} // namespace
} // namespace ringbolt::uring
