// connection_fuzz's application: whole answers and streamed ones (heads, body pieces from
// memory, borrowed bytes or a file, ends with trailers, aborts), a 101 accepting a
// WebSocket handshake, and producer bugs the connection must survive, each as the
// script's bytes say; what it produced is recorded for the wire check.
#include "tests/fuzz/connection_fuzz.hpp"

#include "tests/support/inert_protocol.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringbolt::fuzz::http1 {

using namespace ringbolt::http;

int live_keeps = 0;

namespace {

constexpr uint16_t app_statuses[] = {200, 201, 204, 304, 404, 500, 299};
constexpr std::string_view connection_values[] = {"", "close", "keep-alive", "Keep-Alive, close"};

/// Body bytes are a function of (request, offset) so that a misplaced or repeated
/// piece shows; file bodies are a function of the file offset.
char body_byte(uint64_t seq, uint64_t off) {
    return "abcdefghijklmnopqrstuvwxyz0123456789"[(seq * 11 + off) % 36];
}
char file_byte(uint64_t off) {
    return static_cast<char>('A' + off % 23);
}
constexpr uint64_t file_size = 1 << 16;

/// One file shared by every run (segments get their own descriptor: file_handle closes it).
int shared_file() {
    static const int fd = [] {
        int f = memfd_create("connection_fuzz", 0);
        check(f >= 0, "memfd_create");
        std::string content(file_size, '\0');
        for (uint64_t i = 0; i < file_size; ++i) {
            content[i] = file_byte(i);
        }
        check(pwrite(f, content.data(), content.size(), 0) == static_cast<ssize_t>(content.size()), "file write");
        return f;
    }();
    return fd;
}

/// Borrowed bytes kept alive by the queue until sent (counted, to see them released).
struct kept_bytes {
    std::string data;
    explicit kept_bytes(std::string d) : data(std::move(d)) { ++live_keeps; }
    ~kept_bytes() { --live_keeps; }
    kept_bytes(const kept_bytes&) = delete;
    kept_bytes& operator=(const kept_bytes&) = delete;
};

/// The protocol after a 101: it only keeps what it was given (the WebSocket protocol
/// itself is driven by ws_connection_fuzz).
class probe_protocol final : public test_support::inert_protocol {
  public:
    void release() noexcept override { _out.clear(); }
};

struct probe_upgrade final : protocol_upgrade {
    std::string* pending;
    explicit probe_upgrade(std::string* p) : pending(p) {}
    std::unique_ptr<protocol> make(uint32_t slot, uint32_t gen, const peer_address&, std::string_view bytes,
                                   protocol_env&) override {
        check(slot == 5 && gen == 9, "(f) the new protocol made for another connection");
        pending->assign(bytes);
        return std::make_unique<probe_protocol>();
    }
};

/// What an answer or a streamed head takes from the script, in this order: which request
/// it is for, its flags, its body size (a byte times `unit`) and its status.
struct answer_bytes {
    uint8_t which;
    uint8_t flags;
    uint64_t size;
    uint16_t status;
};

answer_bytes read_answer(script_reader& s, uint64_t unit) {
    answer_bytes a{};
    a.which = s.byte();
    a.flags = s.byte();
    a.size = uint64_t{s.byte()} * unit;
    a.status = app_statuses[s.byte() % std::size(app_statuses)];
    return a;
}

} // namespace

/// An app request in the wanted state (head sent or not; answered or not), chosen by `b`.
seq_record* connection_run::pick(uint8_t b, bool started, bool finished_ok) {
    size_t n = 0;
    for (const seq_record& r : _seqs) {
        n += r.handed && r.started == started && (finished_ok || !r.finished);
    }
    if (n == 0) {
        return nullptr;
    }
    size_t want = b % n;
    for (seq_record& r : _seqs) {
        if (r.handed && r.started == started && (finished_ok || !r.finished) && want-- == 0) {
            return &r;
        }
    }
    return nullptr;
}

/// Headers go through check_app_field as the application bridge sends them.
void connection_run::build_head(response_head& h, uint64_t seq, uint16_t status, uint8_t flags, int64_t declared) {
    std::string seq_text = std::to_string(seq);
    std::string length_text = std::to_string(declared);
    std::vector<std::pair<std::string_view, std::string_view>> fields = {{"X-Seq", seq_text},
                                                                         {"Content-Type", "text/plain"}};
    std::string_view connection = connection_values[(flags >> 4) & 3];
    if (!connection.empty()) {
        fields.emplace_back("Connection", connection);
    }
    if (flags & 0x40) {
        fields.emplace_back("Date", date);
        fields.emplace_back("Server", "probe");
    }
    if (flags & 0x80) {
        fields.emplace_back("Transfer-Encoding", "chunked");
    }
    if (declared >= 0) {
        fields.emplace_back("Content-Length", length_text);
        if (flags & 0x08) {
            fields.emplace_back("content-length", length_text); // the same length twice is one length
        }
    }
    h.status = status;
    int64_t length = -1;
    for (const auto& [name, value] : fields) {
        switch (check_app_field(name, value, h, length)) {
        case field_action::keep:
            h.fields.append(name);
            h.fields.append(": ");
            h.fields.append(value);
            h.fields.append("\r\n");
            break;
        case field_action::drop:
        case field_action::content_length:
            break;
        case field_action::bad_length:
            fail("check_app_field refused a valid length");
        }
    }
    check(length == declared, "check_app_field length");
    h.content_length = length;
}

