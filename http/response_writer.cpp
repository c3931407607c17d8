// Response serialization. Appends into a std::string that the connection then sends
// as one buffer, so a loop turn's responses for a connection leave in one send.
#include "http/response_writer.hpp"

#include "http/char_classes.hpp"

#include <array>
#include <charconv>

namespace ringbolt::http {

std::string_view reason_phrase(uint16_t status) noexcept {
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 418:
        return "I'm a teapot";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 425:
        return "Too Early";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 451:
        return "Unavailable For Legal Reasons";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

namespace {

void append_uint(std::string& out, uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    (void)ec;
    out.append(buf, static_cast<size_t>(end - buf));
}
} // namespace

bool valid_field_name(std::string_view s) noexcept {
    if (s.empty()) {
        return false;
    }
    for (unsigned char c : s) {
        if (!chars::tchar[c]) {
            return false;
        }
    }
    return true;
}

bool valid_field_value(std::string_view s) noexcept {
    for (unsigned char c : s) {
        if (c == '\r' || c == '\n' || c == '\0') [[unlikely]] {
            return false;
        }
    }
    return true;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ", 2);
    out.append(value);
    out.append("\r\n", 2);
}

void write_head_start(std::string& out, uint16_t status, std::string_view date, bool close, bool keep_alive_header) {
    out.append("HTTP/1.1 ", 9);
    char code[3] = {static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                    static_cast<char>('0' + status % 10)};
    out.append(code, 3);
    out.push_back(' ');
    out.append(reason_phrase(status));
    out.append("\r\nServer: ringbolt\r\nDate: ", 26);
    out.append(date);
    out.append("\r\n", 2);
    if (close) {
        out.append("Connection: close\r\n", 19);
    } else if (keep_alive_header) {
        out.append("Connection: keep-alive\r\n", 24);
    }
}

void write_head_end(std::string& out, uint16_t status, size_t body_len) {
    if (!status_forbids_body(status)) [[likely]] {
        out.append("Content-Length: ", 16);
        append_uint(out, body_len);
        out.append("\r\n", 2);
    }
    out.append("\r\n", 2);
}

void write_response(std::string& out, const response_spec& spec, std::string_view date) {
    write_response(out, spec, date, std::array<std::pair<std::string_view, std::string_view>, 0>{});
}

void write_simple_response(std::string& out, uint16_t status, std::string_view body, std::string_view date, bool close,
                           bool head_request, std::string_view extra_name, std::string_view extra_value) {
    write_head_start(out, status, date, close, false);
    if (!status_forbids_body(status)) {
        append_header(out, "Content-Type", "text/plain; charset=utf-8");
    }
    if (!extra_name.empty()) {
        append_header(out, extra_name, extra_value);
    }
    write_head_end(out, status, body.size());
    if (!head_request && !status_forbids_body(status)) {
        out.append(body);
    }
}

void write_error_response(std::string& out, http_error err, std::string_view date) {
    write_simple_response(out, status_of(err), reason_of(err), date, true, false);
}

} // namespace ringbolt::http
