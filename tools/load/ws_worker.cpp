// Owns: one ringbolt-ws-load thread's io_uring event loop — connects, the opening
// handshake, masked message sends with D messages in flight per connection, multishot
// recv into a provided buffer ring, byte-for-byte validation of every echo, pongs to
// server pings, timeouts and reconnects.
//
// Every message carries its connection and sequence number in its first 16 payload
// bytes (hex digits), so an echo that is stale, reordered or from another connection is
// a mismatch, not a success. The rest of the payload is a fixed pattern, pre-masked once:
// a send copies the template frame and re-masks only those 16 bytes.
#include "ws_worker.hpp"

#include "core/cpu.hpp"
#include "uring/buffer_ring.hpp"
#include "uring/ring.hpp"
#include "ws_frame.hpp"
#include "ws_handshake.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <random>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace ringbolt_load {

namespace {

constexpr uint16_t buffer_group = 9;
constexpr uint32_t buffer_size = 16 * 1024;
constexpr int64_t housekeeping_ns = 5'000'000;
constexpr int64_t connect_backoff_ns = 10'000'000;
constexpr size_t seq_digits = 16;

enum class op : uint8_t { connect = 1, recv = 2, send = 3 };

uint64_t pack(op o, uint32_t gen, uint32_t index) noexcept {
    return (static_cast<uint64_t>(o) << 56) | (static_cast<uint64_t>(gen & 0xffffff) << 32) | index;
}

struct message_slot {
    uint64_t seq;
    int64_t sent_ns; // latency and timeouts are measured from here
};

enum class conn_state : uint8_t { down, connecting, handshaking, open };

struct connection {
    int fd = -1;
    uint32_t gen = 0;
    conn_state state = conn_state::down;
    bool recv_armed = false;
    bool send_busy = false;
    bool dirty = false;
    std::string out;      // bytes of the send in progress
    size_t out_off = 0;   // of which already written
    std::string control;  // pongs waiting for the next send
    std::string head;     // the handshake answer until its end
    std::string accept;   // the Sec-WebSocket-Accept it must carry
    int64_t phase_ns = 0; // when connecting / handshaking began
    int64_t retry_at_ns = 0;
    // messages in order: [head_slot, head_slot+count); the last `unsent` wait for a send
    std::vector<message_slot> slots;
    uint32_t head_slot = 0;
    uint32_t count = 0;
    uint32_t unsent = 0;
    uint64_t next_seq = 0;
    uint64_t rx_off = 0; // bytes of the current echo seen so far
    bool rx_bad = false; // the current echo already differs
    ws_frame_parser parser;

    message_slot& at(uint32_t i) noexcept { return slots[(head_slot + i) % slots.size()]; }
};

class ws_worker {
  public:
    ws_worker(ws_run_plan& plan, uint32_t first_conn, uint32_t conn_count, uint64_t share, ws_thread_stats* st)
        : _plan(plan), _opts(*plan.opts), _first_conn(first_conn), _share(share), _st(st), _conns(conn_count) {}
    ~ws_worker();

    bool setup();
    void run();

  private:
    io_uring_sqe* get_sqe();
    void start_connect(uint32_t i, int64_t now);
    void close_socket(connection& c, bool say_goodbye);
    void drop(uint32_t i, int64_t now, bool fail_oldest);
    void fail_phase(uint32_t i, int64_t now, uint64_t* counter, const char* why);
    void mark_dirty(uint32_t i) {
        if (!_conns[i].dirty) {
            _conns[i].dirty = true;
            _dirty.push_back(i);
        }
    }
    void service(uint32_t i, int64_t now);
    void prep_send(uint32_t i);
    void append_message(connection& c, uint32_t i, uint64_t seq);
    void digits_for(uint32_t i, uint64_t seq, char* out) const noexcept;
    void housekeeping(int64_t now);
    void handle(io_uring_cqe* cqe, int64_t now);
    void on_handshake_bytes(uint32_t i, const char* data, size_t len, int64_t now);
    void on_frames(uint32_t i, const char* data, size_t len, int64_t now);
    bool on_data(uint32_t i, const ws_event& ev, int64_t now);
    void on_echo_end(uint32_t i, int64_t now);
    void note_error(const std::string& what) {
        if (_st->first_error.empty()) {
            _st->first_error = what;
        }
    }
    bool measured(int64_t t) const noexcept { return t >= _plan.measure_ns; }
    bool budget_left() const noexcept { return _share == 0 || _issued < _share; }

