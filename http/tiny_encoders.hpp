// ringbolt's own encoders for tiny whole bodies (under http::tiny_body, 32 KiB): gzip,
// brotli and zstd, each one greedy LZ77 pass (http/tiny_lz.hpp) written with codes fixed
// in advance, so a body costs no histogram, no tree and no table setup beyond a hash
// table sized to it. Each output is one gzip member (RFC 1952), brotli stream (RFC 7932)
// or zstd frame (RFC 8878) that any decoder reads. Why each beats its library at this
// size, and what it gives up, is told at the top of tiny_gzip.cpp, tiny_br.cpp and
// tiny_zstd.cpp; where the library's codes, fitted to the body, would do clearly better,
// the caller compresses again with it (tiny_output_worthwhile in http/body_encoder.hpp).
#pragma once

#include <cstddef>
#include <string_view>

namespace ringbolt::http {

/// Inputs longer than this are refused (each encoder returns 0): the hash table stores
/// 16-bit positions.
inline constexpr size_t tiny_max_input = 32 * 1024;

/// Room tiny_gzip's `out` needs for an input of `n` bytes (worst case: every byte a 9-bit
/// literal, plus the gzip header, trailer, block end and 8 bytes of slack for the bit
/// writer).
constexpr size_t tiny_gzip_bound(size_t n) noexcept {
    return n + n / 8 + 48;
}

/// Compress `in` into `out` (at least tiny_gzip_bound(in.size()) bytes) as one gzip
/// member, deflate's fixed Huffman codes (RFC 1951 §3.2.6). Returns the member's size, 0
/// when `in` is longer than tiny_max_input.
size_t tiny_gzip(std::string_view in, char* out) noexcept;

/// Room tiny_br's `out` needs for an input of `n` bytes.
constexpr size_t tiny_br_bound(size_t n) noexcept {
    return n + n / 8 + 64;
}

/// Compress `in` into `out` (at least tiny_br_bound(in.size()) bytes) as one brotli
/// stream (window 64 KiB): one meta-block whose three prefix codes are uniform. Returns
/// its size, 0 when `in` is longer than tiny_max_input.
size_t tiny_br(std::string_view in, char* out) noexcept;

/// Room tiny_zstd's `out` needs for an input of `n` bytes (a sequence can cost more than
/// the 4 bytes it saves, so the bound is loose).
constexpr size_t tiny_zstd_bound(size_t n) noexcept {
    return 2 * n + 64;
}

/// Compress `in` into `out` (at least tiny_zstd_bound(in.size()) bytes) as one zstd
/// frame (single segment, content size given, no checksum): raw literals, the predefined
/// sequence codes. Returns its size, 0 when `in` is longer than tiny_max_input.
size_t tiny_zstd(std::string_view in, char* out) noexcept;

} // namespace ringbolt::http
