// A WebSocket connection (RFC 6455) as a protocol behind the reactor: it takes the
// connection over after the 101, reads frames (unmasking, UTF-8 validation, message
// assembly, permessage-deflate), answers pings and the close handshake natively, hands
// whole messages to the application's channel and frames what the application sends.
// Pure over bytes and events like HTTP/1.1: no socket, output to the output queue.
#pragma once

#include "http/protocol.hpp"
#include "ws/deflate.hpp"
#include "ws/frame.hpp"
#include "ws/utf8.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ringbolt::ws {

/// Close codes (RFC 6455 §7.4.1).
namespace close_code {
inline constexpr uint16_t normal = 1000;
inline constexpr uint16_t going_away = 1001;
inline constexpr uint16_t protocol_error = 1002;
inline constexpr uint16_t unsupported_data = 1003;
inline constexpr uint16_t no_status = 1005; ///< never on the wire: the close frame had no code
inline constexpr uint16_t abnormal = 1006;  ///< never on the wire: the connection dropped without a close
inline constexpr uint16_t invalid_payload = 1007;
inline constexpr uint16_t policy = 1008;
inline constexpr uint16_t too_big = 1009;
inline constexpr uint16_t internal_error = 1011;
} // namespace close_code

/// A close code an endpoint may send (§7.4.1, §7.4.2 and the IANA registry: 1012-1014
/// were registered after the RFC).
bool sendable_close_code(uint16_t code) noexcept;

struct settings {
    uint64_t max_message = 16u << 20;      ///< bytes of a message (after decompression); more: close 1009
    uint64_t read_window = 1u << 20;       ///< message bytes the app has not taken before reading pauses
    uint32_t ping_interval_s = 20;         ///< idle this long, the server pings (0: never)
    uint32_t ping_timeout_s = 20;          ///< no frame this long after a ping: close 1011 (0: wait for ever)
    uint32_t close_timeout_s = 5;          ///< after our close frame, how long the client has to answer it
    std::optional<deflate_params> deflate; ///< permessage-deflate as negotiated (none: off)
    deflate_config deflate_cfg;
};

/// The application's end of one WebSocket (implemented where the application lives).
/// The connection calls it on the reactor thread; as a send_credit it learns how many
/// bytes of the application's messages reached the kernel (its send flow control).
class app_channel : public core::send_credit {
  public:
    /// A whole message: text (valid UTF-8) or binary.
    virtual void on_message(opcode op, std::string&& payload) noexcept = 0;
    /// The WebSocket is closing or gone, once: the client's close code (1005 when its
    /// close frame had none), the code the server failed the connection with, or 1006
    /// when it dropped without a close frame.
    virtual void on_closed(uint16_t code, std::string_view reason) noexcept = 0;
    /// Message bytes delivered and not taken yet (above settings::read_window, reading pauses).
    virtual uint64_t unconsumed() const noexcept = 0;
    /// One of the application's messages of `payload` bytes went to the queue as `wire`
    /// bytes with credit (compression changes the count): its flow control counts those.
    virtual void on_framed(uint64_t payload, uint64_t wire) noexcept = 0;
};

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
    bool has_pending_input() const noexcept override { return input_held() && _state != state::done; }
    /// The application's messages: part_message (text, binary, close with a code and
    /// reason), part_read_more (it took messages: reading may go on), part_abort.
    void on_app_message(http::app_response&& m, http::protocol_env& env) override;
    void respond(uint64_t seq, const http::request_context& ctx, uint16_t status, std::string_view fields,
                 std::string_view body, http::protocol_env& env) override;
    void on_timeout(http::protocol_env& env) override;
    /// Sends close 1001 and gives the client `close_timeout_s` to answer; never closes at once.
    bool begin_drain(uint32_t now_s, uint32_t grace_s) override;
    void release() noexcept override;

    bool closing() const noexcept override { return _state == state::done; }
    bool close_after_flush() const noexcept override { return _state == state::done; }
    bool idle() const noexcept override { return false; }
    bool nothing_owed() const noexcept override { return _state == state::done; }
    size_t outstanding() const noexcept override { return 0; }
    uint32_t deadline() const noexcept override { return _deadline; }
    uint64_t requests_seen() const noexcept override { return 1; }

  protected:
    /// A TCP close without a close frame: the application hears 1006.
    void on_peer_eof(http::protocol_env& env) override;

  private:
    enum class state : uint8_t {
        open,    ///< messages both ways
        closing, ///< our close frame is queued: waiting for the client's (data is discarded)
        done,    ///< the close handshake is over or the connection failed: close after the output
    };

    size_t process(std::string_view buf); ///< bytes used
    void consume_tail();
    bool begin_frame(const frame_header& h);    ///< false: failed
    void frame_payload(std::string_view piece); ///< unmasked in place into its buffer
    void end_frame();
    void end_message();
    void on_control();
    /// Fail the connection (§7.1.7): close frame with `code`, tell the app, close after the output.
    void fail(uint16_t code, std::string_view reason);
    void send_close(uint16_t code, std::string_view reason);
    void send_control(opcode op, std::string_view payload);
    void send_message(opcode op, std::string&& payload);
    void tell_closed(uint16_t code, std::string_view reason) noexcept;
    void set_idle_deadline(uint32_t now_s) noexcept;

    std::shared_ptr<app_channel> _chan;
    settings _cfg;
    std::unique_ptr<deflate_codec> _deflate;
    core::core_counters* _counters = nullptr; ///< the reactor's (set by start)
    state _state = state::open;
    bool _told = false;     ///< the channel heard on_closed
    bool _ping_out = false; ///< a ping is unanswered (its timeout runs)
    uint32_t _deadline = 0; ///< coarse seconds; 0: none
    std::string _tail;      ///< unparsed bytes (a partial frame header, or held-back input)

    // The frame being read.
    bool _in_frame = false;
    frame_header _frame;
    uint64_t _frame_done = 0; ///< payload bytes of _frame read so far (the mask's offset)
    // The message being assembled (data frames).
    bool _in_message = false;
    opcode _msg_op = opcode::text;
    bool _msg_compressed = false;
    std::string _msg;
    utf8_validator _utf8;
    std::string _control; ///< a control frame's payload (at most 125 bytes)
    std::string _inflated;
};

/// What the application's 101 carries: makes the connection with its channel and settings.
class upgrade final : public http::protocol_upgrade {
  public:
    upgrade(std::shared_ptr<app_channel> channel, const settings& cfg) : _chan(std::move(channel)), _cfg(cfg) {}
    std::unique_ptr<http::protocol> make(uint32_t slot, uint32_t gen, const http::peer_address& peer,
                                         std::string_view pending, http::protocol_env& env) override;

  private:
    std::shared_ptr<app_channel> _chan;
    settings _cfg;
};

} // namespace ringbolt::ws
