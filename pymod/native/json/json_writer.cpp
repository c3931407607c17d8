// ringbolt's JSON writer: Python objects straight to JSON text (no json module), with
// json.dumps semantics (ensure_ascii=False, compact separators, allow_nan=False) plus
// datetime/date/time, UUID, Enum, Decimal and dataclasses, and an optional `default`.
#include "pymod/native/json/json_py.hpp"

#include "http/char_classes.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <datetime.h>

namespace ringbolt::py {

namespace {

constexpr int max_depth = 512;
constexpr int max_default_nesting = 64;

// Types from the standard library the writer knows, looked up once (GIL held) when a
// value is first not one of the JSON types.
struct stdlib_types {
    bool loaded = false;
    PyTypeObject* uuid = nullptr;
    PyTypeObject* decimal = nullptr;
    PyTypeObject* enum_base = nullptr;
    PyObject* dataclass_field = nullptr; ///< dataclasses._FIELD: a real field (not ClassVar/InitVar)
    PyObject* dataclass_cache = nullptr; ///< type -> tuple of field names (or None: not a dataclass)
    PyObject* name_int = nullptr;
    PyObject* name_value = nullptr;
    PyObject* name_dataclass_fields = nullptr;
    PyObject* name_field_type = nullptr;
    PyObject* name_isoformat = nullptr;
    PyObject* name_utcoffset = nullptr;
};
stdlib_types g_std;

PyTypeObject* type_from(const char* module, const char* name) {
    PyObject* mod = PyImport_ImportModule(module);
    PyObject* t = mod != nullptr ? PyObject_GetAttrString(mod, name) : nullptr;
    Py_XDECREF(mod);
    if (t != nullptr && !PyType_Check(t)) {
        Py_DECREF(t);
        PyErr_Format(PyExc_TypeError, "%s.%s is not a type", module, name);
        return nullptr;
    }
    return reinterpret_cast<PyTypeObject*>(t); // kept for the process's life
}

bool load_stdlib_types() {
    if (g_std.loaded) [[likely]] {
        return true;
    }
    if (PyDateTimeAPI == nullptr) {
        PyDateTime_IMPORT;
        if (PyDateTimeAPI == nullptr) {
            return false;
        }
    }
    stdlib_types t;
    t.uuid = type_from("uuid", "UUID");
    t.decimal = t.uuid ? type_from("decimal", "Decimal") : nullptr;
    t.enum_base = t.decimal ? type_from("enum", "Enum") : nullptr;
    PyObject* dc = t.enum_base ? PyImport_ImportModule("dataclasses") : nullptr;
    t.dataclass_field = dc ? PyObject_GetAttrString(dc, "_FIELD") : nullptr;
    Py_XDECREF(dc);
    t.dataclass_cache = t.dataclass_field ? PyDict_New() : nullptr;
    if (t.dataclass_cache == nullptr) {
        return false;
    }
    t.name_int = PyUnicode_InternFromString("int");
    t.name_value = PyUnicode_InternFromString("_value_");
    t.name_dataclass_fields = PyUnicode_InternFromString("__dataclass_fields__");
    t.name_field_type = PyUnicode_InternFromString("_field_type");
    t.name_isoformat = PyUnicode_InternFromString("isoformat");
    t.name_utcoffset = PyUnicode_InternFromString("utcoffset");
    t.loaded = true;
    g_std = t;
    return true;
}

// The output: appends into a std::string that is grown ahead (resize, then plain stores
// through a position) instead of push_back's capacity check per byte; finish() trims it.
// A scratch sink (json_dumps' per-thread buffer) writes from the start over what the
// buffer holds and leaves its size alone: no zero-filling once it has grown.
class json_sink {
  public:
    explicit json_sink(std::string& s, bool scratch = false) noexcept
        : _s(s), _begin(s.data()), _cur(_begin + (scratch ? 0 : s.size())), _end(_begin + s.size()), _scratch(scratch) {
    }
    ~json_sink() {
        if (!_scratch) {
            _s.resize(written());
        }
    }
    size_t written() const noexcept { return static_cast<size_t>(_cur - _begin); }
    json_sink(const json_sink&) = delete;
    json_sink& operator=(const json_sink&) = delete;

