// Internal to http/tiny_gzip.cpp, http/tiny_br.cpp and http/tiny_zstd.cpp: the greedy
// LZ77 matcher and the LSB-first bit writer the tiny-body encoders share.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ringbolt::http::tiny_lz {

static_assert(std::endian::native == std::endian::little, "the bit writer stores little-endian words");

constexpr uint32_t reverse_bits(uint32_t v, unsigned n) noexcept {
    uint32_t r = 0;
    for (unsigned i = 0; i < n; ++i) {
        r = (r << 1) | ((v >> i) & 1u);
    }
    return r;
}

/// Bits as the writer takes them: `bits` go out least significant first.
struct code {
    uint32_t bits = 0;
    uint8_t count = 0;
};

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

/// Writes whole 32-bit words as they fill; `put` takes up to 32 bits at a time.
class bit_writer {
  public:
    explicit bit_writer(char* out) noexcept : _out(out) {}
    void put(code c) noexcept { put(c.bits, c.count); }
    void put(uint32_t bits, unsigned count) noexcept {
        _acc |= static_cast<uint64_t>(bits) << _count;
        _count += count;
        if (_count >= 32) {
            uint32_t w = static_cast<uint32_t>(_acc);
            std::memcpy(_out, &w, 4);
            _out += 4;
            _acc >>= 32;
            _count -= 32;
        }
    }
    /// Pads to a byte boundary with zero bits; returns the end of what was written.
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
/// Inputs longer than this are not for these encoders: the hash table holds 16-bit positions.
constexpr size_t max_input = 32 * 1024;

/// Greedy LZ77 over `in` (at most max_input bytes): one hash probe per position, matches
/// of min_match to `max_len` bytes at distances up to in.size(). Calls
/// `match(literals_from, at, length, distance)` for each match (the bytes from
/// `literals_from` up to `at` are literals before it) and returns where the trailing
/// literals start.
template <class OnMatch> size_t match_all(std::string_view in, size_t max_len, OnMatch&& match) noexcept {
    const size_t n = in.size();
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
        size_t limit = std::min(max_len, n - i);
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
        match(literals, i, len, i - from);
        i += len;
        literals = i;
        if (i - 2 + min_match <= n) { // the match's tail starts the next search
            table[slot(load32(src + i - 2))] = static_cast<uint16_t>(i - 2 + 1);
        }
    }
    return literals;
}

} // namespace ringbolt::http::tiny_lz
