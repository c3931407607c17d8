// Native rate limits (app.rate_limit, a route's rate_limit=): per key (the client's
// address, or an API key header's value), counted in a fixed-size table of memory shared
// by every reactor and, under a supervisor, every worker process (mapped from a memfd it
// made before forking them), so one limit holds across --workers. Lock-free: a worker
// killed in the middle of an update leaves nothing locked for the others.
#pragma once

#include "http/app_message.hpp"
#include "http/parser.hpp"
#include "http/problem.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ringbolt::dispatch {

class trusted_proxies;

enum class rate_algorithm : uint8_t {
    /// The sliding window counter (the last window's count weighed by how much of it still
    /// overlaps the sliding window, plus this window's): no burst at a window's edge.
    sliding_window,
    /// A token bucket of `limit` tokens refilled at limit/window, as GCRA (RFC-less: the
    /// ATM Forum's generic cell rate algorithm): one timestamp per key.
    token_bucket,
};

enum class rate_key : uint8_t {
    client, ///< the client's address: the PROXY header's, or trusted forwarding's (--proxy-headers)
    header, ///< the value of a request header (an API key); without it, the client's address
};

/// One limit as configured; its table lives in the shared memory (rate_memory).
struct rate_policy {
    uint32_t limit = 1;        ///< requests a window (1..max_limit)
    uint64_t window_ms = 1000; ///< the window (1 ms .. max_window_ms)
    rate_algorithm algorithm = rate_algorithm::sliding_window;
    rate_key key = rate_key::client;
    std::string header;       ///< when key is header: its name
    bool send_headers = true; ///< allowed answers carry the RateLimit-* fields too
    size_t slots = 65536;     ///< keys the table holds (rounded up to a bucket)
    /// The bits of an IPv6 client's address its key is made of (16..128; 64: one host is
    /// usually given a /64). An IPv4 client, or one written IPv4-mapped, keys on its IPv4
    /// address.
    uint8_t ipv6_prefix = 64;
};

inline constexpr uint32_t max_rate_limit = 65535;                        ///< counts are 16 bits
inline constexpr uint64_t max_rate_window_ms = uint64_t{366} * 86400000; ///< a year
inline constexpr size_t rate_bucket = 8;                                 ///< slots a key may take: two cache lines

/// The refusal's body (RFC 9457; Retry-After and the RateLimit-* fields say the rest).
inline constexpr std::string_view problem_too_many_requests = RINGBOLT_PROBLEM(
    "Too Many Requests", 429, "This client sent more requests than the route's rate limit allows; see Retry-After.");

/// A policy's check for one request.
struct rate_decision {
    bool allowed = true;
    uint32_t remaining = 0;   ///< requests left now (after this one)
    uint64_t reset_s = 0;     ///< seconds until the quota is whole again (RateLimit-Reset)
    uint64_t retry_after = 0; ///< refused: seconds until a request is allowed again (>= 1)
    bool evicted = false;     ///< the key's bucket was full: another key's entry was dropped
};

/// The mapped memory every policy's table is carved from: a header (a random seed, so
/// clients cannot aim keys at one bucket) and the tables, in policy order.
class rate_memory {
  public:
    /// `fd` -1: this process's own memory; else a memfd (the supervisor's, shared by its
    /// workers), sized to `bytes` if smaller. nullptr with `error` set on failure.
    static std::shared_ptr<rate_memory> map(int fd, size_t bytes, std::string& error);
    ~rate_memory();
    rate_memory(const rate_memory&) = delete;
    rate_memory& operator=(const rate_memory&) = delete;

    static constexpr size_t header_bytes = 64;
    /// Bytes the table of `slots` keys takes (each slot: a key word and a state word).
    static size_t table_bytes(size_t slots) noexcept;
    uint64_t seed() const noexcept { return _seed; }
    void* at(size_t offset) const noexcept { return static_cast<char*>(_map) + offset; }
    size_t size() const noexcept { return _bytes; }

  private:
    rate_memory(void* map, size_t bytes) noexcept;
    void* _map;
    size_t _bytes;
    uint64_t _seed = 0;
    std::atomic<bool> _warned{false}; ///< the full table was logged (once)
};

/// One policy and its table. Configured before the server starts (attach), then used by
/// every reactor at once.
class rate_limiter {
  public:
    explicit rate_limiter(rate_policy p);

    const rate_policy& policy() const noexcept { return _policy; }
    size_t slots() const noexcept { return _buckets * rate_bucket; }
    /// Its table: `table_bytes(slots())` of `mem` from `offset`.
    void attach(std::shared_ptr<rate_memory> mem, size_t offset) noexcept;

    /// Count one request of `key` at `now_us` (rate_clock_us's clock): allowed or not.
    rate_decision hit(std::string_view key, uint64_t now_us) noexcept;

    /// The request's key text (into `out`): the header's value when the policy keys on
    /// one and the request has it, else the client address: the forwarded one when the
    /// peer is a trusted proxy (`proxies`), else the connection's (its PROXY header's);
    /// an IPv6 address cut to the policy's ipv6_prefix, an IPv4-mapped one as IPv4.
    void key_of(const http::request_head& head, const http::peer_address& peer, const trusted_proxies& proxies,
                std::string& out) const;

    /// The RateLimit-* fields (and Retry-After when refused) for `d`, appended to `out`.
    void append_fields(const rate_decision& d, std::string& out) const;

  private:
    struct slot {
        std::atomic<uint64_t> key;   ///< the key's 64-bit hash (0: empty)
        std::atomic<uint64_t> state; ///< 12 bits of the hash over the algorithm's state
    };
    static_assert(std::atomic<uint64_t>::is_always_lock_free, "the table is shared between processes");
    uint64_t advance(uint64_t state, uint64_t tag, uint64_t now_us, rate_decision& d) const noexcept;
    bool idle(uint64_t state, uint64_t now_us) const noexcept;
    uint64_t freshness(uint64_t state) const noexcept;

    rate_policy _policy;
    std::string _policy_field; ///< "RateLimit-Policy: 5;w=60\r\n"
    size_t _buckets = 0;
    std::shared_ptr<rate_memory> _mem;
    slot* _slots = nullptr;
    uint64_t _seed = 0;
    std::atomic<bool> _warned{false}; ///< the full table was logged (once)
};

/// The limiters' clock: CLOCK_MONOTONIC in microseconds (one clock for every process of
/// the machine). Tests only: RINGBOLT_TEST_RATE_CLOCK_FILE names a file holding seconds
/// to add to it, read on every call.
uint64_t rate_clock_us() noexcept;

/// "5;w=60" etc. for a window in ms: the window in whole seconds (at least 1).
uint64_t rate_window_seconds(uint64_t window_ms) noexcept;

} // namespace ringbolt::dispatch
