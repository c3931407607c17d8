// A zstd encoder for tiny whole bodies (under http::tiny_body, 32 KiB): the greedy LZ77
// of http/tiny_lz.hpp written as one zstd frame (RFC 8878) with a single compressed
// block whose literals are stored raw and whose sequences use the predefined FSE
// distributions, so nothing is counted, normalized or described per body.
//
// Why: libzstd's cheapest mode (level -1, which also leaves literals raw) costs about
// 3.2 us on a 2 KB JSON body, 1 us of it fixed per frame (resetting and sizing the
// context, clearing its tables, choosing encodings). The output decodes with any zstd
// decoder and is about the size of level -1's; a body it would shrink by less than a
// quarter goes to libzstd instead (tiny_zstd_worthwhile).
#pragma once

#include <cstddef>
#include <string_view>

namespace ringbolt::http {

/// Inputs longer than this are refused (tiny_zstd returns 0).
inline constexpr size_t tiny_zstd_max_input = 32 * 1024;

/// Room `out` needs for an input of `n` bytes (a sequence can cost more than the 4 bytes
/// it saves, so the bound is loose).
constexpr size_t tiny_zstd_bound(size_t n) noexcept {
    return 2 * n + 64;
}

/// Compress `in` into `out` (at least tiny_zstd_bound(in.size()) bytes) as one zstd
/// frame (single segment, content size given, no checksum). Returns its size, 0 when
/// `in` is longer than tiny_zstd_max_input.
size_t tiny_zstd(std::string_view in, char* out) noexcept;

/// Whether a tiny_zstd output of `out_size` bytes for `in_size` bytes is worth sending
/// rather than compressing again with libzstd.
constexpr bool tiny_zstd_worthwhile(size_t in_size, size_t out_size) noexcept {
    return out_size * 4 <= in_size * 3;
}

} // namespace ringbolt::http
