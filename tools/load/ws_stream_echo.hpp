// Owns: a WebSocket echo on one HTTP/2 or HTTP/3 stream (RFC 8441, RFC 9220) for
// ringbolt-ws-load --http2/--http3: waits for the 200, then keeps D messages in flight,
// checks every echo byte for byte (ws_echo.hpp), answers pings, and counts into the
// thread's ws_thread_stats. The connection (h2_connection, h3_connection) carries the bytes.
#pragma once

#include "load_tunnel.hpp"
#include "ws_echo.hpp"
#include "ws_frame.hpp"
#include "ws_worker.hpp"

#include <deque>
#include <string>

namespace ringbolt_load {

// What the streams of one thread share: the plan, the messages, the counts and the
// share of -n.
struct ws_stream_context {
    const ws_run_plan& plan;
    const ws_echo_template& tpl;
    ws_thread_stats* st;
    uint64_t share = 0;    // -n: this thread's measured echoes (0: a duration run)
    uint64_t issued = 0;   // measured messages sent (and not given back)
    uint64_t finished = 0; // measured messages echoed or failed
    uint64_t next_who = 1; // the next stream's number in its messages
    bool any_accepted = false;
    int64_t retry_at = 0; // after a refused or failed extended CONNECT: no new stream before

    bool measured(int64_t t) const noexcept { return t >= plan.measure_ns; }
    bool budget_left() const noexcept { return share == 0 || issued < share; }
    void note_error(const std::string& what) {
        if (st->first_error.empty()) {
            st->first_error = what;
        }
    }
};

class ws_stream_echo final : public load_tunnel {
  public:
    ws_stream_echo(ws_stream_context& ctx, int64_t now);

    bool head(int status, int64_t now) override;
    bool data(const uint8_t* p, size_t len, int64_t now) override;
    size_t next_output(const uint8_t** p, size_t* len, size_t max, int64_t now) override;
    bool wants_output(int64_t now) const override;
    void acked(size_t n) override;
    void ended(bool reset, bool timed_out, int64_t now) override;
    void run_over() override;
    int64_t deadline() const override;

  private:
    struct message {
        uint64_t seq;
        int64_t sent_ns;
    };
    bool may_send(int64_t now) const noexcept;
    bool on_frame_data(const ws_event& ev, int64_t now);
    void settle_all(bool fail_oldest);
    bool broken(bool fail_oldest);

    ws_stream_context& _ctx;
    uint64_t _who;
    int64_t _opened_ns;
    bool _accepted = false;
    bool _over = false;
    uint64_t _next_seq = 0;
    std::deque<message> _inflight; // sent, echo not yet complete
    ws_echo_check _echo;           // the echo of _inflight.front() so far
    ws_frame_parser _parser;
    std::deque<std::string> _chunks; // handed out or waiting, until acked
    size_t _handed = 0;              // chunks [0, _handed) were handed out
    size_t _front_acked = 0;         // bytes of _chunks.front() already acked
};

} // namespace ringbolt_load
