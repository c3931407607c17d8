// Owns: ringbolt-load's command line — the option set and the request bytes every
// connection sends — and what ringbolt-ws-load shares of it: the URL and target address
// (parsed and resolved once), numbers, durations and CPU lists.
#pragma once

#include <cstdint>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace ringbolt_load {

// The server under load, from SCHEME://HOST[:PORT][/path]: HOST is an IPv4 literal, a
// bracketed IPv6 literal or a name resolved once at start-up (IPv4 preferred).
struct load_target {
    std::string host; // as written (without brackets)
    uint16_t port = 80;
    std::string path = "/";
    std::string host_header; // host[:port] as sent in Host: brackets for IPv6, the port unless 80
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    int family = 0;
};

struct options {
    uint32_t connections = 10;
    uint32_t threads = 1;
    double duration_s = 10.0; // used unless requests > 0
    uint64_t requests = 0;    // -n: stop after this many measured responses
    uint32_t pipeline = 1;
    double rate = 0.0; // -R: total requests/s over all connections; 0 = closed loop
    std::string method = "GET";
    std::vector<std::string> headers;
    std::string body;
    bool has_body = false;
    double warmup_s = 0.0;
    uint32_t timeout_ms = 2000;
    bool json = false;
    std::vector<int> cpus; // pin thread i to cpus[i % size]
    std::string url;
    load_target target; // from the URL
};

// Parses argv into opts; on a usage error prints why and returns false. Sets
// *exit_now for --help.
bool parse_options(int argc, char** argv, options* opts, bool* exit_now);

// Shared with ringbolt-ws-load's command line: "10", "10s", "500ms", "1m"; an unsigned
// integer in [min, max]; a CPU list "1,2" or "0-3"; a URL with the given scheme
// ("http://", "ws://"), whose errors are printed prefixed with `tool`.
bool parse_seconds(const char* text, double* out);
bool parse_uint(const char* text, uint64_t min, uint64_t max, uint64_t* out);
bool parse_cpus(const char* text, std::vector<int>* out);
bool parse_target(const std::string& url, const char* scheme, const char* tool, load_target* out);

// One request as bytes (method, path, Host, user headers, Content-Length, body).
std::string build_request(const options& opts);

} // namespace ringbolt_load