    /// Room for `n` more bytes; returns where they go (commit them with advance()).
    /// Raw pointers, not the string's size and data: fewer loads per check (every byte
    /// store may alias them, so they are re-read after each).
    [[gnu::always_inline]] char* room(size_t n) {
        if (static_cast<size_t>(_end - _cur) < n) [[unlikely]] {
            grow(n);
        }
        return _cur;
    }
    void advance(size_t n) noexcept { _cur += n; }
    /// A byte already written, `pos` bytes from the start.
    char& at(size_t pos) noexcept { return _begin[pos]; }
    [[gnu::always_inline]] void push_back(char c) {
        *room(1) = c;
        ++_cur;
    }
    [[gnu::always_inline]] void append(const char* p, size_t n) {
        std::memcpy(room(n), p, n);
        _cur += n;
    }

  private:
    [[gnu::noinline]] void grow(size_t n) {
        size_t pos = written();
        _s.resize(std::max(_s.size() * 2, pos + n + 64));
        _begin = _s.data();
        _cur = _begin + pos;
        _end = _begin + _s.size();
    }

    std::string& _s;
    char* _begin;
    char* _cur;
    char* _end;
    bool _scratch;
};

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

// The same for eight ASCII bytes (each under 0x80), in fewer steps: adding to a byte
// under 0x80 never carries into the next, so "b + 0x7F has its high bit" means b != 0
// and "b + 0x60 has it" means b >= 0x20.
inline bool ascii_word_is_plain(uint64_t w) {
    constexpr uint64_t ones = 0x0101010101010101ULL;
    constexpr uint64_t highs = 0x8080808080808080ULL;
    uint64_t not_control = w + ones * 0x60;
    uint64_t not_quote = (w ^ (ones * '"')) + ones * 0x7F;
    uint64_t not_backslash = (w ^ (ones * '\\')) + ones * 0x7F;
    return (not_control & not_quote & not_backslash & highs) == highs;
}

void append_escape(json_sink& out, unsigned c) {
    switch (c) {
    case '"':
        out.append("\\\"", 2);
        break;
    case '\\':
        out.append("\\\\", 2);
        break;
    case '\n':
        out.append("\\n", 2);
        break;
    case '\r':
        out.append("\\r", 2);
        break;
    case '\t':
        out.append("\\t", 2);
        break;
    case '\b':
        out.append("\\b", 2);
        break;
    case '\f':
        out.append("\\f", 2);
        break;
    default: {
        using http::chars::hex_digits;
        char buf[6] = {'\\',
                       'u',
                       hex_digits[(c >> 12) & 15],
                       hex_digits[(c >> 8) & 15],
                       hex_digits[(c >> 4) & 15],
                       hex_digits[c & 15]};
        out.append(buf, 6);
    }
    }
}

// Bytes before the first one that needs an escape (n when none does).
inline size_t plain_prefix(const char* s, size_t n) {
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t w;
        std::memcpy(&w, s + i, 8);
        if (!word_is_plain(w)) {
            break;
        }
        i += 8;
    }
    while (i < n && !escape_table[static_cast<unsigned char>(s[i])]) {
        ++i;
    }
    return i;
}

// `prefix`/`suffix`: a byte written before the opening quote / after the closing one in
// the same reservation (a dict's ',' and ':' around a key), or 0.
void write_escaped(json_sink& out, const char* s, size_t n, char prefix = 0, char suffix = 0) {
    // Scan and copy in one pass, eight bytes at a time (no memcpy call for the short
    // strings keys and most values are); room for the no-escape case up front.
    char* const begin = out.room(n + 4);
    char* p = begin;
    if (prefix != 0) {
        *p++ = prefix;
    }
    *p++ = '"';
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t w;
        std::memcpy(&w, s + i, 8);
        if (!word_is_plain(w)) {
            break;
        }
        std::memcpy(p, &w, 8);
        p += 8;
        i += 8;
    }
    if (i < n && n >= 8 && i + 8 > n) { // the tail as one word, overlapping what was copied
        uint64_t w;
        std::memcpy(&w, s + n - 8, 8);
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

// A compact ASCII str's text and length, once the caller checked PyUnicode_IS_COMPACT_ASCII:
// the data follows the PyASCIIObject header (unicodeobject.h's documented layout of
// compact ASCII strings, the same in 3.11-3.13), without PyUnicode_DATA's re-tests of
// the kind bits per key.
[[gnu::always_inline]] inline const char* ascii_data(PyObject* s) {
    return reinterpret_cast<const char*>(reinterpret_cast<const PyASCIIObject*>(s) + 1);
}
[[gnu::always_inline]] inline size_t ascii_length(PyObject* s) {
    return static_cast<size_t>(reinterpret_cast<const PyASCIIObject*>(s)->length);
}

// The text of a compact ASCII str (ascii_data), `n` bytes. Its object header comes
// right before the data, so the 8 bytes ending at the data's end are readable: a string
// under 8 bytes (most keys) is checked and copied as one word. Only for that data.
[[gnu::always_inline]] inline void write_ascii_data(json_sink& out, const char* s, size_t n, char prefix = 0,
                                                    char suffix = 0) {
    if (n - 1 < 7) { // 1..7
        uint64_t w;
        std::memcpy(&w, s + n - 8, 8);
        w >>= 8 * (8 - n);                                 // little-endian: the string's bytes now at the bottom
        constexpr uint64_t filler = 0x6161616161616161ULL; // 'a': plain
        uint64_t probe = w | (filler & (~uint64_t(0) << (8 * n)));
        if (ascii_word_is_plain(probe)) [[likely]] {
            char* const begin = out.room(n + 12);
            char* p = begin;
            if (prefix != 0) {
                *p++ = prefix;
            }
            *p++ = '"';
            std::memcpy(p, &w, 8);
            p += n;
            *p++ = '"';
            if (suffix != 0) {
                *p++ = suffix;
            }
            out.advance(static_cast<size_t>(p - begin));
            return;
        }
    } else if (n - 8 <= 8) { // 8..16: two words, overlapping when under 16
        uint64_t head;
        uint64_t tail;
        std::memcpy(&head, s, 8);
        std::memcpy(&tail, s + n - 8, 8);
        if (ascii_word_is_plain(head) && ascii_word_is_plain(tail)) [[likely]] {
            char* const begin = out.room(n + 4);
            char* p = begin;
            if (prefix != 0) {
                *p++ = prefix;
            }
            *p++ = '"';
            std::memcpy(p, &head, 8);
            std::memcpy(p + n - 8, &tail, 8);
            p += n;
            *p++ = '"';
            if (suffix != 0) {
                *p++ = suffix;
            }
            out.advance(static_cast<size_t>(p - begin));
            return;
        }
    }
    write_escaped(out, s, n, prefix, suffix);
}

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

// A str that is not compact ASCII: its UTF-8 form (cached in the object after the first
// call), escaped.
[[gnu::noinline]] bool write_str_utf8(PyObject* obj, json_sink& out) {
    Py_ssize_t n;
    const char* s = PyUnicode_AsUTF8AndSize(obj, &n);
    if (s == nullptr) [[unlikely]] {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            return false;
        }
        PyErr_Clear();
        return write_str_with_surrogates(obj, out);
    }
    write_escaped(out, s, static_cast<size_t>(n));
    return true;
}

// Inline where a value is dispatched: most strings are short ASCII ones.
[[gnu::always_inline]] inline bool write_str(PyObject* obj, json_sink& out) {
    if (PyUnicode_IS_COMPACT_ASCII(obj)) [[likely]] {
        write_ascii_data(out, ascii_data(obj), ascii_length(obj));
        return true;
    }
    return write_str_utf8(obj, out);
}

constexpr std::array<char, 200> make_two_digits() {
    std::array<char, 200> t{};
    for (int i = 0; i < 100; ++i) {
        t[2 * i] = static_cast<char>('0' + i / 10);
        t[2 * i + 1] = static_cast<char>('0' + i % 10);
    }
    return t;
}
constexpr auto two_digits = make_two_digits();

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
// own scientific text: same mantissa, sign and at least two exponent digits).
void write_double(double v, json_sink& out) {
    if (write_short_decimal(v, out)) [[likely]] {
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
    if (exp < -4 || exp >= 16) {
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

bool write_float(PyObject* obj, json_sink& out) {
    double v = PyFloat_AS_DOUBLE(obj);
    if (!std::isfinite(v)) [[unlikely]] {
        PyErr_Format(PyExc_ValueError, "Out of range float values are not JSON compliant: %R", obj);
        return false;
    }
    write_double(v, out);
    return true;
}

void write_int64(long long v, json_sink& out) {
    number_buffer buf;
    char* p = put_uint(buf.end(), v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v));
    if (v < 0) {
        *--p = '-';
    }
    append_number(out, p, buf.end());
}

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

// ---- datetime: isoformat() ----

// `width` (2, 4 or 6) decimal digits of v, zero-padded, two at a time.
inline void put_digits(char*& p, int v, int width) {
    for (int i = width - 2; i >= 0; i -= 2) {
        std::memcpy(p + i, &two_digits[static_cast<size_t>(v % 100) * 2], 2);
        v /= 100;
    }
    p += width;
}

// A utcoffset() result (timedelta or None) as isoformat writes it: +HH:MM[:SS[.ffffff]].
bool put_offset(char*& p, PyObject* offset) {
    if (offset == Py_None) {
        return true;
    }
    if (!PyDelta_Check(offset)) {
        PyErr_Format(PyExc_TypeError, "tzinfo.utcoffset() returned %.100s, not a timedelta", Py_TYPE(offset)->tp_name);
        return false;
    }
    long long us =
        (static_cast<long long>(PyDateTime_DELTA_GET_DAYS(offset)) * 86400 + PyDateTime_DELTA_GET_SECONDS(offset)) *
            1000000 +
        PyDateTime_DELTA_GET_MICROSECONDS(offset);
    char sign = '+';
    if (us < 0) {
        sign = '-';
        us = -us;
    }
    long long secs = us / 1000000;
    int micro = static_cast<int>(us % 1000000);
    *p++ = sign;
    put_digits(p, static_cast<int>(secs / 3600) % 100, 2); // under 24 h for a valid offset
    *p++ = ':';
    put_digits(p, static_cast<int>((secs / 60) % 60), 2);
    if (secs % 60 != 0 || micro != 0) {
        *p++ = ':';
        put_digits(p, static_cast<int>(secs % 60), 2);
        if (micro != 0) {
            *p++ = '.';
            put_digits(p, micro, 6);
        }
    }
    return true;
}

// The offset of an aware datetime/time: UTC without a call, else tzinfo.utcoffset(arg).
bool put_tz(char*& p, PyObject* tzinfo, PyObject* arg) {
    if (tzinfo == Py_None) {
        return true;
    }
    if (tzinfo == PyDateTime_TimeZone_UTC) {
        std::memcpy(p, "+00:00", 6);
        p += 6;
        return true;
    }
    PyObject* offset = PyObject_CallMethodOneArg(tzinfo, g_std.name_utcoffset, arg);
    if (offset == nullptr) {
        return false;
    }
    bool ok = put_offset(p, offset);
    Py_DECREF(offset);
    return ok;
}

void put_time(char*& p, int h, int m, int s, int us) {
    put_digits(p, h, 2);
    *p++ = ':';
    put_digits(p, m, 2);
    *p++ = ':';
    put_digits(p, s, 2);
    if (us != 0) {
        *p++ = '.';
        put_digits(p, us, 6);
    }
}

void put_date(char*& p, PyObject* obj) {
    put_digits(p, PyDateTime_GET_YEAR(obj), 4);
    *p++ = '-';
    put_digits(p, PyDateTime_GET_MONTH(obj), 2);
    *p++ = '-';
    put_digits(p, PyDateTime_GET_DAY(obj), 2);
}

// datetime, date and time of exactly those types (a subclass may format itself: its own
// isoformat() is called).
bool write_datetime(PyObject* obj, json_sink& out) {
    char buf[64];
    char* p = buf;
    *p++ = '"';
    put_date(p, obj);
    *p++ = 'T';
    put_time(p, PyDateTime_DATE_GET_HOUR(obj), PyDateTime_DATE_GET_MINUTE(obj), PyDateTime_DATE_GET_SECOND(obj),
             PyDateTime_DATE_GET_MICROSECOND(obj));
    if (!put_tz(p, PyDateTime_DATE_GET_TZINFO(obj), obj)) {
        return false;
    }
    *p++ = '"';
    out.append(buf, static_cast<size_t>(p - buf));
    return true;
}

bool write_date(PyObject* obj, json_sink& out) {
    char buf[16];
    char* p = buf;
    *p++ = '"';
    put_date(p, obj);
    *p++ = '"';
    out.append(buf, static_cast<size_t>(p - buf));
    return true;
}

bool write_time(PyObject* obj, json_sink& out) {
    char buf[48];
    char* p = buf;
    *p++ = '"';
    put_time(p, PyDateTime_TIME_GET_HOUR(obj), PyDateTime_TIME_GET_MINUTE(obj), PyDateTime_TIME_GET_SECOND(obj),
             PyDateTime_TIME_GET_MICROSECOND(obj));
    if (!put_tz(p, PyDateTime_TIME_GET_TZINFO(obj), Py_None)) {
        return false;
    }
    *p++ = '"';
    out.append(buf, static_cast<size_t>(p - buf));
    return true;
}

bool write_uuid_bytes(const unsigned char* bytes, json_sink& out);

// uuid.UUID: its 128-bit `int`, as the canonical 8-4-4-4-12 lower-case hex string.
bool write_uuid(PyObject* obj, json_sink& out) {
    PyObject* value = PyObject_GetAttr(obj, g_std.name_int);
    if (value == nullptr) {
        return false;
    }
    unsigned char bytes[16];
    int rc;
    if (!PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "UUID.int is not an int");
        rc = -1;
    } else {
#if PY_VERSION_HEX >= 0x030C0000
        // CPython's digits directly (30 bits each, least significant first): the generic
        // byte conversion costs several times more.
        uintptr_t tag = reinterpret_cast<PyLongObject*>(value)->long_value.lv_tag;
        Py_ssize_t ndigits = static_cast<Py_ssize_t>(tag >> 3);
        const digit* d = reinterpret_cast<PyLongObject*>(value)->long_value.ob_digit;
        bool negative = (tag & 3) == 2;
#else
        Py_ssize_t ndigits = Py_SIZE(value);
        const digit* d = reinterpret_cast<PyLongObject*>(value)->ob_digit;
        bool negative = ndigits < 0;
#endif
        // 128 bits: at most five digits, the fifth under 2^8.
        if (!negative && PyLong_SHIFT == 30 && (ndigits < 5 || (ndigits == 5 && d[4] < 256))) [[likely]] {
            unsigned __int128 acc = 0;
            for (Py_ssize_t i = ndigits - 1; i >= 0; --i) {
                acc = (acc << 30) | d[i];
            }
            for (int i = 15; i >= 0; --i) {
                bytes[i] = static_cast<unsigned char>(acc & 0xFF);
                acc >>= 8;
            }
            Py_DECREF(value);
            return write_uuid_bytes(bytes, out);
        }
#if PY_VERSION_HEX >= 0x030D0000
        Py_ssize_t need = PyLong_AsNativeBytes(value, bytes, 16,
                                               Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
                                                   Py_ASNATIVEBYTES_REJECT_NEGATIVE);
        rc = need < 0 ? -1 : 0;
        if (need > 16) {
            PyErr_SetString(PyExc_OverflowError, "UUID.int does not fit in 128 bits");
            rc = -1;
        }
#else
        rc = _PyLong_AsByteArray(reinterpret_cast<PyLongObject*>(value), bytes, 16, 0, 0);
#endif
    }
    Py_DECREF(value);
    if (rc < 0) {
        return false;
    }
    return write_uuid_bytes(bytes, out);
}

bool write_uuid_bytes(const unsigned char* bytes, json_sink& out) {
    using http::chars::hex_digits;
    char buf[38];
    char* p = buf;
    *p++ = '"';
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }
        *p++ = hex_digits[bytes[i] >> 4];
        *p++ = hex_digits[bytes[i] & 15];
    }
    *p++ = '"';
    out.append(buf, sizeof(buf));
    return true;
}

