// Owns: one ringbolt-ws-load thread's WebSocket protocol on top of ring_worker.hpp
// (which owns the ring, connects, recv/send submission and the loop turn) — the opening
// handshake, masked message sends with D messages in flight per connection,
// byte-for-byte validation of every echo, pongs to server pings, timeouts and reconnects.
//
// Messages and their checks are ws_echo.hpp's: every message names its connection and
// sequence number, so an echo from another connection or out of turn is a mismatch.
#include "ws_worker.hpp"

#include "ring_worker.hpp"
#include "ws_echo.hpp"
#include "ws_frame.hpp"
#include "ws_handshake.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <random>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace ringbolt_load {

namespace {

constexpr uint16_t buffer_group = 9;

struct message_slot {
    uint64_t seq;
    int64_t sent_ns; // latency and timeouts are measured from here
};

struct connection : conn_socket {
    std::string out;                      // bytes of the send in progress
    std::string control;                  // pongs waiting for the next send
    std::string head;                     // the handshake answer until its end
    std::string accept;                   // the Sec-WebSocket-Accept it must carry
    inflight_fifo<message_slot> inflight; // messages
    uint64_t next_seq = 0;
    ws_echo_check echo; // the echo of message inflight.at(0) so far
    ws_frame_parser parser;
};

class ws_worker : ring_worker<ws_worker, connection, ws_thread_stats> {
  public:
    ws_worker(ws_run_plan& plan, uint32_t first_conn, uint32_t conn_count, uint64_t share, ws_thread_stats* st)
        : ring_worker(plan, *plan.opts, first_conn, conn_count, share, st), _plan(plan), _opts(*plan.opts) {}
    ~ws_worker();

    bool setup();
    void run();

  private:
    friend class ring_worker<ws_worker, connection, ws_thread_stats>;

    void say_goodbye(connection& c);
    void drop(uint32_t i, int64_t now, bool fail_oldest);
    void fail_phase(uint32_t i, int64_t now, uint64_t* counter, const char* why);
    void service(uint32_t i, int64_t now);
    void on_phase_timeout(uint32_t i, int64_t now);
    uint64_t failed_opens() const noexcept { return _st->errors.connect + _st->errors.handshake; }
    void on_bytes(uint32_t i, const char* data, size_t len, int64_t now);
    void on_recv_end(uint32_t i, int res, int64_t now);
    void on_connect(uint32_t i, int res, int64_t now);
    void on_send_failed(uint32_t i, int64_t now);
    void on_sent(uint32_t i);
    void on_handshake_bytes(uint32_t i, const char* data, size_t len, int64_t now);
    void on_frames(uint32_t i, const char* data, size_t len, int64_t now);
    bool on_data(uint32_t i, const ws_event& ev, int64_t now);
    void on_echo_end(uint32_t i, int64_t now);
    void note_error(const std::string& what) {
        if (_st->first_error.empty()) {
            _st->first_error = what;
        }
    }

