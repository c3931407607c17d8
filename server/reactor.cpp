// The per-core loop: one backend wait per turn (which submits what the previous turn
// queued and dispatches every completion), then the application runs on the turn's
// batch, then one send is queued per connection with output (its queued segments as
// one iovec send, or a file range with sendfile()).
#include "server/reactor.hpp"

#include "core/cpu.hpp"
#include "core/log.hpp"
#include "core/probes.hpp"
#include "http/body_buffers.hpp"
#include "server/protocols.hpp"
#include "uring/epoll_backend.hpp"
#include "uring/listener.hpp"
#include "uring/uring_backend.hpp"
#include "uring/user_data.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace ringbolt::server {

namespace {
constexpr size_t max_send_bytes = 4u << 20;      ///< per send: large queues go out in pieces
constexpr size_t file_bytes_per_turn = 8u << 20; ///< sendfile() per connection before yielding

/// Some route takes WebSocket handshakes (an `@app.websocket` route, an ASGI app): HTTP/2
/// and HTTP/3 then offer them too (RFC 8441, RFC 9220).
bool takes_websockets(const dispatch::app_routes& routes) noexcept {
    for (const dispatch::route_target& t : routes.targets) {
        if (t.websocket) {
            return true;
        }
    }
    return false;
}

} // namespace

http::peer_address peer_of(uring::io_backend& io, int fd) noexcept {
    http::peer_address peer;
    sockaddr_storage ss{};
    if (io.peer_name(fd, ss)) {
        if (ss.ss_family == AF_INET) {
            auto* in = reinterpret_cast<sockaddr_in*>(&ss);
            peer.family = AF_INET;
            peer.port = ntohs(in->sin_port);
            std::memcpy(peer.addr, &in->sin_addr, 4);
        } else if (ss.ss_family == AF_INET6) {
            auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
            peer.family = AF_INET6;
            peer.port = ntohs(in6->sin6_port);
            std::memcpy(peer.addr, &in6->sin6_addr, 16);
        }
    }
    return peer;
}

reactor::reactor(unsigned index, const server_config& config, const dispatch::app_routes& routes, app_handler& app,
                 int listen_fd, int cpu, bool use_epoll, std::atomic<uint32_t>* app_pending,
                 const dispatch::metrics_source* metrics)
    : _index(index), _config(config), _app(app), _listen_fd(listen_fd), _cpu(cpu), _app_pending(app_pending),
      _route_latency(metrics != nullptr ? std::make_unique<core::latency_histogram[]>(routes.targets.size()) : nullptr),
      _dispatcher(routes, metrics, app_pending, config.limit_concurrency, _route_latency.get(), this),
      _websockets(takes_websockets(routes)), _protocols(protocols_for(config, _websockets)) {
    if (use_epoll) {
        _backend = std::make_unique<uring::epoll_backend>();
    } else {
        _backend = std::make_unique<uring::uring_backend>();
    }
    if (config.wrap_backend) {
        _backend = config.wrap_backend(std::move(_backend));
    }
    _backend->counters = &_counters;
}

reactor::~reactor() {
    stop_standin(); // run() did, unless it never ran (a failed start)
    _quic.reset();  // its connections free their slots; its sends are the backend's until then
    for (auto& s : _slots) {
        if (s.state != slot_state::free && s.fd >= 0) {
            if (s.proto) {
                s.proto->release(); // producers still streaming are told the connection is gone
            }
            _backend->close_socket(s.fd);
        }
    }
    if (_listen_fd >= 0) {
        _backend->close_socket(_listen_fd);
    }
    _backend.reset(); // before the wake-up fd it may still reference
    if (int fd = _wake_fd.load(std::memory_order_acquire); fd >= 0) {
        ::close(fd); // an eventfd, not a socket
    }
}

