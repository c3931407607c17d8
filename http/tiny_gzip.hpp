// A gzip encoder for tiny whole bodies (under http::tiny_body, 32 KiB): greedy LZ77 with
// one hash probe per position and deflate's fixed Huffman codes (RFC 1951 §3.2.6), in
// one pass, with no per-call table setup beyond a hash table sized to the body.
//
// Why: on a 2 KB JSON body zlib level 1 (memLevel 4) costs about 6.5 us, most of it
// deflate_fast's per-byte work; libdeflate 1.14 level 1 costs 7.4 us (4.8 us on an
// 85-byte body: it clears a 128 KiB hash table per call). This encoder's output is a
// valid gzip member (RFC 1952) that any inflater decodes to the same bytes; it is larger
// than zlib's on text (fixed codes give every ASCII literal 8 bits), so the caller falls
// back to zlib when it saves too little (tiny_gzip_worthwhile).
#pragma once

#include <cstddef>
#include <string_view>

namespace ringbolt::http {

/// Inputs longer than this are refused (tiny_gzip returns 0): the hash table stores
/// 16-bit positions.
inline constexpr size_t tiny_gzip_max_input = 32 * 1024;

/// Room `out` needs for an input of `n` bytes (worst case: every byte a 9-bit literal,
/// plus the gzip header, trailer, block end and 8 bytes of slack for the bit writer).
constexpr size_t tiny_gzip_bound(size_t n) noexcept {
    return n + n / 8 + 48;
}

/// Compress `in` into `out` (at least tiny_gzip_bound(in.size()) bytes) as one gzip
/// member. Returns the member's size, 0 when `in` is longer than tiny_gzip_max_input.
size_t tiny_gzip(std::string_view in, char* out) noexcept;

/// Whether a tiny_gzip output of `out_size` bytes for `in_size` bytes is worth sending
/// rather than compressing again with zlib (dynamic Huffman codes): text whose bytes
/// are mostly over 0x8F (UTF-8 letters get 9-bit fixed codes) or data that barely
/// compresses is where zlib's own codes win.
constexpr bool tiny_gzip_worthwhile(size_t in_size, size_t out_size) noexcept {
    return out_size * 4 <= in_size * 3;
}

} // namespace ringbolt::http
