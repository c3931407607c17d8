// The JSON writer's string and number encoding: escapes (scanned a word at a time), str
// objects that are not compact ASCII (UTF-8, lone surrogates), floats as repr writes them
// without allocating, and ints.
#include "pymod/native/json/json_writer_encode.hpp"

#include "http/char_classes.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ringbolt::py::json_detail {

namespace {

// 0: copy as is; 1: needs an escape.
constexpr std::array<uint8_t, 256> make_escape_table() {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 0x20; ++c) {
        t[c] = 1;
    }
    t['"'] = 1;
    t['\\'] = 1;
    return t;
}
constexpr auto escape_table = make_escape_table();

// Eight bytes at a time: true when none needs an escape (no control byte, '"' or '\\').
inline bool word_is_plain(uint64_t w) {
    constexpr uint64_t ones = 0x0101010101010101ULL;
    constexpr uint64_t highs = 0x8080808080808080ULL;
    uint64_t control = (w - ones * 0x20) & ~w; // a byte < 0x20 (bytes >= 0x80 excluded by ~w)
    uint64_t quote = w ^ (ones * '"');         // zero where '"'
    uint64_t backslash = w ^ (ones * '\\');    // zero where '\\'
    uint64_t zero_q = (quote - ones) & ~quote; // high bit set at a zero byte
    uint64_t zero_b = (backslash - ones) & ~backslash;
    return ((control | zero_q | zero_b) & highs) == 0;
}

// The characters JSON escapes with a letter of their own (RFC 8259 §7), and those letters.
constexpr std::string_view short_escaped = "\"\\\n\r\t\b\f";
constexpr std::string_view short_escapes = "\"\\nrtbf";

void append_escape(json_sink& out, unsigned c) {
    size_t at = c < 0x80 ? short_escaped.find(static_cast<char>(c)) : std::string_view::npos;
    if (at != std::string_view::npos) {
        char buf[2] = {'\\', short_escapes[at]};
        out.append(buf, 2);
        return;
    }
    using http::chars::hex_digits;
    char buf[6] = {'\\',
                   'u',
                   hex_digits[(c >> 12) & 15],
                   hex_digits[(c >> 8) & 15],
                   hex_digits[(c >> 4) & 15],
                   hex_digits[c & 15]};
    out.append(buf, 6);
}

// The eight bytes at `s`, as one word.
inline uint64_t load_word(const char* s) noexcept {
    uint64_t w;
    std::memcpy(&w, s, 8);
    return w;
}

// Bytes before the first one that needs an escape (n when none does).
inline size_t plain_prefix(const char* s, size_t n) {
    size_t i = 0;
    while (i + 8 <= n && word_is_plain(load_word(s + i))) {
        i += 8;
    }
    while (i < n && !escape_table[static_cast<unsigned char>(s[i])]) {
        ++i;
    }
    return i;
}

} // namespace

// `prefix`/`suffix`: a byte written before the opening quote / after the closing one in
// the same reservation (a dict's ',' and ':' around a key), or 0.
void write_escaped(json_sink& out, const char* s, size_t n, char prefix, char suffix) {
    // Scan and copy in one pass, sixteen then eight bytes at a time (no memcpy call for the short
    // strings keys and most values are); room for the no-escape case up front.
    char* const begin = out.room(n + 4);
    char* p = begin;
    if (prefix != 0) {
        *p++ = prefix;
    }
    *p++ = '"';
    size_t i = 0;
#if defined(__SSE2__)
    // Sixteen bytes a step (every x86-64 has SSE2): a byte needs an escape when it is
    // '"', '\\' or at most 0x1F (min_epu8 keeps it: unsigned, so UTF-8's bytes pass).
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i control_max = _mm_set1_epi8(0x1F);
    auto plain = [&](__m128i v) {
        const __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                             _mm_cmpeq_epi8(_mm_min_epu8(v, control_max), v));
        return _mm_movemask_epi8(special) == 0;
    };
    while (i + 16 <= n) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
        if (!plain(v)) {
            break; // (the words below find it)
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
        p += 16;
        i += 16;
    }
    if (i < n && n >= 16 && i + 16 > n) { // the tail as one block, overlapping what was copied
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + n - 16));
        if (plain(v)) {
            _mm_storeu_si128(reinterpret_cast<__m128i*>(p - (i - (n - 16))), v);
            p += n - i;
            i = n;
        }
    }
