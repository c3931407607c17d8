// What a server is told at start-up: addresses, threads, limits, timeouts, the kernel
// backend's sizes, the transports and HTTP versions. The composition root (server.cpp)
// hands it to each reactor; read-only once the reactors run.
#pragma once

#include "dispatch/proxy_headers.hpp"
#include "h3/connection.hpp"
#include "http/protocol.hpp"
#include "quic/config.hpp"
#include "quic/tls_session.hpp"
#include "transport/proxy_transport.hpp"
#include "transport/transport.hpp"
#include "uring/backend.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ringbolt::server {

/// SO_RCVBUF each HTTP/3 UDP socket asks for: the kernel's default (208 KiB) overflowed at
/// the end of a 64-connection x 64-stream load, dropping the clients' CONNECTION_CLOSE
/// datagrams, and a drain then waited for those connections until its deadline.
inline constexpr int quic_receive_buffer = 4 << 20;

/// HTTP/3 over QUIC next to the HTTPS listener (--http3): each reactor serves a UDP socket
/// on the same host and port (SO_REUSEPORT) with its own quic::endpoint
/// (server/reactor_quic.cpp). TCP answers then advertise it with Alt-Svc. The sockets form
/// one group, steered by connection ID (quic/steering.hpp): the server binds them in
/// reactor order, or a supervisor binds every worker's and hands each its slot's.
struct http3_config {
    bool enabled = false;
    quic::transport_config transport;
    h3::settings settings; ///< max_concurrent_streams = transport.max_streams_bidi (the server sets it)
    /// The certificate and key of the TLS listener, loaded for GnuTLS (QUIC's TLS); a
    /// reload replaces what it holds (new connections only).
    std::shared_ptr<quic::credentials_holder> credentials;
    /// Keys stateless resets and Retry tokens: shared by the server's reactors; all zero:
    /// random per start (server::start fills it). A supervisor gives its workers one, so
    /// a worker's successor resets its predecessor's connections in a way clients accept.
    std::array<uint8_t, 32> secret{};
    /// UDP sockets a supervisor bound (one per reactor, in order): reactor i serves
    /// inherited_fds[i] (server::start dups them). Empty: the server binds its own.
    std::vector<int> inherited_fds;
    /// The group position of reactor 0's socket (a worker's slot times its threads);
    /// reactor i's is first_position + i, in its connection IDs' first byte.
    unsigned first_position = 0;
    /// Filled by server::start: reactor i's socket at [i], which the reactor then owns.
    /// Empty (a reactor made without a server, in tests): each reactor opens its own.
    std::vector<uring::datagram_socket> sockets;
    size_t max_connections = 10'000; ///< per reactor
    /// Initials per second (per reactor) past which clients must prove their address with
    /// a Retry round trip; 0: always (--http3-retry-above).
    uint32_t retry_above_initials_per_second = 1000;
    /// Connections in their handshake (per reactor) past which new clients must prove their
    /// address with a Retry round trip (--http3-max-half-open; quic/config.hpp says why 256).
    size_t max_half_open = quic::endpoint_config{}.max_half_open;
    /// 0-RTT accepted from resumed sessions (--no-http3-early-data: resumption only).
    bool early_data = true;
    /// TLS reloads so far: each derives a new session ticket key from `secret`.
    uint32_t ticket_generation = 0;
    /// The ClientHellos whose early data was taken (quic/replay_store.hpp): a supervisor's,
    /// shared by its workers (`quic_replay_fd`), or the server's own; kept across reloads.
    std::shared_ptr<quic::replay_store> replay;
    /// What the credentials' sessions resume with (quic/tls_session.hpp).
    quic::resumption resumption() const noexcept { return {secret, ticket_generation, early_data, replay}; }
};

/// --proxy-protocol: the PROXY header a load balancer sends before each connection.
struct proxy_protocol_config {
    ringbolt::transport::proxy_policy policy; ///< versions 0: off
    dispatch::trusted_proxies balancers;      ///< --forwarded-allow-ips: whose header is believed (and required)
};