void connection_run::attach_body(app_response& m, seq_record& r, uint64_t size, uint8_t source) {
    if (size == 0) {
        return;
    }
    m.parts |= app_response::part_body;
    _produced_total += size;
    if (source == 2) {
        uint64_t offset = (r.produced.size() * 7) % (file_size - size);
        std::string bytes(size, '\0');
        for (uint64_t i = 0; i < size; ++i) {
            bytes[i] = file_byte(offset + i);
        }
        r.produced += bytes;
        int fd = dup(shared_file());
        check(fd >= 0, "dup");
        app_response_more& more = m.rare();
        more.file = std::make_shared<core::file_handle>(fd);
        _files.push_back(more.file);
        more.file_offset = offset;
        more.file_length = size;
        return;
    }
    std::string bytes(size, '\0');
    for (uint64_t i = 0; i < size; ++i) {
        bytes[i] = body_byte(&r - _seqs.data(), r.produced.size() + i);
    }
    r.produced += bytes;
    if (source == 1) {
        auto kept = std::make_shared<kept_bytes>(std::move(bytes));
        m.rare().borrowed = kept->data;
        m.more->keep = kept;
    } else {
        m.body = std::move(bytes);
    }
}

int connection_run::new_stream(uint64_t seq) {
    stream_entry& e = _streams.emplace_back();
    e.stream = std::make_shared<probe_stream>();
    e.seq = seq;
    return static_cast<int>(_streams.size() - 1);
}

void connection_run::deliver(app_response&& m) {
    m.conn_slot = 5;
    m.conn_gen = 9;
    if ((m.parts & app_response::part_head) && _app_limit != 0 && _app_pending.load() > 0) {
        _app_pending.fetch_sub(1); // the reactor's admission count
    }
    // After release the reactor tells the stream itself (the slot is closing); delivering
    // to the released protocol must come to the same and queue nothing.
    auto e = env();
    _conn.on_app_message(std::move(m), e);
}

void connection_run::answer(script_reader& s) {
    auto [which, flags, size, status] = read_answer(s, 13);
    if (size == 255 * 13 && ((flags >> 2) & 3) != 2) {
        size = 70000; // a body past HTTP/1.1's move_body_from (64 KiB): moved into the queue
    }
    seq_record* r = pick(which, false);
    if (r == nullptr || _produced_total > (1u << 20)) {
        return;
    }
    if (r->upgrade && status == 299) {
        accept_upgrade(*r);
        return;
    }
    uint64_t seq = static_cast<uint64_t>(r - _seqs.data());
    int64_t declared = static_cast<int64_t>(size);
    switch (flags & 3) {
    case 1:
        declared = -1;
        break;
    case 2:
        declared = size > 0 ? static_cast<int64_t>(size / 2) : 1;
        break;
    case 3:
        declared = static_cast<int64_t>(size) + 1;
        break;
    default:
        break;
    }
    app_response m;
    m.seq = seq;
    m.parts = app_response::part_head | app_response::part_end;
    build_head(m.start, seq, status, flags, declared);
    attach_body(m, *r, size, (flags >> 2) & 3);
    r->started = true;
    r->finished = true;
    r->declared = declared;
    r->broken = declared >= 0 && static_cast<uint64_t>(declared) != size;
    ++_finished;
    deliver(std::move(m));
}

/// The application accepts a WebSocket handshake (as ws_accept does: a head-only 101
/// carrying the upgrade, and a stream told if the switch cannot happen).
void connection_run::accept_upgrade(seq_record& r) {
    uint64_t seq = static_cast<uint64_t>(&r - _seqs.data());
    app_response m;
    m.seq = seq;
    m.parts = app_response::part_head;
    m.start.status = 101;
    m.start.fields =
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "X-Seq: " +
        std::to_string(seq) + "\r\n";
    m.rare().upgrade = std::make_shared<probe_upgrade>(&_pending);
    auto told = std::make_shared<probe_stream>();
    m.stream = told;
    r.started = true;
    r.finished = true;
    ++_finished;
    deliver(std::move(m));
    if (_conn.has_successor()) {
        check(told->closed == 0, "(f) switched, but the upgrade's stream was told it failed");
        check_switch(seq);
    } else {
        // Refused (not the oldest owed request, or the connection closes): the client
        // gets a cut instead of a 101, which the wire check allows for a broken answer.
        check(told->closed == 1, "(f) a refused 101 did not tell its stream");
        r.broken = true;
        if (tracing) {
            std::fprintf(stderr, "the 101 for request %llu was refused\n", static_cast<unsigned long long>(seq));
        }
    }
}

