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

constexpr std::string_view line_prefix = "[ringbolt] ACCESS: ";
// The client's text (method, target, request id) is measured per line and shares what the
// rest leaves; at most this many pieces of it, as a format may leave each at least
// access_client_share_min bytes.
constexpr size_t client_parts_max = access_line_max / access_client_share_min;

// Written before the reactors start, read-only afterwards.
std::vector<piece> g_pieces;
size_t g_client_budget = 0; ///< the bytes a line leaves the client's text, its other parts at their longest

struct line_buffer {
    std::array<char, access_line_max>& data;
    size_t len = 0;
    void add(std::string_view s) noexcept {
        size_t n = std::min(s.size(), data.size() - len);
        std::memcpy(data.data() + len, s.data(), n);
        len += n;
    }
    void add_int(int64_t v) noexcept {
        char tmp[24];
        auto [end, ec] = std::to_chars(tmp, tmp + sizeof(tmp), v);
        add({tmp, static_cast<size_t>(end - tmp)});
    }
};

bool is_control(char c) noexcept {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}

// Request targets may carry any visible byte; control bytes never reach the log.
void add_printable(line_buffer& out, std::string_view s) noexcept {
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (is_control(c)) {
            char esc[4] = {'\\', 'x', http::chars::hex_digits[u >> 4], http::chars::hex_digits[u & 15]};
            out.add({esc, 4});
        } else {
            out.add({&c, 1});
        }
    }
}

size_t printable_size(std::string_view s) noexcept {
    size_t n = s.size();
    for (char c : s) {
        n += is_control(c) ? 3 : 0;
    }
    return n;
}

// `s` in at most `room` bytes: whole when its printable form (`need` bytes) fits, else as
// much as fits before "...[+N]", cut before a UTF-8 sequence rather than inside it.
void add_printable_cut(line_buffer& out, std::string_view s, size_t need, size_t room) noexcept {
    if (need <= room) [[likely]] {
        add_printable(out, s);
        return;
    }
    char count[24];
    auto [end, ec] = std::to_chars(count, count + sizeof(count), s.size());
    size_t marker = 6 + static_cast<size_t>(end - count); // "...[+" N "]", N at its largest
    size_t text_room = room > marker ? room - marker : 0;
    size_t cut = 0;
    for (size_t used = 0; cut < s.size(); ++cut) {
        used += is_control(s[cut]) ? 4 : 1;
        if (used > text_room) {
            break;
        }
    }
    for (int back = 0; back < 3 && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80; ++back) {
        --cut; // a continuation byte: the sequence goes whole into the cut
    }
    add_printable(out, s.substr(0, cut));
    out.add("...[+");
    out.add_int(static_cast<int64_t>(s.size() - cut));
    out.add("]");
}

// The most an atom other than the client's text writes (its own buffer's size where it
// formats into one); the request line's method and target are the client's.
size_t atom_max(char atom) noexcept {
    switch (atom) {
    case 'h':
        return INET6_ADDRSTRLEN - 1;
    case 'p':
    case 's':
        return 5; // uint16_t
    case 'r':
        return 2 + 8; // two spaces and the protocol
    case 'H':
        return 8;
    case 'S': {
        size_t most = 0;
        for (uint32_t status = 0; status <= UINT16_MAX; ++status) {
            most = std::max(most, http::reason_phrase(static_cast<uint16_t>(status)).size());
        }
        return most;
    }
    case 'b':
    case 'B':
    case 'D':
        return 20; // int64_t with its sign
    case 'L':
        return 31;
    case 't':
        return 39;
    default:
        return 0; // m U q i: the client's text
    }
}

// How many pieces of the client's text an atom writes.
size_t client_parts_of(char atom) noexcept {
    switch (atom) {
    case 'r':
        return 2; // method and target
    case 'm':
    case 'U':
    case 'q':
    case 'i':
        return 1;
    default:
        return 0;
    }
}

