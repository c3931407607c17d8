// Native rate limits: both algorithms on a clock the test sets, keys, a full table, the
// table shared across a fork, and one limit held by threads hitting it at once.
#include "dispatch/proxy_headers.hpp"
#include "dispatch/rate_limit.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace ringbolt::dispatch {
namespace {

constexpr uint64_t ms = 1000; // the clock is in microseconds
constexpr uint64_t t0 = 1000000 * ms;

std::unique_ptr<rate_limiter> make(uint32_t limit, uint64_t window_ms, rate_algorithm a, size_t slots = 1024,
                                   int fd = -1) {
    rate_policy p;
    p.limit = limit;
    p.window_ms = window_ms;
    p.algorithm = a;
    p.slots = slots;
    auto l = std::make_unique<rate_limiter>(p);
    std::string error;
    auto mem = rate_memory::map(fd, rate_memory::header_bytes + rate_memory::table_bytes(l->slots()), error);
    EXPECT_NE(mem, nullptr) << error;
    l->attach(mem, rate_memory::header_bytes);
    return l;
}

TEST(RateLimit, TokenBucketAllowsItsBurstThenRefillsOneTokenAnInterval) {
    auto l = make(3, 1000, rate_algorithm::token_bucket);
    for (uint32_t left : {2u, 1u, 0u}) {
        rate_decision d = l->hit("k", t0);
        EXPECT_TRUE(d.allowed);
        EXPECT_EQ(d.remaining, left);
    }
    rate_decision d = l->hit("k", t0);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after, 1u); // one token in 333 ms: rounded up to whole seconds
    EXPECT_EQ(d.reset_s, 1u);
    EXPECT_FALSE(l->hit("k", t0 + 333 * ms).allowed); // a token every 333.333 ms
    d = l->hit("k", t0 + 334 * ms);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0u);
    EXPECT_EQ(l->hit("k", t0 + 2000 * ms).remaining, 2u); // full again after a window
}

TEST(RateLimit, SlidingWindowWeighsTheLastWindow) {
    auto l = make(3, 2000, rate_algorithm::sliding_window);
    uint64_t start = 5000 * 2000 * ms; // a window's start
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(l->hit("k", start).allowed);
    }
    rate_decision d = l->hit("k", start);
    EXPECT_FALSE(d.allowed);
    // In the next window the 3 weigh 3 * (2000 - e) / 2000: room for one at e = 667 ms.
    EXPECT_EQ(d.retry_after, 3u); // 2667 ms
    EXPECT_FALSE(l->hit("k", start + 2000 * ms).allowed);
    EXPECT_FALSE(l->hit("k", start + 2666 * ms).allowed);
    EXPECT_TRUE(l->hit("k", start + 2667 * ms).allowed);
    EXPECT_TRUE(l->hit("k", start + 6000 * ms).allowed); // two windows on: nothing counts
}

TEST(RateLimit, SlidingWindowRetryAfterIsWhenTheNextIsAllowed) {
    auto l = make(5, 60000, rate_algorithm::sliding_window);
    uint64_t start = 100 * 60000 * ms + 59000 * ms; // late in a window
    for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(l->hit("k", start).allowed);
    }
    rate_decision d = l->hit("k", start);
    ASSERT_FALSE(d.allowed);
    uint64_t wait = d.retry_after * 1000 * ms;
    EXPECT_TRUE(l->hit("k", start + wait).allowed);
    EXPECT_FALSE(l->hit("k", start + wait - 1001 * ms).allowed);
}

TEST(RateLimit, KeysAreCountedApart) {
    for (rate_algorithm a : {rate_algorithm::sliding_window, rate_algorithm::token_bucket}) {
        auto l = make(1, 60000, a);
        EXPECT_TRUE(l->hit("a", t0).allowed);
        EXPECT_FALSE(l->hit("a", t0).allowed);
        EXPECT_TRUE(l->hit("b", t0).allowed);
        EXPECT_FALSE(l->hit("b", t0 + ms).allowed);
    }
}