#endif
    while (i + 8 <= n) {
        const uint64_t w = load_word(s + i);
        if (!word_is_plain(w)) {
            break;
        }
        std::memcpy(p, &w, 8);
        p += 8;
        i += 8;
    }
    if (i < n && n >= 8 && i + 8 > n) { // the tail as one word, overlapping what was copied
        const uint64_t w = load_word(s + n - 8);
        if (word_is_plain(w)) {
            std::memcpy(p - (i - (n - 8)), &w, 8);
            p += n - i;
            i = n;
        }
    }
    while (i < n && !escape_table[static_cast<unsigned char>(s[i])]) {
        *p++ = s[i++];
    }
    if (i == n) [[likely]] {
        *p++ = '"';
        if (suffix != 0) {
            *p++ = suffix;
        }
        out.advance(static_cast<size_t>(p - begin));
        return;
    }
    out.advance(static_cast<size_t>(p - begin));
    while (i < n) {
        append_escape(out, static_cast<unsigned char>(s[i]));
        ++i;
        size_t run = plain_prefix(s + i, n - i);
        out.append(s + i, run);
        i += run;
    }
    out.push_back('"');
    if (suffix != 0) {
        out.push_back(suffix);
    }
}

namespace {

// A str that has no UTF-8 form: it holds surrogates. Lone surrogates are written as
// \uXXXX escapes, which json.loads reads back as the same lone surrogate. A high
// surrogate followed by a low one is refused: any JSON spelling of those two code points
// reads back as the one character they encode, a different string.
bool write_str_with_surrogates(PyObject* obj, json_sink& out) {
    int kind = PyUnicode_KIND(obj);
    const void* data = PyUnicode_DATA(obj);
    Py_ssize_t n = PyUnicode_GET_LENGTH(obj);
    out.push_back('"');
    for (Py_ssize_t i = 0; i < n; ++i) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) {
            if (escape_table[c]) {
                append_escape(out, c);
            } else {
                out.push_back(static_cast<char>(c));
            }
        } else if (c < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (c >> 6)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            if (c <= 0xDBFF && i + 1 < n) {
                Py_UCS4 next = PyUnicode_READ(kind, data, i + 1);
                if (next >= 0xDC00 && next <= 0xDFFF) {
                    char msg[160];
                    std::snprintf(msg, sizeof(msg),
                                  "str contains the surrogate pair U+%04X U+%04X as two code points: JSON cannot "
                                  "represent it (it would read back as U+%05X)",
                                  static_cast<unsigned>(c), static_cast<unsigned>(next),
                                  static_cast<unsigned>(0x10000 + ((c - 0xD800) << 10) + (next - 0xDC00)));
                    PyErr_SetString(PyExc_ValueError, msg);
                    return false;
                }
            }
            append_escape(out, c);
        } else if (c < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (c >> 12)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (c >> 18)));
            out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    out.push_back('"');
    return true;
}

} // namespace

// A str that is not compact ASCII: its UTF-8 form (cached in the object after the first
// call), escaped.
[[gnu::noinline]] bool write_str_utf8(PyObject* obj, json_sink& out, bool as_pydantic) {
    Py_ssize_t n;
    const char* s = PyUnicode_AsUTF8AndSize(obj, &n);
    if (s == nullptr) [[unlikely]] {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            return false;
        }
        if (as_pydantic) {
            PyErr_SetString(PyExc_ValueError, "str contains a lone surrogate: pydantic refuses to write it");
            return false;
        }
        PyErr_Clear();
        return write_str_with_surrogates(obj, out);
    }
    write_escaped(out, s, static_cast<size_t>(n));
    return true;
}

