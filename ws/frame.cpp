// WebSocket frame headers (RFC 6455 §5.2): the parser of client frame headers, the
// payload unmasking (§5.3) that resumes at any offset, and the server header writer.
// Pure functions over bytes; nothing here allocates except append_server_header.
#include "ws/frame.hpp"

#include <cstring>

namespace ringbolt::ws {
namespace {

constexpr uint8_t fin_bit = 0x80;
constexpr uint8_t rsv1_bit = 0x40;
constexpr uint8_t rsv23_bits = 0x30;
constexpr uint8_t opcode_bits = 0x0F;
constexpr uint8_t mask_bit = 0x80;
constexpr uint8_t len_bits = 0x7F;

constexpr bool known_opcode(uint8_t op) noexcept {
    return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

parse_status fail(frame_error& err, frame_error why) noexcept {
    err = why;
    return parse_status::error;
}

} // namespace

parse_status parse_client_frame(std::string_view in, bool allow_rsv1, frame_header& out, frame_error& err) noexcept {
    err = frame_error::none;
    if (in.size() < 2) {
        return parse_status::incomplete;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(in.data());
    const uint8_t b0 = p[0];
    const uint8_t b1 = p[1];
    const uint8_t op = b0 & opcode_bits;

    // Everything the first two bytes decide is checked before waiting for the rest of
    // the header, so a bad frame fails as early as possible.
    if (!known_opcode(op)) [[unlikely]] {
        return fail(err, frame_error::reserved_opcode); // §5.2: opcodes 3-7, 0xB-0xF are reserved
    }
    if ((b0 & rsv23_bits) != 0) [[unlikely]] {
        return fail(err, frame_error::reserved_bits); // §5.2: no extension defines RSV2/RSV3
    }
    const bool control = (op & 0x8) != 0;
    if ((b0 & rsv1_bit) != 0) {
        // RFC 7692 §6: RSV1 marks a compressed message, set on its first frame only, and
        // never on control frames (§6.1).
        if (!allow_rsv1 || control || op == 0x0) [[unlikely]] {
            return fail(err, frame_error::reserved_bits);
        }
    }
    if ((b1 & mask_bit) == 0) [[unlikely]] {
        return fail(err, frame_error::not_masked); // §5.1: a client masks every frame
    }
    const uint8_t len7 = b1 & len_bits;
    if (control) {
        if ((b0 & fin_bit) == 0) [[unlikely]] {
            return fail(err, frame_error::control_fragmented); // §5.5
        }
        if (len7 > 125) [[unlikely]] {
            return fail(err, frame_error::control_too_long); // §5.5
        }
    }

    // §5.2: 7-bit length, or 126 then a 16-bit length, or 127 then a 64-bit length.
    // "The minimal number of bytes MUST be used", but a non-minimal encoding is still
    // unambiguous and Autobahn does not test it: we accept it, as most servers do.
    size_t len_bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    size_t header_len = 2 + len_bytes + 4;
    if (in.size() < header_len) {
        return parse_status::incomplete;
    }
    uint64_t len = len7;
    if (len_bytes != 0) {
        len = 0;
        for (size_t i = 0; i < len_bytes; ++i) {
            len = (len << 8) | p[2 + i];
        }
        if (len_bytes == 8 && (len >> 63) != 0) [[unlikely]] {
            return fail(err, frame_error::length_high_bit); // §5.2: the MSB must be 0
        }
    }
    out.fin = (b0 & fin_bit) != 0;
    out.rsv1 = (b0 & rsv1_bit) != 0;
    out.op = static_cast<opcode>(op);
    std::memcpy(out.mask, p + 2 + len_bytes, 4);
    out.payload_len = len;
    out.header_len = static_cast<uint8_t>(header_len);
    return parse_status::complete;
}

void unmask_copy(char* dst, const char* src, size_t len, const uint8_t mask[4], uint64_t offset) noexcept {
    // §5.3: byte i of the payload is XORed with mask[i % 4]. Rotate the mask so that
    // rotated[0] applies to src[0], then work 8 bytes at a time with an 8-byte pattern.
    uint8_t rotated[8];
    for (size_t i = 0; i < 8; ++i) {
        rotated[i] = mask[(offset + i) & 3];
    }
    uint64_t pattern;
    std::memcpy(&pattern, rotated, 8); // byte order is the memory order, so endianness does not matter
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        uint64_t w[4];
        std::memcpy(w, src + i, 32);
        w[0] ^= pattern;
        w[1] ^= pattern;
        w[2] ^= pattern;
        w[3] ^= pattern;
        std::memcpy(dst + i, w, 32);
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        std::memcpy(&w, src + i, 8);
        w ^= pattern;
        std::memcpy(dst + i, &w, 8);
    }
    for (; i < len; ++i) {
        dst[i] = static_cast<char>(static_cast<uint8_t>(src[i]) ^ rotated[i & 7]);
    }
}

void unmask(char* data, size_t len, const uint8_t mask[4], uint64_t offset) noexcept {
    unmask_copy(data, data, len, mask, offset);
}

void append_server_header(std::string& out, bool fin, opcode op, bool rsv1, uint64_t len) {
    // §5.2: a server frame is never masked.
    char h[10];
    h[0] = static_cast<char>((fin ? fin_bit : 0) | (rsv1 ? rsv1_bit : 0) | static_cast<uint8_t>(op));
    size_t n;
    if (len < 126) {
        h[1] = static_cast<char>(len);
        n = 2;
    } else if (len <= 0xFFFF) {
        h[1] = 126;
        h[2] = static_cast<char>(len >> 8);
        h[3] = static_cast<char>(len);
        n = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; ++i) {
            h[2 + i] = static_cast<char>(len >> (56 - 8 * i));
        }
        n = 10;
    }
    out.append(h, n);
}

} // namespace ringbolt::ws
