// What the tiny-body encoders' tests and fuzz targets share (http/tiny_gzip, tiny_br,
// tiny_zstd): an encoder is described once (encode, bound, input limit, and the real
// library's decoder), and every output must decode back to the input, fit the bound and
// write nothing past it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

namespace ringbolt::test_support {

struct tiny_codec {
    size_t (*encode)(std::string_view in, char* out) noexcept;
    size_t (*bound)(size_t n) noexcept;
    size_t max_input;
    /// The library's decoder: the input back, or "<error>" when it refuses the stream,
    /// it is truncated, or bytes follow it.
    std::string (*decode)(std::string_view coded, size_t expect);
};

/// Encoded into a buffer exactly `bound` long followed by a guard; `guard_ok` tells
/// whether the guard stayed untouched. Empty when the encoder refused (over the limit).
inline std::string encode_guarded(const tiny_codec& c, std::string_view in, bool& guard_ok) {
    static constexpr char guard[] = "\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5";
    std::string buf(c.bound(in.size()) + 16, '\xa5');
    size_t n = c.encode(in, buf.data());
    guard_ok = std::memcmp(buf.data() + c.bound(in.size()), guard, 16) == 0;
    buf.resize(n);
    return buf;
}

/// A JSON array of user records cut to `n` bytes (what tiny bodies usually are).
inline std::string sample_json(size_t n) {
    std::string s = "[";
    for (size_t i = 0; s.size() < n; ++i) {
        s += R"({"id":)" + std::to_string(i) + R"(,"name":"user )" + std::to_string(i) + R"(","email":"user)" +
             std::to_string(i) + R"(@example.com","active":)" + (i % 3 ? "false" : "true") + "},";
    }
    s.resize(n);
    return s;
}

inline std::string random_bytes(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (char& c : s) {
        c = static_cast<char>(rng());
    }
    return s;
}

/// Case `t` of a random mix: bytes from a random alphabet with copies of earlier bytes
/// sprinkled in (literal runs and matches of every length and distance); short bodies
/// for the first 2000 cases, any size to `max_input` after.
inline std::string random_mix(std::mt19937& rng, int t, size_t max_input) {
    size_t n = t < 2000 ? rng() % 400 : rng() % (max_input + 1);
    int alphabet = 1 + static_cast<int>(rng() % 256);
    std::string in(n, '\0');
    for (char& c : in) {
        c = static_cast<char>(rng() % alphabet);
    }
    for (size_t k = 1; k + 8 < n; k += 1 + rng() % 64) {
        size_t from = rng() % k;
        size_t len = rng() % 300;
        for (size_t j = 0; j < len && k + j < n; ++j) {
            in[k + j] = in[from + j];
        }
    }
    return in;
}

/// The libFuzzer check: any input up to the limit encodes within the bound, writes
/// nothing past it and decodes back to itself; a longer one is refused. False: a bug.
inline bool fuzz_one(const tiny_codec& c, const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    bool guard_ok = false;
    std::string coded = encode_guarded(c, in, guard_ok);
    if (size > c.max_input) {
        return coded.empty() && guard_ok;
    }
    return !coded.empty() && coded.size() <= c.bound(size) && guard_ok && c.decode(coded, size) == in;
}

} // namespace ringbolt::test_support