// decimal.Decimal: a finite one is a JSON number spelled exactly as str(d) ("1.10",
// "1E+3", "-0"); NaN and Infinity have no JSON form, like float's.
bool write_decimal(PyObject* obj, json_sink& out) {
    PyObject* s = g_std.decimal->tp_str(obj);
    if (s == nullptr) {
        return false;
    }
    Py_ssize_t n;
    const char* text = PyUnicode_AsUTF8AndSize(s, &n);
    bool ok = text != nullptr;
    if (ok) {
        const char* digits = text + (n > 0 && text[0] == '-');
        if (*digits < '0' || *digits > '9') {
            PyErr_Format(PyExc_ValueError, "Out of range Decimal values are not JSON compliant: %R", obj);
            ok = false;
        } else {
            out.append(text, static_cast<size_t>(n));
        }
    }
    Py_DECREF(s);
    return ok;
}

// The field names of a dataclass type (a tuple), or None for a type that is not one (a
// new reference); cached per type (bounded: a program making types without end does not
// grow it forever).
PyObject* dataclass_fields(PyTypeObject* type) {
    PyObject* key = reinterpret_cast<PyObject*>(type);
    PyObject* cached = PyDict_GetItemWithError(g_std.dataclass_cache, key);
    if (cached != nullptr) {
        return Py_NewRef(cached);
    }
    if (PyErr_Occurred()) {
        return nullptr;
    }
    PyObject* result = nullptr;
    PyObject* fields = PyObject_GetAttr(key, g_std.name_dataclass_fields);
    if (fields == nullptr) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return nullptr;
        }
        PyErr_Clear();
        result = Py_NewRef(Py_None);
    } else if (!PyDict_Check(fields)) {
        result = Py_NewRef(Py_None);
    } else {
        result = PyList_New(0);
        Py_ssize_t pos = 0;
        PyObject* name;
        PyObject* field;
        while (result != nullptr && PyDict_Next(fields, &pos, &name, &field)) {
            PyObject* kind = PyObject_GetAttr(field, g_std.name_field_type);
            if (kind == nullptr || !PyUnicode_Check(name) ||
                (kind == g_std.dataclass_field && PyList_Append(result, name) < 0)) {
                if (kind != nullptr && !PyUnicode_Check(name)) {
                    PyErr_SetString(PyExc_TypeError, "a dataclass field name is not a str");
                }
                Py_XDECREF(kind);
                Py_CLEAR(result);
                break;
            }
            Py_DECREF(kind);
        }
        if (result != nullptr) {
            Py_SETREF(result, PyList_AsTuple(result));
        }
    }
    Py_XDECREF(fields);
    if (result == nullptr) {
        return nullptr;
    }
    if (PyDict_GET_SIZE(g_std.dataclass_cache) >= 4096) {
        PyDict_Clear(g_std.dataclass_cache);
    }
    if (PyDict_SetItem(g_std.dataclass_cache, key, result) < 0) {
        Py_CLEAR(result);
    }
    return result;
}

