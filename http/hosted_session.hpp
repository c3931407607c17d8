// A protocol that runs inside a connection or a stream once its request switched, and
// what it writes through: a WebSocket after its handshake is hosted by an HTTP/1.1
// connection (its output queue) or by an HTTP/2 stream (its DATA, RFC 8441), and writes
// the same frames to either.
#pragma once

#include "core/counters.hpp"
#include "core/output_queue.hpp"
#include "http/app_message.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ringbolt::http {

/// The host's output for a hosted session's bytes. `credit` (may be null) is told
/// (send_credit::on_sent) as the bytes reach the kernel: the session's producer counts
/// its unsent bytes by it.
class session_output {
  public:
    virtual ~session_output() = default;
    /// A copy of `bytes`.
    virtual void append(std::string_view bytes, const std::shared_ptr<core::send_credit>& credit) = 0;
    /// `bytes`, moved in.
    virtual void append_owned(std::string&& bytes, std::shared_ptr<core::send_credit> credit) = 0;
    /// `bytes` from the producer's own buffer, which `keep` keeps alive until they are sent.
    virtual void append_borrowed(std::string_view bytes, std::shared_ptr<const void> keep,
                                 std::shared_ptr<core::send_credit> credit) = 0;
};

/// A session_output over a connection's output queue (HTTP/1.1's host).
class queue_output final : public session_output {
  public:
    explicit queue_output(core::output_queue& out) : _out(out) {}
    void append(std::string_view bytes, const std::shared_ptr<core::send_credit>& credit) override {
        if (credit) {
            _out.append_credited(bytes, credit);
        } else {
            _out.append(bytes);
        }
    }
    void append_owned(std::string&& bytes, std::shared_ptr<core::send_credit> credit) override {
        _out.append_owned(std::move(bytes), std::move(credit));
    }
    void append_borrowed(std::string_view bytes, std::shared_ptr<const void> keep,
                         std::shared_ptr<core::send_credit> credit) override {
        _out.append_borrowed(bytes, std::move(keep), std::move(credit));
    }

  private:
    core::output_queue& _out;
};

/// A session its host feeds the bytes of its connection or stream (ws::session). What it
/// writes goes to the session_output the host gave it when it was made.
class hosted_session {
  public:
    virtual ~hosted_session() = default;
    /// Bytes from the peer. False when ignored (the session is done).
    virtual bool on_data(std::string_view data, uint32_t now_s) = 0;
    /// Parse what backpressure held back, if it may go on now.
    virtual void pump() = 0;
    /// Reading paused for backpressure (the application has not taken what it was given).
    virtual bool held() const noexcept = 0;
    /// Bytes received and not parsed yet: a stream host credits its flow-control window
    /// only for what was parsed, so held-back input stops its client.
    virtual size_t buffered() const noexcept = 0;
    /// A message from the application about this session.
    virtual void on_app_message(app_response&& m, uint32_t now_s) = 0;
    /// The peer stopped sending (TCP EOF, END_STREAM), `why` for the application.
    virtual void on_peer_end(std::string_view why) = 0;
    /// deadline() passed.
    virtual void on_timeout(uint32_t now_s) = 0;
    /// The server drains; true when the session is done already.
    virtual bool begin_drain(uint32_t now_s) = 0;
    /// The carrier is gone (connection closed, stream reset): the application hears it.
    virtual void release() noexcept = 0;
    /// Finished: the host ends its carrier once the output is sent.
    virtual bool done() const noexcept = 0;
    /// Whole second of the next on_timeout (0: none).
    virtual uint32_t deadline() const noexcept = 0;
};

/// What a protocol_upgrade (http/protocol.hpp) that may also run on a stream implements
/// besides: after an HTTP/2 extended CONNECT (RFC 8441), accepted with a 200 instead of a
/// 101, the stream hosts the protocol as a session (ws::upgrade). The stream's protocol
/// asks for it (dynamic_cast, once per switch); an upgrade without it needs a connection
/// of its own and is refused on a stream.
class stream_upgrade {
  public:
    virtual ~stream_upgrade() = default;
    /// The session, writing to `out` (the host's, outliving it).
    virtual std::unique_ptr<hosted_session> make_hosted(session_output& out, uint32_t now_s,
                                                        core::core_counters& counters) = 0;
};

} // namespace ringbolt::http
