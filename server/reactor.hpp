// The per-core event loop: a kernel backend (io_uring, or epoll as the fallback), one
// listener, a connection table, and once a second the Date refresh and the timeout
// sweep. Nothing here is shared with other cores except the read-only routes and the
// stop flag.
#pragma once

#include "core/clock.hpp"
#include "core/counters.hpp"
#include "core/date_cache.hpp"
#include "core/log_throttle.hpp"
#include "core/result.hpp"
#include "dispatch/app_request.hpp"
#include "dispatch/app_routes.hpp"
#include "dispatch/dispatcher.hpp"
#include "http/protocol_registry.hpp"
#include "server/app_handler.hpp"
#include "server/quic_counters.hpp"
#include "server/request_limit.hpp"
#include "server/server_config.hpp"
#include "transport/transport.hpp"
#include "uring/backend.hpp"
#include "uring/ring.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ringbolt::server {

struct quic_side;
/// Deletes a reactor's QUIC side where its type is complete (reactor_quic.cpp).
struct quic_side_deleter {
    void operator()(quic_side* q) const noexcept;
};

/// The socket's peer of connection `fd` (family 0 when it is already gone), the start of
/// the connection's facts (conn_slot::facts).
http::peer_address peer_of(uring::io_backend& io, int fd) noexcept;

class reactor final : private uring::io_events, private dispatch::body_stream_factory, public response_sink {
  public:
    reactor(unsigned index, const server_config& config, const dispatch::app_routes& routes, app_handler& app,
            int listen_fd, int cpu, bool use_epoll, std::atomic<uint32_t>* app_pending,
            const dispatch::metrics_source* metrics);
    ~reactor() override;
    reactor(const reactor&) = delete;
    reactor& operator=(const reactor&) = delete;

    /// Create the backend's kernel objects. Must run on the reactor's own thread
    /// (io_uring SINGLE_ISSUER).
    core::result<void> setup() noexcept;
    /// Serve until stopped and drained (hosting the application's event loop when
    /// server_config::host_loop says so).
    void run() noexcept;
    /// A hosted reactor's turn, on the event loop's thread (app_handler::host_loop): what
    /// the kernel has is dispatched and the output submitted, without waiting. 0: drained,
    /// stop calling; 1: call again once poll_fd() is readable; 2: call again at once.
    /// With --http3, plus `8 | ms << 4` when a QUIC timer falls due within the loop's tick
    /// (hosted_tick_ms): call again in ms milliseconds at the latest.
    /// While the stand-in serves the connections it waits for the stand-in to hand back.
    int hosted_turn() noexcept;
    /// How often a hosted loop calls hosted_turn() at the least (AsyncRunner.host's tick).
    static constexpr unsigned hosted_tick_ms = 250;
    /// Readable when a hosted reactor has something for hosted_turn().
    int poll_fd() const noexcept { return _backend->poll_fd(); }
    /// Ask the loop to drain and exit (any thread).
    void request_stop() noexcept;
    /// Before run(): the requests this reactor counts go towards the server's `limit`,
    /// at the end of each turn (the turn that reaches it stops the server).
    void count_requests_towards(request_limit* limit) noexcept { _request_limit = limit; }

    core::core_counters& counters() noexcept { return _counters; }
    unsigned index() const noexcept { return _index; }
    /// Responses from an offloading application (any thread): queued, loop woken.
    void deliver(std::vector<http::app_response>& responses) noexcept override;
    bool deliver_here(std::vector<http::app_response>& responses) noexcept override;
    const char* backend_name() const noexcept { return _backend->name(); }
    /// Per-route latency histograms (indexed by router id); null when metrics are off.
    const core::latency_histogram* route_latency() const noexcept { return _route_latency.get(); }
    /// HTTP/3's tallies (any thread); null when the reactor serves no HTTP/3.
    const quic_counters* quic_stats() const noexcept { return _quic ? &_quic_counters : nullptr; }

