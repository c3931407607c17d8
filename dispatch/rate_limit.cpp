// The native rate limits' tables and algorithms (rate_limit.hpp). Each key has one slot of
// two words in a bucket of rate_bucket slots: its 64-bit hash, and its state (12 bits of the
// hash as a tag over the algorithm's 52). Every change is one compare-and-swap, so nothing
// is ever locked, and a process that dies between two leaves a table the others go on with.
#include "dispatch/rate_limit.hpp"

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"
#include "dispatch/proxy_headers.hpp"

#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringbolt::dispatch {

namespace {

constexpr uint64_t magic = 0x72625f726174656cULL; // "rb_ratel"
constexpr unsigned tag_shift = 52;
constexpr uint64_t payload_mask = (uint64_t{1} << tag_shift) - 1;
// Sliding window state: the window's number (20 bits), the last window's count and this one's.
constexpr unsigned window_shift = 32;
constexpr uint64_t window_mask = (uint64_t{1} << 20) - 1;

uint64_t mix(uint64_t x) noexcept { // splitmix64's finalizer: every input bit moves every output bit
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/// The key's hash under the table's secret seed (not a MAC: the seed only keeps clients from
/// choosing keys that share a bucket; the tag and the whole hash tell keys apart).
uint64_t hash_key(uint64_t seed, std::string_view key) noexcept {
    uint64_t h = mix(seed ^ (key.size() * 0x9e3779b97f4a7c15ULL));
    size_t i = 0;
    for (; i + 8 <= key.size(); i += 8) {
        uint64_t w;
        std::memcpy(&w, key.data() + i, 8);
        h = mix(h ^ mix(w + seed));
    }
    uint64_t tail = 0;
    std::memcpy(&tail, key.data() + i, key.size() - i);
    h = mix(h ^ mix(tail + seed + key.size()));
    return h | 1; // never 0: 0 is an empty slot
}

uint64_t ceil_div(uint64_t a, uint64_t b) noexcept {
    return (a + b - 1) / b;
}

uint64_t seconds_of(uint64_t us) noexcept {
    return ceil_div(us, 1000000);
}

struct window_counts {
    uint64_t prev = 0;
    uint64_t cur = 0;
};

window_counts counts_at(uint64_t state, uint64_t window) noexcept {
    uint64_t stored = (state >> window_shift) & window_mask;
    uint64_t prev = (state >> 16) & 0xffff;
    uint64_t cur = state & 0xffff;
    if (stored == (window & window_mask)) {
        return {prev, cur};
    }
    if (stored == ((window - 1) & window_mask)) {
        return {cur, 0};
    }
    return {};
}

/// The first elapsed time in [from, w] of a window of `w` ms at which `prev` weighed by the
/// part of it still overlapping plus `cur` leaves room for one more request under `limit`,
/// or w + 1 when none in this window.
uint64_t first_room(uint64_t prev, uint64_t cur, uint64_t from, uint64_t w, uint64_t limit) noexcept {
    if (cur + 1 > limit) {
        return w + 1;
    }
    if (prev == 0) {
        return from;
    }
    // prev * (w - e) + (cur + 1) * w <= limit * w  <=>  w - e <= (limit - cur - 1) * w / prev
    uint64_t room = (limit - cur - 1) * w / prev;
    uint64_t e = room >= w ? 0 : w - room;
    return e < from ? from : e;
}

void append_number(std::string& out, uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

double test_clock_offset_s() noexcept {
    static const char* path = std::getenv("RINGBOLT_TEST_RATE_CLOCK_FILE");
    if (path == nullptr || *path == '\0') [[likely]] {
        return 0;
    }
    double offset = 0;
    if (std::FILE* f = std::fopen(path, "r")) {
        if (std::fscanf(f, "%lf", &offset) != 1) {
            offset = 0;
        }
        std::fclose(f);
    }
    return offset > 0 ? offset : 0;
}

} // namespace

uint64_t rate_clock_us() noexcept {
    uint64_t us = core::monotonic_ns() / 1000;
    double offset = test_clock_offset_s();
    if (offset > 0) [[unlikely]] {
        us += static_cast<uint64_t>(offset * 1e6);
    }
    return us;
}

uint64_t rate_window_seconds(uint64_t window_ms) noexcept {
    uint64_t s = ceil_div(window_ms, 1000);
    return s == 0 ? 1 : s;
}

// ---- the shared memory ----

rate_memory::rate_memory(void* map, size_t bytes) noexcept : _map(map), _bytes(bytes) {
    auto* words = static_cast<std::atomic<uint64_t>*>(map);
    // The first process to map it picks the seed; the others read it.
    uint64_t expected = 0;
    if (words[0].compare_exchange_strong(expected, magic, std::memory_order_acq_rel)) {
        uint64_t seed = 0;
        if (::getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
            seed = core::monotonic_ns() * 0x9e3779b97f4a7c15ULL;
        }
        uint64_t none = 0;
        words[1].compare_exchange_strong(none, seed | 1, std::memory_order_acq_rel);
    }
    // A process that mapped it a moment after the first may find the seed not yet set.
    for (int i = 0; i < 1000000 && words[1].load(std::memory_order_acquire) == 0; ++i) {
    }
    _seed = words[1].load(std::memory_order_acquire);
}

rate_memory::~rate_memory() {
    ::munmap(_map, _bytes);
}

size_t rate_memory::table_bytes(size_t slots) noexcept {
    return slots * 2 * sizeof(uint64_t);
}

std::shared_ptr<rate_memory> rate_memory::map(int fd, size_t bytes, std::string& error) {
    if (fd >= 0) {
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            error = std::string("rate limits: fd ") + std::to_string(fd) + ": " + std::strerror(errno);
            return nullptr;
        }
        // Every worker sizes it alike (the same app): whichever is first, the others change nothing.
        if (static_cast<size_t>(st.st_size) < bytes && ::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
            error = std::string("rate limits: ftruncate: ") + std::strerror(errno);
            return nullptr;
        }
    }
    int flags = fd < 0 ? MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE : MAP_SHARED | MAP_NORESERVE;
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED) {
        error = std::string("rate limits: mmap of ") + std::to_string(bytes) + " bytes: " + std::strerror(errno);
        return nullptr;
    }
    return std::shared_ptr<rate_memory>(new rate_memory(p, bytes));
}

