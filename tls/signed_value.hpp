#pragma once
// Signed values: `base64url(payload).timestamp.base64url(HMAC-SHA256)` (RFC 2104 through
// OpenSSL's EVP_MAC, base64url of RFC 4648 §5 without padding), what ringbolt.sessions
// puts in a session cookie. The first key signs, every key verifies (key rotation).
// `open` reads a value a client sent: nothing in it is trusted until the MAC matches
// (compared in constant time, on its text: one encoding of a MAC is the valid one).
//
// One value_signer is shared by the threads that run handlers: each key keeps a keyed
// EVP_MAC_CTX that is re-initialised per MAC under the key's own mutex (OpenSSL keeps the
// key's two SHA-256 blocks: a MAC of a short value is two compressions; 6,901
// instructions a call from Python against 16,635 through CPython's hmac,
// benchmarks/load/session_cost.py).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::tls {

// Why `open` refused a value (each one is an empty session, never an error).
enum class signed_refusal : uint8_t {
    none,          // opened: the payload is the signer's
    malformed,     // not payload.timestamp.signature, or not base64url and digits
    bad_signature, // no key made this MAC (tampered, or signed by a key not configured)
    expired,       // signed more than max_age seconds before now
};

struct signed_opened {
    std::string payload;
    int64_t issued = 0;   // the timestamp it was signed with (seconds)
    size_t key_index = 0; // the key that verified it (0: the signing key)
};

class value_signer {
  public:
    // keys: at least one; each is used as the HMAC key as it is. Returns null and sets
    // `error` when OpenSSL has no HMAC-SHA256 (a FIPS provider without it).
    static std::unique_ptr<value_signer> make(const std::vector<std::string>& keys, std::string& error);
    ~value_signer();
    value_signer(const value_signer&) = delete;
    value_signer& operator=(const value_signer&) = delete;

    // The HMAC-SHA256 of `data` with key `index` (32 bytes).
    [[nodiscard]] std::string mac(size_t index, std::string_view data) const;
    [[nodiscard]] size_t key_count() const noexcept { return _keys.size(); }

    // `base64url(payload).now.base64url(mac)` with the first key.
    [[nodiscard]] std::string sign(std::string_view payload, int64_t now) const;
    // max_age < 0: no age limit. A timestamp of more than 12 digits is malformed.
    [[nodiscard]] signed_refusal open(std::string_view value, int64_t max_age, int64_t now, signed_opened& out) const;

  private:
    struct keyed;
    // The MAC into `out`; false if OpenSSL failed (not reachable with a context make() accepted).
    bool mac_into(size_t index, std::string_view data, unsigned char (&out)[32]) const;
    value_signer() = default;
    std::vector<std::unique_ptr<keyed>> _keys;
};

} // namespace ringbolt::tls
