// libFuzzer target for what a rate limit reads from a client: the request head (parsed by
// http/parser), the key it picks (an API key header's value, the forwarded client of a
// trusted proxy) and the counts under a clock the input moves. Checks that a key is never
// empty, that an untrusted peer's headers never change its key, that a frozen clock never
// lets more than the limit through, and that the fields added are well-formed lines.
#include "dispatch/proxy_headers.hpp"
#include "dispatch/rate_limit.hpp"
#include "http/parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

using namespace ringbolt;
using namespace ringbolt::dispatch;

namespace {

void check(bool ok) {
    if (!ok) [[unlikely]] {
        std::abort();
    }
}

std::unique_ptr<rate_limiter> make(rate_algorithm a, rate_key k, uint32_t limit, uint64_t window_ms) {
    rate_policy p;
    p.algorithm = a;
    p.key = k;
    p.header = "X-API-Key";
    p.limit = limit;
    p.window_ms = window_ms;
    p.slots = 16; // two buckets: evictions happen
    auto l = std::make_unique<rate_limiter>(p);
    std::string error;
    auto mem = rate_memory::map(-1, rate_memory::header_bytes + rate_memory::table_bytes(l->slots()), error);
    check(mem != nullptr);
    l->attach(mem, rate_memory::header_bytes);
    return l;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 4) {
        return 0;
    }
    const uint8_t mode = data[0];
    const uint32_t limit = 1 + data[1] % 8;
    const uint64_t window_ms = 1 + uint64_t{data[2]} * 37;
    const uint8_t steps = data[3];
    std::string_view wire(reinterpret_cast<const char*>(data) + 4, size - 4);
    http::request_head head;
    http::parser_limits limits;
    http::parse_outcome o = http::parse_request_head(wire, head, limits);
    if (o.status != http::parse_status::complete) {
        head = http::request_head{};
    }
    trusted_proxies none;
    trusted_proxies all;
    check(all.parse("*").empty());
    http::peer_address peer;
    check(parse_address("10.1.2.3", peer));
    auto l = make(mode & 1 ? rate_algorithm::token_bucket : rate_algorithm::sliding_window,
                  mode & 2 ? rate_key::header : rate_key::client, limit, window_ms);
    std::string key;
    std::string own;
    l->key_of(head, peer, none, key);
    l->key_of(http::request_head{}, peer, none, own);
    check(!key.empty() && (key[0] == 'a' || key[0] == 'h'));
    if (key[0] == 'a') {
        check(key == own); // an untrusted peer is its own key whatever it sends
    }
    l->key_of(head, peer, all, key);
    check(!key.empty() && (key[0] == 'a' || key[0] == 'h'));
    // A frozen clock: at most `limit` allowed; then the input moves the clock.
    uint64_t now = 1'000'000'000;
    uint32_t allowed = 0;
    for (uint32_t i = 0; i < limit + 2; ++i) {
        rate_decision d = l->hit(key, now);
        allowed += d.allowed ? 1 : 0;
        check(d.allowed ? d.remaining < limit : d.remaining == 0 && d.retry_after >= 1);
    }
    check(allowed == limit);
    for (uint32_t i = 0; i < steps; ++i) {
        now += uint64_t{data[i % size]} * window_ms * 10;
        std::string k = key;
        k.push_back(static_cast<char>(i % 24)); // other keys: full buckets, evictions
        rate_decision d = l->hit(i % 3 == 0 ? key : k, now);
        std::string fields;
        l->append_fields(d, fields);
        size_t start = 0;
        for (size_t end; (end = fields.find("\r\n", start)) != std::string::npos; start = end + 2) {
            std::string_view line = std::string_view(fields).substr(start, end - start);
            check(line.find(": ") != std::string_view::npos && line.find('\n') == std::string_view::npos);
        }
        check(start == fields.size() && start > 0);
    }
    return 0;
}
