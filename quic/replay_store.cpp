// The 0-RTT anti-replay table (replay_store.hpp): lock-free, so that a worker killed in the
// middle of an insert leaves nothing locked for the others.
#include "quic/replay_store.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringbolt::quic {

namespace {

// One slot, one 64-bit word (0: empty): 40 bits of the hello's fingerprint over 24 bits of
// its expiry in units of 16 s, rounded up (it is remembered a little longer, never less).
// The units wrap after 2^24 x 16 s (8.5 years): far longer than any window, so "expired"
// is decided by serial arithmetic (RFC 1982) on them.
constexpr unsigned unit_bits = 24;
constexpr uint64_t unit_mask = (uint64_t{1} << unit_bits) - 1;
constexpr time_t unit_seconds = 16;

uint64_t unit_of(time_t t, bool round_up) noexcept {
    uint64_t s = t < 0 ? 0 : static_cast<uint64_t>(t);
    return ((s + (round_up ? unit_seconds - 1 : 0)) / unit_seconds) & unit_mask;
}

/// Whether an entry that expires at unit `exp` is still remembered at unit `now`.
bool live(uint64_t word, uint64_t now) noexcept {
    if (word == 0) {
        return false;
    }
    uint64_t exp = word & unit_mask;
    return ((exp - now) & unit_mask) < (uint64_t{1} << (unit_bits - 1));
}

uint64_t fingerprint_of(uint64_t word) noexcept {
    return word >> unit_bits;
}

void* map_memory(int fd, std::string& error) {
    int flags = fd < 0 ? MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE : MAP_SHARED | MAP_NORESERVE;
    void* p = ::mmap(nullptr, replay_store::bytes, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED) {
        error = std::string("QUIC anti-replay store: mmap: ") + std::strerror(errno);
        return nullptr;
    }
    return p;
}

} // namespace

std::shared_ptr<replay_store> replay_store::make_private(std::string& error) {
    void* p = map_memory(-1, error);
    return p == nullptr ? nullptr : std::shared_ptr<replay_store>(new replay_store(p));
}

std::shared_ptr<replay_store> replay_store::map_shared(int fd, std::string& error) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        error = std::string("QUIC anti-replay store: fd ") + std::to_string(fd) + ": " + std::strerror(errno);
        return nullptr;
    }
    // The workers size it (each to the same size: whichever is first, the others change nothing).
    if (static_cast<size_t>(st.st_size) < bytes && ::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
        error = std::string("QUIC anti-replay store: ftruncate: ") + std::strerror(errno);
        return nullptr;
    }
    void* p = map_memory(fd, error);
    return p == nullptr ? nullptr : std::shared_ptr<replay_store>(new replay_store(p));
}

replay_store::~replay_store() {
    ::munmap(_slots, bytes);
}

replay_store::verdict replay_store::remember(std::span<const uint8_t> key, time_t expires, time_t now) noexcept {
    static_assert(std::atomic<uint64_t>::is_always_lock_free, "the table is shared between processes");
    uint8_t digest[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, key.data(), key.size(), digest) != 0) {
        return verdict::full; // (refused: never taken twice)
    }
    uint64_t where = 0;
    uint64_t fp = 0;
    std::memcpy(&where, digest, sizeof where);
    std::memcpy(&fp, digest + 8, sizeof fp);
    fp = (fp >> (64 - 40)) | 1; // 40 bits, never 0 (so no entry is the empty word)
    const uint64_t entry = (fp << unit_bits) | unit_of(expires, true);
    const uint64_t now_u = unit_of(now, false);
    std::atomic<uint64_t>* b = _slots + (where % (slots / bucket)) * bucket;
    // Two inserts of one hello at once (two reactors, two workers) both scan, both may
    // take a slot; each then looks again and refuses when the other is there too: the
    // hello's early data is refused at both, never taken at both.
    for (int attempt = 0; attempt < 4; ++attempt) {
        size_t free_at = bucket;
        uint64_t free_word = 0;
        for (size_t i = 0; i < bucket; ++i) {
            uint64_t w = b[i].load(std::memory_order_acquire);
            if (live(w, now_u)) {
                if (fingerprint_of(w) == fp) {
                    return verdict::seen;
                }
            } else if (free_at == bucket) {
                free_at = i;
                free_word = w;
            }
        }
        if (free_at == bucket) {
            return verdict::full;
        }
        if (!b[free_at].compare_exchange_strong(free_word, entry, std::memory_order_acq_rel)) {
            continue; // someone took that slot: look again
        }
        for (size_t i = 0; i < bucket; ++i) {
            if (i == free_at) {
                continue;
            }
            uint64_t w = b[i].load(std::memory_order_acquire);
            if (live(w, now_u) && fingerprint_of(w) == fp) {
                return verdict::seen;
            }
        }
        return verdict::fresh;
    }
    return verdict::full;
}

} // namespace ringbolt::quic
