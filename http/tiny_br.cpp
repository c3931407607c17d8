// One-pass brotli for tiny bodies: greedy LZ77 (http/tiny_lz.hpp) in one meta-block whose
// three prefix codes are uniform (every literal 8 bits, every insert-and-copy command 9
// bits, every distance symbol 6 bits), so no histogram is counted and no tree is built
// per body; the code descriptions take 15 bytes at the head of the stream. RFC 7932
// section numbers in the comments.
//
// Why: libbrotli 1.0.9's cheapest mode (quality 0) costs about 4.3 us on a 2 KB JSON
// body, 1.4 us of it fixed per stream (an encoder instance per body, as the library has
// no reset, and the Huffman trees it builds for each meta-block). Its output decodes
// with any brotli decoder; on JSON it is about the size of quality 0's (whose literal
// codes are adaptive but whose matcher is cruder). Text whose literals would gain from
// real Huffman codes goes to libbrotli instead.
#include "http/tiny_encoders.hpp"

#include "http/tiny_lz.hpp"

#include <array>

namespace ringbolt::http {

namespace {

using tiny_lz::bit_writer;
using tiny_lz::reverse_bits;

static_assert(tiny_max_input == tiny_lz::max_input);

constexpr unsigned literal_bits = 8;  // 256 literals
constexpr unsigned command_bits = 9;  // insert-and-copy symbols 0..511 (the code space fills there)
constexpr unsigned distance_bits = 6; // distance symbols 0..63 (16 + NDIRECT 0 + 48 << NPOSTFIX 0)

// §3.5: a complex prefix code whose code length code has one non-zero entry, for `len`:
// every symbol then takes 0 bits to describe and gets length `len`, until the code space
// is full (2^len symbols). The decoder accepts a code length code with a single code
// (its symbol then costs no bits).
void put_uniform_prefix_code(bit_writer& w, unsigned len) noexcept {
    w.put(0, 2); // HSKIP 0: all 18 code length code lengths follow
    static constexpr uint8_t order[18] = {1, 2, 3, 4, 0, 5, 17, 6, 16, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (uint8_t sym : order) {
        // Code length code lengths use a fixed code: 0 is "00", 3 is "10" (bits read
        // right to left), so 0 and 2 as LSB-first values.
        w.put(sym == len ? 2u : 0u, 2);
    }
}

// §5: insert and copy length codes, their bases and extra bits.
constexpr uint32_t insert_base[24] = {0,  1,  2,  3,  4,   5,   6,   8,   10,   14,   18,   26,
                                      34, 50, 66, 98, 130, 194, 322, 578, 1090, 2114, 6210, 22594};
constexpr uint8_t insert_extra[24] = {0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 12, 14, 24};
constexpr uint32_t copy_base[24] = {2,  3,  4,  5,  6,  7,   8,   9,   10,  12,  14,   18,
                                    22, 30, 38, 54, 70, 102, 134, 198, 326, 582, 1094, 2118};
constexpr uint8_t copy_extra[24] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 24};

// The codes for a length (libbrotli's formulas, checked against the tables by the unit test).
unsigned insert_code(uint32_t len) noexcept {
    if (len < 6) {
        return len;
    }
    if (len < 130) {
        unsigned nbits = static_cast<unsigned>(std::bit_width(len - 2)) - 2;
        return (nbits << 1) + ((len - 2) >> nbits) + 2;
    }
    if (len < 2114) {
        return static_cast<unsigned>(std::bit_width(len - 66)) - 1 + 10;
    }
    return len < 6210 ? 21 : len < 22594 ? 22 : 23;
}

unsigned copy_code(uint32_t len) noexcept {
    if (len < 10) {
        return len - 2;
    }
    if (len < 134) {
        unsigned nbits = static_cast<unsigned>(std::bit_width(len - 6)) - 2;
        return (nbits << 1) + ((len - 6) >> nbits) + 4;
    }
    if (len < 2118) {
        return static_cast<unsigned>(std::bit_width(len - 70)) - 1 + 12;
    }
    return 23;
}

// §5: the cells of insert-and-copy symbols with an explicit distance, by insert code / 8
// and copy code / 8. Only symbols under 512 have codes here, so (1, 2), (2, 1) and (2, 2)
// are never used: copies are split to stay within the others (longest_copy).
constexpr uint16_t cell_base[3][3] = {{128, 192, 384}, {256, 320, 512}, {448, 576, 640}};

/// The longest copy a command inserting `inserted` literals can carry.
constexpr uint32_t longest_copy(uint32_t inserted) noexcept {
    if (inserted < 10) {
        return UINT32_MAX; // insert codes 0-7: every copy code
    }
    return inserted < 130 ? 69 : 9; // copy codes 0-15, or 0-7
}

template <size_t N> constexpr std::array<uint16_t, N> reversed(unsigned bits) {
    std::array<uint16_t, N> t{};
    for (unsigned i = 0; i < N; ++i) {
        t[i] = static_cast<uint16_t>(reverse_bits(i, bits));
    }
    return t;
}

constexpr std::array<uint16_t, 512> command_codes = reversed<512>(command_bits);
constexpr std::array<uint16_t, 64> distance_codes = reversed<64>(distance_bits);

constexpr std::array<uint16_t, 256> br_literal_codes = [] {
    std::array<uint16_t, 256> t{};
    for (unsigned b = 0; b < 256; ++b) {
        t[b] = static_cast<uint16_t>(reverse_bits(b, literal_bits));
    }
    return t;
}();

class command_writer {
  public:
    command_writer(bit_writer& w, const char* src) noexcept : _w(w), _src(src) {}