core::result<void> reactor::setup() noexcept {
    // Signals go to the main thread, which turns them into a drain.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    if (_config.host_loop) {
        // Made here, before this thread is pinned and named: a thread starts with its
        // creator's name and CPUs, and a second "rb-reactor-<i>" (however briefly) would
        // mislead whoever looks threads up by name; the stand-in may run on any CPU.
        _standin = std::thread([this] { standin_main(); });
    }
    if (_config.pin_threads && _cpu >= 0 && !core::pin_current_thread(_cpu)) {
        core::log(core::log_level::warning, "reactor %u: could not pin to CPU %d", _index, _cpu);
    }
    if (_config.batch_scheduling) {
        int err = core::batch_schedule_current_thread();
        if (err != 0 && _index == 0) { // said once, by reactor 0: the others fail alike
            core::log(core::log_level::warning,
                      "reactor threads: SCHED_BATCH refused (%s); they keep the normal policy", std::strerror(err));
        }
    }
    // Named once its policy is set, so whoever finds it by name sees the final policy.
    core::name_current_thread("rb-reactor-", _index);
    int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0) {
        return {core::errc::system, errno};
    }
    _wake_fd.store(wake_fd, std::memory_order_release); // a stop from now on wakes the loop
    RB_TRY(_backend->setup(backend_config_of(_config), wake_fd));
    _body_rcvbuf = _backend->probe_receive_buffer(_config.body_receive_buffer);
    if (_body_rcvbuf.bytes < body_receive_buffer_floor) {
        _body_rcvbuf = {};
    }
    RB_TRY(setup_quic());
    read_clock();
    _last_tick = _now_s;
    _last_trim_s = _now_s; // the first trim by time trim_every_s after the start
    return {};
}

void reactor::request_stop() noexcept {
    _stop.store(true, std::memory_order_release); // (before setup: the first turn sees it)
    if (_wake_fd.load(std::memory_order_acquire) >= 0) {
        wake();
    }
}

http::protocol_env reactor::env() noexcept {
    return http::protocol_env{
        _config.limits,  _date.value(), _now_s, _draining, _counters, _dispatcher, _config.output_high_water,
        &_config.fields, &_protocols,   _http1};
}

void reactor::run() noexcept {
    _backend->arm_accept(_listen_fd);
    _accept_armed = true;
    _dispatcher.batch().reserve(256);
    _responses.reserve(256);
    _app_slot = _index;
    _app.begin_turns();
    if (_config.host_loop) {
        // The application's loop runs here and calls hosted_turn(); the stand-in watches
        // that it keeps turning. Should the loop stop before the drain ended, this
        // thread finishes it with turns of its own.
        _loop_beat_ns.store(core::monotonic_ns(), std::memory_order_relaxed);
        _host_thread = pthread_self();
        _hosting.store(true, std::memory_order_release);
        _app.host_loop(*this);
        stop_standin();
    }
    while (!_done && turn(250)) { // wake at least 4x a second for the tick
    }
    _awake.store(false, std::memory_order_seq_cst); // late answers (none are expected) wake it
    _app.on_reactor_exit(_index);
    core::output_queue::release_kept_buffers(); // the sent buffers this thread kept
}

bool reactor::turn(unsigned wait_ms) noexcept {
    flush_dirty();
    _app.end_of_turn();
    wait_ms = quic_before_wait(wait_ms);
    // Answers delivered while this thread works need no eventfd write (deliver()): it says
    // it is about to block, then looks at the inbox once more, and does not block when
    // something came. The store and the load are sequentially consistent, as are the
    // deliverer's (the inbox flag, then _awake): one of the two sides sees the other.
    // Not with a hosted loop: its thread waits in the loop, not here. (A failed wait ends
    // run(), which clears _awake.)
    if (!_config.host_loop) {
        _awake.store(false, std::memory_order_seq_cst);
        if (_inbox_ready.load(std::memory_order_seq_cst)) {
            wait_ms = 0;
        }
    }
    // The sweep runs as a second begins (deadlines pass at whole seconds): a wait ends
    // then at the latest, so a timeout fires within milliseconds of passing.
    bool waited = _backend->wait(std::min(wait_ms, _next_second_ms), *this);
    if (!_config.host_loop) {
        _awake.store(true, std::memory_order_seq_cst);
    }
    if (!waited) [[unlikely]] {
        return false;
    }
    drain_inbox(); // (the clock was read as the wait ended: on_wait_end)
    // The sweep comes after the turn's completions and before the app runs: a sync handler
    // may hold this thread for seconds, and what clients sent meanwhile must be read before
    // a timer judges them. Its bytes may not wait in the socket, where the sweep's peek
    // (input_unread) would see them: the kernel runs a multishot recv's task work at the
    // thread's next system call (COOP_TASKRUN, with a hosted loop; the handler's own sleep
    // is one), so they wait as completions for the next turn's wait, which comes first now.
    if (_now_s != _last_tick) {
        tick();
    }
    if (_request_limit != nullptr) [[unlikely]] {
        report_requests(); // before the app runs: past the limit, this turn's answers say close
    }
    if (!_dispatcher.batch().empty()) {
        run_app();
    }
    quic_after_wait();
    if (!_draining && _stop.load(std::memory_order_acquire)) [[unlikely]] {
        begin_drain();
    }
    if (_draining && _live == 0 && !_accept_armed && quic_drained()) {
        return false;
    }
    if (_draining && _now_s >= _drain_report_at) [[unlikely]] {
        report_drain();
    }
    if (_draining && _now_s > _drain_deadline + 2) {
        core::log(core::log_level::warning, "reactor %u: exiting with %zu connection(s) still closing", _index, _live);
        return false;
    }
    return true;
}

