// The runtime end to end without Python: a server with reactors on real sockets on
// 127.0.0.1, native routes, and a C++ application that answers inline or from another
// thread (the handler-threads path). Under `make tsan` this is what checks the inbox,
// the wake-ups and the drain for data races.
#include "fault_backend.hpp"
#include "http/response_writer.hpp"
#include "uring/server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
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

// Holds a request inside the application until the test releases it, so a test can act
// (stop the server) while that request is in flight.
class gate {
  public:
    /// Called by the app: report that a request entered, then block until release().
    void hold() {
        std::unique_lock<std::mutex> lock(_mutex);
        ++_entered;
        _cv.notify_all();
        _cv.wait(lock, [this] { return _released; });
    }
    /// Wait up to `ms` for a request to be held; true when one is.
    bool wait_entered(int ms) {
        std::unique_lock<std::mutex> lock(_mutex);
        return _cv.wait_for(lock, std::chrono::milliseconds(ms), [this] { return _entered > 0; });
    }
    void release() {
        {
            std::lock_guard<std::mutex> lock(_mutex);
            _released = true;
        }
        _cv.notify_all();
    }

  private:
    std::mutex _mutex;
    std::condition_variable _cv;
    int _entered = 0;
    bool _released = false;
};

// Answers "app:<path>:<body>"; inline, or from its own thread through the sink. The path
// /app/held first waits on the gate.
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

    gate& held() noexcept { return _gate; }

    /// /upload takes its body as a stream this app never reads (unconsumed grows until
    /// the connection's body window pauses reading).
    std::shared_ptr<http::body_stream> make_body_stream(response_sink&, uint32_t, uint32_t,
                                                        uint64_t) noexcept override {
        return std::make_shared<unread_body>();
    }
    /// Offloaded only (a handler thread may wait): /upload is answered once `ready`
    /// says so (polled; at most 20 s).
    void answer_upload_when(std::function<bool()> ready) { _upload_ready = std::move(ready); }

    void submit(unsigned, std::vector<http::app_request>& batch, response_sink& sink) noexcept override {
        std::lock_guard<std::mutex> lock(_mutex);
        for (auto& req : batch) {
            _queue.push_back({&sink, std::move(req)});
        }
        _cv.notify_one();
    }

  private:
    class unread_body final : public http::body_stream {
      public:
        void push(std::string_view bytes) noexcept override { _pushed += bytes.size(); }
        void finish() noexcept override {}
        void fail(http::body_error) noexcept override {}
        uint64_t unconsumed() const noexcept override { return _pushed; }

      private:
        uint64_t _pushed = 0;
    };

    struct job {
        response_sink* sink;
        http::app_request req;
    };

    http::app_response answer(const http::app_request& req) {
        if (req.path.in(req.data) == "/app/held") {
            _gate.hold();
        }
        if (req.path.in(req.data) == "/upload" && _offload && _upload_ready) {
            auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            while (!_upload_ready() && std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
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
    gate _gate;
    std::mutex _mutex;
    std::condition_variable _cv;
    std::deque<job> _queue;
    std::function<bool()> _upload_ready; ///< set before the server starts
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
    EXPECT_EQ(routes->table.add("/upload", http::method_post, 2), "");
    http::route_target upload;
    upload.kind = http::target_kind::python;
    upload.streams_body = true;
    routes->targets.push_back(upload);
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

struct response {
    std::string head; ///< status line and fields, without the blank line
    std::string body;
};

// Read `n` Content-Length-framed responses (fewer when the connection ends first).
std::vector<response> read_responses(int fd, size_t n) {
    std::vector<response> out;
    std::string buf;
    std::vector<char> chunk(65536);
    while (out.size() < n) {
        size_t end = buf.find("\r\n\r\n");
        if (end != std::string::npos) {
            size_t cl = buf.find("Content-Length: ");
            size_t len = cl < end ? std::stoul(buf.substr(cl + 16)) : 0;
            if (buf.size() >= end + 4 + len) {
                out.push_back({buf.substr(0, end), buf.substr(end + 4, len)});
                buf.erase(0, end + 4 + len);
                continue;
            }
        }
        ssize_t r = ::recv(fd, chunk.data(), chunk.size(), 0);
        if (r <= 0) {
            break;
        }
        buf.append(chunk.data(), static_cast<size_t>(r));
    }
    return out;
}

// Read `n` Content-Length-framed responses; returns their bodies.
std::vector<std::string> read_bodies(int fd, size_t n) {
    std::vector<std::string> bodies;
    for (auto& r : read_responses(fd, n)) {
        bodies.push_back(std::move(r.body));
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

// io_uring only (epoll reads into one scratch buffer): a provided-buffer ring of two
// 4 KiB buffers with eight clients each sending 64 KiB bodies at once. The ring runs dry,
// multishot recvs end with ENOBUFS and are re-armed; the counter proves that path ran,
// and the echoed bodies prove no byte was lost or reordered on the way.
TEST(UringBufferRing, RunsDryAndEveryByteStillArrives) {
    for (bool offload : {false, true}) {
        SCOPED_TRACE(offload ? "offload" : "inline");
        test_app app(offload);
        server_config cfg;
        cfg.port = 0;
        cfg.threads = 1;
        cfg.io = "io_uring";
        cfg.pin_threads = false;
        cfg.buffer_count = 2;
        cfg.buffer_size = 4096;
        server srv(cfg, make_routes(), app);
        ASSERT_TRUE(srv.start().ok()) << srv.error_message();
        const uint16_t port = srv.port();

        constexpr int clients = 8;
        constexpr int rounds = 4;
        constexpr size_t body_size = 64 * 1024;
        std::vector<std::thread> threads;
        std::vector<std::string> failures(clients);
        for (int c = 0; c < clients; ++c) {
            threads.emplace_back([&, c] {
                int fd = connect_to(port);
                for (int r = 0; r < rounds; ++r) {
                    // A body no two requests share, so a lost, doubled or misplaced chunk shows.
                    std::string body(body_size, '\0');
                    for (size_t i = 0; i < body.size(); ++i) {
                        body[i] = static_cast<char>('a' + (i / 7 + static_cast<size_t>(c * 31 + r)) % 26);
                    }
                    std::string x = std::to_string(c) + "-" + std::to_string(r);
                    std::string req = "POST /app/" + x +
                                      " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
                                      "\r\n\r\n" + body;
                    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
                        failures[c] = "send failed in round " + std::to_string(r);
                        break;
                    }
                    auto bodies = read_bodies(fd, 1);
                    if (bodies.size() != 1 || bodies[0] != "app:/app/" + x + ":" + body) {
                        failures[c] = "round " + std::to_string(r) + ": wrong or missing echo (" +
                                      std::to_string(bodies.empty() ? 0 : bodies[0].size()) + " bytes)";
                        break;
                    }
                }
                ::close(fd);
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        srv.stop();
        ASSERT_TRUE(srv.wait_exit(30000));
        srv.join();
        app.stop();
        for (int c = 0; c < clients; ++c) {
            EXPECT_EQ(failures[c], "") << "client " << c;
        }
        const auto& counters = srv.reactors().at(0)->counters();
        EXPECT_EQ(counters.requests.get(), static_cast<uint64_t>(clients * rounds));
        EXPECT_GE(counters.bytes_in.get(), static_cast<uint64_t>(clients * rounds) * body_size);
        EXPECT_GT(counters.enobufs.get(), 0u) << "the buffer ring never ran dry: the ENOBUFS re-arm was not exercised";
        std::printf("[ info ] %s: enobufs=%llu over %d requests\n", offload ? "offload" : "inline",
                    static_cast<unsigned long long>(counters.enobufs.get()), clients * rounds);
    }
}

// stop() while a request is inside the application: the drain waits for it, answers it
// in full, and only then do the reactors exit. Idle connections are closed meanwhile.
TEST_P(ServerTest, DrainAnswersInFlightAndClosesIdle) {
    test_app app(GetParam().offload);
    server srv(config(1), make_routes(), app);
    ASSERT_TRUE(srv.start().ok()) << srv.error_message();
    int busy = connect_to(srv.port());
    int idle = connect_to(srv.port());
    std::string req = "POST /app/held HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody";
    ASSERT_EQ(::send(busy, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    ASSERT_TRUE(app.held().wait_entered(10000)) << "the request never reached the application";

    srv.stop(); // the request is in flight: held inside the app
    char c;
    if (GetParam().offload) {
        // The reactor is free while a handler thread holds the request, so the drain runs
        // now: the idle connection is closed (after its grace) before the request ends.
        EXPECT_LE(::recv(idle, &c, 1, 0), 0) << "idle connection must be closed by the drain";
    }
    // Never true while a request is held (a server that drops in-flight work exits here).
    EXPECT_FALSE(srv.wait_exit(300)) << "the server exited with a request still inside the application";

    app.held().release();
    auto answers = read_responses(busy, 1);
    ASSERT_EQ(answers.size(), 1u) << "the in-flight request got no complete answer";
    EXPECT_EQ(answers[0].head.substr(0, 15), "HTTP/1.1 200 OK") << answers[0].head;
    EXPECT_EQ(answers[0].body, "app:/app/held:body");
    EXPECT_NE(answers[0].head.find("Connection: close"), std::string::npos)
        << "an answer finished during the drain must close: " << answers[0].head;
    EXPECT_LE(::recv(busy, &c, 1, 0), 0) << "the drained connection must be closed after its answer";
    ASSERT_TRUE(srv.wait_exit(30000)) << "drain did not finish after the held request was answered";
    srv.join();
    app.stop();
    EXPECT_LE(::recv(idle, &c, 1, 0), 0) << "idle connection must be closed by the drain";
    ::close(busy);
    ::close(idle);
}

// The app answers an upload without reading its body, so the server closes after the
// answer and lingers: it must go on reading (and discarding) until the client has sent
// everything, or close() with unread bytes resets the connection and the client's upload
// fails with EPIPE (CI saw that: tests/py/test_asgi.py's unread-body test). The path that
// lost the linger's recv: reading had paused at the body window, and the pause's cancel
// was still in flight when the connection began lingering; its late end then re-armed
// nothing. The fault backend holds that cancel's end until the linger has begun (the
// client has the answer and the FIN), so the interleaving happens every time. The app
// answers from its own thread once the window is full (an inline app answers before the
// body arrives, and nothing pauses).
TEST(Linger, KeepsReadingWhenItBeganDuringAPausesCancel) {
    for (const char* io : {"io_uring", "epoll"}) {
        SCOPED_TRACE(io);
        test_app app(true);
        server_config cfg;
        cfg.port = 0;
        cfg.threads = 1;
        cfg.io = io;
        cfg.pin_threads = false;
        cfg.limits.body_window = 64 * 1024;
        cfg.limits.max_body = 64 * 1024 * 1024;
        cfg.linger_s = 20; // a lost recv shows as a reset after this, not as a slow pass
        auto control = std::make_shared<testing::fault_control>();
        // Answered once reading has paused at the window and the cancel's end is held.
        app.answer_upload_when([control] { return control->cancel_ends_held.load() >= 1; });
        cfg.wrap_backend = [control](std::unique_ptr<io_backend> inner) -> std::unique_ptr<io_backend> {
            return std::make_unique<testing::fault_backend>(std::move(inner), control);
        };
        control->hold_cancel_ends = true;
        server srv(cfg, make_routes(), app);
        ASSERT_TRUE(srv.start().ok()) << srv.error_message();
        const auto& counters = srv.reactors().at(0)->counters();

        int fd = connect_to(srv.port());
        timeval tv{30, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        // More than the kernel's socket buffers can hold: the client finishes only if
        // the server reads.
        constexpr size_t body_size = 32 * 1024 * 1024;
        constexpr size_t first = 192 * 1024; // over the window: reading pauses
        // Head and body in one send, so the window fills as the request arrives.
        std::string part = "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body_size) +
                           "\r\n\r\n" + std::string(first, 'u');
        ASSERT_EQ(::send(fd, part.data(), part.size(), MSG_NOSIGNAL), static_cast<ssize_t>(part.size()));

        auto answers = read_responses(fd, 1);
        ASSERT_EQ(answers.size(), 1u) << "no answer to the upload";
        EXPECT_EQ(answers[0].head.substr(0, 15), "HTTP/1.1 200 OK") << answers[0].head;
        EXPECT_EQ(answers[0].body, "app:/upload:");
        char c;
        ASSERT_EQ(::recv(fd, &c, 1, 0), 0) << "the server should close (FIN) after answering an unread upload";
        // The linger began while the pause's cancel was held: the path under test runs.
        ASSERT_GE(control->cancel_ends_held.load(), 1) << "reading never paused at the body window";
        EXPECT_EQ(control->cancel_ends_delivered.load(), 0);
        control->hold_cancel_ends = false;

        // The rest of the upload: every byte must be taken (read and discarded).
        std::string rest(1024 * 1024, 'v');
        size_t sent = 0;
        int send_errno = 0;
        while (sent < body_size - first) {
            size_t want = std::min(rest.size(), body_size - first - sent);
            ssize_t n = ::send(fd, rest.data(), want, MSG_NOSIGNAL);
            if (n <= 0) {
                send_errno = errno;
                break;
            }
            sent += static_cast<size_t>(n);
        }
        EXPECT_EQ(sent, body_size - first)
            << "the upload failed after " << sent << " bytes: " << std::strerror(send_errno)
            << " (the lingering connection stopped reading, then reset)";
        ::shutdown(fd, SHUT_WR);
        // The server reads to the client's FIN, then closes: no reset.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (counters.connections_open.get() != 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        EXPECT_EQ(counters.connections_open.get(), 0u) << "the lingering connection never closed";
        EXPECT_GE(counters.bytes_in.get(), static_cast<uint64_t>(body_size))
            << "the lingering connection did not read the rest of the upload";
        EXPECT_GE(control->cancel_ends_delivered.load(), 1);
        int err = 0;
        socklen_t len = sizeof(err);
        ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
        EXPECT_EQ(err, 0) << "the connection was reset: " << std::strerror(err);
        ::close(fd);

        srv.stop();
        ASSERT_TRUE(srv.wait_exit(30000));
        srv.join();
        app.stop();
    }
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
