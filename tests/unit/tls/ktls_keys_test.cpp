// The kernel's TLS 1.3 keys (tls/ktls_keys.hpp), checked against OpenSSL's own records:
// a client and a server SSL in memory, the server's traffic secret from the key log, and
// the records the server encrypts opened with the keys derived here (the kernel's struct
// read back: its key, and its salt and iv as the record nonce), before and after a
// KeyUpdate, for each cipher suite. Runs on any kernel: nothing here asks it for kTLS.
#include "tests/unit/tls/test_cert.hpp"
#include "tls/ktls_keys.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <linux/tls.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <string>

namespace ringbolt::tls {
namespace {

traffic_secret g_server_secret;

void keylog(const SSL*, const char* line) {
    read_keylog_secret(line, "SERVER_TRAFFIC_SECRET_0", g_server_secret);
}

/// The key and the 12-byte nonce base of a kernel struct, whatever its cipher.
struct opened_keys {
    std::string key;
    unsigned char nonce[12];
    uint64_t seq = 0;
};

template <typename Info> opened_keys read_back(const unsigned char (&raw)[64]) {
    Info info;
    std::memcpy(&info, raw, sizeof(info));
    opened_keys k;
    k.key.assign(reinterpret_cast<const char*>(info.key), sizeof(info.key));
    std::memcpy(k.nonce, info.salt, sizeof(info.salt));
    std::memcpy(k.nonce + sizeof(info.salt), info.iv, sizeof(info.iv));
    for (unsigned char b : info.rec_seq) {
        k.seq = k.seq << 8 | b;
    }
    return k;
}

opened_keys read_back(uint16_t type, const unsigned char (&raw)[64]) {
    switch (type) {
    case TLS_CIPHER_AES_GCM_256:
        return read_back<tls12_crypto_info_aes_gcm_256>(raw);
    case TLS_CIPHER_CHACHA20_POLY1305:
        return read_back<tls12_crypto_info_chacha20_poly1305>(raw);
    case TLS_CIPHER_AES_CCM_128:
        return read_back<tls12_crypto_info_aes_ccm_128>(raw);
    default:
        return read_back<tls12_crypto_info_aes_gcm_128>(raw);
    }
}

/// RFC 8446 §5.2-5.3: open one record (header, ciphertext and tag) with `k` at sequence
/// `seq`; the inner plaintext (content, then its type) or "" when it does not open.
std::string open_record(const EVP_CIPHER* aead, const opened_keys& k, uint64_t seq, const std::string& record) {
    constexpr size_t tag = 16;
    if (record.size() < 5 + tag) {
        return {};
    }
    unsigned char nonce[12];
    std::memcpy(nonce, k.nonce, sizeof(nonce));
    for (int i = 0; i < 8; ++i) {
        nonce[4 + i] ^= static_cast<unsigned char>(seq >> (8 * (7 - i)));
    }
    const auto* in = reinterpret_cast<const unsigned char*>(record.data());
    size_t body = record.size() - 5 - tag;
    std::string out(body, '\0');
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    int len = 0;
    int fin = 0;
    bool ok =
        EVP_DecryptInit_ex(c, aead, nullptr, nullptr, nullptr) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) == 1 &&
        (EVP_CIPHER_get_mode(aead) != EVP_CIPH_CCM_MODE ||
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tag, const_cast<unsigned char*>(in + 5 + body)) == 1) &&
        EVP_DecryptInit_ex(c, nullptr, nullptr, reinterpret_cast<const unsigned char*>(k.key.data()), nonce) == 1 &&
        (EVP_CIPHER_get_mode(aead) != EVP_CIPH_CCM_MODE ||
         EVP_DecryptUpdate(c, nullptr, &len, nullptr, static_cast<int>(body)) == 1) &&
        EVP_DecryptUpdate(c, nullptr, &len, in, 5) == 1 &&
        EVP_DecryptUpdate(c, reinterpret_cast<unsigned char*>(out.data()), &len, in + 5, static_cast<int>(body)) == 1;
    if (ok && EVP_CIPHER_get_mode(aead) != EVP_CIPH_CCM_MODE) {
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tag, const_cast<unsigned char*>(in + 5 + body)) == 1 &&
             EVP_DecryptFinal_ex(c, reinterpret_cast<unsigned char*>(out.data()) + len, &fin) == 1;
    }
    EVP_CIPHER_CTX_free(c);
    return ok ? out : std::string();
}

/// The records in `wire`, whole.
std::vector<std::string> records(const std::string& wire) {
    std::vector<std::string> out;
    for (size_t at = 0; at + 5 <= wire.size();) {
        size_t len = static_cast<unsigned char>(wire[at + 3]) << 8 | static_cast<unsigned char>(wire[at + 4]);
        out.push_back(wire.substr(at, 5 + len));
        at += 5 + len;
    }
    return out;
}

