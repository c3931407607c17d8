// Request bodies on h2::connection against its flow control (issue 25): many streams
// upload at once while a fake app reads them as the real one does (credit by
// http::body_credit_due); a libnghttp2 client sends DATA in orders a seeded random
// script picks (deferring and resuming streams, WINDOW_UPDATEs, resets). Properties: the
// connection window is never held by buffered bytes, a stream buffers no more than its
// window, every stream the client did not reset is answered with its byte count, and a
// body that stops half-way is reset after the body timeout.
#include "h2/connection.hpp"

#include "tests/support/protocol_harness.hpp"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace ringbolt;

constexpr uint32_t stream_window = 16 * 1024;     // small windows: many rounds of credit per body
constexpr uint32_t connection_window = 64 * 1024; // less than the streams' windows together

/// The app's end of a streamed body: counts what arrives; take() is a read.
struct fake_body final : http::body_stream {
    uint64_t pushed = 0;
    uint64_t taken = 0;
    uint64_t most_untaken = 0; ///< the most ever buffered at once (memory per stream)
    bool finished = false;
    bool failed = false;
    http::body_error why = http::body_error::disconnect;
    bool asked = false;
    void push(std::string_view b) noexcept override {
        pushed += b.size();
        most_untaken = std::max(most_untaken, pushed - taken);
    }
    void finish() noexcept override { finished = true; }
    void fail(http::body_error w) noexcept override {
        if (!failed && !finished) {
            failed = true;
            why = w;
        }
    }
    uint64_t unconsumed() const noexcept override { return pushed - taken; }
    /// Take everything that arrived; true when credit is due (as request_body::take).
    bool take(uint64_t window) {
        uint64_t before = unconsumed();
        taken = pushed;
        bool first = !asked;
        asked = true;
        return http::body_credit_due(first, before, 0, window) && !finished && !failed;
    }
};

/// Streams bodies (no Content-Length) to the app; buffered ones (with one) are kept for
/// the app to answer.
struct app_dispatcher final : http::dispatcher {
    std::map<uint64_t, std::shared_ptr<fake_body>> bodies;
    std::map<uint64_t, uint64_t> buffered; ///< seq -> body size, answered by the app
    verdict on_request(http::protocol&, const http::request_event& ev, http::protocol_env&,
                       std::shared_ptr<http::body_stream>& stream) override {
        if (ev.body_follows) {
            auto b = std::make_shared<fake_body>();
            bodies[ev.seq] = b;
            stream = b;
            return verdict::streaming;
        }
        buffered[ev.seq] = ev.body.size();
        return verdict::to_app;
    }
};

/// A client session whose streams upload `size` bytes each, in pieces and at moments
/// the test picks: a stream's data provider defers unless the stream may send now.
struct upload_client {
    struct upload {
        uint64_t size = 0;
        uint64_t sent = 0;
        uint64_t allowed = UINT64_MAX; ///< bytes the script lets this stream send so far
        bool deferred = false;
        bool reset = false; ///< reset by the client
        size_t piece = 16384;
        std::string status, body;
        bool answered = false;
        uint32_t reset_by_server = 0xffffffff;
    };
    nghttp2_session* session = nullptr;
    std::string out;
    std::map<int32_t, upload> streams;
    uint32_t goaway = 0xffffffff;

