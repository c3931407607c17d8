// permessage-deflate: negotiation of offers (RFC 7692 §7.1) from a table, and the codec
// against the RFC's §7.2.3 examples, round trips, context takeover and its reset, lazy
// streams, memory accounting, and a deflate bomb held to its output limit.
#include "ws/deflate.hpp"

#include "tests/support/json_like.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

// Counts the bytes live through operator new, to check the bomb's peak allocation.
// ThreadSanitizer's runtime defines the global operator new/delete itself (strongly), so
// under TSan they are not replaced and the peak check is left out (the output bound stays).
#if defined(__SANITIZE_THREAD__)
#define RINGBOLT_COUNT_NEW 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RINGBOLT_COUNT_NEW 0
#endif
#endif
#ifndef RINGBOLT_COUNT_NEW
#define RINGBOLT_COUNT_NEW 1
#endif

namespace {
std::atomic<size_t> live_bytes{0};
std::atomic<size_t> peak_bytes{0};
} // namespace

#if RINGBOLT_COUNT_NEW
namespace {
constexpr size_t size_header = 16;
} // namespace

void* operator new(size_t n) {
    auto* raw = static_cast<unsigned char*>(std::malloc(n + size_header));
    if (raw == nullptr) {
        throw std::bad_alloc();
    }
    *reinterpret_cast<size_t*>(raw) = n;
    const size_t now = live_bytes += n;
    size_t peak = peak_bytes.load();
    while (now > peak && !peak_bytes.compare_exchange_weak(peak, now)) {
    }
    return raw + size_header;
}

void operator delete(void* p) noexcept {
    if (p != nullptr) {
        auto* raw = static_cast<unsigned char*>(p) - size_header;
        live_bytes -= *reinterpret_cast<size_t*>(raw);
        std::free(raw);
    }
}

void operator delete(void* p, size_t) noexcept {
    operator delete(p);
}

