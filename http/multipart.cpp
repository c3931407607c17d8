// The multipart/form-data state machine: delimiter search with memchr over the body
// (a held-back partial match is counted, not copied: it is a prefix of the delimiter),
// bounded part header blocks, Content-Disposition parameters (RFC 7578 §4.2, RFC 6266
// quoted-string, RFC 8187 filename*).
#include "http/multipart.hpp"

#include "core/strings.hpp"
#include "http/char_classes.hpp"
#include "http/query.hpp"

#include <cstring>

namespace ringbolt::http {

namespace {

// bchars := bcharsnospace / " "; bcharsnospace := DIGIT / ALPHA / "'" / "(" / ")" / "+" /
// "_" / "," / "-" / "." / "/" / ":" / "=" / "?"   (RFC 2046 §5.1.1)
constexpr chars::char_table bchar_table = chars::make_table(
    [](unsigned char c) { return chars::is_alpha(c) || chars::is_digit(c) || chars::in_set(c, "'()+_,-./:=? "); });

constexpr chars::char_table token_table = chars::make_table(
    [](unsigned char c) { return chars::is_alpha(c) || chars::is_digit(c) || chars::in_set(c, "!#$%&'*+-.^_`|~"); });

// A parameter value: a quoted-string (backslash escapes a character, RFC 9110 §5.6.4)
// or a token-ish run up to ';' or whitespace. False when a quote is not closed.
bool param_value(std::string_view s, size_t& pos, std::string& out) {
    out.clear();
    if (pos < s.size() && s[pos] == '"') {
        ++pos;
        while (pos < s.size()) {
            char c = s[pos++];
            if (c == '"') {
                return true;
            }
            if (c == '\\' && pos < s.size()) {
                c = s[pos++];
            }
            out.push_back(c);
        }
        return false;
    }
    while (pos < s.size() && s[pos] != ';' && s[pos] != ' ' && s[pos] != '\t') {
        out.push_back(s[pos++]);
    }
    return true;
}

// RFC 8187 ext-value: charset "'" [ language ] "'" value-chars. UTF-8 and ISO-8859-1
// are decoded to UTF-8; anything else (or a bad escape) gives false (the plain
// filename is used then).
bool decode_ext_value(std::string_view v, std::string& out) {
    size_t q1 = v.find('\'');
    size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
    if (q2 == std::string_view::npos) {
        return false;
    }
    std::string_view charset = v.substr(0, q1);
    std::string raw;
    if (!percent_decode(v.substr(q2 + 1), raw, false)) {
        return false;
    }
    out.clear();
    if (core::iequals(charset, "utf-8")) {
        out = std::move(raw);
        return true;
    }
    if (core::iequals(charset, "iso-8859-1")) {
        for (unsigned char c : raw) {
            if (c < 0x80) {
                out.push_back(static_cast<char>(c));
            } else {
                out.push_back(static_cast<char>(0xC0 | (c >> 6)));
                out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
            }
        }
        return true;
    }
    return false;
}

// Content-Disposition: form-data; name="..."; filename="..."; filename*=UTF-8''...
bool parse_disposition(std::string_view v, multipart_part& part) {
    size_t pos = 0;
    while (pos < v.size() && token_table[static_cast<unsigned char>(v[pos])]) {
        ++pos;
    }
    if (!core::iequals(v.substr(0, pos), "form-data")) {
        return false; // RFC 7578 §4.2: the disposition type is "form-data"
    }
    bool has_name = false;
    bool has_ext = false;
    std::string value;
    while (true) {
        core::skip_ows(v, pos);
        if (pos == v.size()) {
            break;
        }
        if (v[pos] != ';') {
            return false;
        }
        ++pos;
        core::skip_ows(v, pos);
        if (pos == v.size()) {
            break; // a trailing ';'
        }
        size_t start = pos;
        while (pos < v.size() && token_table[static_cast<unsigned char>(v[pos])]) {
            ++pos;
        }
        std::string_view key = v.substr(start, pos - start);
        core::skip_ows(v, pos);
        if (key.empty() || pos == v.size() || v[pos] != '=') {
            return false;
        }
        ++pos;
        core::skip_ows(v, pos);
        if (!param_value(v, pos, value)) {
            return false;
        }
        if (core::iequals(key, "name")) {
            if (has_name) {
                return false; // two names: which field is it?
            }
            has_name = true;
            part.name = value;
        } else if (core::iequals(key, "filename")) {
            part.has_filename = true;
            if (!has_ext) {
                part.filename = value;
            }
        } else if (core::iequals(key, "filename*")) {
            std::string decoded;
            if (decode_ext_value(value, decoded)) {
                part.has_filename = true;
                has_ext = true; // RFC 6266 §4.3: filename* wins over filename
                part.filename = std::move(decoded);
            }
        }
    }
    return has_name;
}

} // namespace

uint16_t multipart_status(multipart_error e) noexcept {
    return e == multipart_error::too_many_parts || e == multipart_error::part_too_large ? 413 : 400;
}

std::string multipart_message(multipart_error e, const multipart_limits& limits) {
    switch (e) {
    case multipart_error::none:
        return "no error";
    case multipart_error::bad_boundary:
        return "multipart/form-data without a valid boundary parameter (1-70 characters, RFC 2046)";
    case multipart_error::bad_delimiter:
        return "malformed multipart body: a boundary line is followed by something other than CRLF or '--'";
    case multipart_error::bad_part_header:
        return "malformed multipart body: a part header line is not 'name: value'";
    case multipart_error::header_too_large:
        return "multipart part headers larger than " + std::to_string(limits.max_header_bytes) + " bytes";
    case multipart_error::bad_disposition:
        return "multipart part without a valid 'Content-Disposition: form-data; name=...' header";
    case multipart_error::name_too_long:
        return "multipart field name longer than " + std::to_string(limits.max_name_length) +
               " bytes (max_field_name_length)";
    case multipart_error::too_many_parts:
        return "multipart body with more than " + std::to_string(limits.max_parts) + " parts (max_parts)";
    case multipart_error::part_too_large:
        return "multipart part larger than " + std::to_string(limits.max_part_size) + " bytes (max_part_size)";
    case multipart_error::truncated:
        return "truncated multipart body: it ended before the closing boundary";
    case multipart_error::aborted:
        return "multipart body refused";
    }
    return "malformed multipart body";
}

bool valid_boundary(std::string_view b) noexcept {
    if (b.empty() || b.size() > 70 || b.back() == ' ') {
        return false;
    }
    for (char c : b) {
        if (!bchar_table[static_cast<unsigned char>(c)]) {
            return false;
        }
    }
    return true;
}

std::string boundary_of(std::string_view content_type) {
    size_t pos = content_type.find(';');
    while (pos != std::string_view::npos && pos < content_type.size()) {
        ++pos;
        core::skip_ows(content_type, pos);
        size_t eq = content_type.find('=', pos);
        if (eq == std::string_view::npos) {
            return {};
        }
        std::string_view key = core::trim_ows(content_type.substr(pos, eq - pos));
        pos = eq + 1;
        core::skip_ows(content_type, pos);
        std::string value;
        if (!param_value(content_type, pos, value)) {
            return {};
        }
        if (core::iequals(key, "boundary")) {
            return value;
        }
        pos = content_type.find(';', pos);
    }
    return {};
}

multipart_parser::multipart_parser(std::string_view boundary, const multipart_limits& limits) : _limits(limits) {
    if (!valid_boundary(boundary)) {
        _state = state::failed;
        _error = multipart_error::bad_boundary;
    }
    _delim.reserve(boundary.size() + 4);
    _delim.append("\r\n--");
    _delim.append(boundary);
}

multipart_status_code multipart_parser::fail(multipart_error e) noexcept {
    if (_state != state::failed) {
        _state = state::failed;
        _error = e;
    }
    return multipart_status_code::error;
}

bool multipart_parser::data(multipart_sink& sink, std::string_view d) {
    if (_state != state::body || d.empty()) {
        return true; // preamble: discarded
    }
    _part_bytes += d.size();
    if (_part_bytes > _limits.max_part_size) {
        fail(multipart_error::part_too_large);
        return false;
    }
    if (!sink.on_part_data(d)) {
        fail(multipart_error::aborted);
        return false;
    }
    return true;
}

bool multipart_parser::parse_header_line(std::string_view line) {
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) {
        return false; // also an obs-fold line (starts with whitespace): no name before ':'
    }
    for (size_t i = 0; i < colon; ++i) {
        if (!token_table[static_cast<unsigned char>(line[i])]) {
            return false;
        }
    }
    for (size_t i = colon + 1; i < line.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(line[i]);
        if (c == '\r' || c == '\0' || c == '\n') {
            return false;
        }
    }
    return true;
}

