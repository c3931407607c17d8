// Access-log formatting: the format is compiled once into literal runs and atoms; a
// line is built on the caller's stack and handed to the log queue.
#include "dispatch/access_log.hpp"

#include "core/clock.hpp"
#include "core/log.hpp"
#include "http/char_classes.hpp"
#include "http/parser.hpp"
#include "http/response_writer.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

namespace ringbolt::dispatch {

std::atomic<bool> access_log_on{false};

namespace {

struct piece {
    char atom = 0;    ///< 0: literal text
    std::string text; ///< when literal
};

// Written before the reactors start, read-only afterwards.
std::vector<piece> g_pieces;

struct line_buffer {
    char data[1000];
    size_t len = 0;
    void add(std::string_view s) noexcept {
        size_t n = std::min(s.size(), sizeof(data) - len);
        std::memcpy(data + len, s.data(), n);
        len += n;
    }
    void add_int(int64_t v) noexcept {
        char tmp[24];
        auto [end, ec] = std::to_chars(tmp, tmp + sizeof(tmp), v);
        add({tmp, static_cast<size_t>(end - tmp)});
    }
};

// Request targets may carry any visible byte; control bytes never reach the log.
void add_printable(line_buffer& out, std::string_view s) noexcept {
    for (char c : s) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            char esc[4] = {'\\', 'x', http::chars::hex_digits[u >> 4], http::chars::hex_digits[u & 15]};
            out.add({esc, 4});
        } else {
            out.add({&c, 1});
        }
    }
}

} // namespace

std::string configure_access_log(bool enabled, std::string_view format) {
    std::vector<piece> pieces;
    std::string literal;
    for (size_t i = 0; i < format.size(); ++i) {
        char c = format[i];
        if (c != '%') {
            literal.push_back(c);
            continue;
        }
        if (i + 1 < format.size() && format[i + 1] == '%') {
            literal.push_back('%');
            ++i;
            continue;
        }
        // %(x)s
        if (i + 4 >= format.size() || format[i + 1] != '(' || format[i + 3] != ')' || format[i + 4] != 's') {
            return "access log format: expected %(x)s at offset " + std::to_string(i) + " of '" + std::string(format) +
                   "'";
        }
        char atom = format[i + 2];
        if (std::string_view("hprmUqHsSbBDLti").find(atom) == std::string_view::npos) {
            return std::string("access log format: unknown atom %(") + atom +
                   ")s (known: h p r m U q H s S b B D L t i)";
        }
        if (!literal.empty()) {
            pieces.push_back({0, std::move(literal)});
            literal.clear();
        }
        pieces.push_back({atom, {}});
        i += 4;
    }
    if (!literal.empty()) {
        pieces.push_back({0, std::move(literal)});
    }
    g_pieces = std::move(pieces);
    access_log_on.store(enabled, std::memory_order_release);
    return {};
}

void write_access_log(const access_entry& e) noexcept {
    line_buffer out;
    out.add("[ringbolt] ACCESS: ");
    std::string_view path = e.target;
    std::string_view query;
    if (size_t q = path.find('?'); q != std::string_view::npos) {
        query = path.substr(q + 1);
        path = path.substr(0, q);
    }
    std::string_view protocol = e.version_minor == 0                     ? "HTTP/1.0"
                                : e.version_minor == http::version_http2 ? "HTTP/2.0"
                                : e.version_minor == http::version_http3 ? "HTTP/3"
                                                                         : "HTTP/1.1";
    uint64_t elapsed_us = e.start_ns != 0 ? (core::monotonic_ns() - e.start_ns) / 1000 : 0;
    for (const piece& p : g_pieces) {
        switch (p.atom) {
        case 0:
            out.add(p.text);
            break;
        case 'h':
            if (e.peer != nullptr && e.peer->family != 0) {
                char buf[INET6_ADDRSTRLEN] = {};
                inet_ntop(e.peer->family, e.peer->addr, buf, sizeof(buf));
                out.add(buf);
            } else {
                out.add("-");
            }
            break;
        case 'p':
            if (e.peer != nullptr && e.peer->family != 0) {
                out.add_int(e.peer->port);
            } else {
                out.add("-");
            }
            break;
        case 'r':
            add_printable(out, e.method);
            out.add(" ");
            add_printable(out, e.target);
            out.add(" ");
            out.add(protocol);
            break;
        case 'm':
            add_printable(out, e.method);
            break;
        case 'U':
            add_printable(out, path);
            break;
        case 'q':
            add_printable(out, query);
            break;
        case 'H':
            out.add(protocol);
            break;
        case 's':
            out.add_int(e.status);
            break;
        case 'S':
            out.add(http::reason_phrase(e.status));
            break;
        case 'b':
            if (e.body_bytes >= 0) {
                out.add_int(e.body_bytes);
            } else {
                out.add("-");
            }
            break;
        case 'B':
            out.add_int(e.body_bytes >= 0 ? e.body_bytes : 0);
            break;
        case 'D':
            out.add_int(static_cast<int64_t>(elapsed_us));
            break;
        case 'L': {
            char tmp[32];
            int n = std::snprintf(tmp, sizeof(tmp), "%.6f", static_cast<double>(elapsed_us) / 1e6);
            out.add({tmp, static_cast<size_t>(n > 0 ? n : 0)});
            break;
        }
        case 'i':
            if (e.request_id.empty()) {
                out.add("-");
            } else {
                add_printable(out, e.request_id);
            }
            break;
        case 't': {
            std::time_t now = std::time(nullptr);
            std::tm tm{};
            gmtime_r(&now, &tm);
            char tmp[40];
            size_t n = std::strftime(tmp, sizeof(tmp), "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
            out.add({tmp, n});
            break;
        }
        default:
            break;
        }
    }
    core::log_line(core::log_level::info, {out.data, out.len});
}

} // namespace ringbolt::dispatch
