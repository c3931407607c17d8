// Response body compression: zstd (libzstd), br (libbrotli) and gzip (zlib). Whole
// bodies are compressed in one call with a context kept per thread (no allocation per
// response); streamed bodies get their own encoder that flushes after every piece, so
// a client can decode each piece as soon as it arrives.
#pragma once

#include "core/output_queue.hpp"
#include "http/accept_encoding.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace ringbolt::http {

/// Default and accepted levels per coding: zstd 1..19 (3), br 0..11 (4), gzip 1..9 (6).
int default_level(content_coding c) noexcept;
/// Whole bodies below this size are tiny: with an automatic level they get each codec's
/// cheapest mode, ringbolt's own one-pass encoders (tiny_zstd_level, tiny_br_level,
/// tiny_gzip_level, below), which take inputs up to 32 KiB (tiny_max_input). The rule
/// (docs/middleware-native.md, "Compression"): the mode with the least CPU per byte saved, unless a
/// costlier one saves each extra byte for under 8 ns (a byte's time on a 1 Gbit/s link).
/// On HttpArena's json-comp bodies (4.2-8.4 KB; benchmarks/micro/content_coding_bench)
/// the tiny gzip mode costs 1.5-1.6 ns per input byte for a ratio of 0.26-0.30, zlib
/// level 1 4.9-8.5 ns for 0.23-0.27 (each extra byte saved: 21-97 ns), libbrotli quality
/// 2 5.1-6.6 ns for 0.18-0.23 (37-46 ns), libzstd level 1 2.5-3.2 ns for 0.19-0.23
/// (about 21 ns): none is worth it below 32 KiB.
inline constexpr uint64_t tiny_body = 32 * 1024;

/// Among codings a client weighs equally, the order for tiny whole bodies with automatic
/// levels (lower first): the tiny gzip mode is the cheapest per byte saved and also the
/// smallest output (json-comp bodies: 1.5-1.6 ns per byte, ratio 0.26-0.30; tiny br
/// 1.6-2.3 ns, 0.29-0.33; tiny zstd 2.1-2.3 ns, 0.28-0.32).
constexpr int small_body_rank(content_coding c) noexcept {
    switch (c) {
    case content_coding::gzip:
        return 0;
    case content_coding::br:
        return 1;
    case content_coding::zstd:
        return 2;
    case content_coding::identity:
        break;
    }
    return 3;
}

/// gzip's automatic tiny-body mode, given as its level: ringbolt's one-pass encoder with
/// fixed Huffman codes (http/tiny_gzip.cpp), 1.9 us on a 2 KB JSON body against zlib
/// level 1's 6.4 us, for 462 bytes of output against 364. A body it would shrink by less
/// than a quarter goes through zlib level 1 instead. Streams never use it.
inline constexpr int tiny_gzip_level = 0;
/// zstd's automatic tiny-body mode, given as its level: ringbolt's one-pass encoder with
/// raw literals and the predefined sequence codes (http/tiny_zstd.cpp), 2.3 us on a 2 KB
/// JSON body against libzstd level -1's 3.2 us, for 493 bytes of output against 358. A
/// body it would shrink by less than a quarter goes through libzstd level -1 instead.
/// Streams never use it.
inline constexpr int tiny_zstd_level = 0;
/// br's automatic tiny-body mode, given as its level: ringbolt's one-pass encoder with
/// uniform prefix codes (http/tiny_br.cpp), 1.7 us on a 2 KB JSON body against
/// libbrotli quality 0's 4.3 us, for 517 bytes of output against 505. A body it would
/// shrink by less than a quarter goes through libbrotli quality 0 instead. Streams
/// never use it.
inline constexpr int tiny_br_level = -1;

/// Whether a tiny-body encoder's output of `out_size` bytes for `in_size` bytes is worth
/// sending: it is at most three quarters of the body. Otherwise the library compresses
/// the body again with codes fitted to it, where the tiny encoders' are fixed in advance:
/// text whose bytes are mostly over 0x8F (UTF-8 letters get 9-bit fixed codes in gzip),
/// text whose literals gain from real Huffman codes, data that barely compresses.
constexpr bool tiny_output_worthwhile(size_t in_size, size_t out_size) noexcept {
    return out_size * 4 <= in_size * 3;
}

/// The level for a body of `size` bytes below the large-body threshold when none was
/// chosen (0: a streamed piece): under tiny_body zstd tiny_zstd_level, br tiny_br_level,
/// gzip tiny_gzip_level; otherwise zstd 3, br 1, gzip 1 (on a 48 KB JSON body br 1
/// costs 2.9 ns per byte for a ratio of 0.114, br 2 8.6 ns for 0.104: each extra byte
/// saved would cost about 580 ns).
int fast_level(content_coding c, uint64_t size) noexcept;
/// Levels a caller may choose: zstd 1..19, br 0..11, gzip 1..9 (the automatic tiny-body
/// levels, tiny_zstd_level, tiny_br_level and tiny_gzip_level, are not among them).
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

// A compressed piece's send credit: the producer counts the bytes it gave, the queue
// the (fewer) coded bytes it sent; this maps one onto the other so flow control holds.
class coded_credit final : public core::send_credit {
  public:
    coded_credit(std::shared_ptr<core::send_credit> inner, size_t in, size_t out) noexcept
        : _inner(std::move(inner)), _in(in), _out(out) {}
    void on_sent(size_t bytes) noexcept override {
        _sent += bytes;
        size_t due = _sent >= _out ? _in : static_cast<size_t>(static_cast<unsigned __int128>(_in) * _sent / _out);
        if (due > _given) {
            _inner->on_sent(due - _given);
            _given = due;
        }
    }

  private:
    std::shared_ptr<core::send_credit> _inner;
    size_t _in;
    size_t _out;
    size_t _sent = 0;
    size_t _given = 0;
};

} // namespace ringbolt::http
