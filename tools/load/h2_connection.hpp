// Owns: one HTTP/2 client connection of ringbolt-ws-load --http2 — a TCP socket (h2c with
// prior knowledge, RFC 9113 §3.3) and an nghttp2 client session whose streams are
// tunnels (load_tunnel.hpp): extended CONNECTs (RFC 8441) opened once the server's
// SETTINGS allow them, up to N at once. The same surface as h3_connection, so one thread
// loop (ws_mux_worker.cpp) drives either. The only file that calls nghttp2.
#pragma once

#include "h3_connection.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

struct nghttp2_session;

namespace ringbolt_load {

class h2_connection : public client_connection {
  public:
    // phase: handshaking until the server's SETTINGS allow extended CONNECT

    // request: the CONNECT's fields (h3_request's, lower-case, pseudo-headers first).
    h2_connection(const h3_request& request, const load_target& target, uint32_t streams, h3_request_events& events);
    ~h2_connection();
    h2_connection(const h2_connection&) = delete;
    h2_connection& operator=(const h2_connection&) = delete;

    // A new socket (connect in progress) and session; the preface goes with the first flush.
    bool open(int64_t now);
    // Tells every tunnel its stream is gone and forgets the connection.
    void abandon(h3_failure why, int64_t now);
    // End of the run: tunnels told, GOAWAY sent (best effort), socket closed. Returns 0: a
    // tunnel counts its own unfinished messages.
    uint64_t close_gracefully(int64_t now, int64_t since, int64_t until);

    bool on_readable(int64_t now);
    bool on_timer(int64_t) { return true; } // TCP keeps the timers
    // Opens streams up to the count, resumes tunnels with bytes to send, writes what is owed.
    bool flush(int64_t now);
    // Cancels (RST_STREAM CANCEL) tunnels past their deadline.
    void expire_requests(int64_t now, int64_t timeout_ns);

    int64_t expiry() const noexcept { return INT64_MAX; }
    int64_t next_due() const noexcept { return INT64_MAX; }
    size_t in_flight() const noexcept { return _streams_open.size(); }
    bool wants_flush() const noexcept { return false; }
    // Bytes are waiting for the socket to take them: wait for EPOLLOUT.
    bool wants_write() const noexcept { return !_wbuf.empty(); }

  private:
    struct stream_state {
        std::unique_ptr<load_tunnel> tunnel;
        int status = 0;
        const uint8_t* rest = nullptr; // what is left of the chunk being copied into DATA frames
        size_t rest_len = 0;
        size_t rest_whole = 0; // that chunk's whole length (acked once copied)
    };
    friend struct h2_callbacks;

    bool start_stream(int64_t now);
    void end_stream(int32_t id, bool reset, bool timed_out, bool cancel);
    bool write_out();
    void release();

    const h3_request& _request;
    const load_target& _target;
    uint32_t _streams;
    h3_request_events& _events;
    nghttp2_session* _session = nullptr;
    std::string _wbuf; // bytes nghttp2 produced that the socket has not taken yet
    std::vector<char> _rbuf;
    std::unordered_map<int32_t, stream_state> _streams_open;
};

} // namespace ringbolt_load