  private:
    /// A connection slot's life: free, serving, lingering after the final response
    /// (FIN sent, reading and discarding), or closing (waiting for ops in flight); or a
    /// QUIC connection's (no fd: its h3::connection answers the app by slot and gen, the
    /// reactor's QUIC endpoint owns the connection and frees the slot: reactor_quic.cpp).
    enum class slot_state : uint8_t { free, open, lingering, closing, quic };
    /// The socket's multishot recv, the one reading fact the reactor keeps (the input's
    /// own state is the protocol's: http::input_state). Not armed (ended, mid-resume, or
    /// not yet), armed, or a cancel in flight (its end is expected, not an error); stopped
    /// for backpressure (the protocol held its input back, or the output went over the
    /// high-water mark: resume_reading restarts it once neither holds), or stopping (a
    /// pause's cancel in flight). Its moves: arm_recv idle → armed; pause_reading armed →
    /// stopping (with the cancel), cancelling → stopping, idle → stopped; the recv's end
    /// stopping → stopped, else → idle; unpause stopped → idle, stopping → cancelling (its
    /// end reads on); the stall probe and close_conn armed → cancelling; maybe_finalize → idle.
    enum class recv_state : uint8_t { idle, armed, cancelling, stopped, stopping };
    /// Output: nothing in flight, a send in flight, or a file range waiting for room.
    enum class send_state : uint8_t { idle, sending, waiting_room };

    static constexpr size_t max_iov = 8;
    static constexpr uint32_t fresh_grace_s = 1;  ///< drain: time for a new connection's first request
    static constexpr uint32_t drain_report_s = 5; ///< drain: how often it says what it waits for
    /// rearm_after_pause reads what came during a pause in chunks of this size, and at
    /// most this much before it arms a recv for the rest (one resume cannot hog the loop).
    static constexpr size_t rearm_read_chunk = 64 * 1024;
    static constexpr size_t rearm_read_limit = 1024 * 1024;
    /// probe_recv looks at a connection whose armed recv has delivered nothing for this
    /// long, then again after twice the silence so far (a long-idle connection costs
    /// almost nothing), and after one more second when the first look found input.
    static constexpr uint32_t stall_probe_s = 2;

    /// A connection's state, hot fields first: what every request touches (live_slot,
    /// on_recv, start_send, on_send: the states, the transport and protocol, the send in
    /// flight and its iovecs) lies in the first three cache lines of a line-aligned slot,
    /// so a request on one of thousands of connections, whose slot has left the cache
    /// since its last request, misses on three lines, not four to six (issue 29:
    /// benchmarks/journal/2026-11-26.md, "conn_slot's hot lines").
    struct alignas(64) conn_slot {
        int fd = -1;
        uint32_t gen = 0;
        slot_state state = slot_state::free;
        recv_state recv = recv_state::idle;
        send_state send = send_state::idle;
        bool eof_stashed = false;   ///< the socket's EOF came behind the stash: the protocol hears it after those bytes
        bool dirty = false;         ///< in _dirty: output to look at before the next wait
        bool alpn_seen = false;     ///< TLS: the first plaintext came (the registry was asked about ALPN)
        bool probe_suspect = false; ///< the last probe found input the recv had not delivered
        bool rcvbuf_wide = false;   ///< a body streamed: the socket has body_receive_buffer (widen_receive_buffer)
        uint32_t last_in = 0;       ///< coarse second of the last input (or recv armed)
        uint32_t probe_at = 0;      ///< probe_recv looks at this coarse second (0: from last_in)
        uint32_t send_since = 0;    ///< second of the output's last progress (write_stalled)
        int32_t unacked_seen = -1;  ///< the socket's unacknowledged bytes at write_stalled's last look (-1: none yet)
        transport::transport* tp = &transport::plain_transport::instance();
        std::unique_ptr<transport::transport> own_tp; ///< a transport with state (TLS): tp points at it
        std::unique_ptr<http::protocol> proto;        ///< after own_tp: destroyed before the transport it may look at
        uint32_t linger_until = 0; ///< lingering ends once this second has passed (moved on by bytes)
        uint32_t linger_limit = 0; ///< and once this one has, at the latest
        core::send_batch batch;    ///< what the send in flight covers (frozen until consumed)
        msghdr msg{};
        iovec iov[max_iov];
        // Cold: a pause's bytes, the parked first protocol.
        std::string stash; ///< bytes that arrived after reading was paused
        /// A receive into a streamed body's memory is in the kernel (arm_recv_into): what
        /// keeps that memory alive until it ends (protocol::direct_input_owner).
        std::shared_ptr<void> rx_owner;
        /// The slot's first protocol (HTTP/1.1) while another one (WebSocket after a 101,
        /// h2) serves the connection: reused for the slot's next connection.
        std::unique_ptr<http::protocol> parked_first;
        /// The connection's facts: the client's address (the socket's peer, or the client a
        /// balancer's PROXY header names), its scheme, its TLS details and the header's.
        /// Made once when the connection is accepted, completed once when a PROXY header is
        /// read (serve_proxied_client), then read-only: every protocol that starts on the
        /// connection, by whatever way it is chosen (ALPN, the h2 preface, Upgrade, a
        /// WebSocket's 101), is opened with this value, so none can serve another address.
        http::peer_address facts;
    };

