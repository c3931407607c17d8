// Fixed-count driver for instruction counting: N calls of each hot function, so that
// callgrind totals compare two builds exactly (timings on this VM drift by up to 1.7x).
// Built and run by tools/instr-compare, not by meson.
#include "http/chunked.hpp"
#include "http/parser.hpp"
#include "http/response_writer.hpp"
#if __has_include("http/response_framer.hpp") // the connection core of 0a4370a and later
#if __has_include("core/output_queue.hpp")    // moved down from http/ (the transports take it)
#include "core/output_queue.hpp"
#else
#include "http/output_queue.hpp"
#endif
#include "http/response_framer.hpp"
#define HAVE_FRAMER 1
#endif
#include <cstdio>
#include <cstring>
#include <string>
// output_queue and send_batch are ringbolt::core's since 4940b7a (http's before it).
namespace ringbolt::core {}
using namespace ringbolt::http;
using namespace ringbolt::core;
int main(int argc, char** argv) {
    const int n = 100000;
    const char* which = argc > 1 ? argv[1] : "wrk";
    std::string wrk = "GET / HTTP/1.1\r\nHost: localhost:8000\r\n\r\n";
    std::string browser = "GET /index.html?x=1 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; "
                          "Linux x86_64) Firefox/120.0\r\n"
                          "Accept: text/html,application/xhtml+xml\r\nAccept-Language: "
                          "en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
                          "Connection: keep-alive\r\nCookie: a=b; c=d\r\nUpgrade-Insecure-Requests: "
                          "1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n"
                          "Cache-Control: max-age=0\r\n\r\n";
    // An API client's request: a bearer token (the credential fields are counted).
    std::string api =
        "GET /items/42 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: python-httpx/0.27.0\r\n"
        "Accept: application/json\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2ln\r\n"
        "\r\n";
    static request_head h;
    parser_limits lim;
    size_t sink = 0;
    std::string out;
    if (!std::strcmp(which, "wrk") || !std::strcmp(which, "browser") || !std::strcmp(which, "api")) {
        const std::string& r = !std::strcmp(which, "wrk") ? wrk : !std::strcmp(which, "browser") ? browser : api;
        for (int i = 0; i < n; ++i) {
            sink += parse_request_head(r, h, lim).consumed;
        }
    } else if (!std::strcmp(which, "json")) {
        response_spec spec{200, "application/json", R"({"message":"Hello, World!"})", false, false, false};
        for (int i = 0; i < n; ++i) {
            out.clear();
            write_response(out, spec, "Sun, 06 Nov 1994 08:49:37 GMT");
            sink += out.size();
        }
    } else if (!std::strcmp(which, "frame")) {
        // One small JSON response from a Python handler, serialized and then released
        // once sent, as each tree's connection does it. Before the connection core:
        // write_response into a fresh string (app_bridge's serialize_response reserves
        // it), which the connection sends and frees. After: the bridge's build_head
        // assembles the fields, response_framer::start + body append to the connection's
        // output_queue, the reactor takes the front into a send_batch, the kernel takes
        // every byte (consume) and the batch is reset.
        std::string_view body = R"({"message":"Hello, World!"})";
        std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";
#ifdef HAVE_FRAMER
        static output_queue q;
        static send_batch batch;
        std::string fields;
        request_context ctx;
        for (int i = 0; i < n; ++i) {
            fields.clear();
            fields.reserve(48);
            fields.append("Content-Type: ");
            fields.append("application/json");
            fields.append("\r\n");
            response_framer f;
            f.start(q, ctx, 200, fields, static_cast<int64_t>(body.size()), false, date, false);
            f.body(q, body);
            q.take_front(batch, 64, size_t{1} << 20);
            uint64_t len = batch.remaining();
            batch.consume(len);
            batch.reset();
            sink += len;
        }
#else
        response_spec spec{200, "application/json", body, false, false, false};
        for (int i = 0; i < n; ++i) {
            std::string bytes;
            bytes.reserve(160 + body.size());
            write_response(bytes, spec, date);
            sink += bytes.size();
        }
#endif
    } else if (!std::strcmp(which, "chunked")) {
        std::string body;
        for (int c = 0; c < 16; ++c) {
            body += "100\r\n" + std::string(256, 'x') + "\r\n";
        }
        body += "0\r\n\r\n";
        std::string dec;
        for (int i = 0; i < n / 10; ++i) {
            chunked_decoder d;
            dec.clear();
            sink += d.feed(body, dec).consumed;
        }
    }
    std::printf("%zu\n", sink);
}
