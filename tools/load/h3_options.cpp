// Owns: command-line parsing for ringbolt-h3-load (see h3_options.hpp).
#include "h3_options.hpp"

#include "h3_connection.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringbolt_load {

namespace {

const char* usage_text =
    "usage: ringbolt-h3-load [options] https://HOST:PORT/path\n"
    "  HTTP/3 load over QUIC (UDP); the server's certificate is not verified.\n"
    "  -c, --connections N   QUIC connections (default 10), shared among threads\n"
    "  -t, --threads N       threads (default 1)\n"
    "      --cpus LIST       pin thread i to the i-th CPU of LIST (e.g. 1,2)\n"
    "  -d, --duration T      measured time: 10, 10s, 500ms, 1m (default 10s)\n"
    "  -n, --requests N      stop after N measured requests instead of a duration\n"
    "  -p, --streams N       request streams in flight per connection (default 1)\n" REQUEST_OPTIONS_USAGE
    "      --body-size N     request body of N bytes ('x'; 16k, 3m accepted)\n"
    "      --warmup T        unmeasured time before the measurement (default 0)\n"
    "      --timeout MS      per-request and handshake timeout in milliseconds (default 2000)\n"
    "      --json            print the result as one JSON object\n"
    "  -h, --help            this text\n";

} // namespace

bool parse_h3_options(int argc, char** argv, h3_options* o, bool* exit_now) {
    enum { opt_body_size = first_request_option };
    static const std::vector<option> long_opts = request_long_options({
        {"streams", required_argument, nullptr, 'p'},
        {"body-size", required_argument, nullptr, opt_body_size},
    });
    static const command_line cl = {"ringbolt-h3-load", usage_text, "c:t:d:n:p:R:m:H:b:h", long_opts.data(),
                                    "https://"};
    o->target.port = 443; // the default of https:// URLs
    bool ok = parse_command_line(argc, argv, cl, o, exit_now, [o](int c, const char* arg) {
        switch (c) {
        case 'H': {
            const char* colon = strchr(arg, ':');
            if (colon == nullptr || colon == arg) {
                fprintf(stderr, "ringbolt-h3-load: header must be 'Name: value': %s\n", arg);
                return option_result::bad;
            }
            if (o->headers.size() == h3_request::max_user_fields) {
                fprintf(stderr, "ringbolt-h3-load: at most %zu -H headers\n", h3_request::max_user_fields);
                return option_result::bad;
            }
            o->headers.emplace_back(arg);
            return option_result::ok;
        }
        case opt_body_size: {
            uint64_t n = 0;
            if (!parse_size(arg, uint64_t{256} << 20, &n)) {
                fprintf(stderr, "ringbolt-h3-load: bad body size %s (0 to 256m)\n", arg);
                return option_result::bad;
            }
            o->body.assign(n, 'x');
            o->has_body = true;
            return option_result::ok;
        }
        default:
            return parse_request_option(c, arg, "ringbolt-h3-load", o);
        }
    });
    if (ok && !*exit_now && o->target.port == 443) {
        o->target.host_header =
            o->target.host.find(':') != std::string::npos ? "[" + o->target.host + "]" : o->target.host;
    }
    return ok;
}

} // namespace ringbolt_load
