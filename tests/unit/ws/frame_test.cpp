// Client frame header parsing (RFC 6455 §5.2) for every error and length form, split at
// every byte; unmasking (§5.3) against a byte-wise reference at every offset; and the
// server header writer.
#include "ws/frame.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace ringbolt::ws {
namespace {

const uint8_t test_mask[4] = {0x37, 0xFA, 0x21, 0x3D};

/// A client frame header: first byte `b0`, then the length in `len_bytes` (0: 7-bit,
/// 2: 126 + 16-bit, 8: 127 + 64-bit), the mask bit from `masked`, then the mask.
std::string header(uint8_t b0, uint64_t len, size_t len_bytes = 0, bool masked = true) {
    std::string h;
    h += static_cast<char>(b0);
    const uint8_t m = masked ? 0x80 : 0;
    if (len_bytes == 0) {
        h += static_cast<char>(m | len);
    } else {
        h += static_cast<char>(m | (len_bytes == 2 ? 126 : 127));
        for (size_t i = len_bytes; i-- > 0;) {
            h += static_cast<char>(len >> (8 * i));
        }
    }
    if (masked) {
        h.append(reinterpret_cast<const char*>(test_mask), 4);
    }
    return h;
}

struct parse_case {
    const char* name;
    std::string bytes;
    bool allow_rsv1;
    parse_status status;
    frame_error err;
    bool fin;
    bool rsv1;
    opcode op;
    uint64_t payload_len;
    uint8_t header_len;
};

std::vector<parse_case> parse_cases() {
    using ps = parse_status;
    using fe = frame_error;
    using op = opcode;
    return {
        {"text, 7-bit length", header(0x81, 5), false, ps::complete, fe::none, true, false, op::text, 5, 6},
        {"empty binary", header(0x82, 0), false, ps::complete, fe::none, true, false, op::binary, 0, 6},
        {"125 bytes, the 7-bit maximum", header(0x82, 125), false, ps::complete, fe::none, true, false, op::binary, 125,
         6},
        {"first fragment", header(0x01, 3), false, ps::complete, fe::none, false, false, op::text, 3, 6},
        {"continuation", header(0x00, 3), false, ps::complete, fe::none, false, false, op::continuation, 3, 6},
        {"last continuation", header(0x80, 3), false, ps::complete, fe::none, true, false, op::continuation, 3, 6},
        {"16-bit length 126", header(0x82, 126, 2), false, ps::complete, fe::none, true, false, op::binary, 126, 8},
        {"16-bit length 65535", header(0x82, 65535, 2), false, ps::complete, fe::none, true, false, op::binary, 65535,
         8},
        {"64-bit length 65536", header(0x82, 65536, 8), false, ps::complete, fe::none, true, false, op::binary, 65536,
         14},
        {"64-bit length 2^63-1", header(0x82, 0x7FFFFFFFFFFFFFFFull, 8), false, ps::complete, fe::none, true, false,
         op::binary, 0x7FFFFFFFFFFFFFFFull, 14},
        // Non-minimal length encodings are accepted (see frame.cpp).
        {"non-minimal 16-bit", header(0x82, 5, 2), false, ps::complete, fe::none, true, false, op::binary, 5, 8},
        {"non-minimal 64-bit", header(0x82, 300, 8), false, ps::complete, fe::none, true, false, op::binary, 300, 14},
        {"close", header(0x88, 2), false, ps::complete, fe::none, true, false, op::close, 2, 6},
        {"ping 125", header(0x89, 125), false, ps::complete, fe::none, true, false, op::ping, 125, 6},
        {"pong", header(0x8A, 0), false, ps::complete, fe::none, true, false, op::pong, 0, 6},
        {"rsv1 text with deflate", header(0xC1, 4), true, ps::complete, fe::none, true, true, op::text, 4, 6},
        {"rsv1 binary first fragment", header(0x42, 4), true, ps::complete, fe::none, false, true, op::binary, 4, 6},

        {"rsv1 without deflate", header(0xC1, 4), false, ps::error, fe::reserved_bits},
        {"rsv1 on continuation", header(0xC0, 4), true, ps::error, fe::reserved_bits},
        {"rsv1 on ping", header(0xC9, 0), true, ps::error, fe::reserved_bits},
        {"rsv2", header(0xA1, 4), true, ps::error, fe::reserved_bits},
        {"rsv3", header(0x91, 4), true, ps::error, fe::reserved_bits},
        {"opcode 3", header(0x83, 0), false, ps::error, fe::reserved_opcode},
        {"opcode 7", header(0x87, 0), false, ps::error, fe::reserved_opcode},
        {"opcode 0xB", header(0x8B, 0), false, ps::error, fe::reserved_opcode},
        {"opcode 0xF", header(0x8F, 0), false, ps::error, fe::reserved_opcode},
        {"not masked", header(0x81, 5, 0, false), false, ps::error, fe::not_masked},
        {"ping 126", header(0x89, 126, 2), false, ps::error, fe::control_too_long},
        {"close with 64-bit length", header(0x88, 2, 8), false, ps::error, fe::control_too_long},
        {"fragmented ping", header(0x09, 0), false, ps::error, fe::control_fragmented},
        {"fragmented close", header(0x08, 2), false, ps::error, fe::control_fragmented},
        {"64-bit length with the high bit", header(0x82, 0x8000000000000000ull, 8), false, ps::error,
         fe::length_high_bit},
    };
}

void expect_case(const parse_case& c, std::string_view in, const char* how) {
    frame_header h;
    frame_error err = frame_error::reserved_opcode; // must be overwritten
    const parse_status st = parse_client_frame(in, c.allow_rsv1, h, err);
    ASSERT_EQ(st, c.status) << c.name << " " << how;
    if (st == parse_status::error) {
        EXPECT_EQ(err, c.err) << c.name;
        return;
    }
    EXPECT_EQ(err, frame_error::none) << c.name;
    EXPECT_EQ(h.fin, c.fin) << c.name;
    EXPECT_EQ(h.rsv1, c.rsv1) << c.name;
    EXPECT_EQ(h.op, c.op) << c.name;
    EXPECT_EQ(h.payload_len, c.payload_len) << c.name;
    EXPECT_EQ(h.header_len, c.header_len) << c.name;
    EXPECT_EQ(std::memcmp(h.mask, test_mask, 4), 0) << c.name;
}

TEST(Frame, ParsesEveryForm) {
    for (const auto& c : parse_cases()) {
        expect_case(c, c.bytes, "whole");
        // Trailing payload bytes do not change the header.
        expect_case(c, c.bytes + "payload", "with payload");
    }
}

TEST(Frame, EveryPrefixIsIncompleteUntilDecided) {
    for (const auto& c : parse_cases()) {
        for (size_t cut = 0; cut < c.bytes.size(); ++cut) {
            frame_header h;
            frame_error err;
            const parse_status st = parse_client_frame(std::string_view(c.bytes).substr(0, cut), c.allow_rsv1, h, err);
            if (c.status == parse_status::error && cut >= 2 && c.err != frame_error::length_high_bit) {
                // Errors the first two bytes show are reported without waiting for more.
                EXPECT_EQ(st, parse_status::error) << c.name << " cut " << cut;
                EXPECT_EQ(err, c.err) << c.name << " cut " << cut;
            } else {
                EXPECT_EQ(st, parse_status::incomplete) << c.name << " cut " << cut;
            }
        }
        // And a copy of exactly the header bytes (no reads past it) is complete.
        std::vector<char> exact(c.bytes.begin(), c.bytes.end());
        expect_case(c, std::string_view(exact.data(), exact.size()), "exact copy");
    }
}

void reference_unmask(char* data, size_t len, const uint8_t mask[4], uint64_t offset) {
    for (size_t i = 0; i < len; ++i) {
        data[i] = static_cast<char>(static_cast<uint8_t>(data[i]) ^ mask[(offset + i) % 4]);
    }
}

TEST(Frame, UnmaskMatchesByteWiseReference) {
    std::mt19937 rng(6455);
    const uint8_t masks[][4] = {{0x37, 0xFA, 0x21, 0x3D}, {0, 0, 0, 0}, {0xFF, 0x00, 0xFF, 0x01}};
    for (const auto& mask : masks) {
        for (uint64_t offset = 0; offset < 8; ++offset) {
            for (size_t len = 0; len <= 70; ++len) {
                for (size_t misalign = 0; misalign < 3; ++misalign) {
                    std::vector<char> data(len + 3), expected(len + 3);
                    for (auto& b : data) {
                        b = static_cast<char>(rng());
                    }
                    expected = data;
                    unmask(data.data() + misalign, len, mask, offset);
                    reference_unmask(expected.data() + misalign, len, mask, offset);
                    ASSERT_EQ(data, expected) << "offset " << offset << " len " << len << " misalign " << misalign;
                }
            }
        }
    }
    // unmask_copy: the same bytes written elsewhere, the source left as it was.
    for (uint64_t offset = 0; offset < 8; ++offset) {
        for (size_t len = 0; len <= 70; ++len) {
            std::vector<char> src(len + 1), dst(len + 1, 0x55), expected;
            for (auto& b : src) {
                b = static_cast<char>(rng());
            }
            const std::vector<char> before = src;
            expected = src;
            reference_unmask(expected.data() + 1, len, test_mask, offset);
            unmask_copy(dst.data() + 1, src.data() + 1, len, test_mask, offset);
            ASSERT_EQ(src, before) << "offset " << offset << " len " << len;
            ASSERT_EQ(std::vector<char>(dst.begin() + 1, dst.end()),
                      std::vector<char>(expected.begin() + 1, expected.end()))
                << "offset " << offset << " len " << len;
            ASSERT_EQ(dst[0], 0x55);
        }
    }
    // A large offset only matters modulo 4.
    std::string a(40, 'x'), b(40, 'x');
    unmask(a.data(), a.size(), test_mask, (uint64_t(1) << 40) + 3);
    reference_unmask(b.data(), b.size(), test_mask, 3);
    EXPECT_EQ(a, b);
}

TEST(Frame, UnmaskResumesAcrossPieces) {
    // The RFC 6455 §5.7 example: "Hello" masked with 37 fa 21 3d.
    const char masked[] = {0x7f, static_cast<char>(0x9f), 0x4d, 0x51, 0x58};
    for (size_t cut = 0; cut <= 5; ++cut) {
        std::string s(masked, 5);
        unmask(s.data(), cut, test_mask, 0);
        unmask(s.data() + cut, 5 - cut, test_mask, cut);
        EXPECT_EQ(s, "Hello") << cut;
    }
    std::mt19937 rng(1);
    std::string plain(1000, '\0');
    for (auto& c : plain) {
        c = static_cast<char>(rng());
    }
    std::string whole = plain;
    reference_unmask(whole.data(), whole.size(), test_mask, 0);
    std::string pieces = plain;
    for (size_t pos = 0; pos < pieces.size();) {
        size_t n = std::min<size_t>(rng() % 37, pieces.size() - pos);
        unmask(pieces.data() + pos, n, test_mask, pos);
        pos += n;
    }
    EXPECT_EQ(pieces, whole);
}

struct server_header_case {
    bool fin;
    opcode op;
    bool rsv1;
    uint64_t len;
    std::string expected;
};

TEST(Frame, AppendServerHeader) {
    using namespace std::string_literals;
    const server_header_case cases[] = {
        {true, opcode::text, false, 5, "\x81\x05"s},
        {true, opcode::binary, false, 0, "\x82\x00"s},
        {true, opcode::text, true, 125, "\xC1\x7D"s},
        {false, opcode::text, false, 126, "\x01\x7E\x00\x7E"s},
        {false, opcode::continuation, false, 65535, "\x00\x7E\xFF\xFF"s},
        {true, opcode::continuation, false, 65536, "\x80\x7F\x00\x00\x00\x00\x00\x01\x00\x00"s},
        {true, opcode::binary, true, 0x0123456789ABCDEFull, "\xC2\x7F\x01\x23\x45\x67\x89\xAB\xCD\xEF"s},
        {true, opcode::close, false, 2, "\x88\x02"s},
        {true, opcode::ping, false, 0, "\x89\x00"s},
        {true, opcode::pong, false, 125, "\x8A\x7D"s},
    };
    for (const auto& c : cases) {
        std::string out = "prefix";
        append_server_header(out, c.fin, c.op, c.rsv1, c.len);
        EXPECT_EQ(out, "prefix" + c.expected) << c.len;
        EXPECT_EQ(out.size() - 6, server_header_size(c.len)) << c.len;
    }
}

TEST(Frame, IsControl) {
    EXPECT_FALSE(is_control(opcode::continuation));
    EXPECT_FALSE(is_control(opcode::text));
    EXPECT_FALSE(is_control(opcode::binary));
    EXPECT_TRUE(is_control(opcode::close));
    EXPECT_TRUE(is_control(opcode::ping));
    EXPECT_TRUE(is_control(opcode::pong));
}

} // namespace
} // namespace ringbolt::ws
