// Owns: command-line parsing for ringbolt-load (see options.hpp).
#include "options.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <getopt.h>
#include <iterator>
#include <netdb.h>
#include <sstream>

namespace ringbolt_load {

bool parse_seconds(const char* text, double* out) {
    char* end = nullptr;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || v < 0) {
        return false;
    }
    std::string unit(end);
    if (unit.empty() || unit == "s") {
        *out = v;
    } else if (unit == "ms") {
        *out = v / 1000.0;
    } else if (unit == "m") {
        *out = v * 60.0;
    } else if (unit == "h") {
        *out = v * 3600.0;
    } else {
        return false;
    }
    return true;
}

bool parse_uint(const char* text, uint64_t min, uint64_t max, uint64_t* out) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

bool parse_cpus(const char* text, std::vector<int>* out) {
    std::stringstream ss(text);
    std::string part;
    while (std::getline(ss, part, ',')) {
        size_t dash = part.find('-');
        uint64_t lo = 0;
        uint64_t hi = 0;
        if (dash == std::string::npos) {
            if (!parse_uint(part.c_str(), 0, 4095, &lo)) {
                return false;
            }
            hi = lo;
        } else if (!parse_uint(part.substr(0, dash).c_str(), 0, 4095, &lo) ||
                   !parse_uint(part.substr(dash + 1).c_str(), lo, 4095, &hi)) {
            return false;
        }
        for (uint64_t c = lo; c <= hi; ++c) {
            out->push_back(static_cast<int>(c));
        }
    }
    return !out->empty();
}

namespace {

bool resolve_address(const char* tool, load_target* t) {
    // resolution happens once, here: literals and "localhost" need no network
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string service = std::to_string(t->port);
    int rc = getaddrinfo(t->host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0 || res == nullptr) {
        fprintf(stderr, "%s: cannot resolve %s: %s\n", tool, t->host.c_str(), gai_strerror(rc));
        return false;
    }
    // prefer IPv4 for "localhost", which servers on this project bind to 127.0.0.1
    addrinfo* pick = res;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    memcpy(&t->addr, pick->ai_addr, pick->ai_addrlen);
    t->addr_len = pick->ai_addrlen;
    t->family = pick->ai_family;
    freeaddrinfo(res);
    return true;
}

} // namespace

bool parse_target(const std::string& url, const char* scheme, const char* tool, load_target* t) {
    size_t scheme_len = strlen(scheme);
    if (url.compare(0, scheme_len, scheme) != 0) {
        fprintf(stderr, "%s: only %s URLs are supported (no TLS): %s\n", tool, scheme, url.c_str());
        return false;
    }
    size_t path_start = url.find('/', scheme_len);
    std::string authority =
        url.substr(scheme_len, path_start == std::string::npos ? std::string::npos : path_start - scheme_len);
    t->path = path_start == std::string::npos ? "/" : url.substr(path_start);
    std::string port_text;
    if (!authority.empty() && authority[0] == '[') {
        size_t close = authority.find(']');
        if (close == std::string::npos) {
            fprintf(stderr, "%s: bad IPv6 literal in %s\n", tool, url.c_str());
            return false;
        }
        t->host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') {
                fprintf(stderr, "%s: bad URL %s\n", tool, url.c_str());
                return false;
            }
            port_text = authority.substr(close + 2);
        }
    } else {
        size_t colon = authority.rfind(':');
        t->host = authority.substr(0, colon);
        if (colon != std::string::npos) {
            port_text = authority.substr(colon + 1);
        }
    }
    if (t->host.empty()) {
        fprintf(stderr, "%s: no host in %s\n", tool, url.c_str());
        return false;
    }
    if (!port_text.empty()) {
        uint64_t p = 0;
        if (!parse_uint(port_text.c_str(), 1, 65535, &p)) {
            fprintf(stderr, "%s: bad port in %s\n", tool, url.c_str());
            return false;
        }
        t->port = static_cast<uint16_t>(p);
    }
    bool v6 = t->host.find(':') != std::string::npos;
    t->host_header = v6 ? "[" + t->host + "]" : t->host;
    if (t->port != 80) {
        t->host_header += ":" + std::to_string(t->port);
    }
    return resolve_address(tool, t);
}

