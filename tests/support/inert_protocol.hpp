// A protocol that does nothing, for tests that probe the seams around one (the registry,
// a protocol switch): they derive from it and override only what they look at.
#pragma once

#include "http/protocol.hpp"

namespace ringbolt::test_support {

struct inert_protocol : http::protocol {
    void open(uint32_t, uint32_t, const http::peer_address&, uint32_t, const http::connection_limits&) override {}
    bool on_data(std::string_view, http::protocol_env&) override { return true; }
    void pump(http::protocol_env&) override {}
    bool has_pending_input() const noexcept override { return false; }
    void on_app_message(http::app_response&&, http::protocol_env&) override {}
    void respond(uint64_t, const http::request_context&, uint16_t, std::string_view, std::string_view,
                 http::protocol_env&) override {}
    void on_peer_eof(http::protocol_env&) override {}
    void on_timeout(http::protocol_env&) override {}
    bool begin_drain(uint32_t, uint32_t) override { return true; }
    void release() noexcept override {}
    bool closing() const noexcept override { return false; }
    bool close_after_flush() const noexcept override { return false; }
    bool idle() const noexcept override { return true; }
    bool nothing_owed() const noexcept override { return true; }
    size_t outstanding() const noexcept override { return 0; }
    uint32_t deadline() const noexcept override { return 0; }
    uint64_t requests_seen() const noexcept override { return 0; }
};

} // namespace ringbolt::test_support
