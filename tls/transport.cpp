// The userspace TLS transport (see transport.hpp).
#include "tls/transport.hpp"

#include "tls/connection_info.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

namespace ringbolt::tls {

namespace {
constexpr size_t record_plain = 16 * 1024; ///< plaintext per SSL_write: one full record
constexpr size_t take_bytes = 64 * 1024;   ///< plaintext taken from the protocol's queue at once
constexpr size_t take_iov = 16;
} // namespace

tls_transport::tls_transport(std::shared_ptr<const context> ctx, core_counters& counters, reporter* rep, uint32_t now_s)
    : _ctx(std::move(ctx)), _counters(counters), _reporter(rep), _info(new http::tls_info()), _info_ref(_info) {
    // Whole seconds: the sweep fires it once the clock has passed it, so the handshake
    // gets at least the whole timeout (core/clock.hpp deadline_passed).
    _deadline = now_s + _ctx->handshake_timeout_s();
    _ssl = SSL_new(_ctx->default_ctx());
    if (_ssl == nullptr) {
        ERR_clear_error();
        return;
    }
    _rbio = BIO_new(BIO_s_mem());
    _wbio = BIO_new(BIO_s_mem());
    if (_rbio == nullptr || _wbio == nullptr) {
        BIO_free(_rbio);
        BIO_free(_wbio);
        SSL_free(_ssl);
        _ssl = nullptr;
        ERR_clear_error();
        return;
    }
    // An empty read BIO says "retry", not end of file.
    BIO_set_mem_eof_return(_rbio, -1);
    SSL_set_bio(_ssl, _rbio, _wbio);
    SSL_set_app_data(_ssl, this);
    SSL_set_accept_state(_ssl);
}

tls_transport::~tls_transport() {
    if (_ssl != nullptr) {
        if (_established && !_failed) {
            // A client that leaves without close_notify (most do) must not make its
            // session unresumable (OpenSSL drops sessions of connections it deems cut).
            SSL_set_shutdown(_ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        }
        SSL_free(_ssl); // frees the BIOs
    }
}

bool tls_transport::has_output() const noexcept {
    return !_wire.empty() || (_established && !_failed && !_in.empty());
}

void tls_transport::fail(reporter::kind k, const char* what, int ssl_error) noexcept {
    _failed = true;
    char detail[256];
    unsigned long e = ERR_peek_last_error();
    if (e != 0) {
        ERR_error_string_n(e, detail, sizeof(detail));
    } else if (ssl_error == SSL_ERROR_SYSCALL) {
        std::snprintf(detail, sizeof(detail), "unexpected end of the TLS stream");
    } else {
        std::snprintf(detail, sizeof(detail), "SSL error %d", ssl_error);
    }
    ERR_clear_error();
    if (_reporter != nullptr) {
        _reporter->report(k, what, detail);
    }
}

void tls_transport::drain_wbio() noexcept {
    size_t n = BIO_ctrl_pending(_wbio);
    if (n == 0) {
        return;
    }
    _wire.write_tail([&](std::string& tail) {
        size_t before = tail.size();
        tail.resize(before + n);
        int got = BIO_read(_wbio, tail.data() + before, static_cast<int>(n));
        tail.resize(before + static_cast<size_t>(std::max(got, 0)));
    });
}

std::string_view tls_transport::on_wire_data(std::string_view bytes) noexcept {
    _plain.clear();
    if (_failed || _ssl == nullptr) {
        return {}; // after a fatal error: read and discard until the close
    }
    if (!bytes.empty()) {
        _got_bytes = true;
        BIO_write(_rbio, bytes.data(), static_cast<int>(bytes.size()));
    }
    ERR_clear_error();
    if (!_established) {
        int r = SSL_do_handshake(_ssl);
        if (r == 1) {
            _established = true;
            _resumed = SSL_session_reused(_ssl) == 1;
            // Before any plaintext reaches the protocol, so before any request refers to it.
            read_connection_info(_ssl, *_ctx, *_info);
            _counters.tls_handshakes.add();
            if (_resumed) {
                _counters.tls_resumed.add();
            }
            if (_sni_unknown) {
                _counters.tls_sni_unknown.add();
            }
        } else {
            int err = SSL_get_error(_ssl, r);
            if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
                _counters.tls_handshake_errors.add();
                fail(reporter::handshake, "handshake failed", err);
            }
        }
    }
    if (_established && !_failed) {
        read_plain();
    }
    drain_wbio(); // handshake messages, session tickets, alerts
    return _plain;
}

void tls_transport::read_plain() noexcept {
    while (true) {
        size_t before = _plain.size();
        _plain.resize(before + record_plain);
        int n = SSL_read(_ssl, _plain.data() + before, static_cast<int>(record_plain));
        if (n > 0) {
            _plain.resize(before + static_cast<size_t>(n));
            continue;
        }
        _plain.resize(before);
        int err = SSL_get_error(_ssl, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            return;
        }
        if (err == SSL_ERROR_ZERO_RETURN) {
            _peer_closed = true; // close_notify
            _counters.tls_close_notify.add();
            return;
        }
        _counters.tls_record_errors.add();
        fail(reporter::record, "bad record", err);
        return;
    }
}

bool tls_transport::write_plain(const char* data, size_t len) noexcept {
    while (len > 0) {
        size_t n = std::min(len, record_plain);
        int r = SSL_write(_ssl, data, static_cast<int>(n));
        if (r <= 0) {
            _counters.tls_record_errors.add();
            fail(reporter::record, "encrypting a response", SSL_get_error(_ssl, r));
            return false;
        }
        data += r;
        len -= static_cast<size_t>(r);
    }
    return true;
}

// Take plaintext from the protocol's queue and encrypt it until wire_budget bytes of
// records wait: a large (or file) response is encrypted as it goes out, not at once.
// Small pieces are gathered into full records.
void tls_transport::encrypt(http::output_queue& plain) noexcept {
    char buf[record_plain];
    while (_wire.bytes() < wire_budget && !_failed) {
        if (_in.empty()) {
            _in.reset();
            if (!plain.take_front(_in, take_iov, take_bytes)) {
                return;
            }
        }
        ERR_clear_error();
        if (_in.is_file()) {
            const http::segment& f = _in.front();
            size_t want = static_cast<size_t>(std::min<uint64_t>(f.length - f.done, sizeof(buf)));
            ssize_t n = ::pread(f.file->fd, buf, want, static_cast<off_t>(f.file_offset + f.done));
            if (n <= 0) {
                _failed = true;
                if (_reporter != nullptr) {
                    _reporter->report(reporter::file, "file response",
                                      n == 0 ? "the file is shorter than its announced length"
                                             : "reading the file failed");
                }
                return;
            }
            if (!write_plain(buf, static_cast<size_t>(n))) {
                return;
            }
            _in.consume(static_cast<uint64_t>(n));
        } else {
            iovec iov[take_iov];
            size_t k = _in.iovecs(iov, take_iov);
            size_t used = 0;
            size_t done = 0;
            for (size_t i = 0; i < k; ++i) {
                const char* p = static_cast<const char*>(iov[i].iov_base);
                size_t len = iov[i].iov_len;
                if (len >= sizeof(buf) - used) {
                    // A large piece: straight from its segment (after what was gathered),
                    // at most a budget's worth per turn.
                    if (used > 0 && !write_plain(buf, used)) {
                        return;
                    }
                    used = 0;
                    size_t part = std::min<size_t>(len, wire_budget);
                    if (!write_plain(p, part)) {
                        return;
                    }
                    done += part;
                    if (part < len) {
                        break;
                    }
                    continue;
                }
                std::memcpy(buf + used, p, len);
                used += len;
                done += len;
            }
            if (used > 0 && !write_plain(buf, used)) {
                return;
            }
            _in.consume(done);
        }
        if (_in.empty()) {
            plain.recycle(_in.take_buffer());
            _in.reset();
        }
        drain_wbio();
    }
}

http::output_queue& tls_transport::wire_output(http::output_queue& plain) noexcept {
    if (_established && !_failed && !_shut) {
        encrypt(plain); // before the handshake is done, plaintext waits in the protocol's queue
    }
    return _wire;
}

bool tls_transport::shut_output() noexcept {
    if (!_established || _failed || _shut || _ssl == nullptr) {
        return false;
    }
    _shut = true;
    ERR_clear_error();
    SSL_shutdown(_ssl); // queues close_notify (the peer's is not waited for)
    ERR_clear_error();
    drain_wbio();
    return !_wire.empty();
}

void tls_transport::on_eof() noexcept {
    if (_peer_closed || _failed || !_got_bytes) {
        return; // a clean end, or a connection that never spoke (a port probe)
    }
    if (!_established) {
        _counters.tls_handshake_errors.add();
        if (_reporter != nullptr) {
            _reporter->report(reporter::truncated, "handshake cut off",
                              "the client closed the connection during the handshake");
        }
    } else if (BIO_ctrl_pending(_rbio) > 0 || SSL_has_pending(_ssl) == 1) {
        _counters.tls_truncated.add();
        if (_reporter != nullptr) {
            _reporter->report(reporter::truncated, "truncated record",
                              "the connection ended in the middle of a TLS record");
        }
    }
}

void tls_transport::on_handshake_timeout() noexcept {
    _counters.tls_handshake_timeouts.add();
    if (_reporter != nullptr) {
        _reporter->report(reporter::timeout, "handshake timeout", "the handshake was not done in time");
    }
}

std::string_view tls_transport::alpn() const noexcept {
    const unsigned char* p = nullptr;
    unsigned int len = 0;
    if (_ssl != nullptr) {
        SSL_get0_alpn_selected(_ssl, &p, &len);
    }
    return p == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(p), len);
}

} // namespace ringbolt::tls