    const ws_run_plan& _plan;
    const ws_options& _opts;
    std::optional<ws_echo_template> _tpl; // made in setup(), with a random mask key
    std::mt19937_64 _rng;
};

ws_worker::~ws_worker() {
    for (connection& c : _conns) {
        if (c.fd >= 0) {
            if (c.state == conn_state::open) {
                say_goodbye(c);
            }
            close_socket(c);
        }
    }
}

bool ws_worker::setup() {
    // the server's ring set-up and buffer ring, as ringbolt-load (ring_worker.hpp)
    if (!setup_ring(buffer_group)) {
        return false;
    }
    std::random_device rd;
    _rng.seed((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ ringbolt::core::monotonic_ns());
    _tpl.emplace(_opts.size, _opts.text, _rng());
    for (connection& c : _conns) {
        c.inflight.resize(_opts.pipeline);
    }
    return true;
}

void ws_worker::say_goodbye(connection& c) {
    if (!c.send_busy) {
        // best effort, never blocking: a close frame with 1000 (RFC 6455 §7.4.1) so the
        // server sees a normal end rather than a reset
        std::string frame;
        const char code[2] = {0x03, static_cast<char>(0xe8)};
        _tpl->append_control(&frame, ws_opcode::close, code, 2);
        [[maybe_unused]] ssize_t w = send(c.fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
}

// Close connection i and open a new one. Messages sent but not echoed are given back
// (re-issued on the new connection); with fail_oldest the oldest one counts as failed,
// so a failing server cannot hold a -n run forever.
void ws_worker::drop(uint32_t i, int64_t now, bool fail_oldest) {
    connection& c = _conns[i];
    if (c.fd >= 0) {
        close_socket(c);
    }
    forget_socket(c);
    c.out.clear();
    c.control.clear();
    c.head.clear();
    uint32_t first = 0;
    if (fail_oldest && c.inflight.any_sent()) {
        if (measured(c.inflight.at(0).sent_ns)) {
            ++_finished;
        }
        first = 1;
    }
    for (uint32_t k = first; k < c.inflight.count(); ++k) {
        if (measured(c.inflight.at(k).sent_ns)) {
            --_issued; // re-issued on the new connection
        }
    }
    c.inflight.clear();
    c.next_seq = 0;
    c.echo.reset();
    c.parser.reset();
    c.state = conn_state::down;
    if (_ever_open) {
        ++_st->reconnects;
    }
    start_connect(i, now);
}

// A connect or handshake that failed: count it, back off, try again.
void ws_worker::fail_phase(uint32_t i, int64_t now, uint64_t* counter, const char* why) {
    connection& c = _conns[i];
    ++*counter;
    note_error(why);
    if (c.fd >= 0) {
        close_socket(c);
    }
    forget_socket(c);
    c.out.clear();
    c.head.clear();
    c.state = conn_state::down;
    c.retry_at_ns = now + connect_backoff_ns;
}

void ws_worker::service(uint32_t i, int64_t now) {
    connection& c = _conns[i];
    if (c.state != conn_state::open && c.state != conn_state::handshaking) {
        return;
    }
    arm_recv(i);
    if (c.state != conn_state::open || c.send_busy) {
        return;
    }
    if (now >= _plan.start_ns) {
        // closed loop: keep `pipeline` messages out; none before the common start, so
        // with -n and no warm-up the server sees exactly the measured messages
        while (!c.inflight.full() && budget_left() && !(_opts.hold && c.next_seq > 0)) {
            if (measured(now)) {
                ++_issued;
            }
            c.inflight.push(message_slot{c.next_seq++, 0});
        }
    }
    if (c.inflight.unsent() == 0 && c.control.empty()) {
        return;
    }
    c.out.clear();
    c.out += c.control; // pongs first: they answer pings that came before
    c.control.clear();
    for (uint32_t k = c.inflight.take_unsent(); k < c.inflight.count(); ++k) {
        c.inflight.at(k).sent_ns = now;
        _tpl->append_message(&c.out, _first_conn + i + 1, c.inflight.at(k).seq);
    }
    start_send(i, c.out.data(), c.out.size());
}

void ws_worker::on_phase_timeout(uint32_t i, int64_t now) {
    if (_conns[i].state == conn_state::connecting) {
        fail_phase(i, now, &_st->errors.connect, "connect timed out");
    } else {
        fail_phase(i, now, &_st->errors.handshake, "no handshake answer within --timeout");
    }
}

void ws_worker::on_handshake_bytes(uint32_t i, const char* data, size_t len, int64_t now) {
    connection& c = _conns[i];
    c.head.append(data, len);
    size_t head_len = 0;
    ws_handshake_result r = ws_check_response(c.head.data(), c.head.size(), c.accept, &head_len);
    if (r == ws_handshake_result::incomplete) {
        return;
    }
    if (r != ws_handshake_result::ok) {
        std::string line = c.head.substr(0, c.head.find("\r\n"));
        fail_phase(i, now, &_st->errors.handshake,
                   (std::string("handshake: ") + ws_handshake_error_name(r) + " (" + line + ")").c_str());
        return;
    }
    ++_st->handshakes;
    c.state = conn_state::open;
    _ever_open = true;
    std::string rest = c.head.substr(head_len);
    c.head.clear();
    c.head.shrink_to_fit();
    mark_dirty(i);
    if (!rest.empty()) {
        on_frames(i, rest.data(), rest.size(), now);
    }
}

// A piece of an echo: compare it with what message at(0) carried. Returns false when
// the connection was dropped.
bool ws_worker::on_data(uint32_t i, const ws_event& ev, int64_t now) {
    connection& c = _conns[i];
    if (!c.inflight.any_sent()) {
        ++_st->errors.protocol;
        note_error("a message nobody sent was echoed");
        drop(i, now, false);
        return false;
    }
    c.echo.piece(*_tpl, _first_conn + i + 1, c.inflight.at(0).seq, ev);
    if (ev.message_end) {
        on_echo_end(i, now);
    }
    return true;
}

void ws_worker::on_echo_end(uint32_t i, int64_t now) {
    connection& c = _conns[i];
    bool ok = c.echo.matches(*_tpl);
    int64_t sent = c.inflight.at(0).sent_ns;
    c.inflight.pop_front();
    c.echo.reset();
    if (measured(sent)) {
        ++_finished;
    }
    if (!ok) {
        ++_st->errors.mismatch;
        note_error("an echo differed from the message sent");
    } else if (measured(sent) && now <= _plan.end_ns) {
        ++_st->messages;
        _st->latency.record(static_cast<uint64_t>((now - sent) / 1000));
        _st->last_answer_ns = now;
    }
    mark_dirty(i); // refill the pipeline
}

void ws_worker::on_frames(uint32_t i, const char* data, size_t len, int64_t now) {
    connection& c = _conns[i];
    uint32_t gen = c.gen;
    while (len > 0) {
        size_t used = 0;
        ws_event ev;
        ws_frame_parser::result r = c.parser.feed(data, len, &used, &ev);
        if (r != ws_frame_parser::result::ok) [[unlikely]] {
            ++_st->errors.protocol;
            note_error("server frame breaks RFC 6455 (parser result " + std::to_string(static_cast<int>(r)) + ")");
            drop(i, now, true);
            return;
        }
        data += used;
        len -= used;
        if (ev.what == ws_event::kind::data) {
            if (!on_data(i, ev, now)) {
                return;
            }
        } else if (ev.what == ws_event::kind::control) {
            if (ev.control_opcode == ws_opcode::ping) {
                ++_st->pings;
                _tpl->append_control(&c.control, ws_opcode::pong, ev.control_payload, ev.control_len);
                mark_dirty(i);
            } else if (ev.control_opcode == ws_opcode::close) {
                ++_st->server_closes;
                if (c.inflight.any_sent()) {
                    ++_st->errors.read; // closed with echoes outstanding
                    drop(i, now, true);
                } else {
                    drop(i, now, false);
                }
                return;
            }
            // an unsolicited pong is allowed (RFC 6455 §5.5.3) and ignored
        }
        if (c.gen != gen) {
            return;
        }
    }
}

void ws_worker::on_bytes(uint32_t i, const char* data, size_t len, int64_t now) {
    if (_conns[i].state == conn_state::handshaking) {
        on_handshake_bytes(i, data, len, now);
    } else {
        on_frames(i, data, len, now);
    }
}

void ws_worker::on_recv_end(uint32_t i, int res, int64_t now) {
    connection& c = _conns[i];
    if (c.state == conn_state::handshaking) {
        fail_phase(i, now, &_st->errors.handshake, "closed during the handshake");
    } else if (c.inflight.any_sent() || res < 0) {
        ++_st->errors.read;
        drop(i, now, true);
    } else {
        drop(i, now, false); // an idle connection was closed
    }
}

void ws_worker::on_connect(uint32_t i, int res, int64_t now) {
    connection& c = _conns[i];
    if (res < 0) {
        fail_phase(i, now, &_st->errors.connect, "connect failed");
        return;
    }
    c.state = conn_state::handshaking;
    c.phase_ns = now;
    c.parser.reset();
    std::string key = ws_make_key(_rng(), _rng());
    c.accept = ws_accept_for(key);
    c.out = ws_upgrade_request(_opts.target.path, _opts.target.host_header, key);
    start_send(i, c.out.data(), c.out.size());
    mark_dirty(i); // arms the recv
}

void ws_worker::on_send_failed(uint32_t i, int64_t now) {
    if (_conns[i].state == conn_state::handshaking) {
        fail_phase(i, now, &_st->errors.handshake, "send of the upgrade request failed");
    } else {
        ++_st->errors.write;
        drop(i, now, true);
    }
}

void ws_worker::on_sent(uint32_t i) {
    if (_conns[i].state == conn_state::open) {
        mark_dirty(i); // the next batch: refills that waited for this send, pongs
    }
}

void ws_worker::run() {
    run_loop();
    for (connection& c : _conns) {
        for (uint32_t k = 0; k < c.inflight.count(); ++k) {
            int64_t sent = c.inflight.at(k).sent_ns;
            if (sent != 0 && measured(sent)) {
                ++_st->unfinished;
            }
        }
    }
}

} // namespace

void run_ws_worker(ws_run_plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count,
                   uint64_t message_share, ws_thread_stats* out) {
    run_worker_thread<ws_worker>(plan, thread_index, first_conn, conn_count, message_share, out);
}

} // namespace ringbolt_load