    std::shared_ptr<http::body_stream> make_body_stream(uint32_t slot, uint32_t gen, uint64_t seq) override {
        return _app.make_body_stream(*this, slot, gen, seq);
    }

    // io_events
    void on_wait_end() noexcept override { read_clock(); }
    void on_accept(int fd) noexcept override;
    void on_accept_end(int res) noexcept override;
    void on_recv(uint32_t slot, uint16_t gen, const char* data, size_t len) noexcept override;
    void on_recv_into(uint32_t slot, uint16_t gen, size_t len) noexcept override;
    void on_recv_end(uint32_t slot, uint16_t gen, uring::recv_end how) noexcept override;
    void on_send(uint32_t slot, uint16_t gen, int res) noexcept override;
    void on_writable(uint32_t slot, uint16_t gen, int res) noexcept override;
    void on_datagram(uint32_t id, const uring::datagram& d) noexcept override;
    void on_datagram_end(uint32_t id, int res) noexcept override;
    void on_datagrams_sent(uint32_t id, uring::datagram_send& batch) noexcept override;

    // HTTP/3 (reactor_quic.cpp; all inert without --http3).
    friend struct quic_side;
    core::result<void> setup_quic() noexcept;
    /// Before a wait: the QUIC output goes out; the wait ends by the next QUIC timer.
    /// (Inline: without --http3 a turn pays a test of _quic, not a call.)
    unsigned quic_before_wait(unsigned wait_ms) noexcept { return _quic ? quic_flush(wait_ms) : wait_ms; }
    /// The QUIC side's kept small blocks freed (before the tick gives memory back).
    void quic_release_blocks() noexcept;
    unsigned quic_flush(unsigned wait_ms) noexcept;
    /// After a wait: the QUIC timers that are due.
    void quic_after_wait() noexcept {
        if (_quic) {
            quic_timers();
        }
    }
    void quic_timers() noexcept;
    /// A hosted reactor's QUIC output sent and its next timer told: hosted_turn's `8 | ms
    /// << 4` (or 2 when one is due now, 0 when none is due within the tick).
    int hosted_quic_state() noexcept;
    /// The same after answers delivered on the loop's thread: the loop is woken when a
    /// timer now falls due before the one it was last told of.
    void hosted_quic_after_delivery() noexcept;
    void quic_begin_drain() noexcept;
    void publish_quic_counters() noexcept;
    /// No QUIC connection left that may still carry a stream (or none served).
    bool quic_drained() const noexcept;
    /// A draining reactor says every few seconds what it still waits for (the QUIC
    /// connections one by one: phase, open streams, unacknowledged bytes).
    void report_drain() noexcept;
    void report_quic_drain() const noexcept;

