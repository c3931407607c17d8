// Owns: command-line parsing for ringbolt-h3-load (see h3_options.hpp).
#include "h3_options.hpp"

#include "h3_connection.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

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
    "  -i, --input-file F    request paths from F, one URI a line (https://h:p/path or /path;\n"
    "                        the URL's host and port are used), each connection taking them\n"
    "                        in turn from the first, as h2load's -i\n"
    "      --warmup T        unmeasured time before the measurement (default 0)\n"
    "      --timeout MS      per-request and handshake timeout in milliseconds (default 2000)\n"
    "      --json            print the result as one JSON object\n"
    "  -h, --help            this text\n";

} // namespace

bool read_uri_paths(const char* file, std::vector<std::string>* out) {
    std::ifstream f(file);
    if (!f) {
        fprintf(stderr, "ringbolt-h3-load: cannot read URI list %s: %s\n", file, strerror(errno));
        return false;
    }
    std::string line;
    for (size_t number = 1; std::getline(f, line); ++number) {
        size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos) {
            continue; // a blank line
        }
        size_t last = line.find_last_not_of(" \t\r");
        std::string uri = line.substr(first, last - first + 1);
        std::string path;
        if (uri.front() == '/') {
            path = uri;
        } else if (size_t scheme = uri.find("://"); scheme != std::string::npos && scheme > 0) {
            size_t slash = uri.find('/', scheme + 3);
            path = slash == std::string::npos ? "/" : uri.substr(slash);
        } else {
            fprintf(stderr, "ringbolt-h3-load: %s line %zu: not a URI (https://host:port/path or /path): %s\n", file,
                    number, uri.c_str());
            return false;
        }
        for (char c : path) {
            if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
                fprintf(stderr, "ringbolt-h3-load: %s line %zu: a space or control character in the path\n", file,
                        number);
                return false;
            }
        }
        out->push_back(std::move(path));
    }
    if (out->empty()) {
        fprintf(stderr, "ringbolt-h3-load: %s holds no URI\n", file);
        return false;
    }
    return true;
}

bool parse_h3_options(int argc, char** argv, h3_options* o, bool* exit_now) {
    enum { opt_body_size = first_request_option };
    static const std::vector<option> long_opts = request_long_options({
        {"streams", required_argument, nullptr, 'p'},
        {"body-size", required_argument, nullptr, opt_body_size},
        {"input-file", required_argument, nullptr, 'i'},
    });
    static const command_line cl = {"ringbolt-h3-load", usage_text, "c:t:d:n:p:R:m:H:b:i:h", long_opts.data(),
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
        case 'i':
            o->paths.clear();
            return read_uri_paths(arg, &o->paths) ? option_result::ok : option_result::bad;
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