std::string drain(BIO* b) {
    std::string s;
    char buf[4096];
    int n;
    while ((n = BIO_read(b, buf, sizeof(buf))) > 0) {
        s.append(buf, static_cast<size_t>(n));
    }
    return s;
}

struct suite {
    const char* name;
    const EVP_CIPHER* (*aead)();
    uint16_t kernel_type;
};

class KtlsKeys : public ::testing::TestWithParam<suite> {};

TEST_P(KtlsKeys, OpenTheServersRecordsBeforeAndAfterAKeyUpdate) {
    const suite& s = GetParam();
    static testing::cert_files cert = testing::make_cert("ktls.test");
    SSL_CTX* sctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
    ASSERT_EQ(SSL_CTX_use_certificate_chain_file(sctx, cert.cert.c_str()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(sctx, cert.key.c_str(), SSL_FILETYPE_PEM), 1);
    for (SSL_CTX* c : {sctx, cctx}) {
        SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
        ASSERT_EQ(SSL_CTX_set_ciphersuites(c, s.name), 1);
    }
    SSL_CTX_set_num_tickets(sctx, 0); // the first record after the handshake is the test's
    SSL_CTX_set_keylog_callback(sctx, keylog);
    g_server_secret.wipe();
    SSL* server = SSL_new(sctx);
    SSL* client = SSL_new(cctx);
    BIO* to_client = BIO_new(BIO_s_mem());
    BIO* to_server = BIO_new(BIO_s_mem());
    SSL_set_bio(server, to_server, to_client);
    BIO_up_ref(to_client);
    BIO_up_ref(to_server);
    SSL_set_bio(client, to_client, to_server);
    SSL_set_accept_state(server);
    SSL_set_connect_state(client);
    for (int i = 0; i < 10 && (SSL_is_init_finished(server) == 0 || SSL_is_init_finished(client) == 0); ++i) {
        SSL_do_handshake(client);
        SSL_do_handshake(server);
    }
    ASSERT_TRUE(SSL_is_init_finished(server) && SSL_is_init_finished(client));
    ASSERT_NE(g_server_secret.len, 0);
    const SSL_CIPHER* cipher = SSL_get_current_cipher(server);
    const EVP_CIPHER* aead = s.aead();

    unsigned char raw[64];
    size_t n = tls13_kernel_keys(cipher, g_server_secret, 0, raw);
    ASSERT_NE(n, 0u);
    tls_crypto_info head;
    std::memcpy(&head, raw, sizeof(head));
    EXPECT_EQ(head.version, TLS_1_3_VERSION);
    EXPECT_EQ(head.cipher_type, s.kernel_type);
    opened_keys k = read_back(s.kernel_type, raw);
    EXPECT_EQ(k.seq, 0u);

    drain(to_client); // the handshake's last flight, read by the client already
    ASSERT_EQ(SSL_write(server, "hello", 5), 5);
    std::vector<std::string> first = records(drain(to_client));
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(open_record(aead, k, 0, first[0]), std::string("hello\x17", 6));
    EXPECT_EQ(open_record(aead, k, 1, first[0]), ""); // the sequence number counts

    // A KeyUpdate (under generation 0, the record after "hello"), then generation 1.
    ASSERT_EQ(SSL_key_update(server, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
    ASSERT_EQ(SSL_write(server, "again", 5), 5);
    std::vector<std::string> second = records(drain(to_client));
    ASSERT_EQ(second.size(), 2u);
    EXPECT_EQ(open_record(aead, k, 1, second[0]), std::string("\x18\x00\x00\x01\x00\x16", 6));
    traffic_secret next = g_server_secret;
    ASSERT_TRUE(tls13_next_secret(cipher, next));
    EXPECT_NE(std::memcmp(next.bytes, g_server_secret.bytes, next.len), 0);
    ASSERT_NE(tls13_kernel_keys(cipher, next, 0, raw), 0u);
    opened_keys k1 = read_back(s.kernel_type, raw);
    EXPECT_EQ(open_record(aead, k1, 0, second[1]), std::string("again\x17", 6));
    EXPECT_EQ(open_record(aead, k, 2, second[1]), ""); // not under the old keys

    // A sequence number other than 0 is written big-endian into rec_seq.
    ASSERT_NE(tls13_kernel_keys(cipher, g_server_secret, 0x0102030405060708ULL, raw), 0u);
    EXPECT_EQ(read_back(s.kernel_type, raw).seq, 0x0102030405060708ULL);
    next.wipe();
    SSL_free(client);
    SSL_free(server);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
}

INSTANTIATE_TEST_SUITE_P(Suites, KtlsKeys,
                         ::testing::Values(suite{"TLS_AES_128_GCM_SHA256", EVP_aes_128_gcm, TLS_CIPHER_AES_GCM_128},
                                           suite{"TLS_AES_256_GCM_SHA384", EVP_aes_256_gcm, TLS_CIPHER_AES_GCM_256},
                                           suite{"TLS_CHACHA20_POLY1305_SHA256", EVP_chacha20_poly1305,
                                                 TLS_CIPHER_CHACHA20_POLY1305},
                                           suite{"TLS_AES_128_CCM_SHA256", EVP_aes_128_ccm, TLS_CIPHER_AES_CCM_128}),
                         [](const ::testing::TestParamInfo<suite>& i) { return std::string(i.param.name); });

TEST(KtlsKeys, KeyLogLines) {
    traffic_secret s;
    EXPECT_TRUE(read_keylog_secret("SERVER_TRAFFIC_SECRET_0 00ff 0a0B", "SERVER_TRAFFIC_SECRET_0", s));
    ASSERT_EQ(s.len, 2);
    EXPECT_EQ(s.bytes[0], 0x0a);
    EXPECT_EQ(s.bytes[1], 0x0b);
    traffic_secret t;
    EXPECT_FALSE(read_keylog_secret("CLIENT_TRAFFIC_SECRET_0 00ff 0a0b", "SERVER_TRAFFIC_SECRET_0", t));
    EXPECT_FALSE(read_keylog_secret("SERVER_TRAFFIC_SECRET_0 00ff 0a0", "SERVER_TRAFFIC_SECRET_0", t));  // odd
    EXPECT_FALSE(read_keylog_secret("SERVER_TRAFFIC_SECRET_0 00ff 0a0x", "SERVER_TRAFFIC_SECRET_0", t)); // not hex
    EXPECT_FALSE(read_keylog_secret("SERVER_TRAFFIC_SECRET_0 00ff", "SERVER_TRAFFIC_SECRET_0", t));      // no secret
    EXPECT_FALSE(read_keylog_secret("SERVER_TRAFFIC_SECRET_0 00ff " + std::string(98, 'a'), "SERVER_TRAFFIC_SECRET_0",
                                    t)); // longer than any digest
    EXPECT_EQ(t.len, 0);
}

// TLS 1.2's receiving keys come from OpenSSL with the sequence number of the client's
// Finished; the kernel gets them that many records on as OpenSSL has read since: the
// big-endian rec_seq field of each struct moves, carries across its bytes, and nothing
// else in the struct changes.
template <typename Info> void check_advance(uint16_t type) {
    Info info{};
    info.info.version = TLS_1_2_VERSION;
    info.info.cipher_type = type;
    std::memset(info.key, 0x5a, sizeof(info.key));
    std::memset(info.iv, 0x3c, sizeof(info.iv));
    info.rec_seq[7] = 0xfe; // 254, so that 3 records on carries into the next byte
    unsigned char bytes[sizeof(Info)];
    std::memcpy(bytes, &info, sizeof(info));
    ASSERT_TRUE(advance_record_sequence(bytes, sizeof(bytes), 3));
    Info after{};
    std::memcpy(&after, bytes, sizeof(after));
    const unsigned char want[8] = {0, 0, 0, 0, 0, 0, 1, 1}; // 257
    EXPECT_EQ(std::memcmp(after.rec_seq, want, sizeof(want)), 0);
    EXPECT_EQ(std::memcmp(after.key, info.key, sizeof(info.key)), 0);
    EXPECT_EQ(std::memcmp(after.iv, info.iv, sizeof(info.iv)), 0);
    EXPECT_EQ(after.info.cipher_type, type);
    // A struct of another size for the cipher is refused, untouched.
    EXPECT_FALSE(advance_record_sequence(bytes, sizeof(bytes) - 1, 1));
    EXPECT_EQ(std::memcmp(bytes, &after, sizeof(after)), 0);
}

TEST(KtlsKeys, Tls12KeysMoveOnByTheRecordsRead) {
    check_advance<tls12_crypto_info_aes_gcm_128>(TLS_CIPHER_AES_GCM_128);
    check_advance<tls12_crypto_info_aes_gcm_256>(TLS_CIPHER_AES_GCM_256);
    check_advance<tls12_crypto_info_chacha20_poly1305>(TLS_CIPHER_CHACHA20_POLY1305);
    check_advance<tls12_crypto_info_aes_ccm_128>(TLS_CIPHER_AES_CCM_128);
    unsigned char unknown[64] = {};
    unknown[2] = 0xff; // a cipher type the kernel has no struct for
    EXPECT_FALSE(advance_record_sequence(unknown, sizeof(unknown), 1));
}

} // namespace
} // namespace ringbolt::tls
