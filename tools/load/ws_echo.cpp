// Owns: building messages and checking echoes (see ws_echo.hpp).
#include "ws_echo.hpp"

#include "http/char_classes.hpp"

#include <algorithm>
#include <cstring>

namespace ringbolt_load {

ws_echo_template::ws_echo_template(uint64_t size, bool text, uint64_t key) {
    memcpy(_key, &key, 4);
    _opcode = text ? ws_opcode::text : ws_opcode::binary;
    _plain.resize(size);
    for (size_t j = 0; j < _plain.size(); ++j) {
        _plain[j] = text ? static_cast<char>('a' + (j * 7) % 26) : static_cast<char>((j * 131 + 7) & 0xff);
    }
    append_client_frame(&_frame, _opcode, _plain.data(), _plain.size(), _key);
    _payload_at = _frame.size() - _plain.size();
}

void ws_echo_template::digits_for(uint64_t who, uint64_t seq, char* out) const noexcept {
    using ringbolt::http::chars::hex_digits;
    uint64_t v = (who << 40) | (seq & ((uint64_t{1} << 40) - 1));
    for (size_t d = 0; d < seq_digits; ++d) {
        out[seq_digits - 1 - d] = hex_digits[(v >> (4 * d)) & 15];
    }
}

void ws_echo_template::append_message(std::string* out, uint64_t who, uint64_t seq) const {
    size_t at = out->size();
    *out += _frame;
    char digits[seq_digits];
    digits_for(who, seq, digits);
    size_t n = std::min<size_t>(seq_digits, _plain.size());
    const char* src = digits + (seq_digits - n);
    char* dst = out->data() + at + _payload_at;
    for (size_t j = 0; j < n; ++j) {
        dst[j] = static_cast<char>(static_cast<uint8_t>(src[j]) ^ _key[j & 3]);
    }
}

void ws_echo_check::piece(const ws_echo_template& t, uint64_t who, uint64_t seq, const ws_event& ev) noexcept {
    size_t size = t.payload_size();
    if (ev.message_opcode != t.opcode() || _off + ev.len > size) {
        _bad = true;
    } else if (!_bad && ev.len > 0) {
        size_t n_digits = std::min<size_t>(ws_echo_template::seq_digits, size);
        size_t off = _off;
        size_t end = off + ev.len;
        if (off < n_digits) {
            char digits[ws_echo_template::seq_digits];
            t.digits_for(who, seq, digits);
            const char* want = digits + (ws_echo_template::seq_digits - n_digits);
            size_t upto = std::min(end, n_digits);
            if (memcmp(ev.data, want + off, upto - off) != 0) {
                _bad = true;
            }
        }
        size_t from = std::max(off, n_digits);
        if (!_bad && end > from && memcmp(ev.data + (from - off), t.plain().data() + from, end - from) != 0) {
            _bad = true;
        }
    }
    _off += ev.len;
}

} // namespace ringbolt_load
