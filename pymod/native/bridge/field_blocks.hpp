// Blocks of response header fields kept for the process's lifetime: a block that recurs
// (a framework's Content-Type line and the like) goes to the wire from the kept copy
// through response_head::static_fields, instead of a new string per response.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ringbolt::py {

/// Field blocks kept for reuse. Only under the GIL (WSGI's pool threads and the bridge,
/// one at a time); a free-threaded build keeps none. A block is kept the second time it is seen (a block
/// seen once, such as one carrying a per-response cookie or id, takes no room), at most
/// `max_blocks` of at most `max_size` bytes, never freed or replaced: the reactors read
/// them through response_head::static_fields after the GIL is gone. (The table has no
/// destructor to run at exit either.)
class field_blocks {
  public:
    static constexpr size_t max_blocks = 64;
    static constexpr size_t max_size = 512;

    /// The kept copy of `block`, or an empty view (not kept: build the fields).
    std::string_view find(std::string_view block) noexcept {
#ifdef Py_GIL_DISABLED
        (void)block;
        return {};
#else
        uint64_t h = hash(block);
        for (size_t i = 0; i < table_size; ++i) {
            slot& s = _table[(h + i) & (table_size - 1)];
            if (s.block == nullptr) {
                keep_if_seen(block, h, s);
                return {};
            }
            if (s.hash == h && *s.block == block) {
                return *s.block;
            }
        }
        return {};
#endif
    }

  private:
    static constexpr size_t table_size = 2 * max_blocks; ///< a power of two
    static constexpr size_t seen_size = 256;             ///< a power of two

    struct slot {
        uint64_t hash = 0;
        const std::string* block = nullptr;
    };

    /// Eight bytes at a time (a multiply and a rotate each), the tail padded with zeros.
    static uint64_t hash(std::string_view s) noexcept {
        uint64_t h = 0x9e3779b97f4a7c15ull ^ s.size();
        size_t i = 0;
        for (; i + 8 <= s.size(); i += 8) {
            uint64_t w;
            std::memcpy(&w, s.data() + i, 8);
            h = (h ^ w) * 0xff51afd7ed558ccdull;
            h ^= h >> 32;
        }
        uint64_t tail = 0;
        std::memcpy(&tail, s.data() + i, s.size() - i);
        h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
        return h ^ (h >> 29);
    }

    void keep_if_seen(std::string_view block, uint64_t h, slot& empty) {
        uint64_t& seen = _seen[h & (seen_size - 1)];
        if (seen != h) {
            seen = h; // first sighting (or another block's slot): remember, keep nothing
            return;
        }
        if (_kept >= max_blocks || block.size() > max_size) {
            return;
        }
        // Never deleted, not even at exit: a reactor may still be framing from it.
        empty.block = new const std::string(block);
        ++_kept;
        empty.hash = h;
    }

    slot _table[table_size];
    uint64_t _seen[seen_size] = {};
    size_t _kept = 0;
};

/// The one table: WSGI's heads (wsgi_answer.cpp) and the bridge's (build_head).
inline field_blocks kept_field_blocks;

} // namespace ringbolt::py
