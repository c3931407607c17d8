// How an HTTP/1.1 connection leaves HTTP/1.1, out of line from the parse (the common
// request carries none of it): the HTTP/2 preface (h2c by prior knowledge) and
// Upgrade: h2c hand the connection to HTTP/2, CONNECT is refused, and an HTTP/2-only
// listener refuses HTTP/1.x.
#include "http/http1_connection.hpp"

#include "core/strings.hpp"
#include "http/problem.hpp"

namespace ringbolt::http {

namespace {

// The client preface of HTTP/2 (RFC 9113 §3.4), or as much of it as has arrived.
bool starts_h2_preface(std::string_view bytes) noexcept {
    constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t n = bytes.size() < preface.size() ? bytes.size() : preface.size();
    return n >= 3 && bytes.substr(0, n) == preface.substr(0, n);
}

} // namespace

// CONNECT and Upgrade requests, out of line: the common request does not carry them.
// True when answered here.
[[gnu::noinline, gnu::cold]] bool http1_connection::special_request(const request_head& head,
                                                                    std::string_view head_bytes, std::string_view body,
                                                                    protocol_env& env, bool body_follows) {
    if (head.method_id == method_connect) {
        // No tunnels. What a client sends after CONNECT is meant for the tunnel (RFC 9110
        // §9.3.6), not requests: answer 501 and close rather than parse it as HTTP.
        uint64_t seq = _next_seq;
        request_context ctx{head.version_minor, false, false};
        env.counters.requests.add();
        ++_next_seq;
        _closing = true;
        respond(seq, ctx, 501, problem_content_type, problem_of(http_error::method_not_implemented), env);
        return true;
    }
    return !body_follows && upgrade_to_h2c(head, head_bytes, body, env);
}

// RFC 9113 §3.3: HTTP/2 with prior knowledge. The preface (it fails the HTTP/1.1 parse:
// its version is 2.0) and what follows go to the HTTP/2 protocol, which takes the
// connection over. Out of line: the parse's hot path does not carry it.
[[gnu::noinline, gnu::cold]] bool http1_connection::hand_to_h2(std::string_view rest, protocol_env& env) {
    if (_next_seq != 0 || env.h2 == nullptr || !starts_h2_preface(rest)) {
        return false;
    }
    _successor = env.h2->make(_slot, _gen, _peer, rest, env);
    _phase = phase::closed;
    _closing = true;
    _deadline = 0;
    return true;
}

// An HTTP/2-only listener (--http 2) serves the HTTP/2 preface only (RFC 9113 §3.3, h2c
// by prior knowledge; Upgrade: h2c is an HTTP/1.1 request too). An HTTP/1.x request is
// answered 505 (RFC 9110 §15.6.6: the major version is refused), so its client learns why
// rather than seeing the connection dropped; then the connection closes (what followed
// the request is read and discarded while it lingers).
[[gnu::noinline, gnu::cold]] void http1_connection::refuse_http1(const request_head& head, protocol_env& env) {
    uint64_t seq = _next_seq;
    request_context ctx{head.version_minor, head.method_id == method_head, false};
    env.counters.requests.add();
    ++_next_seq;
    _closing = true;
    respond(seq, ctx, 505, problem_content_type, problem_http2_only, env);
}

[[gnu::noinline, gnu::cold]] bool http1_connection::upgrade_to_h2c(const request_head& head,
                                                                   std::string_view head_bytes, std::string_view body,
                                                                   protocol_env& env) {
    // Only in cleartext, only when nothing is owed before it (the 101 must be the next
    // bytes on the wire), and only with exactly one HTTP2-Settings (RFC 7540 §3.2.1).
    if (env.h2 == nullptr || _peer.secure || !_owed.empty() || _next_seq != _next_write || _draining || env.draining) {
        return false;
    }
    bool h2c = false;
    int settings_count = 0;
    std::string_view settings;
    for (uint16_t i = 0; i < head.num_headers; ++i) {
        const header_field& f = head.headers[i];
        if (iequals(f.name, "upgrade")) {
            h2c = h2c || lists_token(f.value, "h2c");
        } else if (iequals(f.name, "http2-settings")) {
            ++settings_count;
            settings = f.value;
        }
    }
    if (!h2c || settings_count != 1) {
        return false;
    }
    std::unique_ptr<protocol> next = env.h2->make_upgraded(_slot, _gen, _peer, settings, head_bytes, body, env);
    if (!next) {
        return false; // a bad HTTP2-Settings: the request is answered as HTTP/1.1
    }
    env.counters.requests.add();
    env.counters.count_status(101);
    ++_next_seq;
    ++_next_write;
    // The 101 first, then the server's SETTINGS and stream 1's answer the new protocol
    // queued already.
    _out.append("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    _out.splice(next->output());
    next->output().splice(_out);
    _phase = phase::closed;
    _closing = true;
    _deadline = 0;
    _successor = std::move(next);
    return true;
}

} // namespace ringbolt::http
