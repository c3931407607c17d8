// Owns: the parsing shared by both load generators' command lines (see command_line.hpp).
#include "command_line.hpp"

#include "core/cpu.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
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
        fprintf(stderr, "%s: only %s URLs are supported%s: %s\n", tool, scheme,
                strcmp(scheme, "https://") == 0 ? "" : " (no TLS)", url.c_str());
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

std::vector<option> long_options(std::initializer_list<option> own) {
    std::vector<option> table{
        {"connections", required_argument, nullptr, 'c'},
        {"threads", required_argument, nullptr, 't'},
        {"duration", required_argument, nullptr, 'd'},
        {"pipeline", required_argument, nullptr, 'p'},
        {"warmup", required_argument, nullptr, opt_warmup},
        {"timeout", required_argument, nullptr, opt_timeout},
        {"json", no_argument, nullptr, opt_json},
        {"cpus", required_argument, nullptr, opt_cpus},
        {"help", no_argument, nullptr, 'h'},
    };
    table.insert(table.end(), own);
    table.push_back({nullptr, 0, nullptr, 0});
    return table;
}

bool parse_size(const char* text, uint64_t max, uint64_t* out) {
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
    if (!parse_uint(s.c_str(), 0, max, &v) || v * mult > max) {
        return false;
    }
    *out = v * mult;
    return true;
}

std::vector<option> request_long_options(std::initializer_list<option> own) {
    std::vector<option> table = long_options({
        {"requests", required_argument, nullptr, 'n'},
        {"rate", required_argument, nullptr, 'R'},
        {"method", required_argument, nullptr, 'm'},
        {"header", required_argument, nullptr, 'H'},
        {"body", required_argument, nullptr, 'b'},
        {"body-file", required_argument, nullptr, opt_body_file},
    });
    table.insert(table.end() - 1, own); // before the terminator
    return table;
}

option_result parse_common_option(int c, const char* arg, const char* tool, common_options* o) {
    uint64_t v = 0;
    switch (c) {
    case 'c':
        if (!parse_uint(arg, 1, 1000000, &v)) {
            fprintf(stderr, "%s: bad connection count %s\n", tool, arg);
            return option_result::bad;
        }
        o->connections = static_cast<uint32_t>(v);
        return option_result::ok;
    case 't':
        if (!parse_uint(arg, 1, 1024, &v)) {
            fprintf(stderr, "%s: bad thread count %s\n", tool, arg);
            return option_result::bad;
        }
        o->threads = static_cast<uint32_t>(v);
        return option_result::ok;
    case 'd':
        if (!parse_seconds(arg, &o->duration_s) || o->duration_s <= 0) {
            fprintf(stderr, "%s: bad duration %s\n", tool, arg);
            return option_result::bad;
        }
        return option_result::ok;
    case 'p':
        if (!parse_uint(arg, 1, 4096, &v)) {
            fprintf(stderr, "%s: bad pipeline depth %s\n", tool, arg);
            return option_result::bad;
        }
        o->pipeline = static_cast<uint32_t>(v);
        return option_result::ok;
    case opt_warmup:
        if (!parse_seconds(arg, &o->warmup_s)) {
            fprintf(stderr, "%s: bad warm-up %s\n", tool, arg);
            return option_result::bad;
        }
        return option_result::ok;
    case opt_timeout:
        if (!parse_uint(arg, 1, 3600 * 1000, &v)) {
            fprintf(stderr, "%s: bad timeout %s\n", tool, arg);
            return option_result::bad;
        }
        o->timeout_ms = static_cast<uint32_t>(v);
        return option_result::ok;
    case opt_json:
        o->json = true;
        return option_result::ok;
    case opt_cpus:
        if (!parse_cpus(arg, &o->cpus)) {
            fprintf(stderr, "%s: bad CPU list %s\n", tool, arg);
            return option_result::bad;
        }
        return option_result::ok;
    default:
        return option_result::unknown;
    }
}

bool finish_command_line(int argc, char** argv, const command_line& cl, common_options* o) {
    if (optind != argc - 1) {
        fputs(cl.usage, stderr);
        return false;
    }
    o->url = argv[optind];
    if (o->threads > o->connections) {
        o->threads = o->connections; // a thread without a connection would only idle
    }
    return parse_target(o->url, cl.scheme, cl.tool, &o->target);
}

option_result parse_request_option(int c, const char* arg, const char* tool, request_options* o) {
    switch (c) {
    case 'n':
        if (!parse_uint(arg, 1, UINT64_MAX / 2, &o->requests)) {
            fprintf(stderr, "%s: bad request count %s\n", tool, arg);
            return option_result::bad;
        }
        return option_result::ok;
    case 'R': {
        char* end = nullptr;
        o->rate = strtod(arg, &end);
        if (end == arg || *end != '\0' || !(o->rate > 0)) {
            fprintf(stderr, "%s: bad rate %s\n", tool, arg);
            return option_result::bad;
        }
        return option_result::ok;
    }
    case 'm':
        o->method = arg;
        return option_result::ok;
    case 'b':
        o->body = arg;
        o->has_body = true;
        return option_result::ok;
    case opt_body_file: {
        std::ifstream f(arg, std::ios::binary);
        if (!f) {
            fprintf(stderr, "%s: cannot read body file %s\n", tool, arg);
            return option_result::bad;
        }
        o->body.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
        o->has_body = true;
        return option_result::ok;
    }
    default:
        return option_result::unknown;
    }
}

void pin_load_thread(const common_options& o, uint32_t thread_index) {
    if (!o.cpus.empty()) {
        ringbolt::core::pin_current_thread(o.cpus[thread_index % o.cpus.size()]);
    }
}

} // namespace ringbolt_load
