// A brotli encoder for tiny whole bodies (under http::tiny_body, 32 KiB): the greedy
// LZ77 of http/tiny_gzip, written as one brotli meta-block (RFC 7932) whose three prefix
// codes are uniform (every literal 8 bits, every insert-and-copy command 9 bits, every
// distance symbol 6 bits), so no histogram is counted and no tree is built per body;
// the code descriptions take 15 bytes at the head of the stream.
//
// Why: libbrotli 1.0.9's cheapest mode (quality 0) costs about 4.3 us on a 2 KB JSON
// body, 1.4 us of it fixed per stream (an encoder instance per body, as the library has
// no reset, and the Huffman trees it builds for each meta-block). Its output decodes
// with any brotli decoder; on JSON it is about the size of quality 0's (whose literal
// codes are adaptive but whose matcher is cruder). Text whose literals would gain from
// real Huffman codes goes to libbrotli instead (tiny_br_worthwhile).
#pragma once

#include <cstddef>
#include <string_view>

namespace ringbolt::http {

/// Inputs longer than this are refused (tiny_br returns 0).
inline constexpr size_t tiny_br_max_input = 32 * 1024;

/// Room `out` needs for an input of `n` bytes.
constexpr size_t tiny_br_bound(size_t n) noexcept {
    return n + n / 8 + 64;
}

/// Compress `in` into `out` (at least tiny_br_bound(in.size()) bytes) as one brotli
/// stream (window 64 KiB). Returns its size, 0 when `in` is longer than tiny_br_max_input.
size_t tiny_br(std::string_view in, char* out) noexcept;

/// Whether a tiny_br output of `out_size` bytes for `in_size` bytes is worth sending
/// rather than compressing again with libbrotli, whose literal codes adapt to the text.
constexpr bool tiny_br_worthwhile(size_t in_size, size_t out_size) noexcept {
    return out_size * 4 <= in_size * 3;
}

} // namespace ringbolt::http
