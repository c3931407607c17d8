// One WebSocket after the handshake: frames in (RFC 6455 §5), messages to the
// application, the close handshake (§7), pings, and the application's messages out to
// the host's output.
#include "ws/session.hpp"

#include <cstring>

namespace ringbolt::ws {

namespace {

/// Messages up to this size are copied next to their frame header (one segment, one
/// iovec for many small messages); larger payloads are queued as they are, no copy.
constexpr size_t copy_below = 4096;

/// Payload bytes reserved up front when a frame header announces them.
constexpr uint64_t reserve_at_most = 1u << 20;

std::string_view frame_error_reason(frame_error e) noexcept {
    switch (e) {
    case frame_error::reserved_bits:
        return "reserved bits set";
    case frame_error::reserved_opcode:
        return "reserved opcode";
    case frame_error::not_masked:
        return "client frame not masked";
    case frame_error::control_too_long:
        return "control frame over 125 bytes";
    case frame_error::control_fragmented:
        return "fragmented control frame";
    case frame_error::length_high_bit:
        return "frame length over 2^63";
    case frame_error::none:
        break;
    }
    return "bad frame";
}

} // namespace

bool sendable_close_code(uint16_t code) noexcept {
    // §7.4.1 defines 1000-1003 and 1007-1011; 1004 is reserved, 1005/1006/1015 must not
    // be sent; 1012-1014 were registered later (IANA); 3000-4999 are for libraries and
    // applications. Everything else below 5000 is reserved.
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

session::session(std::shared_ptr<app_channel> channel, const settings& cfg, http::session_output& out)
    : _chan(std::move(channel)), _cfg(cfg), _out(out) {
    if (_cfg.deflate) {
        _deflate = std::make_unique<deflate_codec>(*_cfg.deflate, _cfg.deflate_cfg);
    }
}

session::~session() {
    release();
}

void session::start(std::string_view pending, uint32_t now_s, core::core_counters& counters) {
    _counters = &counters;
    _counters->websockets_opened.add();
    _tail.assign(pending);
    _held = !_tail.empty(); // parsed at the host's next pump
    set_idle_deadline(now_s);
}

void session::set_idle_deadline(uint32_t now_s) noexcept {
    if (_state == state::closing) {
        return; // the close timeout runs
    }
    _ping_out = false;
    _deadline = _cfg.ping_interval_s != 0 ? now_s + _cfg.ping_interval_s : 0;
}

bool session::on_data(std::string_view data, uint32_t now_s) {
    if (_state == state::done) [[unlikely]] {
        return false;
    }
    if (_tail.empty() && !_held) [[likely]] {
        size_t used = process(data);
        if (used < data.size() && _state != state::done) {
            _tail.assign(data.substr(used));
        }
    } else {
        _tail.append(data);
        consume_tail();
    }
    set_idle_deadline(now_s); // any frame from the client shows it is alive
    return true;
}

void session::consume_tail() {
    size_t used = process(_tail);
    if (_state == state::done) {
        std::string().swap(_tail);
        return;
    }
    _tail.erase(0, used);
    if (_tail.empty() && _tail.capacity() > 4096) {
        std::string().swap(_tail);
    }
}

void session::pump() {
    if (!_held || _state == state::done) {
        return;
    }
    consume_tail();
}

size_t session::process(std::string_view buf) {
    size_t pos = 0;
    bool was_held = _held;
    _held = false;
    while (pos < buf.size() && _state != state::done) {
        if (!_in_frame) {
            // Backpressure at message boundaries' frames: an application that does not
            // take its messages stops the socket being read.
            if (_state == state::open && _chan->unconsumed() >= _cfg.read_window) {
                if (!was_held) {
                    _counters->websocket_reads_paused.add();
                }
                _held = true;
                break;
            }
            frame_header h;
            frame_error err = frame_error::none;
            parse_status st = parse_client_frame(buf.substr(pos), _deflate != nullptr, h, err);
            if (st == parse_status::incomplete) {
                break;
            }
            if (st == parse_status::error) [[unlikely]] {
                fail(close_code::protocol_error, frame_error_reason(err));
                return buf.size();
            }
            pos += h.header_len;
            if (!begin_frame(h)) {
                return buf.size();
            }
            if (h.payload_len == 0) {
                end_frame();
            }
            continue;
        }
        uint64_t left = _frame.payload_len - _frame_done;
        size_t n = buf.size() - pos < left ? buf.size() - pos : static_cast<size_t>(left);
        frame_payload(buf.substr(pos, n));
        pos += n;
        if (_state == state::done) {
            return buf.size();
        }
        if (_frame_done == _frame.payload_len) {
            end_frame();
        }
    }
    return pos;
}

bool session::begin_frame(const frame_header& h) {
    _frame = h;
    _frame_done = 0;
    _in_frame = true;
    if (is_control(h.op)) {
        _control.clear(); // §5.5: may come between the frames of a fragmented message
        return true;
    }
    if (h.op == opcode::continuation) {
        if (!_in_message) {
            fail(close_code::protocol_error, "continuation frame without a message");
            return false;
        }
    } else {
        if (_in_message) {
            fail(close_code::protocol_error, "new message before the last one ended");
            return false;
        }
        _in_message = true;
        _msg_op = h.op;
        _msg_compressed = h.rsv1; // §7.2.3.1 (RFC 7692): RSV1 on the first frame only
        _msg.clear();
        _utf8.reset();
    }
    if (_state == state::closing) {
        return true; // after our close frame data is discarded (§1.4): no size limit applies
    }
    if (h.payload_len > _cfg.max_message - _msg.size()) {
        fail(close_code::too_big, "message too big");
        return false;
    }
    // One allocation for the frame's payload instead of growing from empty by doubling
    // (each step a copy); bounded, so a header that claims a large frame and never
    // sends it costs no more than this.
    if (h.payload_len <= reserve_at_most) {
        _msg.reserve(_msg.size() + h.payload_len);
    }
    return true;
}

void session::frame_payload(std::string_view piece) {
    // Grown (reserved at the frame's start), then read and unmasked in one pass: an
    // append and an unmask in place were two (BM_assemble_* in benchmarks/micro/ws_bench).
    if (is_control(_frame.op)) {
        size_t at = _control.size();
        _control.resize(at + piece.size());
        unmask_copy(_control.data() + at, piece.data(), piece.size(), _frame.mask, _frame_done);
    } else if (_state == state::open) {
        size_t at = _msg.size();
        _msg.resize(at + piece.size());
        unmask_copy(_msg.data() + at, piece.data(), piece.size(), _frame.mask, _frame_done);
        // §8.1: an invalid text message fails the connection as soon as it is known.
        if (_msg_op == opcode::text && !_msg_compressed &&
            !_utf8.feed(std::string_view(_msg.data() + at, piece.size()))) [[unlikely]] {
            fail(close_code::invalid_payload, "text message is not valid UTF-8");
            return;
        }
    }
    _frame_done += piece.size();
}

void session::end_frame() {
    _in_frame = false;
    if (is_control(_frame.op)) {
        on_control();
        return;
    }
    if (!_frame.fin) {
        return;
    }
    if (_state != state::open) {
        _in_message = false;
        return;
    }
    end_message();
}

void session::end_message() {
    _in_message = false;
    std::string payload;
    if (_msg_compressed) {
        std::string inflated;
        switch (_deflate->decompress(_msg, inflated, _cfg.max_message)) {
        case deflate_codec::inflate_result::ok:
            break;
        case deflate_codec::inflate_result::too_large:
            fail(close_code::too_big, "message too big");
            return;
        case deflate_codec::inflate_result::corrupt:
            fail(close_code::invalid_payload, "bad permessage-deflate data");
            return;
        }
        if (_msg_op == opcode::text && !valid_utf8(inflated)) {
            fail(close_code::invalid_payload, "text message is not valid UTF-8");
            return;
        }
        _msg.clear();
        payload = std::move(inflated);
    } else {
        if (_msg_op == opcode::text && !_utf8.complete()) {
            fail(close_code::invalid_payload, "text message ends inside a UTF-8 sequence");
            return;
        }
        payload = std::move(_msg);
        _msg = std::string();
    }
    _counters->websocket_messages_in.add();
    _chan->on_message(_msg_op, std::move(payload));
}

void session::on_control() {
    switch (_frame.op) {
    case opcode::ping:
        if (_state == state::open) {
            send_control(opcode::pong, _control); // §5.5.3: the same application data
        }
        return;
    case opcode::pong:
        return; // any frame resets the keep-alive clock (on_data)
    case opcode::close: {
        uint16_t code = close_code::no_status;
        std::string_view reason;
        if (_control.size() == 1) {
            fail(close_code::protocol_error, "close frame with a 1-byte payload");
            return;
        }
        if (_control.size() >= 2) {
            code = static_cast<uint16_t>((static_cast<uint8_t>(_control[0]) << 8) | static_cast<uint8_t>(_control[1]));
            reason = std::string_view(_control).substr(2);
            if (!sendable_close_code(code)) {
                fail(close_code::protocol_error, "invalid close code");
                return;
            }
            if (!valid_utf8(reason)) {
                fail(close_code::invalid_payload, "close reason is not valid UTF-8");
                return;
            }
        }
        if (_state == state::open) {
            // §5.5.1: answer with a close frame, echoing the code; then the server
            // closes the TCP connection first (§7.1.1).
            send_close(code == close_code::no_status ? 0 : code, {});
        }
        tell_closed(code, reason);
        _state = state::done;
        _deadline = 0;
        return;
    }
    default:
        return;
    }
}

void session::send_control(opcode op, std::string_view payload) {
    std::string frame;
    append_server_header(frame, true, op, false, payload.size());
    frame.append(payload);
    _out.append(frame, nullptr);
}

void session::send_close(uint16_t code, std::string_view reason) {
    std::string payload;
    if (code != 0) {
        payload.push_back(static_cast<char>(code >> 8));
        payload.push_back(static_cast<char>(code & 0xFF));
        payload.append(reason.substr(0, 123)); // §5.5: a control payload is at most 125 bytes
    }
    send_control(opcode::close, payload);
}

void session::fail(uint16_t code, std::string_view reason) {
    _counters->websocket_failures.add();
    if (_state == state::open) {
        send_close(code, reason);
    }
    tell_closed(code, reason);
    _state = state::done;
    _deadline = 0;
    _in_frame = false;
    _in_message = false;
    std::string().swap(_msg);
}

void session::tell_closed(uint16_t code, std::string_view reason) noexcept {
    if (!_told) {
        _told = true;
        _chan->on_closed(code, reason);
    }
}

void session::send_message(opcode op, std::string&& payload) {
    std::string frame;
    size_t size = payload.size();
    if (_deflate && size >= _cfg.deflate_cfg.compress_above) {
        std::string body;
        if (!_deflate->compress(payload, body)) [[unlikely]] {
            fail(close_code::internal_error, "compression failed");
            return;
        }
        append_server_header(frame, true, op, true, body.size());
        if (body.size() < copy_below) {
            frame.append(body);
            _chan->on_framed(size, frame.size());
            _out.append(frame, _chan);
            return;
        }
        _chan->on_framed(size, frame.size() + body.size());
        _out.append(frame, _chan);
        _out.append_owned(std::move(body), _chan);
        return;
    }
    append_server_header(frame, true, op, false, size);
    _chan->on_framed(size, frame.size() + size);
    if (size < copy_below) {
        frame.append(payload);
        _out.append(frame, _chan);
        return;
    }
    _out.append(frame, _chan);
    _out.append_owned(std::move(payload), _chan);
}

void session::on_app_message(http::app_response&& m, uint32_t now_s) {
    if (m.parts & http::app_response::part_abort) [[unlikely]] {
        fail(close_code::internal_error, "the application failed");
        return;
    }
    if (!(m.parts & http::app_response::part_message)) {
        return; // part_read_more: the app took messages; the reactor resumes reading (pump)
    }
    if (_state != state::open) {
        // Closing or closed: the application has been (or is about to be) told, and
        // what it sends now is dropped (§5.5.1: no data after a close frame).
        _chan->on_framed(m.body_bytes().size(), 0);
        return;
    }
    auto op = static_cast<opcode>(m.opcode);
    if (op == opcode::close) {
        // The application closes: body is the code (2 bytes, big-endian) and the reason,
        // checked where it was built. The client's close answer ends it (or the timeout).
        send_control(opcode::close, m.body);
        _state = state::closing;
        _deadline = now_s + (_cfg.close_timeout_s != 0 ? _cfg.close_timeout_s : 1);
        return;
    }
    if (op == opcode::ping || op == opcode::pong) {
        send_control(op, std::string_view(m.body).substr(0, 125));
        return;
    }
    _counters->websocket_messages_out.add();
    op = op == opcode::binary ? opcode::binary : opcode::text;
    std::string_view borrowed = m.borrowed();
    if (!borrowed.empty() && !_deflate) {
        // A large message sent from the application's own buffer (kept alive by `keep`).
        std::string header;
        append_server_header(header, true, op, false, borrowed.size());
        _chan->on_framed(borrowed.size(), header.size() + borrowed.size());
        _out.append(header, _chan);
        _out.append_borrowed(borrowed, std::move(m.more->keep), _chan);
        return;
    }
    if (!borrowed.empty()) {
        m.body.assign(borrowed); // compressed: deflate reads it, the copy is the compressed output
    }
    send_message(op, std::move(m.body));
}

void session::on_peer_end(std::string_view why) {
    // The client stopped without a close frame (§7.1.5: 1006 for the application).
    tell_closed(close_code::abnormal, why);
    _state = state::done;
    _deadline = 0;
}

void session::on_timeout(uint32_t now_s) {
    if (_state == state::closing) {
        // The client did not answer our close frame in time: close the TCP connection.
        tell_closed(close_code::abnormal, "the client did not answer the close frame");
        _state = state::done;
        _deadline = 0;
        return;
    }
    if (_state != state::open) {
        _deadline = 0;
        return;
    }
    if (_ping_out) {
        fail(close_code::internal_error, "keepalive ping timeout");
        return;
    }
    send_control(opcode::ping, {});
    _ping_out = true;
    _deadline = _cfg.ping_timeout_s != 0 ? now_s + _cfg.ping_timeout_s : 0;
}

bool session::begin_drain(uint32_t now_s) {
    if (_state != state::open) {
        return _state == state::done;
    }
    // The server is going away (§7.4.1: 1001): the application hears it at once; the
    // client gets the close frame and close_timeout_s to answer it.
    send_close(close_code::going_away, "server shutting down");
    tell_closed(close_code::going_away, "server shutting down");
    _state = state::closing;
    _deadline = now_s + (_cfg.close_timeout_s != 0 ? _cfg.close_timeout_s : 1);
    return false;
}

void session::release() noexcept {
    if (_chan) {
        tell_closed(close_code::abnormal, "connection lost");
    }
    _state = state::done;
    _deadline = 0;
    std::string().swap(_tail);
    std::string().swap(_msg);
}

} // namespace ringbolt::ws