// What each piece of the client's text may take of `budget`: all of it when the pieces fit,
// else an equal share, the pieces shorter than their share whole and their rest shared by
// the others (water-filling).
void share_budget(const size_t* need, size_t* room, size_t n, size_t budget) noexcept {
    size_t total = 0;
    for (size_t k = 0; k < n; ++k) {
        total += need[k];
    }
    if (total <= budget) [[likely]] {
        std::copy(need, need + n, room);
        return;
    }
    bool settled[client_parts_max] = {};
    size_t open = n;
    size_t left = budget;
    for (bool moved = true; moved && open > 0;) {
        moved = false;
        size_t share = left / open;
        for (size_t k = 0; k < n; ++k) {
            if (!settled[k] && need[k] <= share) {
                room[k] = need[k];
                left -= need[k];
                settled[k] = true;
                --open;
                moved = true;
            }
        }
    }
    for (size_t k = 0; k < n; ++k) {
        if (!settled[k]) {
            room[k] = left / open;
        }
    }
}

} // namespace

std::string configure_access_log(bool enabled, std::string_view format) {
    std::vector<piece> pieces;
    std::string literal;
    size_t fixed = line_prefix.size();
    size_t client_parts = 0;
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
            fixed += literal.size();
            pieces.push_back({0, std::move(literal)});
            literal.clear();
        }
        fixed += atom_max(atom);
        client_parts += client_parts_of(atom);
        pieces.push_back({atom, {}});
        i += 4;
    }
    if (!literal.empty()) {
        fixed += literal.size();
        pieces.push_back({0, std::move(literal)});
    }
    size_t budget = fixed < access_line_max ? access_line_max - fixed : 0;
    if (budget < client_parts * access_client_share_min || (client_parts == 0 && fixed > access_line_max)) {
        return "access log format: its text and fields take up to " + std::to_string(fixed) + " of a line's " +
               std::to_string(access_line_max) + " bytes, which leaves the client's text (" +
               std::to_string(client_parts) + " pieces: method, target, request id) fewer than " +
               std::to_string(access_client_share_min) + " bytes each";
    }
    g_pieces = std::move(pieces);
    g_client_budget = budget;
    access_log_on.store(enabled, std::memory_order_release);
    return {};
}

size_t format_access_line(const access_entry& e, std::array<char, access_line_max>& line) noexcept {
    line_buffer out{line};
    out.add(line_prefix);
    std::string_view path = e.target;
    std::string_view query;
    if (size_t q = path.find('?'); q != std::string_view::npos) {
        query = path.substr(q + 1);
        path = path.substr(0, q);
    }
    std::string_view request_id = e.request_id.empty() ? std::string_view("-") : e.request_id;
    // The client's text in the format's order, measured, then given its share of the line.
    std::string_view client[client_parts_max];
    size_t parts = 0;
    size_t raw = 0;
    for (const piece& p : g_pieces) {
        switch (p.atom) {
        case 'r':
            client[parts++] = e.method;
            client[parts++] = e.target;
            break;
        case 'm':
            client[parts++] = e.method;
            break;
        case 'U':
            client[parts++] = path;
            break;
        case 'q':
            client[parts++] = query;
            break;
        case 'i':
            client[parts++] = request_id;
            break;
        default:
            continue;
        }
    }
    size_t need[client_parts_max];
    size_t room[client_parts_max];
    for (size_t k = 0; k < parts; ++k) {
        raw += client[k].size();
    }
    if (raw * 4 <= g_client_budget) [[likely]] { // fits even with every byte escaped: nothing to measure
        std::fill(need, need + parts, 0);
        std::fill(room, room + parts, g_client_budget);
    } else {
        for (size_t k = 0; k < parts; ++k) {
            need[k] = printable_size(client[k]);
        }
        share_budget(need, room, parts, g_client_budget);
    }
    size_t k = 0;
    auto add_client = [&](std::string_view text) noexcept {
        add_printable_cut(out, text, need[k], room[k]);
        ++k;
    };
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
            add_client(e.method);
            out.add(" ");
            add_client(e.target);
            out.add(" ");
            out.add(protocol);
            break;
        case 'm':
            add_client(e.method);
            break;
        case 'U':
            add_client(path);
            break;
        case 'q':
            add_client(query);
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
            out.add({tmp, std::min(static_cast<size_t>(n > 0 ? n : 0), sizeof(tmp) - 1)});
            break;
        }
        case 'i':
            add_client(request_id);
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
    return out.len;
}

void write_access_log(const access_entry& e) noexcept {
    std::array<char, access_line_max> line;
    size_t len = format_access_line(e, line);
    core::log_line(core::log_level::info, {line.data(), len});
}

} // namespace ringbolt::dispatch
