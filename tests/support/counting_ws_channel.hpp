// A WebSocket application channel for tests and fuzz targets that counts what the
// connection tells it: message bytes delivered (and taken), framed and sent, and closes.
// What a message or the close means is the test's own (on_message, on_closed).
#pragma once

#include "ws/connection.hpp"

#include <cstddef>
#include <cstdint>

namespace ringbolt::test_support {

struct counting_ws_channel : ws::app_channel {
    uint64_t delivered = 0;      ///< message bytes handed over (a test's on_message adds them)
    uint64_t taken = 0;          ///< of those, what the application took (set by the test)
    int closed = 0;              ///< on_closed calls (a test's on_closed counts them)
    uint64_t framed_payload = 0; ///< the application's message bytes framed
    uint64_t framed_wire = 0;    ///< their bytes on the wire
    uint64_t sent = 0;           ///< wire bytes sent: the credit given back
    uint64_t unconsumed() const noexcept override { return delivered - taken; }
    void on_framed(uint64_t payload, uint64_t wire) noexcept override {
        framed_payload += payload;
        framed_wire += wire;
    }
    void on_sent(size_t n) noexcept override { sent += n; }
};

} // namespace ringbolt::test_support
