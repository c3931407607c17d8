// An extended CONNECT on a stream (RFC 8441 on HTTP/2, RFC 9220 on HTTP/3): the stream
// carries a WebSocket once the app accepts it. What a stream keeps for it, and the output
// through which the hosted session writes into the stream's pending DATA. The rules of its
// life (the handshake, the accept, the session's data and ends, its clocks) are
// stream_protocol's (http/stream_exchange.hpp, http/stream_tunnel.cpp), so that both
// protocols follow one copy of them.
#pragma once

#include "http/hosted_session.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace ringbolt::http {

struct stream_exchange;

/// Where an extended CONNECT's stream stands.
enum class tunnel_phase : uint8_t {
    awaiting, ///< the handshake is with the app: DATA waits, uncredited
    hosting,  ///< accepted (200): the stream's DATA is the hosted session's, both ways
};

/// How a stream protocol ends a tunnel's stream (each maps it to its reset code).
enum class tunnel_end : uint8_t {
    failed,   ///< the session could not be made, or the app's answer broke
    refused,  ///< the app answered 2xx without accepting (only an accepted WebSocket may)
    lingered, ///< the session is over and the client kept its side open past the linger
};

/// What a stream keeps once its head named a :protocol (null on an ordinary stream, and
/// again once a refused handshake is answered as an ordinary request).
struct stream_tunnel {
    std::string protocol; ///< :protocol as received
    tunnel_phase phase = tunnel_phase::awaiting;
    std::unique_ptr<session_output> out;     ///< the session's frames into the stream's `pending`
    std::unique_ptr<hosted_session> session; ///< set while hosting
    uint32_t linger_until = 0;               ///< the session is over: the client's end is awaited until then
};

/// A hosted session's output: pieces of the stream's pending DATA, paced by the client's
/// flow control like any answer's body, each credited to the session's producer as it is
/// sent (HTTP/2) or acknowledged (HTTP/3).
class exchange_output final : public session_output {
  public:
    explicit exchange_output(stream_exchange& st) : _st(st) {}
    void append(std::string_view bytes, const std::shared_ptr<core::send_credit>& credit) override;
    void append_owned(std::string&& bytes, std::shared_ptr<core::send_credit> credit) override;
    void append_borrowed(std::string_view bytes, std::shared_ptr<const void> keep,
                         std::shared_ptr<core::send_credit> credit) override;

  private:
    stream_exchange& _st;
};

} // namespace ringbolt::http