reactor::conn_slot* reactor::live_slot(uint32_t slot, uint16_t gen) noexcept {
    if (slot >= _slots.size()) [[unlikely]] {
        return nullptr;
    }
    conn_slot& s = _slots[slot];
    if (s.state == slot_state::free || static_cast<uint16_t>(s.gen) != gen) [[unlikely]] {
        return nullptr; // late completion for a reused slot: drop it
    }
    return &s;
}

void reactor::mark_dirty(conn_slot& s, uint32_t slot) noexcept {
    if (!s.dirty) {
        s.dirty = true;
        _dirty.push_back(slot);
    }
}

uint64_t reactor::unsent(const conn_slot& s) const noexcept {
    return s.proto->output().bytes() + s.batch.remaining();
}

void reactor::on_recv(uint32_t slot, uint16_t gen, const char* data, size_t len) noexcept {
    conn_slot* sp = live_slot(slot, gen);
    if (sp == nullptr || sp->state == slot_state::closing) {
        return;
    }
    conn_slot& s = *sp;
    _counters.bytes_in.add(len);
    s.last_in = _now_s;
    s.probe_at = 0;
    if (s.state == slot_state::lingering) {
        // After the final response: read and discard, while bytes keep coming.
        s.linger_until = std::min(_now_s + _config.linger_s, s.linger_limit);
        return;
    }
    if (paused(s)) {
        if (s.stash.empty() && !s.own_tp && s.proto->takes_input_while_held()) {
            // A streamed body over its window: its bytes go to the body's blocks now
            // rather than through the stash (one copy instead of two; in memory either way).
            auto e = env();
            s.proto->on_data({data, len}, e);
            after_plain_input(s, slot);
            return;
        }
        if (s.stash.empty() && s.stash.capacity() < http::body_buffer_min) {
            // A kept buffer (an upload that outruns its app pauses every few hundred KiB;
            // a new buffer each time, grown by doubling, faulted in every page).
            s.stash = http::take_body_buffer(http::body_buffer_min);
        }
        s.stash.append(data, len); // in flight before the pause took effect; parsed on resume
        return;
    }
    auto e = env();
    if (s.own_tp) [[unlikely]] {
        std::string_view plain = s.tp->on_wire_data({data, len});
        if (transport::proxied_client client; s.tp->take_proxied_client(client)) [[unlikely]] {
            serve_proxied_client(s, slot, client); // before the protocol sees a byte
        }
        if (!plain.empty()) {
            if (!s.alpn_seen) {
                // The handshake is done: a protocol ALPN chose (HTTP/2's "h2", RFC 9113
                // §3.2) serves the connection from its first byte.
                s.alpn_seen = true;
                if (http::protocol_upgrade* chosen = _protocols.by_alpn(s.tp->alpn())) {
                    start_by_alpn(s, slot, *chosen, plain);
                    on_transport_input(s, slot);
                    return;
                }
            }
            s.proto->on_data(plain, e); // (nothing while the handshake goes on)
            if (s.proto->has_successor()) {
                switch_protocol(s); // prior knowledge over TLS without ALPN
            }
        }
        on_transport_input(s, slot);
        return;
    }
    s.proto->on_data(s.tp->on_wire_data({data, len}), e);
    if (s.proto->has_successor()) [[unlikely]] {
        switch_protocol(s); // the HTTP/2 preface (h2c with prior knowledge)
    }
    after_plain_input(s, slot);
}

