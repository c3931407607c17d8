// Owns: RFC 6455 framing as ringbolt-ws-load sees it — building client frames (always
// masked, §5.3) and an incremental parser of server frames. Pure: no I/O, no allocation
// while parsing; data payloads are handed out as views into the caller's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringbolt_load {

enum class ws_opcode : uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

// Appends one final (FIN) frame carrying payload, masked with key (RFC 6455 §5.3: every
// client frame is masked).
void append_client_frame(std::string* out, ws_opcode op, const char* payload, size_t len, const uint8_t key[4]);

// Size of the frame append_client_frame writes for a payload of len bytes.
size_t client_frame_size(size_t len) noexcept;

// What one feed() step found.
struct ws_event {
    enum class kind : uint8_t {
        none,    // every byte given was consumed, nothing to report yet
        data,    // a piece of a text/binary message: [data, data+len)
        control, // a whole ping, pong or close frame; its payload is in control_payload
    };
    kind what = kind::none;
    ws_opcode message_opcode = ws_opcode::binary; // data: the opcode of the message's first frame
    const char* data = nullptr;
    size_t len = 0;
    bool message_end = false; // data: this piece ends the message (FIN frame, payload complete)
    ws_opcode control_opcode = ws_opcode::close;
    const char* control_payload = nullptr; // control: valid until the next feed()
    size_t control_len = 0;
};

class ws_frame_parser {
  public:
    enum class result : uint8_t {
        ok,
        masked,        // a server frame with the MASK bit (RFC 6455 §5.1: the client must fail)
        reserved_bits, // RSV1-3 set without a negotiated extension (§5.2)
        bad_opcode,    // a reserved opcode (§5.2)
        bad_control,   // a control frame fragmented or longer than 125 bytes (§5.5)
        bad_sequence,  // continuation with no message started, or a new message inside one (§5.4)
        bad_length,    // a 64-bit length with its top bit set, or a non-minimal length (§5.2)
        too_big,       // a message above the limit given to the parser
    };

    explicit ws_frame_parser(uint64_t max_message = uint64_t{1} << 30) : _max_message(max_message) {}

    // Consumes from [data, data+len) up to the next event; *used tells how many bytes
    // were taken. Call again with the rest until it returns ok with kind::none and all
    // bytes used. After an error the parser must be reset().
    result feed(const char* data, size_t len, size_t* used, ws_event* ev);

    void reset() noexcept { *this = ws_frame_parser(_max_message); }

  private:
    result start_frame(ws_event* ev);

    uint64_t _max_message;
    uint8_t _head[14]{};
    uint8_t _head_len = 0;
    bool _in_payload = false;
    uint64_t _left = 0; // payload bytes of the current frame still to come
    bool _fin = false;  // the current frame is final
    bool _control = false;
    ws_opcode _opcode = ws_opcode::binary; // current frame's opcode
    bool _in_message = false;              // a fragmented message is open
    ws_opcode _message_opcode = ws_opcode::binary;
    uint64_t _message_len = 0;
    char _control_buf[125]{};
    uint8_t _control_len = 0;
};

} // namespace ringbolt_load
