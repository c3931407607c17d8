// Response framing: head serialization and body framing per RFC 9112 §6-7.
#include "http/response_framer.hpp"

#include "http/char_classes.hpp"
#include "http/response_features.hpp"
#include "http/response_writer.hpp"

#include <charconv>

namespace ringbolt::http {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i];
        char y = b[i];
        if (x >= 'A' && x <= 'Z') {
            x = static_cast<char>(x - 'A' + 'a');
        }
        if (x != y) {
            return false;
        }
    }
    return true;
}

// A Connection value lists tokens (RFC 9110 §7.6.1): "close" anywhere means close.
bool lists_close(std::string_view v) noexcept {
    size_t i = 0;
    while (i < v.size()) {
        while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            ++i;
        }
        size_t j = i;
        while (j < v.size() && v[j] != ',' && v[j] != ' ' && v[j] != '\t') {
            ++j;
        }
        if (iequals(v.substr(i, j - i), "close")) {
            return true;
        }
        i = j;
    }
    return false;
}

void append_hex(std::string& out, uint64_t v) {
    char buf[20];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, 16);
    (void)ec;
    out.append(buf, static_cast<size_t>(end - buf));
}

void append_dec(std::string& out, uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    (void)ec;
    out.append(buf, static_cast<size_t>(end - buf));
}

} // namespace

field_action check_app_field(std::string_view name, std::string_view value, response_head& head,
                             int64_t& declared) noexcept {
    switch (name.size()) {
    case 4:
        if (iequals(name, "date")) {
            head.has_date = true;
        }
        return field_action::keep;
    case 6:
        if (iequals(name, "server")) {
            head.has_server = true;
        }
        return field_action::keep;
    case 10:
        if (iequals(name, "connection")) {
            if (lists_close(value)) {
                head.close = true;
            }
            return field_action::drop; // persistence is the server's decision
        }
        return field_action::keep;
    case 14:
        if (iequals(name, "content-length")) {
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
        if (iequals(name, "transfer-encoding")) {
            return field_action::drop; // the server chooses chunked or a length
        }
        return field_action::keep;
    default:
        return field_action::keep;
    }
}

void response_framer::start(output_queue& out, const request_context& req, uint16_t status, std::string_view fields,
                            int64_t content_length, bool app_close, std::string_view date, bool draining, bool has_date,
                            bool has_server, const server_fields* server) {
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
    out.write_tail([&](std::string& s) {
        s.append("HTTP/1.1 ", 9);
        char code[3] = {static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                        static_cast<char>('0' + status % 10)};
        s.append(code, 3);
        s.push_back(' ');
        s.append(reason_phrase(status));
        s.append("\r\n", 2);
        if (!has_server) {
            s.append(added.server);
        }
        if (!has_date && added.date) {
            s.append("Date: ", 6);
            s.append(date);
            s.append("\r\n", 2);
        }
        if (_close) {
            s.append("Connection: close\r\n", 19);
        } else if (http10) {
            s.append("Connection: keep-alive\r\n", 24);
        }
        if (!added.extra.empty()) [[unlikely]] {
            s.append(added.extra);
        }
        s.append(fields);
        if (req.features != nullptr) [[unlikely]] {
            append_feature_fields(req, fields, s);
        }
        // RFC 9110 §8.6: HEAD may carry the length GET would send; 1xx/204 never, and a
        // 304 here never does either (we do not know the selected representation's).
        if (!forbids && content_length >= 0) {
            s.append("Content-Length: ", 16);
            append_dec(s, static_cast<uint64_t>(content_length));
            s.append("\r\n", 2);
        } else if (_framing == body_framing::chunked) {
            s.append("Transfer-Encoding: chunked\r\n", 28);
        }
        s.append("\r\n", 2);
    });
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

void response_framer::chunk_head(output_queue& out, uint64_t n) {
    out.write_tail([&](std::string& s) {
        append_hex(s, n);
        s.append("\r\n", 2);
    });
}

bool response_framer::body(output_queue& out, std::string_view bytes) {
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

bool response_framer::body_owned(output_queue& out, std::string&& bytes, std::shared_ptr<send_credit> credit) {
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

bool response_framer::body_borrowed(output_queue& out, std::string_view bytes, std::shared_ptr<const void> keep,
                                    std::shared_ptr<send_credit> credit) {
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

bool response_framer::body_file(output_queue& out, std::shared_ptr<file_handle> file, uint64_t offset, uint64_t length,
                                std::shared_ptr<send_credit> credit) {
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

bool response_framer::end(output_queue& out, std::string_view trailers) {
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
