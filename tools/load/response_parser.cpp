// Owns: the response framing state machine declared in response_parser.hpp.
#include "response_parser.hpp"

#include "core/strings.hpp"
#include "http/char_classes.hpp"

#include <cstring>
#include <string_view>

namespace ringbolt_load {

namespace {

constexpr size_t max_head_bytes = 64 * 1024;

} // namespace

void response_parser::reset() noexcept {
    _state = state::head;
    _head_buf.clear();
    _remaining = 0;
    _chunk_size = 0;
    _chunk_digits = 0;
    _status = 0;
    _close = false;
}

void response_parser::finish(response_event* ev) noexcept {
    ev->complete = true;
    ev->status = _status;
    ev->close = _close;
    _state = state::head;
}

// Parse a whole header block [b, b+n), which ends with "\r\n\r\n", and choose how the
// body is delimited.
response_parser::result response_parser::parse_head(const char* b, size_t n) {
    std::string_view head(b, n);
    if (head.size() < 12 || head.substr(0, 7) != "HTTP/1." || head[8] != ' ') {
        return fail("bad status line");
    }
    bool http10 = head[7] == '0';
    int status = 0;
    for (int i = 9; i < 12; ++i) {
        if (head[i] < '0' || head[i] > '9') {
            return fail("bad status code");
        }
        status = status * 10 + (head[i] - '0');
    }
    size_t pos = head.find("\r\n");
    bool chunked = false;
    bool has_length = false;
    uint64_t length = 0;
    bool close = false;
    bool keep_alive = false;
    while (pos != std::string_view::npos) {
        size_t start = pos + 2;
        size_t end = head.find("\r\n", start);
        if (end == std::string_view::npos || end == start) {
            break; // the empty line that ends the block
        }
        std::string_view line = head.substr(start, end - start);
        pos = end;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            return fail("bad header line");
        }
        std::string_view name = line.substr(0, colon);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
            value.remove_prefix(1);
        }
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
            value.remove_suffix(1);
        }
        if (ringbolt::core::iequals(name, "content-length")) {
            if (value.empty()) {
                return fail("empty Content-Length");
            }
            uint64_t v = 0;
            for (char c : value) {
                if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) {
                    return fail("bad Content-Length");
                }
                v = v * 10 + static_cast<uint64_t>(c - '0');
            }
            if (has_length && v != length) {
                return fail("conflicting Content-Length");
            }
            has_length = true;
            length = v;
        } else if (ringbolt::core::iequals(name, "transfer-encoding")) {
            chunked = ringbolt::core::lists_token(value, "chunked");
        } else if (ringbolt::core::iequals(name, "connection")) {
            close = close || ringbolt::core::lists_token(value, "close");
            keep_alive = keep_alive || ringbolt::core::lists_token(value, "keep-alive");
        }
    }
    _status = status;
    // HTTP/1.0 closes unless it says keep-alive; 1.1 keeps alive unless it says close
    _close = close || (http10 && !keep_alive);
    if (status >= 100 && status < 200) {
        // interim response (100 Continue, 103 Early Hints): the final one follows
        _state = state::head;
        _status = 0;
        _close = false;
        return result::ok;
    }
    if (_head || status == 204 || status == 304) {
        _state = state::body_length;
        _remaining = 0;
    } else if (chunked) {
        _state = state::chunk_size;
        _chunk_size = 0;
        _chunk_digits = 0;
    } else if (has_length) {
        _state = state::body_length;
        _remaining = length;
    } else {
        _state = state::body_until_close;
        _close = true;
    }
    return result::ok;
}

