// What h3/connection.cpp and h3/response.cpp share: a request stream's state (the exchange
// both HTTP/2 and HTTP/3 keep, http/stream_exchange.hpp, plus what QUIC adds: its response
// bytes are held until acknowledged).
#pragma once

#include "h3/connection.hpp"
#include "http/stream_exchange.hpp"

#include <deque>

namespace ringbolt::h3 {

struct connection::stream : http::stream_exchange {
    /// As new, for the connection's next stream (see stream_exchange::reuse).
    void reuse() noexcept;
    int64_t id = 0;
    uint64_t head_wire = 0; ///< stream bytes fed before the head ended (the encoded block, bounded)
    // A streamed request body is credited to the transport only as the app takes it, so
    // a stream buffers at most the transport's stream window.
    uint64_t credited = 0;     ///< of `received`, reported to stream_host::consumed
    bool refused = false;      ///< reset by us before an answer (its input is dropped)
    bool write_closed = false; ///< RESET_STREAM sent (or asked for by the peer's STOP_SENDING)
    /// The app was handed the request and has not answered yet (no head, end or abort):
    /// its work goes on even when the stream is gone, and the stream counts against the
    /// cap (and is not given back to the client) until it ends.
    bool app_working = false;
    bool gone = false;                       ///< the transport closed the stream: only the app's work is left
    bool cancel_counted = false;             ///< the client's cancel (reset, STOP_SENDING) was counted
    std::deque<http::stream_piece> inflight; ///< handed to the session: held until acknowledged
    uint64_t inflight_bytes = 0;             ///< handed and not acknowledged
};

} // namespace ringbolt::h3