    /// Literals [from, at), then a copy of `len` bytes from `distance` back.
    void command(size_t from, size_t at, uint32_t len, uint32_t distance) noexcept {
        uint32_t inserted = static_cast<uint32_t>(at - from);
        uint32_t most = longest_copy(inserted);
        if (len > most) {
            uint32_t first = len - most >= 2 ? most : len - 2; // a copy is at least 2 bytes
            one(from, at, first, distance);
            from = at;
            inserted = 0;
            len -= first;
        }
        one(from, at, len, distance);
    }

    /// The last command: literals [from, at) and no copy (the meta-block ends after them,
    /// so the copy length is not used and no distance follows, §9.3).
    void last(size_t from, size_t at) noexcept {
        if (from < at) {
            head(static_cast<uint32_t>(at - from), 2);
            literals(from, at);
        }
    }

  private:
    void head(uint32_t inserted, uint32_t len) noexcept {
        unsigned ic = insert_code(inserted);
        unsigned cc = copy_code(len);
        unsigned sym = cell_base[ic >> 3][cc >> 3] + ((ic & 7u) << 3) + (cc & 7u);
        _w.put(command_codes[sym], command_bits);
        _w.put(inserted - insert_base[ic], insert_extra[ic]);
        _w.put(len - copy_base[cc], copy_extra[cc]);
    }

    void literals(size_t from, size_t to) noexcept {
        for (; from < to; ++from) {
            _w.put(br_literal_codes[static_cast<unsigned char>(_src[from])], literal_bits);
        }
    }

    void one(size_t from, size_t at, uint32_t len, uint32_t distance) noexcept {
        head(static_cast<uint32_t>(at - from), len);
        literals(from, at);
        // §4 with NPOSTFIX 0, NDIRECT 0: symbol 16 + 2 * (nbits - 1) + (the bit under the
        // top one of distance + 3), then nbits extra bits.
        uint32_t v = distance + 3;
        unsigned nbits = static_cast<unsigned>(std::bit_width(v)) - 2;
        unsigned sym = 16 + 2 * (nbits - 1) + ((v >> nbits) & 1u);
        _w.put(distance_codes[sym], distance_bits);
        _w.put(v & ((1u << nbits) - 1), nbits);
    }

    bit_writer& _w;
    const char* _src;
};

} // namespace

size_t tiny_br(std::string_view in, char* out) noexcept {
    const size_t n = in.size();
    if (n > tiny_max_input) {
        return 0;
    }
    bit_writer w(out);
    w.put(0, 1); // §9.1 WBITS: a single 0 is a 16-bit window (64 KiB - 16 bytes of distance)
    if (n == 0) {
        w.put(3, 2); // ISLAST, ISLASTEMPTY
        return static_cast<size_t>(w.finish() - out);
    }
    // §9.2 meta-block header: ISLAST 1, ISLASTEMPTY 0, MNIBBLES 4 (00), MLEN - 1 in 16 bits.
    w.put(1, 1);
    w.put(0, 1);
    w.put(0, 2);
    w.put(static_cast<uint32_t>(n - 1), 16);
    w.put(0, 3); // NBLTYPESL, NBLTYPESI, NBLTYPESD: one block type each
    w.put(0, 6); // NPOSTFIX 0, NDIRECT 0
    w.put(0, 2); // the literal block type's context mode (unused: one tree)
    w.put(0, 2); // NTREESL 1, NTREESD 1: no context maps
    put_uniform_prefix_code(w, literal_bits);
    put_uniform_prefix_code(w, command_bits);
    put_uniform_prefix_code(w, distance_bits);
    command_writer cw(w, in.data());
    size_t tail = tiny_lz::match_all(in, SIZE_MAX, [&](size_t from, size_t at, size_t len, size_t distance) {
        cw.command(from, at, static_cast<uint32_t>(len), static_cast<uint32_t>(distance));
    });
    cw.last(tail, n);
    return static_cast<size_t>(w.finish() - out);
}

} // namespace ringbolt::http
