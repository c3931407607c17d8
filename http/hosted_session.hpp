// What a protocol that runs inside a connection or a stream writes through: a WebSocket
// after its handshake is hosted by an HTTP/1.1 connection (its output queue) or by an
// HTTP/2 stream (its DATA), and writes the same frames to either.
#pragma once

#include "core/output_queue.hpp"

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

} // namespace ringbolt::http