namespace {

constexpr double pow10_table[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7};

// Numbers are laid out right to left in a small buffer and then copied into the output
// as one fixed-size block (no variable-length memcpy call per number): `end` is at
// number_buffer::text_end, and 32 bytes from any start in front of it are readable.
struct number_buffer {
    static constexpr size_t max_text = 32; ///< a number's text is never longer
    char bytes[2 * max_text];
    char* end() noexcept { return bytes + max_text; }
};

[[gnu::always_inline]] inline void append_number(json_sink& out, const char* p, const char* end) {
    std::memcpy(out.room(number_buffer::max_text), p, number_buffer::max_text);
    out.advance(static_cast<size_t>(end - p));
}

// The decimal digits of m in front of p (at least one).
[[gnu::always_inline]] inline char* put_uint(char* p, uint64_t m) {
    while (m >= 100) {
        p -= 2;
        std::memcpy(p, &two_digits[static_cast<size_t>(m % 100) * 2], 2);
        m /= 100;
    }
    if (m >= 10) {
        p -= 2;
        std::memcpy(p, &two_digits[static_cast<size_t>(m) * 2], 2);
    } else {
        *--p = static_cast<char>('0' + m);
    }
    return p;
}

// The common case fast: a value that is m / 10^k for a small k (prices, scores, 1.5,
// 0.25, 42.0), in repr's positional range. m / 10^k is correctly rounded, so when it
// gives back v the text "m / 10^k" reads back as v; the smallest such k is the shortest
// text, as repr writes it. False: use the general path.
bool write_short_decimal(double v, json_sink& out) {
    double a = v < 0 ? -v : v;
    if (!(a >= 1e-4 && a < 1e15)) {
        if (a == 0.0) {
            out.append(std::signbit(v) ? "-0.0" : "0.0", std::signbit(v) ? 4 : 3);
            return true;
        }
        return false;
    }
    // One test at the largest k (up to 7) that keeps a * 10^k under 2^50: if a is
    // m / 10^k for some smaller k, it is also (m * 10^(7-k)) / 10^7, and at this scale
    // one integer at most reads back as a (the doubles near a are closer together than a
    // quarter of 10^-k below 2^50), so rounding finds it; its trailing zeros then give
    // the smallest k.
    int k = 7;
    double scaled = a * pow10_table[k];
    while (scaled >= 1125899906842624.0) {
        if (k == 0) {
            return false;
        }
        --k;
        scaled = a * pow10_table[k];
    }
    auto rounded = static_cast<int64_t>(scaled + 0.5);
    if (static_cast<double>(rounded) / pow10_table[k] != a) {
        return false;
    }
    auto m = static_cast<uint64_t>(rounded);
    while (k >= 2 && m % 100 == 0) {
        m /= 100;
        k -= 2;
    }
    if (k > 0 && m % 10 == 0) {
        m /= 10;
        --k;
    }
    // k fraction digits (leading zeros included; the last is not 0, k being the
    // smallest), '.', the integer digits ("0" when none); "n.0" for k == 0.
    number_buffer buf;
    char* p = buf.end();
    if (k == 0) {
        *--p = '0';
    }
    for (int i = 0; i < k; ++i) {
        *--p = static_cast<char>('0' + m % 10);
        m /= 10;
    }
    *--p = '.';
    p = put_uint(p, m);
    if (v < 0) {
        *--p = '-';
    }
    append_number(out, p, buf.end());
    return true;
}

// `nd` significant digits with the first one's decimal exponent `exp` (-4..15), as repr
// lays them out: ddd.ddd, ddd000.0 or 0.000ddd.
void write_positional(json_sink& out, bool negative, const char* digits, int nd, int exp) {
    // Fixed-size copies (no memcpy call): at most 17 digits, read from a 64-byte buffer.
    number_buffer buf;
    char* p = buf.bytes;
    if (negative) {
        *p++ = '-';
    }
    if (exp >= 0) {
        int whole = exp + 1;
        if (nd > whole) {
            std::memcpy(p, digits, 24);
            p += whole;
            *p++ = '.';
            std::memcpy(p, digits + whole, 24);
            p += nd - whole;
        } else {
            std::memcpy(p, digits, 24);
            p += nd;
            std::memset(p, '0', 16);
            p += whole - nd;
            *p++ = '.';
            *p++ = '0';
        }
    } else {
        std::memcpy(p, "0.000000", 8);
        p += 1 - exp;
        std::memcpy(p, digits, 24);
        p += nd;
    }
    append_number(out, buf.bytes, p);
}

// float.__repr__ without the allocation: the shortest digits that round-trip (to_chars;
// a hand-written exact 128-bit search measured no cheaper than libstdc++'s Ryu), laid out
// as repr does (positional for exponents -4..15, else d.ddde+XX, which is to_chars'
// own scientific text: same mantissa, sign and at least two exponent digits), or as
// pydantic does (`as_pydantic`: positional from exponent -5, the exponent unpadded).
void write_double(double v, json_sink& out, bool as_pydantic) {
    if (write_short_decimal(v, out)) [[likely]] { // (its range, 1e-4 to 1e15, is laid out alike by both)
        return;
    }
    char sci[64]; // write_positional reads 24 bytes from any digit
    const char* end = std::to_chars(sci, sci + 40, v, std::chars_format::scientific).ptr;
    const char* e = end[-4] == 'e' ? end - 4 : end - 5; // "e+XX" or "e+XXX"
    int exp = 0;
    for (const char* q = e + 2; q < end; ++q) {
        exp = exp * 10 + (*q - '0');
    }
    if (e[1] == '-') {
        exp = -exp;
    }
    if (exp < (as_pydantic ? -5 : -4) || exp >= 16) {
        if (as_pydantic) { // "e-07" -> "e-7"; "e+16" kept (pydantic 2.14), or "e16" (pydantic 2.7)
            const char* digits = e + 2;
            while (digits + 1 < end && *digits == '0') {
                ++digits;
            }
            bool sign = e[1] == '-' || pydantic_exponent_plus;
            out.append(sci, static_cast<size_t>(e + 1 - sci));
            out.append(e + 1, sign ? 1 : 0);
            out.append(digits, static_cast<size_t>(end - digits));
            return;
        }
        out.append(sci, static_cast<size_t>(end - sci));
        return;
    }
    // The significant digits as one run: "d.ddd" becomes "dddd" from sci + 1 + sign.
    char* digits = sci + (sci[0] == '-');
    if (digits[1] == '.') {
        digits[1] = digits[0];
        ++digits;
    }
    write_positional(out, v < 0, digits, static_cast<int>(e - digits), exp);
}

} // namespace