response_parser::result response_parser::feed(const char* data, size_t len, size_t* consumed, response_event* ev) {
    ev->complete = false;
    size_t i = 0;
    if (_state == state::head) {
        if (_head_buf.empty()) {
            const void* end = memmem(data, len, "\r\n\r\n", 4);
            if (end == nullptr) {
                if (len > max_head_bytes) {
                    return fail("header block too large");
                }
                _head_buf.assign(data, len);
                *consumed = len;
                return result::ok;
            }
            size_t head_len = static_cast<size_t>(static_cast<const char*>(end) - data) + 4;
            if (parse_head(data, head_len) != result::ok) {
                return result::error;
            }
            i = head_len;
        } else {
            // the block began in an earlier receive: join, but search only new bytes
            size_t old = _head_buf.size();
            _head_buf.append(data, len);
            size_t from = old >= 3 ? old - 3 : 0;
            size_t end = _head_buf.find("\r\n\r\n", from);
            if (end == std::string::npos) {
                if (_head_buf.size() > max_head_bytes) {
                    return fail("header block too large");
                }
                *consumed = len;
                return result::ok;
            }
            size_t head_len = end + 4;
            result r = parse_head(_head_buf.data(), head_len);
            _head_buf.clear();
            if (r != result::ok) {
                return r;
            }
            i = head_len - old;
        }
        if (_state == state::head) { // an interim 1xx response: keep reading
            *consumed = i;
            return result::ok;
        }
        if (_state == state::body_length && _remaining == 0) {
            finish(ev);
            *consumed = i;
            return result::ok;
        }
    }
    while (i < len) {
        switch (_state) {
        case state::head:
            *consumed = i;
            return result::ok;
        case state::body_length: {
            uint64_t take = len - i < _remaining ? len - i : _remaining;
            i += take;
            _remaining -= take;
            if (_remaining == 0) {
                finish(ev);
                *consumed = i;
                return result::ok;
            }
            break;
        }
        case state::body_until_close:
            i = len;
            break;
        case state::chunk_size: {
            char c = data[i++];
            int v = ringbolt::http::chars::hex_value(static_cast<unsigned char>(c));
            if (v >= 0) {
                if (_chunk_digits >= 15) {
                    return fail("chunk size too large");
                }
                _chunk_size = _chunk_size * 16 + static_cast<uint64_t>(v);
                ++_chunk_digits;
            } else if (_chunk_digits == 0) {
                return fail("bad chunk size");
            } else if (c == ';' || c == ' ' || c == '\t') {
                _state = state::chunk_ext;
            } else if (c == '\r') {
                _state = state::chunk_size_lf;
            } else {
                return fail("bad chunk size line");
            }
            break;
        }
        case state::chunk_ext:
            if (data[i++] == '\r') {
                _state = state::chunk_size_lf;
            }
            break;
        case state::chunk_size_lf:
            if (data[i++] != '\n') {
                return fail("bad chunk size line end");
            }
            if (_chunk_size == 0) {
                _state = state::trailer_start;
            } else {
                _remaining = _chunk_size;
                _state = state::chunk_data;
            }
            break;
        case state::chunk_data: {
            uint64_t take = len - i < _remaining ? len - i : _remaining;
            i += take;
            _remaining -= take;
            if (_remaining == 0) {
                _state = state::chunk_data_cr;
            }
            break;
        }
        case state::chunk_data_cr:
            if (data[i++] != '\r') {
                return fail("chunk data not followed by CRLF");
            }
            _state = state::chunk_data_lf;
            break;
        case state::chunk_data_lf:
            if (data[i++] != '\n') {
                return fail("chunk data not followed by CRLF");
            }
            _state = state::chunk_size;
            _chunk_size = 0;
            _chunk_digits = 0;
            break;
        case state::trailer_start: {
            char c = data[i++];
            if (c == '\r') {
                _state = state::trailer_end_lf;
            } else {
                _state = state::trailer_line;
            }
            break;
        }
        case state::trailer_line:
            if (data[i++] == '\n') {
                _state = state::trailer_start;
            }
            break;
        case state::trailer_end_lf:
            if (data[i++] != '\n') {
                return fail("bad end of chunked body");
            }
            finish(ev);
            *consumed = i;
            return result::ok;
        }
    }
    *consumed = i;
    return result::ok;
}

bool response_parser::on_eof(response_event* ev, bool* mid_response) noexcept {
    ev->complete = false;
    if (_state == state::body_until_close) {
        finish(ev);
        *mid_response = false;
        return true;
    }
    *mid_response = !idle();
    return false;
}

} // namespace ringbolt_load