bool multipart_parser::end_of_headers(multipart_sink& sink) {
    _part.name.clear();
    _part.filename.clear();
    _part.has_filename = false;
    _part.content_type = {};
    _part.headers.clear();
    bool has_disposition = false;
    std::string_view hdr(_hdr);
    for (auto [start, end] : _line_bounds) {
        std::string_view line = hdr.substr(start, end - start);
        size_t colon = line.find(':');
        std::string_view name = line.substr(0, colon);
        std::string_view value = core::trim_ows(line.substr(colon + 1));
        _part.headers.emplace_back(name, value);
        if (core::iequals(name, "content-disposition")) {
            if (has_disposition || !parse_disposition(value, _part)) {
                fail(multipart_error::bad_disposition);
                return false;
            }
            has_disposition = true;
        } else if (core::iequals(name, "content-type")) {
            _part.content_type = value;
        }
    }
    if (!has_disposition) {
        fail(multipart_error::bad_disposition);
        return false;
    }
    if (_part.name.size() > _limits.max_name_length) {
        fail(multipart_error::name_too_long);
        return false;
    }
    if (!sink.on_part_begin(_part)) {
        fail(multipart_error::aborted);
        return false;
    }
    _state = state::body;
    _matched = 0;
    _part_bytes = 0;
    return true;
}

