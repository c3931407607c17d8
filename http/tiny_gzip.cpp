// One-pass gzip for tiny bodies: greedy LZ77 (one hash probe per position, matches of
// 4 to 258 bytes within the body) coded with deflate's fixed Huffman codes.
#include "http/tiny_gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace ringbolt::http {

namespace {

static_assert(std::endian::native == std::endian::little, "the bit writer stores little-endian words");

constexpr uint32_t reverse_bits(uint32_t v, unsigned n) noexcept {
    uint32_t r = 0;
    for (unsigned i = 0; i < n; ++i) {
        r = (r << 1) | ((v >> i) & 1u);
    }
    return r;
}

// A code as the bit writer takes it: `bits` (LSB first on the wire) and their count.
struct code {
    uint32_t bits = 0;
    uint8_t count = 0;
};

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

// Lengths 3..258: the length symbol's code followed by its extra bits, one code each.
constexpr std::array<code, 259> length_codes = [] {
    constexpr uint16_t base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                   31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    constexpr uint8_t extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    std::array<code, 259> t{};
    for (unsigned len = 3; len <= 258; ++len) {
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

// Distance 1..32768: the 5-bit fixed code of its symbol, then the extra bits.
inline code distance_code(uint32_t distance) noexcept {
    uint32_t d = distance - 1;
    if (d < 4) {
        return {reverse_bits(d, 5), 5};
    }
    unsigned high = static_cast<unsigned>(std::bit_width(d)) - 1; // >= 2
    unsigned extra = high - 1;
    uint32_t sym = 2 * high + ((d >> extra) & 1u);
    return {reverse_bits(sym, 5) | ((d & ((1u << extra) - 1)) << 5), static_cast<uint8_t>(5 + extra)};
}

inline uint32_t load32(const char* p) noexcept {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

inline uint64_t load64(const char* p) noexcept {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

class bit_writer {
  public:
    explicit bit_writer(char* out) noexcept : _out(out) {}
    void put(code c) noexcept {
        _acc |= static_cast<uint64_t>(c.bits) << _count;
        _count += c.count;
        if (_count >= 32) {
            uint32_t w = static_cast<uint32_t>(_acc);
            std::memcpy(_out, &w, 4);
            _out += 4;
            _acc >>= 32;
            _count -= 32;
        }
    }
    /// Pads to a byte boundary; returns the end of what was written.
    char* finish() noexcept {
        while (_count > 0) {
            *_out++ = static_cast<char>(_acc & 0xff);
            _acc >>= 8;
            _count = _count > 8 ? _count - 8 : 0;
        }
        return _out;
    }

  private:
    char* _out;
    uint64_t _acc = 0;
    unsigned _count = 0;
};

constexpr size_t min_match = 4;
constexpr size_t max_match = 258;

void put_le32(char* p, uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) {
        p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    }
}

} // namespace

size_t tiny_gzip(std::string_view in, char* out) noexcept {
    const size_t n = in.size();
    if (n > tiny_gzip_max_input) {
        return 0;
    }
    // RFC 1952 member header: ID1 ID2, CM deflate, no flags, no mtime, XFL 0, OS Unix.
    static constexpr unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    std::memcpy(out, header, sizeof header);
    bit_writer w(out + sizeof header);
    w.put({3, 3}); // BFINAL 1, BTYPE 01 (fixed Huffman codes)

    const char* src = in.data();
    // One slot per hash, holding a position + 1 (0: empty); sized to the body so that
    // clearing it costs little next to coding the body.
    unsigned hash_bits = std::clamp(static_cast<unsigned>(std::bit_width(n)), 8u, 12u);
    uint16_t table[1u << 12];
    std::memset(table, 0, sizeof(uint16_t) << hash_bits);
    auto slot = [hash_bits](uint32_t v) noexcept { return (v * 2654435761u) >> (32 - hash_bits); };

    size_t literals = 0; // start of the literals not yet coded
    size_t i = 0;
    while (i + min_match <= n) {
        uint32_t v = load32(src + i);
        uint32_t h = slot(v);
        size_t candidate = table[h];
        table[h] = static_cast<uint16_t>(i + 1);
        if (candidate == 0 || load32(src + candidate - 1) != v) {
            ++i;
            continue;
        }
        size_t from = candidate - 1;
        size_t limit = std::min(max_match, n - i);
        size_t len = min_match;
        while (len + 8 <= limit) {
            uint64_t diff = load64(src + from + len) ^ load64(src + i + len);
            if (diff != 0) {
                len += static_cast<size_t>(std::countr_zero(diff)) / 8;
                goto matched;
            }
            len += 8;
        }
        while (len < limit && src[from + len] == src[i + len]) {
            ++len;
        }
    matched:
        for (; literals < i; ++literals) {
            w.put(literal_codes[static_cast<unsigned char>(src[literals])]);
        }
        w.put(length_codes[len]);
        w.put(distance_code(static_cast<uint32_t>(i - from)));
        i += len;
        literals = i;
        if (i - 2 + min_match <= n) { // the match's tail starts the next search
            table[slot(load32(src + i - 2))] = static_cast<uint16_t>(i - 2 + 1);
        }
    }
    for (; literals < n; ++literals) {
        w.put(literal_codes[static_cast<unsigned char>(src[literals])]);
    }
    w.put(end_of_block);
    char* end = w.finish();
    uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(src), static_cast<uInt>(n)));
    put_le32(end, crc);
    put_le32(end + 4, static_cast<uint32_t>(n)); // ISIZE: the length modulo 2^32
    return static_cast<size_t>(end + 8 - out);
}

} // namespace ringbolt::http
