// The lifecycle rules every protocol's request streams obey (HTTP/1.1's one request at a
// time, HTTP/2's and HTTP/3's many), written once so that a protocol added later cannot
// forget one: how abuse of a connection is counted and when it ends the connection. The
// protocols call these; what each sends on the wire (GOAWAY, CONNECTION_CLOSE, a close)
// stays theirs.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringbolt::http {

struct peer_address;

/// A token bucket over the coarse clock: `burst` at once, `rate` per second after.
class frame_budget {
  public:
    void reset(uint32_t burst, uint32_t rate, uint32_t now_s) noexcept {
        _burst = burst;
        _rate = rate;
        _tokens = burst;
        _at = now_s;
    }
    /// Take one token; false when none is left (the peer floods).
    bool take(uint32_t now_s) noexcept {
        if (now_s != _at) {
            uint64_t refill = static_cast<uint64_t>(now_s - _at) * _rate;
            _tokens = static_cast<uint32_t>(refill + _tokens > _burst ? _burst : refill + _tokens);
            _at = now_s;
        }
        if (_tokens == 0) {
            return false;
        }
        --_tokens;
        return true;
    }

  private:
    uint32_t _burst = 0;
    uint32_t _rate = 0;
    uint32_t _tokens = 0;
    uint32_t _at = 0;
};

/// How much abuse one connection takes, the same on every protocol of streams.
struct abuse_limits {
    /// Streams the client resets (HTTP/2 RST_STREAM, HTTP/3 RESET_STREAM on a request
    /// stream) taken at once, then per second: past it the connection ends for abuse
    /// (CVE-2023-44487, rapid reset; HTTP/2 GOAWAY ENHANCE_YOUR_CALM, HTTP/3
    /// H3_EXCESSIVE_LOAD).
    uint32_t reset_burst = 200;
    uint32_t reset_rate = 20;
};

/// A connection ends for the peer's error (a protocol violation, a flood): what the
/// protocol sends says so on the wire (GOAWAY, CONNECTION_CLOSE with its code); this says
/// it once in the log, at debug (a client's fault is not the server's problem, but its
/// operator may want to see it): who, which protocol, the code's name and value, why.
void log_connection_error(const peer_address& peer, std::string_view protocol, std::string_view code_name,
                          uint64_t code, std::string_view reason) noexcept;

} // namespace ringbolt::http