class json_writer {
  public:
    json_writer(std::string& out, PyObject* default_fn, bool scratch = false)
        : _out(out, scratch), _default(default_fn) {}
    size_t written() const noexcept { return _out.written(); }

    bool value(PyObject* obj, int depth) { return item(obj, depth); }

  private:
    // One value. The JSON types are written inline, so that a dict's or list's loop
    // writes its scalars without a call (a call per value into one big recursive
    // function cost more in register saves than the writing); containers and
    // everything else are out of line.
    [[gnu::always_inline]] bool item(PyObject* obj, int depth) {
        int r = json_type<true>(obj, depth);
        if (r >= 0) [[likely]] {
            return r != 0;
        }
        return other(obj, depth);
    }

    // The JSON types: 1 written, 0 failed (exception set), -1 not one of them. `exact`:
    // the types themselves, one compare each, and None/True/False (the hot path);
    // otherwise subclasses too (other(), after the standard library types).
    template <bool exact> [[gnu::always_inline]] int json_type(PyObject* obj, int depth) {
        PyTypeObject* t = Py_TYPE(obj);
        if (exact ? t == &PyUnicode_Type : PyUnicode_Check(obj)) {
            return write_str(obj, _out);
        }
        if (exact ? t == &PyLong_Type : PyLong_Check(obj)) { // bool: True/False, never a subclass
            return write_int(obj, _out);
        }
        if (exact ? t == &PyDict_Type : PyDict_Check(obj)) {
            return dict(obj, depth);
        }
        if (exact ? t == &PyList_Type || t == &PyTuple_Type : PyList_Check(obj) || PyTuple_Check(obj)) {
            return sequence(obj, depth);
        }
        if (exact ? t == &PyFloat_Type : PyFloat_Check(obj)) {
            return write_float(obj, _out);
        }
        if constexpr (exact) {
            if (obj == Py_None) {
                _out.append("null", 4);
                return 1;
            }
            if (obj == Py_True) {
                _out.append("true", 4);
                return 1;
            }
            if (obj == Py_False) {
                _out.append("false", 5);
                return 1;
            }
        }
        return -1;
    }