// A load balancer's PROXY header named the client (transport/proxy_transport.hpp): the
// connection's facts are completed (the client's address, the balancer's kept with the
// header's details, https when the client spoke TLS to the balancer), once, and the
// connection serves that client from its first request on. The protocol has seen nothing
// yet, so it starts over with the completed facts.
void reactor::serve_proxied_client(conn_slot& s, uint32_t slot, const transport::proxied_client& client) noexcept {
    http::peer_address& facts = s.facts;
    if (client.info != nullptr) {
        client.info->balancer = {facts.family, {}, facts.port};
        std::memcpy(client.info->balancer.addr, facts.addr, sizeof(facts.addr));
        facts.proxy = client.info;
    }
    facts.family = client.family;
    facts.port = client.port;
    std::memcpy(facts.addr, client.addr, sizeof(facts.addr));
    facts.secure = facts.secure || client.tls;
    s.proto->open(slot, s.gen, facts, _now_s, _config.limits);
    if (_draining) [[unlikely]] {
        s.proto->begin_drain(_now_s, fresh_grace_s);
    }
}

void reactor::after_plain_input(conn_slot& s, uint32_t slot) noexcept {
    // Backpressure: a client that does not read its responses stops being read.
    if (s.proto->has_pending_input() || unsent(s) > _config.output_high_water) {
        pause_reading(s, slot);
    } else if (s.recv == recv_state::armed && !s.own_tp) {
        switch_to_body_reads(s, slot); // (a body began to stream)
    }
    if (s.proto->has_output()) {
        mark_dirty(s, slot);
    } else if (s.proto->close_after_flush() && s.send == send_state::idle && s.batch.empty()) {
        close_conn(s, slot, !s.proto->idle());
    }
}

void reactor::on_recv_end(uint32_t slot, uint16_t gen, uring::recv_end how) noexcept {
    conn_slot* sp = live_slot(slot, gen);
    if (sp == nullptr) {
        return;
    }
    conn_slot& s = *sp;
    s.recv = s.recv == recv_state::stopping ? recv_state::stopped : recv_state::idle;
    s.rx_owner.reset(); // a receive into a body ended without bytes
    if (s.state == slot_state::closing) {
        maybe_finalize(s, slot);
        return;
    }
    if (how == uring::recv_end::tls_record) {
        on_kernel_record(s, slot);
        return;
    }
    if (how == uring::recv_end::bad_record) [[unlikely]] {
        if (s.own_tp && s.tp->on_bad_kernel_record()) {
            on_transport_input(s, slot); // failed: its alert goes out, then the close
            return;
        }
        how = uring::recv_end::error; // not a socket whose kernel decrypts: an error like the others
    }
    if (how == uring::recv_end::rearm || how == uring::recv_end::cancelled) {
        // The buffer ring ran dry (rearm), or this is the end of a pause's cancel: as
        // `cancelled`, or as `rearm` when the kernel ended the multishot with its last data
        // instead. If reading resumed (or the connection began lingering) while the cancel
        // was in flight, reading starts again here. A reset that arrives while the cancel
        // is in flight ends the recv with an error instead (below): the connection is over.
        // A dry ring is read at once too, not re-armed to wait for a buffer: a recv armed
        // again is issued at the next submit, after the multishot recvs still armed took
        // the buffers as their bytes came, so under load (more readable connections than
        // buffers, a hosted loop's long turns) the same connections lost that race turn
        // after turn and waited seconds. Read here, they are served in this turn, in the
        // order the kernel ended their recvs (docs/architecture.md, "Fairness").
        if (s.recv == recv_state::idle && !peer_eof(s)) {
            rearm_after_pause(s, slot);
        }
        return;
    }
    if (how == uring::recv_end::error) {
        close_conn(s, slot, false);
        return;
    }
    // EOF: the peer finished sending. Answer what it asked, then close (a partial
    // request left in the tail can never complete).
    if (s.own_tp) [[unlikely]] {
        s.tp->on_eof(); // counts a handshake or record cut off
    }
    if (s.state == slot_state::lingering) {
        close_conn(s, slot, false);
        return;
    }
    if (s.stash.empty()) {
        auto e = env();
        s.proto->end_input(e);
    } else {
        s.eof_stashed = true; // bytes that came during a pause come first: resume_reading tells the EOF after them
    }
    if (s.proto->nothing_owed() && s.stash.empty() && output_idle(s)) {
        close_conn(s, slot, false);
    }
}