TEST(RateLimit, AFullBucketMakesRoomFromTheEntryNearestAWholeQuota) {
    auto l = make(1, 60000, rate_algorithm::token_bucket, 8); // one bucket of 8
    for (int i = 0; i < 8; ++i) {
        rate_decision d = l->hit("key" + std::to_string(i), t0 + static_cast<uint64_t>(i) * ms);
        EXPECT_TRUE(d.allowed);
        EXPECT_FALSE(d.evicted);
    }
    rate_decision d = l->hit("new", t0 + 10 * ms);
    EXPECT_TRUE(d.allowed);
    EXPECT_TRUE(d.evicted);
    EXPECT_TRUE(l->hit("key0", t0 + 11 * ms).allowed); // the oldest went: it starts afresh
    EXPECT_FALSE(l->hit("key7", t0 + 12 * ms).allowed);
    // An idle entry (its quota whole again) is taken without evicting anyone.
    d = l->hit("later", t0 + 70000 * ms);
    EXPECT_TRUE(d.allowed);
    EXPECT_FALSE(d.evicted);
}

TEST(RateLimit, HeadersOfAnAnswerAndARefusal) {
    auto l = make(2, 60000, rate_algorithm::token_bucket);
    std::string out;
    l->append_fields(l->hit("k", t0), out);
    EXPECT_EQ(out, "RateLimit-Limit: 2\r\nRateLimit-Remaining: 1\r\nRateLimit-Reset: 30\r\n"
                   "RateLimit-Policy: 2;w=60\r\n");
    l->hit("k", t0);
    out.clear();
    l->append_fields(l->hit("k", t0), out);
    EXPECT_EQ(out, "RateLimit-Limit: 2\r\nRateLimit-Remaining: 0\r\nRateLimit-Reset: 60\r\n"
                   "RateLimit-Policy: 2;w=60\r\nRetry-After: 30\r\n");
}

http::request_head head_with(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    http::request_head h;
    for (const auto& [name, value] : fields) {
        h.headers[h.num_headers++] = {name, value};
    }
    return h;
}

TEST(RateLimit, KeyIsTheClientAsTrustedForwardingGivesItOrAHeader) {
    http::peer_address proxy;
    http::peer_address stranger;
    ASSERT_TRUE(parse_address("10.0.0.1", proxy));
    ASSERT_TRUE(parse_address("203.0.113.7", stranger));
    trusted_proxies trusted;
    ASSERT_EQ(trusted.parse("10.0.0.1"), "");
    auto l = make(1, 1000, rate_algorithm::token_bucket);
    std::string a, b, c;
    http::request_head h1 = head_with({{"X-Forwarded-For", "198.51.100.1"}});
    http::request_head h2 = head_with({{"X-Forwarded-For", "198.51.100.2"}});
    l->key_of(h1, proxy, trusted, a);
    l->key_of(h2, proxy, trusted, b);
    EXPECT_NE(a, b); // two clients behind the trusted proxy
    l->key_of(h1, stranger, trusted, a);
    l->key_of(h2, stranger, trusted, b);
    l->key_of(head_with({}), stranger, trusted, c);
    EXPECT_EQ(a, b); // an untrusted peer's header picks nothing
    EXPECT_EQ(a, c);

    rate_policy p;
    p.key = rate_key::header;
    p.header = "X-API-Key";
    rate_limiter by_header(p);
    by_header.key_of(head_with({{"x-api-key", "one"}}), stranger, trusted, a);
    by_header.key_of(head_with({{"X-API-Key", "two"}}), stranger, trusted, b);
    by_header.key_of(head_with({}), stranger, trusted, c);
    EXPECT_NE(a, b);
    EXPECT_EQ(a, "hone");
    std::string address;
    l->key_of(head_with({}), stranger, trusted, address);
    EXPECT_EQ(c, address); // without the header: the client's address
}