bool pydantic_exponent_plus = true;

bool write_float(PyObject* obj, json_sink& out, bool as_pydantic) {
    double v = PyFloat_AS_DOUBLE(obj);
    if (!std::isfinite(v)) [[unlikely]] {
        PyErr_Format(PyExc_ValueError, "Out of range float values are not JSON compliant: %R", obj);
        return false;
    }
    write_double(v, out, as_pydantic);
    return true;
}

namespace {

void write_int64(long long v, json_sink& out) {
    number_buffer buf;
    char* p = put_uint(buf.end(), v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v));
    if (v < 0) {
        *--p = '-';
    }
    append_number(out, p, buf.end());
}

} // namespace

bool write_int(PyObject* obj, json_sink& out) {
#if PY_VERSION_HEX >= 0x030C0000
    // 3.12+: a one-digit int's value without a call (the public unstable API).
    if (PyUnstable_Long_IsCompact(reinterpret_cast<PyLongObject*>(obj))) [[likely]] {
        write_int64(static_cast<long long>(PyUnstable_Long_CompactValue(reinterpret_cast<PyLongObject*>(obj))), out);
        return true;
    }
#endif
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow == 0) [[likely]] {
        if (v == -1 && PyErr_Occurred()) {
            return false;
        }
        write_int64(v, out);
        return true;
    }
    PyObject* s = PyLong_Type.tp_repr(obj); // big integers: exact decimal text (int's own, not a subclass's)
    if (s == nullptr) {
        return false;
    }
    Py_ssize_t n;
    const char* text = PyUnicode_AsUTF8AndSize(s, &n);
    if (text != nullptr) {
        out.append(text, static_cast<size_t>(n));
    }
    Py_DECREF(s);
    return text != nullptr;
}

} // namespace ringbolt::py::json_detail
