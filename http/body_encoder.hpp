// Response body compression: zstd (libzstd), br (libbrotli) and gzip (zlib). Whole
// bodies are compressed in one call with a context kept per thread (no allocation per
// response); streamed bodies get their own encoder that flushes after every piece, so
// a client can decode each piece as soon as it arrives.
#pragma once

#include "http/accept_encoding.hpp"
#include "http/output_queue.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace ringbolt::http {

/// Default and accepted levels per coding: zstd 1..19 (3), br 0..11 (4), gzip 1..9 (6).
int default_level(content_coding c) noexcept;
/// Whole bodies below this size are tiny: with an automatic level they get each codec's
/// cheapest mode, ringbolt's own one-pass encoders (tiny_zstd_level, tiny_br_level,
/// tiny_gzip_level, below). A tiny body compresses to under 1 KB whatever the mode, one
/// TCP segment either way, so the extra bytes of the fast modes cost no extra packet
/// while the per-body CPU of the codec is most of what compression adds to such a
/// response (benchmarks/micro/small_body_codecs.cpp).
inline constexpr uint64_t tiny_body = 4096;

/// gzip's automatic tiny-body mode, given as its level: ringbolt's one-pass encoder with
/// fixed Huffman codes (http/tiny_gzip.hpp), 1.9 us on a 2 KB JSON body against zlib
/// level 1's 6.4 us, for 462 bytes of output against 364. A body it would shrink by less
/// than a quarter goes through zlib level 1 instead. Streams never use it.
inline constexpr int tiny_gzip_level = 0;
/// zstd's automatic tiny-body mode, given as its level: ringbolt's one-pass encoder with
/// raw literals and the predefined sequence codes (http/tiny_zstd.hpp), 2.3 us on a 2 KB
/// JSON body against libzstd level -1's 3.2 us, for 493 bytes of output against 358. A
/// body it would shrink by less than a quarter goes through libzstd level -1 instead.
/// Streams never use it.
inline constexpr int tiny_zstd_level = 0;
/// br's automatic tiny-body mode, given as its level: ringbolt's one-pass encoder with
/// uniform prefix codes (http/tiny_br.hpp), 1.7 us on a 2 KB JSON body against
/// libbrotli quality 0's 4.3 us, for 517 bytes of output against 505. A body it would
/// shrink by less than a quarter goes through libbrotli quality 0 instead. Streams
/// never use it.
inline constexpr int tiny_br_level = -1;

/// The level for a body of `size` bytes below the large-body threshold when none was
/// chosen (0: a streamed piece): under tiny_body zstd tiny_zstd_level, br tiny_br_level,
/// gzip tiny_gzip_level;
/// otherwise zstd 3, br 2, gzip 1.
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
class coded_credit final : public send_credit {
  public:
    coded_credit(std::shared_ptr<send_credit> inner, size_t in, size_t out) noexcept
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
    std::shared_ptr<send_credit> _inner;
    size_t _in;
    size_t _out;
    size_t _sent = 0;
    size_t _given = 0;
};

} // namespace ringbolt::http
