// The userspace TLS transport (see transport.hpp).
#include "tls/transport.hpp"

#include "tls/connection_info.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <linux/tls.h>
#include <openssl/crypto.h>
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

// OpenSSL's kTLS controls of a write BIO, as its socket BIO answers them (bio.h lists the
// three that are not public as "internal BIO" numbers).
constexpr int ctrl_set_ktls = 72;          ///< BIO_CTRL_SET_KTLS: num = sending, ptr = the keys
constexpr int ctrl_set_ktls_ctrl_msg = 74; ///< the next write is one record of type num
constexpr int ctrl_clear_ktls_ctrl_msg = 75;
constexpr uint8_t record_application_data = 23;

int wire_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

} // namespace

// The write BIO: OpenSSL's records go straight into the transport's wire queue. (A
// memory BIO holds them in a buffer of its own, grown by reallocation, to be copied out
// again: two copies of every response byte and an allocation churn, measured in
// benchmarks/journal/2026-11-25.md.) After kTLS's switch OpenSSL writes a record's body
// (the kernel adds head and tag), kept with its type for wire_output.
int tls_transport::on_wire_write(BIO* b, const char* data, int len) noexcept {
    if (len <= 0) {
        return 0;
    }
    auto* t = static_cast<tls_transport*>(BIO_get_data(b));
    if (t->_ktls != ktls_tx::off) [[unlikely]] {
        uint8_t type = t->_record_type != 0 ? t->_record_type : record_application_data;
        t->_record_type = 0; // one write is one record (as OpenSSL's socket BIO)
        t->_kernel_records.push_back({type, std::string(data, static_cast<size_t>(len))});
        return len;
    }
    t->_wire.append_chunked({data, static_cast<size_t>(len)}, std::max(t->_wire_hint, wire_chunk_min));
    return len;
}

long tls_transport::on_wire_ctrl(BIO* b, int cmd, long num, void* ptr) noexcept {
    auto* t = static_cast<tls_transport*>(BIO_get_data(b));
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; // nothing is buffered (kTLS's switch waits in wire_output for what is queued)
    case ctrl_set_ktls:
        return t->ktls_start(num, ptr);
    case BIO_CTRL_GET_KTLS_SEND:
        return t->_ktls != ktls_tx::off ? 1 : 0;
    case ctrl_set_ktls_ctrl_msg:
        t->_record_type = static_cast<uint8_t>(num);
        return 0;
    case ctrl_clear_ktls_ctrl_msg:
        t->_record_type = 0;
        return 0;
    default:
        return 0; // no pending count; receiving stays OpenSSL's (BIO_CTRL_GET_KTLS_RECV: 0)
    }
}

// OpenSSL hands over the sending keys (the handshake's are done, the cipher is one the
// kernel takes). The kernel's TLS layer is attached to the socket now (it changes nothing
// until it has keys: a failure here leaves the sending to OpenSSL); the keys go to it in
// wire_output, once the records made before the switch have gone out.
namespace {
// OpenSSL's keys for the kernel (a struct tls12_crypto_info_*) into `out`: their size, or 0
// for a cipher the kernel does not take (probed).
uint8_t copy_kernel_keys(const void* crypto_info, unsigned char (&out)[64]) noexcept {
    if (crypto_info == nullptr) {
        return 0;
    }
    tls_crypto_info head{};
    std::memcpy(&head, crypto_info, sizeof(head));
    size_t len = ktls_keys_size(head.cipher_type);
    if (len == 0 || len > sizeof(out)) {
        return 0;
    }
    std::memcpy(out, crypto_info, len);
    return static_cast<uint8_t>(len);
}
} // namespace

long tls_transport::ktls_start(long is_tx, const void* crypto_info) noexcept {
    if (is_tx == 0 || _fd < 0 || _io == nullptr || _ktls != ktls_tx::off) {
        return 0;
    }
    unsigned char keys[64];
    uint8_t len = copy_kernel_keys(crypto_info, keys);
    if (len == 0 || _io->attach_tls(_fd) != 0) {
        OPENSSL_cleanse(keys, sizeof(keys));
        return 0;
    }
    std::memcpy(_ktls_keys, keys, len);
    OPENSSL_cleanse(keys, sizeof(keys));
    _ktls_keys_len = len;
    _ktls = ktls_tx::pending;
    return 1;
}

