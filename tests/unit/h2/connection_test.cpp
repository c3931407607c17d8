// h2::connection without a ring: a libnghttp2 client session on the other side makes
// the frames and reads the answers; the dispatcher is a fake that answers natively or
// keeps the request for the test to answer as the app.
#include "h2/connection.hpp"
#include "http/problem.hpp"
#include "http/response_features.hpp"
#include "tests/unit/h2/nghttp2_client.hpp"

#include "tests/support/protocol_harness.hpp"
#include "tests/support/stream_request_cases.hpp"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <sys/mman.h>
#include <zlib.h>

#include <cstdlib>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using namespace ringbolt;

struct fake_dispatcher final : http::dispatcher {
    std::vector<uint64_t> to_app;
    std::vector<std::string> bodies;
    std::vector<std::string> heads;
    // "/file": answered with this range of `file` (no file for HEAD, as static mounts do).
    std::shared_ptr<core::file_handle> file;
    uint64_t file_offset = 0;
    uint64_t file_length = 0;
    std::string bytes_body; ///< "/bytes": answered with these bytes
    /// Response features (compression) applied to every request, as the server's dispatcher does.
    const http::response_features* features = nullptr;
    verdict on_request(http::protocol& conn, const http::request_event& ev, http::protocol_env& env,
                       std::shared_ptr<http::body_stream>&) override {
        if (features != nullptr) {
            std::string request_id;
            std::string reason;
            http::decorate_request(*features, ev.head, ev.ctx, request_id, reason);
        }
        if (ev.body_follows) {
            return verdict::buffer;
        }
        heads.emplace_back(ev.head_bytes);
        bodies.emplace_back(ev.body);
        EXPECT_EQ(ev.head.version_minor, http::version_http2);
        if (ev.head.path == "/bytes") { // a native answer with a body in memory (a small static file)
            conn.respond(ev.seq, ev.ctx, 200, "Content-Type: application/octet-stream\r\n", bytes_body, env);
            return verdict::answered;
        }
        if (ev.head.path == "/file") {
            conn.respond_file(ev.seq, ev.ctx, 200, "Content-Type: application/octet-stream\r\n",
                              ev.ctx.head_request ? nullptr : file, file_offset, file_length, env);
            return verdict::answered;
        }
        return test_support::answer_or_keep(conn, ev, env, to_app); // "/native" answered here
    }
};

using credit = test_support::counting_control; // what a producer hears: bytes sent, closes

// A client session: submit requests, feed it the server's bytes, read the answers.
struct client : h2_test::nghttp2_client {
    int32_t get(const std::string& path, std::vector<std::pair<std::string, std::string>> extra = {},
                std::string method = "GET") {
        std::vector<std::pair<std::string, std::string>> h = {
            {":method", method}, {":path", path}, {":scheme", "http"}, {":authority", "x"}};
        h.insert(h.end(), extra.begin(), extra.end());
        return submit(std::move(h), nullptr);
    }
};

struct harness {
    http::connection_limits limits;
    core::core_counters counters;
    fake_dispatcher dispatch;
    uint32_t now = 1000;
    h2::connection conn;
    client cl;

    explicit harness(const h2::settings& cfg = {}) : conn(cfg) { conn.open(1, 1, {}, now, limits); }
    http::protocol_env env() { return test_support::make_env(limits, now, counters, dispatch); }
    /// Client bytes to the server (the preface first), `step` bytes at a time; then the
    /// server's output back to the client.
    void exchange(size_t step = SIZE_MAX) {
        std::string bytes = cl.out; // (the client session sends the preface itself)
        EXPECT_TRUE(sent_preface || bytes.starts_with(h2::client_preface));
        sent_preface = true;
        cl.out.clear();
        auto e = env();
        for (size_t i = 0; i < bytes.size(); i += step) {
            conn.on_data(std::string_view(bytes).substr(i, step), e);
        }
        cl.receive(take_output());
    }
    std::string take_output() { return test_support::take_output(conn.output()); }
    /// The clock reaches the connection's deadline: on_timeout, its output to the client.
    void reach_deadline() {
        now = conn.deadline() + 1; // passed once the clock reads a later second (core/clock.hpp)
        auto e = env();
        conn.on_timeout(e);
        cl.receive(take_output());
    }
    /// GET `path` sent and answered: the stream's id, its 200 checked.
    int32_t get_ok(const std::string& path, std::vector<std::pair<std::string, std::string>> extra = {}) {
        int32_t id = cl.get(path, std::move(extra));
        exchange();
        EXPECT_EQ(cl.answers[id].headers[":status"], "200") << path;
        return id;
    }
    /// The client got a GOAWAY with `code`, the connection closes once that is sent, and
    /// the counter of its `cause` (an abuse) counted it once.
    void expect_goaway(uint32_t code, const core::counter* cause = nullptr) const {
        EXPECT_EQ(cl.goaway, code);
        EXPECT_TRUE(conn.close_after_flush());
        if (cause != nullptr) {
            EXPECT_EQ(cause->get(), 1u);
        }
    }
    bool sent_preface = false;
};

