// Sec-WebSocket-Key checks and Sec-WebSocket-Accept derivation (RFC 6455 §4.1, §4.2.2).
#include "ws/handshake.hpp"

#include <gtest/gtest.h>

namespace ringbolt::ws {
namespace {

TEST(Handshake, AcceptValueOfTheRfcExample) {
    // RFC 6455 §1.3 and §4.2.2.
    EXPECT_EQ(accept_value("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    // RFC 6455 §4.1's example key; accept value from Python (hashlib + base64).
    EXPECT_EQ(accept_value("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    EXPECT_EQ(accept_value("dGhlIHNhbXBsZSBub25jZQ==").size(), 28u);
}

struct key_case {
    const char* key;
    bool valid;
    const char* why;
};

TEST(Handshake, ValidKey) {
    const key_case cases[] = {
        {"dGhlIHNhbXBsZSBub25jZQ==", true, "RFC example"},
        {"AAAAAAAAAAAAAAAAAAAAAA==", true, "16 zero bytes"},
        {"/////////////////////w==", true, "16 0xff bytes"},
        {"", false, "empty"},
        {"dGhlIHNhbXBsZSBub25jZQ=", false, "23 characters"},
        {"dGhlIHNhbXBsZSBub25jZQ===", false, "25 characters"},
        {"dGhlIHNhbXBsZSBub25jZQ", false, "unpadded"},
        {"dGhlIHNhbXBsZSBub25jZQ==dGhl", false, "too long"},
        {"dGhlIHNhbXBsZSBub25jZ!==", false, "not base64"},
        {"dGhlIHNhbXBsZSBub25jZ-_", false, "URL-safe alphabet"},
        {" GhlIHNhbXBsZSBub25jZQ==", false, "leading space"},
        {"AAAAAAAAAAAAAAAAAAAA====", false, "15 bytes would need more padding than base64 has"},
        {"AAAAAAAAAAAAAAAAAAAAAAA=", false, "decodes to 17 bytes"},
        {"AAAAAAAAAAAAAAAAAAAAAAAA", false, "decodes to 18 bytes"},
        {"AAAAAAAAAAAAAAAAAAAA", false, "decodes to 15 bytes (20 characters)"},
        {"AAAAAAAAAAAAAAAAAAAAAAAAAAA=", false, "decodes to 20 bytes"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(valid_key(c.key), c.valid) << c.why << ": " << c.key;
    }
}

} // namespace
} // namespace ringbolt::ws
