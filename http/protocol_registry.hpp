// The protocol every connection starts with, those it can leave HTTP/1.1 for, and how
// each is chosen: TLS's ALPN id, a connection preface sent with prior knowledge, or an
// HTTP/1.1 `Upgrade` token the server answers itself. Filled by the composition root
// (server/protocols.cpp, one line a protocol); the reactor asks it at accept and at a TLS
// connection's first plaintext, HTTP/1.1 when its first bytes fail to parse or a request
// carries `Upgrade`. Read-only once filled.
#pragma once

#include "http/protocol.hpp"

#include <memory>
#include <string_view>
#include <vector>

namespace ringbolt::http {

/// How a protocol is chosen. Every way is optional (empty: not chosen that way); the
/// views name string literals (they are kept, not copied).
struct protocol_choice {
    std::string_view name;    ///< what logs and tests call it ("h2")
    std::string_view alpn;    ///< the ALPN protocol id (RFC 7301) that selects it on a TLS connection
    std::string_view preface; ///< what a client sends first to speak it with prior knowledge
    std::string_view upgrade; ///< the `Upgrade` token (RFC 9110 §7.8) answered with a 101 in cleartext
};

class protocol_registry {
  public:
    /// The shortest start of a preface that chooses it: a parse fails on the first line,
    /// possibly before the whole preface has arrived.
    static constexpr size_t preface_prefix_min = 3;

    /// Builds the protocol every connection starts with (HTTP/1.1: the composition root
    /// says so, server/protocols.cpp); a slot makes one and reuses it.
    using first_factory = std::unique_ptr<protocol> (*)();
    void set_first(first_factory make) noexcept { _first = make; }
    /// A new first protocol (null when none was set).
    std::unique_ptr<protocol> make_first() const { return _first != nullptr ? _first() : nullptr; }

    /// Register `make` (which builds the protocol) to be chosen as `how` says.
    void add(const protocol_choice& how, std::unique_ptr<protocol_upgrade> make);

    /// The protocol TLS's ALPN chose (`id` as negotiated), or null: HTTP/1.1 serves it.
    protocol_upgrade* by_alpn(std::string_view id) const noexcept;
    /// The protocol whose preface `first_bytes` (a connection's first bytes, all or a
    /// start of at least preface_prefix_min of them) begin with, or null.
    protocol_upgrade* by_preface(std::string_view first_bytes) const noexcept;
    /// The protocol an `Upgrade` header value (a list of tokens) asks for, first match in
    /// registration order, or null; `token` is set to the token the 101 names.
    protocol_upgrade* by_upgrade(std::string_view upgrade_value, std::string_view& token) const noexcept;

    /// The ALPN ids of the registered protocols, in registration order (the server's
    /// preference: what TLS offers first).
    std::vector<std::string_view> alpn_ids() const;

    bool empty() const noexcept { return _entries.empty(); }
    const protocol_choice* find(std::string_view name) const noexcept;

  private:
    struct entry {
        protocol_choice how;
        std::unique_ptr<protocol_upgrade> make;
    };
    std::vector<entry> _entries;
    first_factory _first = nullptr;
};

} // namespace ringbolt::http
