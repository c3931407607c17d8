// The layer between a connection's socket and its protocol. Plain TCP passes bytes
// through; a TLS transport (userspace OpenSSL, or kTLS once the handshake is done)
// decrypts what arrives and encrypts what the protocol queued, without the protocol
// knowing. The reactor talks to every connection through this interface.
#pragma once

#include "core/counters.hpp"
#include "core/output_queue.hpp"
#include "core/proxy_info.hpp"
#include "core/tls_info.hpp"
#include "uring/ktls_calls.hpp"

#include <cstdint>
#include <memory>
#include <string_view>

namespace ringbolt::transport {

/// The client a load balancer's PROXY header named (transport/proxy_transport.hpp).
struct proxied_client {
    uint8_t family = 0; ///< AF_INET / AF_INET6
    uint8_t addr[16] = {};
    uint16_t port = 0; ///< host byte order
    bool tls = false;  ///< the client spoke TLS to the balancer (version 2's PP2_TYPE_SSL)
    /// The rest of what the header said, owned by the transport (alive while the
    /// connection is); the reactor adds the balancer's address before a request exists.
    core::proxy_info* info = nullptr;
};

class transport {
  public:
    virtual ~transport() = default;
    /// Bytes from the socket; returns the plaintext for the protocol (valid until the
    /// next call; may be empty while a handshake is in progress).
    virtual std::string_view on_wire_data(std::string_view bytes) noexcept = 0;
    /// The queue the reactor sends from, given the protocol's plaintext queue: the same
    /// queue for plain TCP; TLS moves records from `plain` into its own queue here (or,
    /// once kTLS took the sending over, returns `plain` itself). Asked only when no send
    /// of the connection is in flight.
    virtual core::output_queue& wire_output(core::output_queue& plain) noexcept = 0;
    /// File ranges may go out with sendfile() (false for userspace TLS: they must be
    /// read and encrypted).
    virtual bool zero_copy_files() const noexcept = 0;

    // The rest matters only to transports with state of their own (TLS); the reactor
    // asks them only of a slot that has such a transport (conn_slot::own_tp), so plain
    // TCP pays nothing for them.

    /// Bytes of the transport's own waiting to go out (handshake records, alerts,
    /// encrypted records not yet taken, plaintext taken but not yet encrypted).
    virtual bool has_output() const noexcept { return false; }
    /// The transport failed (bad handshake, bad record): send what it queued (an
    /// alert), then close without a graceful shutdown. Never set by plain TCP.
    virtual bool failed() const noexcept { return false; }
    /// The peer ended its side in-band (TLS close_notify): treat it as end of input.
    virtual bool peer_closed() const noexcept { return false; }
    /// The handshake is complete (plain TCP: at once).
    virtual bool established() const noexcept { return true; }
    /// Queue an in-band end of output (TLS close_notify) before the connection closes.
    /// True when something was queued (send it, then ask again); false: nothing to add.
    virtual bool shut_output() noexcept { return false; }
    /// The socket reached end of input: a transport counts (and logs) what that cut
    /// off mid-way (a handshake, a record).
    virtual void on_eof() noexcept {}
    /// Coarse second by which the handshake must be done (0: none).
    virtual uint32_t handshake_deadline() const noexcept { return 0; }
    /// The handshake deadline passed: count and log it (the reactor closes).
    virtual void on_handshake_timeout() noexcept {}
    /// The protocol ALPN chose ("" when none, or plain TCP).
    virtual std::string_view alpn() const noexcept { return {}; }
    /// The connection's TLS facts for the application, filled when the handshake
    /// completes (null for plain TCP); asked once when the connection opens.
    virtual const core::tls_info* tls_info() const noexcept { return nullptr; }
    /// The connection is TLS (a request's scheme is https).
    virtual bool secure() const noexcept { return false; }
    /// The connection's socket, told once when it opens, and the io layer's calls on it
    /// (its backend's): kTLS hands the keys to the kernel through them, writes the few TLS
    /// records of its own (session tickets, alerts) with their record type, from
    /// wire_output (the reactor asks only when no send is in flight), and reads a
    /// received record other than data (read_kernel_record). A transport makes no socket
    /// call of its own.
    virtual void attach_socket(int fd, uring::ktls_calls& calls) noexcept {
        (void)fd;
        (void)calls;
    }
    /// kTLS's receiving: true when the transport could hand its receiving keys to the
    /// kernel now (the handshake is done, and what was received so far ended on a record's
    /// end); each true counts one of a few tries. The reactor then ends the socket's
    /// receive, and once nothing it received is in flight calls start_kernel_receive().
    virtual bool wants_kernel_receive() noexcept { return false; }
    /// The receiving keys to the kernel, if still possible (checked again): from then on
    /// the socket's bytes are plaintext, which on_wire_data passes through.
    virtual void start_kernel_receive() noexcept {}
    /// A receive ended with EIO: on a socket whose kernel receives, a TLS record other
    /// than application data waits (an alert, a KeyUpdate). Reads and acts on it (a
    /// close_notify is peer_closed(), a bad one failed()); false: the connection is over.
    /// `data`: application bytes read instead, for the protocol.
    virtual bool read_kernel_record(std::string_view& data) noexcept {
        (void)data;
        return false;
    }
    /// A receive ended with EBADMSG: on a socket whose kernel receives, a record that
    /// does not decrypt. The transport fails (failed()), with its alert to send; false:
    /// not a socket whose kernel receives (an error like any other).
    virtual bool on_bad_kernel_record() noexcept { return false; }
    /// A load balancer's PROXY header named the client this connection serves: true once,
    /// as soon as the header is read, with the client in `out` (the reactor asks after
    /// each input while the protocol has seen nothing yet).
    virtual bool take_proxied_client(proxied_client& out) noexcept {
        (void)out;
        return false;
    }
};

/// Makes the transport of each accepted connection (TLS); shared by every reactor, so
/// make() is thread-safe. Without one, connections are plain TCP.
class transport_factory {
  public:
    virtual ~transport_factory() = default;
    /// `counters` are the accepting reactor's (the transport counts into them).
    virtual std::unique_ptr<transport> make(core::core_counters& counters, uint32_t now_s) noexcept = 0;
};

/// Plain TCP: the identity. Stateless, so one instance serves every connection.
class plain_transport final : public transport {
  public:
    std::string_view on_wire_data(std::string_view bytes) noexcept override { return bytes; }
    core::output_queue& wire_output(core::output_queue& plain) noexcept override { return plain; }
    bool zero_copy_files() const noexcept override { return true; }
    static plain_transport& instance() noexcept {
        static plain_transport t;
        return t;
    }
};

} // namespace ringbolt::transport