    ws_run_plan& _plan;
    const ws_options& _opts;
    uint32_t _first_conn;
    uint64_t _share;
    ws_thread_stats* _st;
    std::vector<connection> _conns;
    std::vector<uint32_t> _dirty;
    std::string _plain;     // the payload pattern every message starts from
    std::string _frame;     // one whole masked frame of _plain
    size_t _payload_at = 0; // offset of the payload in _frame
    uint8_t _key[4]{};
    ws_opcode _opcode = ws_opcode::binary;
    std::mt19937_64 _rng;
    io_uring _ring{};
    bool _ring_ok = false;
    ringbolt::uring::buffer_ring _br; // the server's own provided-buffer ring
    uint64_t _issued = 0;
    uint64_t _finished = 0;
    bool _ever_open = false;
    bool _started = false;
    int64_t _next_housekeeping = 0;
};

ws_worker::~ws_worker() {
    for (connection& c : _conns) {
        if (c.fd >= 0) {
            close_socket(c, c.state == conn_state::open);
        }
    }
    _br.destroy(); // unregistered before its ring goes
    if (_ring_ok) {
        io_uring_queue_exit(&_ring);
    }
}

bool ws_worker::setup() {
    uint32_t n = static_cast<uint32_t>(_conns.size());
    uint32_t entries = 256;
    while (entries < 2 * n && entries < 32768) {
        entries *= 2;
    }
    // The server's ring set-up (uring/ring.hpp), as ringbolt-load: single-issuer + deferred
    // task work where the kernel has them; a CQ 8x the SQ, for bursts of multishot recvs.
    ringbolt::uring::ring_features features;
    if (auto rc = ringbolt::uring::setup_ring(_ring, entries, features, entries * 8); !rc.ok()) {
        _st->setup_error = "io_uring_queue_init: " + ringbolt::uring::describe_setup_failure(rc.sys_errno());
        return false;
    }
    _ring_ok = true;

    // Buffers go back as soon as their bytes are parsed, so a few per connection do.
    uint32_t buf_count = 64;
    while (buf_count < 4 * n && buf_count < 32768) {
        buf_count *= 2;
    }
    if (auto rc = _br.init(_ring, buffer_group, buf_count, buffer_size); !rc.ok()) {
        _st->setup_error =
            std::string("provided buffer ring: ") + ringbolt::errc_name(rc.error()) + ": " + strerror(rc.sys_errno());
        return false;
    }

    std::random_device rd;
    _rng.seed((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ ringbolt::monotonic_ns());
    uint64_t k = _rng();
    memcpy(_key, &k, 4);
    // text: printable ASCII (valid UTF-8); binary: every byte value, so a server that
    // treats the payload as text shows up as a mismatch
    _opcode = _opts.text ? ws_opcode::text : ws_opcode::binary;
    _plain.resize(_opts.size);
    for (size_t j = 0; j < _plain.size(); ++j) {
        _plain[j] = _opts.text ? static_cast<char>('a' + (j * 7) % 26) : static_cast<char>((j * 131 + 7) & 0xff);
    }
    append_client_frame(&_frame, _opcode, _plain.data(), _plain.size(), _key);
    _payload_at = _frame.size() - _plain.size();
    for (connection& c : _conns) {
        c.slots.resize(_opts.pipeline);
    }
    return true;
}

io_uring_sqe* ws_worker::get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
    while (sqe == nullptr) {
        io_uring_submit(&_ring);
        sqe = io_uring_get_sqe(&_ring);
    }
    return sqe;
}

// The 16 hex digits at the front of message seq of connection i (fewer when the
// payload is shorter: the low-order ones).
void ws_worker::digits_for(uint32_t i, uint64_t seq, char* out) const noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    uint64_t v = (static_cast<uint64_t>(_first_conn + i + 1) << 40) | (seq & ((uint64_t{1} << 40) - 1));
    for (size_t d = 0; d < seq_digits; ++d) {
        out[seq_digits - 1 - d] = hex[(v >> (4 * d)) & 15];
    }
}

