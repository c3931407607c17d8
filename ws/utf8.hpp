// Incremental UTF-8 validation (RFC 3629) for text messages, which may arrive split at
// any byte across frames and reads: RFC 6455 §8.1 requires failing the connection as
// soon as the bytes cannot be valid, not at the end of the message.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringbolt::ws {

class utf8_validator {
  public:
    /// Feed the next bytes. False as soon as they cannot be part of valid UTF-8
    /// (overlongs, surrogates, code points above U+10FFFF, bad continuation bytes),
    /// even if the sequence is unfinished; the validator then stays failed.
    bool feed(std::string_view bytes) noexcept;
    /// The bytes fed so far end on a character boundary (a message may end here).
    bool complete() const noexcept { return _state == 0; }
    void reset() noexcept { _state = 0; }

  private:
    uint32_t _state = 0; ///< 0: at a boundary; else the decoder's state (failed is sticky)
};

/// One-shot check of a whole buffer.
bool valid_utf8(std::string_view bytes) noexcept;

} // namespace ringbolt::ws
