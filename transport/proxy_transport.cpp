// The PROXY protocol transport (see proxy_transport.hpp): the header first, then the
// transport behind it.
#include "transport/proxy_transport.hpp"

#include "core/log.hpp"

#include <cstring>

namespace ringbolt::transport {

namespace {

plain_transport& plain() noexcept {
    return plain_transport::instance();
}

// Logged once a process (the counters count every one): a misconfigured balancer or a
// scanner sends the same fault on every connection.
std::atomic<bool> logged_refusal{false};

transport& inner_of(const std::unique_ptr<transport>& p) noexcept {
    return p ? *p : plain();
}

} // namespace

proxy_transport::proxy_transport(std::unique_ptr<transport> inner, const proxy_policy& policy, bool trusted,
                                 core::core_counters& counters, uint32_t now_s) noexcept
    : _inner(std::move(inner)), _policy(policy), _trusted(trusted), _counters(counters),
      _deadline(now_s + policy.timeout_s) {}

std::string_view proxy_transport::on_wire_data(std::string_view bytes) noexcept {
    if (_phase == phase::through) [[likely]] {
        return inner_of(_inner).on_wire_data(bytes);
    }
    if (_phase == phase::refused) {
        return {}; // the connection closes: nothing of it is read as HTTP
    }
    std::string_view all = bytes;
    if (!_held.empty()) {
        _held.append(bytes);
        all = _held;
    }
    proxy_result r = parse_proxy_header(all, _policy.versions, _policy.max_v2, _header);
    if (!_trusted) {
        // Not a balancer: a header from it is refused (a client naming its own address);
        // anything else is the peer's own connection. Its first bytes decide which.
        if (r.status == proxy_status::error) {
            _phase = phase::through;
            _deadline = 0;
            if (!_held.empty()) {
                std::string held = std::move(_held);
                _held.clear();
                return pass_held(std::move(held));
            }
            return inner_of(_inner).on_wire_data(bytes);
        }
        if (r.status == proxy_status::done || all.size() >= proxy_v2_fixed - 4 || all.starts_with("PROXY ")) {
            refuse("a PROXY protocol header from a peer not in --forwarded-allow-ips");
            return {};
        }
        if (_held.empty()) {
            _held.assign(bytes);
        }
        return {};
    }
    switch (r.status) {
    case proxy_status::incomplete:
        if (_held.empty()) {
            _held.assign(bytes);
        }
        return {};
    case proxy_status::error:
        refuse(r.why);
        return {};
    case proxy_status::done:
        break;
    }
    _counters.proxy_headers.add();
    _client_taken = _header.local || _header.family == 0; // LOCAL: the balancer's own (a health check)
    _phase = phase::through;
    _deadline = 0;
    if (!_held.empty()) {
        std::string held = std::move(_held);
        _held.clear();
        held.erase(0, r.consumed);
        return pass_held(std::move(held));
    }
    return inner_of(_inner).on_wire_data(bytes.substr(r.consumed));
}

// Bytes that came with the header's start: the inner transport's now. Its view must stay
// valid until the next call: plain TCP returns the bytes themselves, so they are kept.
std::string_view proxy_transport::pass_held(std::string&& held) noexcept {
    _rest = std::move(held);
    if (_rest.empty()) {
        return {};
    }
    return inner_of(_inner).on_wire_data(_rest);
}

void proxy_transport::refuse(const char* why) noexcept {
    _phase = phase::refused;
    _held.clear();
    _counters.proxy_refused.add();
    if (!logged_refusal.exchange(true, std::memory_order_relaxed)) {
        core::log(
            core::log_level::warning,
            "a connection was closed: %s (the counter proxy_refused counts every such connection; this is said once)",
            why);
    }
}

core::output_queue& proxy_transport::wire_output(core::output_queue& plain_queue) noexcept {
    return inner_of(_inner).wire_output(plain_queue);
}

void proxy_transport::attach_socket(int fd, uring::ktls_calls& calls) noexcept {
    inner_of(_inner).attach_socket(fd, calls);
}

bool proxy_transport::zero_copy_files() const noexcept {
    return inner_of(_inner).zero_copy_files();
}

bool proxy_transport::has_output() const noexcept {
    return inner_of(_inner).has_output();
}

bool proxy_transport::failed() const noexcept {
    return _phase == phase::refused || inner_of(_inner).failed();
}

bool proxy_transport::peer_closed() const noexcept {
    return inner_of(_inner).peer_closed();
}

bool proxy_transport::established() const noexcept {
    return _phase == phase::through && inner_of(_inner).established();
}

bool proxy_transport::shut_output() noexcept {
    return _phase == phase::through && inner_of(_inner).shut_output();
}

void proxy_transport::on_eof() noexcept {
    if (_phase == phase::header && _trusted) {
        if (!_held.empty()) { // (one that sent nothing at all is a port check: no fault)
            refuse("a connection ended before its PROXY protocol header");
        }
        return;
    }
    inner_of(_inner).on_eof();
}

uint32_t proxy_transport::handshake_deadline() const noexcept {
    return _phase == phase::header ? _deadline : inner_of(_inner).handshake_deadline();
}

void proxy_transport::on_handshake_timeout() noexcept {
    if (_phase == phase::header) {
        refuse("no whole PROXY protocol header within the header timeout");
        return;
    }
    inner_of(_inner).on_handshake_timeout();
}

std::string_view proxy_transport::alpn() const noexcept {
    return inner_of(_inner).alpn();
}

const core::tls_info* proxy_transport::tls_info() const noexcept {
    return inner_of(_inner).tls_info();
}

bool proxy_transport::secure() const noexcept {
    return inner_of(_inner).secure() || (_phase == phase::through && _header.ssl);
}

bool proxy_transport::take_proxied_client(proxied_client& out) noexcept {
    if (_client_taken || _phase != phase::through) {
        return false;
    }
    _client_taken = true;
    out.family = _header.family;
    std::memcpy(out.addr, _header.source, sizeof(out.addr));
    out.port = _header.source_port;
    out.tls = _header.ssl;
    // What else the header said, for the application: shared by the connection's requests.
    auto* info = new core::proxy_info();
    info->version = _header.version;
    info->destination.family = _header.family;
    std::memcpy(info->destination.addr, _header.destination, sizeof(info->destination.addr));
    info->destination.port = _header.destination_port;
    info->alpn = _header.alpn;
    info->authority = _header.authority;
    info->unique_id = _header.unique_id;
    info->ssl = _header.ssl;
    info->ssl_verified = _header.ssl_verified;
    info->ssl_version = _header.ssl_version;
    info->ssl_cipher = _header.ssl_cipher;
    info->ssl_cn = _header.ssl_cn;
    _info = core::proxy_ref(info);
    out.info = info;
    return true;
}

} // namespace ringbolt::transport