namespace {

const char* usage_text = "usage: ringbolt-load [options] http://HOST:PORT/path\n"
                         "  -c, --connections N   open connections (default 10), shared among threads\n"
                         "  -t, --threads N       threads, one io_uring each (default 1)\n"
                         "      --cpus LIST       pin thread i to the i-th CPU of LIST (e.g. 1,2)\n"
                         "  -d, --duration T      measured time: 10, 10s, 500ms, 1m (default 10s)\n"
                         "  -n, --requests N      stop after N measured responses instead of a duration\n"
                         "  -p, --pipeline D      requests in flight per connection, written in one send (default 1)\n"
                         "  -R, --rate RPS        constant rate over all connections; latency counted from the\n"
                         "                        intended send time (no coordinated omission)\n"
                         "  -m, --method M        request method (default GET)\n"
                         "  -H, --header 'N: v'   extra request header (repeatable)\n"
                         "  -b, --body TEXT       request body\n"
                         "      --body-file F     request body from a file\n"
                         "      --warmup T        unmeasured time before the measurement (default 0)\n"
                         "      --timeout MS      per-request timeout in milliseconds (default 2000)\n"
                         "      --json            print the result as one JSON object\n"
                         "  -h, --help            this text\n";

} // namespace

bool parse_options(int argc, char** argv, options* o, bool* exit_now) {
    enum { opt_cpus = 1000, opt_body_file, opt_warmup, opt_timeout, opt_json };
    static const option long_opts[] = {
        {"connections", required_argument, nullptr, 'c'},
        {"threads", required_argument, nullptr, 't'},
        {"duration", required_argument, nullptr, 'd'},
        {"requests", required_argument, nullptr, 'n'},
        {"pipeline", required_argument, nullptr, 'p'},
        {"rate", required_argument, nullptr, 'R'},
        {"method", required_argument, nullptr, 'm'},
        {"header", required_argument, nullptr, 'H'},
        {"body", required_argument, nullptr, 'b'},
        {"body-file", required_argument, nullptr, opt_body_file},
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
    while ((c = getopt_long(argc, argv, "c:t:d:n:p:R:m:H:b:h", long_opts, nullptr)) != -1) {
        switch (c) {
        case 'c':
            if (!parse_uint(optarg, 1, 1000000, &v)) {
                fprintf(stderr, "ringbolt-load: bad connection count %s\n", optarg);
                return false;
            }
            o->connections = static_cast<uint32_t>(v);
            break;
        case 't':
            if (!parse_uint(optarg, 1, 1024, &v)) {
                fprintf(stderr, "ringbolt-load: bad thread count %s\n", optarg);
                return false;
            }
            o->threads = static_cast<uint32_t>(v);
            break;
        case 'd':
            if (!parse_seconds(optarg, &o->duration_s) || o->duration_s <= 0) {
                fprintf(stderr, "ringbolt-load: bad duration %s\n", optarg);
                return false;
            }
            break;
        case 'n':
            if (!parse_uint(optarg, 1, UINT64_MAX / 2, &o->requests)) {
                fprintf(stderr, "ringbolt-load: bad request count %s\n", optarg);
                return false;
            }
            break;
        case 'p':
            if (!parse_uint(optarg, 1, 4096, &v)) {
                fprintf(stderr, "ringbolt-load: bad pipeline depth %s\n", optarg);
                return false;
            }
            o->pipeline = static_cast<uint32_t>(v);
            break;
        case 'R': {
            char* end = nullptr;
            o->rate = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(o->rate > 0)) {
                fprintf(stderr, "ringbolt-load: bad rate %s\n", optarg);
                return false;
            }
            break;
        }
        case 'm':
            o->method = optarg;
            break;
        case 'H':
            if (strchr(optarg, ':') == nullptr) {
                fprintf(stderr, "ringbolt-load: header must be 'Name: value': %s\n", optarg);
                return false;
            }
            o->headers.emplace_back(optarg);
            break;
        case 'b':
            o->body = optarg;
            o->has_body = true;
            break;
        case opt_body_file: {
            std::ifstream f(optarg, std::ios::binary);
            if (!f) {
                fprintf(stderr, "ringbolt-load: cannot read body file %s\n", optarg);
                return false;
            }
            o->body.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
            o->has_body = true;
            break;
        }
        case opt_warmup:
            if (!parse_seconds(optarg, &o->warmup_s)) {
                fprintf(stderr, "ringbolt-load: bad warm-up %s\n", optarg);
                return false;
            }
            break;
        case opt_timeout:
            if (!parse_uint(optarg, 1, 3600 * 1000, &v)) {
                fprintf(stderr, "ringbolt-load: bad timeout %s\n", optarg);
                return false;
            }
            o->timeout_ms = static_cast<uint32_t>(v);
            break;
        case opt_json:
            o->json = true;
            break;
        case opt_cpus:
            if (!parse_cpus(optarg, &o->cpus)) {
                fprintf(stderr, "ringbolt-load: bad CPU list %s\n", optarg);
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
        o->threads = o->connections; // a thread without a connection would only idle
    }
    return parse_target(o->url, "http://", "ringbolt-load", &o->target);
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
