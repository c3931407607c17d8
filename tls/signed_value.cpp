#include "tls/signed_value.hpp"

#include "core/sha1.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <mutex>

namespace ringbolt::tls {

namespace {

constexpr size_t mac_bytes = 32;
constexpr size_t mac_text_bytes = 43; // base64url of 32 bytes, unpadded
constexpr size_t max_stamp_digits = 12;

} // namespace

struct value_signer::keyed {
    std::mutex lock;
    EVP_MAC_CTX* ctx = nullptr;
    ~keyed() { EVP_MAC_CTX_free(ctx); }
};

std::unique_ptr<value_signer> value_signer::make(const std::vector<std::string>& keys, std::string& error) {
    if (keys.empty()) {
        error = "a signer needs at least one key";
        return nullptr;
    }
    EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (hmac == nullptr) {
        error = "OpenSSL offers no HMAC";
        return nullptr;
    }
    std::unique_ptr<value_signer> s(new value_signer());
    char digest[] = "SHA256";
    for (const std::string& key : keys) {
        auto k = std::make_unique<keyed>();
        k->ctx = EVP_MAC_CTX_new(hmac);
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
        if (k->ctx == nullptr ||
            EVP_MAC_init(k->ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
            EVP_MAC_free(hmac);
            error = "OpenSSL refused an HMAC-SHA256 key";
            return nullptr;
        }
        s->_keys.push_back(std::move(k));
    }
    EVP_MAC_free(hmac); // each context holds its own reference
    return s;
}

value_signer::~value_signer() = default;

bool value_signer::mac_into(size_t index, std::string_view data, unsigned char (&out)[32]) const {
    keyed& k = *_keys.at(index);
    size_t len = 0;
    std::lock_guard guard(k.lock);
    // A null key re-initialises with the key set at make(): its hashed blocks are kept.
    return EVP_MAC_init(k.ctx, nullptr, 0, nullptr) == 1 &&
           EVP_MAC_update(k.ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
           EVP_MAC_final(k.ctx, out, &len, sizeof out) == 1 && len == mac_bytes;
}

std::string value_signer::mac(size_t index, std::string_view data) const {
    unsigned char out[mac_bytes];
    if (!mac_into(index, data, out)) {
        return {}; // verifies nothing
    }
    return std::string(reinterpret_cast<const char*>(out), mac_bytes);
}

std::string value_signer::sign(std::string_view payload, int64_t now) const {
    std::string value;
    core::append_base64url(value, payload);
    value.push_back('.');
    value.append(std::to_string(now));
    std::string m = mac(0, value);
    value.push_back('.');
    core::append_base64url(value, m);
    return value;
}

signed_refusal value_signer::open(std::string_view value, int64_t max_age, int64_t now, signed_opened& out) const {
    size_t last = value.rfind('.');
    if (last == std::string_view::npos) {
        return signed_refusal::malformed;
    }
    std::string_view body = value.substr(0, last);
    std::string_view sig = value.substr(last + 1);
    size_t first = body.find('.');
    if (first == std::string_view::npos || sig.size() != mac_text_bytes) {
        return signed_refusal::malformed;
    }
    std::string_view stamp = body.substr(first + 1);
    if (stamp.empty() || stamp.size() > max_stamp_digits) {
        return signed_refusal::malformed;
    }
    int64_t issued = 0;
    for (char c : stamp) {
        if (c < '0' || c > '9') {
            return signed_refusal::malformed;
        }
        issued = issued * 10 + (c - '0');
    }
    bool matched = false;
    for (size_t i = 0; i < _keys.size() && !matched; ++i) {
        unsigned char m[mac_bytes];
        char text[mac_text_bytes];
        if (mac_into(i, body, m) && core::base64url_encode(m, mac_bytes, text) == mac_text_bytes &&
            CRYPTO_memcmp(text, sig.data(), mac_text_bytes) == 0) {
            matched = true;
            out.key_index = i;
        }
    }
    if (!matched) {
        return signed_refusal::bad_signature;
    }
    if (max_age >= 0 && now - issued > max_age) {
        return signed_refusal::expired;
    }
    // signed by a key holder, so base64url; checked all the same
    out.payload.clear();
    if (!core::base64url_decode(body.substr(0, first), out.payload, true)) {
        return signed_refusal::malformed;
    }
    out.issued = issued;
    return signed_refusal::none;
}

} // namespace ringbolt::tls