// Every non-aligned form goes through the two above (the sanitizers replace each form
// separately, so all must be replaced together).
void* operator new[](size_t n) {
    return operator new(n);
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
    try {
        return operator new(n);
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept {
    return operator new(n, t);
}
void operator delete[](void* p) noexcept {
    operator delete(p);
}
void operator delete[](void* p, size_t) noexcept {
    operator delete(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    operator delete(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    operator delete(p);
}
#endif

namespace ringbolt::ws {
namespace {

using test_data::json_like;

std::string bytes(std::initializer_list<uint8_t> b) {
    return std::string(b.begin(), b.end());
}

// ---- Negotiation -------------------------------------------------------------------

struct offer_case {
    const char* offers;
    bool accepted;
    const char* response = "";
    bool server_nct = false;
    bool client_nct = false;
    uint8_t server_bits = 15;
    uint8_t client_bits = 15;
};

TEST(DeflateNegotiation, Offers) {
    const offer_case cases[] = {
        {"permessage-deflate", true, "permessage-deflate"},
        {"PerMessage-Deflate", true, "permessage-deflate"},
        {"permessage-deflate; client_max_window_bits", true, "permessage-deflate"},
        {"permessage-deflate; client_max_window_bits=10", true, "permessage-deflate", false, false, 15, 10},
        {"permessage-deflate; client_max_window_bits=\"10\"", true, "permessage-deflate", false, false, 15, 10},
        {"permessage-deflate; client_max_window_bits=8", true, "permessage-deflate", false, false, 15, 9},
        {"permessage-deflate; server_max_window_bits=10", true, "permessage-deflate; server_max_window_bits=10", false,
         false, 10},
        {"permessage-deflate; server_max_window_bits=\"9\"", true, "permessage-deflate; server_max_window_bits=9",
         false, false, 9},
        {"permessage-deflate; server_no_context_takeover; client_no_context_takeover", true,
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover", true, true},
        {"permessage-deflate;client_no_context_takeover;server_max_window_bits=12;client_max_window_bits=11", true,
         "permessage-deflate; client_no_context_takeover; server_max_window_bits=12", false, true, 12, 11},
        {"  permessage-deflate ;\tclient_max_window_bits = 12  ", true, "permessage-deflate", false, false, 15, 12},
        // Several offers: the first acceptable one wins (§5.1).
        {"permessage-deflate; client_max_window_bits=10, permessage-deflate", true, "permessage-deflate", false, false,
         15, 10},
        {"permessage-deflate; foo, permessage-deflate; client_no_context_takeover", true,
         "permessage-deflate; client_no_context_takeover", false, true},
        {"x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover", true,
         "permessage-deflate; server_no_context_takeover", true},
        {"permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9", true,
         "permessage-deflate; server_max_window_bits=9", false, false, 9},
        {", , permessage-deflate", true, "permessage-deflate"},
        // server_max_window_bits=8: zlib cannot honour it for raw deflate; declined (deflate.cpp).
        {"permessage-deflate; server_max_window_bits=8", false},
        // Bad values, missing values, values where none is allowed.
        {"permessage-deflate; server_max_window_bits", false},
        {"permessage-deflate; server_max_window_bits=16", false},
        {"permessage-deflate; server_max_window_bits=7", false},
        {"permessage-deflate; server_max_window_bits=010", false},
        {"permessage-deflate; server_max_window_bits=+9", false},
        {"permessage-deflate; client_max_window_bits=0", false},
        {"permessage-deflate; client_max_window_bits=\"1 0\"", false},
        {"permessage-deflate; client_max_window_bits=\"\"", false},
        {"permessage-deflate; server_no_context_takeover=1", false},
        {"permessage-deflate; client_no_context_takeover=\"\"", false},
        // Duplicates and unknown parameters (§7.1).
        {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", false},
        {"permessage-deflate; client_no_context_takeover; client_no_context_takeover", false},
        {"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", false},
        {"permessage-deflate; client_max_window_bits; client_max_window_bits=10", false},
        {"permessage-deflate; max_window_bits=10", false},
        {"permessage-deflate; x", false},
        // Not offered, or malformed.
        {"", false},
        {"x-webkit-deflate-frame", false},
        {"permessage-deflate; client_max_window_bits=\"10", false},
        {"permessage-deflate;", false},
        {"permessage-deflate; =10", false},
        {"permessage-deflate; client_max_window_bits=", false},
        {"permessage-deflate client_max_window_bits", false},
    };
    for (const auto& c : cases) {
        std::string response = "stale";
        const auto p = negotiate_deflate(c.offers, deflate_config{}, response);
        ASSERT_EQ(p.has_value(), c.accepted) << c.offers;
        if (!p) {
            EXPECT_EQ(response, "") << c.offers;
            continue;
        }
        EXPECT_EQ(response, c.response) << c.offers;
        EXPECT_EQ(p->server_no_context_takeover, c.server_nct) << c.offers;
        EXPECT_EQ(p->client_no_context_takeover, c.client_nct) << c.offers;
        EXPECT_EQ(p->server_max_window_bits, c.server_bits) << c.offers;
        EXPECT_EQ(p->client_max_window_bits, c.client_bits) << c.offers;
    }
}

TEST(DeflateNegotiation, ServerConfiguration) {
    std::string response;
    deflate_config cfg;
    cfg.enabled = false;
    EXPECT_FALSE(negotiate_deflate("permessage-deflate", cfg, response));

    cfg.enabled = true;
    cfg.max_window_bits = 12;
    auto p = negotiate_deflate("permessage-deflate", cfg, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->server_max_window_bits, 12); // compress with a smaller window, unannounced
    EXPECT_EQ(response, "permessage-deflate");

    p = negotiate_deflate("permessage-deflate; server_max_window_bits=14", cfg, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->server_max_window_bits, 12); // §7.1.2.1: the same or a smaller value
    EXPECT_EQ(response, "permessage-deflate; server_max_window_bits=12");

    p = negotiate_deflate("permessage-deflate; server_max_window_bits=10", cfg, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->server_max_window_bits, 10);
    EXPECT_EQ(response, "permessage-deflate; server_max_window_bits=10");
}

// ---- Codec -------------------------------------------------------------------------

/// The client side's view of `server`: inflates what a server with `server` compresses.
deflate_params mirrored(const deflate_params& server) {
    deflate_params client;
    client.client_max_window_bits = server.server_max_window_bits;
    client.client_no_context_takeover = server.server_no_context_takeover;
    return client;
}

TEST(DeflateCodec, Rfc7692Examples) {
    const deflate_params p;
    const deflate_config cfg;
    // §7.2.3.1 and §7.2.3.2: "Hello" twice with context takeover; the second refers back.
    {
        deflate_codec codec(p, cfg);
        std::string out;
        ASSERT_EQ(codec.decompress(bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), out, 1000),
                  deflate_codec::inflate_result::ok);
        EXPECT_EQ(out, "Hello");
        out.clear();
        ASSERT_EQ(codec.decompress(bytes({0xf2, 0x00, 0x11, 0x00, 0x00}), out, 1000),
                  deflate_codec::inflate_result::ok);
        EXPECT_EQ(out, "Hello");
    }
    // §7.2.3.3 a stored block, §7.2.3.4 BFINAL set (with the RFC's trailing 0x00), §7.2.3.5 two blocks.
    const std::string singles[] = {
        bytes({0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}),
        bytes({0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}),
        bytes({0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}),
    };
    for (const auto& payload : singles) {
        deflate_codec codec(p, cfg);
        for (int round = 0; round < 2; ++round) { // BFINAL resets the stream: a second message still inflates
            std::string out;
            ASSERT_EQ(codec.decompress(payload, out, 5), deflate_codec::inflate_result::ok);
            EXPECT_EQ(out, "Hello");
        }
    }
    // Our compressor produces the RFC's bytes (and Python's zlib.compressobj(6, DEFLATED, -15)).
    deflate_codec codec(p, cfg);
    std::string out;
    ASSERT_TRUE(codec.compress("Hello", out));
    EXPECT_EQ(out, bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}));
    out.clear();
    ASSERT_TRUE(codec.compress("Hello", out));
    EXPECT_EQ(out, bytes({0xf2, 0x00, 0x11, 0x00, 0x00}));
}

TEST(DeflateCodec, RoundTrips) {
    std::mt19937 rng(7692);
    std::string random_bytes(300000, '\0');
    for (auto& c : random_bytes) {
        c = static_cast<char>(rng());
    }
    const std::string messages[] = {
        "", "a", "Hello", json_like(16384, 1), json_like(5'000'000, 2), random_bytes, std::string(100000, 'z')};
    for (bool no_takeover : {false, true}) {
        for (uint8_t bits : {uint8_t(9), uint8_t(12), uint8_t(15)}) {
            deflate_params sp;
            sp.server_no_context_takeover = no_takeover;
            sp.server_max_window_bits = bits;
            deflate_codec server(sp, deflate_config{});
            deflate_codec client(mirrored(sp), deflate_config{});
            for (const auto& m : messages) {
                std::string wire;
                ASSERT_TRUE(server.compress(m, wire));
                std::string back = "x"; // decompress appends
                ASSERT_EQ(client.decompress(wire, back, m.size() + 1), deflate_codec::inflate_result::ok)
                    << m.size() << " bits " << int(bits);
                ASSERT_EQ(back.size(), m.size() + 1);
                EXPECT_TRUE(back.compare(1, std::string::npos, m) == 0) << m.size() << " bits " << int(bits);
            }
        }
    }
}

TEST(DeflateCodec, SmallWindowReallyLimitsDistances) {
    // Repeats 1000 bytes apart: with a 9-bit window the compressor may not refer back that
    // far, so an inflater with a 9-bit window accepts what it sends.
    std::string chunk = json_like(1000, 3);
    std::string m = chunk + chunk + chunk;
    deflate_params sp;
    sp.server_max_window_bits = 9;
    deflate_codec server(sp, deflate_config{});
    std::string wire;
    ASSERT_TRUE(server.compress(m, wire));
    deflate_params cp;
    cp.client_max_window_bits = 9;
    deflate_codec client(cp, deflate_config{});
    std::string back;
    ASSERT_EQ(client.decompress(wire, back, m.size()), deflate_codec::inflate_result::ok);
    EXPECT_EQ(back, m);
}

TEST(DeflateCodec, ContextTakeoverShrinksARepeatedMessage) {
    const std::string m = json_like(2000, 4);
    deflate_codec keep(deflate_params{}, deflate_config{});
    std::string first, second;
    ASSERT_TRUE(keep.compress(m, first));
    ASSERT_TRUE(keep.compress(m, second));
    EXPECT_LT(second.size() * 10, first.size()) << first.size() << " then " << second.size();
    EXPECT_GT(keep.memory_in_use(), 0u); // the context is kept between messages

    deflate_params reset;
    reset.server_no_context_takeover = true;
    deflate_codec fresh(reset, deflate_config{});
    std::string a, b;
    ASSERT_TRUE(fresh.compress(m, a));
    EXPECT_EQ(fresh.memory_in_use(), 0u); // freed after each message
    ASSERT_TRUE(fresh.compress(m, b));
    EXPECT_EQ(a, b); // each message starts from an empty window
}

TEST(DeflateCodec, ClientNoContextTakeoverResetsTheInflater) {
    // The RFC's second "Hello" refers to the first message: without context takeover the
    // reference reaches before the start of the window, so the message is corrupt.
    deflate_params p;
    p.client_no_context_takeover = true;
    deflate_codec codec(p, deflate_config{});
    std::string out;
    ASSERT_EQ(codec.decompress(bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), out, 100),
              deflate_codec::inflate_result::ok);
    EXPECT_EQ(codec.memory_in_use(), 0u);
    out.clear();
    EXPECT_EQ(codec.decompress(bytes({0xf2, 0x00, 0x11, 0x00, 0x00}), out, 100),
              deflate_codec::inflate_result::corrupt);
    // Independent messages still inflate one after the other.
    for (int i = 0; i < 3; ++i) {
        out.clear();
        ASSERT_EQ(codec.decompress(bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), out, 100),
                  deflate_codec::inflate_result::ok);
        EXPECT_EQ(out, "Hello");
    }
}

TEST(DeflateCodec, StreamsAreCreatedLazilyAndCounted) {
    deflate_config cfg;
    deflate_codec codec(deflate_params{}, cfg);
    EXPECT_EQ(codec.memory_in_use(), 0u);
    std::string out;
    ASSERT_TRUE(codec.compress("Hello", out));
    const size_t with_deflater = codec.memory_in_use();
    // level 6, memLevel 8, 15 bits: window 64 KB + prev 64 KB + head 64 KB + pending 64 KB.
    EXPECT_GT(with_deflater, 250'000u);
    EXPECT_LT(with_deflater, 300'000u);
    out.clear();
    ASSERT_EQ(codec.decompress(bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), out, 100),
              deflate_codec::inflate_result::ok);
    const size_t inflater = codec.memory_in_use() - with_deflater;
    EXPECT_GT(inflater, 32'768u); // a 32 KB window plus the inflate state
    EXPECT_LT(inflater, 48'000u);

    // A smaller memLevel and window cost less.
    cfg.mem_level = 1;
    deflate_params small;
    small.server_max_window_bits = 9;
    deflate_codec lean(small, cfg);
    ASSERT_TRUE(lean.compress("Hello", out));
    EXPECT_LT(lean.memory_in_use(), 16'000u);
}

TEST(DeflateCodec, OutputLimitIsExact) {
    const std::string m = json_like(50000, 5);
    deflate_codec server(deflate_params{}, deflate_config{});
    std::string wire;
    ASSERT_TRUE(server.compress(m, wire));
    for (uint64_t limit : {uint64_t(m.size()), uint64_t(m.size() - 1), uint64_t(0), uint64_t(16384)}) {
        deflate_codec client(deflate_params{}, deflate_config{});
        std::string out;
        const auto r = client.decompress(wire, out, limit);
        EXPECT_EQ(r, limit >= m.size() ? deflate_codec::inflate_result::ok : deflate_codec::inflate_result::too_large)
            << limit;
        EXPECT_LE(out.size(), limit);
    }
    // The limit counts what `out` already held.
    deflate_codec client(deflate_params{}, deflate_config{});
    std::string out = "0123456789";
    EXPECT_EQ(client.decompress(wire, out, m.size() + 9), deflate_codec::inflate_result::too_large);
    EXPECT_LE(out.size(), m.size() + 9);
    // An empty message fits a zero limit.
    deflate_codec empty(deflate_params{}, deflate_config{});
    std::string none;
    std::string nothing;
    ASSERT_TRUE(server.compress("", nothing)); // after a message, with the context kept
    EXPECT_EQ(nothing, bytes({0x00}));
    EXPECT_EQ(empty.decompress(bytes({0x00}), none, 0), deflate_codec::inflate_result::ok);
    EXPECT_TRUE(none.empty());
}

TEST(DeflateCodec, BombStopsAtTheLimitWithBoundedMemory) {
    const std::string zeros(10'000'000, '\0');
    std::string bomb;
    {
        deflate_codec server(deflate_params{}, deflate_config{});
        ASSERT_TRUE(server.compress(zeros, bomb));
    }
    ASSERT_LT(bomb.size(), 20'000u);
    constexpr uint64_t limit = 1'000'000;
    deflate_codec client(deflate_params{}, deflate_config{});
    std::string out;
    const size_t before = live_bytes.load();
    peak_bytes = before;
    EXPECT_EQ(client.decompress(bomb, out, limit), deflate_codec::inflate_result::too_large);
    const size_t peak = peak_bytes.load() - before;
    EXPECT_LE(out.size(), limit);
    // The output buffer may double past the step that reaches the limit, never more;
    // zlib's own allocations are outside operator new and are a 32 KB window plus state.
    if (RINGBOLT_COUNT_NEW) {
        EXPECT_LE(peak, 2 * limit + 64 * 1024) << peak;
    }
    EXPECT_EQ(client.memory_in_use(), 0u); // the failed stream is freed
}

TEST(DeflateCodec, CorruptInput) {
    const std::string corrupt[] = {
        bytes({0xff, 0xff, 0xff}),             // block type 3 is reserved
        bytes({0x00, 0x05, 0x00, 0x00}),       // stored block with a LEN/NLEN mismatch
        bytes({0xf2, 0x00, 0x11, 0x00, 0x00}), // a reference before the start of the stream
    };
    for (const auto& payload : corrupt) {
        deflate_codec codec(deflate_params{}, deflate_config{});
        std::string out;
        EXPECT_EQ(codec.decompress(payload, out, 1000), deflate_codec::inflate_result::corrupt);
        EXPECT_EQ(codec.memory_in_use(), 0u);
        // The codec starts afresh on the next message.
        out.clear();
        EXPECT_EQ(codec.decompress(bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), out, 100),
                  deflate_codec::inflate_result::ok);
        EXPECT_EQ(out, "Hello");
    }
}

} // namespace
} // namespace ringbolt::ws
