// zstd, brotli and zlib behind one interface: one-shot with per-thread contexts, and
// streaming encoders that flush per piece.
#include "http/body_encoder.hpp"

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

namespace ringbolt::http {

namespace {

constexpr int stream_window_log = 18; // 256 KiB: bounds a streamed response's memory

// --- zstd ---------------------------------------------------------------------------

struct zstd_cctx {
    ZSTD_CCtx* ctx = ZSTD_createCCtx();
    ~zstd_cctx() { ZSTD_freeCCtx(ctx); }
};

bool zstd_whole(int level, std::string_view in, std::string& out) {
    thread_local zstd_cctx cc;
    if (cc.ctx == nullptr) {
        return false;
    }
    ZSTD_CCtx_reset(cc.ctx, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(cc.ctx, ZSTD_c_compressionLevel, level);
    out.resize(ZSTD_compressBound(in.size()));
    size_t n = ZSTD_compress2(cc.ctx, out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(n)) {
        return false;
    }
    out.resize(n);
    return true;
}

class zstd_encoder final : public body_encoder {
  public:
    explicit zstd_encoder(int level) {
        if (_ctx != nullptr) {
            ZSTD_CCtx_setParameter(_ctx, ZSTD_c_compressionLevel, level);
            ZSTD_CCtx_setParameter(_ctx, ZSTD_c_windowLog, stream_window_log);
        }
    }
    ~zstd_encoder() override { ZSTD_freeCCtx(_ctx); }
    bool ok() const noexcept { return _ctx != nullptr; }

    bool write(std::string_view in, bool finish, std::string& out) override {
        ZSTD_inBuffer src{in.data(), in.size(), 0};
        ZSTD_EndDirective mode = finish ? ZSTD_e_end : ZSTD_e_flush;
        while (true) {
            size_t base = out.size();
            size_t room = ZSTD_compressBound(src.size - src.pos) + 64;
            out.resize(base + room);
            ZSTD_outBuffer dst{out.data() + base, room, 0};
            size_t left = ZSTD_compressStream2(_ctx, &dst, &src, mode);
            out.resize(base + dst.pos);
            if (ZSTD_isError(left)) {
                return false;
            }
            if (left == 0) {
                return true; // flushed (or the frame ended)
            }
        }
    }

  private:
    ZSTD_CCtx* _ctx = ZSTD_createCCtx();
};

// --- zlib (gzip) --------------------------------------------------------------------

constexpr int gzip_window_bits = 15 + 16; // 32 KiB window, gzip wrapper (RFC 1952)

struct gzip_stream {
    z_stream zs{};
    int level = -100;
    bool ready = false;
    ~gzip_stream() {
        if (ready) {
            deflateEnd(&zs);
        }
    }
};

bool gzip_whole(int level, std::string_view in, std::string& out) {
    thread_local gzip_stream g;
    if (!g.ready || g.level != level) {
        if (g.ready) {
            deflateEnd(&g.zs);
            g.ready = false;
        }
        g.zs = z_stream{};
        if (deflateInit2(&g.zs, level, Z_DEFLATED, gzip_window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            return false;
        }
        g.ready = true;
        g.level = level;
    } else if (deflateReset(&g.zs) != Z_OK) {
        return false;
    }
    out.resize(deflateBound(&g.zs, static_cast<uLong>(in.size())));
    g.zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    g.zs.avail_in = static_cast<uInt>(in.size());
    g.zs.next_out = reinterpret_cast<Bytef*>(out.data());
    g.zs.avail_out = static_cast<uInt>(out.size());
    if (deflate(&g.zs, Z_FINISH) != Z_STREAM_END) {
        return false;
    }
    out.resize(out.size() - g.zs.avail_out);
    return true;
}

class gzip_encoder final : public body_encoder {
  public:
    explicit gzip_encoder(int level) {
        _ok = deflateInit2(&_zs, level, Z_DEFLATED, gzip_window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    }
    ~gzip_encoder() override {
        if (_ok) {
            deflateEnd(&_zs);
        }
    }
    bool ok() const noexcept { return _ok; }

    bool write(std::string_view in, bool finish, std::string& out) override {
        _zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        _zs.avail_in = static_cast<uInt>(in.size());
        int flush = finish ? Z_FINISH : Z_SYNC_FLUSH;
        while (true) {
            size_t base = out.size();
            size_t room = deflateBound(&_zs, _zs.avail_in) + 64;
            out.resize(base + room);
            _zs.next_out = reinterpret_cast<Bytef*>(out.data() + base);
            _zs.avail_out = static_cast<uInt>(room);
            int rc = deflate(&_zs, flush);
            out.resize(base + room - _zs.avail_out);
            if (rc == Z_STREAM_END) {
                return true;
            }
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                return false;
            }
            // Z_SYNC_FLUSH is complete when deflate left output room and took all input.
            if (!finish && _zs.avail_out != 0 && _zs.avail_in == 0) {
                return true;
            }
        }
    }

  private:
    z_stream _zs{};
    bool _ok = false;
};

// --- brotli -------------------------------------------------------------------------

bool br_whole(int level, std::string_view in, std::string& out) {
    size_t n = BrotliEncoderMaxCompressedSize(in.size());
    if (n == 0) {
        n = in.size() + 1024; // the bound overflowed: let the encoder say if it fits
    }
    out.resize(n);
    if (BrotliEncoderCompress(level, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, in.size(),
                              reinterpret_cast<const uint8_t*>(in.data()), &n,
                              reinterpret_cast<uint8_t*>(out.data())) != BROTLI_TRUE) {
        return false;
    }
    out.resize(n);
    return true;
}

class br_encoder final : public body_encoder {
  public:
    explicit br_encoder(int level) {
        if (_st != nullptr) {
            BrotliEncoderSetParameter(_st, BROTLI_PARAM_QUALITY, static_cast<uint32_t>(level));
            BrotliEncoderSetParameter(_st, BROTLI_PARAM_LGWIN, stream_window_log);
        }
    }
    ~br_encoder() override { BrotliEncoderDestroyInstance(_st); }
    bool ok() const noexcept { return _st != nullptr; }

    bool write(std::string_view in, bool finish, std::string& out) override {
        const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
        size_t avail_in = in.size();
        BrotliEncoderOperation op = finish ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_FLUSH;
        while (true) {
            size_t base = out.size();
            size_t room = avail_in + (avail_in >> 3) + 1024;
            out.resize(base + room);
            uint8_t* next_out = reinterpret_cast<uint8_t*>(out.data() + base);
            size_t avail_out = room;
            if (BrotliEncoderCompressStream(_st, op, &avail_in, &next_in, &avail_out, &next_out, nullptr) !=
                BROTLI_TRUE) {
                out.resize(base);
                return false;
            }
            out.resize(base + room - avail_out);
            if (avail_in == 0 && BrotliEncoderHasMoreOutput(_st) == BROTLI_FALSE &&
                (!finish || BrotliEncoderIsFinished(_st) == BROTLI_TRUE)) {
                return true;
            }
        }
    }

  private:
    BrotliEncoderState* _st = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
};

template <class T> std::unique_ptr<body_encoder> made(int level) {
    auto e = std::make_unique<T>(level);
    if (!e->ok()) {
        return nullptr;
    }
    return e;
}

} // namespace

int default_level(content_coding c) noexcept {
    switch (c) {
    case content_coding::zstd:
        return 3;
    case content_coding::br:
        return 4;
    case content_coding::gzip:
        return 6;
    case content_coding::identity:
        break;
    }
    return 0;
}

bool level_in_range(content_coding c, int level) noexcept {
    switch (c) {
    case content_coding::zstd:
        return level >= 1 && level <= 19;
    case content_coding::br:
        return level >= 0 && level <= 11;
    case content_coding::gzip:
        return level >= 1 && level <= 9;
    case content_coding::identity:
        break;
    }
    return false;
}

bool compress_whole(content_coding c, int level, std::string_view in, std::string& out) {
    switch (c) {
    case content_coding::zstd:
        return zstd_whole(level, in, out);
    case content_coding::br:
        return br_whole(level, in, out);
    case content_coding::gzip:
        return gzip_whole(level, in, out);
    case content_coding::identity:
        break;
    }
    return false;
}

std::unique_ptr<body_encoder> make_body_encoder(content_coding c, int level) {
    switch (c) {
    case content_coding::zstd:
        return made<zstd_encoder>(level);
    case content_coding::br:
        return made<br_encoder>(level);
    case content_coding::gzip:
        return made<gzip_encoder>(level);
    case content_coding::identity:
        break;
    }
    return nullptr;
}

} // namespace ringbolt::http