void ws_worker::append_message(connection& c, uint32_t i, uint64_t seq) {
    size_t at = c.out.size();
    c.out += _frame;
    char digits[seq_digits];
    digits_for(i, seq, digits);
    size_t n = std::min<size_t>(seq_digits, _plain.size());
    const char* src = digits + (seq_digits - n);
    char* dst = c.out.data() + at + _payload_at;
    for (size_t j = 0; j < n; ++j) {
        dst[j] = static_cast<char>(static_cast<uint8_t>(src[j]) ^ _key[j & 3]);
    }
}

void ws_worker::start_connect(uint32_t i, int64_t now) {
    connection& c = _conns[i];
    int fd = socket(_opts.target.family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
        ++_st->errors.connect;
        c.state = conn_state::down;
        c.retry_at_ns = now + connect_backoff_ns;
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.fd = fd;
    c.state = conn_state::connecting;
    c.phase_ns = now;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&_opts.target.addr), _opts.target.addr_len);
    io_uring_sqe_set_data64(sqe, pack(op::connect, c.gen, i));
}

void ws_worker::close_socket(connection& c, bool say_goodbye) {
    if (say_goodbye && !c.send_busy) {
        // best effort, never blocking: a close frame with 1000 (RFC 6455 §7.4.1) so the
        // server sees a normal end rather than a reset
        std::string frame;
        const char code[2] = {0x03, static_cast<char>(0xe8)};
        append_client_frame(&frame, ws_opcode::close, code, 2, _key);
        [[maybe_unused]] ssize_t w = send(c.fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    // shutdown first: a pending multishot recv holds its own file reference
    shutdown(c.fd, SHUT_RDWR);
    close(c.fd);
    c.fd = -1;
}

// Close connection i and open a new one. Messages sent but not echoed are given back
// (re-issued on the new connection); with fail_oldest the oldest one counts as failed,
// so a failing server cannot hold a -n run forever.
void ws_worker::drop(uint32_t i, int64_t now, bool fail_oldest) {
    connection& c = _conns[i];
    if (c.fd >= 0) {
        close_socket(c, false);
    }
    c.gen = (c.gen + 1) & 0xffffff;
    c.recv_armed = false;
    c.send_busy = false;
    c.out.clear();
    c.out_off = 0;
    c.control.clear();
    c.head.clear();
    uint32_t first = 0;
    if (fail_oldest && c.count > c.unsent) {
        if (measured(c.at(0).sent_ns)) {
            ++_finished;
        }
        first = 1;
    }
    for (uint32_t k = first; k < c.count; ++k) {
        if (measured(c.at(k).sent_ns)) {
            --_issued; // re-issued on the new connection
        }
    }
    c.head_slot = 0;
    c.count = 0;
    c.unsent = 0;
    c.next_seq = 0;
    c.rx_off = 0;
    c.rx_bad = false;
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
        close_socket(c, false);
    }
    c.gen = (c.gen + 1) & 0xffffff;
    c.recv_armed = false;
    c.send_busy = false;
    c.out.clear();
    c.head.clear();
    c.state = conn_state::down;
    c.retry_at_ns = now + connect_backoff_ns;
}

void ws_worker::prep_send(uint32_t i) {
    connection& c = _conns[i];
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_send(sqe, c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, pack(op::send, c.gen, i));
    c.send_busy = true;
}

void ws_worker::service(uint32_t i, int64_t now) {
    connection& c = _conns[i];
    if (c.state != conn_state::open && c.state != conn_state::handshaking) {
        return;
    }
    if (!c.recv_armed) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = buffer_group;
        io_uring_sqe_set_data64(sqe, pack(op::recv, c.gen, i));
        c.recv_armed = true;
    }
    if (c.state != conn_state::open || c.send_busy) {
        return;
    }
    if (now >= _plan.start_ns) {
        // closed loop: keep `pipeline` messages out; none before the common start, so
        // with -n and no warm-up the server sees exactly the measured messages
        uint32_t depth = static_cast<uint32_t>(c.slots.size());
        while (c.count < depth && budget_left()) {
            if (measured(now)) {
                ++_issued;
            }
            c.at(c.count) = message_slot{c.next_seq++, 0};
            ++c.count;
            ++c.unsent;
        }
    }
    if (c.unsent == 0 && c.control.empty()) {
        return;
    }
    c.out.clear();
    c.out_off = 0;
    c.out += c.control; // pongs first: they answer pings that came before
    c.control.clear();
    for (uint32_t k = c.count - c.unsent; k < c.count; ++k) {
        c.at(k).sent_ns = now;
        append_message(c, i, c.at(k).seq);
    }
    c.unsent = 0;
    prep_send(i);
}

