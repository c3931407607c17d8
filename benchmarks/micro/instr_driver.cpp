// Fixed-count driver for instruction counting: N calls of each hot function, so that
// callgrind totals compare two builds exactly (timings on this VM drift by up to 1.7x).
// Built and run by tools/instr-compare, not by meson.
#include "http/chunked.hpp"
#include "http/parser.hpp"
#include "http/response_writer.hpp"
#include <cstdio>
#include <cstring>
#include <string>
using namespace ringbolt::http;
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
    static request_head h;
    parser_limits lim;
    size_t sink = 0;
    std::string out;
    if (!std::strcmp(which, "wrk") || !std::strcmp(which, "browser")) {
        const std::string& r = !std::strcmp(which, "wrk") ? wrk : browser;
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
