// TLS 1.3 traffic keys for the kernel's TLS layer (kTLS), where OpenSSL 3.0 gives it none:
// the receiving keys, and the new keys of a KeyUpdate. OpenSSL hands over each connection's first
// application traffic secrets through its key log callback (the NSS key log lines), and
// the keys of a secret, and the secret of the next generation, come from it by RFC 8446
// §7.1-7.3's HKDF-Expand-Label, which is OpenSSL's "TLS13-KDF". Nothing here is crypto of
// our own: it is the schedule's labels and the kernel's struct layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

using SSL_CIPHER = struct ssl_cipher_st;

namespace ringbolt::tls {

/// One direction's application traffic secret (the handshake digest's size: 32 or 48).
struct traffic_secret {
    unsigned char bytes[48] = {};
    uint8_t len = 0; ///< 0: none
    void wipe() noexcept;
};

/// From a key log line ("SERVER_TRAFFIC_SECRET_0 <client random> <secret>", hex): the
/// secret into `out` when the line is `label`'s. False for another label or a bad line.
bool read_keylog_secret(std::string_view line, std::string_view label, traffic_secret& out) noexcept;

/// The kernel's keys (struct tls12_crypto_info_*, TLS 1.3) for `secret` under the TLS 1.3
/// cipher suite `cipher`, starting at record sequence `seq`: their size, or 0 for a suite
/// the kernel has no struct for, or when the derivation failed. (Whether this kernel takes
/// that cipher is ktls_keys_size's to say.)
size_t tls13_kernel_keys(const SSL_CIPHER* cipher, const traffic_secret& secret, uint64_t seq,
                         unsigned char (&out)[64]) noexcept;

/// Moves the record sequence number of the kernel's keys `keys` (a struct
/// tls12_crypto_info_* of `len` bytes, as OpenSSL hands TLS 1.2's over) `records` on: the
/// keys then start at the record that many after. False for a struct of another size.
bool advance_record_sequence(unsigned char* keys, size_t len, uint64_t records) noexcept;

/// RFC 8446 §7.2: `secret` becomes the next generation's (application_traffic_secret_N+1).
bool tls13_next_secret(const SSL_CIPHER* cipher, traffic_secret& secret) noexcept;

} // namespace ringbolt::tls
