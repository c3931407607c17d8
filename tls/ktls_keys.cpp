// TLS 1.3 traffic keys for the kernel (see ktls_keys.hpp).
#include "tls/ktls_keys.hpp"

#include <cstddef>
#include <cstring>
#include <linux/tls.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/ssl.h>

namespace ringbolt::tls {

namespace {

// A key log line's hex digit (OpenSSL writes lower case): its value, or -1.
int hex_digit(unsigned char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    unsigned char lower = c | 0x20;
    return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
}

const EVP_MD* handshake_digest(const SSL_CIPHER* c) noexcept {
    return c != nullptr ? SSL_CIPHER_get_handshake_digest(c) : nullptr;
}

// RFC 8446 §7.1: HKDF-Expand-Label(secret, label, "", len), by OpenSSL's TLS13-KDF.
bool expand_label(const EVP_MD* md, const traffic_secret& secret, std::string_view label, unsigned char* out,
                  size_t len) noexcept {
    static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_TLS1_3_KDF, nullptr);
    if (kdf == nullptr || md == nullptr || secret.len == 0) {
        return false;
    }
    EVP_KDF_CTX* k = EVP_KDF_CTX_new(kdf);
    if (k == nullptr) {
        return false;
    }
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    static constexpr char prefix[] = "tls13 ";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(EVP_MD_get0_name(md)), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(secret.bytes), secret.len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, const_cast<char*>(prefix), sizeof(prefix) - 1),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, const_cast<char*>(label.data()), label.size()),
        OSSL_PARAM_construct_end(),
    };
    bool ok = EVP_KDF_derive(k, out, len, params) == 1;
    EVP_KDF_CTX_free(k);
    ERR_clear_error();
    return ok;
}

// The kernel's struct for one cipher: its key, and the 12-byte nonce split as it wants
// it (salt: the first 4 bytes where the struct has one; iv: the rest).
template <typename Info>
size_t fill(uint16_t type, const EVP_MD* md, const traffic_secret& secret, uint64_t seq,
            unsigned char (&out)[64]) noexcept {
    static_assert(sizeof(Info) <= sizeof(out));
    Info info{};
    unsigned char nonce[12];
    static_assert(sizeof(info.salt) + sizeof(info.iv) == sizeof(nonce));
    if (!expand_label(md, secret, "key", info.key, sizeof(info.key)) ||
        !expand_label(md, secret, "iv", nonce, sizeof(nonce))) {
        OPENSSL_cleanse(&info, sizeof(info));
        return 0;
    }
    info.info.version = TLS_1_3_VERSION;
    info.info.cipher_type = type;
    std::memcpy(info.salt, nonce, sizeof(info.salt));
    std::memcpy(info.iv, nonce + sizeof(info.salt), sizeof(info.iv));
    for (size_t i = 0; i < sizeof(info.rec_seq); ++i) {
        info.rec_seq[i] = static_cast<unsigned char>(seq >> (8 * (sizeof(info.rec_seq) - 1 - i)));
    }
    std::memcpy(out, &info, sizeof(info));
    OPENSSL_cleanse(&info, sizeof(info));
    OPENSSL_cleanse(nonce, sizeof(nonce));
    return sizeof(Info);
}

} // namespace

void traffic_secret::wipe() noexcept {
    OPENSSL_cleanse(bytes, sizeof(bytes));
    len = 0;
}

