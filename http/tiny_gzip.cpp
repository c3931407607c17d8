// One-pass gzip for tiny bodies: greedy LZ77 (http/tiny_lz.hpp) with one hash probe per
// position, coded with deflate's fixed Huffman codes (RFC 1951 §3.2.6).
//
// Why: on a 2 KB JSON body zlib level 1 (memLevel 4) costs about 6.5 us, most of it
// deflate_fast's per-byte work; libdeflate 1.14 level 1 costs 7.4 us (4.8 us on an
// 85-byte body: it clears a 128 KiB hash table per call). This encoder's output is a
// valid gzip member (RFC 1952) that any inflater decodes to the same bytes; it is larger
// than zlib's on text (fixed codes give every ASCII literal 8 bits), so the caller falls
// back to zlib when it saves too little.
#include "http/tiny_encoders.hpp"

#include "http/tiny_lz.hpp"

#include <zlib.h>

#include <array>

namespace ringbolt::http {

namespace {

using tiny_lz::code;
using tiny_lz::reverse_bits;

static_assert(tiny_max_input == tiny_lz::max_input);

// RFC 1951 §3.2.6 fixed literal/length codes, stored bit-reversed (Huffman codes go
// out most significant bit first, everything else least significant bit first).
constexpr code fixed_litlen(unsigned sym) noexcept {
    if (sym <= 143) {
        return {reverse_bits(0x30 + sym, 8), 8};
    }
    if (sym <= 255) {
        return {reverse_bits(0x190 + sym - 144, 9), 9};
    }
    if (sym <= 279) {
        return {reverse_bits(sym - 256, 7), 7};
    }
    return {reverse_bits(0xC0 + sym - 280, 8), 8};
}

constexpr std::array<code, 256> literal_codes = [] {
    std::array<code, 256> t{};
    for (unsigned b = 0; b < 256; ++b) {
        t[b] = fixed_litlen(b);
    }
    return t;
}();

constexpr size_t max_match = 258;

// Lengths 3..258: the length symbol's code followed by its extra bits, one code each.
constexpr std::array<code, max_match + 1> length_codes = [] {
    constexpr uint16_t base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                   31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    constexpr uint8_t extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    std::array<code, max_match + 1> t{};
    for (unsigned len = 3; len <= max_match; ++len) {
        unsigned k = 28;
        while (base[k] > len) {
            --k;
        }
        code c = fixed_litlen(257 + k);
        t[len] = {c.bits | ((len - base[k]) << c.count), static_cast<uint8_t>(c.count + extra[k])};
    }
    return t;
}();

constexpr code end_of_block = fixed_litlen(256);

constexpr std::array<uint8_t, 32> distance_symbols = [] {
    std::array<uint8_t, 32> t{};
    for (unsigned sym = 0; sym < 32; ++sym) {
        t[sym] = static_cast<uint8_t>(reverse_bits(sym, 5));
    }
    return t;
}();

// Distance 1..32768: the 5-bit fixed code of its symbol, then the extra bits.
inline code distance_code(uint32_t distance) noexcept {
    uint32_t d = distance - 1;
    if (d < 4) {
        return {distance_symbols[d], 5};
    }
    unsigned high = static_cast<unsigned>(std::bit_width(d)) - 1; // >= 2
    unsigned extra = high - 1;
    uint32_t sym = 2 * high + ((d >> extra) & 1u);
    return {distance_symbols[sym] | ((d & ((1u << extra) - 1)) << 5), static_cast<uint8_t>(5 + extra)};
}

void put_le32(char* p, uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) {
        p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    }
}

} // namespace

size_t tiny_gzip(std::string_view in, char* out) noexcept {
    const size_t n = in.size();
    if (n > tiny_max_input) {
        return 0;
    }
    // RFC 1952 member header: ID1 ID2, CM deflate, no flags, no mtime, XFL 0, OS Unix.
    static constexpr unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    std::memcpy(out, header, sizeof header);
    tiny_lz::bit_writer w(out + sizeof header);
    w.put(3, 3); // BFINAL 1, BTYPE 01 (fixed Huffman codes)
    const char* src = in.data();
    auto literals = [&](size_t from, size_t to) {
        for (; from < to; ++from) {
            w.put(literal_codes[static_cast<unsigned char>(src[from])]);
        }
    };
    size_t tail = tiny_lz::match_all(in, max_match, [&](size_t from, size_t at, size_t len, size_t distance) {
        literals(from, at);
        w.put(length_codes[len]);
        w.put(distance_code(static_cast<uint32_t>(distance)));
    });
    literals(tail, n);
    w.put(end_of_block);
    char* end = w.finish();
    uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(src), static_cast<uInt>(n)));
    put_le32(end, crc);
    put_le32(end + 4, static_cast<uint32_t>(n)); // ISIZE: the length modulo 2^32
    return static_cast<size_t>(end + 8 - out);
}

} // namespace ringbolt::http
