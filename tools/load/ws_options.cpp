// Owns: command-line parsing for ringbolt-ws-load (see ws_options.hpp).
#include "ws_options.hpp"

#include <cstdio>
#include <string>

namespace ringbolt_load {

namespace {

const char* usage_text = "usage: ringbolt-ws-load [options] ws://HOST:PORT/path\n"
                         "  Echo load over WebSocket: every message sent must come back byte for byte.\n"
                         "  -c, --connections N   open connections (default 10), shared among threads\n"
                         "  -t, --threads N       threads, one io_uring each (default 1)\n"
                         "      --cpus LIST       pin thread i to the i-th CPU of LIST (e.g. 1,2)\n"
                         "  -d, --duration T      measured time: 10, 10s, 500ms, 1m (default 10s)\n"
                         "  -n, --messages N      stop after N measured echoes instead of a duration\n"
                         "  -p, --pipeline D      messages in flight per connection (default 1)\n"
                         "  -s, --size BYTES      payload bytes per message (default 32; 16k, 1m accepted)\n"
                         "      --text            text messages (ASCII payload); default binary\n"
                         "      --http2           WebSockets on streams of h2c connections (RFC 8441)\n"
                         "      --http3           WebSockets on streams of HTTP/3 connections (RFC 9220): QUIC to\n"
                         "                        the URL's port over UDP (the certificate is not checked)\n"
                         "  -m, --streams N       WebSockets per connection with --http2/--http3 (default 1)\n"
                         "      --hold            one echo per WebSocket, then keep it open and idle until the end\n"
                         "                        (a server's memory per idle WebSocket)\n"
                         "      --warmup T        unmeasured time before the measurement (default 0)\n"
                         "      --timeout MS      per-message and handshake timeout in milliseconds (default 2000)\n"
                         "      --json            print the result as one JSON object\n"
                         "  -h, --help            this text\n";

} // namespace

bool parse_ws_options(int argc, char** argv, ws_options* o, bool* exit_now) {
    enum { opt_text = first_tool_option, opt_http2, opt_http3, opt_hold };
    static const std::vector<option> long_opts = long_options({
        {"messages", required_argument, nullptr, 'n'},
        {"size", required_argument, nullptr, 's'},
        {"text", no_argument, nullptr, opt_text},
        {"http2", no_argument, nullptr, opt_http2},
        {"http3", no_argument, nullptr, opt_http3},
        {"streams", required_argument, nullptr, 'm'},
        {"hold", no_argument, nullptr, opt_hold},
    });
    static const command_line cl = {"ringbolt-ws-load", usage_text, "c:t:d:n:p:s:m:h", long_opts.data(), "ws://"};
    return parse_command_line(argc, argv, cl, o, exit_now, [o](int c, const char* arg) {
        switch (c) {
        case 'n':
            if (!parse_uint(arg, 1, UINT64_MAX / 2, &o->messages)) {
                fprintf(stderr, "ringbolt-ws-load: bad message count %s\n", arg);
                return option_result::bad;
            }
            return option_result::ok;
        case 's':
            if (!parse_size(arg, uint64_t{64} << 20, &o->size)) {
                fprintf(stderr, "ringbolt-ws-load: bad message size %s (0 to 64m)\n", arg);
                return option_result::bad;
            }
            return option_result::ok;
        case opt_text:
            o->text = true;
            return option_result::ok;
        case opt_hold:
            o->hold = true;
            return option_result::ok;
        case opt_http2:
        case opt_http3:
            o->http_version = c == opt_http2 ? 2 : 3;
            return option_result::ok;
        case 'm': {
            uint64_t v = 0;
            if (!parse_uint(arg, 1, 100000, &v)) {
                fprintf(stderr, "ringbolt-ws-load: bad stream count %s (1 to 100000)\n", arg);
                return option_result::bad;
            }
            o->streams = static_cast<uint32_t>(v);
            return option_result::ok;
        }
        default:
            return option_result::unknown;
        }
    });
}

} // namespace ringbolt_load
