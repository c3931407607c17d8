// Owns: one HTTP/3 client connection of ringbolt-h3-load — a connected UDP socket, an
// ngtcp2 client connection with a GnuTLS session (the server's certificate is not
// checked) and an nghttp3 client session — that keeps up to N request streams open and
// reports each request's end to its thread. A stream may instead carry a tunnel
// (load_tunnel.hpp: a WebSocket of ringbolt-ws-load --http3, RFC 9220). The only file that
// calls ngtcp2 and nghttp3 (written for ngtcp2 0.12 and nghttp3 0.8, the versions the
// server supports).
#pragma once

#include "client_connection.hpp"
#include "command_line.hpp"
#include "load_tunnel.hpp"

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

struct ngtcp2_conn;
struct nghttp3_conn;
typedef struct gnutls_session_int* gnutls_session_t;
typedef struct gnutls_certificate_credentials_st* gnutls_certificate_credentials_t;

namespace ringbolt_load {

// Why a request ended without a response.
enum class h3_failure {
    connect, // the handshake failed or timed out before the request could start
    read,    // the connection died, or the server reset the stream, before the response ended
    timeout, // no complete response within --timeout: the stream was cancelled
};

// What a connection asks of and tells its thread.
class h3_request_events {
  public:
    virtual ~h3_request_events() = default;
    // May one more request start now? (the run's window, the -n budget). A yes is a
    // promise: the request starts and ends in response_done or request_failed.
    virtual bool claim_request(int64_t now) noexcept = 0;
    // The whole response (head and body) of a request started at start_ns arrived.
    virtual void response_done(int64_t start_ns, int status, int64_t now) noexcept = 0;
    virtual void request_failed(int64_t start_ns, h3_failure why, int64_t now) noexcept = 0;
    // Datagram bytes received.
    virtual void received(size_t bytes, int64_t now) noexcept = 0;
    // A claimed stream carries this tunnel instead of a request (null: a request). Its
    // end goes to the tunnel, not to response_done or request_failed.
    virtual std::unique_ptr<load_tunnel> open_tunnel(int64_t) { return nullptr; }
};

// The request every stream sends, built once per run: pseudo-headers, user headers
// (names lower-cased, RFC 9114 §4.2) and the body; only the path may change per request.
struct h3_request {
    // pseudo-headers (4), content-length and the user's -H fields (h3_options caps them)
    static constexpr size_t max_user_fields = 64;
    static constexpr size_t max_fields = max_user_fields + 5;
    static constexpr size_t path_field = 3; // fields[path_field] is :path
    std::vector<std::pair<std::string, std::string>> fields;
    // -i: the paths each connection sends in turn, from the first, in place of
    // fields[path_field]'s (h2load's rotation); empty: that one path on every request.
    std::vector<std::string> paths;
    std::string body;
    bool has_body = false;
    static h3_request build(const std::string& method, const load_target& target,
                            const std::vector<std::string>& headers, const std::string& body, bool has_body);
};

class h3_connection : public client_connection {
  public:
    // phase: handshaking is QUIC's and TLS's; ready once HTTP/3 is set up

    h3_connection(const h3_request& request, const load_target& target, uint32_t streams,
                  gnutls_certificate_credentials_t cred, h3_request_events& events);
    ~h3_connection();
    h3_connection(const h3_connection&) = delete;
    h3_connection& operator=(const h3_connection&) = delete;

    // A new socket and QUIC connection; the first flush sends the Initial. False (why in
    // error()) when the socket or the library refused.
    bool open(int64_t now);
    // Reports every request in flight as failed(why) and forgets the connection (no
    // packet sent: the peer is gone or broke the protocol).
    void abandon(h3_failure why, int64_t now);
    // Constant-rate mode: this connection's requests are due at first_due_ns + k*interval_ns
    // (and latency counts from then); without it, a request starts as soon as a stream is free.
    void schedule(int64_t first_due_ns, int64_t interval_ns) noexcept {
        _next_due = first_due_ns;
        _interval = interval_ns;
    }
    // When the next due request could start (INT64_MAX: closed loop, or no free stream now).
    int64_t next_due() const noexcept;
    // End of the run: CONNECTION_CLOSE (H3_NO_ERROR) sent, requests in flight dropped
    // without a report; returns how many requests due in [since, until) got no answer: in
    // flight, or (constant rate) due by now but not sent.
    uint64_t close_gracefully(int64_t now, int64_t since, int64_t until);

    // The socket is readable: read every datagram waiting. False: the connection died.
    bool on_readable(int64_t now);
    // ngtcp2's timer (loss detection, ACK delay, idle): call when now >= expiry().
    bool on_timer(int64_t now);
    // Start requests up to the stream count, then write every packet owed.
    bool flush(int64_t now);
    // Cancels streams older than timeout_ns (RESET_STREAM + STOP_SENDING), reporting them.
    void expire_requests(int64_t now, int64_t timeout_ns);

    int64_t expiry() const noexcept;
    size_t in_flight() const noexcept { return _requests.size(); }
    // The last flush stopped at its packet cap with more to send.
    bool wants_flush() const noexcept { return _more; }
    // UDP drops what the socket does not take (QUIC sends it again): never waits to write.
    bool wants_write() const noexcept { return false; }

  private:
    struct stream_state {
        int64_t start_ns; // when it was due (constant rate) or sent (closed loop): latency from here
        int64_t sent_ns;  // when it was sent: the timeout runs from here
        int status = 0;
        std::unique_ptr<load_tunnel> tunnel;
    };

    friend struct h3_callbacks;

    bool start_request(int64_t due, int64_t now);
    bool may_open_stream() const noexcept;
    bool write_packets(int64_t now);
    bool send_batch(size_t count);
    bool setup_http3();
    void release();
    // A tunnel stream is over: its tunnel is told why, the stream is cancelled (when
    // cancel) and forgotten; the tunnel is kept until the connection closes, since
    // nghttp3 may still point into its unacked bytes.
    void end_tunnel(std::unordered_map<int64_t, stream_state>::iterator it, bool reset, bool timed_out, bool cancel);

    const h3_request& _request;
    const load_target& _target;
    uint32_t _streams;
    gnutls_certificate_credentials_t _cred;
    h3_request_events& _events;

    sockaddr_storage _local{};
    socklen_t _local_len = 0;
    ngtcp2_conn* _quic = nullptr;
    nghttp3_conn* _h3 = nullptr;
    gnutls_session_t _tls = nullptr;
    struct conn_ref_holder;
    std::unique_ptr<conn_ref_holder> _ref;
    int64_t _next_due = INT64_MAX; // constant rate: the intended time of the next request
    int64_t _interval = 0;         // constant rate: between this connection's requests; 0 = closed loop
    bool _more = false;
    std::unordered_map<int64_t, stream_state> _requests;
    std::vector<std::unique_ptr<load_tunnel>> _ended_tunnels;
    std::vector<uint8_t> _out; // packets of one sendmmsg batch
    std::vector<uint8_t> _in;  // datagrams of one recvmmsg batch
    size_t _pkt_len[32] = {};  // the lengths of _out's packets
    size_t _next_path = 0;     // -i: the index in _request.paths of the next request's path
};

} // namespace ringbolt_load
