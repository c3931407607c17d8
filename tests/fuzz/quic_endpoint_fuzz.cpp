// libFuzzer target for the QUIC endpoint (quic/endpoint.cpp, quic/connection.cpp): a
// script of operations on one endpoint with echo users and an in-process ngtcp2 client,
// so inputs reach past the Initial into an established connection's packets:
//   0 len16 bytes   a raw datagram from a stray peer (any bytes: garbage, short headers)
//   1 idx xor       the client writes; its datagrams go to the endpoint, the idx-th with
//                   one byte xor-ed (idx 255: none)
//   2               the endpoint's datagrams go to the client
//   3 ms            the clock moves on ms*10 milliseconds; timers run on both sides
//   4 len16         the client opens a stream and sends len bytes with fin
//   5               the endpoint begins to drain
//   6 code          the client resets its newest stream
// Invariants: no crash, no leak, no datagram over the largest QUIC packet, no more
// connections than the cap.
#include "tests/fuzz/script_reader.hpp"
#include "tests/unit/quic/quic_pair.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace ringbolt;
using namespace ringbolt::quic::testing;

namespace {

void check(bool ok) {
    if (!ok) [[unlikely]] {
        std::abort();
    }
}

void check_sent(pair_fixture& f, std::vector<wire_datagram>& out) {
    for (const wire_datagram& d : out) {
        check(d.bytes.size() <= NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE);
    }
    check(f.ep->connection_count() <= 4);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    quic::endpoint_config cfg;
    cfg.max_connections = 4;
    cfg.transport.idle_timeout_ms = 5000;
    cfg.transport.handshake_timeout_ms = 3000;
    cfg.transport.drain_timeout_ms = 2000;
    pair_fixture f(cfg);
    client c(v4("127.0.0.1", 40000), f.server_addr, f.now);
    check(c.ok());
    client stray(v4("127.0.0.2", 40001), f.server_addr, f.now);
    fuzz::script_reader in{data, size};
    int ops = 0;
    while (in.has(1) && ops++ < 2000) {
        switch (in.byte() % 7) {
        case 0: {
            if (!in.has(2)) {
                return 0;
            }
            f.to_server(stray, std::string(in.bytes(in.u16())));
            break;
        }
        case 1: {
            std::vector<std::string> out;
            if (!c.write_flipped_from(in, f.now, out)) {
                return 0;
            }
            for (const std::string& d : out) {
                f.to_server(c, d);
            }
            break;
        }
        case 2: {
            f.ep->flush(f.now);
            std::vector<wire_datagram> out = f.sink.take();
            check_sent(f, out);
            for (const wire_datagram& d : out) {
                if (d.peer.len == c.addr.len && std::memcmp(&d.peer.addr, &c.addr.addr, c.addr.len) == 0) {
                    c.read(d.bytes, f.now);
                }
            }
            break;
        }
        case 3: {
            if (!in.has(1)) {
                return 0;
            }
            f.now += uint64_t{in.byte()} * 10'000'000;
            f.ep->on_timer(f.now);
            c.on_expiry(f.now);
            break;
        }
        case 4: {
            if (!in.has(2)) {
                return 0;
            }
            size_t len = in.u16();
            c.send_request(std::string(len, 'q'));
            break;
        }
        case 5:
            f.ep->begin_drain(f.now);
            break;
        case 6:
            if (!c.reset_newest(in)) {
                return 0;
            }
            break;
        }
        f.ep->flush(f.now);
        std::vector<wire_datagram> out = f.sink.take();
        check_sent(f, out);
        // What the client has not been given yet goes at the next op 2: put it back.
        for (wire_datagram& d : out) {
            f.sink.sent.push_back(std::move(d));
        }
    }
    return 0;
}
