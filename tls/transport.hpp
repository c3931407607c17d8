// A connection's TLS in user space: OpenSSL over two BIOs, driven by the reactor.
// Ciphertext from the ring goes into the read BIO (memory); the handshake and SSL_read
// turn it into plaintext for the protocol. The protocol's plaintext queue is encrypted a
// bounded amount at a time into full 16 KiB records where the bytes allow (pieces of
// several segments are gathered; file ranges are read straight into the gather buffer:
// no sendfile, unless kTLS below), and the write BIO puts OpenSSL's records straight into the transport's
// own queue, which the reactor sends like any output. OpenSSL never touches the socket.
//
// kTLS (where the kernel offers it and --ssl-ktls is on): OpenSSL's own kTLS
// (SSL_OP_ENABLE_KTLS) hands the write BIO the sending keys once the handshake's are done,
// if the cipher allows (AES-GCM, ChaCha20-Poly1305; TLS 1.2 and 1.3). The BIO attaches the
// kernel's TLS layer to the socket at once and gives it the keys (TLS_TX) once the
// records made before the switch have gone out (each socket call through the io layer's
// uring::ktls_calls: the connection's backend, which attach_socket hands over); from
// then on the reactor sends the protocol's plaintext queue itself, file ranges with
// sendfile(), and the kernel makes the records. OpenSSL's own later records (session
// tickets, TLS 1.2's Finished, alerts, close_notify) go to the socket from wire_output
// with their record type. A client that
// asks the server to update its keys (TLS 1.3) gets OpenSSL's KeyUpdate, sent under the
// kernel's keys, and then the kernel gets the next ones (derived from the key log's
// secret, as OpenSSL 3.0 does not hand them over), where the kernel takes new keys (its
// probe); where it does not, the connection ends. Receiving goes to the kernel too, once
// the reactor finds a moment between records (start_kernel_receive): TLS 1.2's keys as
// OpenSSL hands them to the read BIO, TLS 1.3's derived from the key log (only where the
// kernel follows the client's KeyUpdates).
#pragma once

#include "core/output_queue.hpp"
#include "tls/context.hpp"
#include "tls/ktls_keys.hpp"
#include "transport/transport.hpp"

#include <memory>
#include <string>
#include <vector>

using BIO = struct bio_st;

namespace ringbolt::tls {

class tls_transport final : public transport::transport {
  public:
    /// Encrypted records held before the transport stops taking plaintext.
    static constexpr uint64_t wire_budget = 256 * 1024;

    tls_transport(std::shared_ptr<const context> ctx, core::core_counters& counters, reporter* rep, uint32_t now_s);
    ~tls_transport() override;
    tls_transport(const tls_transport&) = delete;
    tls_transport& operator=(const tls_transport&) = delete;
    /// False when OpenSSL could not allocate the connection (the reactor closes it).
    bool ok() const noexcept { return _ssl != nullptr; }

    std::string_view on_wire_data(std::string_view bytes) noexcept override;
    core::output_queue& wire_output(core::output_queue& plain) noexcept override;
    bool zero_copy_files() const noexcept override { return _ktls == ktls_tx::on; }
    bool has_output() const noexcept override;
    bool failed() const noexcept override { return _failed; }
    bool peer_closed() const noexcept override { return _peer_closed; }
    bool established() const noexcept override { return _established; }
    bool shut_output() noexcept override;
    void on_eof() noexcept override;
    uint32_t handshake_deadline() const noexcept override { return _established ? 0 : _deadline; }
    void on_handshake_timeout() noexcept override;

    /// The protocol ALPN chose ("" when the client offered none we speak).
    std::string_view alpn() const noexcept override;
    bool resumed() const noexcept { return _resumed; }
    /// The SNI name asked for served by the default certificate (no name matched).
    bool sni_unknown() const noexcept { return _sni_unknown; }
    /// Called by the SNI callback.
    void set_sni_unknown() noexcept { _sni_unknown = true; }
    const context& ctx() const noexcept { return *_ctx; }
    const core::tls_info* tls_info() const noexcept override { return _info; }
    bool secure() const noexcept override { return true; }
    void attach_socket(int fd, uring::ktls_calls& calls) noexcept override {
        _fd = fd;
        _io = &calls;
    }
    bool wants_kernel_receive() noexcept override;
    void start_kernel_receive() noexcept override;
    bool read_kernel_record(std::string_view& data) noexcept override;
    bool on_bad_kernel_record() noexcept override;
    /// The kernel decrypts what this connection receives (kTLS's TLS_RX).
    bool kernel_receives() const noexcept { return _krx == ktls_rx::on; }
    /// The kernel makes this connection's records (kTLS's keys are in the socket).
    bool kernel_sends() const noexcept { return _ktls == ktls_tx::on; }
    /// The write BIO's callback: OpenSSL's records into the wire queue.
    static int on_wire_write(BIO* b, const char* data, int len) noexcept;
    /// The write BIO's controls (flush, and OpenSSL's kTLS ones).
    static long on_wire_ctrl(BIO* b, int cmd, long num, void* ptr) noexcept;
    /// The read BIO during a handshake with kTLS on (a filter over the memory BIO): reads
    /// through, and keeps TLS 1.2's receiving keys when OpenSSL hands them over.
    static int on_read(BIO* b, char* out, int len) noexcept;
    static long on_read_ctrl(BIO* b, int cmd, long num, void* ptr) noexcept;
    /// OpenSSL's key log callback (set where kTLS may take the sending side): the
    /// server's first application traffic secret, for KeyUpdates.
    static void on_keylog(const SSL* ssl, const char* line) noexcept;
    /// OpenSSL's message callback, set from the handshake's end until the receiving keys
    /// go to the kernel: counts the records read under the client's first keys.
    static void on_message(int write_p, int version, int content_type, const void* buf, size_t len, SSL* ssl,
                           void* arg) noexcept;