// While a handshake runs with kTLS on, the read BIO is a filter over the memory BIO that
// holds the ciphertext: OpenSSL reads through it, and it answers OpenSSL's kTLS control,
// which hands it TLS 1.2's receiving keys (a memory BIO would only decline them). They are
// kept for the switch to the kernel's receiving (start_kernel_receive), and OpenSSL is told
// no: it goes on decrypting until then. The handshake's end removes the filter
// (drop_read_filter): it cost each request two BIO calls and a control a record read,
// 846 instructions a request over TLS 1.3 (callgrind, benchmarks/journal/2026-11-29.md).
int tls_transport::on_read(BIO* b, char* out, int len) noexcept {
    int n = BIO_read(BIO_next(b), out, len);
    BIO_clear_retry_flags(b);
    BIO_copy_next_retry(b);
    return n;
}

long tls_transport::on_read_ctrl(BIO* b, int cmd, long num, void* ptr) noexcept {
    if (cmd == ctrl_set_ktls) {
        if (num == 0) {
            static_cast<tls_transport*>(BIO_get_data(b))->keep_receiving_keys(ptr);
        }
        return 0;
    }
    return BIO_ctrl(BIO_next(b), cmd, num, ptr);
}

// TLS 1.2's receiving keys, from the client's ChangeCipherSpec on (its Finished is their
// first record): the records OpenSSL reads from here are counted, as TLS 1.3's are from
// the handshake's end.
void tls_transport::keep_receiving_keys(const void* crypto_info) noexcept {
    if (!_ctx->ktls() || _fd < 0 || _io == nullptr || SSL_version(_ssl) == TLS1_3_VERSION) {
        return;
    }
    _rx_keys_len = copy_kernel_keys(crypto_info, _rx_keys);
    if (_rx_keys_len != 0) {
        count_records();
    }
}

// From here OpenSSL's message callback counts the records it reads (on_message).
void tls_transport::count_records() noexcept {
    _krx = ktls_rx::counting;
    _rx_records = 0;
    SSL_set_msg_callback_arg(_ssl, this);
    SSL_set_msg_callback(_ssl, &tls_transport::on_message);
}

// The memory BIO becomes the read BIO again: the filter, taken off the chain, is freed by
// SSL_set0_rbio, and the chain's hold on the memory BIO passes to the SSL.
void tls_transport::drop_read_filter() noexcept {
    BIO* top = SSL_get_rbio(_ssl);
    if (top != _rbio) {
        BIO_pop(top);
        SSL_set0_rbio(_ssl, _rbio);
    }
}

namespace {
BIO_METHOD* read_method() {
    static BIO_METHOD* m = [] {
        BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "ringbolt ciphertext in");
        if (bm != nullptr) {
            BIO_meth_set_read(bm, &tls_transport::on_read);
            BIO_meth_set_ctrl(bm, &tls_transport::on_read_ctrl);
            BIO_meth_set_create(bm, wire_create);
        }
        return bm;
    }();
    return m;
}