// After a TLS transport turned ciphertext into plaintext (the protocol has seen it):
// a fatal error sends the transport's alert and closes; a close_notify is the end of
// the input; handshake records may wait to go out while the protocol has nothing.
void reactor::on_transport_input(conn_slot& s, uint32_t slot) noexcept {
    if (s.tp->failed()) {
        s.stash.clear();
        mark_dirty(s, slot); // after_output sends the alert, then closes
        return;
    }
    if (s.tp->peer_closed() && !peer_eof(s)) {
        auto e = env();
        s.proto->end_input(e);
    }
    if (!peer_eof(s) && (s.proto->has_pending_input() || unsent(s) > _config.output_high_water)) {
        pause_reading(s, slot);
    }
    if (s.proto->has_output() || s.tp->has_output() || s.proto->close_after_flush() ||
        (peer_eof(s) && s.proto->nothing_owed() && s.stash.empty())) {
        mark_dirty(s, slot); // after_output sends, or closes (after close_notify)
    }
    if (s.recv == recv_state::armed && s.stash.empty() && s.tp->wants_kernel_receive()) [[unlikely]] {
        // kTLS may take the receiving over once no received byte is in flight: the
        // multishot recv ends (cancel), and its end switches, then reads on (on_recv_end).
        _backend->cancel_recv(s.fd, slot, static_cast<uint16_t>(s.gen));
        s.recv = recv_state::cancelling;
    }
}

void reactor::start_send(conn_slot& s, uint32_t slot) noexcept {
    if (s.send != send_state::idle) {
        return;
    }
    bool more = false;
    if (s.batch.empty()) {
        s.batch.reset();
        core::output_queue& out = s.tp->wire_output(s.proto->output());
        if (!out.take_front(s.batch, max_iov, max_send_bytes)) {
            if (s.own_tp && s.tp->failed()) [[unlikely]] {
                close_conn(s, slot, false); // kTLS: its alert went to the socket within wire_output
            }
            return;
        }
        // A head whose file body follows: TCP keeps it for sendfile's first packet
        // instead of sending a packet of its own (one packet less per file answer).
        more = out.front_is_file();
    }
    s.send_since = _now_s; // the previous send (if any) ended: progress
    s.unacked_seen = -1;
    if (s.batch.is_file()) {
        send_file(s, slot);
        return;
    }
    size_t n = s.batch.iovecs(s.iov, max_iov);
    s.msg.msg_iov = s.iov;
    s.msg.msg_iovlen = n;
    s.send = send_state::sending;
    _backend->send(s.fd, slot, static_cast<uint16_t>(s.gen), &s.msg, more);
}

// A file range goes out with sendfile() on the non-blocking socket: no copy through
// user space, no read of the file into memory. When the socket is full the backend
// reports room (POLLOUT) and this continues; a connection yields after a few MiB per
// turn so one download does not starve the core's other connections.
void reactor::send_file(conn_slot& s, uint32_t slot) noexcept {
    size_t budget = file_bytes_per_turn;
    while (s.batch.is_file() && budget > 0) {
        const core::segment& f = s.batch.front();
        int64_t off = static_cast<int64_t>(f.file_offset + f.done);
        uint64_t left = f.length - f.done;
        size_t want = left < budget ? static_cast<size_t>(left) : budget;
        long n = _backend->send_file(s.fd, f.file->fd, &off, want);
        if (n > 0) {
            _counters.bytes_out.add(static_cast<uint64_t>(n));
            s.batch.consume(static_cast<uint64_t>(n));
            budget -= static_cast<size_t>(n);
            continue;
        }
        if (n == -EAGAIN || n == -EWOULDBLOCK) {
            break; // socket full: wait for room
        }
        // The peer is gone (EPIPE, ECONNRESET) or the file shrank under us (0 bytes
        // before the promised length): the response cannot be completed.
        if (n == 0) {
            core::log(core::log_level::warning, "file response: file is shorter than its announced length; closing");
        }
        s.batch.reset();
        close_conn(s, slot, false);
        return;
    }
    if (!s.batch.empty() && s.batch.is_file()) {
        s.send = send_state::waiting_room;
        _backend->poll_writable(s.fd, slot, static_cast<uint16_t>(s.gen));
        return;
    }
    // The file range is done (memory segments are never batched with it).
    s.batch.reset();
    if (paused(s) && unsent(s) < _config.output_high_water / 2) {
        resume_reading(s, slot);
    }
    mark_dirty(s, slot);
}