// ---- one policy ----

rate_limiter::rate_limiter(rate_policy p) : _policy(std::move(p)) {
    if (_policy.ipv6_prefix > 128) {
        _policy.ipv6_prefix = 128; // (key_of must not read past the address)
    }
    _buckets = ceil_div(_policy.slots == 0 ? 1 : _policy.slots, rate_bucket);
    _policy.slots = _buckets * rate_bucket;
    _policy_field = "RateLimit-Policy: ";
    append_number(_policy_field, _policy.limit);
    _policy_field.append(";w=");
    append_number(_policy_field, rate_window_seconds(_policy.window_ms));
    _policy_field.append("\r\n");
}

void rate_limiter::attach(std::shared_ptr<rate_memory> mem, size_t offset) noexcept {
    _slots = static_cast<slot*>(mem->at(offset));
    _seed = mem->seed();
    _mem = std::move(mem);
}

bool rate_limiter::idle(uint64_t state, uint64_t now_us) const noexcept {
    if (_policy.algorithm == rate_algorithm::token_bucket) {
        return (state & payload_mask) <= now_us; // the bucket is full again
    }
    window_counts c = counts_at(state, now_us / 1000 / _policy.window_ms);
    return c.prev == 0 && c.cur == 0;
}

uint64_t rate_limiter::freshness(uint64_t state) const noexcept {
    if (_policy.algorithm == rate_algorithm::token_bucket) {
        return state & payload_mask;
    }
    return (((state >> window_shift) & window_mask) << 16) | (state & 0xffff);
}

