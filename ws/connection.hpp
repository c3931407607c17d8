// A WebSocket connection (RFC 6455) as a protocol behind the reactor: after the 101 the
// HTTP/1.1 connection is handed to this thin host of a ws::session (ws/session.hpp),
// which does the WebSocket itself; here are the connection's input state, its output
// queue, its deadline and its close (the server closes the TCP connection first, §7.1.1).
#pragma once

#include "http/hosted_session.hpp"
#include "http/protocol.hpp"
#include "ws/session.hpp"

#include <cstdint>
#include <memory>
#include <string_view>

namespace ringbolt::ws {

class connection final : public http::protocol {
  public:
    connection(std::shared_ptr<app_channel> channel, const settings& cfg);
    ~connection() override;

    /// Serve from now: `pending` arrived after the handshake and is parsed first.
    void start(std::string_view pending, uint32_t now_s, core::core_counters& counters);

    // http::protocol
    void open(uint32_t slot, uint32_t gen, const http::peer_address& peer, uint32_t now_s,
              const http::connection_limits& lim) override;
    bool on_data(std::string_view data, http::protocol_env& env) override;
    void pump(http::protocol_env& env) override;
    bool has_pending_input() const noexcept override { return input_held() && !_session.done(); }
    /// The application's messages (ws::session::on_app_message).
    void on_app_message(http::app_response&& m, http::protocol_env& env) override;
    void respond(uint64_t seq, const http::request_context& ctx, uint16_t status, std::string_view fields,
                 std::string_view body, http::protocol_env& env) override;
    void on_timeout(http::protocol_env& env) override;
    /// Sends close 1001 and gives the client `close_timeout_s` to answer; never closes at once.
    bool begin_drain(uint32_t now_s, uint32_t grace_s) override;
    void release() noexcept override;

    bool closing() const noexcept override { return _session.done(); }
    bool close_after_flush() const noexcept override { return _session.done(); }
    bool idle() const noexcept override { return false; }
    bool nothing_owed() const noexcept override { return _session.done(); }
    size_t outstanding() const noexcept override { return 0; }
    uint32_t deadline() const noexcept override { return _session.deadline(); }
    uint64_t requests_seen() const noexcept override { return 1; }

  protected:
    /// A TCP close without a close frame: the application hears 1006.
    void on_peer_eof(http::protocol_env& env) override;

  private:
    /// The protocol's input state follows the session's backpressure.
    void sync_input() noexcept;

    http::queue_output _queue{_out};
    session _session;
};

/// What the application's 101 carries: makes the connection with its channel and settings
/// (HTTP/1.1), or the session an HTTP/2 stream hosts (RFC 8441).
class upgrade final : public http::protocol_upgrade, public http::stream_upgrade {
  public:
    upgrade(std::shared_ptr<app_channel> channel, const settings& cfg) : _chan(std::move(channel)), _cfg(cfg) {}
    std::unique_ptr<http::protocol> make(uint32_t slot, uint32_t gen, const http::peer_address& peer,
                                         std::string_view pending, http::protocol_env& env) override;
    std::unique_ptr<http::hosted_session> make_hosted(http::session_output& out, uint32_t now_s,
                                                      core::core_counters& counters) override;

  private:
    std::shared_ptr<app_channel> _chan;
    settings _cfg;
};

} // namespace ringbolt::ws
