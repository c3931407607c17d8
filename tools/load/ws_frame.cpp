// Owns: RFC 6455 frame building (client side, masked) and incremental server-frame
// parsing for ringbolt-ws-load (see ws_frame.hpp).
#include "ws_frame.hpp"

#include <cstring>

namespace ringbolt_load {

size_t client_frame_size(size_t len) noexcept {
    size_t head = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
    return head + 4 + len;
}

void append_client_frame(std::string* out, ws_opcode op, const char* payload, size_t len, const uint8_t key[4]) {
    size_t at = out->size();
    out->resize(at + client_frame_size(len));
    auto* p = reinterpret_cast<uint8_t*>(out->data() + at);
    *p++ = 0x80 | static_cast<uint8_t>(op);
    // RFC 6455 §5.2: the minimal length encoding, with the MASK bit
    if (len < 126) {
        *p++ = 0x80 | static_cast<uint8_t>(len);
    } else if (len <= 0xffff) {
        *p++ = 0x80 | 126;
        *p++ = static_cast<uint8_t>(len >> 8);
        *p++ = static_cast<uint8_t>(len);
    } else {
        *p++ = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8) {
            *p++ = static_cast<uint8_t>(static_cast<uint64_t>(len) >> shift);
        }
    }
    memcpy(p, key, 4);
    p += 4;
    for (size_t i = 0; i < len; ++i) {
        p[i] = static_cast<uint8_t>(payload[i]) ^ key[i & 3];
    }
}

ws_frame_parser::result ws_frame_parser::start_frame(ws_event* ev) {
    uint8_t b0 = _head[0];
    uint8_t b1 = _head[1];
    if ((b0 & 0x70) != 0) [[unlikely]] {
        return result::reserved_bits;
    }
    if ((b1 & 0x80) != 0) [[unlikely]] {
        return result::masked;
    }
    uint8_t op = b0 & 0x0f;
    if ((op > 0x2 && op < 0x8) || op > 0xA) [[unlikely]] {
        return result::bad_opcode;
    }
    _opcode = static_cast<ws_opcode>(op);
    _fin = (b0 & 0x80) != 0;
    _control = op >= 0x8;
    uint64_t len = b1 & 0x7f;
    if (len == 126) {
        len = (uint64_t{_head[2]} << 8) | _head[3];
        if (len < 126) {
            return result::bad_length;
        }
    } else if (len == 127) {
        len = 0;
        for (int i = 2; i < 10; ++i) {
            len = (len << 8) | _head[i];
        }
        if ((len >> 63) != 0 || len <= 0xffff) {
            return result::bad_length;
        }
    }
    _left = len;
    if (_control) {
        if (!_fin || len > 125) { // RFC 6455 §5.5: short and never fragmented
            return result::bad_control;
        }
        _control_len = 0;
    } else if (_opcode == ws_opcode::continuation) {
        if (!_in_message) {
            return result::bad_sequence;
        }
    } else {
        if (_in_message) {
            return result::bad_sequence;
        }
        _in_message = true;
        _message_opcode = _opcode;
        _message_len = 0;
    }
    if (!_control) {
        _message_len += len;
        if (_message_len > _max_message) {
            return result::too_big;
        }
    }
    _in_payload = true;
    if (len == 0) {
        // nothing follows the head: report the (empty) frame at once
        _in_payload = false;
        if (_control) {
            ev->what = ws_event::kind::control;
            ev->control_opcode = _opcode;
            ev->control_payload = _control_buf;
            ev->control_len = 0;
        } else if (_fin) {
            ev->what = ws_event::kind::data;
            ev->message_opcode = _message_opcode;
            ev->data = nullptr;
            ev->len = 0;
            ev->message_end = true;
            _in_message = false;
        }
    }
    return result::ok;
}

ws_frame_parser::result ws_frame_parser::feed(const char* data, size_t len, size_t* used, ws_event* ev) {
    *ev = ws_event{};
    size_t pos = 0;
    while (pos < len) {
        if (!_in_payload) {
            // the head: 2 bytes, then 2 or 8 bytes of extended length (server frames are
            // unmasked, so no key)
            _head[_head_len++] = static_cast<uint8_t>(data[pos++]);
            if (_head_len < 2) {
                continue;
            }
            uint8_t code = _head[1] & 0x7f;
            uint8_t need = code == 126 ? 4 : code == 127 ? 10 : 2;
            if ((_head[1] & 0x80) != 0) {
                need += 4; // only to reach start_frame, which rejects it
            }
            if (_head_len < need) {
                continue;
            }
            _head_len = 0;
            result r = start_frame(ev);
            if (r != result::ok) {
                *used = pos;
                return r;
            }
            if (ev->what != ws_event::kind::none) {
                *used = pos;
                return result::ok;
            }
            continue;
        }
        size_t take = len - pos < _left ? len - pos : static_cast<size_t>(_left);
        _left -= take;
        if (_control) {
            memcpy(_control_buf + _control_len, data + pos, take);
            _control_len = static_cast<uint8_t>(_control_len + take);
            pos += take;
            if (_left == 0) {
                _in_payload = false;
                ev->what = ws_event::kind::control;
                ev->control_opcode = _opcode;
                ev->control_payload = _control_buf;
                ev->control_len = _control_len;
                *used = pos;
                return result::ok;
            }
            continue;
        }
        ev->what = ws_event::kind::data;
        ev->message_opcode = _message_opcode;
        ev->data = data + pos;
        ev->len = take;
        pos += take;
        if (_left == 0) {
            _in_payload = false;
            if (_fin) {
                ev->message_end = true;
                _in_message = false;
            }
        }
        *used = pos;
        return result::ok;
    }
    *used = pos;
    return result::ok;
}

} // namespace ringbolt_load
