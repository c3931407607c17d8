// Response framing: head serialization and body framing per RFC 9112 §6-7.
#include "http/response_framer.hpp"

#include "core/strings.hpp"
#include "http/char_classes.hpp"
#include "http/response_features.hpp"
#include "http/response_writer.hpp"

#include <charconv>
#include <cstring>

namespace ringbolt::http {

namespace {

void append_hex(std::string& out, uint64_t v) {
    char buf[20];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, 16);
    (void)ec;
    out.append(buf, static_cast<size_t>(end - buf));
}

} // namespace

field_action check_app_field(std::string_view name, std::string_view value, response_head& head,
                             int64_t& declared) noexcept {
    switch (name.size()) {
    case 4:
        if (core::iequals(name, "date")) {
            head.has_date = true;
        }
        return field_action::keep;
    case 6:
        if (core::iequals(name, "server")) {
            head.has_server = true;
        }
        return field_action::keep;
    case 10:
        if (core::iequals(name, "connection")) {
            if (core::lists_token(value, "close")) { // RFC 9110 §7.6.1
                head.close = true;
            }
            return field_action::drop; // persistence is the server's decision
        }
        return field_action::keep;
    case 14:
        if (core::iequals(name, "content-length")) {
            // RFC 9110 §8.6: 1*DIGIT. Leading/trailing whitespace was already trimmed
            // by a well-behaved caller; anything else is refused.
            uint64_t v = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (value.empty() || ec != std::errc() || end != value.data() + value.size() ||
                v > static_cast<uint64_t>(INT64_MAX)) {
                return field_action::bad_length;
            }
            if (declared >= 0 && static_cast<uint64_t>(declared) != v) {
                return field_action::bad_length; // two different lengths
            }
            declared = static_cast<int64_t>(v);
            return field_action::content_length;
        }
        return field_action::keep;
    case 17:
        if (core::iequals(name, "transfer-encoding")) {
            return field_action::drop; // the server chooses chunked or a length
        }
        return field_action::keep;
    default:
        return field_action::keep;
    }
}

// The head is written in place: the tail grows once by an upper bound of the head's
// size, the pieces are copied in with memcpy (fixed-size ones inline), and the tail is
// cut to what was written. About half the instructions of one std::string::append per
// piece (BENCHMARKS.md, "Hot path instructions, second pass").
namespace {

constexpr size_t decimal_max = 20;      // digits of a uint64_t
constexpr size_t imf_fixdate_size = 29; // "Sun, 06 Nov 1994 08:49:37 GMT"
// The framing line and the empty line: at most "Content-Length: " and 20 digits (longer
// than "Transfer-Encoding: chunked"), then CRLF CRLF.
constexpr size_t framing_max = sizeof("Content-Length: \r\n\r\n") - 1 + decimal_max;

template <size_t N> inline char* put(char* p, const char (&lit)[N]) noexcept {
    std::memcpy(p, lit, N - 1);
    return p + (N - 1);
}

inline char* put(char* p, std::string_view v) noexcept {
    if (!v.empty()) { // (an empty view may have a null data(): not for memcpy)
        std::memcpy(p, v.data(), v.size());
    }
    return p + v.size();
}

// Grow `s` by `upper` bytes (at most what will be written) and return where they start.
inline char* open_tail(std::string& s, size_t upper) {
    size_t n = s.size();
    s.resize(n + upper);
    return s.data() + n;
}

inline void close_tail(std::string& s, const char* end) {
    s.resize(static_cast<size_t>(end - s.data()));
}

} // namespace

