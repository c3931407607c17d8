// The anti-replay store of 0-RTT (RFC 8446 §8.2, RFC 9001 §9.2): the ClientHellos whose
// early data a server took, each remembered until GnuTLS's window for it has passed, so
// that a replayed first flight gets its early data refused. One table in memory shared by
// every reactor thread and, under a supervisor, every worker process (it is mapped from a
// file descriptor the supervisor made before forking them): a replay that reaches another
// worker than its original (a worker died, was replaced, and the steering moved) is
// refused there too.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <span>
#include <string>

namespace ringbolt::quic {

class replay_store {
  public:
    /// Slots in the table: 2^21 of 8 bytes (16 MiB, shared, touched as it fills). An entry
    /// lives for the anti-replay window (the ticket lifetime, tls_session.cpp), so this
    /// bounds the 0-RTT handshakes a window: past a full bucket early data is refused
    /// (the client sends its requests again after the handshake), never replayed.
    static constexpr size_t slots = size_t{1} << 21;
    static constexpr size_t bytes = slots * sizeof(uint64_t);
    /// Slots a ClientHello may take: two cache lines. (With 8, the first hello to find
    /// its bucket full came after some 290,000 in replay_store_test: 14% of the table.)
    static constexpr size_t bucket = 16;

    /// A table of this process's own (no supervisor). nullptr with `error` set when the
    /// memory cannot be mapped.
    static std::shared_ptr<replay_store> make_private(std::string& error);
    /// The table in `fd` (a memfd the supervisor made, shared by its workers): sized to
    /// `bytes` if it is not yet, and mapped shared.
    static std::shared_ptr<replay_store> map_shared(int fd, std::string& error);
    ~replay_store();
    replay_store(const replay_store&) = delete;
    replay_store& operator=(const replay_store&) = delete;

    enum class verdict : uint8_t {
        fresh, ///< first seen: its early data may be taken
        seen,  ///< remembered (a replay, or the same hello racing in elsewhere): refuse
        full,  ///< no room in its bucket: refuse (safe; the client falls back to 1-RTT)
    };
    /// Remember `key` (GnuTLS's: the window's start and the PSK binder) until `expires`
    /// (seconds, the clock `now` is on) unless it is remembered already.
    verdict remember(std::span<const uint8_t> key, time_t expires, time_t now) noexcept;

  private:
    explicit replay_store(void* map) noexcept : _slots(static_cast<std::atomic<uint64_t>*>(map)) {}
    std::atomic<uint64_t>* _slots;
};

} // namespace ringbolt::quic