TEST(H2Connection, NativeAnswerAtEverySplit) {
    for (size_t step : {size_t{1}, size_t{7}, size_t{64}, SIZE_MAX}) {
        harness h;
        int32_t id = h.cl.get("/native", {{"cookie", "a=1"}, {"cookie", "b=2"}});
        h.exchange(step);
        auto& a = h.cl.answers[id];
        EXPECT_EQ(a.headers[":status"], "200") << step;
        EXPECT_EQ(a.body, "native");
        EXPECT_TRUE(a.ended);
        ASSERT_EQ(h.dispatch.heads.size(), 1u);
        EXPECT_NE(h.dispatch.heads[0].find("cookie: a=1; b=2\r\n"), std::string::npos) << h.dispatch.heads[0];
        EXPECT_NE(h.dispatch.heads[0].find("host: x\r\n"), std::string::npos);
    }
}

// A native answer's body in memory goes into the output queue without a copy per DATA
// frame: moved when one frame takes it whole, else one buffer that every frame views.
TEST(H2Connection, NativeBodyIsNotCopiedFrameByFrame) {
    for (size_t size : {size_t{3000}, size_t{40000}}) {
        harness h;
        h.dispatch.bytes_body.clear();
        for (size_t i = 0; i < size; ++i) {
            h.dispatch.bytes_body.push_back(static_cast<char>('a' + i % 23));
        }
        int32_t id = h.cl.get("/bytes");
        std::string bytes = h.cl.out;
        h.cl.out.clear();
        auto e = h.env();
        h.conn.on_data(bytes, e);
        core::send_batch b;
        std::string wire;
        std::vector<const char*> views; // where each large body segment's bytes are
        std::vector<size_t> view_sizes;
        while (h.conn.output().take_front(b, 64, 1 << 20)) {
            for (const core::segment& s : b.segments()) {
                std::string_view v = s.bytes();
                wire.append(v.substr(static_cast<size_t>(s.done)));
                if (v.size() >= 1024) {
                    views.push_back(v.data());
                    view_sizes.push_back(v.size());
                }
            }
            b.consume(b.remaining());
            b.reset();
        }
        h.cl.receive(wire);
        EXPECT_EQ(h.cl.answers[id].body, h.dispatch.bytes_body) << size;
        EXPECT_TRUE(h.cl.answers[id].ended);
        if (size <= 16384) {
            ASSERT_EQ(views.size(), 1u); // the whole body, its own segment
            EXPECT_EQ(view_sizes[0], size);
        } else {
            // DATA frames of 16384, 16384 and 7232 bytes: three views into one buffer.
            ASSERT_EQ(views.size(), 3u);
            EXPECT_EQ(views[1], views[0] + 16384);
            EXPECT_EQ(views[2], views[1] + 16384);
        }
    }
}

