// http/body_encoder: whole and streamed bodies decode back to the input with the
// reference decoders; each flushed piece of a stream is decodable on its own arrival.
#include "http/body_encoder.hpp"

#include <brotli/decode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>
#include <string>

using namespace ringbolt::http;

namespace {

// Incremental decoders: feed() returns what the bytes so far decode to.
class decoder {
  public:
    explicit decoder(content_coding c) : _c(c) {
        if (c == content_coding::gzip) {
            inflateInit2(&_zs, 15 + 16);
        } else if (c == content_coding::zstd) {
            _zd = ZSTD_createDStream();
        } else {
            _br = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
        }
    }
    ~decoder() {
        if (_c == content_coding::gzip) {
            inflateEnd(&_zs);
        } else if (_c == content_coding::zstd) {
            ZSTD_freeDStream(_zd);
        } else {
            BrotliDecoderDestroyInstance(_br);
        }
    }
    std::string feed(std::string_view in) {
        std::string out;
        char buf[65536];
        if (_c == content_coding::gzip) {
            _zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
            _zs.avail_in = static_cast<uInt>(in.size());
            do {
                _zs.next_out = reinterpret_cast<Bytef*>(buf);
                _zs.avail_out = sizeof(buf);
                int rc = inflate(&_zs, Z_SYNC_FLUSH);
                EXPECT_TRUE(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR) << rc;
                out.append(buf, sizeof(buf) - _zs.avail_out);
                if (rc == Z_STREAM_END || rc == Z_BUF_ERROR) {
                    break;
                }
            } while (_zs.avail_in > 0 || _zs.avail_out == 0);
        } else if (_c == content_coding::zstd) {
            ZSTD_inBuffer src{in.data(), in.size(), 0};
            while (true) {
                ZSTD_outBuffer dst{buf, sizeof(buf), 0};
                size_t rc = ZSTD_decompressStream(_zd, &dst, &src);
                EXPECT_FALSE(ZSTD_isError(rc));
                out.append(buf, dst.pos);
                if (ZSTD_isError(rc) || (src.pos == src.size && dst.pos < dst.size)) {
                    break;
                }
            }
        } else {
            const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
            size_t avail_in = in.size();
            while (true) {
                uint8_t* next_out = reinterpret_cast<uint8_t*>(buf);
                size_t avail_out = sizeof(buf);
                BrotliDecoderResult r =
                    BrotliDecoderDecompressStream(_br, &avail_in, &next_in, &avail_out, &next_out, nullptr);
                EXPECT_NE(r, BROTLI_DECODER_RESULT_ERROR);
                out.append(buf, sizeof(buf) - avail_out);
                if (r != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT && BrotliDecoderHasMoreOutput(_br) == BROTLI_FALSE) {
                    break;
                }
            }
        }
        return out;
    }

  private:
    content_coding _c;
    z_stream _zs{};
    ZSTD_DStream* _zd = nullptr;
    BrotliDecoderState* _br = nullptr;
};

std::string sample_json(size_t n) {
    std::string s = "[";
    for (size_t i = 0; s.size() < n; ++i) {
        s += R"({"id":)" + std::to_string(i) + R"(,"name":"user )" + std::to_string(i * 7919 % 1000) +
             R"(","active":true},)";
    }
    s.back() = ']';
    return s;
}

class BodyEncoder : public ::testing::TestWithParam<content_coding> {};

TEST_P(BodyEncoder, WholeBodiesRoundTrip) {
    content_coding c = GetParam();
    for (size_t n : {0, 1, 100, 2048, 100 * 1024, 1 << 20}) {
        std::string in = sample_json(n);
        std::string out;
        ASSERT_TRUE(compress_whole(c, default_level(c), in, out));
        if (n >= 2048) {
            EXPECT_LT(out.size(), in.size() / 3) << n; // JSON compresses well
        }
        decoder d(c);
        EXPECT_TRUE(d.feed(out) == in) << n; // (no dump of megabytes on failure)
    }
    // The per-thread context is reused across levels and calls.
    std::string in = sample_json(4096);
    for (int level : {1, default_level(c), 9}) {
        std::string out;
        ASSERT_TRUE(compress_whole(c, level, in, out));
        decoder d(c);
        EXPECT_EQ(d.feed(out), in);
    }
}

TEST_P(BodyEncoder, AutomaticLevelsRoundTripAtEverySize) {
    // The tiny-body modes (ringbolt's own encoders) and the small/large contexts (gzip keeps
    // one zlib stream for bodies up to 16 KiB and one for larger ones) alternating.
    content_coding c = GetParam();
    for (int pass = 0; pass < 2; ++pass) {
        for (uint64_t n : std::initializer_list<uint64_t>{1, 100, 1024, 2055, tiny_body - 1, tiny_body, 16 * 1024,
                                                          16 * 1024 + 1, 100 * 1024}) {
            std::string in = sample_json(n);
            std::string out;
            int level = n < 64 * 1024 ? fast_level(c, n) : default_level(c);
            ASSERT_TRUE(compress_whole(c, level, in, out)) << n;
            if (n >= 1024) {
                EXPECT_LT(out.size(), in.size() / 2) << n;
            }
            decoder d(c);
            EXPECT_TRUE(d.feed(out) == in) << n;
        }
    }
}

TEST_P(BodyEncoder, EachFlushedPieceDecodesOnArrival) {
    content_coding c = GetParam();
    auto enc = make_body_encoder(c, default_level(c));
    ASSERT_NE(enc, nullptr);
    decoder d(c);
    std::string all;
    for (int i = 0; i < 50; ++i) {
        std::string piece = "data: event " + std::to_string(i) + " " + std::string(i * 37 % 300, 'x') + "\n\n";
        std::string out;
        ASSERT_TRUE(enc->write(piece, false, out));
        EXPECT_FALSE(out.empty());
        EXPECT_EQ(d.feed(out), piece) << i; // decodable now, not at the end
        all += piece;
    }
    std::string big = sample_json(3 << 20); // larger than the window and every buffer
    std::string out;
    ASSERT_TRUE(enc->write(big, false, out));
    EXPECT_TRUE(d.feed(out) == big);
    std::string tail;
    ASSERT_TRUE(enc->write({}, true, tail));
    EXPECT_EQ(d.feed(tail), "");
}

TEST_P(BodyEncoder, FinishWithData) {
    content_coding c = GetParam();
    auto enc = make_body_encoder(c, default_level(c));
    std::string out;
    ASSERT_TRUE(enc->write("hello ", false, out));
    ASSERT_TRUE(enc->write("world", true, out));
    decoder d(c);
    EXPECT_EQ(d.feed(out), "hello world");
}

INSTANTIATE_TEST_SUITE_P(Codings, BodyEncoder,
                         ::testing::Values(content_coding::zstd, content_coding::br, content_coding::gzip));

TEST(BodyEncoderLevels, Ranges) {
    EXPECT_TRUE(level_in_range(content_coding::zstd, 19));
    EXPECT_FALSE(level_in_range(content_coding::zstd, 20));
    EXPECT_TRUE(level_in_range(content_coding::br, 0));
    EXPECT_FALSE(level_in_range(content_coding::gzip, 0));
    EXPECT_FALSE(level_in_range(content_coding::identity, 1));
    EXPECT_EQ(make_body_encoder(content_coding::identity, 1), nullptr);
}

} // namespace
