// SHA-1 (FIPS 180-4 §6.1) and base64 (RFC 4648 §4) for the WebSocket handshake: the
// digest of one short key, so a plain, portable implementation; no streaming interface.
#include "core/sha1.hpp"

#include <cstring>

namespace ringbolt::core {
namespace {

constexpr uint32_t rotl(uint32_t x, int n) noexcept {
    return (x << n) | (x >> (32 - n));
}

uint32_t load_be32(const uint8_t* p) noexcept {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// FIPS 180-4 §6.1.2: one 512-bit block into the running hash.
void sha1_block(uint32_t h[5], const uint8_t* block) noexcept {
    uint32_t w[80];
    for (int t = 0; t < 16; ++t) {
        w[t] = load_be32(block + 4 * t);
    }
    for (int t = 16; t < 80; ++t) {
        w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; ++t) {
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d); // Ch
            k = 0x5A827999;
        } else if (t < 40) {
            f = b ^ c ^ d; // Parity
            k = 0x6ED9EBA1;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d); // Maj
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t temp = rotl(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rotl(b, 30);
        b = a;
        a = temp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

constexpr char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char b64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> b64url_values = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) {
        t[static_cast<unsigned char>(b64url_alphabet[i])] = static_cast<int8_t>(i);
    }
    return t;
}();

// `len` bytes as base64 characters of `alphabet` into `out`, unpadded (a caller that pads
// has filled `out` with '=' first); returns how many it wrote.
size_t encode(const uint8_t* data, size_t len, const char* alphabet, char* out) noexcept {
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i >= 1) {
        uint32_t v = (uint32_t(data[i]) << 16) | (len - i == 2 ? uint32_t(data[i + 1]) << 8 : 0);
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (len - i == 2) {
            out[o++] = alphabet[(v >> 6) & 63];
        }
    }
    return o;
}

constexpr bool is_b64_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

} // namespace

std::array<uint8_t, 20> sha1(std::string_view data) noexcept {
    // FIPS 180-4 §5.3.1 initial hash value.
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const auto* p = reinterpret_cast<const uint8_t*>(data.data());
    size_t left = data.size();
    while (left >= 64) {
        sha1_block(h, p);
        p += 64;
        left -= 64;
    }
    // §5.1.1 padding: 0x80, zeros, then the 64-bit big-endian bit length; one or two blocks.
    uint8_t tail[128] = {};
    if (left > 0) {
        std::memcpy(tail, p, left);
    }
    tail[left] = 0x80;
    size_t tail_len = left + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = uint64_t(data.size()) * 8;
    for (int i = 0; i < 8; ++i) {
        tail[tail_len - 1 - i] = uint8_t(bits >> (8 * i));
    }
    for (size_t off = 0; off < tail_len; off += 64) {
        sha1_block(h, tail + off);
    }
    std::array<uint8_t, 20> digest{};
    for (int i = 0; i < 5; ++i) {
        digest[4 * i] = uint8_t(h[i] >> 24);
        digest[4 * i + 1] = uint8_t(h[i] >> 16);
        digest[4 * i + 2] = uint8_t(h[i] >> 8);
        digest[4 * i + 3] = uint8_t(h[i]);
    }
    return digest;
}

std::string base64_encode(const uint8_t* data, size_t len) {
    std::string out((len + 2) / 3 * 4, '=');
    encode(data, len, b64_alphabet, out.data());
    return out;
}

void append_base64url(std::string& out, std::string_view data) {
    size_t at = out.size();
    out.resize(at + (data.size() * 4 + 2) / 3);
    encode(reinterpret_cast<const uint8_t*>(data.data()), data.size(), b64url_alphabet, out.data() + at);
}

size_t base64url_encode(const uint8_t* data, size_t len, char* out) noexcept {
    return encode(data, len, b64url_alphabet, out);
}

bool base64url_decode(std::string_view text, std::string& out, bool strict) {
    if (strict && text.size() % 4 == 1) {
        return false;
    }
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int8_t v = b64url_values[static_cast<unsigned char>(c)];
        if (v < 0) {
            if (c == '=' && !strict) {
                break; // tolerated padding
            }
            return false;
        }
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFF));
        }
    }
    // what is left (2 or 4 bits) pads the last byte: zero in the one encoding of the bytes
    return !strict || (acc & ((1u << bits) - 1)) == 0;
}

long base64_decoded_length(std::string_view text) noexcept {
    // RFC 4648 §4: whole 4-character quanta, `=` only as the last one or two characters.
    if (text.size() % 4 != 0) {
        return -1;
    }
    size_t pad = 0;
    if (!text.empty() && text.back() == '=') {
        pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
    }
    for (size_t i = 0; i < text.size() - pad; ++i) {
        if (!is_b64_char(text[i])) {
            return -1;
        }
    }
    // RFC 4648 §3.5 lets a decoder reject non-zero bits under the padding; we do not
    // (Python's b64decode accepts them too), so a sloppy client's key still decodes.
    return long(text.size() / 4 * 3 - pad);
}

} // namespace ringbolt::core
