// Owns: command-line parsing for ringbolt-ws-load (see ws_options.hpp).
#include "ws_options.hpp"

#include "options.hpp"

#include <cstdio>
#include <cstring>
#include <getopt.h>

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
                         "      --warmup T        unmeasured time before the measurement (default 0)\n"
                         "      --timeout MS      per-message and handshake timeout in milliseconds (default 2000)\n"
                         "      --json            print the result as one JSON object\n"
                         "  -h, --help            this text\n";

bool parse_size(const char* text, uint64_t* out) {
    std::string s(text);
    uint64_t mult = 1;
    if (!s.empty() && (s.back() == 'k' || s.back() == 'K')) {
        mult = 1024;
        s.pop_back();
    } else if (!s.empty() && (s.back() == 'm' || s.back() == 'M')) {
        mult = 1024 * 1024;
        s.pop_back();
    }
    uint64_t v = 0;
    if (!parse_uint(s.c_str(), 0, uint64_t{64} << 20, &v) || v * mult > (uint64_t{64} << 20)) {
        return false;
    }
    *out = v * mult;
    return true;
}

} // namespace

bool parse_ws_options(int argc, char** argv, ws_options* o, bool* exit_now) {
    enum { opt_cpus = 1000, opt_warmup, opt_timeout, opt_json, opt_text };
    static const option long_opts[] = {
        {"connections", required_argument, nullptr, 'c'},
        {"threads", required_argument, nullptr, 't'},
        {"duration", required_argument, nullptr, 'd'},
        {"messages", required_argument, nullptr, 'n'},
        {"pipeline", required_argument, nullptr, 'p'},
        {"size", required_argument, nullptr, 's'},
        {"text", no_argument, nullptr, opt_text},
        {"warmup", required_argument, nullptr, opt_warmup},
        {"timeout", required_argument, nullptr, opt_timeout},
        {"json", no_argument, nullptr, opt_json},
        {"cpus", required_argument, nullptr, opt_cpus},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    *exit_now = false;
    uint64_t v = 0;
    int c = 0;
    while ((c = getopt_long(argc, argv, "c:t:d:n:p:s:h", long_opts, nullptr)) != -1) {
        switch (c) {
        case 'c':
            if (!parse_uint(optarg, 1, 1000000, &v)) {
                fprintf(stderr, "ringbolt-ws-load: bad connection count %s\n", optarg);
                return false;
            }
            o->connections = static_cast<uint32_t>(v);
            break;
        case 't':
            if (!parse_uint(optarg, 1, 1024, &v)) {
                fprintf(stderr, "ringbolt-ws-load: bad thread count %s\n", optarg);
                return false;
            }
            o->threads = static_cast<uint32_t>(v);
            break;
        case 'd':
            if (!parse_seconds(optarg, &o->duration_s) || o->duration_s <= 0) {
                fprintf(stderr, "ringbolt-ws-load: bad duration %s\n", optarg);
                return false;
            }
            break;
        case 'n':
            if (!parse_uint(optarg, 1, UINT64_MAX / 2, &o->messages)) {
                fprintf(stderr, "ringbolt-ws-load: bad message count %s\n", optarg);
                return false;
            }
            break;
        case 'p':
            if (!parse_uint(optarg, 1, 4096, &v)) {
                fprintf(stderr, "ringbolt-ws-load: bad pipeline depth %s\n", optarg);
                return false;
            }
            o->pipeline = static_cast<uint32_t>(v);
            break;
        case 's':
            if (!parse_size(optarg, &o->size)) {
                fprintf(stderr, "ringbolt-ws-load: bad message size %s (0 to 64m)\n", optarg);
                return false;
            }
            break;
        case opt_text:
            o->text = true;
            break;
        case opt_warmup:
            if (!parse_seconds(optarg, &o->warmup_s)) {
                fprintf(stderr, "ringbolt-ws-load: bad warm-up %s\n", optarg);
                return false;
            }
            break;
        case opt_timeout:
            if (!parse_uint(optarg, 1, 3600 * 1000, &v)) {
                fprintf(stderr, "ringbolt-ws-load: bad timeout %s\n", optarg);
                return false;
            }
            o->timeout_ms = static_cast<uint32_t>(v);
            break;
        case opt_json:
            o->json = true;
            break;
        case opt_cpus:
            if (!parse_cpus(optarg, &o->cpus)) {
                fprintf(stderr, "ringbolt-ws-load: bad CPU list %s\n", optarg);
                return false;
            }
            break;
        case 'h':
            fputs(usage_text, stdout);
            *exit_now = true;
            return true;
        default:
            fputs(usage_text, stderr);
            return false;
        }
    }
    if (optind != argc - 1) {
        fputs(usage_text, stderr);
        return false;
    }
    o->url = argv[optind];
    if (o->threads > o->connections) {
        o->threads = o->connections;
    }
    return parse_target(o->url, "ws://", "ringbolt-ws-load", &o->target);
}

} // namespace ringbolt_load
