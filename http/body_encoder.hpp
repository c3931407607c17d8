// Response body compression: zstd (libzstd), br (libbrotli) and gzip (zlib). Whole
// bodies are compressed in one call with a context kept per thread (no allocation per
// response); streamed bodies get their own encoder that flushes after every piece, so
// a client can decode each piece as soon as it arrives.
#pragma once

#include "http/accept_encoding.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace ringbolt::http {

/// Default and accepted levels per coding: zstd 1..19 (3), br 0..11 (4), gzip 1..9 (6).
int default_level(content_coding c) noexcept;
/// Whole bodies over br_partial_prepare and below tiny_body get brotli quality 1 rather
/// than 2 when no level was chosen. libbrotli's quality 2 clears only the hash buckets a
/// one-shot input will use when it is at most 2 KiB, and its whole 256 KiB table above
/// that, which then costs more than the compression: quality 1 (two-pass fast mode)
/// takes about 30% less CPU there, for 3% (2 KB) to 30% (4 KB) more output. At or under
/// 2 KiB quality 2 is as cheap and smaller; from 4 KiB on its output is 20-40% smaller.
/// Figures: BENCHMARKS.md, "Framework: compression".
inline constexpr uint64_t br_partial_prepare = 2048;
inline constexpr uint64_t tiny_body = 4096;

/// The level for a body of `size` bytes below the large-body threshold when none was
/// chosen (0: a streamed piece): zstd 3, gzip 1, br 2 (br 1 over br_partial_prepare and
/// under tiny_body).
int fast_level(content_coding c, uint64_t size) noexcept;
bool level_in_range(content_coding c, int level) noexcept;

/// Compress a whole body into `out` (replaced). False when the library failed (the
/// caller then sends the body uncompressed).
[[nodiscard]] bool compress_whole(content_coding c, int level, std::string_view in, std::string& out);

/// A streamed body's encoder. Memory: its window and match tables while the response
/// lasts (zstd and br streams use a 256 KiB window, gzip zlib's 32 KiB).
class body_encoder {
  public:
    virtual ~body_encoder() = default;
    /// Compress `in` and flush (zstd ZSTD_e_flush, zlib Z_SYNC_FLUSH, brotli
    /// BROTLI_OPERATION_FLUSH): everything given so far is decodable from what was
    /// appended to `out`. `finish`: end the stream instead (its trailer is appended).
    /// False on a library error.
    [[nodiscard]] virtual bool write(std::string_view in, bool finish, std::string& out) = 0;
};

/// A streaming encoder for `c` (not identity); null when the library cannot make one.
std::unique_ptr<body_encoder> make_body_encoder(content_coding c, int level);

} // namespace ringbolt::http