    bool enter(int depth) {
        if (depth >= max_depth) [[unlikely]] {
            PyErr_SetString(PyExc_ValueError, "JSON nesting too deep (over 512 levels, or a reference cycle)");
            return false;
        }
        return true;
    }

    // Containers write every member after a ',' and turn the first ',' into the opening
    // bracket at the end: no "is this the first?" test per member.
    bool close(size_t start, char open, char end) {
        if (_out.written() == start) {
            char* p = _out.room(2);
            p[0] = open;
            p[1] = end;
            _out.advance(2);
        } else {
            _out.at(start) = open;
            _out.push_back(end);
        }
        return true;
    }

    [[gnu::noinline]] bool dict(PyObject* obj, int depth) {
        if (!enter(depth)) {
            return false;
        }
        size_t start = _out.written();
        Py_ssize_t pos = 0;
        PyObject* key;
        PyObject* val;
        while (PyDict_Next(obj, &pos, &key, &val)) {
            if (Py_TYPE(key) == &PyUnicode_Type && PyUnicode_IS_COMPACT_ASCII(key)) [[likely]] {
                write_ascii_data(_out, ascii_data(key), ascii_length(key), ',', ':');
            } else {
                _out.push_back(',');
                if (!write_key(key)) {
                    return false;
                }
                _out.push_back(':');
            }
            if (!item(val, depth + 1)) {
                return false;
            }
        }
        return close(start, '{', '}');
    }