reactor::conn_slot* reactor::send_completed(uint32_t slot, uint16_t gen, send_state awaited) noexcept {
    conn_slot* sp = live_slot(slot, gen);
    if (sp == nullptr || sp->send != awaited) {
        return nullptr;
    }
    sp->send = send_state::idle;
    return sp;
}

void reactor::drop_output(conn_slot& s, uint32_t slot) noexcept {
    s.batch.reset();
    if (s.state == slot_state::closing) {
        maybe_finalize(s, slot);
    } else {
        close_conn(s, slot, false);
    }
}

void reactor::on_writable(uint32_t slot, uint16_t gen, int res) noexcept {
    conn_slot* sp = send_completed(slot, gen, send_state::waiting_room);
    if (sp == nullptr) {
        return;
    }
    if (sp->state == slot_state::closing || res < 0) {
        drop_output(*sp, slot);
        return;
    }
    start_send(*sp, slot); // the batch still holds the file range
}

void reactor::on_send(uint32_t slot, uint16_t gen, int res) noexcept {
    conn_slot* sp = send_completed(slot, gen, send_state::sending);
    if (sp == nullptr) {
        return;
    }
    conn_slot& s = *sp;
    if (res < 0) {
        drop_output(s, slot);
        return;
    }
    _counters.bytes_out.add(static_cast<uint64_t>(res));
    _released_bytes += static_cast<uint64_t>(res);
    s.batch.consume(static_cast<uint64_t>(res));
    if (s.state == slot_state::closing) {
        drop_output(s, slot); // a closing connection finalizes
        return;
    }
    if (!s.batch.empty()) {
        start_send(s, slot); // short send: the rest of the same batch
        return;
    }
    RB_PROBE2(response_sent, slot, res);
    s.proto->output().recycle_from(s.batch);
    s.batch.reset();
    if (paused(s) && unsent(s) < _config.output_high_water / 2 && !s.proto->close_after_flush()) {
        resume_reading(s, slot); // below the low-water mark
    }
    after_output(s, slot);
}

void reactor::resume_reading(conn_slot& s, uint32_t slot) noexcept {
    auto e = env();
    s.proto->pump(e); // requests parsed earlier but held back
    if (!s.stash.empty()) {
        std::string bytes;
        bytes.swap(s.stash);
        s.proto->on_data(s.tp->on_wire_data(bytes), e);
        http::give_body_buffer(std::move(bytes)); // kept for the next pause (or a body read whole)
        if (s.proto->has_successor()) [[unlikely]] {
            switch_protocol(s);
        }
        if (s.eof_stashed) {
            // The EOF came while these bytes waited (on_recv_end held it back): the
            // protocol learns it now, so a body that can no longer complete fails at once
            // instead of waiting for its timeout.
            s.eof_stashed = false;
            s.proto->end_input(e);
        }
        if (s.own_tp && (s.tp->failed() || s.tp->peer_closed())) [[unlikely]] {
            unpause(s);
            on_transport_input(s, slot);
            return;
        }
    }
    if (s.proto->has_output() || (s.own_tp && s.tp->has_output())) {
        mark_dirty(s, slot);
    }
    if (s.proto->has_pending_input() || unsent(s) > _config.output_high_water) {
        return; // still over: stay paused until the next send completes
    }
    unpause(s);
    if (s.recv == recv_state::idle && !peer_eof(s) && !s.proto->closing()) {
        rearm_after_pause(s, slot);
    }
}

