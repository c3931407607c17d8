// Bodies read whole: large buffers kept and reused (http/body_buffers.hpp), and
// HTTP/1.1's tail handed to the request without a copy (request_event::buffer), driven
// through the real protocol and dispatcher with a fake reactor.
#include "http/body_buffers.hpp"
#include "http/http1_connection.hpp"

#include "dispatch/dispatcher.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace ringbolt::http {
namespace {

// Empties the pool (a test starts from nothing kept).
void drain_pool() {
    while (body_buffers_kept() != 0) {
        std::string s = take_body_buffer(body_buffer_min);
        std::string().swap(s);
    }
}

TEST(BodyBuffers, ABufferGivenBackIsTheNextTaken) {
    drain_pool();
    std::string a = take_body_buffer(300'000);
    ASSERT_GE(a.capacity(), 300'000u);
    a.assign(1000, 'x');
    const char* storage = a.data();
    give_body_buffer(std::move(a));
    EXPECT_TRUE(a.empty());
    EXPECT_GE(body_buffers_kept(), 300'000u);
    std::string b = take_body_buffer(200'000); // smaller fits in it
    EXPECT_EQ(b.data(), storage);
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(body_buffers_kept(), 0u);
    std::string c = take_body_buffer(400'000); // nothing kept: a new one
    EXPECT_NE(c.data(), storage);
    EXPECT_GE(c.capacity(), 400'000u);
}

TEST(BodyBuffers, SmallBuffersAreNotKeptAndTheBoundHolds) {
    drain_pool();
    std::string small = take_body_buffer(1000);
    give_body_buffer(std::move(small));
    EXPECT_EQ(body_buffers_kept(), 0u);
    std::vector<std::string> many;
    for (size_t i = 0; i < body_buffers_kept_max / (1u << 20) + 4; ++i) {
        many.push_back(take_body_buffer(1u << 20));
    }
    for (std::string& s : many) {
        give_body_buffer(std::move(s));
    }
    EXPECT_LE(body_buffers_kept(), body_buffers_kept_max);
    EXPECT_GE(body_buffers_kept(), body_buffers_kept_max - (size_t{2} << 20));
    drain_pool();
}

TEST(BodyBuffers, GivenAndTakenFromManyThreads) {
    drain_pool();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([] {
            for (int i = 0; i < 200; ++i) {
                std::string s = take_body_buffer(body_buffer_min + static_cast<size_t>(i) * 512);
                s.assign(100, 'a');
                give_body_buffer(std::move(s));
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_LE(body_buffers_kept(), body_buffers_kept_max);
    drain_pool();
}

struct no_streams final : dispatch::body_stream_factory {
    std::shared_ptr<body_stream> make_body_stream(uint32_t, uint32_t, uint64_t) override { return nullptr; }
};

// The protocol and dispatcher with one Python route (POST /py), bodies up to 4 MiB read whole.
struct whole_body_reactor {
    dispatch::app_routes routes;
    no_streams streams;
    connection_limits limits;
    core::core_counters counters;
    dispatch::request_dispatcher dispatcher{routes, nullptr, nullptr, 0, nullptr, &streams};
    http1_connection conn;
    bool draining = false;

    whole_body_reactor() {
        EXPECT_EQ(routes.table.add("/py", method_post, 0), "");
        dispatch::route_target t;
        t.kind = dispatch::target_kind::python;
        routes.targets.push_back(t);
        limits.max_body = 4u << 20;
        limits.stream_body_above = 4u << 20;
        conn.open(1, 1, {}, 100, limits);
    }
    void feed(std::string_view bytes) {
        protocol_env e{
            limits, "Sun, 06 Nov 1994 08:49:37 GMT", 100, draining, counters, dispatcher, SIZE_MAX, nullptr, nullptr,
            true};
        conn.on_data(bytes, e);
    }
};

std::string body_of(size_t n) {
    std::string b(n, '\0');
    for (size_t i = 0; i < n; ++i) {
        b[i] = static_cast<char>('a' + i % 26);
    }
    return b;
}

TEST(BodyBuffers, ATailHoldingOneRequestBecomesTheRequestsData) {
    drain_pool();
    // A kept buffer: the tail takes it for the body, the request gets the same storage.
    std::string kept = take_body_buffer(600'000);
    const char* storage = kept.data();
    give_body_buffer(std::move(kept));
    whole_body_reactor f;
    std::string body = body_of(500'000);
    std::string head = "POST /py HTTP/1.1\r\nHost: t\r\nX-A: b\r\nContent-Length: 500000\r\n\r\n";
    f.feed(head);
    for (size_t pos = 0; pos < body.size(); pos += 4096) {
        f.feed(std::string_view(body).substr(pos, 4096));
    }
    auto& batch = f.dispatcher.batch();
    ASSERT_EQ(batch.size(), 1u);
    const dispatch::app_request& r = batch[0];
    EXPECT_EQ(r.data.data(), storage); // no copy: the tail's storage, which was the kept buffer
    EXPECT_EQ(r.body.in(r.data), body);
    EXPECT_EQ(r.path.in(r.data), "/py");
    ASSERT_EQ(r.headers.size(), 6u);
    EXPECT_EQ(r.headers[2].in(r.data), "X-A");
    EXPECT_EQ(r.headers[3].in(r.data), "b");
    EXPECT_GE(r.data.capacity() - r.data.size(), dispatch::app_request_padding);
    EXPECT_EQ(body_buffers_kept(), 0u);
    batch.clear(); // the request ends: its buffer is kept for the next body
    EXPECT_GE(body_buffers_kept(), 500'000u);
    std::string again = take_body_buffer(500'000);
    EXPECT_EQ(again.data(), storage);
}

TEST(BodyBuffers, BytesAfterTheBodyKeepTheTailAndTheRequestIsACopy) {
    drain_pool();
    whole_body_reactor f;
    std::string body = body_of(300'000);
    std::string wire = "POST /py HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\n\r\n" + body +
                       "POST /py HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz";
    // The first request's end and the second request arrive in the same read.
    size_t split = wire.size() - 200;
    f.feed(std::string_view(wire).substr(0, 4096));
    for (size_t pos = 4096; pos < split; pos += 4096) {
        f.feed(std::string_view(wire).substr(pos, std::min<size_t>(4096, split - pos)));
    }
    f.feed(std::string_view(wire).substr(split));
    auto& batch = f.dispatcher.batch();
    ASSERT_EQ(batch.size(), 2u);
    EXPECT_EQ(batch[0].body.in(batch[0].data), body);
    EXPECT_EQ(batch[1].body.in(batch[1].data), "xyz");
    EXPECT_EQ(batch[1].path.in(batch[1].data), "/py");
}

} // namespace
} // namespace ringbolt::http