    conn_slot* live_slot(uint32_t slot, uint16_t gen) noexcept;
    void arm_recv(conn_slot& s, uint32_t slot) noexcept;
    void pause_reading(conn_slot& s, uint32_t slot) noexcept;
    void rearm_after_pause(conn_slot& s, uint32_t slot) noexcept;
    void on_direct_recv(conn_slot& s, uint32_t slot, size_t len) noexcept;
    /// A body began to stream while the multishot recv runs: cancel it, so that the body's
    /// next bytes are received into its own memory (reactor_recv.cpp).
    void switch_to_body_reads(conn_slot& s, uint32_t slot) noexcept;
    void widen_receive_buffer(conn_slot& s) noexcept;
    /// widen_receive_buffer sets nothing where the kernel grants less (no gain over its
    /// autotuning, which a set would end).
    static constexpr int body_receive_buffer_floor = 2 << 20;
    /// After plaintext input was parsed: pause on backpressure, send or close.
    void after_plain_input(conn_slot& s, uint32_t slot) noexcept;
    void serve_proxied_client(conn_slot& s, uint32_t slot, const transport::proxied_client& client) noexcept;
    void probe_recv(conn_slot& s, uint32_t slot) noexcept;
    void start_send(conn_slot& s, uint32_t slot) noexcept;
    /// The live slot a send or writable completion is for, its send state back to idle;
    /// nullptr when the slot was reused or was not `awaited` (a late completion).
    conn_slot* send_completed(uint32_t slot, uint16_t gen, send_state awaited) noexcept;
    /// Output that cannot go on (a failed send, a closing connection): the batch is
    /// dropped, then a closing connection finalizes and another one closes.
    void drop_output(conn_slot& s, uint32_t slot) noexcept;
    void send_file(conn_slot& s, uint32_t slot) noexcept;
    uint64_t unsent(const conn_slot& s) const noexcept;
    void after_output(conn_slot& s, uint32_t slot) noexcept;
    void mark_dirty(conn_slot& s, uint32_t slot) noexcept;
    void switch_protocol(conn_slot& s) noexcept;
    /// `next` serves the connection from now on: the protocol it replaces is released and,
    /// the first time, parked for the slot's next connection; a draining reactor drains it.
    void hand_over(conn_slot& s, std::unique_ptr<http::protocol> next) noexcept;
    void start_by_alpn(conn_slot& s, uint32_t slot, http::protocol_upgrade& chosen, std::string_view plain) noexcept;
    void close_conn(conn_slot& s, uint32_t slot, bool graceful) noexcept;
    void maybe_finalize(conn_slot& s, uint32_t slot) noexcept;
    void run_app() noexcept;
    void count_app_requests(size_t n) noexcept;
    /// One turn: submit and wait up to `wait_ms`, then dispatch, run the application,
    /// tick. False once drained (or on a fatal backend error).
    bool turn(unsigned wait_ms) noexcept;
    /// host_loop: the stand-in thread, and its turns while the loop is blocked.
    void standin_main() noexcept;
    void serve_while_loop_blocked() noexcept;
    void stop_standin() noexcept;
    void wake() noexcept;
    void deliver_responses(std::vector<http::app_response>& responses) noexcept;
    void drain_inbox() noexcept;
    void flush_dirty() noexcept;
    /// _now_s, _next_second_ms and the Date: after each wait, and (catch_up_clock) after
    /// the application ran on this thread (it may have blocked it for seconds).
    void read_clock() noexcept;
    void catch_up_clock() noexcept;
    void tick() noexcept;
    /// The write timeout: a send in flight has made no progress for limits.write_timeout_s.
    bool write_stalled(conn_slot& s) noexcept;
    void begin_drain() noexcept;
    /// The requests counted since the last report go towards server_config::max_requests;
    /// once it is reached, the drain begins (before the turn's answers: they say close).
    void report_requests() noexcept;
    void update_accepting() noexcept;
    void sweep_accept_queue() noexcept;
    void resume_reading(conn_slot& s, uint32_t slot) noexcept;
    void on_kernel_record(conn_slot& s, uint32_t slot) noexcept;
    bool read_kernel_record(conn_slot& s, uint32_t slot) noexcept;
    bool bytes_waiting(const conn_slot& s) const noexcept;
    /// The kernel holds input for a connection this reactor reads but has not delivered
    /// it yet (see tick): a read timer must not fire.
    bool input_unread(const conn_slot& s) const noexcept { return !paused(s) && !peer_eof(s) && bytes_waiting(s); }
    /// Reading stopped for backpressure (recv_state stopped or stopping).
    static bool paused(const conn_slot& s) noexcept {
        return s.recv == recv_state::stopped || s.recv == recv_state::stopping;
    }
    /// A recv operation is in the kernel (its end is still to come).
    static bool recv_in_flight(const conn_slot& s) noexcept {
        return s.recv == recv_state::armed || s.recv == recv_state::cancelling || s.recv == recv_state::stopping;
    }
    /// Reading may resume: stopped becomes idle, stopping a plain cancel whose end reads on.
    static void unpause(conn_slot& s) noexcept {
        if (s.recv == recv_state::stopped) {
            s.recv = recv_state::idle;
        } else if (s.recv == recv_state::stopping) {
            s.recv = recv_state::cancelling;
        }
    }
    /// The client finished sending: the protocol's input ended (it owns that fact), or the
    /// socket's EOF waits behind stashed bytes to be told to it.
    static bool peer_eof(const conn_slot& s) noexcept { return s.eof_stashed || s.proto->input_ended(); }
    /// Nothing in flight and nothing queued, the transport's own output included.
    bool output_idle(const conn_slot& s) const noexcept {
        return s.send == send_state::idle && s.batch.empty() && !(s.own_tp && s.tp->has_output());
    }
    void on_transport_input(conn_slot& s, uint32_t slot) noexcept;
    http::protocol_env env() noexcept;