// Decide what follows once a connection's output may have drained.
void reactor::after_output(conn_slot& s, uint32_t slot) noexcept {
    if (s.send != send_state::idle) {
        return;
    }
    if (s.own_tp && s.tp->failed()) [[unlikely]] {
        if (!s.batch.empty() || s.tp->has_output()) {
            start_send(s, slot); // the alert
        } else {
            close_conn(s, slot, false);
        }
        return;
    }
    if (s.proto->has_output() || !s.batch.empty() || (s.own_tp && s.tp->has_output())) {
        start_send(s, slot);
        return;
    }
    bool graceful;
    if (s.proto->close_after_flush()) {
        graceful = !peer_eof(s);
    } else if (peer_eof(s) && s.proto->nothing_owed() && s.stash.empty()) {
        graceful = false;
    } else if (_draining && s.proto->idle() && s.proto->begin_drain(_now_s, fresh_grace_s)) {
        graceful = false;
    } else {
        return;
    }
    if (s.own_tp && s.tp->shut_output()) [[unlikely]] {
        start_send(s, slot); // TLS close_notify first; its send comes back here
        return;
    }
    close_conn(s, slot, graceful);
}

void reactor::flush_dirty() noexcept {
    for (uint32_t slot : _dirty) {
        conn_slot& s = _slots[slot];
        s.dirty = false;
        if (s.state == slot_state::open) {
            after_output(s, slot);
        }
    }
    _dirty.clear();
}

void reactor::close_conn(conn_slot& s, uint32_t slot, bool graceful) noexcept {
    if (s.state == slot_state::closing || s.state == slot_state::free) {
        return;
    }
    // Lingering close: FIN after the last response, then read and discard what the client
    // still sends for a moment, so close() does not reset the connection (unread bytes at
    // close() make it a reset) before the client has read the response. The recv must be
    // running for that, whatever state reading was in: paused (a body nobody reads filled
    // the window), idle (mid-resume, in rearm_after_pause), or a pause's cancel still in
    // flight (its end re-arms it: rearm_after_pause sees the slot lingering).
    const bool can_read = !peer_eof(s) || s.recv == recv_state::armed;
    if (graceful && can_read && s.state != slot_state::lingering) {
        if (paused(s)) {
            unpause(s);
            s.stash.clear();
        }
        if (s.recv == recv_state::idle) {
            arm_recv(s, slot);
        }
        _backend->shutdown_socket(s.fd, SHUT_WR);
        s.state = slot_state::lingering;
        s.linger_until = _now_s + _config.linger_s; // deadlines: passed a second after (core/clock.hpp)
        s.linger_limit = _draining ? s.linger_until : _now_s + std::max(_config.linger_max_s, _config.linger_s);
        return;
    }
    s.state = slot_state::closing;
    s.proto->release(); // streaming producers learn the client is gone
    if (recv_in_flight(s) || s.send != send_state::idle) {
        // Wakes both a pending recv (EOF) and a stuck send or poll (EPIPE/HUP); the
        // cancel makes sure of the recv.
        _backend->shutdown_socket(s.fd, SHUT_RDWR);
        if (s.recv == recv_state::armed) {
            _backend->cancel_recv(s.fd, slot, static_cast<uint16_t>(s.gen));
            s.recv = recv_state::cancelling;
        }
    }
    maybe_finalize(s, slot);
}

void reactor::maybe_finalize(conn_slot& s, uint32_t slot) noexcept {
    if (recv_in_flight(s) || s.send != send_state::idle) {
        return;
    }
    RB_PROBE2(close, slot, s.fd);
    _backend->forget(s.fd);
    _backend->close_socket(s.fd);
    s.fd = -1;
    s.state = slot_state::free;
    s.recv = recv_state::idle;
    s.eof_stashed = false;
    ++s.gen;
    _released_bytes += unsent(s);
    s.batch.reset();
    http::give_body_buffer(std::move(s.stash));
    s.rx_owner.reset();
    s.proto->release();
    s.tp = &transport::plain_transport::instance();
    s.own_tp.reset();
    _free_slots.push_back(slot);
    --_live;
    _counters.connections_closed.add();
    _counters.connections_open.set(_live);
    if (_accept_hold.backing_off) [[unlikely]] {
        // Out of descriptors (EMFILE/ENFILE), this close just freed one: accept again now
        // rather than on the next tick, up to a second away. Connections queued meanwhile
        // are taken as far as descriptors allow; if the limit is still hit the accept ends
        // at once and backs off again, so it costs a failed accept per close, not a spin.
        _accept_hold.backing_off = false;
        _counters.accept_resumes_on_close.add();
    }
    update_accepting();
}

