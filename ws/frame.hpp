// WebSocket framing (RFC 6455 §5): a pure parser of frame headers over bytes, payload
// unmasking that can resume mid-payload, and the writer of server frame headers.
// Allocates nothing; the session (ws/session.hpp) owns the state between reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringbolt::ws {

enum class opcode : uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

inline constexpr bool is_control(opcode op) noexcept {
    return (static_cast<uint8_t>(op) & 0x8) != 0;
}

/// Why a frame header is refused (each maps to close code 1002 unless noted).
enum class frame_error : uint8_t {
    none,
    reserved_bits,      ///< RSV2/RSV3 set, or RSV1 without permessage-deflate (or on a control/continuation frame)
    reserved_opcode,    ///< opcodes 3-7 and 0xB-0xF (§5.2)
    not_masked,         ///< a client frame without the mask bit (§5.1)
    control_too_long,   ///< a control frame payload over 125 bytes (§5.5)
    control_fragmented, ///< a control frame without FIN (§5.5)
    length_high_bit,    ///< a 64-bit length with its most significant bit set (§5.2)
};

struct frame_header {
    bool fin = false;
    bool rsv1 = false; ///< permessage-deflate: the message is compressed (first frame only)
    opcode op = opcode::continuation;
    uint8_t mask[4] = {};
    uint64_t payload_len = 0;
    uint8_t header_len = 0; ///< bytes of the header (2 to 14)
};

enum class parse_status : uint8_t { complete, incomplete, error };

/// Parse the header of a client frame at the start of `in`. `allow_rsv1`: permessage-
/// deflate was negotiated (RSV1 is still refused on control and continuation frames).
/// `incomplete` needs more bytes; `error` sets `err`.
parse_status parse_client_frame(std::string_view in, bool allow_rsv1, frame_header& out, frame_error& err) noexcept;

/// XOR `len` bytes at `data` with `mask`, as if they start `offset` bytes into the
/// payload (a payload arriving over several reads is unmasked piece by piece).
void unmask(char* data, size_t len, const uint8_t mask[4], uint64_t offset) noexcept;

/// The same, reading `len` bytes at `src` and writing them unmasked at `dst` (one pass
/// instead of a copy and then an unmask). `dst` and `src` are the same or do not overlap.
void unmask_copy(char* dst, const char* src, size_t len, const uint8_t mask[4], uint64_t offset) noexcept;

/// Bytes of an unmasked (server) frame header for a payload of `len` bytes: 2, 4 or 10.
inline constexpr size_t server_header_size(uint64_t len) noexcept {
    return len < 126 ? 2 : len <= 0xFFFF ? 4 : 10;
}

/// Append the header of an unmasked (server) frame to `out`.
void append_server_header(std::string& out, bool fin, opcode op, bool rsv1, uint64_t len);

} // namespace ringbolt::ws
