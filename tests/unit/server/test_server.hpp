// What the server tests share: a C++ application (answers inline or from its own thread,
// holds a request on a gate, takes an upload it never reads), its routes, and a blocking
// client that reads Content-Length-framed responses.
#pragma once

#include "http/response_writer.hpp"
#include "server/server.hpp"
#include "tests/unit/uring/fault_backend.hpp"
#include "uring/fake_backend.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
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

namespace ringbolt::server::test_support {

using uring::test_support::fault_backend;
using uring::test_support::fault_control;

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

    uint64_t handle_batch(unsigned, std::span<dispatch::app_request> batch, std::vector<http::app_response>& out,
                          response_sink&) noexcept override {
        if (batch.size() > _largest_call.load(std::memory_order_relaxed)) {
            _largest_call.store(batch.size(), std::memory_order_relaxed);
        }
        for (auto& req : batch) {
            out.push_back(answer(req));
        }
        return 0;
    }
    /// The most requests one handle_batch call was given.
    size_t largest_call() const noexcept { return _largest_call.load(std::memory_order_relaxed); }

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

    void submit(unsigned, std::vector<dispatch::app_request>& batch, response_sink& sink) noexcept override {
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
        dispatch::app_request req;
    };

    http::app_response answer(const dispatch::app_request& req) {
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
    std::atomic<size_t> _largest_call{0};
    gate _gate;
    std::mutex _mutex;
    std::condition_variable _cv;
    std::deque<job> _queue;
    std::function<bool()> _upload_ready; ///< set before the server starts
    bool _stop = false;
    std::thread _worker;
};

inline std::shared_ptr<dispatch::app_routes> make_routes() {
    auto routes = std::make_shared<dispatch::app_routes>();
    EXPECT_EQ(routes->table.add("/native", http::method_get, 0), "");
    dispatch::route_target native;
    native.kind = dispatch::target_kind::native;
    native.response.headers = "Content-Type: text/plain\r\n";
    native.response.body = "native";
    routes->targets.push_back(native);
    EXPECT_EQ(routes->table.add("/app/{x}", http::method_get | http::method_post, 1), "");
    dispatch::route_target app;
    app.kind = dispatch::target_kind::python;
    routes->targets.push_back(app);
    EXPECT_EQ(routes->table.add("/upload", http::method_post, 2), "");
    dispatch::route_target upload;
    upload.kind = dispatch::target_kind::python;
    upload.streams_body = true;
    routes->targets.push_back(upload);
    return routes;
}

/// A blocking client socket to 127.0.0.1:port (5 s receive timeout), or -1 (errno set)
/// where connect() fails; `rcvbuf` > 0 sets a small receive buffer before connecting (a
/// small TCP window).
inline int try_connect(uint16_t port, int rcvbuf = 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/// try_connect, a failure counted as the test's (a listener that must be there).
inline int connect_to(uint16_t port, int rcvbuf = 0) {
    int fd = try_connect(port, rcvbuf);
    EXPECT_GE(fd, 0) << "connect to port " << port << ": " << std::strerror(errno);
    return fd;
}

struct response {
    std::string head; ///< status line and fields, without the blank line
    std::string body;
};

// Read `n` Content-Length-framed responses (fewer when the connection ends first).
/// recv, again after EINTR. A blocking recv with SO_RCVTIMEO is not restarted
/// (signal(7)), and in this process (clients beside an io_uring server) it returned EINTR
/// with no signal delivered (strace shows none), several times in a row, in
/// Linger.KeepsReadingWhenItBeganDuringAPausesCancel when the cancel's end was not held;
/// read as "no answer", that failed the test once under load. The cause: an io_uring
/// ring torn down in a thread notifies that thread with task work some milliseconds
/// later, which interrupts its blocking call; the server's probe ring was torn down in
/// the test's thread (now it has a thread of its own: RingProbe in uring_backend_test).
/// A test that tears down a ring of its own in its thread still can, so keep retrying.
inline ssize_t recv_retrying(int fd, void* data, size_t len, int flags = 0) {
    ssize_t r;
    do {
        r = ::recv(fd, data, len, flags);
    } while (r < 0 && errno == EINTR);
    return r;
}

/// send, again after EINTR (as recv_retrying); a short count is returned as it is.
inline ssize_t send_retrying(int fd, const void* data, size_t len) {
    ssize_t r;
    do {
        r = ::send(fd, data, len, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    return r;
}

inline std::vector<response> read_responses(int fd, size_t n) {
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
        ssize_t r = recv_retrying(fd, chunk.data(), chunk.size());
        if (r <= 0) {
            break;
        }
        buf.append(chunk.data(), static_cast<size_t>(r));
    }
    return out;
}

// Read `n` Content-Length-framed responses; returns their bodies.
inline std::vector<std::string> read_bodies(int fd, size_t n) {
    std::vector<std::string> bodies;
    for (auto& r : read_responses(fd, n)) {
        bodies.push_back(std::move(r.body));
    }
    return bodies;
}

/// One unpinned reactor on an ephemeral port, backend `io`.
inline server_config one_reactor(const char* io) {
    server_config cfg;
    cfg.port = 0;
    cfg.threads = 1;
    cfg.io = io;
    cfg.pin_threads = false;
    return cfg;
}

/// One reactor (one_reactor), its backend wrapped in a fault_backend driven by
/// `control`, a 64 KiB body window (pauses come early) and uploads up to 64 MiB.
inline server_config faulty_config(const char* io, const std::shared_ptr<uring::test_support::fault_control>& control) {
    server_config cfg = one_reactor(io);
    cfg.limits.body_window = 64 * 1024;
    cfg.limits.max_body = 64 * 1024 * 1024;
    cfg.wrap_backend = [control](std::unique_ptr<uring::io_backend> inner) -> std::unique_ptr<uring::io_backend> {
        return std::make_unique<uring::test_support::fault_backend>(std::move(inner), control);
    };
    return cfg;
}

/// One unpinned reactor that the test's thread drives turn by turn (hosted_turn), on a
/// fake backend: `fake` points to it once the reactor is set up, `ready` (if any) having
/// set its options first. `fake` must outlive the reactor.
inline server_config hosted_on_fake(uring::fake_backend*& fake,
                                    std::function<void(uring::fake_backend&)> ready = nullptr) {
    server_config cfg;
    cfg.host_loop = true;
    cfg.pin_threads = false;
    cfg.wrap_backend = [&fake, ready = std::move(ready)](std::unique_ptr<uring::io_backend>) {
        auto f = std::make_unique<uring::fake_backend>();
        if (ready) {
            ready(*f);
        }
        fake = f.get();
        return std::unique_ptr<uring::io_backend>(std::move(f));
    };
    return cfg;
}

} // namespace ringbolt::server::test_support