void response_framer::frame(core::output_queue& out, const request_context& req, uint16_t status,
                            std::string_view fields, int64_t content_length, bool app_close, std::string_view date,
                            bool draining, bool has_date, bool has_server, const server_fields* server,
                            std::string_view body) {
    static const server_fields defaults;
    const server_fields& added = server != nullptr ? *server : defaults;
    _status = status;
    bool forbids = status_forbids_body(status);
    bool http10 = req.version_minor == 0;
    if (forbids || req.head_request) {
        _framing = body_framing::none;
    } else if (content_length >= 0) {
        _framing = body_framing::length;
    } else if (!http10) {
        _framing = body_framing::chunked;
    } else {
        _framing = body_framing::until_close;
    }
    _remaining = content_length >= 0 ? static_cast<uint64_t>(content_length) : 0;
    _close = !req.keep_alive || draining || app_close || _framing == body_framing::until_close;
    if (_framing != body_framing::length) {
        body = {}; // HEAD, 1xx/204/304: no body on the wire
    }
    _remaining -= body.size();
    // A small body joins the head's write; a larger one is appended after it (the resize
    // below zero-fills what it grows, a cost worth paying only for small bodies).
    std::string_view with_head = body.size() < core::output_queue::coalesce_below ? body : std::string_view();
    const bool add_server = !has_server;
    const bool add_date = !has_date && added.date;
    out.write_tail([&](std::string& s) {
        std::string_view reason = status == 200 ? std::string_view("OK", 2) : reason_phrase(status);
        // Upper bound of everything up to the handler's fields (and the features' lines).
        size_t upper = sizeof("HTTP/1.1 200 \r\n") - 1 + reason.size() + added.server.size() + sizeof("Date: \r\n") -
                       1 + date.size() + sizeof("Connection: keep-alive\r\n") - 1 + added.extra.size() + fields.size() +
                       framing_max + with_head.size();
        char* p = open_tail(s, upper);
        if (status == 200) [[likely]] {
            p = put(p, "HTTP/1.1 200 OK\r\n");
        } else {
            p = put(p, "HTTP/1.1 ");
            p[0] = static_cast<char>('0' + status / 100 % 10);
            p[1] = static_cast<char>('0' + status / 10 % 10);
            p[2] = static_cast<char>('0' + status % 10);
            p[3] = ' ';
            p = put(p + 4, reason);
            p = put(p, "\r\n");
        }
        if (add_server) {
            p = put(p, added.server);
        }
        if (add_date) {
            p = put(p, "Date: ");
            if (date.size() == imf_fixdate_size) [[likely]] {
                std::memcpy(p, date.data(), imf_fixdate_size); // a fixed size: no call
                p += imf_fixdate_size;
            } else {
                p = put(p, date);
            }
            p = put(p, "\r\n");
        }
        if (_close) {
            p = put(p, "Connection: close\r\n");
        } else if (http10) {
            p = put(p, "Connection: keep-alive\r\n");
        }
        if (!added.extra.empty()) [[unlikely]] {
            p = put(p, added.extra);
        }
        p = put(p, fields);
        // The features' lines (CORS, request id, security headers), when they add any:
        // an app that only compresses has its features on every answer and adds none.
        if (req.features != nullptr && (!req.extra_fields.empty() || !req.features->security_fields.empty()))
            [[unlikely]] {
            close_tail(s, p);
            append_feature_fields(req, fields, s);
            p = open_tail(s, framing_max + with_head.size());
        }
        // RFC 9110 §8.6: HEAD may carry the length GET would send; 1xx/204 never, and a
        // 304 here never does either (we do not know the selected representation's).
        if (!forbids && content_length >= 0) {
            p = put(p, "Content-Length: ");
            p = std::to_chars(p, p + decimal_max, static_cast<uint64_t>(content_length)).ptr;
            p = put(p, "\r\n");
        } else if (_framing == body_framing::chunked) {
            p = put(p, "Transfer-Encoding: chunked\r\n");
        }
        p = put(p, "\r\n");
        p = put(p, with_head);
        close_tail(s, p);
    });
    if (with_head.size() != body.size()) {
        out.append(body);
    }
}

bool response_framer::admit(uint64_t n) noexcept {
    if (_framing != body_framing::length) {
        return true;
    }
    if (n > _remaining) {
        return false;
    }
    _remaining -= n;
    return true;
}

void response_framer::chunk_head(core::output_queue& out, uint64_t n) {
    out.write_tail([&](std::string& s) {
        append_hex(s, n);
        s.append("\r\n", 2);
    });
}

bool response_framer::body(core::output_queue& out, std::string_view bytes) {
    if (bytes.empty() || _framing == body_framing::none) {
        return true;
    }
    if (!admit(bytes.size())) {
        return false;
    }
    if (_framing == body_framing::chunked) {
        out.write_tail([&](std::string& s) {
            append_hex(s, bytes.size());
            s.append("\r\n", 2);
            s.append(bytes);
            s.append("\r\n", 2);
        });
        return true;
    }
    out.append(bytes);
    return true;
}

bool response_framer::body_owned(core::output_queue& out, std::string&& bytes,
                                 std::shared_ptr<core::send_credit> credit) {
    if (bytes.empty() || _framing == body_framing::none) {
        if (credit) {
            credit->on_sent(bytes.size()); // never sent: give the producer its credit back
        }
        return true;
    }
    if (!admit(bytes.size())) {
        return false;
    }
    if (_framing == body_framing::chunked) {
        chunk_head(out, bytes.size());
        out.append_owned(std::move(bytes), std::move(credit));
        out.append("\r\n");
        return true;
    }
    out.append_owned(std::move(bytes), std::move(credit));
    return true;
}

bool response_framer::body_borrowed(core::output_queue& out, std::string_view bytes, std::shared_ptr<const void> keep,
                                    std::shared_ptr<core::send_credit> credit) {
    if (bytes.empty() || _framing == body_framing::none) {
        if (credit) {
            credit->on_sent(bytes.size());
        }
        return true;
    }
    if (!admit(bytes.size())) {
        return false;
    }
    if (_framing == body_framing::chunked) {
        chunk_head(out, bytes.size());
        out.append_borrowed(bytes, std::move(keep), std::move(credit));
        out.append("\r\n");
        return true;
    }
    out.append_borrowed(bytes, std::move(keep), std::move(credit));
    return true;
}

bool response_framer::body_file(core::output_queue& out, std::shared_ptr<core::file_handle> file, uint64_t offset,
                                uint64_t length, std::shared_ptr<core::send_credit> credit) {
    if (length == 0 || _framing == body_framing::none) {
        if (credit) {
            credit->on_sent(length);
        }
        return true;
    }
    if (!admit(length)) {
        return false;
    }
    if (_framing == body_framing::chunked) {
        chunk_head(out, length);
        out.append_file(std::move(file), offset, length, std::move(credit));
        out.append("\r\n");
        return true;
    }
    out.append_file(std::move(file), offset, length, std::move(credit));
    return true;
}

bool response_framer::end(core::output_queue& out, std::string_view trailers) {
    if (_framing == body_framing::chunked) {
        out.write_tail([&](std::string& s) {
            s.append("0\r\n", 3);
            s.append(trailers);
            s.append("\r\n", 2);
        });
        return true;
    }
    if (_framing == body_framing::length) {
        return _remaining == 0;
    }
    return true;
}

} // namespace ringbolt::http
