// The three tiny-body encoders described for tests/support/tiny_codec_check.hpp, each
// with the real library's decoder: zlib's inflate (one gzip member, nothing after it),
// libbrotlidec, libzstd (whose frame must also state the content size).
#pragma once

#include "http/tiny_encoders.hpp"
#include "tests/support/tiny_codec_check.hpp"

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

namespace ringbolt::test_support {

inline std::string gunzip(std::string_view gz, size_t expect) {
    z_stream zs{};
    if (gz.size() < 18 || inflateInit2(&zs, 16 + 15) != Z_OK) {
        return "<error>";
    }
    std::string out(expect + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    zs.avail_in = static_cast<uInt>(gz.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&zs, Z_FINISH);
    size_t got = out.size() - zs.avail_out;
    bool whole = rc == Z_STREAM_END && zs.avail_in == 0;
    inflateEnd(&zs);
    if (!whole) {
        return "<error>";
    }
    out.resize(got);
    return out;
}

inline std::string unbrotli(std::string_view br, size_t expect) {
    std::string out(expect + 64, '\0');
    size_t n = out.size();
    if (BrotliDecoderDecompress(br.size(), reinterpret_cast<const uint8_t*>(br.data()), &n,
                                reinterpret_cast<uint8_t*>(out.data())) != BROTLI_DECODER_RESULT_SUCCESS) {
        return "<error>";
    }
    out.resize(n);
    return out;
}

inline std::string unzstd(std::string_view z, size_t expect) {
    if (ZSTD_getFrameContentSize(z.data(), z.size()) != expect) {
        return "<error>";
    }
    std::string out(expect + 64, '\0');
    size_t n = ZSTD_decompress(out.data(), out.size(), z.data(), z.size());
    if (ZSTD_isError(n)) {
        return "<error>";
    }
    out.resize(n);
    return out;
}

inline constexpr tiny_codec gzip_codec{http::tiny_gzip, http::tiny_gzip_bound, http::tiny_max_input, gunzip};
inline constexpr tiny_codec br_codec{http::tiny_br, http::tiny_br_bound, http::tiny_max_input, unbrotli};
inline constexpr tiny_codec zstd_codec{http::tiny_zstd, http::tiny_zstd_bound, http::tiny_max_input, unzstd};

} // namespace ringbolt::test_support