void connection_run::stream_head(script_reader& s) {
    auto [which, flags, size, status] = read_answer(s, 16);
    seq_record* r = pick(which, false);
    if (r == nullptr) {
        return;
    }
    uint64_t seq = static_cast<uint64_t>(r - _seqs.data());
    int64_t declared = (flags & 2) ? static_cast<int64_t>((flags & 1) ? size : size / 16) : -1;
    app_response m;
    m.seq = seq;
    m.parts = app_response::part_head;
    build_head(m.start, seq, status, flags, declared);
    r->started = true;
    r->declared = declared;
    r->stream = new_stream(seq);
    stream_entry& st = _streams[static_cast<size_t>(r->stream)];
    m.stream = st.stream;
    uint8_t source = (flags >> 2) & 3;
    if (source != 3 && _produced_total <= (1u << 20)) {
        attach_body(m, *r, size, source);
        st.produced += (m.parts & app_response::part_body) ? size : 0;
        r->broken = r->broken || (declared >= 0 && r->produced.size() > static_cast<uint64_t>(declared));
    }
    deliver(std::move(m));
}

void connection_run::stream_body(script_reader& s) {
    uint8_t which = s.byte();
    uint8_t source = s.byte() % 3;
    uint64_t size = uint64_t{s.byte()} * 16;
    seq_record* r = pick(which, true);
    if (r == nullptr || r->stream < 0 || _produced_total > (1u << 20)) {
        return;
    }
    app_response m;
    m.seq = static_cast<uint64_t>(r - _seqs.data());
    m.parts = 0;
    attach_body(m, *r, size, source);
    if (m.parts == 0) {
        m.parts = app_response::part_body; // an empty piece
    }
    _streams[static_cast<size_t>(r->stream)].produced += size;
    r->broken = r->broken || (r->declared >= 0 && r->produced.size() > static_cast<uint64_t>(r->declared));
    deliver(std::move(m));
}

void connection_run::stream_end(script_reader& s) {
    uint8_t which = s.byte();
    bool trailers = s.byte() & 1;
    seq_record* r = pick(which, true);
    if (r == nullptr) {
        return;
    }
    app_response m;
    m.seq = static_cast<uint64_t>(r - _seqs.data());
    m.parts = app_response::part_end;
    if (trailers) {
        m.rare().trailers = "X-Trailer: 1\r\n";
    }
    r->finished = true;
    r->broken = r->broken || (r->declared >= 0 && r->produced.size() != static_cast<uint64_t>(r->declared));
    if (r->stream >= 0) {
        _streams[static_cast<size_t>(r->stream)].producer_done = true;
    }
    ++_finished;
    deliver(std::move(m));
}

void connection_run::abort_response(script_reader& s) {
    uint8_t which = s.byte();
    seq_record* r = pick(which, (which & 0x80) != 0);
    if (r == nullptr) {
        return;
    }
    app_response m;
    m.seq = static_cast<uint64_t>(r - _seqs.data());
    m.parts = app_response::part_abort;
    r->finished = true;
    r->broken = true;
    if (r->stream >= 0) {
        _streams[static_cast<size_t>(r->stream)].producer_done = true;
    }
    ++_finished;
    deliver(std::move(m));
}

/// Producer bugs the connection must survive: a second head, a body before the head, a
/// stream for a request that is not owed (unknown, or answered already).
void connection_run::misbehave(script_reader& s) {
    uint8_t kind = s.byte() % 4;
    uint8_t which = s.byte();
    app_response m;
    switch (kind) {
    case 0: { // a second head on a started response, with a stream of its own
        seq_record* r = pick(which, true);
        if (r == nullptr) {
            return;
        }
        m.seq = static_cast<uint64_t>(r - _seqs.data());
        m.parts = app_response::part_head;
        build_head(m.start, m.seq, 200, 0, -1);
        int st = new_stream(m.seq);
        m.stream = _streams[static_cast<size_t>(st)].stream;
        r->broken = true;
        break;
    }
    case 1: { // a body before the head
        seq_record* r = pick(which, false);
        if (r == nullptr) {
            return;
        }
        m.seq = static_cast<uint64_t>(r - _seqs.data());
        m.parts = app_response::part_body;
        m.body = "early";
        r->broken = true;
        break;
    }
    default: { // a head and stream for a seq that is not owed
        m.seq = kind == 2 ? _conn.requests_seen() + which : 0;
        if (kind == 3) {
            seq_record* r = pick(which, true, true);
            if (r == nullptr || !r->finished) {
                return;
            }
            m.seq = static_cast<uint64_t>(r - _seqs.data());
        }
        m.parts = app_response::part_head | app_response::part_end;
        build_head(m.start, m.seq, 200, 0, 0);
        int st = new_stream(m.seq);
        auto probe = _streams[static_cast<size_t>(st)].stream;
        m.stream = probe;
        _streams[static_cast<size_t>(st)].producer_done = true;
        uint64_t before = _wire.size() + unsent();
        deliver(std::move(m));
        check(probe->closed == 1, "(b) a stream for a response not owed must be told on_closed at once");
        check(_wire.size() + unsent() == before, "(a) a message for a response not owed queued bytes");
        return;
    }
    }
    deliver(std::move(m));
}

} // namespace ringbolt::fuzz::http1
