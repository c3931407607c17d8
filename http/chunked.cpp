// Transfer-Encoding: chunked decoder (RFC 9112 §7.1): a byte-driven state machine, so any
// split of the input gives the same body, consumed count and error. Chunk extensions
// and trailer fields are validated, then discarded.
#include "http/chunked.hpp"

#include "core/strings.hpp"
#include "http/char_classes.hpp"

#include <array>

namespace ringbolt::http {

namespace {

enum state : uint8_t {
    size_start,     // first HEXDIG of chunk-size
    size_digits,    // more HEXDIG, or what ends the size
    size_ws,        // BWS after chunk-size: only valid before ';'
    ext_name_start, // after ';': BWS then chunk-ext-name
    ext_name,       // in chunk-ext-name
    ext_after_name, // BWS after the name: '=' or ';' must follow
    ext_val_start,  // after '=': BWS then token or quoted-string
    ext_token,      // token chunk-ext-val
    ext_qstring,    // quoted-string chunk-ext-val
    ext_qpair,      // after '\' inside the quoted-string
    ext_after_val,  // after a value: BWS, then ';' or CR
    size_lf,        // LF ending the chunk-size line
    data,           // chunk-data
    data_cr,        // CR after chunk-data
    data_lf,        // LF after chunk-data
    trailer_start,  // start of a trailer line (field or the final CRLF)
    trailer_name,   // field-name
    trailer_value,  // after ':' up to CR
    trailer_lf,     // LF ending a trailer field line
    final_lf,       // LF of the final CRLF
    done,           // message complete
    failed,         // sticky error
};

// Character classes: http/char_classes.hpp.
constexpr const chars::char_table& qdtext_table = chars::qdtext;
constexpr const chars::char_table& vchar_ws_table = chars::field_value;
using chars::hex_value;

constexpr uint64_t max_chunk_size = static_cast<uint64_t>(INT64_MAX);

// Where a chunk extension's BWS, names and token values go on each kind of byte (RFC 9112
// §7.1.1); `failed`: a bad chunk. The quoted-string states are cases of their own.
struct ext_moves {
    uint8_t token = failed, quote = failed, equals = failed, semicolon = failed, ows = failed, cr = failed;
};

// One row per state, size_ws to ext_after_val.
constexpr std::array<ext_moves, ext_after_val - size_ws + 1> ext_rows = {{
    /* size_ws: BWS only precedes ';' */ {.semicolon = ext_name_start, .ows = size_ws},
    /* ext_name_start */ {.token = ext_name, .ows = ext_name_start},
    /* ext_name */
    {.token = ext_name, .equals = ext_val_start, .semicolon = ext_name_start, .ows = ext_after_name, .cr = size_lf},
    /* ext_after_name */ {.equals = ext_val_start, .semicolon = ext_name_start, .ows = ext_after_name},
    /* ext_val_start */ {.token = ext_token, .quote = ext_qstring, .ows = ext_val_start},
    /* ext_token */ {.token = ext_token, .semicolon = ext_name_start, .ows = ext_after_val, .cr = size_lf},
    /* ext_qstring */ {},
    /* ext_qpair */ {},
    /* ext_after_val */ {.semicolon = ext_name_start, .ows = ext_after_val, .cr = size_lf},
}};

// The state after byte `c` in extension state `st` (`failed` for any other state).
constexpr uint8_t ext_next(uint8_t st, unsigned char c) noexcept {
    if (st < size_ws || st > ext_after_val) {
        return failed;
    }
    const ext_moves& m = ext_rows[st - size_ws];
    if (chars::tchar[c]) {
        return m.token;
    }
    switch (c) {
    case '"':
        return m.quote;
    case '=':
        return m.equals;
    case ';':
        return m.semicolon;
    case '\r':
        return m.cr;
    default:
        if (core::is_ows(static_cast<char>(c))) {
            return m.ows;
        }
        return failed;
    }
}

} // namespace

void chunked_decoder::reset() noexcept {
    _state = size_start;
    _error = http_error::none;
    _chunk_left = 0;
    _decoded = 0;
    _line_bytes = 0;
    _trailer_bytes = 0;
}

chunked_outcome chunked_decoder::feed(std::string_view in, std::string& body) noexcept {
    const size_t n = in.size();
    size_t i = 0;
    uint8_t st = _state;

    auto fail = [&](http_error e) noexcept {
        _state = failed;
        _error = e;
        return chunked_outcome{chunked_status::error, e, i};
    };

    if (st == done) [[unlikely]] {
        return {chunked_status::complete, http_error::none, 0};
    }
    if (st == failed) [[unlikely]] {
        return {chunked_status::error, _error, 0};
    }

    while (i < n) {
        if (st == data) [[likely]] {
            const size_t avail = n - i;
            const size_t take = _chunk_left < avail ? static_cast<size_t>(_chunk_left) : avail;
            body.append(in.data() + i, take);
            _decoded += take;
            _chunk_left -= take;
            i += take;
            if (_chunk_left == 0) {
                st = data_cr;
            }
            continue;
        }

        const auto c = static_cast<unsigned char>(in[i]);

        // Size-line states share the line limit (RFC 9112 §7.1: bound what we buffer).
        if (st <= ext_after_val && c != '\r') {
            if (++_line_bytes > _limits.max_chunk_line) [[unlikely]] {
                return fail(http_error::bad_chunk);
            }
        }
        if (st >= trailer_start && st <= final_lf) {
            if (++_trailer_bytes > _limits.max_trailer_bytes) [[unlikely]] {
                return fail(http_error::header_too_large);
            }
        }

        switch (st) {
        // ---- chunk-size = 1*HEXDIG (RFC 9112 §7.1): no sign, no "0x", no leading space
        case size_start: {
            const int v = hex_value(c);
            if (v < 0) [[unlikely]] {
                return fail(http_error::bad_chunk);
            }
            _chunk_left = static_cast<uint64_t>(v);
            st = size_digits;
            break;
        }
        case size_digits: {
            const int v = hex_value(c);
            if (v >= 0) [[likely]] {
                if (_chunk_left > (max_chunk_size >> 4)) [[unlikely]] {
                    return fail(http_error::bad_chunk); // would pass 2^63
                }
                _chunk_left = (_chunk_left << 4) | static_cast<uint64_t>(v);
            } else if (c == '\r') {
                st = size_lf;
            } else if (c == ';') {
                st = ext_name_start;
            } else if (core::is_ows(static_cast<char>(c))) {
                st = size_ws;
            } else {
                return fail(http_error::bad_chunk);
            }
            break;
        }
        // ---- chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) (§7.1.1):
        // quoted-string values here, the other states by ext_rows (default below)
        case ext_qstring:
            if (c == '"') {
                st = ext_after_val;
            } else if (c == '\\') {
                st = ext_qpair;
            } else if (!qdtext_table[c]) {
                return fail(http_error::bad_chunk);
            }
            break;
        case ext_qpair:
            if (!vchar_ws_table[c]) {
                return fail(http_error::bad_chunk);
            }
            st = ext_qstring;
            break;
        case size_lf:
            if (c != '\n') [[unlikely]] {
                return fail(http_error::bad_chunk); // bare CR
            }
            _line_bytes = 0;
            if (_chunk_left == 0) {
                st = trailer_start; // last-chunk (§7.1)
                _trailer_bytes = 0;
            } else {
                // Check the limit before any byte of this chunk is appended.
                if (_chunk_left > _limits.max_body || _decoded > _limits.max_body - _chunk_left) [[unlikely]] {
                    return fail(http_error::body_too_large);
                }
                st = data;
            }
            break;
        // ---- chunk-data CRLF
        case data_cr:
            if (c != '\r') [[unlikely]] {
                return fail(http_error::bad_chunk);
            }
            st = data_lf;
            break;
        case data_lf:
            if (c != '\n') [[unlikely]] {
                return fail(http_error::bad_chunk);
            }
            st = size_start;
            break;
        // ---- trailer-section = *( field-line CRLF ) CRLF (§7.1.2, fields as in §5)
        case trailer_start:
            if (c == '\r') {
                st = final_lf;
            } else if (chars::tchar[c]) {
                st = trailer_name;
            } else {
                return fail(http_error::bad_chunk); // obs-fold, bare LF, empty name, ...
            }
            break;
        case trailer_name:
            if (c == ':') {
                st = trailer_value;
            } else if (!chars::tchar[c]) {
                return fail(http_error::bad_chunk); // includes whitespace before ':'
            }
            break;
        case trailer_value:
            if (c == '\r') {
                st = trailer_lf;
            } else if (!vchar_ws_table[c]) {
                return fail(http_error::bad_chunk);
            }
            break;
        case trailer_lf:
            if (c != '\n') [[unlikely]] {
                return fail(http_error::bad_chunk);
            }
            st = trailer_start;
            break;
        case final_lf:
            if (c != '\n') [[unlikely]] {
                return fail(http_error::bad_chunk);
            }
            _state = done;
            return {chunked_status::complete, http_error::none, i + 1};
        default: { // the extension states of ext_rows (any other: a bad chunk)
            const uint8_t next = ext_next(st, c);
            if (next == failed) {
                return fail(http_error::bad_chunk);
            }
            st = next;
            break;
        }
        }
        ++i;
    }
    _state = st;
    return {chunked_status::incomplete, http_error::none, n};
}

} // namespace ringbolt::http
