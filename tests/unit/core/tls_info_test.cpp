// core::tls_ref: the counted reference every request (and Python TLSInfo) of a TLS
// connection holds to its tls_info; the last one deletes the record (under `make asan`
// LeakSanitizer fails a record never deleted, ASan one deleted twice or too early).
#include "core/tls_info.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <utility>
#include <vector>

namespace ringbolt::core {
namespace {

TEST(TlsRef, NullIsFreeAndFalse) {
    core::tls_ref r;
    EXPECT_FALSE(r);
    EXPECT_EQ(r.get(), nullptr);
    core::tls_ref moved(std::move(r));
    EXPECT_FALSE(moved);
    static_assert(sizeof(core::tls_ref) == sizeof(void*), "one pointer: cheap for requests that have none");
}

TEST(TlsRef, CopiesCountAndTheLastDeletes) {
    auto* info = new tls_info();
    info->version = 0x0304;
    {
        core::tls_ref owner(info); // the transport's reference
        EXPECT_EQ(info->refs.load(), 1u);
        core::tls_ref a(owner);                // a request
        core::tls_ref b = core::tls_ref(info); // another
        core::tls_ref c(std::move(b));         // moved into a Python object: no count change
        EXPECT_FALSE(b);                       // NOLINT(bugprone-use-after-move): moved-from is null
        EXPECT_EQ(info->refs.load(), 3u);
        owner = core::tls_ref(); // the connection closes first
        EXPECT_EQ(info->refs.load(), 2u);
        EXPECT_EQ(c->version, 0x0304);
        EXPECT_EQ((*a).version, 0x0304);
        a = c; // assignment from another reference to the same record
        EXPECT_EQ(info->refs.load(), 2u);
        info->client_subject = "CN=kept"; // still alive: written and read below
        EXPECT_EQ(a->client_subject, "CN=kept");
    } // a and c go: the record is deleted here
}

TEST(TlsRef, ReleasedFromManyThreads) {
    auto* info = new tls_info();
    std::vector<core::tls_ref> refs(8, core::tls_ref(info));
    EXPECT_EQ(info->refs.load(), 8u); // (not after the threads start: they may be done)
    std::vector<std::thread> threads;
    for (auto& r : refs) {
        threads.emplace_back([held = std::move(r)]() mutable {
            for (int i = 0; i < 1000; ++i) {
                core::tls_ref copy(held);
            }
        });
    }
    refs.clear();
    for (auto& t : threads) {
        t.join();
    } // the last thread to let go deleted it
}

} // namespace
} // namespace ringbolt::core
