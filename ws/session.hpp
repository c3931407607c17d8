// One WebSocket (RFC 6455) after its handshake, whatever carries it: frames in (unmasking,
// UTF-8 validation, message assembly, permessage-deflate), pings and the close handshake
// answered natively, whole messages to the application's channel, the application's
// messages framed out to the host's output. Its host feeds it bytes: HTTP/1.1's
// connection after a 101 (ws/connection.hpp), an HTTP/2 stream after an extended CONNECT.
#pragma once

#include "core/counters.hpp"
#include "http/app_message.hpp"
#include "http/hosted_session.hpp"
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

class session final : public http::hosted_session {
  public:
    /// `out` is the host's, and outlives the session.
    session(std::shared_ptr<app_channel> channel, const settings& cfg, http::session_output& out);
    ~session() override;
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// Serve from now: `pending` arrived after the handshake and waits for the next pump.
    void start(std::string_view pending, uint32_t now_s, core::core_counters& counters);
    /// Bytes from the client. False when ignored (the WebSocket is done).
    bool on_data(std::string_view data, uint32_t now_s) override;
    /// Parse what backpressure held back, if the application took enough.
    void pump() override;
    /// Reading paused: the application has not taken its messages (settings::read_window).
    bool held() const noexcept override { return _held; }
    /// Bytes received and not parsed yet (held back, or a partial frame header).
    size_t buffered() const noexcept override { return _tail.size(); }
    /// The application's messages: part_message (text, binary, close with a code and
    /// reason), part_read_more (it took messages: reading may go on), part_abort.
    void on_app_message(http::app_response&& m, uint32_t now_s) override;
    /// The client stopped sending without a close frame: the application hears 1006.
    void on_peer_end(std::string_view why) override;
    void on_timeout(uint32_t now_s) override;
    /// Sends close 1001 and gives the client `close_timeout_s` to answer. True: done already.
    bool begin_drain(uint32_t now_s) override;
    /// The carrier is gone: the application hears 1006 unless it heard a close already.
    void release() noexcept override;

    /// The close handshake is over or the WebSocket failed: end once the output is sent.
    bool done() const noexcept override { return _state == state::done; }
    uint32_t deadline() const noexcept override { return _deadline; }

  private:
    enum class state : uint8_t {
        open,    ///< messages both ways
        closing, ///< our close frame is queued: waiting for the client's (data is discarded)
        done,    ///< the close handshake is over or the WebSocket failed: end after the output
    };

    size_t process(std::string_view buf); ///< bytes used
    void consume_tail();
    bool begin_frame(const frame_header& h);    ///< false: failed
    void frame_payload(std::string_view piece); ///< unmasked in place into its buffer
    void end_frame();
    void end_message();
    void on_control();
    /// Fail the WebSocket (§7.1.7): close frame with `code`, tell the app, end after the output.
    void fail(uint16_t code, std::string_view reason);
    void send_close(uint16_t code, std::string_view reason);
    void send_control(opcode op, std::string_view payload);
    void send_message(opcode op, std::string&& payload);
    void tell_closed(uint16_t code, std::string_view reason) noexcept;
    void set_idle_deadline(uint32_t now_s) noexcept;

    std::shared_ptr<app_channel> _chan;
    settings _cfg;
    http::session_output& _out;
    std::unique_ptr<deflate_codec> _deflate;
    core::core_counters* _counters = nullptr; ///< the reactor's (set by start)
    state _state = state::open;
    bool _held = false;     ///< reading paused for the application (or pending input waits for a pump)
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
};

} // namespace ringbolt::ws