    [[gnu::noinline]] bool sequence(PyObject* obj, int depth) {
        if (!enter(depth)) {
            return false;
        }
        size_t start = _out.written();
        // Size and items re-read each time: a `default` callable run for a member may
        // change a list (and move its items) while it is written.
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(obj); ++i) {
            _out.push_back(',');
            if (!item(PySequence_Fast_GET_ITEM(obj, i), depth + 1)) {
                return false;
            }
        }
        return close(start, '[', ']');
    }

    bool write_key(PyObject* key) {
        if (PyUnicode_Check(key)) {
            return write_str(key, _out);
        }
        // json.dumps turns these keys into strings; so do we.
        if (key == Py_True || key == Py_False || key == Py_None) {
            const char* text = key == Py_True ? "\"true\"" : key == Py_False ? "\"false\"" : "\"null\"";
            _out.append(text, std::strlen(text));
            return true;
        }
        if (PyLong_Check(key) || PyFloat_Check(key)) {
            _out.push_back('"');
            bool ok = PyLong_Check(key) ? write_int(key, _out) : write_float(key, _out);
            _out.push_back('"');
            return ok;
        }
        PyErr_Format(PyExc_TypeError, "keys must be str, int, float, bool or None, not %.100s", Py_TYPE(key)->tp_name);
        return false;
    }

    bool dataclass(PyObject* obj, PyObject* names, int depth) {
        if (!enter(depth)) {
            return false;
        }
        _out.push_back('{');
        Py_ssize_t n = PyTuple_GET_SIZE(names);
        for (Py_ssize_t i = 0; i < n; ++i) {
            if (i != 0) {
                _out.push_back(',');
            }
            PyObject* name = PyTuple_GET_ITEM(names, i);
            if (!write_str(name, _out)) {
                return false;
            }
            _out.push_back(':');
            PyObject* field = PyObject_GetAttr(obj, name);
            bool ok = field != nullptr && value(field, depth + 1);
            Py_XDECREF(field);
            if (!ok) {
                return false;
            }
        }
        _out.push_back('}');
        return true;
    }

    // Everything that is not exactly a JSON type: the standard library types the
    // writer knows, subclasses of the JSON types, dataclasses, then `default`.
    [[gnu::noinline]] bool other(PyObject* obj, int depth) {
        if (std::string_view raw; raw_json_view(obj, raw)) { // JSON text already (checked when made)
            _out.append(raw.data(), raw.size());
            return true;
        }
        if (!load_stdlib_types()) {
            return false;
        }
        PyTypeObject* t = Py_TYPE(obj);
        if (PyDateTime_CheckExact(obj)) {
            return write_datetime(obj, _out);
        }
        if (PyDate_CheckExact(obj)) {
            return write_date(obj, _out);
        }
        if (PyTime_CheckExact(obj)) {
            return write_time(obj, _out);
        }
        if (PyType_IsSubtype(t, g_std.uuid)) {
            return write_uuid(obj, _out);
        }
        if (PyType_IsSubtype(t, g_std.enum_base)) {
            // An Enum member is its value (IntEnum, StrEnum and mixins included).
            if (!enter(depth)) {
                return false;
            }
            PyObject* v = PyObject_GetAttr(obj, g_std.name_value);
            bool ok = v != nullptr && value(v, depth + 1);
            Py_XDECREF(v);
            return ok;
        }
        if (int r = json_type<false>(obj, depth); r >= 0) { // subclasses of the JSON types
            return r != 0;
        }
        if (PyObject_TypeCheck(obj, g_std.decimal)) {
            return write_decimal(obj, _out);
        }
        if (PyDate_Check(obj) || PyTime_Check(obj)) { // subclasses: their own isoformat()
            PyObject* s = PyObject_CallMethodNoArgs(obj, g_std.name_isoformat);
            bool ok =
                s != nullptr &&
                (PyUnicode_Check(s) || (PyErr_Format(PyExc_TypeError, "%.100s.isoformat() returned %.100s, not str",
                                                     t->tp_name, Py_TYPE(s)->tp_name),
                                        false)) &&
                write_str(s, _out);
            Py_XDECREF(s);
            return ok;
        }
        if (!PyType_Check(obj)) {
            PyObject* names = dataclass_fields(t);
            if (names == nullptr) {
                return false;
            }
            bool is_dataclass = names != Py_None;
            bool ok = is_dataclass && dataclass(obj, names, depth);
            Py_DECREF(names);
            if (is_dataclass) {
                return ok;
            }
        }
        if (_default != nullptr) {
            if (!enter(depth)) {
                return false;
            }
            if (_default_nesting >= max_default_nesting) {
                PyErr_Format(PyExc_TypeError,
                             "Object of type %.100s is not JSON serializable (the default function returned values "
                             "needing it again %d times)",
                             t->tp_name, max_default_nesting);
                return false;
            }
            PyObject* v = PyObject_CallOneArg(_default, obj);
            if (v == nullptr) {
                return false;
            }
            ++_default_nesting;
            bool ok = value(v, depth + 1);
            --_default_nesting;
            Py_DECREF(v);
            return ok;
        }
        PyErr_Format(PyExc_TypeError, "Object of type %.100s is not JSON serializable", t->tp_name);
        return false;
    }

    json_sink _out;
    PyObject* _default;
    int _default_nesting = 0;
};