// ALPN chose a registered protocol (h2): the slot's HTTP/1.1 protocol (which has seen
// nothing) is parked and the chosen one serves the connection from its first plaintext
// byte, with the connection's facts (a PROXY header's client included).
void reactor::start_by_alpn(conn_slot& s, uint32_t slot, http::protocol_upgrade& chosen,
                            std::string_view plain) noexcept {
    auto e = env();
    hand_over(s, chosen.make(slot, s.gen, s.facts, plain, e));
}

// After a 101 the new protocol takes the connection over (its output, the 101 included,
// was moved into it); the HTTP/1.1 object is parked for the slot's next connection.
void reactor::switch_protocol(conn_slot& s) noexcept {
    hand_over(s, s.proto->take_successor());
}

void reactor::hand_over(conn_slot& s, std::unique_ptr<http::protocol> next) noexcept {
    s.proto->release();
    if (!s.parked_first) {
        s.parked_first = std::move(s.proto);
    }
    s.proto = std::move(next);
    if (_draining) {
        s.proto->begin_drain(_now_s, fresh_grace_s);
    }
}

void reactor::report_requests() noexcept {
    uint64_t counted = _counters.requests.get();
    if (counted == _requests_reported) {
        return;
    }
    bool reached = _request_limit->add(counted - _requests_reported);
    _requests_reported = counted;
    // Whichever reactor's add reached the limit stopped them all (request_stop), but each
    // drains as it learns of it: a client answered keep-alive now would send one more.
    if (reached && !_draining) {
        begin_drain();
    }
}

void reactor::report_drain() noexcept {
    _drain_report_at = _now_s + drain_report_s;
    core::log(core::log_level::info, "reactor %u: draining, %zu connection(s) open; %u s to the deadline", _index,
              _live, _drain_deadline > _now_s ? _drain_deadline - _now_s : 0U);
    report_quic_drain();
}

void reactor::begin_drain() noexcept {
    _draining = true;
    _drain_deadline = _now_s + _config.graceful_timeout_s;
    _drain_report_at = _now_s + drain_report_s;
    quic_begin_drain();
    if (_listen_fd >= 0 && (_config.listen_fds.empty() || _config.owns_listen_fds)) {
        // This server bound the listener (or the CLI bound it for this process alone:
        // --uds), so the drain is a stop: new clients are turned away from here (a SYN
        // goes unanswered, a unix connect is refused) while the connections already
        // queued are taken by the sweep below. A listener handed over (workers, --fd, the
        // reloader) is gated by its owner. On a listener shared by several reactors the
        // first to drain gates it for all.
        (void)_backend->refuse_connections(_listen_fd);
    }
    if (_accept_armed) {
        _backend->cancel_accept(_listen_fd); // on_accept_end sweeps the queue, then closes
    } else if (_listen_fd >= 0) {
        sweep_accept_queue();
        _backend->forget(_listen_fd);
        _backend->close_socket(_listen_fd);
        _listen_fd = -1;
    }
    for (uint32_t slot = 0; slot < _slots.size(); ++slot) {
        conn_slot& s = _slots[slot];
        if (s.state == slot_state::lingering) {
            // A drain does not wait for a long upload nobody will read.
            s.linger_limit = std::min(s.linger_limit, _now_s + _config.linger_s);
            s.linger_until = std::min(s.linger_until, s.linger_limit);
            continue;
        }
        if (s.state != slot_state::open) {
            continue;
        }
        if (s.proto->begin_drain(_now_s, fresh_grace_s) && output_idle(s)) {
            close_conn(s, slot, false);
        } else if (s.proto->has_output()) {
            mark_dirty(s, slot); // a goodbye the protocol queued (a WebSocket close 1001)
        }
    }
}

} // namespace ringbolt::server