BIO_METHOD* wire_method() {
    static BIO_METHOD* m = [] {
        BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringbolt wire queue");
        if (bm != nullptr) {
            BIO_meth_set_write(bm, &tls_transport::on_wire_write);
            BIO_meth_set_ctrl(bm, &tls_transport::on_wire_ctrl);
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
    BIO_METHOD* rm = _ctx->ktls() ? read_method() : nullptr;
    BIO* filter = rm != nullptr ? BIO_new(rm) : nullptr;
    if (_rbio == nullptr || _wbio == nullptr || (_ctx->ktls() && filter == nullptr)) {
        BIO_free(_rbio);
        BIO_free(_wbio);
        BIO_free(filter);
        SSL_free(_ssl);
        _ssl = nullptr;
        ERR_clear_error();
        return;
    }
    // An empty read BIO says "retry", not end of file.
    BIO_set_mem_eof_return(_rbio, -1);
    BIO_set_data(_wbio, this);
    if (filter != nullptr) {
        BIO_set_data(filter, this);
        SSL_set_bio(_ssl, BIO_push(filter, _rbio), _wbio);
    } else {
        SSL_set_bio(_ssl, _rbio, _wbio);
    }
    SSL_set_app_data(_ssl, this);
    SSL_set_accept_state(_ssl);
    if (!_ctx->ktls()) {
        SSL_clear_options(_ssl, SSL_OP_ENABLE_KTLS);
    }
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
    OPENSSL_cleanse(_ktls_keys, sizeof(_ktls_keys));
    OPENSSL_cleanse(_rx_keys, sizeof(_rx_keys));
    _server_secret.wipe();
    _client_secret.wipe();
}

// The kernel's keys for one direction from record `seq` on: TLS 1.3's for a secret of
// this connection's; TLS 1.2's receiving keys as OpenSSL handed them over, `seq` records
// later. 0, or an errno (EINVAL: no keys the kernel takes for this cipher).
int tls_transport::give_kernel_keys(uring::tls_direction dir, const traffic_secret& secret,
                                    uint64_t seq) const noexcept {
    unsigned char keys[64];
    size_t n = 0;
    if (SSL_version(_ssl) == TLS1_3_VERSION) {
        n = tls13_kernel_keys(SSL_get_current_cipher(_ssl), secret, seq, keys);
    } else if (dir == uring::tls_direction::receive && _rx_keys_len != 0) {
        std::memcpy(keys, _rx_keys, _rx_keys_len);
        n = advance_record_sequence(keys, _rx_keys_len, seq) ? _rx_keys_len : 0;
    }
    tls_crypto_info head{};
    if (n != 0) {
        std::memcpy(&head, keys, sizeof(head));
    }
    int err = EINVAL;
    if (n != 0 && ktls_keys_size(head.cipher_type) == n) {
        err = -_io->set_tls_keys(_fd, dir, {keys, n});
    }
    OPENSSL_cleanse(keys, sizeof(keys));
    return err;
}

void tls_transport::on_keylog(const SSL* ssl, const char* line) noexcept {
    auto* t = static_cast<tls_transport*>(SSL_get_app_data(ssl));
    if (t != nullptr && !read_keylog_secret(line, "SERVER_TRAFFIC_SECRET_0", t->_server_secret)) {
        read_keylog_secret(line, "CLIENT_TRAFFIC_SECRET_0", t->_client_secret);
    }
}

void tls_transport::on_message(int write_p, int, int content_type, const void*, size_t, SSL*, void* arg) noexcept {
    auto* t = static_cast<tls_transport*>(arg);
    if (write_p != 0 || t->_krx != ktls_rx::counting) {
        return;
    }
    if (content_type == SSL3_RT_HEADER) {
        ++t->_rx_records;
    } else if (content_type == SSL3_RT_HANDSHAKE && t->_established) {
        // After the handshake (TLS 1.2's Finished comes under the keys counted): a
        // KeyUpdate (or worse) read in user space: its keys stay OpenSSL's.
        t->_krx = ktls_rx::off;
    }
}

// kTLS's receiving: TLS 1.2's, and TLS 1.3's where the kernel also takes a KeyUpdate's
// new keys (a client may change its keys at any time, and a kernel that cannot follow
// would have to end the connection). OpenSSL 3.0 hands the kernel no receiving keys for
// TLS 1.3, so they come from the key log's CLIENT_TRAFFIC_SECRET_0 (tls/ktls_keys.hpp);
// TLS 1.2's it hands to the read BIO (keep_receiving_keys), which keeps them. The kernel
// needs the sequence number of the next record: OpenSSL's message callback counts the
// records it reads from the keys' first on. The switch needs a moment when everything
// received so far was whole records, all read, and no receive is in flight, which the
// reactor arranges (wants_kernel_receive, then start_kernel_receive).
void tls_transport::start_counting_records() noexcept {
    if (SSL_version(_ssl) != TLS1_3_VERSION) {
        if (_krx == ktls_rx::counting && _ktls == ktls_tx::off) {
            stop_counting_records(); // the kernel does not send for it: it does not receive either
        }
        return;
    }
    if (_ctx->ktls() && _ktls != ktls_tx::off && _client_secret.len != 0 && ktls_takes_new_keys()) {
        count_records();
    } else {
        _client_secret.wipe();
    }
}

// Receiving stays OpenSSL's: the records are no longer counted, the keys are wiped.
void tls_transport::stop_counting_records() noexcept {
    _krx = ktls_rx::off;
    SSL_set_msg_callback(_ssl, nullptr);
    _client_secret.wipe();
    OPENSSL_cleanse(_rx_keys, sizeof(_rx_keys));
    _rx_keys_len = 0;
}

// (TLS 1.2 counts from the client's ChangeCipherSpec: its Finished, in the handshake, must
// be OpenSSL's to read.)
bool tls_transport::receive_switch_possible() const noexcept {
    return _krx == ktls_rx::counting && _established && _ktls != ktls_tx::off && !_failed && !_shut && !_peer_closed &&
           BIO_ctrl_pending(_rbio) == 0 && SSL_has_pending(_ssl) == 0;
}

bool tls_transport::wants_kernel_receive() noexcept {
    constexpr uint8_t tries = 4;
    if (!receive_switch_possible()) {
        return false;
    }
    if (_rx_tries == tries) {
        // A client that never paused on a record's end when asked: its receiving stays
        // OpenSSL's.
        stop_counting_records();
        return false;
    }
    ++_rx_tries;
    return true;
}

void tls_transport::start_kernel_receive() noexcept {
    if (!receive_switch_possible()) {
        return;
    }
    int err = give_kernel_keys(uring::tls_direction::receive, _client_secret, _rx_records);
    if (err != 0) {
        stop_counting_records(); // OpenSSL goes on receiving
        return;
    }
    SSL_set_msg_callback(_ssl, nullptr);
    OPENSSL_cleanse(_rx_keys, sizeof(_rx_keys)); // TLS 1.2's: the kernel has them (TLS 1.3 keeps its secret)
    _rx_keys_len = 0;
    _krx = ktls_rx::on;
    _counters.tls_ktls_rx.add();
}

// After the switch, a record that is not application data: the kernel hands it over
// only with its type (the io layer's recv_tls_record), and until then every receive
// fails with EIO.
bool tls_transport::read_kernel_record(std::string_view& data) noexcept {
    data = {};
    if (_krx != ktls_rx::on || _failed) {
        return false;
    }
    if (_plain.size() < record_plain + 256) {
        _plain.resize(record_plain + 256);
    }
    uint8_t type = record_application_data;
    long n = _io->recv_tls_record(_fd, {_plain.data(), _plain.size()}, type);
    if (n == -EAGAIN || n == -EWOULDBLOCK) {
        return true;
    }
    if (n < 0) {
        _failed = true;
        _counters.tls_record_errors.add();
        if (_reporter != nullptr) {
            _reporter->report(reporter::record, "kTLS: a received record", std::strerror(static_cast<int>(-n)));
        }
        return false;
    }
    const auto* body = reinterpret_cast<const unsigned char*>(_plain.data());
    size_t len = static_cast<size_t>(n);
    if (type == record_application_data) {
        data = {_plain.data(), len}; // counted as the protocol's input (the reactor's on_recv)
        return true;
    }
    _counters.bytes_in.add(len);
    if (type == SSL3_RT_ALERT && len == 2 && body[1] == SSL_AD_CLOSE_NOTIFY) {
        _peer_closed = true;
        _counters.tls_close_notify.add();
        return true;
    }
    const char* why = "kTLS: the client sent an alert or a message no client sends here";
    if (type == SSL3_RT_HANDSHAKE && kernel_follows_client_update(body, len, why)) {
        return true;
    }
    if (type == SSL3_RT_ALERT && len == 2 && body[0] == SSL3_AL_WARNING && SSL_version(_ssl) != TLS1_3_VERSION &&
        ++_records_without_data <= records_without_data_max) {
        return true; // TLS 1.2's warnings are read and let go, as OpenSSL does
    }
    _failed = true; // the connection ends
    _counters.tls_record_errors.add();
    if (_reporter != nullptr) {
        char what[64];
        std::snprintf(what, sizeof(what), "record type %u, %zu bytes, first %u", type, len, len > 0 ? body[0] : 0);
        _reporter->report(reporter::record, why, what);
    }
    return false;
}

// After the switch, a record the kernel could not decrypt (a corrupt or forged record):
// as OpenSSL in user space does, a bad_record_mac alert (RFC 8446 §6.2, RFC 5246 §7.2.2),
// sent by the kernel, then the close.
bool tls_transport::on_bad_kernel_record() noexcept {
    if (_krx != ktls_rx::on) {
        return false;
    }
    if (!_failed) {
        _failed = true;
        _shut = true; // an alert that does not fit the socket is left out, as a close_notify is
        _counters.tls_record_errors.add();
        if (_reporter != nullptr) {
            _reporter->report(reporter::record, "kTLS: a received record", "it does not decrypt (bad_record_mac)");
        }
        // The kernel left its EBADMSG pending on the socket (sk_err), which would fail the
        // alert's send too: taking it (SO_ERROR) clears it.
        (void)_io->take_socket_error(_fd);
        const char alert[2] = {SSL3_AL_FATAL, SSL3_AD_BAD_RECORD_MAC};
        _kernel_records.push_back({SSL3_RT_ALERT, std::string(alert, sizeof(alert))});
    }
    return true;
}

// The client's KeyUpdate (RFC 8446 §4.6.3): the kernel stopped decrypting at it and
// waits for the client's next keys; if the client asked, the server's change too.
bool tls_transport::kernel_follows_client_update(const unsigned char* msg, size_t len, const char*& why) noexcept {
    if (SSL_version(_ssl) != TLS1_3_VERSION || len != 5 || msg[0] != SSL3_MT_KEY_UPDATE || msg[1] != 0 || msg[2] != 0 ||
        msg[3] != 1 || msg[4] > 1) {
        return false; // (TLS 1.2: a renegotiation, which kTLS cannot follow)
    }
    if (++_records_without_data > records_without_data_max) {
        why = "kTLS: more than 32 key updates in a row without data";
        return false;
    }
    why = "kTLS: the client's new keys";
    if (!tls13_next_secret(SSL_get_current_cipher(_ssl), _client_secret) ||
        give_kernel_keys(uring::tls_direction::receive, _client_secret, 0) != 0) {
        return false; // (why: the kernel refused them)
    }
    _counters.tls_ktls_rx_key_updates.add();
    if (msg[4] == SSL_KEY_UPDATE_REQUESTED && !answer_key_update()) {
        refuse_key_update();
    }
    return true;
}

bool tls_transport::has_output() const noexcept {
    return !_wire.empty() || !_kernel_records.empty() ||
           (_ktls == ktls_tx::off && _established && !_failed && !_in.empty());
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
    if (_krx == ktls_rx::on) {
        _got_bytes = true;
        _records_without_data = 0;
        return bytes; // the kernel decrypted them
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
            drop_read_filter();
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
            start_counting_records();
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
        if (_ktls != ktls_tx::off && SSL_get_key_update_type(_ssl) != SSL_KEY_UPDATE_NONE) [[unlikely]] {
            if (!answer_key_update()) {
                refuse_key_update();
            }
        }
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

// The client asked for a KeyUpdate of the server's sending keys (TLS 1.3), which are the
// kernel's. OpenSSL writes the KeyUpdate (a record for the kernel, under the keys the
// client still reads with) and changes keys of its own that no longer encrypt anything;
// the kernel gets the next generation's once that record is sent (send_kernel_records).
// Only where the kernel takes new keys (its probe) and the key log gave the secret.
bool tls_transport::answer_key_update() noexcept {
    if (_ktls != ktls_tx::on || _server_secret.len == 0 || !ktls_takes_new_keys()) {
        return false;
    }
    ERR_clear_error();
    size_t before = _kernel_records.size();
    if (SSL_key_update(_ssl, SSL_KEY_UPDATE_NOT_REQUESTED) != 1 || SSL_do_handshake(_ssl) != 1 ||
        _kernel_records.size() != before + 1 || _kernel_records.back().body.empty() ||
        static_cast<uint8_t>(_kernel_records.back().body[0]) != SSL3_MT_KEY_UPDATE) {
        ERR_clear_error();
        return false; // refuse_key_update ends the connection
    }
    _kernel_records.back().new_keys_after = true;
    return true;
}

// The next generation of the server's keys to the kernel, right after our KeyUpdate went
// out under the old ones (RFC 8446 §4.6.3), before any record of the protocol's.
bool tls_transport::kernel_takes_new_keys() noexcept {
    int err = tls13_next_secret(SSL_get_current_cipher(_ssl), _server_secret)
                  ? give_kernel_keys(uring::tls_direction::send, _server_secret, 0)
                  : EINVAL;
    if (err == 0) {
        _counters.tls_ktls_key_updates.add();
        return true;
    }
    _failed = true; // the client reads with the new keys now: nothing more can be sent
    _counters.tls_record_errors.add();
    if (_reporter != nullptr) {
        _reporter->report(reporter::record, "kTLS: the keys of a key update", std::strerror(err));
    }
    return false;
}

// The client asked for a KeyUpdate of the server's sending keys (TLS 1.3), and the kernel
// that has them takes no new ones (or the key log gave no secret), so the connection
// ends: a close_notify under the keys the client still reads with, then the close. The
// alternative, sending on under the old keys, breaks RFC 8446 §4.6.3 without the client
// knowing. --no-ssl-ktls serves such clients.
void tls_transport::refuse_key_update() noexcept {
    _counters.tls_record_errors.add();
    if (_reporter != nullptr) {
        _reporter->report(reporter::record, "key update",
                          "the client asked for new server keys, which this kernel's TLS cannot take (--no-ssl-ktls "
                          "serves it)");
    }
    ERR_clear_error();
    SSL_shutdown(_ssl); // close_notify: a record for the kernel
    ERR_clear_error();
    _shut = true;
    _failed = true;
}

// After kTLS's switch: what OpenSSL made before it first (the handshake's records, as
// ciphertext); then the keys to the kernel; then OpenSSL's own later records, each with
// its type; then the protocol's plaintext itself. Nothing of the connection's is in
// flight here (transport.hpp: wire_output), so these writes keep their order.
core::output_queue& tls_transport::kernel_output(core::output_queue& plain) noexcept {
    if (!_wire.empty()) {
        return _wire;
    }
    if (!kernel_takes_over() || (!_kernel_records.empty() && !send_kernel_records())) {
        return _wire; // failed: the reactor closes
    }
    if (!_established || _failed || _shut) {
        return _wire;
    }
    return plain;
}

bool tls_transport::kernel_takes_over() noexcept {
    if (_ktls != ktls_tx::pending) {
        return true;
    }
    int err = -_io->set_tls_keys(_fd, uring::tls_direction::send, {_ktls_keys, _ktls_keys_len});
    OPENSSL_cleanse(_ktls_keys, sizeof(_ktls_keys));
    if (err != 0) {
        // OpenSSL writes only plaintext now: the connection cannot go on.
        _failed = true;
        _kernel_records.clear();
        _counters.tls_record_errors.add();
        if (_reporter != nullptr) {
            _reporter->report(reporter::record, "kTLS", std::strerror(err));
        }
        return false;
    }
    _ktls = ktls_tx::on;
    _counters.tls_ktls_tx.add();
    return true;
}

// OpenSSL's own records after the switch (session tickets, TLS 1.2's Finished, alerts,
// close_notify): each one sent with its record type (the io layer's send_tls_record),
// which the kernel sends whole or not at all (EAGAIN). They are few and small, and come
// when the socket has room (after the handshake, or when the connection ends), so one
// that does not fit ends the connection: except close_notify, which is then left out.
bool tls_transport::send_kernel_records() noexcept {
    for (const kernel_record& r : _kernel_records) {
        long n = _io->send_tls_record(_fd, r.type, r.body);
        if (n != static_cast<long>(r.body.size())) {
            int err = n < 0 ? static_cast<int>(-n) : EMSGSIZE;
            _kernel_records.clear();
            if (_shut) {
                return true; // the close_notify of a connection that ends anyway
            }
            _failed = true;
            _counters.tls_record_errors.add();
            if (_reporter != nullptr) {
                _reporter->report(reporter::record, "kTLS: a record of the server's own", std::strerror(err));
            }
            return false;
        }
        _counters.bytes_out.add(static_cast<uint64_t>(n));
        if (r.new_keys_after && !kernel_takes_new_keys()) {
            _kernel_records.clear();
            return false;
        }
    }
    _kernel_records.clear();
    return true;
}

core::output_queue& tls_transport::wire_output(core::output_queue& plain) noexcept {
    if (_ktls != ktls_tx::off) {
        return kernel_output(plain);
    }
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
    if (_ktls != ktls_tx::off) {
        // The reactor asks once everything is sent, so nothing is in flight: the kernel's
        // close_notify goes now (or, when the socket is full, not at all), then the close.
        if (_wire.empty() && kernel_takes_over()) {
            send_kernel_records();
        }
        _kernel_records.clear();
        return false;
    }
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
