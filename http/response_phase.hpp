// Where a response stands, one value per response: HTTP/1.1's owed entries and the HTTP/2
// and HTTP/3 streams (http/stream_exchange.hpp) keep it instead of started/ended/failed
// flags that had to agree.
#pragma once

#include <cstdint>

namespace ringbolt::http {

enum class response_phase : uint8_t {
    owed,    ///< nothing of the answer is out yet (no head framed or submitted)
    started, ///< the head is framed (or submitted); body pieces may follow
    ended,   ///< the whole answer is given: nothing more comes from its producer
    failed,  ///< cannot be completed: the connection closes (HTTP/1.1) or the stream is reset
};

/// Nothing more of this response comes (ended whole, or failed).
constexpr bool over(response_phase p) noexcept {
    return p >= response_phase::ended;
}

} // namespace ringbolt::http