TEST(H2Connection, NativeFileAnswerAndHead) {
    // A range of a file larger than the client's first window (65535): sent as the
    // client's WINDOW_UPDATEs come; HEAD announces the length and sends no DATA.
    char name[] = "/tmp/h2_connection_test_XXXXXX";
    int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    unlink(name);
    std::string content;
    for (int i = 0; i < 100000; ++i) {
        content.push_back(static_cast<char>(i % 251));
    }
    ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    harness h;
    h.dispatch.file = std::make_shared<core::file_handle>(fd);
    h.dispatch.file_offset = 10;
    h.dispatch.file_length = 80000;
    int32_t id = h.cl.get("/file");
    int32_t head = h.cl.get("/file", {}, "HEAD");
    for (int i = 0; i < 5 && !h.cl.answers[id].ended; ++i) {
        h.exchange();
    }
    auto& a = h.cl.answers[id];
    EXPECT_EQ(a.headers[":status"], "200");
    EXPECT_EQ(a.headers["content-length"], "80000");
    EXPECT_TRUE(a.ended);
    EXPECT_TRUE(a.body == content.substr(10, 80000)) << a.body.size();
    auto& b = h.cl.answers[head];
    EXPECT_EQ(b.headers[":status"], "200");
    EXPECT_EQ(b.headers["content-length"], "80000");
    EXPECT_TRUE(b.ended);
    EXPECT_TRUE(b.body.empty());
}

TEST(H2Connection, AppAnswersWholeAndStreamedWithCredit) {
    harness h;
    int32_t a = h.cl.get("/a");
    int32_t b = h.cl.get("/b");
    h.exchange();
    ASSERT_EQ(h.dispatch.to_app.size(), 2u);
    auto e = h.env();
    http::app_response whole;
    whole.seq = static_cast<uint64_t>(a);
    whole.start.status = 201;
    whole.start.static_fields = "Content-Type: text/plain\r\n";
    whole.body = "whole";
    h.conn.on_app_message(std::move(whole), e);
    auto c = std::make_shared<credit>();
    http::app_response head;
    head.seq = static_cast<uint64_t>(b);
    head.parts = http::app_response::part_head | http::app_response::part_body;
    head.stream = c;
    head.body = std::string(40000, 's'); // more than the client's 64 KiB window with the rest
    h.conn.on_app_message(std::move(head), e);
    http::app_response more;
    more.seq = static_cast<uint64_t>(b);
    more.parts = http::app_response::part_body | http::app_response::part_end;
    more.body = std::string(40000, 't');
    more.rare().trailers = "X-Done: yes\r\n";
    h.conn.on_app_message(std::move(more), e);
    for (int i = 0; i < 5; ++i) {
        h.cl.receive(h.take_output());
        h.exchange(); // the client's WINDOW_UPDATEs open the window
    }
    EXPECT_EQ(h.cl.answers[a].headers[":status"], "201");
    EXPECT_EQ(h.cl.answers[a].body, "whole");
    EXPECT_EQ(h.cl.answers[b].body.size(), 80000u);
    EXPECT_EQ(h.cl.answers[b].headers["x-done"], "yes");
    EXPECT_TRUE(h.cl.answers[b].ended);
    EXPECT_EQ(c->sent, 80000u); // every body byte credited once sent
    EXPECT_EQ(c->closed, 0);
    EXPECT_EQ(h.conn.outstanding(), 0u);
}

TEST(H2Connection, OversizedHeaderListIs431) {
    harness h;
    h.limits.parser.max_head_bytes = 1000;
    h.conn.open(1, 1, {}, h.now, h.limits);
    int32_t id = h.cl.get("/native", {{"x-big", std::string(2000, 'v')}});
    h.exchange();
    EXPECT_EQ(h.cl.answers[id].headers[":status"], "431");
    EXPECT_EQ(h.counters.h2_header_overflows.get(), 1u);
    EXPECT_TRUE(h.dispatch.heads.empty());
}

// What the shared cases (tests/support/stream_request_cases.hpp) ask of a harness.
struct request_cases_harness : harness {
    int32_t request(const std::string& path, std::vector<std::pair<std::string, std::string>> extra) {
        return cl.get(path, std::move(extra));
    }
    void run() { exchange(); }
    bool kept() const { return cl.goaway == 0xffffffffu; }
};

TEST(H2Connection, RepeatedCredentialsAre400) {
    test_support::repeated_credentials_are_400<request_cases_harness>();
}