uint64_t rate_limiter::advance(uint64_t state, uint64_t tag, uint64_t now_us, rate_decision& d) const noexcept {
    const uint64_t limit = _policy.limit;
    if (_policy.algorithm == rate_algorithm::token_bucket) {
        // GCRA: `tat`, the theoretical arrival time, is when the bucket would be full again
        // had every request been one emission interval apart.
        const uint64_t window_us = _policy.window_ms * 1000;
        const uint64_t t = window_us / limit == 0 ? 1 : window_us / limit;
        const uint64_t cap = limit * t;
        uint64_t tat = state & payload_mask;
        if (tat < now_us) {
            tat = now_us;
        }
        if (tat - now_us + t > cap) {
            d.allowed = false;
            d.remaining = 0;
            d.reset_s = seconds_of(tat - now_us);
            d.retry_after = seconds_of(tat + t - cap - now_us);
            return state;
        }
        tat += t;
        d.allowed = true;
        d.remaining = static_cast<uint32_t>((cap - (tat - now_us)) / t);
        d.reset_s = seconds_of(tat - now_us);
        return (tag << tag_shift) | (tat & payload_mask);
    }
    // Sliding window counter: the estimate is prev * (w - e) / w + cur.
    const uint64_t w = _policy.window_ms;
    const uint64_t now_ms = now_us / 1000;
    const uint64_t window = now_ms / w;
    const uint64_t e = now_ms - window * w;
    window_counts c = counts_at(state, window);
    uint64_t at = first_room(c.prev, c.cur, e, w, limit);
    if (at > e) {
        d.allowed = false;
        d.remaining = 0;
        uint64_t wait_ms = at <= w ? at - e : (w - e) + first_room(c.cur, 0, 0, w, limit);
        d.retry_after = ceil_div(wait_ms, 1000);
        d.reset_s = ceil_div((c.cur != 0 ? 2 * w : w) - e, 1000);
        return state;
    }
    c.cur += 1;
    d.allowed = true;
    uint64_t used = c.prev * (w - e) + c.cur * w; // the estimate, times w
    d.remaining = used >= limit * w ? 0 : static_cast<uint32_t>((limit * w - used) / w);
    d.reset_s = ceil_div(2 * w - e, 1000); // this window's requests weigh nothing once the next one ends
    return (tag << tag_shift) | ((window & window_mask) << window_shift) | (c.prev << 16) | c.cur;
}

rate_decision rate_limiter::hit(std::string_view key, uint64_t now_us) noexcept {
    rate_decision d;
    const uint64_t h = hash_key(_seed, key);
    const uint64_t tag = h >> tag_shift;
    slot* b = _slots + ((h >> 1) % _buckets) * rate_bucket;
    for (int attempt = 0; attempt < 8; ++attempt) {
        size_t at = rate_bucket;
        size_t empty = rate_bucket;
        size_t stale = rate_bucket;
        size_t oldest = rate_bucket;
        uint64_t oldest_f = UINT64_MAX;
        uint64_t keys[rate_bucket];
        for (size_t i = 0; i < rate_bucket; ++i) {
            keys[i] = b[i].key.load(std::memory_order_acquire);
            if (keys[i] == h) {
                at = i; // the first: two first requests of one key racing may take two slots; the later is not read
                break;
            }
            if (keys[i] == 0) {
                empty = empty == rate_bucket ? i : empty;
                continue;
            }
            uint64_t s = b[i].state.load(std::memory_order_relaxed);
            if (idle(s, now_us)) {
                stale = stale == rate_bucket ? i : stale; // taking it changes nothing for its key
            } else if (uint64_t f = freshness(s); f < oldest_f) {
                oldest_f = f;
                oldest = i;
            }
        }
        if (at == rate_bucket) {
            size_t victim = empty != rate_bucket ? empty : stale != rate_bucket ? stale : oldest;
            if (victim == rate_bucket) [[unlikely]] {
                continue; // (every slot changed under the scan) look again
            }
            if (!b[victim].key.compare_exchange_strong(keys[victim], h, std::memory_order_acq_rel)) {
                continue; // another key took it: look again
            }
            if (victim == oldest) {
                d.evicted = true;
                if (!_warned.exchange(true, std::memory_order_relaxed)) {
                    core::log(
                        core::log_level::warning,
                        "rate limit %u/%llu ms: its table of %zu keys has a full bucket; the entries nearest to a "
                        "whole quota make room (said once; raise table_size)",
                        _policy.limit, static_cast<unsigned long long>(_policy.window_ms), slots());
                }
            }
            at = victim;
        }
        slot& s = b[at];
        uint64_t cur = s.state.load(std::memory_order_acquire);
        while (s.key.load(std::memory_order_acquire) == h) {
            // A state with another key's tag is that key's, left by whoever took the slot (or
            // died taking it): this key starts afresh.
            uint64_t base = (cur >> tag_shift) == tag ? cur : tag << tag_shift;
            uint64_t next = advance(base, tag, now_us, d);
            if (!d.allowed && base == cur) {
                return d; // refused: nothing changes
            }
            if (s.state.compare_exchange_weak(cur, next, std::memory_order_acq_rel)) {
                return d;
            }
        }
        // The slot went to another key meanwhile: look again.
    }
    d = rate_decision{}; // contention beyond reason: let it through rather than spin
    d.remaining = _policy.limit;
    return d;
}