multipart_status_code multipart_parser::feed(std::string_view in, multipart_sink& sink) {
    size_t i = 0;
    const size_t n = in.size();
    while (i < n) {
        switch (_state) {
        case state::preamble:
        case state::body: {
            if (_matched > 0) {
                while (_matched < _delim.size() && i < n && in[i] == _delim[_matched]) {
                    ++_matched;
                    ++i;
                }
                if (_matched == _delim.size()) {
                    if (_state == state::body && !sink.on_part_end()) {
                        return fail(multipart_error::aborted);
                    }
                    _matched = 0;
                    _state = state::after_delimiter;
                    break;
                }
                if (i == n) {
                    return multipart_status_code::incomplete; // a partial match, held back
                }
                // Not the delimiter: what was held back is data. '\r' occurs in the
                // delimiter only at its start (a boundary has no CR), so no suffix of the
                // held bytes can start another match; in[i] is looked at again.
                if (!data(sink, std::string_view(_delim).substr(0, _matched))) {
                    return multipart_status_code::error;
                }
                _matched = 0;
                break;
            }
            const void* cr = std::memchr(in.data() + i, '\r', n - i);
            size_t stop = cr != nullptr ? static_cast<size_t>(static_cast<const char*>(cr) - in.data()) : n;
            if (!data(sink, in.substr(i, stop - i))) {
                return multipart_status_code::error;
            }
            i = stop;
            if (cr != nullptr) {
                _matched = 1;
                ++i;
            }
            break;
        }
        case state::after_delimiter: {
            char c = in[i++];
            if (c == '-') {
                _state = state::close_dash;
            } else if (c == ' ' || c == '\t') {
                _state = state::padding;
            } else if (c == '\r') {
                _state = state::padding_lf;
            } else {
                return fail(multipart_error::bad_delimiter);
            }
            break;
        }
        case state::close_dash:
            if (in[i++] != '-') {
                return fail(multipart_error::bad_delimiter);
            }
            _state = state::epilogue;
            return multipart_status_code::complete;
        case state::padding: {
            char c = in[i++];
            if (c == '\r') {
                _state = state::padding_lf;
            } else if (c != ' ' && c != '\t') {
                return fail(multipart_error::bad_delimiter);
            }
            break;
        }
        case state::padding_lf:
            if (in[i++] != '\n') {
                return fail(multipart_error::bad_delimiter);
            }
            if (_parts == _limits.max_parts) {
                return fail(multipart_error::too_many_parts);
            }
            ++_parts;
            _hdr.clear();
            _line_bounds.clear();
            _line_start = 0;
            _state = state::header_line;
            break;
        case state::header_line: {
            const void* lf = std::memchr(in.data() + i, '\n', n - i);
            size_t take = lf != nullptr ? static_cast<size_t>(static_cast<const char*>(lf) - in.data()) + 1 - i : n - i;
            if (_hdr.size() + take > _limits.max_header_bytes) {
                return fail(multipart_error::header_too_large);
            }
            _hdr.append(in.data() + i, take);
            i += take;
            if (lf == nullptr) {
                break;
            }
            // A line ends with CRLF; a bare LF is not a line end (RFC 2046 uses CRLF).
            size_t end = _hdr.size() - 1;
            if (end == _line_start || _hdr[end - 1] != '\r') {
                return fail(multipart_error::bad_part_header);
            }
            --end;
            if (end == _line_start) {
                if (!end_of_headers(sink)) {
                    return multipart_status_code::error;
                }
                break;
            }
            if (!parse_header_line(std::string_view(_hdr).substr(_line_start, end - _line_start))) {
                return fail(multipart_error::bad_part_header);
            }
            _line_bounds.emplace_back(_line_start, end);
            _line_start = _hdr.size();
            break;
        }
        case state::epilogue:
            return multipart_status_code::complete;
        case state::failed:
            return multipart_status_code::error;
        }
        if (_state == state::failed) {
            return multipart_status_code::error;
        }
    }
    return _state == state::epilogue ? multipart_status_code::complete
           : _state == state::failed ? multipart_status_code::error
                                     : multipart_status_code::incomplete;
}

multipart_status_code multipart_parser::finish() {
    if (_state == state::epilogue) {
        return multipart_status_code::complete;
    }
    return fail(multipart_error::truncated);
}

} // namespace ringbolt::http
