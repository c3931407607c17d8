// Owns: what both load generators' command lines share — the target URL (parsed and
// resolved once), the options every run has (-c -t -d -p --warmup --timeout --json
// --cpus), their parsing, and the getopt loop each tool feeds its own options into.
#pragma once

#include <cstdint>
#include <cstdio>
#include <getopt.h>
#include <initializer_list>
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

// The options of a run, whatever the protocol: ringbolt-load's options and
// ringbolt-ws-load's ws_options add theirs to these.
struct common_options {
    uint32_t connections = 10;
    uint32_t threads = 1;
    double duration_s = 10.0; // used unless -n is given
    uint32_t pipeline = 1;    // requests or messages in flight per connection
    double warmup_s = 0.0;
    uint32_t timeout_ms = 2000;
    bool json = false;
    std::vector<int> cpus; // pin thread i to cpus[i % size]
    std::string url;
    load_target target; // from the URL
};

// Pins the calling thread (thread_index of the run) to its CPU of --cpus, if any.
void pin_load_thread(const common_options& o, uint32_t thread_index);

// getopt values of the shared long-only options; a tool numbers its own from
// first_tool_option on.
enum common_long_option : int { opt_cpus = 1000, opt_warmup, opt_timeout, opt_json, first_tool_option };

// The request options of the HTTP tools (ringbolt-load, ringbolt-h3-load): -n -R -m -H -b
// --body-file. Each tool checks -H itself (what a header may be differs).
struct request_options : common_options {
    uint64_t requests = 0; // -n: stop after this many measured responses (or failures)
    double rate = 0.0;     // -R: total requests/s over all connections; 0 = closed loop
    std::string method = "GET";
    std::vector<std::string> headers; // "Name: value" as given
    std::string body;
    bool has_body = false;
};
// Their lines of an HTTP tool's usage text (a literal, to concatenate with the tool's).
#define REQUEST_OPTIONS_USAGE                                                                                          \
    "  -R, --rate RPS        constant rate over all connections; latency counted from the\n"                           \
    "                        intended send time (no coordinated omission)\n"                                           \
    "  -m, --method M        request method (default GET)\n"                                                           \
    "  -H, --header 'N: v'   extra request header (repeatable)\n"                                                      \
    "  -b, --body TEXT       request body\n"                                                                           \
    "      --body-file F     request body from a file\n"
// --body-file's getopt value; an HTTP tool numbers its own from first_request_option on.
enum request_long_option : int { opt_body_file = first_tool_option, first_request_option };

// A tool's getopt table: the shared options (-c -t -d -p --warmup --timeout --json --cpus
// --help), then the tool's own, then the terminator.
std::vector<option> long_options(std::initializer_list<option> own);
// An HTTP tool's: the shared options, the request options, then the tool's own.
std::vector<option> request_long_options(std::initializer_list<option> own);

// A tool's command line: its name (prefixes every error), usage text, getopt tables
// (which list the shared options too) and URL scheme ("http://", "ws://").
struct command_line {
    const char* tool;
    const char* usage;
    const char* short_opts;
    const option* long_opts;
    const char* scheme;
};

// What a tool's own option handler made of one option.
enum class option_result {
    ok,      // taken
    bad,     // a bad value, already reported on stderr
    unknown, // not one of the tool's: the usage text is printed
};

// Parses argv: the shared options into *o, every other one through tool_option(c,
// optarg). On a usage error prints why and returns false; sets *exit_now for --help.
template <class ToolOption>
bool parse_command_line(int argc, char** argv, const command_line& cl, common_options* o, bool* exit_now,
                        ToolOption tool_option);

// "10", "10s", "500ms", "1m"; an unsigned integer in [min, max]; a CPU list "1,2" or
// "0-3"; a URL with the given scheme, whose errors are printed prefixed with `tool`.
bool parse_seconds(const char* text, double* out);
bool parse_uint(const char* text, uint64_t min, uint64_t max, uint64_t* out);
// A byte count up to `max`: "512", "16k", "3m" (K and M too).
bool parse_size(const char* text, uint64_t max, uint64_t* out);
bool parse_cpus(const char* text, std::vector<int>* out);
bool parse_target(const std::string& url, const char* scheme, const char* tool, load_target* out);

// One request option other than -H (a getopt value); option_result::unknown if it is
// not one.
option_result parse_request_option(int c, const char* arg, const char* tool, request_options* o);
// One shared option (a getopt value); option_result::unknown if it is not shared.
option_result parse_common_option(int c, const char* arg, const char* tool, common_options* o);
// After the options: the URL operand, the thread count capped by the connections, the
// target resolved.
bool finish_command_line(int argc, char** argv, const command_line& cl, common_options* o);

template <class ToolOption>
bool parse_command_line(int argc, char** argv, const command_line& cl, common_options* o, bool* exit_now,
                        ToolOption tool_option) {
    *exit_now = false;
    int c = 0;
    while ((c = getopt_long(argc, argv, cl.short_opts, cl.long_opts, nullptr)) != -1) {
        if (c == 'h') {
            fputs(cl.usage, stdout);
            *exit_now = true;
            return true;
        }
        option_result r = parse_common_option(c, optarg, cl.tool, o);
        if (r == option_result::unknown) {
            r = tool_option(c, optarg);
        }
        if (r == option_result::bad) {
            return false;
        }
        if (r == option_result::unknown) {
            fputs(cl.usage, stderr);
            return false;
        }
    }
    return finish_command_line(argc, argv, cl, o);
}

} // namespace ringbolt_load
