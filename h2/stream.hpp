// What h2/connection.cpp and h2/response.cpp share: a stream's state (the exchange both
// HTTP/2 and HTTP/3 keep, http/stream_exchange.hpp, plus HTTP/2's own) and the output
// queue's drain hook.
#pragma once

#include "h2/connection.hpp"
#include "http/stream_exchange.hpp"

namespace ringbolt::h2 {

/// One stream: its request as it arrives, then its response as it is produced.
struct connection::stream : http::stream_exchange {
    int32_t id = 0;
    // A streamed request body: the stream's window is given back only as the app takes
    // it (WINDOW_UPDATE follows the app's reads). The connection's window is not held:
    // DATA is credited to it as it arrives (connection::on_data_chunk).
    uint64_t consumed = 0; ///< of `received`, given back to the stream's flow-control window
};

struct connection::drain_hook final : public core::send_credit {
    connection* conn;
    explicit drain_hook(connection* c) : conn(c) {}
    void on_sent(size_t) noexcept override {
        if (conn != nullptr) {
            conn->_hook_armed = false;
            conn->on_output_drained();
        }
    }
};

} // namespace ringbolt::h2
