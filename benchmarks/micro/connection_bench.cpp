// One request through a whole HTTP/1.1 connection and the runtime's dispatcher, as the
// reactor drives them, without the kernel: bytes in (http1_connection::on_data: parse,
// route, native answer or hand-off to the app batch), the app's answer for a Python
// route (on_app_message: framing into the output queue), and the send (take_front into a
// send_batch, consume, reset). Covers what parser_bench and response_writer_bench do not:
// http1_connection::process, the dispatcher and the framer together.
//
// Also HTTP/2 request bodies (case h2_upload_data): DATA frames of uploads that stream to
// the app, one frame per receive, the app taking each piece and crediting as the runtime
// does; per DATA frame.
//
// Google Benchmark by default; `connection_bench --instr CASE [N]` runs CASE N times
// without the framework, for instruction counts under callgrind
// (tools/instr-compare-connection), which repeat exactly on a noisy machine.
#include "dispatch/app_request.hpp"
#include "dispatch/dispatcher.hpp"
#include "h2/connection.hpp"
#include "http/http1_connection.hpp"
#include "http/method_names.hpp"

#include <benchmark/benchmark.h>
#include <nghttp2/nghttp2.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace {

using namespace ringbolt;
using namespace ringbolt::http;

constexpr std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";

/// A small service's table: a native route, Python routes with and without
/// parameters, so that routing does real work.
const dispatch::app_routes& routes() {
    static const dispatch::app_routes r = [] {
        dispatch::app_routes a;
        auto add = [&](const char* pattern, uint16_t methods, dispatch::target_kind kind) {
            uint32_t id = static_cast<uint32_t>(a.targets.size());
            if (!a.table.add(pattern, methods, id).empty()) {
                std::fprintf(stderr, "connection_bench: route %s refused\n", pattern);
                std::abort();
            }
            dispatch::route_target t;
            t.kind = kind;
            t.handler = id;
            t.response.status = 200;
            t.response.headers = "Content-Type: text/plain\r\n";
            t.response.body = "Hello, World!";
            t.pattern = pattern;
            a.targets.push_back(std::move(t));
        };
        add("/plaintext", method_get, dispatch::target_kind::native);
        add("/json", method_get, dispatch::target_kind::python);
        add("/users", method_get | method_post, dispatch::target_kind::python);
        add("/users/{id:int}", method_get | method_put | method_delete, dispatch::target_kind::python);
        add("/users/{id:int}/posts/{post}", method_get, dispatch::target_kind::python);
        add("/health", method_get, dispatch::target_kind::native);
        add("/ws", method_get, dispatch::target_kind::python); // a WebSocket endpoint: a plain GET is refused (426)
        a.targets.back().websocket = true;
        a.targets.back().websocket_only = true;
        return a;
    }();
    return r;
}

struct bench_connection {
    connection_limits limits;
    core::core_counters counters;
    std::atomic<uint32_t> app_pending{0};
    dispatch::request_dispatcher dispatcher{routes(), nullptr, &app_pending, 0, nullptr, nullptr};
    http1_connection conn;
    core::send_batch batch;
    uint32_t now = 1000;
    bool draining = false;
    size_t sent = 0;

    bench_connection() { conn.open(1, 1, {}, now, limits); }
    protocol_env env() { return protocol_env{limits, date, now, draining, counters, dispatcher}; }

    void send_all() {
        while (conn.output().take_front(batch, 64, SIZE_MAX)) {
            sent += batch.remaining();
            batch.consume(batch.remaining());
            batch.reset();
        }
    }

    /// A request for a native route: parsed, routed and answered in on_data.
    void native(std::string_view request) {
        auto e = env();
        conn.on_data(request, e);
        send_all();
    }

    /// A request for a Python route: handed to the app batch, answered as the bridge
    /// answers a handler that returned a small dict (head + body + end in one message).
    void python(std::string_view request) {
        auto e = env();
        conn.on_data(request, e);
        auto& pending = dispatcher.batch();
        for (const dispatch::app_request& r : pending) {
            app_response m;
            m.conn_slot = r.conn_slot;
            m.conn_gen = r.conn_gen;
            m.seq = r.seq;
            m.parts = app_response::part_head | app_response::part_body | app_response::part_end;
            m.start.status = 200;
            m.start.static_fields = "Content-Type: application/json\r\n";
            m.start.content_length = 27;
            m.body = R"({"message":"Hello, World!"})";
            conn.on_app_message(std::move(m), e);
        }
        pending.clear();
        send_all();
    }
};