    unsigned _index;
    const server_config& _config;
    app_handler& _app;
    int _listen_fd;
    int _cpu;
    /// The eventfd that wakes the loop: made by setup() on the reactor's thread, read by
    /// whoever stops or wakes it from another (a reactor whose turn reached the request
    /// limit stops them all, some perhaps still in setup()): -1 until then.
    std::atomic<int> _wake_fd{-1};
    std::unique_ptr<uring::io_backend> _backend;
    uring::receive_buffer_grant _body_rcvbuf; ///< the backend's probe of _config.body_receive_buffer, from setup

    std::deque<conn_slot> _slots; ///< deque: addresses stay stable while sends are in flight
    std::vector<uint32_t> _free_slots;
    std::vector<uint32_t> _dirty;
    size_t _live = 0;
    bool _accept_armed = false; ///< an accept request is in the kernel (its end not yet seen)
    /// Why accepting is held while not draining (the drain owns the listener itself);
    /// the reasons are independent: accepting resumes when neither holds.
    struct accept_holds {
        bool at_connection_cap = false; ///< --limit-connections reached: resumes below it
        bool backing_off = false;       ///< accept failed (EMFILE, ENFILE, ...): retried on a close and on the tick
        bool any() const noexcept { return at_connection_cap || backing_off; }
    };
    accept_holds _accept_hold;
    /// One line per 10 s at most for each kind, so transient errors cannot hide a backoff.
    core::log_throttle _accept_backoff_log{10};
    core::log_throttle _accept_transient_log{10};
    bool _recv_stall_logged = false; ///< probe_recv says it once per reactor; recv_stalls counts