void rate_limiter::key_of(const http::request_head& head, const http::peer_address& peer,
                          const trusted_proxies& proxies, std::string& out) const {
    out.clear();
    if (_policy.key == rate_key::header) {
        for (uint16_t i = 0; i < head.num_headers; ++i) {
            if (core::iequals(head.headers[i].name, _policy.header)) {
                out.push_back('h');
                out.append(head.headers[i].value);
                return;
            }
        }
    }
    const http::peer_address* client = &peer;
    forwarded_info fwd;
    if (!proxies.empty() && proxies.contains(peer)) [[unlikely]] {
        fwd = read_forwarded(head, proxies);
        if (fwd.has_client) {
            client = &fwd.client;
        }
    }
    out.push_back('a');
    const char* addr = reinterpret_cast<const char*>(client->addr);
    if (client->family != AF_INET6) {
        out.push_back(static_cast<char>(client->family));
        out.append(addr, client->family == AF_INET ? 4 : sizeof client->addr);
        return;
    }
    static constexpr char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\xff', '\xff'};
    if (std::memcmp(addr, v4_mapped, sizeof v4_mapped) == 0) {
        // ::ffff:a.b.c.d is the IPv4 client a.b.c.d (a dual-stack listener's, or forwarded
        // so): its own key, as if it came over IPv4, not every IPv4 client's /64.
        out.push_back(static_cast<char>(AF_INET));
        out.append(addr + 12, 4);
        return;
    }
    // One host is usually given a whole /64: its addresses are one client, its prefix the key.
    const unsigned bytes = _policy.ipv6_prefix / 8u;
    const unsigned bits = _policy.ipv6_prefix % 8u;
    out.push_back(static_cast<char>(AF_INET6));
    out.append(addr, bytes);
    if (bits != 0) {
        out.push_back(static_cast<char>(client->addr[bytes] & (0xff00u >> bits)));
    }
}

void rate_limiter::append_fields(const rate_decision& d, std::string& out) const {
    // one allocation: the three names and numbers fit in 96 bytes, Retry-After in 32
    out.reserve(out.size() + 128 + _policy_field.size());
    out.append("RateLimit-Limit: ");
    append_number(out, _policy.limit);
    out.append("\r\nRateLimit-Remaining: ");
    append_number(out, d.remaining);
    out.append("\r\nRateLimit-Reset: ");
    append_number(out, d.reset_s);
    out.append("\r\n");
    out.append(_policy_field);
    if (!d.allowed) {
        out.append("Retry-After: ");
        append_number(out, d.retry_after == 0 ? 1 : d.retry_after);
        out.append("\r\n");
    }
}

} // namespace ringbolt::dispatch
