// libFuzzer target for the server-side TLS transport (tls/transport.cpp) in its handshake
// state: arbitrary client bytes, fed in pieces (the first byte picks the piece size),
// then the output taken and the end of input signalled, as the reactor does. Invariants:
// no crash or leak, a failed transport yields no plaintext, and output stays bounded.
#include "tests/unit/tls/test_cert.hpp"
#include "tls/transport.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

using namespace ringbolt;

namespace {

void check(bool ok) {
    if (!ok) [[unlikely]] {
        std::abort();
    }
}

std::shared_ptr<const tls::context> the_context() {
    static std::shared_ptr<const tls::context> ctx = [] {
        tls::testing::cert_files def = tls::testing::make_cert("fuzz-default.test");
        tls::testing::cert_files sni = tls::testing::make_cert("fuzz-sni.test");
        tls::options o;
        o.certfile = def.cert;
        o.keyfile = def.key;
        o.sni.push_back({"fuzz-sni.test", sni.cert, sni.key});
        std::string error;
        auto c = tls::context::build(o, error);
        check(c != nullptr);
        return c;
    }();
    return ctx;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    size_t piece = 1 + data[0] % 64 * 37;
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    core::core_counters counters;
    tls::tls_transport t(the_context(), counters, nullptr, 100);
    check(t.ok());
    core::output_queue plain;
    plain.append("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    while (!in.empty()) {
        std::string_view part = in.substr(0, piece);
        in.remove_prefix(part.size());
        std::string_view out = t.on_wire_data(part);
        check(!(t.failed() && !out.empty()));
        core::send_batch b;
        while (t.wire_output(plain).take_front(b, 8, 1 << 20)) {
            check(b.remaining() < (1u << 20));
            b.consume(b.remaining());
            b.reset();
        }
    }
    t.shut_output();
    t.on_eof();
    return 0;
}
