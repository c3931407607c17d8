// tls/signed_value: HMAC-SHA256 against RFC 4231, the values ringbolt.sessions' Python
// signer wrote before the signer was native (a cookie issued then still opens), every
// refusal, key rotation, and several threads opening at once (suite threads: TSan).
#include "tls/signed_value.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace rt = ringbolt::tls;

namespace {

std::string from_hex(std::string_view hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

// HMAC(b"k" * 32, b"ringbolt:session"): the key ringbolt.sessions derives for b"k" * 32
const std::string session_key = from_hex("ab2d583e483b3b6b15c60df0d70dfa2c17853ca2cfb8235bc6a54f7c58d4abbb");
constexpr std::string_view python_value = "eyJ2aXNpdHMiOjN9.1795843160.8Yx7AWikw5j8Zsoc4HBsKq7Qjko5BpjMhWUhhYNUMK4";

std::unique_ptr<rt::value_signer> make(std::vector<std::string> keys) {
    std::string error;
    auto s = rt::value_signer::make(keys, error);
    EXPECT_NE(s, nullptr) << error;
    return s;
}

} // namespace

TEST(SignedValue, HmacSha256OfRfc4231) {
    auto s = make({"Jefe"}); // test case 2
    EXPECT_EQ(to_hex(s->mac(0, "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // the same context again: re-initialised, not continued
    EXPECT_EQ(to_hex(s->mac(0, "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    auto big = make({std::string(131, '\xaa')}); // test case 6: a key longer than a block
    EXPECT_EQ(to_hex(big->mac(0, "Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(SignedValue, SignsAsThePythonSignerDid) {
    auto s = make({session_key});
    EXPECT_EQ(s->sign(R"({"visits":3})", 1795843160), python_value);
    EXPECT_EQ(s->sign("", 7), ".7.m8xis53KA-_T00nHfbaUSMHfKMSZ78Az8mEO3AZKuOk");
    EXPECT_EQ(s->sign(std::string_view("\xff\xfe\x00"
                                       "ab",
                                       5),
                      1),
              "__4AYWI.1.Ffx5JfbwGOxoR7SsVNo4FEXvWXx3Z1rMmVP8GaGq568");
}

TEST(SignedValue, OpensWhatItSignedAndWhatPythonSigned) {
    auto s = make({session_key});
    rt::signed_opened o;
    ASSERT_EQ(s->open(python_value, 3600, 1795843160 + 3600, o), rt::signed_refusal::none);
    EXPECT_EQ(o.payload, R"({"visits":3})");
    EXPECT_EQ(o.issued, 1795843160);
    EXPECT_EQ(o.key_index, 0U);
    std::string binary("\x00\x01\xff", 3);
    ASSERT_EQ(s->open(s->sign(binary, 5), -1, 1'000'000'000'000, o), rt::signed_refusal::none);
    EXPECT_EQ(o.payload, binary);
}

TEST(SignedValue, RefusesExpiredTamperedAndMalformed) {
    auto s = make({session_key});
    rt::signed_opened o;
    EXPECT_EQ(s->open(python_value, 3600, 1795843160 + 3601, o), rt::signed_refusal::expired);
    std::string v(python_value);
    for (size_t i = 0; i < v.size(); ++i) { // every single-character change
        if (v[i] == '.') {
            continue;
        }
        std::string t = v;
        t[i] = t[i] == 'A' ? 'B' : 'A';
        auto r = s->open(t, -1, 0, o);
        EXPECT_TRUE(r == rt::signed_refusal::bad_signature || r == rt::signed_refusal::malformed) << t;
    }
    for (std::string_view bad : {"", ".", "..", "abc", "eyJ9.12.", "eyJ9..8Yx7AWikw5j8Zsoc4HBsKq7Qjko5BpjMhWUhhYNUMK4",
                                 "eyJ9.1a.8Yx7AWikw5j8Zsoc4HBsKq7Qjko5BpjMhWUhhYNUMK4",
                                 "eyJ9.1234567890123.8Yx7AWikw5j8Zsoc4HBsKq7Qjko5BpjMhWUhhYNUMK4",
                                 "eyJ9.1.2.8Yx7AWikw5j8Zsoc4HBsKq7Qjko5BpjMhWUhhYNUMK4",
                                 "eyJ2aXNpdHMiOjN9.1795843160.8Yx7AWikw5j8Zsoc4HBsKq7Qjko5BpjMhWUhhYNUMK4=",
                                 "eyJ2aXNpdHMiOjN9.1795843160.8Yx7AWikw5j8Zsoc4HBsKq7Qjko5BpjMhWUhhYNUMK"}) {
        EXPECT_EQ(s->open(bad, -1, 0, o), rt::signed_refusal::malformed) << bad;
    }
    // a MAC of the same value by another key
    auto other = make({std::string(32, 'x')});
    EXPECT_EQ(other->open(python_value, -1, 0, o), rt::signed_refusal::bad_signature);
}

TEST(SignedValue, OldKeysVerifyTheFirstSigns) {
    auto rotated = make({std::string(32, 'n'), session_key});
    rt::signed_opened o;
    ASSERT_EQ(rotated->open(python_value, -1, 0, o), rt::signed_refusal::none);
    EXPECT_EQ(o.key_index, 1U);
    ASSERT_EQ(rotated->open(rotated->sign("x", 3), -1, 0, o), rt::signed_refusal::none);
    EXPECT_EQ(o.key_index, 0U);
    EXPECT_EQ(make({session_key})->open(rotated->sign("x", 3), -1, 0, o), rt::signed_refusal::bad_signature);
}

TEST(SignedValue, ThreadsOpenAtOnce) {
    auto s = make({std::string(32, 'n'), session_key});
    std::atomic<int> opened{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 500; ++i) {
                rt::signed_opened o;
                std::string mine = s->sign(std::to_string(t * 1000 + i), i);
                if (s->open(mine, -1, 0, o) == rt::signed_refusal::none && o.payload == std::to_string(t * 1000 + i) &&
                    s->open(python_value, -1, 0, o) == rt::signed_refusal::none && o.key_index == 1) {
                    opened.fetch_add(1);
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(opened.load(), 2000);
}
