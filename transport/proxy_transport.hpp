// A connection behind a load balancer that speaks the PROXY protocol (--proxy-protocol):
// the header is read off the front of the connection, before TLS on a TLS listener, as
// balancers send it, and every byte after it goes to the transport behind (plain TCP or
// TLS). The client it names is what the connection serves (the reactor takes it once).
#pragma once

#include "core/proxy_info.hpp"
#include "transport/proxy_header.hpp"
#include "transport/transport.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace ringbolt::transport {

/// How a listener treats the header.
struct proxy_policy {
    uint8_t versions = 0; ///< proxy_v1, proxy_v2 or both; 0: off
    /// The most a version 2 header may announce after its fixed part: all the spec allows
    /// (TLVs padded with PP2_TYPE_NOOP, as HAProxy pads, included). Only a trusted balancer
    /// gets this far (another peer's header is refused at its first bytes), and what it
    /// holds is bounded by this and by timeout_s, as a request head is by its limits.
    size_t max_v2 = proxy_v2_max_length;
    uint32_t timeout_s = 10; ///< the whole header within this (--header-timeout)
};

class proxy_transport final : public transport {
  public:
    /// `inner`: the transport behind the header (null: plain TCP). `trusted`: the socket's
    /// peer is a balancer (--forwarded-allow-ips): its header is required; from any other
    /// peer a header is refused and the connection is served as the peer's own.
    proxy_transport(std::unique_ptr<transport> inner, const proxy_policy& policy, bool trusted,
                    core::core_counters& counters, uint32_t now_s) noexcept;

    std::string_view on_wire_data(std::string_view bytes) noexcept override;
    core::output_queue& wire_output(core::output_queue& plain) noexcept override;
    bool zero_copy_files() const noexcept override;
    bool has_output() const noexcept override;
    bool failed() const noexcept override;
    bool peer_closed() const noexcept override;
    bool established() const noexcept override;
    bool shut_output() noexcept override;
    void on_eof() noexcept override;
    uint32_t handshake_deadline() const noexcept override;
    void on_handshake_timeout() noexcept override;
    std::string_view alpn() const noexcept override;
    const core::tls_info* tls_info() const noexcept override;
    bool secure() const noexcept override;
    bool take_proxied_client(proxied_client& out) noexcept override;
    void attach_socket(int fd, uring::ktls_calls& calls) noexcept override;
    // kTLS's receiving is the TLS transport's, once the header is behind.
    bool wants_kernel_receive() noexcept override { return through() && _inner->wants_kernel_receive(); }
    void start_kernel_receive() noexcept override {
        if (through()) {
            _inner->start_kernel_receive();
        }
    }
    bool read_kernel_record(std::string_view& data) noexcept override {
        return through() && _inner->read_kernel_record(data);
    }
    bool on_bad_kernel_record() noexcept override { return through() && _inner->on_bad_kernel_record(); }

    /// The header as read (for tests); valid once the header is done.
    const proxy_header& header() const noexcept { return _header; }

  private:
    enum class phase : uint8_t { header, through, refused };
    /// Bytes held while the header was read, now the inner transport's (kept in _rest:
    /// plain TCP hands the bytes themselves back, valid until the next call).
    std::string_view pass_held(std::string&& held) noexcept;
    void refuse(const char* why) noexcept;
    bool through() const noexcept { return _phase == phase::through && _inner != nullptr; }

    std::unique_ptr<transport> _inner;
    proxy_policy _policy;
    bool _trusted;
    core::core_counters& _counters;
    uint32_t _deadline;
    phase _phase = phase::header;
    std::string _held; ///< the header's start, until it is whole
    std::string _rest; ///< what came with it, given on
    proxy_header _header;
    bool _client_taken = true; ///< set false when a header names a client
    core::proxy_ref _info;     ///< what the header said, once the client is taken
};

} // namespace ringbolt::transport