    std::vector<http::app_response> _responses;

    core::date_cache _date;
    uint32_t _now_s = 0;             ///< whole seconds (core/clock.hpp), read by read_clock
    unsigned _next_second_ms = 1000; ///< from that reading to the next second, rounded up
    uint32_t _last_tick = 0;
    std::atomic<bool> _stop{false};
    bool _draining = false;
    request_limit* _request_limit = nullptr; ///< server_config::max_requests (null: none)
    uint64_t _requests_reported = 0;         ///< of _counters.requests, added to _request_limit so far
    uint32_t _drain_deadline = 0;
    uint32_t _drain_report_at = 0; ///< when a drain next says what it still waits for
    /// Bytes freed since the last malloc_trim: output sent or dropped, and QUIC connections
    /// deleted (quic::half_open_connection_bytes each); the tick trims (reactor_timers.cpp).
    uint64_t _released_bytes = 0;
    uint32_t _last_trim_s = 0;    ///< the second of the last malloc_trim (the start, before one)
    uint8_t _heap_free_ticks = 0; ///< ticks in a row that found most of the heap free
    core::core_counters _counters;
    std::atomic<uint32_t>* _app_pending;
    std::unique_ptr<core::latency_histogram[]> _route_latency;
    dispatch::request_dispatcher _dispatcher; ///< after _route_latency: built from it
    /// Some route takes WebSocket handshakes: HTTP/2 and HTTP/3 offer extended CONNECT.
    bool _websockets = false;
    http::protocol_registry
        _protocols; ///< the first protocol and what a connection may leave it for (server/protocols.cpp)
    quic_counters _quic_counters;
    std::unique_ptr<quic_side, quic_side_deleter> _quic; ///< --http3: the UDP socket, its endpoint and send pool
    // protocol_env::http1: false on an HTTP/2-only listener (--http 2).
    bool _http1 = _config.http != http::http_versions::http2;

    // A hosted reactor (server_config::host_loop). Turns run under _turn_mutex: the loop's
    // (hosted_turn), or the stand-in's while the loop has not turned for standin_after_ns().
    uint64_t standin_after_ns() const noexcept { return uint64_t{_config.standin_after_ms} * 1'000'000; }
    std::mutex _turn_mutex;
    bool _done = false;                     ///< drained: no more turns (under _turn_mutex)
    unsigned _app_slot = 0;                 ///< handle_batch's thread slot (under _turn_mutex)
    std::atomic<uint64_t> _loop_beat_ns{0}; ///< the loop's last hosted_turn
    std::atomic<bool> _ring_wanted{false};  ///< the loop turns again: the stand-in hands back
    pthread_t _host_thread{};               ///< the thread that hosts the loop (run() sets it)
    bool _host_in_turn = false;             ///< that thread is inside hosted_turn (its own)
    /// --http3: a hosted turn runs by then at the latest (the QUIC timer or the tick last
    /// told to the loop; the loop's thread only).
    uint64_t _hosted_due_ns = 0;
    std::mutex _standin_mutex;
    std::condition_variable _standin_cv;
    bool _standin_exit = false;        ///< under _standin_mutex
    std::atomic<bool> _hosting{false}; ///< run() hosts the loop: the stand-in watches it
    std::thread _standin;              ///< made by setup(), before the reactor's thread is named (see there)

    std::mutex _inbox_mutex;
    std::vector<http::app_response> _inbox;      ///< answers from handler threads
    std::vector<http::app_response> _inbox_work; ///< swapped out of _inbox, delivered by the loop
    std::atomic<bool> _inbox_ready{false};
    /// The reactor's own thread is between two of its blocking waits (its loop, not a
    /// hosted one): it looks at the inbox before it next blocks, so a handler thread that
    /// delivers meanwhile need not write the wake-up eventfd (turn(), deliver()).
    std::atomic<bool> _awake{false};
};

} // namespace ringbolt::server
