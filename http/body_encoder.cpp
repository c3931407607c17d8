// zstd, brotli and zlib behind one interface: one-shot with per-thread contexts, and
// streaming encoders that flush per piece.
#include "http/body_encoder.hpp"

#include "http/tiny_encoders.hpp"

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdlib>
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
    if (level == tiny_zstd_level) {
        if (in.size() <= tiny_max_input) {
            out.resize(tiny_zstd_bound(in.size()));
            size_t n = tiny_zstd(in, out.data());
            if (tiny_output_worthwhile(in.size(), n)) {
                out.resize(n);
                return true;
            }
        }
        level = -1; // libzstd's matcher does better on this body
    }
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
        if (level == tiny_zstd_level) {
            level = -1; // the tiny-body encoder makes whole frames only
        }
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

// zlib's memLevel sizes the hash table deflateReset clears per body (2^(memLevel+7)
// two-byte heads): 64 KiB at the default 8. Bodies up to small_gzip_body use memLevel 4
// (4 KiB): the same output on JSON of 2-8 KB, about 10% less CPU at 2 KB (benchmarks/micro
// compression_bench BM_gzip_2k), a third less on bodies of a few hundred bytes.
constexpr size_t small_gzip_body = 16 * 1024;
constexpr int small_gzip_mem_level = 4;
constexpr int default_gzip_mem_level = 8;

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
    if (level == tiny_gzip_level) {
        if (in.size() <= tiny_max_input) {
            out.resize(tiny_gzip_bound(in.size()));
            size_t n = tiny_gzip(in, out.data());
            if (tiny_output_worthwhile(in.size(), n)) {
                out.resize(n);
                return true;
            }
        }
        level = 1; // zlib's dynamic codes do better on this body
    }
    thread_local gzip_stream small_bodies;
    thread_local gzip_stream large_bodies;
    bool small = in.size() <= small_gzip_body;
    gzip_stream& g = small ? small_bodies : large_bodies;
    if (!g.ready || g.level != level) {
        if (g.ready) {
            deflateEnd(&g.zs);
            g.ready = false;
        }
        g.zs = z_stream{};
        if (deflateInit2(&g.zs, level, Z_DEFLATED, gzip_window_bits,
                         small ? small_gzip_mem_level : default_gzip_mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
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
        if (level == tiny_gzip_level) {
            level = 1; // the tiny-body encoder makes whole members only
        }
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

// Brotli allocates its ring buffer and hash tables per instance (hundreds of KiB to a
// few MiB by quality): from malloc they are fresh mmaps and page faults on every
// response (measured: about 350 us of CPU per 2 KB body at quality 4). One-shot
// instances take their blocks from a small per-thread cache instead.
struct br_block_cache {
    static constexpr size_t max_blocks = 8;
    static constexpr size_t max_bytes = 16u << 20;
    void* blocks[max_blocks] = {};
    size_t sizes[max_blocks] = {};
    size_t count = 0;
    size_t bytes = 0;
    ~br_block_cache() {
        for (size_t i = 0; i < count; ++i) {
            std::free(blocks[i]);
        }
    }
};
thread_local br_block_cache br_cache;
constexpr size_t br_header = 16; // the block's size, keeping malloc's 16-byte alignment

void* br_alloc(void*, size_t n) {
    br_block_cache& c = br_cache;
    for (size_t i = 0; i < c.count; ++i) {
        if (c.sizes[i] == n) {
            void* p = c.blocks[i];
            c.bytes -= n;
            --c.count;
            c.blocks[i] = c.blocks[c.count];
            c.sizes[i] = c.sizes[c.count];
            return static_cast<char*>(p) + br_header;
        }
    }
    void* p = std::malloc(n + br_header);
    if (p == nullptr) {
        return nullptr;
    }
    *static_cast<size_t*>(p) = n;
    return static_cast<char*>(p) + br_header;
}

void br_free(void*, void* q) {
    if (q == nullptr) {
        return;
    }
    void* p = static_cast<char*>(q) - br_header;
    size_t n = *static_cast<size_t*>(p);
    br_block_cache& c = br_cache;
    if (c.count < br_block_cache::max_blocks && c.bytes + n <= br_block_cache::max_bytes) {
        c.blocks[c.count] = p;
        c.sizes[c.count] = n;
        ++c.count;
        c.bytes += n;
        return;
    }
    std::free(p);
}

bool br_whole(int level, std::string_view in, std::string& out) {
    if (level == tiny_br_level) {
        if (in.size() <= tiny_max_input) {
            out.resize(tiny_br_bound(in.size()));
            size_t n = tiny_br(in, out.data());
            if (tiny_output_worthwhile(in.size(), n)) {
                out.resize(n);
                return true;
            }
        }
        level = 0; // libbrotli's adaptive literal codes do better on this body
    }
    // The window only needs to cover the body (RFC 7932 §9.1: 2^lgwin - 16 bytes).
    int lgwin = BROTLI_MIN_WINDOW_BITS;
    while (lgwin < BROTLI_MAX_WINDOW_BITS && (size_t{1} << lgwin) - 16 < in.size()) {
        ++lgwin;
    }
    BrotliEncoderState* st = BrotliEncoderCreateInstance(br_alloc, br_free, nullptr);
    if (st == nullptr) {
        return false;
    }
    BrotliEncoderSetParameter(st, BROTLI_PARAM_QUALITY, static_cast<uint32_t>(level));
    BrotliEncoderSetParameter(st, BROTLI_PARAM_LGWIN, static_cast<uint32_t>(lgwin));
    BrotliEncoderSetParameter(st, BROTLI_PARAM_SIZE_HINT,
                              static_cast<uint32_t>(in.size() < (1u << 30) ? in.size() : (1u << 30)));
    size_t room = BrotliEncoderMaxCompressedSize(in.size());
    if (room == 0) {
        room = in.size() + (in.size() >> 3) + 1024; // the bound overflowed
    }
    out.resize(room);
    const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
    size_t avail_in = in.size();
    uint8_t* next_out = reinterpret_cast<uint8_t*>(out.data());
    size_t avail_out = room;
    bool ok = true;
    while (ok && BrotliEncoderIsFinished(st) == BROTLI_FALSE) {
        ok = BrotliEncoderCompressStream(st, BROTLI_OPERATION_FINISH, &avail_in, &next_in, &avail_out, &next_out,
                                         nullptr) == BROTLI_TRUE;
        if (ok && avail_out == 0 && BrotliEncoderIsFinished(st) == BROTLI_FALSE) {
            ok = false; // over the bound: cannot happen, refuse rather than loop
        }
    }
    BrotliEncoderDestroyInstance(st);
    if (!ok) {
        return false;
    }
    out.resize(room - avail_out);
    return true;
}

class br_encoder final : public body_encoder {
  public:
    explicit br_encoder(int level) {
        if (level == tiny_br_level) {
            level = 0; // the tiny-body encoder makes whole streams only
        }
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

int fast_level(content_coding c, uint64_t size) noexcept {
    bool tiny = size != 0 && size < tiny_body;
    switch (c) {
    case content_coding::zstd:
        return tiny ? tiny_zstd_level : 3; // zstd 1 costs the same as 3 on small bodies
    case content_coding::br:
        return tiny ? tiny_br_level : 1;
    case content_coding::gzip:
        return tiny ? tiny_gzip_level : 1;
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