  private:
    /// Where the sending keys are: OpenSSL's (off); given to the BIO, waiting for the
    /// records made before the switch to go out (pending); the kernel's (on).
    enum class ktls_tx : uint8_t { off, pending, on };
    /// Receiving: OpenSSL's for good (off); OpenSSL's, the records read under the
    /// client's first keys counted, until the reactor lets the switch happen (counting);
    /// the kernel's (on).
    enum class ktls_rx : uint8_t { off, counting, on };
    /// A record OpenSSL wrote after the switch, sent by wire_output with its type.
    struct kernel_record {
        uint8_t type;
        std::string body;
        bool new_keys_after = false; ///< our KeyUpdate: the kernel's next keys once it is sent
    };
    /// Records other than data a client sends in a row under the kernel's receiving:
    /// KeyUpdates (each a key derivation and a system call, two if answered; 32 as
    /// BoringSSL allows its peers) and TLS 1.2's warning alerts.
    static constexpr uint8_t records_without_data_max = 32;
    long ktls_start(long is_tx, const void* crypto_info) noexcept;
    void keep_receiving_keys(const void* crypto_info) noexcept;
    void count_records() noexcept;
    void drop_read_filter() noexcept;
    void stop_counting_records() noexcept;
    core::output_queue& kernel_output(core::output_queue& plain) noexcept;
    bool kernel_takes_over() noexcept;
    bool send_kernel_records() noexcept;
    void refuse_key_update() noexcept;
    bool answer_key_update() noexcept;
    bool kernel_takes_new_keys() noexcept;
    bool receive_switch_possible() const noexcept;
    int give_kernel_keys(uring::tls_direction dir, const traffic_secret& secret, uint64_t seq) const noexcept;
    bool kernel_follows_client_update(const unsigned char* msg, size_t len, const char*& why) noexcept;
    void start_counting_records() noexcept;
    void fail(reporter::kind k, const char* what, int ssl_error) noexcept;
    void read_plain() noexcept;
    void encrypt(core::output_queue& plain) noexcept;
    bool write_plain(const char* data, size_t len) noexcept;

    std::shared_ptr<const context> _ctx; ///< the SSL_CTXs outlive the SSL (a reload builds new ones)
    core::core_counters& _counters;
    reporter* _reporter;
    SSL* _ssl = nullptr;
    BIO* _rbio = nullptr; ///< ciphertext in: the memory BIO (under the handshake's read filter; owned by _ssl)
    BIO* _wbio = nullptr; ///< ciphertext out, into _wire (owned by _ssl)
    /// Decrypted bytes of the last on_wire_data: the first _plain_len bytes. The buffer
    /// keeps its size (SSL_read writes into it), so it is not zero-filled per read.
    std::string _plain;
    size_t _plain_len = 0;
    /// Ciphertext bytes the SSL_write under way makes, about (the wire queue's next
    /// buffer is made that large: one allocation, never grown); 0 outside one.
    size_t _wire_hint = 0;
    /// What the application sees of the connection, filled when the handshake completes;
    /// requests keep it alive after the connection (`_info_ref`: the transport's reference).
    core::tls_info* _info;
    core::tls_ref _info_ref;
    core::output_queue _wire;
    core::send_batch _in; ///< plaintext taken from the protocol's queue, not yet encrypted
    /// kTLS's records after the switch, in order (few: tickets, an alert).
    std::vector<kernel_record> _kernel_records;
    /// The sending keys as the kernel takes them (struct tls12_crypto_info_*), kept from
    /// OpenSSL's hand-over until the switch, then wiped.
    unsigned char _ktls_keys[64] = {};
    uint8_t _ktls_keys_len = 0;
    /// The server's application traffic secret of the keys the kernel has (TLS 1.3): each
    /// KeyUpdate's come from it (tls/ktls_keys.hpp). Empty without kTLS.
    traffic_secret _server_secret;
    /// The client's, for the kernel's receiving keys (and their KeyUpdates).
    traffic_secret _client_secret;
    /// TLS 1.2's receiving keys as OpenSSL handed them over, until the switch.
    unsigned char _rx_keys[64] = {};
    uint8_t _rx_keys_len = 0;
    uint64_t _rx_records = 0;          ///< records OpenSSL read under the client's first keys
    uint8_t _rx_tries = 0;             ///< the reactor's tries at the switch (wants_kernel_receive)
    uint8_t _records_without_data = 0; ///< see records_without_data_max
    ktls_rx _krx = ktls_rx::off;
    uint8_t _record_type = 0; ///< the type of OpenSSL's next write after the switch (0: data)
    ktls_tx _ktls = ktls_tx::off;
    int _fd = -1;
    uring::ktls_calls* _io = nullptr; ///< the socket's calls (its backend's): kTLS's keys and records
    uint32_t _deadline = 0;
    bool _established = false;
    bool _failed = false;
    bool _peer_closed = false;
    bool _shut = false;
    bool _resumed = false;
    bool _sni_unknown = false;
    bool _got_bytes = false;
};

} // namespace ringbolt::tls
