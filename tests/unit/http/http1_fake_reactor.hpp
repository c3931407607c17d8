// The fake reactor the HTTP/1.1 connection tests drive http1_connection with: bytes in,
// the runtime's dispatcher on a real route table, app messages back, the output kept as
// the wire's bytes and read back as responses. No sockets, no ring.
#pragma once

#include "http/http1_connection.hpp"
#include "http/problem.hpp"
#include "http/response_features.hpp"

#include "dispatch/dispatcher.hpp"
#include "tests/support/protocol_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::http::http1_test {

/// A producer's stream_control that counts what it hears (bytes sent, closes).
using test_support::counting_control;

/// The Date of every env (fixed, so outputs can be compared).
inline constexpr std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";
/// What a timed-out request gets: its status and the 408 problem body.
inline const std::string timeout_answer = "408 " + std::string(problem_of(http_error::request_timeout));

/// A request body streamed to the app: what was pushed, how it ended, what the app took.
struct recording_body final : body_stream {
    std::string got;
    int finished = 0;
    int failed = 0;
    body_error why = body_error::disconnect;
    uint64_t taken = 0;
    void push(std::string_view b) noexcept override { got += b; }
    void finish() noexcept override { ++finished; }
    void fail(body_error w) noexcept override {
        ++failed;
        why = w;
    }
    uint64_t unconsumed() const noexcept override { return got.size() - taken; }
    // Room for direct reads when `room` is set (a test writes into it, then commits).
    bool room = false;
    char space[32];
    uint64_t asked = 0;
    std::span<char> write_space(uint64_t max) noexcept override {
        asked = max;
        return room ? std::span<char>(space, std::min<uint64_t>(max, sizeof space)) : std::span<char>{};
    }
    void commit(size_t n) noexcept override { got.append(space, n); }
};

/// Makes the streamed request bodies, keeping the last one for the test.
struct fake_streams final : dispatch::body_stream_factory {
    std::shared_ptr<recording_body> last;
    std::shared_ptr<body_stream> make_body_stream(uint32_t, uint32_t, uint64_t) override {
        last = std::make_shared<recording_body>();
        return last;
    }
};

/// One connection (slot 7, generation 3) of a reactor whose routes are "/" (native),
/// "/py", "/users/{id:int}" and "/upload" (an async handler: its large bodies stream).
struct fake_reactor {
    dispatch::app_routes routes;
    fake_streams streams;
    connection_limits limits;
    core::core_counters counters;
    dispatch::request_dispatcher dispatcher{routes, nullptr, nullptr, 0, nullptr, &streams};
    std::vector<dispatch::app_request>& batch = dispatcher.batch();
    http1_connection conn;
    uint32_t now = 100;
    bool draining = false;
    std::string wire; ///< everything the connection asked to send

    fake_reactor() {
        add("/", method_get, true, "native");
        add("/py", method_get | method_post, false, "");
        add("/users/{id:int}", method_get, false, "");
        add("/upload", method_post, false, "");
        routes.targets.back().streams_body = true; // an async handler
        limits.max_body = 1000;
        limits.stream_body_above = 100;
        limits.body_window = 64;
        conn.open(7, 3, {}, now, limits);
    }

    void add(const char* pattern, uint16_t methods, bool native, const char* body) {
        uint32_t id = static_cast<uint32_t>(routes.targets.size());
        EXPECT_EQ(routes.table.add(pattern, methods, id), "");
        dispatch::route_target t;
        t.kind = native ? dispatch::target_kind::native : dispatch::target_kind::python;
        t.handler = id;
        t.response.headers = "Content-Type: text/plain\r\n";
        t.response.body = body;
        routes.targets.push_back(t);
    }

    bool http1 = true; ///< false: an HTTP/2-only listener (--http 2)
    protocol_env env() {
        return protocol_env{limits, date, now, draining, counters, dispatcher, SIZE_MAX, nullptr, nullptr, http1};
    }

    /// Feed bytes, then answer every batched request at once ("app:<path>:<body>").
    bool feed(std::string_view bytes, bool answer = true) {
        auto e = env();
        bool taken = conn.on_data(bytes, e);
        if (answer) {
            answer_all();
        }
        take_output();
        return taken;
    }

    void answer_all() {
        std::vector<dispatch::app_request> reqs;
        reqs.swap(batch);
        for (auto& r : reqs) {
            answer(r);
        }
    }

    static app_response message(const dispatch::app_request& r, uint8_t parts) {
        app_response m;
        m.conn_slot = r.conn_slot;
        m.conn_gen = r.conn_gen;
        m.seq = r.seq;
        m.parts = parts;
        return m;
    }

    void send(app_response&& m) {
        auto e = env();
        conn.on_app_message(std::move(m), e);
    }

    void answer(const dispatch::app_request& r) {
        app_response m = message(r, app_response::part_head | app_response::part_body | app_response::part_end);
        m.body = "app:" + std::string(r.path.in(r.data)) + ":" + std::string(r.body.in(r.data));
        m.start.fields = "Content-Type: text/plain; charset=utf-8\r\n";
        m.start.content_length = static_cast<int64_t>(m.body.size());
        send(std::move(m));
    }

    void take_output() { wire += test_support::take_output(conn.output()); }

    /// Bodies of the responses on the wire, in order (Content-Length or chunked framing).
    std::vector<std::string> bodies() const {
        std::vector<std::string> out;
        size_t pos = 0;
        while (pos < wire.size()) {
            size_t end = wire.find("\r\n\r\n", pos);
            if (end == std::string::npos) {
                break;
            }
            std::string head = wire.substr(pos, end - pos);
            pos = end + 4;
            if (head.find("Transfer-Encoding: chunked") != std::string::npos) {
                std::string body;
                while (true) {
                    size_t le = wire.find("\r\n", pos);
                    if (le == std::string::npos) {
                        return out;
                    }
                    size_t n = std::stoul(wire.substr(pos, le - pos), nullptr, 16);
                    pos = le + 2;
                    if (n == 0) {
                        pos += 2;
                        break;
                    }
                    body += wire.substr(pos, n);
                    pos += n + 2;
                }
                out.push_back(head.substr(9, 3) + " " + body);
                continue;
            }
            size_t cl = head.find("Content-Length: ");
            size_t len = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
            out.push_back(head.substr(9, 3) + " " + wire.substr(pos, len));
            pos += len;
        }
        return out;
    }
};

/// A response's head, of `length` bytes (-1: streamed), with `more` parts in the message.
inline app_response head_part(const dispatch::app_request& r, int64_t length, uint8_t more = 0) {
    app_response m = fake_reactor::message(r, app_response::part_head | more);
    m.start.content_length = length;
    return m;
}

inline app_response body_part(const dispatch::app_request& r, std::string bytes, uint8_t more = 0) {
    app_response m = fake_reactor::message(r, app_response::part_body | more);
    m.body = std::move(bytes);
    return m;
}

} // namespace ringbolt::http::http1_test
