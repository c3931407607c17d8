// One-pass zstd for tiny bodies: greedy LZ77 (http/tiny_lz.hpp) in one compressed block,
// raw literals, sequences coded with the predefined FSE tables, so nothing is counted,
// normalized or described per body. RFC 8878 section numbers in the comments.
//
// Why: libzstd's cheapest mode (level -1, which also leaves literals raw) costs about
// 3.2 us on a 2 KB JSON body, 1 us of it fixed per frame (resetting and sizing the
// context, clearing its tables, choosing encodings). The output decodes with any zstd
// decoder and is about the size of level -1's; a body it would shrink by less than a
// quarter goes to libzstd instead.
#include "http/tiny_encoders.hpp"

#include "http/tiny_lz.hpp"

#include <array>
#include <vector>

namespace ringbolt::http {

namespace {

using tiny_lz::bit_writer;

static_assert(tiny_max_input == tiny_lz::max_input);

// §3.1.1.3.2.2.1 predefined distributions (-1: a "less than 1" probability).
constexpr int16_t ll_norm[36] = {4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1,  1,  2,  2,
                                 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1};
constexpr int16_t ml_norm[53] = {1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  1,  1,  1,  1,  1,  1, 1,
                                 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1};
constexpr int16_t of_norm[29] = {1, 1, 1, 1, 1, 1, 2, 2, 2, 1,  1,  1,  1,  1, 1,
                                 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1};
constexpr unsigned ll_log = 6;
constexpr unsigned ml_log = 6;
constexpr unsigned of_log = 5;

// §3.1.1.3.2.1.1 literal length and match length codes: bases and extra bits.
constexpr uint32_t ll_base[36] = {0,  1,  2,   3,   4,   5,    6,    7,    8,    9,     10,    11,
                                  12, 13, 14,  15,  16,  18,   20,   22,   24,   28,    32,    40,
                                  48, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536};
constexpr uint8_t ll_bits[36] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0,  0,  0,  0,  1,  1,
                                 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
constexpr uint32_t ml_base[53] = {3,  4,   5,   6,   7,    8,    9,    10,   11,    12,    13,   14, 15, 16,
                                  17, 18,  19,  20,  21,   22,   23,   24,   25,    26,    27,   28, 29, 30,
                                  31, 32,  33,  34,  35,   37,   39,   41,   43,    47,    51,   59, 67, 83,
                                  99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387, 32771, 65539};
constexpr uint8_t ml_bits[53] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0,  0,  0,  0,  0,  0, 0,
                                 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

// Codes of the small lengths, looked up; larger ones follow from their top bit.
constexpr std::array<uint8_t, 64> ll_codes = [] {
    std::array<uint8_t, 64> t{};
    for (unsigned len = 0, c = 0; len < 64; ++len) {
        while (c + 1 < 36 && ll_base[c + 1] <= len) {
            ++c;
        }
        t[len] = static_cast<uint8_t>(c);
    }
    return t;
}();

constexpr std::array<uint8_t, 128> ml_codes = [] { // by length - 3
    std::array<uint8_t, 128> t{};
    for (unsigned b = 0, c = 0; b < 128; ++b) {
        while (c + 1 < 53 && ml_base[c + 1] <= b + 3) {
            ++c;
        }
        t[b] = static_cast<uint8_t>(c);
    }
    return t;
}();

inline unsigned ll_code(uint32_t len) noexcept {
    return len < 64 ? ll_codes[len] : static_cast<unsigned>(std::bit_width(len)) - 1 + 19;
}

inline unsigned ml_code(uint32_t len) noexcept {
    uint32_t b = len - 3;
    return b < 128 ? ml_codes[b] : static_cast<unsigned>(std::bit_width(b)) - 1 + 36;
}

// An FSE compression table built from a normalized distribution, as a zstd decoder
// builds its decoding table from the same distribution (§4.1.1: symbols spread with
// step (size >> 1) + (size >> 3) + 3, "less than 1" symbols at the end).
template <size_t Symbols, unsigned Log> struct fse_table {
    static constexpr unsigned size = 1u << Log;
    uint16_t next_state[size] = {};
    struct transform {
        int32_t find_state = 0;
        uint32_t nb_bits = 0; // (max bits out << 16) - min state plus
    } symbol[Symbols] = {};

    explicit constexpr fse_table(const int16_t (&norm)[Symbols]) {
        uint32_t cumul[Symbols + 1] = {};
        uint8_t spread[size] = {};
        unsigned high = size - 1;
        for (unsigned s = 0; s < Symbols; ++s) {
            if (norm[s] == -1) {
                cumul[s + 1] = cumul[s] + 1;
                spread[high--] = static_cast<uint8_t>(s);
            } else {
                cumul[s + 1] = cumul[s] + static_cast<uint32_t>(norm[s]);
            }
        }
        const unsigned step = (size >> 1) + (size >> 3) + 3;
        unsigned pos = 0;
        for (unsigned s = 0; s < Symbols; ++s) {
            for (int k = 0; k < norm[s]; ++k) {
                spread[pos] = static_cast<uint8_t>(s);
                do {
                    pos = (pos + step) & (size - 1);
                } while (pos > high);
            }
        }
        for (unsigned u = 0; u < size; ++u) {
            next_state[cumul[spread[u]]++] = static_cast<uint16_t>(size + u);
        }
        int32_t total = 0;
        for (unsigned s = 0; s < Symbols; ++s) {
            int n = norm[s];
            if (n == -1 || n == 1) {
                symbol[s].nb_bits = (Log << 16) - size;
                symbol[s].find_state = total - 1;
                total += 1;
            } else if (n > 1) {
                unsigned max_bits_out = Log - (static_cast<unsigned>(std::bit_width(static_cast<unsigned>(n - 1))) - 1);
                uint32_t min_state_plus = static_cast<uint32_t>(n) << max_bits_out;
                symbol[s].nb_bits = (max_bits_out << 16) - min_state_plus;
                symbol[s].find_state = total - n;
                total += n;
            } else {
                symbol[s].nb_bits = ((Log + 1) << 16) - size; // (never coded)
            }
        }
    }
};

constexpr fse_table<36, ll_log> ll_table(ll_norm);
constexpr fse_table<53, ml_log> ml_table(ml_norm);
constexpr fse_table<29, of_log> of_table(of_norm);

template <class Table> class fse_state {
  public:
    fse_state(const Table& t, unsigned first) noexcept : _t(t) {
        const auto& tr = t.symbol[first];
        uint32_t bits_out = (tr.nb_bits + (1u << 15)) >> 16;
        uint32_t v = (bits_out << 16) - tr.nb_bits;
        _value = t.next_state[(v >> bits_out) + tr.find_state];
    }
    void encode(bit_writer& w, unsigned s) noexcept {
        const auto& tr = _t.symbol[s];
        uint32_t bits_out = (_value + tr.nb_bits) >> 16;
        w.put(_value & ((1u << bits_out) - 1), bits_out);
        _value = _t.next_state[(_value >> bits_out) + tr.find_state];
    }
    void flush(bit_writer& w, unsigned log) noexcept { w.put(_value & ((1u << log) - 1), log); }

  private:
    const Table& _t;
    uint32_t _value;
};

struct sequence {
    uint32_t literals;
    uint32_t match;
    uint32_t offset;
};

void put_le(char*& p, uint32_t v, int bytes) noexcept {
    for (int i = 0; i < bytes; ++i) {
        *p++ = static_cast<char>((v >> (8 * i)) & 0xff);
    }
}

// A sequence's codes and extra bits.
struct coded {
    unsigned ll, ml, of;
};

} // namespace

size_t tiny_zstd(std::string_view in, char* out) noexcept {
    const size_t n = in.size();
    if (n > tiny_max_input) {
        return 0;
    }
    char* p = out;
    // §3.1.1 frame header: magic, descriptor (single segment, no checksum, no
    // dictionary; content size in 1 byte under 256, else 2 bytes holding size - 256).
    put_le(p, 0xFD2FB528u, 4);
    if (n < 256) {
        *p++ = 0x20;
        *p++ = static_cast<char>(n);
    } else {
        *p++ = 0x60;
        put_le(p, static_cast<uint32_t>(n - 256), 2);
    }
    char* block = p;
    auto raw_block = [&] { // §3.1.1.2: last block, raw, the body as it is
        p = block;
        put_le(p, 1u | (static_cast<uint32_t>(n) << 3), 3);
        if (n > 0) {
            std::memcpy(p, in.data(), n); // (an empty view's data() may be null)
        }
        return static_cast<size_t>(p + n - out);
    };
    if (n == 0) {
        return raw_block();
    }

    thread_local std::vector<sequence> seqs;
    seqs.clear();
    size_t literal_count = 0;
    size_t tail = tiny_lz::match_all(in, SIZE_MAX, [&](size_t from, size_t at, size_t len, size_t distance) {
        seqs.push_back({static_cast<uint32_t>(at - from), static_cast<uint32_t>(len), static_cast<uint32_t>(distance)});
        literal_count += at - from;
    });
    literal_count += n - tail;

    p = block + 3; // the block header goes in once the block's size is known
    // §3.1.1.3.1 literals section: raw, with a 1-, 2- or 3-byte header.
    if (literal_count < 32) {
        *p++ = static_cast<char>(literal_count << 3);
    } else if (literal_count < 4096) {
        put_le(p, 0x4u | (static_cast<uint32_t>(literal_count) << 4), 2);
    } else {
        put_le(p, 0xCu | (static_cast<uint32_t>(literal_count) << 4), 3);
    }
    size_t at = 0;
    for (const sequence& s : seqs) {
        std::memcpy(p, in.data() + at, s.literals);
        p += s.literals;
        at += s.literals + s.match;
    }
    std::memcpy(p, in.data() + at, n - at);
    p += n - at;

    // §3.1.1.3.2 sequences section: the count, then every table in predefined mode.
    size_t count = seqs.size();
    if (count < 128) {
        *p++ = static_cast<char>(count);
    } else if (count < 0x7F00) {
        *p++ = static_cast<char>((count >> 8) + 128);
        *p++ = static_cast<char>(count & 0xff);
    } else {
        *p++ = static_cast<char>(255);
        put_le(p, static_cast<uint32_t>(count - 0x7F00), 2);
    }
    if (count > 0) {
        *p++ = 0; // literal lengths, offsets, match lengths: predefined mode
        // The bitstream is read backwards: the last sequence is written first.
        auto codes = [](const sequence& s) {
            return coded{ll_code(s.literals), ml_code(s.match),
                         static_cast<unsigned>(std::bit_width(s.offset + 3)) - 1};
        };
        bit_writer w(p);
        auto extra = [&w](const sequence& s, const coded& c) {
            w.put(s.literals - ll_base[c.ll], ll_bits[c.ll]);
            w.put(s.match - ml_base[c.ml], ml_bits[c.ml]);
            uint32_t off = s.offset + 3; // offset values 1-3 are repeat codes
            w.put(off & ((1u << c.of) - 1), c.of);
        };
        coded last = codes(seqs[count - 1]);
        fse_state<decltype(ml_table)> ml(ml_table, last.ml);
        fse_state<decltype(of_table)> of(of_table, last.of);
        fse_state<decltype(ll_table)> ll(ll_table, last.ll);
        extra(seqs[count - 1], last);
        for (size_t i = count - 1; i-- > 0;) {
            coded c = codes(seqs[i]);
            of.encode(w, c.of);
            ml.encode(w, c.ml);
            ll.encode(w, c.ll);
            extra(seqs[i], c);
        }
        ml.flush(w, ml_log);
        of.flush(w, of_log);
        ll.flush(w, ll_log);
        w.put(1, 1); // the end mark: the decoder starts at the highest set bit
        p = w.finish();
    }
    size_t block_size = static_cast<size_t>(p - (block + 3));
    if (block_size >= n) {
        return raw_block(); // a compressed block may not be larger than the window (n)
    }
    char* h = block;
    put_le(h, 1u | (2u << 1) | (static_cast<uint32_t>(block_size) << 3), 3); // last, compressed
    return static_cast<size_t>(p - out);
}

} // namespace ringbolt::http