constexpr std::string_view wrk_plaintext = "GET /plaintext HTTP/1.1\r\nHost: localhost:8000\r\n\r\n";
constexpr std::string_view wrk_json = "GET /json HTTP/1.1\r\nHost: localhost:8000\r\n\r\n";
constexpr std::string_view browser_param =
    "GET /users/42/posts/hello?x=1 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; "
    "Linux x86_64) Firefox/120.0\r\nAccept: text/html,application/xhtml+xml\r\nAccept-Language: "
    "en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\nCookie: a=b; c=d\r\n\r\n";
constexpr std::string_view not_found = "GET /nope HTTP/1.1\r\nHost: localhost:8000\r\n\r\n";
// Refused by the parser (the connection closes after the answer: reopened per request).
constexpr std::string_view no_host = "GET /plaintext HTTP/1.1\r\nUser-Agent: x\r\n\r\n";
constexpr std::string_view too_large = "POST /users HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n";
constexpr std::string_view ws_refused = "GET /ws HTTP/1.1\r\nHost: localhost:8000\r\n\r\n";

struct bench_case {
    const char* name;
    std::string_view request;
    bool native;
    bool reopen = false; ///< the answer closes the connection: open it again first
};
constexpr bench_case cases[] = {
    {"native", wrk_plaintext, true},  {"python", wrk_json, false},          {"python_params", browser_param, false},
    {"not_found", not_found, true},   {"parse_error", no_host, true, true}, {"too_large", too_large, true, true},
    {"ws_refused", ws_refused, true},
};

void run_case(const bench_case& c, bench_connection& b) {
    if (c.reopen) {
        b.conn.open(1, 1, {}, b.now, b.limits);
    }
    if (c.native) {
        b.native(c.request);
    } else {
        b.python(c.request);
    }
}

void BM_Connection(benchmark::State& state, const bench_case* c) {
    bench_connection b;
    for (auto _ : state) {
        run_case(*c, b);
    }
    benchmark::DoNotOptimize(b.sent);
    state.SetItemsProcessed(state.iterations());
}

/// HTTP/2 uploads: 8 POST streams without Content-Length (streamed to the app) take 16 KiB
/// DATA frames in turn, each frame one receive; the app takes every piece as it arrives
/// and sends credit when the runtime's request body does (its first read, and when what
/// it has not taken falls below half the body window). A unit is one DATA frame.
struct h2_uploads {
    static constexpr int streams = 8;
    struct body final : body_stream {
        uint64_t pushed = 0;
        uint64_t taken = 0;
        bool asked = false;
        void push(std::string_view b) noexcept override { pushed += b.size(); }
        void finish() noexcept override {}
        void fail(body_error) noexcept override {}
        uint64_t unconsumed() const noexcept override { return pushed - taken; }
    };
    struct app final : dispatcher {
        std::map<uint64_t, std::shared_ptr<body>> bodies;
        verdict on_request(protocol&, const request_event& ev, protocol_env&,
                           std::shared_ptr<body_stream>& stream) override {
            auto b = std::make_shared<body>();
            bodies[ev.seq] = b;
            stream = b;
            return verdict::streaming;
        }
    };
    connection_limits limits;
    core::core_counters counters;
    app dispatch;
    h2::connection conn;
    core::send_batch batch;
    std::string frames[streams];
    uint32_t now = 1000;
    size_t sent = 0;
    uint64_t next = 0;