void ws_worker::housekeeping(int64_t now) {
    int64_t timeout_ns = static_cast<int64_t>(_opts.timeout_ms) * 1000000;
    for (uint32_t i = 0; i < _conns.size(); ++i) {
        connection& c = _conns[i];
        if (c.state == conn_state::down) {
            if (now >= c.retry_at_ns) {
                start_connect(i, now);
            }
        } else if (c.state == conn_state::connecting) {
            if (now - c.phase_ns > timeout_ns) {
                fail_phase(i, now, &_st->errors.connect, "connect timed out");
            }
        } else if (c.state == conn_state::handshaking) {
            if (now - c.phase_ns > timeout_ns) {
                fail_phase(i, now, &_st->errors.handshake, "no handshake answer within --timeout");
            }
        } else if (c.count > c.unsent && now - c.at(0).sent_ns > timeout_ns) {
            ++_st->errors.timeout; // echoes come in order: a late one stalls the rest
            drop(i, now, true);
        }
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
    if (c.count == c.unsent) {
        ++_st->errors.protocol;
        note_error("a message nobody sent was echoed");
        drop(i, now, false);
        return false;
    }
    size_t size = _plain.size();
    if (ev.message_opcode != _opcode || c.rx_off + ev.len > size) {
        c.rx_bad = true;
    } else if (!c.rx_bad && ev.len > 0) {
        size_t n_digits = std::min<size_t>(seq_digits, size);
        size_t off = c.rx_off;
        size_t end = off + ev.len;
        if (off < n_digits) {
            char digits[seq_digits];
            digits_for(i, c.at(0).seq, digits);
            const char* want = digits + (seq_digits - n_digits);
            size_t upto = std::min(end, n_digits);
            if (memcmp(ev.data, want + off, upto - off) != 0) {
                c.rx_bad = true;
            }
        }
        size_t from = std::max(off, n_digits);
        if (!c.rx_bad && end > from && memcmp(ev.data + (from - off), _plain.data() + from, end - from) != 0) {
            c.rx_bad = true;
        }
    }
    c.rx_off += ev.len;
    if (ev.message_end) {
        on_echo_end(i, now);
    }
    return true;
}

void ws_worker::on_echo_end(uint32_t i, int64_t now) {
    connection& c = _conns[i];
    bool ok = !c.rx_bad && c.rx_off == _plain.size();
    int64_t sent = c.at(0).sent_ns;
    c.head_slot = (c.head_slot + 1) % static_cast<uint32_t>(c.slots.size());
    --c.count;
    c.rx_off = 0;
    c.rx_bad = false;
    if (measured(sent)) {
        ++_finished;
    }
    if (!ok) {
        ++_st->errors.mismatch;
        note_error("an echo differed from the message sent");
    } else if (measured(sent) && now <= _plan.end_ns) {
        ++_st->messages;
        _st->latency.record(static_cast<uint64_t>((now - sent) / 1000));
        _st->last_message_ns = now;
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
                append_client_frame(&c.control, ws_opcode::pong, ev.control_payload, ev.control_len, _key);
                mark_dirty(i);
            } else if (ev.control_opcode == ws_opcode::close) {
                ++_st->server_closes;
                if (c.count > c.unsent) {
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

void ws_worker::handle(io_uring_cqe* cqe, int64_t now) {
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    op o = static_cast<op>(ud >> 56);
    uint32_t gen = static_cast<uint32_t>(ud >> 32) & 0xffffff;
    uint32_t i = static_cast<uint32_t>(ud);
    connection& c = _conns[i];
    bool stale = gen != c.gen;
    int res = cqe->res;
    if (o == op::recv) {
        bool has_buf = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
        uint16_t bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (!stale) {
            if (!(cqe->flags & IORING_CQE_F_MORE)) {
                c.recv_armed = false;
                mark_dirty(i);
            }
            const char* bytes = _br.data(bid);
            if (res > 0) {
                if (now >= _plan.measure_ns && now <= _plan.end_ns) {
                    _st->bytes += static_cast<uint64_t>(res);
                }
                if (c.state == conn_state::handshaking) {
                    on_handshake_bytes(i, bytes, static_cast<size_t>(res), now);
                } else {
                    on_frames(i, bytes, static_cast<size_t>(res), now);
                }
            } else if (res == 0 || res != -ENOBUFS) {
                if (c.state == conn_state::handshaking) {
                    fail_phase(i, now, &_st->errors.handshake, "closed during the handshake");
                } else if (c.count > c.unsent || res < 0) {
                    ++_st->errors.read;
                    drop(i, now, true);
                } else {
                    drop(i, now, false); // an idle connection was closed
                }
            }
        }
        if (has_buf) {
            _br.recycle(bid); // always, stale or not: the buffer is ours again
        }
        return;
    }
    if (stale) {
        return;
    }
    if (o == op::connect) {
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
        c.out_off = 0;
        prep_send(i);
        mark_dirty(i); // arms the recv
        return;
    }
    if (res < 0) {
        if (c.state == conn_state::handshaking) {
            fail_phase(i, now, &_st->errors.handshake, "send of the upgrade request failed");
        } else {
            ++_st->errors.write;
            drop(i, now, true);
        }
        return;
    }
    c.out_off += static_cast<size_t>(res);
    if (c.out_off < c.out.size()) {
        prep_send(i); // short send: the rest first
        return;
    }
    c.send_busy = false;
    if (c.state == conn_state::open) {
        mark_dirty(i); // the next batch: refills that waited for this send, pongs
    }
}

void ws_worker::run() {
    int64_t now = monotonic_ns();
    for (uint32_t i = 0; i < _conns.size(); ++i) {
        start_connect(i, now);
    }
    _next_housekeeping = now + housekeeping_ns;
    uint32_t n = static_cast<uint32_t>(_conns.size());
    while (!_plan.stop.load(std::memory_order_relaxed)) {
        now = monotonic_ns();
        if (now >= _plan.end_ns) {
            break;
        }
        if (_share != 0 && _finished >= _share) {
            break;
        }
        if (!_ever_open && _st->errors.connect + _st->errors.handshake >= 3 * static_cast<uint64_t>(n) + 3) {
            _st->cannot_connect = true;
            _plan.stop.store(true);
            break;
        }
        if (now >= _next_housekeeping) {
            housekeeping(now);
            _next_housekeeping = now + housekeeping_ns;
        }
        int64_t wake = std::min(_plan.end_ns, _next_housekeeping);
        if (!_started) {
            if (now < _plan.start_ns) {
                wake = std::min(wake, _plan.start_ns);
            } else {
                _started = true;
                for (uint32_t i = 0; i < n; ++i) {
                    mark_dirty(i);
                }
            }
        }
        for (size_t k = 0; k < _dirty.size(); ++k) {
            uint32_t i = _dirty[k];
            _conns[i].dirty = false;
            service(i, now);
        }
        _dirty.clear();
        _br.publish();
        int64_t wait_ns = std::max<int64_t>(0, wake - now);
        __kernel_timespec ts{};
        ts.tv_sec = wait_ns / 1000000000;
        ts.tv_nsec = wait_ns % 1000000000;
        io_uring_cqe* cqe = nullptr;
        int rc = io_uring_submit_and_wait_timeout(&_ring, &cqe, 1, &ts, nullptr);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            _st->setup_error = std::string("io_uring wait: ") + strerror(-rc);
            break;
        }
        now = monotonic_ns();
        unsigned head = 0;
        unsigned seen = 0;
        io_uring_for_each_cqe(&_ring, head, cqe) {
            handle(cqe, now);
            ++seen;
        }
        io_uring_cq_advance(&_ring, seen);
    }
    for (connection& c : _conns) {
        for (uint32_t k = 0; k < c.count; ++k) {
            if (c.at(k).sent_ns != 0 && measured(c.at(k).sent_ns)) {
                ++_st->unfinished;
            }
        }
    }
}

} // namespace

void run_ws_worker(ws_run_plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count,
                   uint64_t message_share, ws_thread_stats* out) {
    const ws_options& o = *plan.opts;
    if (!o.cpus.empty()) {
        ringbolt::pin_current_thread(o.cpus[thread_index % o.cpus.size()]);
    }
    ws_worker w(plan, first_conn, conn_count, message_share, out);
    if (!w.setup()) {
        plan.stop.store(true);
        return;
    }
    w.run();
}

} // namespace ringbolt_load
