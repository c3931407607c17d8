// How an HTTP/1.1 connection leaves HTTP/1.1, out of line from the parse (the common
// request carries none of it): a registered preface (HTTP/2's, h2c by prior knowledge)
// and a registered Upgrade token (h2c) hand the connection to the protocol the
// protocol_registry names, CONNECT is refused, and an HTTP/2-only listener refuses
// HTTP/1.x.
#include "http/http1_connection.hpp"

#include "core/strings.hpp"
#include "http/problem.hpp"
#include "http/protocol_registry.hpp"

namespace ringbolt::http {

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
        std::string_view problem = problem_of(http_error::method_not_implemented);
        tell_refused(head.method, head.target, head.version_minor, 501, problem.size(), env);
        respond(seq, ctx, 501, problem_content_type, problem, env);
        return true;
    }
    return !body_follows && upgrade_by_token(head, head_bytes, body, env);
}

// A protocol spoken with prior knowledge (RFC 9113 §3.3 for HTTP/2): its preface fails
// the HTTP/1.1 parse (HTTP/2's version is 2.0), so a connection whose first bytes fail
// it and start a registered preface goes, with what follows, to that protocol, which
// takes the connection over. Out of line: the parse's hot path does not carry it.
[[gnu::noinline, gnu::cold]] bool http1_connection::hand_by_preface(std::string_view rest, protocol_env& env) {
    if (_next_seq != 0 || env.protocols == nullptr) {
        return false;
    }
    protocol_upgrade* next = env.protocols->by_preface(rest);
    if (next == nullptr) {
        return false;
    }
    _successor = next->make(_slot, _gen, _peer, rest, env);
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
    tell_refused(head.method, head.target, head.version_minor, 505, ctx.head_request ? 0 : problem_http2_only.size(),
                 env);
    respond(seq, ctx, 505, problem_content_type, problem_http2_only, env);
}

// An Upgrade the server answers itself (RFC 9110 §7.8; h2c, RFC 7540 §3.2): the first
// registered token the request's Upgrade lists names the protocol, which decides from
// the head whether it takes the request (HTTP/2 wants exactly one HTTP2-Settings) and
// answers it. Upgrade tokens nobody registered (websocket) go to the dispatcher.
[[gnu::noinline, gnu::cold]] bool http1_connection::upgrade_by_token(const request_head& head,
                                                                     std::string_view head_bytes, std::string_view body,
                                                                     protocol_env& env) {
    // Only in cleartext (RFC 9113 §3.2: h2c; a TLS connection chose by ALPN), only when
    // nothing is owed before it (the 101 must be the next bytes on the wire).
    if (env.protocols == nullptr || _peer.secure || !_owed.empty() || _next_seq != _next_write || env.draining) {
        return false;
    }
    protocol_upgrade* make = nullptr;
    std::string_view token;
    for (uint16_t i = 0; i < head.num_headers && make == nullptr; ++i) {
        const header_field& f = head.headers[i];
        if (core::iequals(f.name, "upgrade")) {
            make = env.protocols->by_upgrade(f.value, token);
        }
    }
    if (make == nullptr) {
        return false;
    }
    std::unique_ptr<protocol> next = make->make_upgraded(_slot, _gen, _peer, head, head_bytes, body, env);
    if (!next) {
        return false; // the protocol refused the request (a bad HTTP2-Settings): answered as HTTP/1.1
    }
    env.counters.requests.add();
    env.counters.count_status(101);
    ++_next_seq;
    ++_next_write;
    // The 101 first, then what the new protocol queued already (HTTP/2: the server's
    // SETTINGS and stream 1's answer).
    std::string switching = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ";
    switching.append(token).append("\r\n\r\n");
    _out.append(switching);
    _out.splice(next->output());
    next->output().splice(_out);
    _phase = phase::closed;
    _closing = true;
    _deadline = 0;
    _successor = std::move(next);
    return true;
}

} // namespace ringbolt::http
