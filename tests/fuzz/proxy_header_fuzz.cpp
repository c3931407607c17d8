// libFuzzer target for the PROXY protocol header (transport/proxy_header.cpp) and the
// transport that reads it (transport/proxy_transport.cpp). The first byte picks the
// versions taken, trust, and a split seed; the rest is what a peer sends first. Parsing
// the whole input and the transport fed it in random pieces must agree: the same verdict,
// the same client, and the bytes after the header handed on exactly once, in order.
#include "tests/fuzz/piece_sizes.hpp"
#include "transport/proxy_header.hpp"
#include "transport/proxy_transport.hpp"

#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

using namespace ringbolt;
using namespace ringbolt::transport;

namespace {

void check(bool ok) {
    if (!ok) [[unlikely]] {
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    uint8_t mode = data[0];
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    uint8_t versions = static_cast<uint8_t>((mode & 3) == 0 ? proxy_any : (mode & 3));
    bool trusted = (mode & 4) != 0;
    size_t max_v2 = (mode & 8) ? 64 : proxy_v2_max_length; // a small limit, or the default (the spec's)

    proxy_header whole;
    proxy_result r = parse_proxy_header(in, versions, max_v2, whole);
    check(r.status != proxy_status::done || (r.consumed > 0 && r.consumed <= in.size()));
    check(r.status != proxy_status::error || r.why != nullptr);

    core::core_counters counters;
    proxy_policy policy{versions, max_v2, 10};
    proxy_transport t(nullptr, policy, trusted, counters, 100);
    auto next = fuzz::random_piece_sizes(mode);
    std::string passed;
    size_t pos = 0;
    while (pos < in.size()) {
        size_t len = std::min(next(), in.size() - pos);
        std::string piece(in.substr(pos, len)); // an exact-size copy: ASan sees overreads
        pos += len;
        std::string_view out = t.on_wire_data(piece);
        passed.append(out);
        proxied_client client;
        if (t.take_proxied_client(client)) {
            check(trusted && r.status == proxy_status::done && !whole.local);
            check(client.port == whole.source_port && std::memcmp(client.addr, whole.source, 16) == 0);
        }
    }
    if (trusted) {
        if (r.status == proxy_status::done) {
            check(!t.failed());
            check(passed == in.substr(r.consumed)); // everything after the header, once, in order
        } else if (r.status == proxy_status::error) {
            check(t.failed() && passed.empty());
        } else {
            check(!t.failed() && passed.empty()); // still waiting for the header
        }
    } else if (t.failed()) {
        check(passed.empty()); // a header from a peer that is no balancer: nothing read as HTTP
    } else if (!passed.empty()) {
        check(r.status == proxy_status::error && passed == in); // the peer's own bytes, whole
    }
    return 0;
}