    upload_client() {
        nghttp2_session_callbacks* cb;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_send_callback(
            cb, [](nghttp2_session*, const uint8_t* d, size_t n, int, void* u) -> ssize_t {
                static_cast<upload_client*>(u)->out.append(reinterpret_cast<const char*>(d), n);
                return static_cast<ssize_t>(n);
            });
        nghttp2_session_callbacks_set_on_header_callback(
            cb,
            [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl, const uint8_t* v, size_t vl,
               uint8_t, void* u) -> int {
                if (std::string_view(reinterpret_cast<const char*>(n), nl) == ":status") {
                    static_cast<upload_client*>(u)->streams[f->hd.stream_id].status.assign(
                        reinterpret_cast<const char*>(v), vl);
                }
                return 0;
            });
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
            cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* u) -> int {
                static_cast<upload_client*>(u)->streams[id].body.append(reinterpret_cast<const char*>(d), n);
                return 0;
            });
        nghttp2_session_callbacks_set_on_frame_recv_callback(
            cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) -> int {
                auto* c = static_cast<upload_client*>(u);
                if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
                    (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
                    c->streams[f->hd.stream_id].answered = true;
                } else if (f->hd.type == NGHTTP2_RST_STREAM) {
                    c->streams[f->hd.stream_id].reset_by_server = f->rst_stream.error_code;
                } else if (f->hd.type == NGHTTP2_GOAWAY) {
                    c->goaway = f->goaway.error_code;
                }
                return 0;
            });
        nghttp2_session_client_new(&session, cb, this);
        nghttp2_session_callbacks_del(cb);
        nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
    }
    ~upload_client() { nghttp2_session_del(session); }

    static ssize_t read_body(nghttp2_session* s, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                             nghttp2_data_source*, void*) {
        auto* c = static_cast<upload_client*>(nghttp2_session_get_stream_user_data(s, id));
        upload& u = c->streams[id];
        if (u.sent == u.size) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            return 0;
        }
        if (u.sent >= u.allowed) {
            u.deferred = true;
            return NGHTTP2_ERR_DEFERRED;
        }
        size_t n = static_cast<size_t>(std::min<uint64_t>({length, u.size - u.sent, u.allowed - u.sent, u.piece}));
        std::fill_n(buf, n, static_cast<uint8_t>('a' + id % 26));
        u.sent += n;
        if (u.sent == u.size) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        }
        return static_cast<ssize_t>(n);
    }

    /// A POST of `size` bytes; `with_length`: a Content-Length (the server buffers it).
    int32_t post(uint64_t size, bool with_length) {
        std::string len = std::to_string(size);
        std::vector<std::pair<std::string, std::string>> h = {
            {":method", "POST"}, {":path", "/up"}, {":scheme", "http"}, {":authority", "x"}};
        if (with_length) {
            h.emplace_back("content-length", len);
        }
        std::vector<nghttp2_nv> nva;
        for (auto& [n, v] : h) {
            nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()), n.size(),
                           v.size(), NGHTTP2_NV_FLAG_NONE});
        }
        nghttp2_data_provider prd{};
        prd.read_callback = read_body;
        int32_t id = nghttp2_submit_request(session, nullptr, nva.data(), nva.size(), &prd, this);
        streams[id].size = size;
        return id;
    }
    /// Let stream `id` send (up to `limit` bytes of its body in all), or hold it.
    void let_send(int32_t id, bool may, uint64_t limit = UINT64_MAX) {
        upload& u = streams[id];
        u.allowed = may ? limit : u.sent;
        if (may && u.deferred && !u.reset) {
            u.deferred = false;
            nghttp2_session_resume_data(session, id);
        }
    }
    void reset(int32_t id) {
        streams[id].reset = true;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
    void flush() { nghttp2_session_send(session); }
    void receive(const std::string& bytes) {
        ASSERT_GE(nghttp2_session_mem_recv(session, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
    }
};

struct upload_harness {
    http::connection_limits limits;
    core::core_counters counters;
    app_dispatcher dispatch;
    uint32_t now = 1000;
    h2::connection conn;
    upload_client cl;

    static h2::settings small_windows() {
        h2::settings s;
        s.initial_window = stream_window;
        s.connection_window = connection_window;
        return s;
    }
    explicit upload_harness(uint32_t body_timeout_s = 30, uint32_t min_body_rate = 1024) : conn(small_windows()) {
        limits.min_body_rate = min_body_rate;
        limits.body_window = stream_window; // what the app's credit rule is sized by
        limits.body_timeout_s = body_timeout_s;
        conn.open(1, 1, {}, now, limits); // (the client session sends the preface itself)
        // The server's SETTINGS reach the client first: before them a stream may send the
        // protocol's default 65,535 bytes (RFC 9113 §6.9.2), more than these windows.
        settle_wire();
    }
    http::protocol_env env() { return test_support::make_env(limits, now, counters, dispatch); }
    /// The client's frames to the server, in pieces of `step` bytes.
    void to_server(size_t step = SIZE_MAX) {
        cl.flush();
        std::string bytes;
        bytes.swap(cl.out);
        auto e = env();
        for (size_t i = 0; i < bytes.size(); i += step) {
            conn.on_data(std::string_view(bytes).substr(i, step), e);
        }
    }
    void to_client() { cl.receive(test_support::take_output(conn.output())); }
    /// The app reads stream `seq`'s body (credit as the rule says), and answers once it
    /// has it all; a buffered request is answered at once.
    void app_reads(uint64_t seq) {
        auto e = env();
        if (auto it = dispatch.buffered.find(seq); it != dispatch.buffered.end()) {
            answer(seq, it->second);
            dispatch.buffered.erase(it);
            return;
        }
        auto it = dispatch.bodies.find(seq);
        if (it == dispatch.bodies.end()) {
            return;
        }
        fake_body& b = *it->second;
        if (b.take(limits.body_window)) {
            http::app_response m;
            m.seq = seq;
            m.parts = http::app_response::part_read_more;
            conn.on_app_message(std::move(m), e);
        }
        if (b.finished && b.taken == b.pushed) {
            answer(seq, b.taken);
            dispatch.bodies.erase(it);
        } else if (b.failed) {
            dispatch.bodies.erase(it); // the read raised: the app answers nothing more
        }
    }
    void answer(uint64_t seq, uint64_t count) {
        auto e = env();
        http::app_response m;
        m.seq = seq;
        m.start.status = 200;
        m.start.static_fields = "Content-Type: text/plain\r\n";
        m.body = std::to_string(count);
        conn.on_app_message(std::move(m), e);
    }
    std::vector<uint64_t> app_seqs() const {
        std::vector<uint64_t> v;
        for (auto& [seq, b] : dispatch.bodies) {
            v.push_back(seq);
        }
        for (auto& [seq, n] : dispatch.buffered) {
            v.push_back(seq);
        }
        return v;
    }
    /// Everything the client can send, sent; the app reads all it has; until quiet.
    void settle() {
        for (int round = 0; round < 4; ++round) {
            to_server();
            for (uint64_t seq : app_seqs()) {
                app_reads(seq);
            }
            to_client();
        }
    }
    /// The connection window the client may still send into: never held by what was
    /// buffered (DATA is credited to the connection as it arrives, RFC 9113 §6.9).
    void expect_connection_window_open(const char* when) {
        to_server();
        to_client(); // (the client sends nothing more until its next flush)
        EXPECT_GT(nghttp2_session_get_remote_window_size(cl.session), static_cast<int32_t>(connection_window / 2))
            << when;
    }
    /// Both directions delivered, no app action.
    void settle_wire() {
        to_server();
        to_client();
        to_server();
    }
};

// The property: for random stream counts, sizes, send orders, app reads, client
// WINDOW_UPDATEs and resets, (1) the connection window is open after every exchange,
// (2) no stream buffers more than its window, (3) once the client just sends and the app
// just reads, every stream not reset is answered with its byte count (no deadlock), and
// (4) a small POST on the same connection is answered after it all.
TEST(H2FlowControl, RandomOrdersNeverDeadlockWhileTheAppReads) {
    for (uint32_t seed = 1; seed <= 300; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        std::mt19937 rng(seed);
        auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
        upload_harness h;
        uint32_t n = 1 + pick(32);
        std::vector<int32_t> ids;
        for (uint32_t i = 0; i < n; ++i) {
            uint64_t size = pick(4) == 0 ? pick(2000) : stream_window + pick(3 * stream_window);
            int32_t id = h.cl.post(size, pick(5) == 0);
            h.cl.streams[id].piece = 1 + pick(16384);
            h.cl.let_send(id, pick(2) == 0);
            ids.push_back(id);
        }
        // The random phase: the script picks who sends, when the app reads, what the client
        // resets, how the bytes are split, and the client's own WINDOW_UPDATEs.
        for (int step = 0; step < 400; ++step) {
            int32_t id = ids[pick(n)];
            switch (pick(8)) {
            case 0:
            case 1:
                h.cl.let_send(id, pick(3) != 0);
                break;
            case 2:
                h.to_server(1 + pick(3000));
                break;
            case 3:
                h.to_client();
                break;
            case 4: {
                std::vector<uint64_t> seqs = h.app_seqs();
                if (!seqs.empty()) {
                    h.app_reads(seqs[pick(static_cast<uint32_t>(seqs.size()))]);
                }
                break;
            }
            case 5:
                if (pick(20) == 0 && !h.cl.streams[id].reset && !h.cl.streams[id].answered) {
                    h.cl.reset(id);
                }
                break;
            case 6:
                nghttp2_submit_window_update(h.cl.session, NGHTTP2_FLAG_NONE, 0, 1 + pick(1000));
                break;
            default:
                h.to_server();
                h.to_client();
                break;
            }
            for (auto& [seq, b] : h.dispatch.bodies) {
                ASSERT_LE(b->most_untaken, stream_window) << "stream " << seq << " buffered past its window";
            }
        }
        h.expect_connection_window_open("after the random phase");
        // The client sends, the app reads: everything completes in a bounded number of rounds.
        for (int32_t id : ids) {
            h.cl.let_send(id, true);
        }
        int rounds = 0;
        auto done = [&] {
            return std::all_of(ids.begin(), ids.end(), [&](int32_t id) {
                const auto& u = h.cl.streams[id];
                return u.reset || u.answered;
            });
        };
        while (!done() && rounds++ < 2000) {
            h.settle();
        }
        ASSERT_TRUE(done()) << n << " streams, deadlocked";
        for (int32_t id : ids) {
            const auto& u = h.cl.streams[id];
            if (!u.reset) {
                EXPECT_EQ(u.status, "200") << "stream " << id;
                EXPECT_EQ(u.body, std::to_string(u.size)) << "stream " << id;
                EXPECT_EQ(u.reset_by_server, 0xffffffffu) << "stream " << id;
            }
        }
        for (auto& [seq, b] : h.dispatch.bodies) {
            EXPECT_LE(b->most_untaken, stream_window);
        }
        h.expect_connection_window_open("at the end");
        int32_t last = h.cl.post(100, false);
        for (int i = 0; i < 10 && !h.cl.streams[last].answered; ++i) {
            h.settle();
        }
        EXPECT_EQ(h.cl.streams[last].body, "100");
        if (HasFailure()) {
            break; // one seed's story is enough
        }
    }
}

// Streams the client resets with their bytes buffered and unread: the connection window
// those bytes took is the client's again (RFC 9113 §6.9), and a new upload goes through.
TEST(H2FlowControl, ResetStreamsGiveTheConnectionWindowBack) {
    upload_harness h;
    std::vector<int32_t> ids;
    for (int i = 0; i < 8; ++i) {
        ids.push_back(h.cl.post(4 * stream_window, false)); // the app never reads these
    }
    for (int i = 0; i < 10; ++i) {
        h.settle_wire();
    }
    uint64_t buffered = 0;
    for (auto& [seq, b] : h.dispatch.bodies) {
        EXPECT_EQ(b->pushed, stream_window); // each stream filled its own window, no more
        buffered += b->pushed;
    }
    EXPECT_GT(buffered, connection_window); // more than one connection window, with no read
    for (int32_t id : ids) {
        h.cl.reset(id);
    }
    h.expect_connection_window_open("after the resets");
    for (auto& [seq, b] : h.dispatch.bodies) {
        EXPECT_TRUE(b->failed); // the app's read raises: the client left
    }
    int32_t last = h.cl.post(3 * connection_window, false);
    for (int i = 0; i < 200 && !h.cl.streams[last].answered; ++i) {
        h.settle();
    }
    EXPECT_EQ(h.cl.streams[last].body, std::to_string(3 * connection_window));
}

// A body that stops half-way with the client free to send: RST_STREAM (CANCEL) after the
// body timeout and the app's read fails (408); one whose window the app holds shut (it
// has not read) is the app's wait, not the client's, and is not timed out.
TEST(H2FlowControl, StalledBodyIsResetAfterTheBodyTimeout) {
    struct stall_case {
        const char* name;
        bool app_holds_window; ///< the client stopped because the app did not read
        bool with_length;      ///< buffered by the server (no app reads it yet)
    };
    for (const stall_case& c : {stall_case{"streamed", false, false}, stall_case{"buffered", false, true},
                                stall_case{"held by the app", true, false}}) {
        SCOPED_TRACE(c.name);
        upload_harness h(5);
        int32_t id = h.cl.post(c.app_holds_window ? 4 * stream_window : 1000, c.with_length);
        if (!c.app_holds_window) {
            h.cl.let_send(id, true, 500); // half the body, then nothing
        }
        for (int i = 0; i < 6; ++i) {
            h.settle_wire();
        }
        ASSERT_NE(h.conn.deadline(), 0u) << "no deadline for an open request body";
        EXPECT_GE(h.conn.deadline(), h.now + h.limits.body_timeout_s);
        h.now += h.limits.body_timeout_s + 1; // passed once the clock reads a later second
        auto e = h.env();
        h.conn.on_timeout(e);
        h.to_client();
        auto& u = h.cl.streams[id];
        if (c.app_holds_window) {
            EXPECT_EQ(u.reset_by_server, 0xffffffffu);
            EXPECT_EQ(h.counters.timeouts.get(), 0u);
            EXPECT_EQ(h.cl.goaway, 0xffffffffu);
            for (int i = 0; i < 50 && !u.answered; ++i) {
                h.settle(); // the app reads: the upload completes
            }
            EXPECT_EQ(u.body, std::to_string(4 * stream_window));
            continue;
        }
        EXPECT_EQ(u.reset_by_server, static_cast<uint32_t>(NGHTTP2_CANCEL));
        EXPECT_EQ(h.counters.timeouts.get(), 1u);
        if (!c.with_length) {
            ASSERT_EQ(h.dispatch.bodies.size(), 1u);
            EXPECT_TRUE(h.dispatch.bodies.begin()->second->failed);
            EXPECT_EQ(h.dispatch.bodies.begin()->second->why, http::body_error::timeout);
        }
        EXPECT_EQ(h.conn.outstanding(), 0u);
        int32_t next = h.cl.post(10, true); // the connection serves on
        for (int i = 0; i < 5 && !h.cl.streams[next].answered; ++i) {
            h.settle();
        }
        EXPECT_EQ(h.cl.streams[next].body, "10");
    }
}

// A body that trickles (1000 bytes every 3 s, body timeout 5 s, no rate floor) while the
// app reads: its deadline stays ahead, the streams looked at every second find nothing,
// and the stream is never reset.
TEST(H2FlowControl, MovingBodyIsNeverTimedOut) {
    upload_harness h(5, 0); // (333 bytes/s is under the default rate floor: a trickle, cut as on HTTP/1.1)
    int32_t id = h.cl.post(10000, false);
    h.cl.let_send(id, true, 0);
    int timeouts_run = 0;
    for (int t = 1; t <= 60 && !h.cl.streams[id].answered; ++t) {
        h.now += 1;
        if (t % 3 == 0) {
            h.cl.let_send(id, true, h.cl.streams[id].sent + 1000);
        }
        h.settle();
        if (h.cl.streams[id].answered) {
            break; // (idle now: the keep-alive clock's turn, not the stream's)
        }
        // The connection is looked at every second (as when another stream's deadline
        // passed), not only at its own deadline, which the moving body keeps ahead.
        EXPECT_TRUE(h.conn.deadline() == 0 || h.now <= h.conn.deadline()) << t;
        auto e = h.env();
        h.conn.on_timeout(e);
        ++timeouts_run;
        h.to_client();
    }
    EXPECT_GT(timeouts_run, 10); // the check ran while the body was moving
    EXPECT_EQ(h.cl.streams[id].body, "10000");
    EXPECT_EQ(h.cl.streams[id].reset_by_server, 0xffffffffu);
    EXPECT_EQ(h.counters.timeouts.get(), 0u);
}

} // namespace
