// libFuzzer target for a reactor's datagram path (server/reactor_quic.cpp) on the fake
// backend: the QUIC endpoint, the h3::connection in a slot of the reactor's table, the
// dispatcher and the test application, driven turn by turn by a script of operations
// with the in-process ngtcp2 client of the QUIC tests (tests/unit/quic/quic_pair.hpp):
//   0 len16 bytes   a raw datagram from a stray peer (any bytes)
//   1 idx xor       the client writes; its datagrams go to the fake socket, the idx-th with
//                   one byte xor-ed (idx 255: none)
//   2               a reactor turn; what it sent goes to the client
//   3 path          the client sends a GET (HEADERS frame, QPACK static only) on a new
//                   stream: /native, /app/x or a path no route has
//   4 len16 bytes   the client sends these bytes on a new stream with fin (any frames)
//   5               the reactor begins to drain
//   6 code          the client resets its newest stream
// Invariants: no crash, no leak, nothing sent but on the reactor's socket and within the
// largest QUIC packet; the reactor is then destroyed with whatever is still open.
#include "server/reactor.hpp"
#include "tests/fuzz/script_reader.hpp"
#include "tests/unit/quic/quic_pair.hpp"
#include "uring/fake_backend.hpp"
#include "uring/listener.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace ringbolt;
using namespace ringbolt::uring;
using quic::testing::client;
using quic::testing::v4;

namespace {

void check(bool ok) {
    if (!ok) [[unlikely]] {
        std::abort();
    }
}

/// Answers every request inline with "app:<path>" (no gtest here: a libFuzzer binary).
class echo_path_app final : public server::app_handler {
  public:
    uint64_t handle_batch(unsigned, std::span<dispatch::app_request> batch, std::vector<http::app_response>& out,
                          server::response_sink&) noexcept override {
        for (auto& req : batch) {
            http::app_response r;
            r.conn_slot = req.conn_slot;
            r.conn_gen = req.conn_gen;
            r.seq = req.seq;
            r.body = "app:" + std::string(req.path.in(req.data));
            r.start.fields = "Content-Type: text/plain\r\n";
            r.start.content_length = static_cast<int64_t>(r.body.size());
            out.push_back(std::move(r));
        }
        return 0;
    }
};

/// /native answered by the dispatcher, /app/{x} by the application.
std::shared_ptr<dispatch::app_routes> make_routes() {
    auto routes = std::make_shared<dispatch::app_routes>();
    (void)routes->table.add("/native", http::method_get, 0);
    dispatch::route_target native;
    native.kind = dispatch::target_kind::native;
    native.response.headers = "Content-Type: text/plain\r\n";
    native.response.body = "native";
    routes->targets.push_back(native);
    (void)routes->table.add("/app/{x}", http::method_get | http::method_post, 1);
    dispatch::route_target app;
    app.kind = dispatch::target_kind::python;
    routes->targets.push_back(app);
    return routes;
}

std::string get_request(const std::string& path) {
    std::string block("\x00\x00", 2);
    block += static_cast<char>(0xC0 | 17); // :method GET
    block += static_cast<char>(0xC0 | 23); // :scheme https
    block += static_cast<char>(0x51);      // :path, literal value
    block += static_cast<char>(path.size());
    block += path;
    block += static_cast<char>(0x50); // :authority, literal value
    block += '\x01';
    block += 't';
    std::string frame("\x01", 1);
    frame += static_cast<char>(block.size());
    return frame + block;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static std::shared_ptr<dispatch::app_routes> routes = make_routes();
    echo_path_app app;
    std::atomic<uint32_t> pending{0};
    fake_backend* fake = nullptr;
    server::server_config cfg;
    cfg.host_loop = true; // turns are driven from here (hosted_turn)
    cfg.pin_threads = false;
    cfg.http3.enabled = true;
    cfg.http3.credentials = quic::testing::pair_fixture::creds();
    cfg.http3.transport.max_streams_bidi = 8;
    cfg.http3.settings.max_concurrent_streams = 8;
    cfg.wrap_backend = [&fake](std::unique_ptr<io_backend>) {
        auto f = std::make_unique<fake_backend>();
        fake = f.get();
        return std::unique_ptr<io_backend>(std::move(f));
    };
    // The TCP listener takes a free port; HTTP/3 binds UDP on the same number, which another
    // process may hold: take another port then (the reactor closes the listener it was given).
    std::unique_ptr<server::reactor> r;
    datagram_address server_addr;
    for (int attempt = 0; attempt < 20 && !r; ++attempt) {
        core::result<std::vector<int>> l = uring::open_listeners("127.0.0.1", 0, 1, 16);
        check(l.ok());
        int lfd = l.value().front();
        server_addr = v4("127.0.0.1", local_port(lfd));
        r = std::make_unique<server::reactor>(0, cfg, *routes, app, lfd, -1, true, &pending, nullptr);
        if (!r->setup().ok()) {
            r.reset();
        }
    }
    check(r != nullptr);
    client c(v4("127.0.0.1", 40000), server_addr, core::monotonic_ns());
    check(c.ok());
    datagram_address stray = v4("127.0.0.2", 40001);
    bool done = false;
    fuzz::script_reader in{data, size};
    for (int ops = 0; in.has(1) && ops < 500 && !done; ++ops) {
        switch (in.byte() % 7) {
        case 0:
            if (!in.has(2)) {
                return 0;
            }
            fake->inject(0, stray, server_addr, in.bytes(in.u16()));
            break;
        case 1: {
            std::vector<std::string> out;
            if (!c.write_flipped_from(in, core::monotonic_ns(), out)) {
                return 0;
            }
            for (const std::string& d : out) {
                fake->inject(0, c.addr, server_addr, d);
            }
            break;
        }
        case 2:
            done = r->hosted_turn() == 0;
            for (const fake_backend::sent_datagram& d : fake->sent) {
                check(d.id == 0);
                check(d.payload.size() <= NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE);
                if (d.peer.len == c.addr.len && std::memcmp(&d.peer.addr, &c.addr.addr, c.addr.len) == 0) {
                    c.read(d.payload, core::monotonic_ns());
                }
            }
            fake->sent.clear();
            break;
        case 3: {
            if (!in.has(1)) {
                return 0;
            }
            static const char* const paths[] = {"/native", "/app/x", "/nowhere"};
            if (int64_t id = c.open_bidi(); id >= 0) { // the path byte is read only then
                c.send(id, get_request(paths[in.byte() % 3]), true);
                c.newest = id;
            }
            break;
        }
        case 4: {
            if (!in.has(2)) {
                return 0;
            }
            std::string bytes(in.bytes(in.u16()));
            c.send_request(std::move(bytes));
            break;
        }
        case 5:
            r->request_stop();
            break;
        case 6:
            if (!c.reset_newest(in)) {
                return 0;
            }
            break;
        }
    }
    r.reset(); // with whatever is still open: the endpoint's connections free their slots
    return 0;
}
