// The userspace TLS transport (see transport.hpp).
#include "tls/transport.hpp"

#include "tls/connection_info.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

namespace ringbolt::tls {

namespace {
constexpr size_t record_plain = 16 * 1024;        ///< plaintext of a full record (RFC 8446 §5.1)
constexpr size_t gather_bytes = 4 * record_plain; ///< plaintext gathered for one SSL_write
constexpr size_t take_bytes = 64 * 1024;          ///< plaintext taken from the protocol's queue at once
constexpr size_t take_iov = 16;
/// A record's bytes beyond its plaintext, at most: header 5, TLS 1.3 content type 1,
/// AEAD tag 16 (TLS 1.2 GCM: an explicit nonce 8 instead of the type), rounded up.
constexpr size_t record_overhead = 32;
constexpr size_t wire_chunk_min = 4096; ///< a wire buffer for what comes outside an SSL_write

// The write BIO: OpenSSL's records go straight into the transport's wire queue. (A
// memory BIO holds them in a buffer of its own, grown by reallocation, to be copied out
// again: two copies of every response byte and an allocation churn, measured in
// benchmarks/journal/2026-11-25.md.)
long wire_ctrl(BIO*, int cmd, long, void*) {
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; // nothing is buffered; no kTLS, no pending count
}

int wire_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

} // namespace

int tls_transport::on_wire_write(BIO* b, const char* data, int len) noexcept {
    if (len <= 0) {
        return 0;
    }
    auto* t = static_cast<tls_transport*>(BIO_get_data(b));
    t->_wire.append_chunked({data, static_cast<size_t>(len)}, std::max(t->_wire_hint, wire_chunk_min));
    return len;
}

namespace {
BIO_METHOD* wire_method() {
    static BIO_METHOD* m = [] {
        BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringbolt wire queue");
        if (bm != nullptr) {
            BIO_meth_set_write(bm, &tls_transport::on_wire_write);
            BIO_meth_set_ctrl(bm, wire_ctrl);
            BIO_meth_set_create(bm, wire_create);
        }
        return bm;
    }();
    return m;
}
} // namespace

tls_transport::tls_transport(std::shared_ptr<const context> ctx, core::core_counters& counters, reporter* rep,
                             uint32_t now_s)
    : _ctx(std::move(ctx)), _counters(counters), _reporter(rep), _info(new core::tls_info()), _info_ref(_info) {
    // Whole seconds: the sweep fires it once the clock has passed it, so the handshake
    // gets at least the whole timeout (core/clock.hpp deadline_passed).
    _deadline = now_s + _ctx->handshake_timeout_s();
    _ssl = SSL_new(_ctx->default_ctx());
    if (_ssl == nullptr) {
        ERR_clear_error();
        return;
    }
    _rbio = BIO_new(BIO_s_mem());
    BIO_METHOD* wm = wire_method();
    _wbio = wm != nullptr ? BIO_new(wm) : nullptr;
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
    BIO_set_data(_wbio, this);
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

std::string_view tls_transport::on_wire_data(std::string_view bytes) noexcept {
    _plain_len = 0;
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
    // (Handshake messages, session tickets and alerts went into _wire as OpenSSL wrote them.)
    return {_plain.data(), _plain_len};
}

void tls_transport::read_plain() noexcept {
    while (true) {
        if (_plain.size() < _plain_len + record_plain) {
            _plain.resize(_plain_len + record_plain); // grows (zero-filled) once, then reused
        }
        int n = SSL_read(_ssl, _plain.data() + _plain_len, static_cast<int>(record_plain));
        if (n > 0) {
            _plain_len += static_cast<size_t>(n);
            continue;
        }
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
    // The records' size, so the wire queue makes one buffer for them all.
    _wire_hint = len + (len + record_plain - 1) / record_plain * record_overhead;
    while (len > 0) {
        int r = SSL_write(_ssl, data, static_cast<int>(len)); // whole records of 16 KiB, then the rest
        if (r <= 0) {
            _wire_hint = 0;
            _counters.tls_record_errors.add();
            fail(reporter::record, "encrypting a response", SSL_get_error(_ssl, r));
            return false;
        }
        data += r;
        len -= static_cast<size_t>(r);
    }
    _wire_hint = 0;
    return true;
}

// Take plaintext from the protocol's queue and encrypt it until wire_budget bytes of
// records wait: a large (or file) response is encrypted as it goes out, not at once.
// Records are full (16 KiB) wherever the bytes allow, as nginx's ssl_buffer_size 16k
// makes them: small pieces (a response's head, an HTTP/2 frame header) are gathered
// with what follows, file ranges are read straight into the gather buffer, and whole
// records of a large memory piece are encrypted from it without a copy. Only the end of
// what the protocol has queued makes a short record.
void tls_transport::encrypt(core::output_queue& plain) noexcept {
    char buf[gather_bytes];
    size_t used = 0;
    while (!_failed && _wire.bytes() < wire_budget) {
        if (_in.empty()) {
            _in.reset();
            if (!plain.take_front(_in, take_iov, take_bytes)) {
                break;
            }
        }
        ERR_clear_error();
        if (_in.is_file()) {
            const core::segment& f = _in.front();
            size_t want = static_cast<size_t>(std::min<uint64_t>(f.length - f.done, gather_bytes - used));
            ssize_t n = ::pread(f.file->fd, buf + used, want, static_cast<off_t>(f.file_offset + f.done));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                _failed = true;
                if (_reporter != nullptr) {
                    _reporter->report(reporter::file, "file response",
                                      n == 0 ? "the file is shorter than its announced length"
                                             : "reading the file failed");
                }
                return;
            }
            used += static_cast<size_t>(n);
            _in.consume(static_cast<uint64_t>(n));
        } else {
            iovec iov[take_iov];
            size_t k = _in.iovecs(iov, take_iov);
            size_t done = 0;
            for (size_t i = 0; i < k && used < gather_bytes; ++i) {
                const char* p = static_cast<const char*>(iov[i].iov_base);
                size_t len = iov[i].iov_len;
                if (used == 0 && len >= record_plain) {
                    // Whole records straight from the segment; its tail joins what follows.
                    size_t part = std::min(len - len % record_plain, gather_bytes);
                    if (!write_plain(p, part)) {
                        return;
                    }
                    done += part;
                    if (part < len) {
                        break;
                    }
                    continue;
                }
                size_t part = std::min(len, gather_bytes - used);
                std::memcpy(buf + used, p, part);
                used += part;
                done += part;
            }
            _in.consume(done);
        }
        if (used == gather_bytes) {
            if (!write_plain(buf, used)) {
                return;
            }
            used = 0;
        }
        if (_in.empty()) {
            plain.recycle(_in.take_buffer());
            _in.reset();
        }
    }
    if (used > 0) {
        write_plain(buf, used); // the end of what is queued (or of this turn's budget)
    }
}

core::output_queue& tls_transport::wire_output(core::output_queue& plain) noexcept {
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
    SSL_shutdown(_ssl); // queues close_notify in _wire (the peer's is not waited for)
    ERR_clear_error();
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
