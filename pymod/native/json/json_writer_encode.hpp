// The JSON writer's output and the encoding its hot path inlines: json_sink (a string
// grown ahead), short ASCII strings a word at a time, and the entry points of the string
// and number encoders (json_writer_encode.cpp). Internal to the writer's files.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "core/large_buffers.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>

namespace ringbolt::py::json_detail {

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
        Py_XDECREF(_bytes);
    }
    size_t written() const noexcept { return static_cast<size_t>(_cur - _begin); }
    /// A scratch sink that moves into a bytes object once it holds `at` bytes (json_dumps:
    /// a large document is written into the object it returns, not copied there after),
    /// first sized `hint` when that is more than growing asks (the caller's last large
    /// document: an answer of about the same size is written without a realloc).
    void spill_into_bytes(size_t at, size_t hint) noexcept {
        _spill_at = at;
        _spill_hint = hint;
    }
    /// The bytes object written into, its size what was written (a new reference; the
    /// sink no longer writes there), or nullptr when nothing spilled or trimming failed
    /// (MemoryError set then: spilled() says which). Room left over of up to an eighth
    /// stays allocated: a bytes object's size is its own (ob_size), what the allocator
    /// frees is the block, and answers of one size then come back in blocks of one size
    /// that the next one fits (trimmed, each left a hole a hint-sized block did not fit:
    /// 80-170 page faults an answer of 1 MB at 64 connections, 18-49 untrimmed).
    bool spilled() const noexcept { return _bytes != nullptr; }
    PyObject* take_bytes() noexcept {
        PyObject* b = _bytes;
        _bytes = nullptr;
        auto n = static_cast<Py_ssize_t>(written());
        Py_ssize_t room = b != nullptr ? PyBytes_GET_SIZE(b) : 0;
        if (b == nullptr || room == n) {
            return b;
        }
        if (room - n <= room / 8) {
            Py_SET_SIZE(b, n);
            PyBytes_AS_STRING(b)[n] = '\0';
            return b;
        }
        if (_PyBytes_Resize(&b, n) < 0) {
            return nullptr; // b freed by _PyBytes_Resize
        }
        return b;
    }
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
    // Doubles, within the string's capacity first (no new allocation while it has room).
    // Past core::large_buffers::min_capacity an answer's body (not a scratch buffer) moves
    // to a buffer kept from an earlier large answer: its pages are mapped already, and
    // its size says how much of it needs no zeroing (an answer of about the same size
    // as the last one resizes it by little or nothing).
    [[gnu::noinline]] void grow(size_t n) {
        size_t pos = written();
        size_t need = pos + n + 64;
        if (_bytes != nullptr || (_spill_at != 0 && need >= _spill_at)) {
            grow_bytes(pos, need);
            return;
        }
        size_t want = std::max(_s.size() * 2, need);
        if (!_scratch && need >= core::large_buffers::min_capacity && _s.capacity() < need) {
            std::string kept;
            if (core::large_buffers::take(kept, want)) {
                if (kept.size() < pos) {
                    kept.resize(pos);
                }
                std::memcpy(kept.data(), _begin, pos);
                _s.swap(kept);
                want = std::max(need, _s.size());
            }
        }
        if (want > _s.capacity() && need <= _s.capacity()) {
            want = _s.capacity();
        }
        if (want > _s.size()) {
            _s.resize(want);
        }
        _begin = _s.data();
        _cur = _begin + pos;
        _end = _begin + _s.size();
    }

    // Into the bytes object (made on the first call, from the string's bytes so far):
    // doubled, or the hint when larger. A bytes object that cannot grow is a
    // MemoryError (std::bad_alloc, as a string's; json_dumps turns it into that).
    void grow_bytes(size_t pos, size_t need) {
        size_t want = std::max({need, (_bytes != nullptr ? static_cast<size_t>(PyBytes_GET_SIZE(_bytes)) : pos) * 2,
                                _bytes == nullptr ? _spill_hint : size_t{0}});
        if (want > static_cast<size_t>(PY_SSIZE_T_MAX)) {
            throw std::bad_alloc();
        }
        if (_bytes == nullptr) {
            PyObject* b = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(want));
            if (b == nullptr) {
                PyErr_Clear();
                throw std::bad_alloc();
            }
            std::memcpy(PyBytes_AS_STRING(b), _begin, pos);
            _bytes = b;
        } else if (_PyBytes_Resize(&_bytes, static_cast<Py_ssize_t>(want)) < 0) {
            PyErr_Clear(); // _bytes is freed and null
            throw std::bad_alloc();
        }
        _begin = PyBytes_AS_STRING(_bytes);
        _cur = _begin + pos;
        _end = _begin + want;
    }

    std::string& _s;
    char* _begin;
    char* _cur;
    char* _end;
    bool _scratch;
    size_t _spill_at = 0;
    size_t _spill_hint = 0;
    PyObject* _bytes = nullptr; ///< spill_into_bytes: where the document is written once it spilled
};