thread_local PyObject* tl_json_default = nullptr;

} // namespace

bool write_json(PyObject* obj, std::string& out) {
    return json_writer(out, tl_json_default).value(obj, 0);
}

bool write_json(PyObject* obj, std::string& out, PyObject* default_fn) {
    return json_writer(out, default_fn).value(obj, 0);
}

json_default_scope::json_default_scope(PyObject* default_fn) noexcept : _previous(tl_json_default) {
    tl_json_default = default_fn;
}

json_default_scope::~json_default_scope() {
    tl_json_default = _previous;
}

PyObject* json_dumps(PyObject* /*module*/, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* obj = nargs >= 1 ? args[0] : nullptr;
    PyObject* default_fn = nargs >= 2 ? args[1] : nullptr;
    Py_ssize_t nkw = kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 2 || nargs < 1) [[unlikely]] {
        if (nargs == 0 && nkw == 0) {
            PyErr_SetString(PyExc_TypeError, "json_dumps() missing required argument 'obj'");
            return nullptr;
        }
    }
    for (Py_ssize_t i = 0; i < nkw; ++i) {
        PyObject* name = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(name, "default") == 0 && default_fn == nullptr) {
            default_fn = args[nargs + i];
        } else if (PyUnicode_CompareWithASCIIString(name, "obj") == 0 && obj == nullptr) {
            obj = args[nargs + i];
        } else {
            PyErr_Format(PyExc_TypeError, "json_dumps() got an unexpected keyword argument %R", name);
            return nullptr;
        }
    }
    if (obj == nullptr || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "json_dumps(obj, default=None) takes one object");
        return nullptr;
    }
    if (default_fn == Py_None) {
        default_fn = nullptr;
    }
    if (default_fn != nullptr && !PyCallable_Check(default_fn)) {
        PyErr_Format(PyExc_TypeError, "default must be callable, not %.100s", Py_TYPE(default_fn)->tp_name);
        return nullptr;
    }
    // One buffer per thread, reused (a default that calls json_dumps gets its own).
    thread_local std::string buffer;
    thread_local bool in_use = false;
    std::string local;
    std::string& out = in_use ? local : buffer;
    bool owner = !in_use;
    in_use = true;
    PyObject* result = nullptr;
    {
        json_writer writer(out, default_fn != nullptr ? default_fn : tl_json_default, true);
        if (writer.value(obj, 0)) {
            result = PyBytes_FromStringAndSize(out.data(), static_cast<Py_ssize_t>(writer.written()));
        }
    }
    if (owner) {
        in_use = false;
        if (buffer.size() > (1u << 20)) {
            std::string().swap(buffer); // a one-off huge document does not stay allocated
        }
    }
    return result;
}

} // namespace ringbolt::py
