// UTF-8 validation (RFC 3629 §4): an incremental validator driven by a byte-class DFA
// that fails on the first byte that cannot continue a valid sequence, and a one-shot
// check written as a plain decoder, so the two can be checked against each other.
#include "ws/utf8.hpp"

#include <array>
#include <cstring>

namespace ringbolt::ws {
namespace {

constexpr uint64_t high_bits = 0x8080808080808080ull;

/// Byte classes: bytes that every state treats alike (RFC 3629 §4's syntax).
enum byte_class : uint8_t {
    ascii,    ///< 00..7F
    cont_8x,  ///< 80..8F
    cont_9x,  ///< 90..9F
    cont_ab,  ///< A0..BF
    invalid,  ///< C0 C1 (overlong two-byte leads), F5..FF (beyond U+10FFFF)
    lead2,    ///< C2..DF
    lead3_e0, ///< E0: the next byte is A0..BF (else overlong)
    lead3,    ///< E1..EC, EE, EF
    lead3_ed, ///< ED: the next byte is 80..9F (else a surrogate, U+D800..U+DFFF)
    lead4_f0, ///< F0: the next byte is 90..BF (else overlong)
    lead4,    ///< F1..F3
    lead4_f4, ///< F4: the next byte is 80..8F (else above U+10FFFF)
    class_count,
};

/// States are row offsets into the transition table (state * 16), so the next state
/// is one load: `table[state + class]`. 0 is "at a boundary", as the header requires.
enum state : uint8_t {
    accept = 0,
    failed = 1 * 16,
    need1 = 2 * 16,    ///< one continuation byte 80..BF left
    need2 = 3 * 16,    ///< two left, the first unrestricted
    need3 = 4 * 16,    ///< three left, the first unrestricted
    after_e0 = 5 * 16, ///< A0..BF, then one more
    after_ed = 6 * 16, ///< 80..9F, then one more
    after_f0 = 7 * 16, ///< 90..BF, then two more
    after_f4 = 8 * 16, ///< 80..8F, then two more
    state_count = 9,
};

constexpr std::array<uint8_t, 256> make_classes() {
    std::array<uint8_t, 256> c{};
    for (int b = 0; b < 256; ++b) {
        uint8_t k;
        if (b < 0x80) {
            k = ascii;
        } else if (b < 0x90) {
            k = cont_8x;
        } else if (b < 0xA0) {
            k = cont_9x;
        } else if (b < 0xC0) {
            k = cont_ab;
        } else if (b < 0xC2) {
            k = invalid;
        } else if (b < 0xE0) {
            k = lead2;
        } else if (b == 0xE0) {
            k = lead3_e0;
        } else if (b == 0xED) {
            k = lead3_ed;
        } else if (b < 0xF0) {
            k = lead3;
        } else if (b == 0xF0) {
            k = lead4_f0;
        } else if (b < 0xF4) {
            k = lead4;
        } else if (b == 0xF4) {
            k = lead4_f4;
        } else {
            k = invalid;
        }
        c[b] = k;
    }
    return c;
}

constexpr std::array<uint8_t, state_count * 16> make_transitions() {
    std::array<uint8_t, state_count * 16> t{};
    for (auto& v : t) {
        v = failed; // anything not listed below cannot be valid
    }
    auto set = [&t](uint8_t from, uint8_t cls, uint8_t to) { t[from + cls] = to; };
    // At a boundary: a lead byte decides how many continuation bytes follow, and for
    // E0/ED/F0/F4 the range of the next one.
    set(accept, ascii, accept);
    set(accept, lead2, need1);
    set(accept, lead3_e0, after_e0);
    set(accept, lead3, need2);
    set(accept, lead3_ed, after_ed);
    set(accept, lead4_f0, after_f0);
    set(accept, lead4, need3);
    set(accept, lead4_f4, after_f4);
    for (uint8_t cls : {cont_8x, cont_9x, cont_ab}) {
        set(need1, cls, accept);
        set(need2, cls, need1);
        set(need3, cls, need2);
    }
    set(after_e0, cont_ab, need1);
    set(after_ed, cont_8x, need1);
    set(after_ed, cont_9x, need1);
    set(after_f0, cont_9x, need2);
    set(after_f0, cont_ab, need2);
    set(after_f4, cont_8x, need2);
    return t;
}

constexpr auto classes = make_classes();
constexpr auto transitions = make_transitions();

inline uint64_t load64(const uint8_t* p) noexcept {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

} // namespace

bool utf8_validator::feed(std::string_view bytes) noexcept {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    const size_t n = bytes.size();
    uint32_t s = _state;
    if (s == failed) [[unlikely]] {
        return false;
    }
    size_t i = 0;
    while (i < n) {
        if (s == accept) {
            // ASCII fast path: skip whole 8-byte words without a high bit.
            while (i + 16 <= n && ((load64(p + i) | load64(p + i + 8)) & high_bits) == 0) {
                i += 16;
            }
            while (i + 8 <= n && (load64(p + i) & high_bits) == 0) {
                i += 8;
            }
            while (i < n && p[i] < 0x80) {
                ++i;
            }
            if (i == n) {
                break;
            }
        }
        s = transitions[s + classes[p[i]]];
        ++i;
        if (s == failed) [[unlikely]] {
            break; // RFC 6455 §8.1: fail as soon as the bytes cannot be valid
        }
    }
    _state = s;
    return s != failed;
}

bool valid_utf8(std::string_view bytes) noexcept {
    // Decode each sequence and check it against RFC 3629 §3: the length the lead byte
    // announces, continuation bytes 10xxxxxx, the shortest form, no surrogates, at most
    // U+10FFFF. Independent of the DFA above on purpose (the fuzzer compares them).
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    const size_t n = bytes.size();
    size_t i = 0;
    while (i < n) {
        while (i + 8 <= n && (load64(p + i) & high_bits) == 0) {
            i += 8;
        }
        if (i == n) {
            break;
        }
        const uint8_t b = p[i];
        if (b < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        uint32_t min;
        if ((b & 0xE0) == 0xC0) {
            len = 2;
            cp = b & 0x1F;
            min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            len = 3;
            cp = b & 0x0F;
            min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            len = 4;
            cp = b & 0x07;
            min = 0x10000;
        } else {
            return false; // a stray continuation byte, or F8..FF
        }
        if (n - i < len) {
            return false;
        }
        for (size_t k = 1; k < len; ++k) {
            const uint8_t c = p[i + k];
            if ((c & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (c & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += len;
    }
    return true;
}

} // namespace ringbolt::ws