TEST(H2Connection, RapidResetGetsEnhanceYourCalm) {
    h2::settings cfg;
    cfg.abuse.reset_burst = 5;
    cfg.abuse.reset_rate = 1;
    harness h(cfg);
    for (int i = 0; i < 10; ++i) {
        int32_t id = h.cl.get("/a");
        nghttp2_submit_rst_stream(h.cl.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        h.cl.flush();
    }
    h.exchange();
    h.expect_goaway(NGHTTP2_ENHANCE_YOUR_CALM, &h.counters.h2_floods);
}

TEST(H2Connection, IdleTimeoutSendsGoawayAndCloses) {
    harness h;
    h.get_ok("/native");
    ASSERT_NE(h.conn.deadline(), 0u);
    h.reach_deadline();
    h.expect_goaway(NGHTTP2_NO_ERROR);
}

TEST(H2Connection, ZeroWindowStallGetsEnhanceYourCalm) {
    // A client that keeps its window at 0 (SETTINGS_INITIAL_WINDOW_SIZE 0) holds a
    // response forever: after the body timeout the connection goes, as for the other
    // abuses (GOAWAY ENHANCE_YOUR_CALM, not NO_ERROR: the client is not done, it stalls).
    harness h;
    nghttp2_settings_entry zero{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0};
    nghttp2_submit_settings(h.cl.session, NGHTTP2_FLAG_NONE, &zero, 1);
    int32_t id = h.get_ok("/native");
    EXPECT_TRUE(h.cl.answers[id].body.empty());
    ASSERT_EQ(h.conn.deadline(), h.now + h.limits.write_timeout_s); // (http/stream_policy.hpp send_deadline)
    h.reach_deadline();
    h.expect_goaway(NGHTTP2_ENHANCE_YOUR_CALM, &h.counters.h2_window_stalls);
}

TEST(H2Connection, ReleaseTellsProducers) {
    harness h;
    int32_t id = h.cl.get("/a");
    h.exchange();
    auto c = std::make_shared<credit>();
    http::app_response head;
    head.seq = static_cast<uint64_t>(id);
    head.parts = http::app_response::part_head;
    head.stream = c;
    auto e = h.env();
    h.conn.on_app_message(std::move(head), e);
    h.conn.release();
    EXPECT_EQ(c->closed, 1);
    EXPECT_TRUE(h.conn.output().empty());
}

// What a gzip stream decodes to so far (a flushed stream that may not have ended);
// `ended`, when given: whether its trailer came too.
std::string gunzip_prefix(std::string_view gz, bool* ended = nullptr) {
    z_stream zs{};
    EXPECT_EQ(inflateInit2(&zs, 16 + 15), Z_OK);
    std::string out(1 << 20, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    zs.avail_in = static_cast<uInt>(gz.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&zs, Z_SYNC_FLUSH);
    EXPECT_TRUE(rc == Z_OK || rc == Z_STREAM_END) << rc;
    if (ended != nullptr) {
        *ended = rc == Z_STREAM_END && zs.avail_in == 0;
    }
    out.resize(out.size() - zs.avail_out);
    inflateEnd(&zs);
    return out;
}

http::response_features gzip_features() {
    http::response_features f;
    EXPECT_EQ(http::configure_compression(f, 0, {"gzip"}, {-1}, {}), "");
    return f;
}

TEST(H2Connection, CodedWholeAndStreamedAppAnswers) {
    http::response_features f = gzip_features();
    harness h;
    h.dispatch.features = &f;
    int32_t a = h.cl.get("/a", {{"accept-encoding", "gzip"}});
    int32_t b = h.cl.get("/b", {{"accept-encoding", "gzip"}});
    int32_t n = h.cl.get("/native", {{"accept-encoding", "gzip"}});
    h.exchange();
    ASSERT_EQ(h.dispatch.to_app.size(), 2u);
    auto e = h.env();
    http::app_response whole;
    whole.seq = static_cast<uint64_t>(a);
    whole.start.static_fields = "Content-Type: text/plain\r\n";
    whole.body = std::string(3000, 'w');
    h.conn.on_app_message(std::move(whole), e);
    auto c = std::make_shared<credit>();
    std::string sent;
    for (int i = 0; i < 3; ++i) {
        http::app_response m;
        m.seq = static_cast<uint64_t>(b);
        m.parts = (i == 0 ? http::app_response::part_head : 0) | http::app_response::part_body |
                  (i == 2 ? http::app_response::part_end : 0);
        m.start.static_fields = "Content-Type: text/plain\r\n";
        m.start.content_length = i == 0 ? 3000 : -1; // a declared length goes: the coded one is not known
        m.stream = i == 0 ? c : nullptr;
        m.body = std::string(1000, static_cast<char>('x' + i));
        sent += m.body;
        h.conn.on_app_message(std::move(m), e);
    }
    h.cl.receive(h.take_output());
    auto& wa = h.cl.answers[a];
    EXPECT_EQ(wa.headers["content-encoding"], "gzip");
    EXPECT_EQ(wa.headers["vary"], "Accept-Encoding");
    EXPECT_EQ(wa.headers["content-length"], std::to_string(wa.body.size()));
    EXPECT_EQ(gunzip_prefix(wa.body), std::string(3000, 'w'));
    EXPECT_TRUE(wa.ended);
    auto& sb = h.cl.answers[b];
    EXPECT_EQ(sb.headers["content-encoding"], "gzip");
    EXPECT_EQ(sb.headers.count("content-length"), 0u);
    bool coded_end = false;
    EXPECT_EQ(gunzip_prefix(sb.body, &coded_end), sent);
    EXPECT_TRUE(coded_end); // the coded stream ended whole
    EXPECT_TRUE(sb.ended);
    EXPECT_EQ(c->sent, sent.size()); // the producer is credited its own bytes, not the coded ones
    EXPECT_EQ(h.cl.answers[n].headers["content-encoding"], "gzip");
    EXPECT_EQ(gunzip_prefix(h.cl.answers[n].body), test_support::native_body);
    EXPECT_EQ(h.conn.outstanding(), 0u);
}

TEST(H2Connection, FilePieceInACodedStreamResetsThatStreamOnly) {
    // A file piece goes out with sendfile: its bytes never pass through the encoder, so a
    // coded stream cannot take one. The stream is reset (INTERNAL_ERROR: the client
    // can tell the answer is cut), its producer told to stop once; the connection goes on.
    http::response_features f = gzip_features();
    int fd = memfd_create("h2_connection_test", 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "file bytes", 10), 10);
    harness h;
    h.dispatch.features = &f;
    int32_t a = h.cl.get("/a", {{"accept-encoding", "gzip"}});
    h.exchange();
    ASSERT_EQ(h.dispatch.to_app.size(), 1u);
    auto e = h.env();
    auto c = std::make_shared<credit>();
    http::app_response head;
    head.seq = static_cast<uint64_t>(a);
    head.parts = http::app_response::part_head | http::app_response::part_body;
    head.start.static_fields = "Content-Type: text/plain\r\n";
    head.stream = c;
    head.body = "the first piece, coded";
    h.conn.on_app_message(std::move(head), e);
    http::app_response piece;
    piece.seq = static_cast<uint64_t>(a);
    piece.parts = http::app_response::part_body;
    piece.rare().file = std::make_shared<core::file_handle>(fd);
    piece.more->file_length = 10;
    h.conn.on_app_message(std::move(piece), e);
    http::app_response end; // the producer's end, if it sends one after all: nothing more happens
    end.seq = static_cast<uint64_t>(a);
    end.parts = http::app_response::part_end;
    h.conn.on_app_message(std::move(end), e);
    h.cl.receive(h.take_output());
    auto& r = h.cl.answers[a];
    EXPECT_EQ(r.headers[":status"], "200");
    EXPECT_EQ(r.headers["content-encoding"], "gzip");
    EXPECT_EQ(gunzip_prefix(r.body), "the first piece, coded"); // no file byte went out
    EXPECT_EQ(r.reset, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
    EXPECT_FALSE(r.ended);
    EXPECT_EQ(c->closed, 1);
    EXPECT_EQ(h.conn.outstanding(), 0u);
    int32_t b = h.get_ok("/native", {{"accept-encoding", "gzip"}});
    EXPECT_EQ(gunzip_prefix(h.cl.answers[b].body), test_support::native_body);
    EXPECT_TRUE(h.cl.answers[b].ended);
    EXPECT_EQ(h.cl.goaway, 0xffffffffu); // no GOAWAY: the connection serves on
}

} // namespace