// Eight ASCII bytes (each under 0x80) at a time: true when none needs an escape (no
// control byte, '"' or '\\'), in fewer steps than word_is_plain (json_writer_encode.cpp)
// takes for any bytes: adding to a byte under 0x80 never carries into the next, so
// "b + 0x7F has its high bit" means b != 0 and "b + 0x60 has it" means b >= 0x20.
inline bool ascii_word_is_plain(uint64_t w) {
    constexpr uint64_t ones = 0x0101010101010101ULL;
    constexpr uint64_t highs = 0x8080808080808080ULL;
    uint64_t not_control = w + ones * 0x60;
    uint64_t not_quote = (w ^ (ones * '"')) + ones * 0x7F;
    uint64_t not_backslash = (w ^ (ones * '\\')) + ones * 0x7F;
    return (not_control & not_quote & not_backslash & highs) == highs;
}

// `prefix`/`suffix`: a byte written before the opening quote / after the closing one in
// the same reservation (a dict's ',' and ':' around a key), or 0.
void write_escaped(json_sink& out, const char* s, size_t n, char prefix = 0, char suffix = 0);

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

// A str that is not compact ASCII: its UTF-8 form (cached in the object after the first
// call), escaped.
// `as_pydantic`: a str with lone surrogates is refused (ValueError), as pydantic's writer
// refuses it, instead of written as \uXXXX escapes.
[[gnu::noinline]] bool write_str_utf8(PyObject* obj, json_sink& out, bool as_pydantic = false);

// Inline where a value is dispatched: most strings are short ASCII ones.
[[gnu::always_inline]] inline bool write_str(PyObject* obj, json_sink& out, bool as_pydantic = false) {
    if (PyUnicode_IS_COMPACT_ASCII(obj)) [[likely]] {
        write_ascii_data(out, ascii_data(obj), ascii_length(obj));
        return true;
    }
    return write_str_utf8(obj, out, as_pydantic);
}

/// A float (NaN and infinities refused: ValueError) as repr writes it, or with
/// `as_pydantic` as pydantic's JSON writer does: the same shortest digits, positional from
/// 1e-5 (repr: from 1e-4) to 1e16, the exponent beyond without padding (1e-7, 1e+16;
/// repr: 1e-07, 1e+16).
bool write_float(PyObject* obj, json_sink& out, bool as_pydantic = false);
/// Whether the installed pydantic writes a positive exponent with its sign (1e+16, newer
/// pydantic-core) or without (1e16); set by model_plan.py from pydantic's own answer.
extern bool pydantic_exponent_plus;
/// An int (a subclass too) as int's own repr writes it.
bool write_int(PyObject* obj, json_sink& out);

// Two decimal digits per entry, "00" to "99".
constexpr std::array<char, 200> make_two_digits() {
    std::array<char, 200> t{};
    for (int i = 0; i < 100; ++i) {
        t[2 * i] = static_cast<char>('0' + i / 10);
        t[2 * i + 1] = static_cast<char>('0' + i % 10);
    }
    return t;
}
inline constexpr auto two_digits = make_two_digits();

} // namespace ringbolt::py::json_detail
