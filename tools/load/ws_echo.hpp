// Owns: the messages ringbolt-ws-load sends and how an echo is checked, for every
// transport (a TCP connection of ws_worker.cpp, a stream of ws_stream_echo.cpp). Each
// message is one masked frame: its first 16 payload bytes are the sender's number and
// the message's sequence number in hex, so an echo that is stale, reordered or another
// sender's is a mismatch, not a success; the rest is a fixed pattern, masked once.
#pragma once

#include "ws_frame.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringbolt_load {

class ws_echo_template {
  public:
    // text: printable ASCII (valid UTF-8); binary: every byte value, so a server that
    // treats the payload as text shows up as a mismatch. key masks every frame.
    ws_echo_template(uint64_t size, bool text, uint64_t key);

    // Appends message seq of sender `who` (a copy of the template frame with 16 bytes re-masked).
    void append_message(std::string* out, uint64_t who, uint64_t seq) const;
    // Appends a masked control frame (a pong, a close).
    void append_control(std::string* out, ws_opcode op, const char* payload, size_t len) const {
        append_client_frame(out, op, payload, len, _key);
    }
    // The 16 hex digits at the front of message seq of `who` (fewer when the payload is
    // shorter: the low-order ones).
    void digits_for(uint64_t who, uint64_t seq, char* out) const noexcept;

    size_t payload_size() const noexcept { return _plain.size(); }
    size_t frame_size() const noexcept { return _frame.size(); }
    ws_opcode opcode() const noexcept { return _opcode; }
    const std::string& plain() const noexcept { return _plain; }

    static constexpr size_t seq_digits = 16;

  private:
    std::string _plain;     // the payload pattern every message starts from
    std::string _frame;     // one whole masked frame of _plain
    size_t _payload_at = 0; // offset of the payload in _frame
    uint8_t _key[4]{};
    ws_opcode _opcode = ws_opcode::binary;
};

// The echo of one message as its pieces arrive.
class ws_echo_check {
  public:
    // A piece of the echo of message seq of `who`: compared with what it carried.
    void piece(const ws_echo_template& t, uint64_t who, uint64_t seq, const ws_event& ev) noexcept;
    // At the message's end: every byte came back, the same.
    bool matches(const ws_echo_template& t) const noexcept { return !_bad && _off == t.payload_size(); }
    void reset() noexcept {
        _off = 0;
        _bad = false;
    }

  private:
    uint64_t _off = 0; // bytes of the current echo seen so far
    bool _bad = false; // the current echo already differs
};

} // namespace ringbolt_load
