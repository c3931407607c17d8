// One run of connection_fuzz (the script and the invariants are described in
// connection_fuzz.cpp): what the run records per request, per stream and per request
// body, and the run itself. connection_fuzz.cpp has the script's operations, the client's
// and the reactor's sides and the checks; connection_fuzz_app.cpp the application's side.
#pragma once

#include "http/http1_connection.hpp"

#include "dispatch/dispatcher.hpp"
#include "tests/fuzz/script_reader.hpp"
#include "tests/fuzz/wire_responses.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::fuzz::http1 {

/// CONNECTION_FUZZ_TRACE=1: print each operation and, on failure, the wire so far.
extern const bool tracing;
/// Borrowed bodies still alive (must be 0 once a run is over).
extern int live_keeps;

/// The route table every run serves: native, metrics, app routes (some streaming bodies,
/// one watching for disconnects) and a WebSocket route.
const dispatch::app_routes& routes();

/// The Date of every env (fixed, so that runs replay alike).
inline constexpr std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";

/// A producer's stream_control: counts the credits it is given; told on_closed twice fails.
struct probe_stream final : http::stream_control {
    uint64_t credited = 0;
    int closed = 0;
    void on_sent(size_t n) noexcept override { credited += n; }
    void on_closed() noexcept override {
        if (++closed > 1) {
            fail("(b) a stream_control was told on_closed twice");
        }
    }
};

/// A stream handed to the connection, and what its producer did with it.
struct stream_entry {
    std::shared_ptr<probe_stream> stream;
    uint64_t seq = 0;
    uint64_t produced = 0;      ///< body bytes sent with the stream's response
    bool producer_done = false; ///< the producer sent end or abort (it expects nothing more)
};

/// Per request (seq), as the dispatcher saw it and as the application answered it.
struct seq_record {
    bool dispatched = false; ///< went through the dispatcher (errors and CONNECT do not)
    bool to_app = false;
    bool upgrade = false; ///< a WebSocket handshake: the app may answer 101
    http::request_context ctx;
    bool handed = false;   ///< the app_request came out of the batch
    bool started = false;  ///< the application sent a head
    bool finished = false; ///< the application sent end or abort
    bool broken = false;   ///< the application made the response impossible to complete
    int64_t declared = -1;
    int stream = -1;      ///< index in streams, when streamed
    std::string produced; ///< body bytes the application produced, in order
};

/// The app's end of a streamed request body: records what the protocol pushed and how
/// it ended (exactly once, never both).
struct fuzz_body final : http::body_stream {
    uint64_t seq = 0;
    uint64_t pushed = 0;
    uint64_t taken = 0;
    int ends = 0;
    void push(std::string_view b) noexcept override {
        check(ends == 0, "(b) body bytes pushed after the body ended");
        pushed += b.size();
    }
    void finish() noexcept override {
        check(ends == 0, "(b) a body stream (or watch) ended twice");
        ++ends;
    }
    void fail(http::body_error) noexcept override {
        check(ends == 0, "(b) a body stream (or watch) ended twice");
        ++ends;
    }
    uint64_t unconsumed() const noexcept override { return pushed - taken; }
};

/// Makes the streamed request bodies, and keeps them for the checks.
struct fuzz_bodies final : dispatch::body_stream_factory {
    std::vector<std::shared_ptr<fuzz_body>> made;
    std::shared_ptr<http::body_stream> make_body_stream(uint32_t, uint32_t, uint64_t seq) override {
        auto b = std::make_shared<fuzz_body>();
        b->seq = seq;
        made.push_back(b);
        return b;
    }
};

/// The runtime's dispatcher, recording what it was asked (the wire check needs to know
/// which responses answer HEAD or HTTP/1.0 requests, and which went to the app).
class recording_dispatcher final : public http::dispatcher {
  public:
    recording_dispatcher(dispatch::request_dispatcher& real, std::vector<seq_record>& seqs)
        : _real(real), _seqs(seqs) {}
    verdict on_request(http::protocol& conn, const http::request_event& ev, http::protocol_env& env,
                       std::shared_ptr<http::body_stream>& stream) override {
        if (_seqs.size() <= ev.seq) {
            _seqs.resize(ev.seq + 1);
        }
        seq_record& r = _seqs[ev.seq];
        check(!r.dispatched, "(d) a seq dispatched twice");
        r.dispatched = true;
        r.ctx = ev.ctx;
        verdict v = _real.on_request(conn, ev, env, stream);
        if (v == verdict::buffer) {
            r.dispatched = false; // reported again once its body is read
            return v;
        }
        r.upgrade = v == verdict::upgrade;
        r.to_app = v == verdict::to_app || v == verdict::streaming || r.upgrade;
        return v;
    }