    protocol_env env() { return protocol_env{limits, date, now, false, counters, dispatch}; }
    static std::string frame(uint8_t type, uint8_t flags, uint32_t sid, std::string_view payload) {
        std::string f;
        uint32_t len = static_cast<uint32_t>(payload.size());
        for (uint32_t v :
             {len >> 16, len >> 8, len, uint32_t{type}, uint32_t{flags}, sid >> 24, sid >> 16, sid >> 8, sid}) {
            f.push_back(static_cast<char>(v & 0xff));
        }
        return f.append(payload);
    }
    h2_uploads() {
        conn.open(1, 1, {}, now, limits);
        std::string in(h2::client_preface);
        in += frame(4, 0, 0, "") + frame(4, 1, 0, ""); // SETTINGS, and the ACK of the server's
        nghttp2_hd_deflater* hd = nullptr;
        nghttp2_hd_deflate_new(&hd, 4096);
        for (int i = 0; i < streams; ++i) {
            uint32_t sid = static_cast<uint32_t>(2 * i + 1);
            auto nv = [](const char* n, const char* v) {
                return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(n)),
                                  reinterpret_cast<uint8_t*>(const_cast<char*>(v)), std::strlen(n), std::strlen(v),
                                  NGHTTP2_NV_FLAG_NONE};
            };
            nghttp2_nv nva[] = {nv(":method", "POST"), nv(":path", "/users"), nv(":scheme", "http"),
                                nv(":authority", "localhost")};
            uint8_t block[256];
            ssize_t n = nghttp2_hd_deflate_hd(hd, block, sizeof(block), nva, 4);
            in += frame(1, 4, sid, {reinterpret_cast<const char*>(block), static_cast<size_t>(n)});
            frames[i] = frame(0, 0, sid, std::string(16384, 'u'));
        }
        nghttp2_hd_deflate_del(hd);
        auto e = env();
        conn.on_data(in, e);
        send_all();
    }
    void send_all() {
        while (conn.output().take_front(batch, 64, SIZE_MAX)) {
            sent += batch.remaining();
            batch.consume(batch.remaining());
            batch.reset();
        }
    }
    /// The next DATA frame in turn, received, taken by the app, and what goes out sent.
    void data_frame() {
        int i = static_cast<int>(next++ % streams);
        auto e = env();
        conn.on_data(frames[i], e);
        body& b = *dispatch.bodies[static_cast<uint64_t>(2 * i + 1)];
        uint64_t before = b.unconsumed();
        b.taken = b.pushed;
        uint64_t half = limits.body_window / 2;
        if (!b.asked || (before >= half && b.unconsumed() < half)) {
            b.asked = true;
            app_response m;
            m.seq = static_cast<uint64_t>(2 * i + 1);
            m.parts = app_response::part_read_more;
            conn.on_app_message(std::move(m), e);
        }
        send_all();
    }
};

void BM_H2UploadData(benchmark::State& state) {
    h2_uploads u;
    for (auto _ : state) {
        u.data_frame();
    }
    benchmark::DoNotOptimize(u.sent);
    state.SetItemsProcessed(state.iterations());
}

/// `--instr h2_upload_data N`: N DATA frames (after the set-up, which "none" counts too).
int h2_instr(long n) {
    h2_uploads u;
    for (long i = 0; i < n; ++i) {
        u.data_frame();
    }
    if (u.conn.closing()) {
        std::fprintf(stderr, "connection_bench: the HTTP/2 connection failed\n");
        return 1;
    }
    std::printf("%zu\n", u.sent);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc >= 3 && std::strcmp(argv[1], "--instr") == 0) {
        long n = argc >= 4 ? std::strtol(argv[3], nullptr, 10) : 100000;
        if (std::strcmp(argv[2], "h2_upload_data") == 0) {
            return h2_instr(n);
        }
        for (const bench_case& c : cases) {
            if (std::strcmp(c.name, argv[2]) == 0 || std::strcmp("none", argv[2]) == 0) {
                bench_connection b; // "none": the set-up alone, the baseline to subtract
                if (std::strcmp("none", argv[2]) != 0) {
                    for (long i = 0; i < n; ++i) {
                        run_case(c, b);
                    }
                }
                std::printf("%zu\n", b.sent);
                return 0;
            }
        }
        std::fprintf(stderr, "connection_bench: unknown case %s\n", argv[2]);
        return 2;
    }
    for (const bench_case& c : cases) {
        benchmark::RegisterBenchmark((std::string("BM_Connection/") + c.name).c_str(), BM_Connection, &c);
    }
    benchmark::RegisterBenchmark("BM_Connection/h2_upload_data", BM_H2UploadData);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