bool read_keylog_secret(std::string_view line, std::string_view label, traffic_secret& out) noexcept {
    if (line.size() <= label.size() || line.substr(0, label.size()) != label || line[label.size()] != ' ') {
        return false;
    }
    size_t space = line.find(' ', label.size() + 1); // after the client random
    if (space == std::string_view::npos) {
        return false;
    }
    std::string_view hex = line.substr(space + 1);
    if (hex.size() % 2 != 0 || hex.size() / 2 > sizeof(out.bytes) || hex.empty()) {
        return false;
    }
    traffic_secret s;
    for (size_t i = 0; i < hex.size() / 2; ++i) {
        int hi = hex_digit(static_cast<unsigned char>(hex[2 * i]));
        int lo = hex_digit(static_cast<unsigned char>(hex[2 * i + 1]));
        if (hi < 0 || lo < 0) {
            s.wipe();
            return false;
        }
        s.bytes[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    s.len = static_cast<uint8_t>(hex.size() / 2);
    out = s;
    s.wipe();
    return true;
}

size_t tls13_kernel_keys(const SSL_CIPHER* c, const traffic_secret& secret, uint64_t seq,
                         unsigned char (&out)[64]) noexcept {
    const EVP_MD* md = handshake_digest(c);
    if (md == nullptr) {
        return 0;
    }
    size_t n = 0;
    switch (SSL_CIPHER_get_id(c) & 0xffff) { // RFC 8446 §B.4
    case 0x1301:
        n = fill<tls12_crypto_info_aes_gcm_128>(TLS_CIPHER_AES_GCM_128, md, secret, seq, out);
        break;
    case 0x1302:
        n = fill<tls12_crypto_info_aes_gcm_256>(TLS_CIPHER_AES_GCM_256, md, secret, seq, out);
        break;
    case 0x1303:
        n = fill<tls12_crypto_info_chacha20_poly1305>(TLS_CIPHER_CHACHA20_POLY1305, md, secret, seq, out);
        break;
    case 0x1304:
        n = fill<tls12_crypto_info_aes_ccm_128>(TLS_CIPHER_AES_CCM_128, md, secret, seq, out);
        break;
    default:
        return 0;
    }
    return n;
}

namespace {
template <typename Info> bool advance(unsigned char* keys, uint64_t records) noexcept {
    unsigned char* seq = keys + offsetof(Info, rec_seq); // big-endian, 8 bytes
    uint64_t n = 0;
    for (size_t i = 0; i < sizeof(Info::rec_seq); ++i) {
        n = n << 8 | seq[i];
    }
    n += records;
    for (size_t i = 0; i < sizeof(Info::rec_seq); ++i) {
        seq[i] = static_cast<unsigned char>(n >> (8 * (sizeof(Info::rec_seq) - 1 - i)));
    }
    return true;
}
} // namespace

bool advance_record_sequence(unsigned char* keys, size_t len, uint64_t records) noexcept {
    tls_crypto_info head{};
    if (len < sizeof(head)) {
        return false;
    }
    std::memcpy(&head, keys, sizeof(head));
    switch (head.cipher_type) {
    case TLS_CIPHER_AES_GCM_128:
        return len == sizeof(tls12_crypto_info_aes_gcm_128) && advance<tls12_crypto_info_aes_gcm_128>(keys, records);
    case TLS_CIPHER_AES_GCM_256:
        return len == sizeof(tls12_crypto_info_aes_gcm_256) && advance<tls12_crypto_info_aes_gcm_256>(keys, records);
    case TLS_CIPHER_CHACHA20_POLY1305:
        return len == sizeof(tls12_crypto_info_chacha20_poly1305) &&
               advance<tls12_crypto_info_chacha20_poly1305>(keys, records);
    case TLS_CIPHER_AES_CCM_128:
        return len == sizeof(tls12_crypto_info_aes_ccm_128) && advance<tls12_crypto_info_aes_ccm_128>(keys, records);
    default:
        return false;
    }
}

bool tls13_next_secret(const SSL_CIPHER* cipher, traffic_secret& secret) noexcept {
    traffic_secret next;
    next.len = secret.len;
    bool ok = expand_label(handshake_digest(cipher), secret, "traffic upd", next.bytes, next.len);
    secret.wipe();
    if (ok) {
        secret = next;
    }
    next.wipe();
    return ok;
}

} // namespace ringbolt::tls