  private:
    dispatch::request_dispatcher& _real;
    std::vector<seq_record>& _seqs;
};

/// A connection driven by a script: the client, the reactor and the application act as
/// its bytes say, and the invariants are checked after each step and at the end.
class connection_run {
  public:
    /// A connection (slot 5, generation 9) with the limits and app admission `config` picks.
    explicit connection_run(uint8_t config);
    ~connection_run();
    connection_run(const connection_run&) = delete;
    connection_run& operator=(const connection_run&) = delete;

    /// One operation of the script (its first byte picks it), then the checks.
    void step(script_reader& s);
    /// The end of the script: the reactor sends what is left, then the wire is checked.
    void finish();
    /// The client goes away: every stream, body and file must have been let go.
    void finish_checks();
    /// Switched protocols: the run is over (the new protocol has its own fuzzer).
    bool switched() const noexcept { return _switched; }

  private:
    http::protocol_env env() {
        return http::protocol_env{_limits, date, _now, _draining, _counters, _recorder, _output_limit};
    }
    uint64_t unsent() { return _conn.output().bytes() + _batch.remaining(); }

    // The client's and the reactor's sides, and the checks (connection_fuzz.cpp).
    void client_send(uint8_t count);
    void feed(std::string_view bytes, http::protocol_env& e);
    void collect();
    void pass_time(uint8_t seconds);
    void send(uint8_t count, uint8_t shape);
    void turn();
    void close();
    void check_switch(uint64_t seq);
    void check_state();
    wire_summary check_wire() const;
    request_facts facts(uint64_t k) const;

    // The application's side (connection_fuzz_app.cpp).
    seq_record* pick(uint8_t b, bool started, bool finished_ok = false);
    void build_head(http::response_head& h, uint64_t seq, uint16_t status, uint8_t flags, int64_t declared);
    void attach_body(http::app_response& m, seq_record& r, uint64_t size, uint8_t source);
    int new_stream(uint64_t seq);
    void deliver(http::app_response&& m);
    void answer(script_reader& s);
    void stream_head(script_reader& s);
    void stream_body(script_reader& s);
    void stream_end(script_reader& s);
    void abort_response(script_reader& s);
    void accept_upgrade(seq_record& r);
    void misbehave(script_reader& s);

    http::connection_limits _limits;
    core::core_counters _counters;
    std::atomic<uint32_t> _app_pending{0};
    uint32_t _app_limit = 0;
    bool _websocket = false; ///< config 0x10: WebSocket handshakes are in the canned table
    bool _switched = false;
    std::string _fed;     ///< every byte given to the connection, in order
    std::string _pending; ///< what the new protocol was given at the switch
    fuzz_bodies _bodies;
    dispatch::request_dispatcher _dispatcher{routes(), nullptr, &_app_pending, _app_limit, nullptr, &_bodies};
    std::vector<seq_record> _seqs;
    recording_dispatcher _recorder{_dispatcher, _seqs};
    http::http1_connection _conn;
    size_t _output_limit = SIZE_MAX;
    uint32_t _now = 1000;
    bool _draining = false;
    bool _peer_eof = false;
    bool _released = false;
    bool _reset = false; ///< released by op_gone (the client vanished mid-way)
    core::send_batch _batch;
    std::string _wire;   ///< bytes the reactor sent, in order
    std::string _client; ///< bytes the client has yet to send
    std::string _stash;  ///< bytes read while paused (the reactor's stash)
    std::vector<stream_entry> _streams;
    std::vector<std::weak_ptr<core::file_handle>> _files;
    uint64_t _produced_total = 0;
    size_t _handed = 0;   ///< app requests taken from the batch
    size_t _finished = 0; ///< of those, answered to the end (or aborted) by the app
    bool _was_closing = false;
    bool _flush_only = false; ///< close_after_flush() was seen
    uint64_t _flush_total = 0;
};

} // namespace ringbolt::fuzz::http1
