// Owns: command-line parsing for ringbolt-load (see options.hpp) and the request it sends.
#include "options.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>

namespace ringbolt_load {

namespace {

const char* usage_text =
    "usage: ringbolt-load [options] http://HOST:PORT/path\n"
    "  -c, --connections N   open connections (default 10), shared among threads\n"
    "  -t, --threads N       threads, one io_uring each (default 1)\n"
    "      --cpus LIST       pin thread i to the i-th CPU of LIST (e.g. 1,2)\n"
    "  -d, --duration T      measured time: 10, 10s, 500ms, 1m (default 10s)\n"
    "  -n, --requests N      stop after N measured responses instead of a duration\n"
    "  -p, --pipeline D      requests in flight per connection, written in one send (default 1)\n" REQUEST_OPTIONS_USAGE
    "      --warmup T        unmeasured time before the measurement (default 0)\n"
    "      --timeout MS      per-request timeout in milliseconds (default 2000)\n"
    "      --json            print the result as one JSON object\n"
    "  -h, --help            this text\n";

} // namespace

bool parse_options(int argc, char** argv, options* o, bool* exit_now) {
    static const std::vector<option> long_opts = request_long_options({});
    static const command_line cl = {"ringbolt-load", usage_text, "c:t:d:n:p:R:m:H:b:h", long_opts.data(), "http://"};
    return parse_command_line(argc, argv, cl, o, exit_now, [o](int c, const char* arg) {
        switch (c) {
        case 'H':
            if (strchr(arg, ':') == nullptr) {
                fprintf(stderr, "ringbolt-load: header must be 'Name: value': %s\n", arg);
                return option_result::bad;
            }
            o->headers.emplace_back(arg);
            return option_result::ok;
        default:
            return parse_request_option(c, arg, "ringbolt-load", o);
        }
    });
}

std::string build_request(const options& o) {
    auto has_header = [&](const char* name) {
        size_t n = strlen(name);
        for (const std::string& h : o.headers) {
            if (h.size() > n && h[n] == ':' && strncasecmp(h.c_str(), name, n) == 0) {
                return true;
            }
        }
        return false;
    };
    std::string r;
    r.reserve(256 + o.body.size());
    r += o.method;
    r += ' ';
    r += o.target.path;
    r += " HTTP/1.1\r\n";
    if (!has_header("host")) {
        r += "Host: ";
        r += o.target.host_header;
        r += "\r\n";
    }
    for (const std::string& h : o.headers) {
        r += h;
        r += "\r\n";
    }
    if (o.has_body && !has_header("content-length") && !has_header("transfer-encoding")) {
        r += "Content-Length: ";
        r += std::to_string(o.body.size());
        r += "\r\n";
    }
    r += "\r\n";
    r += o.body;
    return r;
}

} // namespace ringbolt_load