struct server_config {
    std::string host = "127.0.0.1";
    uint16_t port = 8000;
    unsigned threads = 0; ///< 0: one per CPU available to the process
    http::connection_limits limits;
    proxy_protocol_config proxy;
    uint32_t graceful_timeout_s = 30; ///< drain deadline after SIGTERM/SIGINT
    /// Drain after this many requests, every reactor's together (0: no limit;
    /// server/request_limit.hpp): `--limit-max-requests`, gunicorn's `--max-requests`.
    uint64_t max_requests = 0;
    /// After a final response the connection lingers, reading and discarding what the
    /// client still sends (a refused upload), until the client's FIN, `linger_s` without
    /// a byte, or `linger_max_s` in all (2 s while draining), as nginx's lingering_timeout
    /// and lingering_time: a client that sends its whole body before reading (most do)
    /// gets to read the answer instead of a reset.
    uint32_t linger_s = 2;
    uint32_t linger_max_s = 30;
    unsigned ring_entries = 1024;
    /// Receive buffers per core at most (a power of two) and their size: the most the
    /// io_uring backend's receive ring offers (16 MiB). It starts at a few buffers and grows
    /// only when a recv finds it dry (uring/recv_ring.hpp): a reactor keeps what it has in
    /// flight, not a buffer for every connection that might have bytes. Where the kernel
    /// consumes buffers incrementally (6.15+), the same bytes in 32 KiB buffers.
    unsigned buffer_count = 4096;
    unsigned buffer_size = 4096;
    /// Incremental buffer consumption where the kernel has it; tests set false to run as on
    /// a kernel without (a whole buffer a read).
    bool incremental_buffers = true;
    /// Multishot recvs bounded by the kernel's byte limit where it has one (uring_backend.hpp,
    /// multishot_recv_limit); tests set false to run as on a kernel before 6.17.
    bool recv_byte_limit = true;
    int backlog = 4096;
    bool pin_threads = true;
    /// Reactor threads under SCHED_BATCH: a reactor's wake-up (a request arrived, an
    /// answer is ready) does not preempt the thread on its CPU, typically the asyncio
    /// loop thread holding the GIL the reactor would wait for; it runs when that thread
    /// blocks or its slice ends, and handles what arrived meanwhile in one turn. Python's
    /// options resolve "auto" (App._build, docs/cli.md).
    bool batch_scheduling = false;
    uint32_t max_connections = 1u << 20; ///< per core
    /// The application's event loop runs on the reactor's own thread (app_handler::
    /// host_loop): no hand-off between threads for async handlers. Only with one reactor
    /// (the server turns it off otherwise). The ring is then shared with a stand-in thread
    /// that serves the connections while the loop is blocked (an async handler that does
    /// not yield), so it is set up without SINGLE_ISSUER (setup_ring's `shared`).
    bool host_loop = false;
    /// With host_loop: the stand-in takes the ring once the loop has not turned for this
    /// long (RINGBOLT_STANDIN_AFTER_MS; raised under valgrind, where a loop turn of a few
    /// hundred requests lasts longer than the default and the stand-in would serve instead).
    uint32_t standin_after_ms = 500;
    /// Inherited listening sockets (a supervisor bound them; several worker processes
    /// share them, so a worker that exits never closes a listener). Reactor i uses
    /// fds[i % size]. Empty: each reactor binds its own SO_REUSEPORT listener.
    std::vector<int> listen_fds;
    /// listen_fds were bound for this process alone (`--uds` without workers): its stop is
    /// the socket's stop, so the drain turns new clients away there as on a listener it
    /// bound itself (reactor::begin_drain). A supervisor's, `--fd`'s or the reloader's: false.
    bool owns_listen_fds = false;
    int cpu_offset = 0;                 ///< first CPU index (into the allowed set) for reactor 0
    std::string io = "auto";            ///< "auto" (io_uring, else epoll), "io_uring" or "epoll"
    uint32_t limit_connections = 0;     ///< per reactor (its _live), 0 = none: accepting pauses at the cap
    uint32_t limit_concurrency = 0;     ///< requests waiting for Python, process-wide, 0 = none: 503 above
    size_t output_high_water = 1 << 20; ///< stop reading a connection whose unsent output passes this
    /// SO_RCVBUF a plaintext connection gets once a request body streams on it (0: the
    /// kernel's autotuning throughout; reactor::widen_receive_buffer): as much of it as the
    /// kernel grants (net.core.rmem_max, or SO_RCVBUFFORCE with CAP_NET_ADMIN), nothing
    /// if that is under 2 MiB. Only raised.
    int body_receive_buffer = 8 << 20;
    http::server_fields fields; ///< Server/Date/extra fields added to every response
    /// Makes each connection's transport (TLS); null: plain TCP.
    std::shared_ptr<transport::transport_factory> transports;
    /// --http: HTTP/1.1 and HTTP/2 (h2c by prior knowledge and Upgrade, h2 by ALPN), one
    /// of them only. Consulted where a connection's protocol is chosen (protocols_for in
    /// server/protocols.cpp, protocol_env::http1); TLS's ALPN offer follows it
    /// (tls::options::alpn).
    http::http_versions http = http::http_versions::both;
    http3_config http3; ///< --http3 (needs `transports`: the same certificate and key)
    /// Tests only (empty otherwise): wraps each reactor's kernel backend, so a test can
    /// hold completions back or reorder them (tests/unit/uring/fault_backend.hpp).
    std::function<std::unique_ptr<uring::io_backend>(std::unique_ptr<uring::io_backend>)> wrap_backend;
};

/// What the kernel backend is set up with (io_backend::setup).
inline uring::backend_config backend_config_of(const server_config& c) noexcept {
    return {c.ring_entries, c.buffer_count, c.buffer_size, c.incremental_buffers, c.host_loop, c.recv_byte_limit};
}

} // namespace ringbolt::server