// An IPv6 client is keyed on its first ipv6_prefix bits (one host usually holds a whole
// /64); an IPv4 client on its address, and so is one an IPv6 socket sees as ::ffff:a.b.c.d
// (a dual-stack listener's), or every IPv4 client would share the key of ::ffff:0:0/64.
TEST(RateLimit, KeyOfAnIPv6ClientIsItsPrefix) {
    struct row {
        unsigned bits;
        const char* first;
        const char* second;
        bool same;
    };
    const row rows[] = {
        {64, "2001:db8:1:1::1", "2001:db8:1:1:ffff:ffff:ffff:fffe", true},
        {64, "2001:db8:1:1::1", "2001:db8:1:2::1", false},
        {64, "::1", "::2", true},
        {48, "2001:db8:1:1::1", "2001:db8:1:ffff::1", true},
        {48, "2001:db8:1::1", "2001:db8:2::1", false},
        {128, "2001:db8::1", "2001:db8::2", false},
        {128, "2001:db8::1", "2001:db8:0:0:0:0:0:1", true},
        {60, "2001:db8:0:10::1", "2001:db8:0:1f:ffff::1", true}, // 60 bits: the 4th group's first 12
        {60, "2001:db8:0:10::1", "2001:db8:0:20::1", false},
        {60, "2001:db8:0:1f::1", "2001:db8:0:2f::1", false},
        {17, "2001:8000::1", "2001:ffff::1", true}, // 17 bits: the 3rd byte's first bit
        {17, "2001:7fff::1", "2001:8000::1", false},
        {64, "198.51.100.7", "198.51.100.8", false},
        {64, "::ffff:198.51.100.9", "198.51.100.9", true},
        {64, "::ffff:198.51.100.9", "::ffff:198.51.100.10", false},
        {16, "::ffff:198.51.100.9", "::ffff:198.51.100.10", false},
        {64, "::ffff:198.51.100.9", "::fffe:198.51.100.9", false}, // not mapped: an IPv6 /64 of its own
    };
    trusted_proxies none;
    for (const row& r : rows) {
        SCOPED_TRACE(std::to_string(r.bits) + " " + r.first + " " + r.second);
        rate_policy p;
        p.ipv6_prefix = static_cast<uint8_t>(r.bits);
        rate_limiter l(p);
        http::peer_address a;
        http::peer_address b;
        ASSERT_TRUE(parse_address(r.first, a));
        ASSERT_TRUE(parse_address(r.second, b));
        std::string ka, kb;
        l.key_of(head_with({}), a, none, ka);
        l.key_of(head_with({}), b, none, kb);
        EXPECT_EQ(ka == kb, r.same);
    }
    // The key's bytes: the family, then the address's prefix, the last byte masked.
    rate_policy p;
    p.ipv6_prefix = 60;
    rate_limiter l(p);
    http::peer_address a;
    ASSERT_TRUE(parse_address("2001:db8:aaaa:bbbf:1:2:3:4", a));
    std::string k;
    l.key_of(head_with({}), a, none, k);
    EXPECT_EQ(k, std::string("a\x0a\x20\x01\x0d\xb8\xaa\xaa\xbb\xb0", 10));
    ASSERT_TRUE(parse_address("::ffff:198.51.100.9", a));
    l.key_of(head_with({}), a, none, k);
    EXPECT_EQ(k, std::string("a\x02\xc6\x33\x64\x09", 6));
    // Through trusted forwarding the same: the forwarded client's prefix.
    http::peer_address proxy;
    ASSERT_TRUE(parse_address("::ffff:10.0.0.1", proxy));
    trusted_proxies trusted;
    ASSERT_EQ(trusted.parse("10.0.0.1"), "");
    std::string f1, f2;
    l.key_of(head_with({{"X-Forwarded-For", "2001:db8:aaaa:bbbf::9"}}), proxy, trusted, f1);
    l.key_of(head_with({{"Forwarded", "for=\"[2001:db8:aaaa:bbb0::1]\""}}), proxy, trusted, f2);
    EXPECT_EQ(f1, std::string("a\x0a\x20\x01\x0d\xb8\xaa\xaa\xbb\xb0", 10));
    EXPECT_EQ(f2, f1);
}

TEST(RateLimit, OneTableAcrossAFork) {
    int fd = memfd_create("rate-limit-test", MFD_CLOEXEC);
    ASSERT_GE(fd, 0);
    auto l = make(3, 60000, rate_algorithm::sliding_window, 1024, fd);
    pid_t pid = fork();
    if (pid == 0) {
        // The child maps the memfd itself, as a worker does, and takes two of the three.
        auto own = make(3, 60000, rate_algorithm::sliding_window, 1024, fd);
        bool ok = own->hit("k", t0).allowed && own->hit("k", t0).allowed;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_TRUE(l->hit("k", t0).allowed);
    EXPECT_FALSE(l->hit("k", t0).allowed);
    close(fd);
}

// 'threads' suite: the limit holds exactly when many threads count one key at once.
TEST(RateLimit, ThreadsAtOnceGetExactlyTheLimit) {
    for (rate_algorithm a : {rate_algorithm::sliding_window, rate_algorithm::token_bucket}) {
        auto l = make(1000, 60000, a, 64);
        std::atomic<int> allowed{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 600; ++i) {
                    allowed += l->hit("shared", t0).allowed ? 1 : 0;
                    l->hit("own" + std::to_string(t * 1000 + i % 20), t0); // other keys in the same table
                }
            });
        }
        for (auto& th : threads) {
            th.join();
        }
        EXPECT_EQ(allowed.load(), 1000);
    }
}

} // namespace
} // namespace ringbolt::dispatch
