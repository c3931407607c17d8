// The layer between a connection's socket and its protocol. Plain TCP passes bytes
// through; a TLS transport (userspace OpenSSL, or kTLS once the handshake is done)
// decrypts what arrives and encrypts what the protocol queued, without the protocol
// knowing. The reactor talks to every connection through this interface.
#pragma once

#include "http/output_queue.hpp"

#include <string_view>

namespace ringbolt::uring {

class transport {
  public:
    virtual ~transport() = default;
    /// Bytes from the socket; returns the plaintext for the protocol (valid until the
    /// next call; may be empty while a handshake is in progress).
    virtual std::string_view on_wire_data(std::string_view bytes) noexcept = 0;
    /// The queue the reactor sends from, given the protocol's plaintext queue: the same
    /// queue for plain TCP; TLS moves records from `plain` into its own queue here.
    virtual http::output_queue& wire_output(http::output_queue& plain) noexcept = 0;
    /// File ranges may go out with sendfile() (false for userspace TLS: they must be
    /// read and encrypted).
    virtual bool zero_copy_files() const noexcept = 0;
};

/// Plain TCP: the identity. Stateless, so one instance serves every connection.
class plain_transport final : public transport {
  public:
    std::string_view on_wire_data(std::string_view bytes) noexcept override { return bytes; }
    http::output_queue& wire_output(http::output_queue& plain) noexcept override { return plain; }
    bool zero_copy_files() const noexcept override { return true; }
    static plain_transport& instance() noexcept {
        static plain_transport t;
        return t;
    }
};

} // namespace ringbolt::uring
