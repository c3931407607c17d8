// The TLS transport over an in-memory pair: a client SSL object in the test, the
// server-side transport fed and drained as the reactor does (on_wire_data, wire_output).
#include "tests/unit/tls/test_cert.hpp"
#include "tls/transport.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

namespace ringbolt::tls {
namespace {

const testing::cert_files& default_cert() {
    static testing::cert_files f = testing::make_cert("default.test");
    return f;
}

/// Options with what a server with both HTTP versions offers (server/protocols.cpp).
options served() {
    options o;
    o.alpn = alpn_offer{{"h2", "http/1.1"}, false};
    return o;
}

std::shared_ptr<const context> make_context(options o = served()) {
    o.certfile = default_cert().cert;
    o.keyfile = default_cert().key;
    std::string error;
    auto ctx = context::build(o, error);
    EXPECT_TRUE(ctx) << error;
    return ctx;
}

/// A client connection in memory, talking to a server transport.
struct pair {
    std::shared_ptr<const context> ctx;
    core::core_counters counters;
    tls_transport server;
    SSL_CTX* cctx;
    SSL* client;
    BIO* crd;                 ///< what the server sent, for the client to read
    BIO* cwr;                 ///< what the client wrote, for the server
    core::output_queue plain; ///< the protocol's output
    std::string received;     ///< plaintext the server's protocol saw
    std::string last_error;   ///< the client's handshake error

    explicit pair(std::shared_ptr<const context> c, int max_version = 0, const char* sni = nullptr,
                  SSL_SESSION* session = nullptr)
        : ctx(c), server(c, counters, nullptr, 100) {
        cctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION);
        SSL_CTX_set_security_level(cctx, 0);
        if (max_version != 0) {
            SSL_CTX_set_max_proto_version(cctx, max_version);
        }
        client = SSL_new(cctx);
        crd = BIO_new(BIO_s_mem());
        cwr = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(crd, -1);
        SSL_set_bio(client, crd, cwr);
        SSL_set_connect_state(client);
        static const unsigned char alpn[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        SSL_set_alpn_protos(client, alpn, sizeof(alpn));
        if (sni != nullptr) {
            SSL_set_tlsext_host_name(client, sni);
        }
        if (session != nullptr) {
            SSL_set_session(client, session);
        }
    }
    ~pair() {
        SSL_set_shutdown(client, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN); // the session stays resumable
        SSL_free(client);
        SSL_CTX_free(cctx);
    }

    /// Client bytes to the server.
    void to_server() {
        char buf[4096];
        int n;
        while ((n = BIO_read(cwr, buf, sizeof(buf))) > 0) {
            received.append(server.on_wire_data({buf, static_cast<size_t>(n)}));
        }
    }
    std::string wire; ///< every byte the server sent, when `keep_wire`
    bool keep_wire = false;
    /// Server records to the client (as the reactor's sends would).
    void to_client() {
        core::send_batch b;
        while (server.wire_output(plain).take_front(b, 8, 1 << 20)) {
            iovec iov[8];
            size_t k = b.iovecs(iov, 8);
            for (size_t i = 0; i < k; ++i) {
                BIO_write(crd, iov[i].iov_base, static_cast<int>(iov[i].iov_len));
                if (keep_wire) {
                    wire.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
                }
            }
            b.consume(b.remaining());
            b.reset();
        }
    }
    bool handshake() {
        for (int i = 0; i < 10; ++i) {
            int r = SSL_do_handshake(client);
            int err = SSL_get_error(client, r); // before the BIOs change
            to_server();
            to_client();
            if (r == 1 && server.established()) {
                return true;
            }
            if (r != 1 && err != SSL_ERROR_WANT_READ) {
                char why[256] = {};
                ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
                last_error = std::string(why) + " (SSL error " + std::to_string(err) + ")";
                ERR_clear_error();
                return false;
            }
        }
        return false;
    }
    std::string client_read() {
        std::string out;
        char buf[16384];
        int n;
        while ((n = SSL_read(client, buf, sizeof(buf))) > 0) {
            out.append(buf, static_cast<size_t>(n));
        }
        return out;
    }
    /// `plain` sent by the client as one record: its bytes on the wire, not yet given to
    /// the server.
    std::string client_record(std::string_view plain) {
        SSL_write(client, plain.data(), static_cast<int>(plain.size()));
        char buf[256];
        int n = BIO_read(cwr, buf, sizeof(buf));
        return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
    }
};

TEST(TlsTransport, AlpnOfferIsTheListGivenInItsOrder) {
    // (server offer, refused when nothing is shared, client's ALPN list ("" none), ALPN
    // chosen, handshake completes)
    struct alpn_case {
        alpn_offer offer;
        std::string_view client;
        std::string_view chosen;
        bool ok;
    };
    const alpn_offer both{{"h2", "http/1.1"}, false};
    const alpn_offer http1{{"http/1.1"}, false};
    const alpn_offer h2_only{{"h2"}, true};
    const alpn_case cases[] = {
        {both, std::string_view("\x02h2\x08http/1.1", 12), "h2", true},
        {both, std::string_view("\x08http/1.1", 9), "http/1.1", true},
        {both, std::string_view("\x08spdy/3.1", 9), "", true}, // nothing in common: no ALPN
        {http1, std::string_view("\x02h2\x08http/1.1", 12), "http/1.1", true},
        {http1, std::string_view("\x02h2", 3), "", true},
        {h2_only, std::string_view("\x02h2\x08http/1.1", 12), "h2", true},
        {h2_only, std::string_view("\x08http/1.1", 9), "", false}, // no_application_protocol
        {h2_only, "", "", true},                                   // no ALPN at all: the first bytes decide
        {alpn_offer{{"x-demo", "http/1.1"}, false}, std::string_view("\x02h2\x06x-demo", 10), "x-demo", true},
        {alpn_offer{}, std::string_view("\x02h2\x08http/1.1", 12), "", true}, // no offer: no ALPN
    };
    for (const auto& c : cases) {
        options o;
        o.alpn = c.offer;
        pair p(make_context(o));
        SSL_set_alpn_protos(p.client, reinterpret_cast<const unsigned char*>(c.client.data()),
                            static_cast<unsigned int>(c.client.size()));
        EXPECT_EQ(p.handshake(), c.ok) << c.offer.ids.size() << " " << c.client << ": " << p.last_error;
        if (c.ok) {
            EXPECT_EQ(p.server.alpn(), c.chosen) << c.offer.ids.size() << " " << c.client;
        } else {
            EXPECT_NE(p.last_error.find("no application protocol"), std::string::npos) << p.last_error;
        }
    }
}

TEST(TlsTransport, AnAlpnIdOfNoOrTooManyBytesIsRefusedByName) {
    for (const std::string& bad : {std::string(), std::string(256, 'x')}) {
        options o;
        o.certfile = default_cert().cert;
        o.keyfile = default_cert().key;
        o.alpn = alpn_offer{{"h2", bad}, false};
        std::string error;
        EXPECT_FALSE(context::build(o, error)) << bad.size();
        EXPECT_NE(error.find("ALPN protocol id must be 1 to 255 bytes"), std::string::npos) << error;
    }
}

TEST(TlsTransport, HandshakeThenRequestAndResponse) {
    {
        options no_h2;
        no_h2.alpn = alpn_offer{{"http/1.1"}, false}; // --http 1: only http/1.1 is offered
        pair q(make_context(no_h2));
        ASSERT_TRUE(q.handshake()) << q.last_error;
        EXPECT_EQ(q.server.alpn(), "http/1.1");
    }
    pair p(make_context());
    ASSERT_TRUE(p.handshake()) << p.last_error << " server failed: " << p.server.failed();
    EXPECT_EQ(p.server.alpn(), "h2"); // the client offers h2 first and the server speaks it
    EXPECT_EQ(p.counters.tls_handshakes.get(), 1u);
    EXPECT_FALSE(p.server.zero_copy_files());
    std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(SSL_write(p.client, req.data(), static_cast<int>(req.size())), static_cast<int>(req.size()));
    p.to_server();
    EXPECT_EQ(p.received, req);
    p.plain.append("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    p.to_client();
    EXPECT_EQ(p.client_read(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    EXPECT_TRUE(p.plain.empty());
    EXPECT_FALSE(p.server.has_output());
}

TEST(TlsTransport, LargeAndFileResponsesAreEncryptedInBoundedSteps) {
    pair p(make_context());
    ASSERT_TRUE(p.handshake());
    std::string big(3 << 20, 'a');
    for (size_t i = 0; i < big.size(); i += 4096) {
        big[i] = static_cast<char>('a' + (i / 4096) % 26);
    }
    std::string path = testing::temp_dir() + "/file.bin";
    std::string file_bytes(700000, 'f');
    file_bytes[12345] = 'X';
    {
        FILE* f = std::fopen(path.c_str(), "w");
        std::fwrite(file_bytes.data(), 1, file_bytes.size(), f);
        std::fclose(f);
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    p.plain.append_owned(std::string(big));
    p.plain.append_file(std::make_shared<core::file_handle>(fd), 100, file_bytes.size() - 100);
    // One wire_output takes at most about a budget's worth.
    core::output_queue& out = p.server.wire_output(p.plain);
    EXPECT_LE(out.bytes(), tls_transport::wire_budget + 64 * 1024);
    EXPECT_FALSE(p.plain.empty());
    std::string got;
    for (int i = 0; i < 1000 && (p.server.has_output() || !p.plain.empty()); ++i) {
        p.to_client();
        got += p.client_read();
    }
    got += p.client_read();
    EXPECT_EQ(got.size(), big.size() + file_bytes.size() - 100);
    EXPECT_TRUE(got == big + file_bytes.substr(100));
}

/// The plaintext size of each application-data record in `wire` (TLS 1.3: the record's
/// length less the content type byte and the 16-byte AEAD tag, RFC 8446 §5.2).
std::vector<size_t> record_plaintexts(const std::string& wire) {
    std::vector<size_t> out;
    size_t at = 0;
    while (at + 5 <= wire.size()) {
        auto len = static_cast<size_t>((static_cast<unsigned char>(wire[at + 3]) << 8) |
                                       static_cast<unsigned char>(wire[at + 4]));
        if (wire[at] == 23) { // application_data
            out.push_back(len - 17);
        }
        at += 5 + len;
    }
    EXPECT_EQ(at, wire.size()) << "the wire ends inside a record";
    return out;
}

std::string temp_file(const std::string& name, const std::string& bytes) {
    std::string path = testing::temp_dir() + "/" + name;
    FILE* f = std::fopen(path.c_str(), "w");
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    return path;
}

// Small pieces (a response head, HTTP/2 frame headers) are gathered with what follows
// into full 16 KiB records, across memory and file segments: a 9-byte frame header is
// never a record of its own, and only the end of the queued output is a short record.
TEST(TlsTransport, RecordsAreFullAcrossSegmentsAndFiles) {
    pair p(make_context());
    ASSERT_TRUE(p.handshake());
    p.keep_wire = true;
    std::string file_bytes(3 * 16384 + 100, 'x');
    for (size_t i = 0; i < file_bytes.size(); i += 7) {
        file_bytes[i] = static_cast<char>('a' + i % 26);
    }
    int fd = ::open(temp_file("records.bin", file_bytes).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    auto file = std::make_shared<core::file_handle>(fd);
    std::string expect;
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 49252\r\n\r\n";
    p.plain.append(head); // a head, then a file (HTTP/1.1)
    p.plain.append_file(file, 0, file_bytes.size());
    expect += head + file_bytes;
    for (size_t off = 0; off < file_bytes.size(); off += 16384) { // frame header + 16 KiB (HTTP/2)
        size_t n = std::min<size_t>(16384, file_bytes.size() - off);
        std::string frame_head(9, '\0');
        frame_head[2] = static_cast<char>(n & 0xff);
        p.plain.append(frame_head);
        expect += frame_head;
        if (off % 32768 == 0) {
            p.plain.append_owned(file_bytes.substr(off, n)); // a read-in piece
        } else {
            p.plain.append_file(file, off, n);
        }
        expect += file_bytes.substr(off, n);
    }
    p.to_client();
    EXPECT_EQ(p.client_read(), expect);
    std::vector<size_t> records = record_plaintexts(p.wire);
    ASSERT_FALSE(records.empty());
    size_t total = 0;
    for (size_t i = 0; i < records.size(); ++i) {
        total += records[i];
        if (i + 1 < records.size()) {
            EXPECT_EQ(records[i], 16384u) << "record " << i << " of " << records.size();
        }
    }
    EXPECT_EQ(total, expect.size());
    EXPECT_EQ(records.size(), (expect.size() + 16383) / 16384);
}

// A small response is one record, its bytes written by OpenSSL straight into the wire
// queue; a large one is encrypted from its own buffer, whole records without a copy.
TEST(TlsTransport, SmallResponseIsOneRecordAndLargeOnesWholeRecords) {
    pair p(make_context());
    ASSERT_TRUE(p.handshake());
    p.keep_wire = true;
    p.plain.append("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    p.to_client();
    EXPECT_EQ(record_plaintexts(p.wire), std::vector<size_t>{40});
    p.wire.clear();
    std::string big(5 * 16384 + 5, 'b');
    p.plain.append_owned(std::string(big));
    p.to_client();
    EXPECT_EQ(p.client_read(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" + big);
    EXPECT_EQ(record_plaintexts(p.wire), (std::vector<size_t>{16384, 16384, 16384, 16384, 16384, 5}));
}

TEST(TlsTransport, GarbageInsteadOfClientHelloFails) {
    auto ctx = make_context();
    core::core_counters c;
    tls_transport t(ctx, c, nullptr, 100);
    std::string_view plain = t.on_wire_data("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(plain.empty());
    EXPECT_TRUE(t.failed());
    EXPECT_FALSE(t.established());
    EXPECT_EQ(c.tls_handshake_errors.get(), 1u);
    EXPECT_TRUE(t.on_wire_data("more").empty()); // ignored after the failure
}

TEST(TlsTransport, OldProtocolVersionIsRefused) {
    pair p(make_context(), TLS1_1_VERSION);
    EXPECT_FALSE(p.handshake());
    EXPECT_TRUE(p.server.failed());
    EXPECT_EQ(p.counters.tls_handshake_errors.get(), 1u);
}

TEST(TlsTransport, Tls12AndMinVersion13) {
    {
        pair p(make_context(), TLS1_2_VERSION);
        ASSERT_TRUE(p.handshake());
        EXPECT_EQ(SSL_version(p.client), TLS1_2_VERSION);
    }
    options o = served();
    o.min_version = TLS1_3_VERSION;
    pair p(make_context(o), TLS1_2_VERSION);
    EXPECT_FALSE(p.handshake());
    EXPECT_TRUE(p.server.failed());
}

TEST(TlsTransport, ClientCloseNotifyEndsInput) {
    pair p(make_context());
    ASSERT_TRUE(p.handshake());
    SSL_shutdown(p.client);
    p.to_server();
    EXPECT_TRUE(p.server.peer_closed());
    EXPECT_FALSE(p.server.failed());
    EXPECT_EQ(p.counters.tls_close_notify.get(), 1u);
}

TEST(TlsTransport, ServerCloseNotify) {
    pair p(make_context());
    ASSERT_TRUE(p.handshake());
    EXPECT_TRUE(p.server.shut_output());
    EXPECT_FALSE(p.server.shut_output()); // once
    p.to_client();
    char c;
    EXPECT_EQ(SSL_read(p.client, &c, 1), 0);
    EXPECT_EQ(SSL_get_error(p.client, 0), SSL_ERROR_ZERO_RETURN);
}

TEST(TlsTransport, TruncatedRecordAtEofIsCounted) {
    pair p(make_context());
    ASSERT_TRUE(p.handshake());
    std::string record = p.client_record("GET / HTTP/1.1\r\n\r\n");
    ASSERT_GT(record.size(), 10u);
    EXPECT_TRUE(p.server.on_wire_data(std::string_view(record).substr(0, record.size() - 5)).empty());
    p.server.on_eof();
    EXPECT_EQ(p.counters.tls_truncated.get(), 1u);
}

TEST(TlsTransport, CorruptRecordAfterTheHandshakeFails) {
    pair p(make_context());
    ASSERT_TRUE(p.handshake());
    std::string record = p.client_record("GET / HTTP/1.1\r\n\r\n");
    ASSERT_GT(record.size(), 10u);
    record[record.size() - 3] ^= 0x55; // the AEAD tag no longer matches
    EXPECT_TRUE(p.server.on_wire_data(record).empty());
    EXPECT_TRUE(p.server.failed());
    EXPECT_EQ(p.counters.tls_record_errors.get(), 1u);
    EXPECT_TRUE(p.server.has_output());   // the bad_record_mac alert
    EXPECT_FALSE(p.server.shut_output()); // no close_notify after a fatal alert
}

TEST(TlsTransport, HandshakeDeadlineAndTimeout) {
    auto ctx = make_context(options{.handshake_timeout_s = 3});
    core::core_counters c;
    tls_transport t(ctx, c, nullptr, 100);
    EXPECT_EQ(t.handshake_deadline(), 103u); // passed at 104: at least the whole 3 s (deadline_passed)
    t.on_handshake_timeout();
    EXPECT_EQ(c.tls_handshake_timeouts.get(), 1u);
    pair p(make_context());
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(p.server.handshake_deadline(), 0u); // done: no deadline
}

std::string peer_cn(SSL* client) {
    X509* x = SSL_get1_peer_certificate(client);
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    X509_free(x);
    return cn;
}

TEST(TlsTransport, SniSelectsTheCertificate) {
    testing::cert_files a = testing::make_cert("a.example");
    testing::cert_files w = testing::make_cert("wild.example");
    options o = served();
    o.sni.push_back({"a.example", a.cert, a.key});
    o.sni.push_back({"*.example.org", w.cert, w.key});
    auto ctx = make_context(o);
    {
        pair p(ctx, 0, "A.Example");
        ASSERT_TRUE(p.handshake());
        EXPECT_EQ(peer_cn(p.client), "a.example");
    }
    {
        pair p(ctx, 0, "x.example.org");
        ASSERT_TRUE(p.handshake());
        EXPECT_EQ(peer_cn(p.client), "wild.example");
    }
    {
        pair p(ctx, 0, "y.x.example.org"); // a wildcard covers one label only
        ASSERT_TRUE(p.handshake());
        EXPECT_EQ(peer_cn(p.client), "default.test");
        EXPECT_EQ(p.counters.tls_sni_unknown.get(), 1u);
    }
}

TEST(TlsTransport, SessionResumption) {
    auto ctx = make_context();
    SSL_SESSION* session = nullptr;
    {
        pair p(ctx, TLS1_2_VERSION);
        ASSERT_TRUE(p.handshake());
        session = SSL_get1_session(p.client);
    }
    pair p(ctx, TLS1_2_VERSION, nullptr, session);
    ASSERT_TRUE(p.handshake());
    EXPECT_TRUE(p.server.resumed());
    EXPECT_EQ(p.counters.tls_resumed.get(), 1u);
    SSL_SESSION_free(session);
}

std::string file_text(const std::string& path) {
    std::string out;
    if (FILE* f = std::fopen(path.c_str(), "r")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
            out.append(buf, n);
        }
        std::fclose(f);
    }
    return out;
}

// The facts the application sees (http/tls_info.hpp): empty until the handshake
// completes, then the version, cipher, ALPN, SNI name and the certificate served.
TEST(TlsConnectionInfo, FilledWhenTheHandshakeCompletes) {
    testing::cert_files a = testing::make_cert("info-a.example");
    options o = served();
    o.sni.push_back({"info-a.example", a.cert, a.key});
    auto ctx = make_context(o);
    {
        pair p(ctx);
        const core::tls_info* info = p.server.tls_info();
        ASSERT_NE(info, nullptr);
        EXPECT_EQ(info->version, 0); // not yet
        ASSERT_TRUE(p.handshake()) << p.last_error;
        EXPECT_EQ(info, p.server.tls_info()); // the same object: requests may already point at it
        EXPECT_EQ(info->version, 0x0304);
        EXPECT_EQ(info->version_name, "TLSv1.3");
        EXPECT_GE(info->cipher_suite, 0x1301); // TLS 1.3 suites: {0x13, 0x01..0x03} (RFC 8446 §B.4)
        EXPECT_LE(info->cipher_suite, 0x1303);
        EXPECT_EQ(info->cipher_name, SSL_CIPHER_get_name(SSL_get_current_cipher(p.client)));
        EXPECT_EQ(info->alpn, "h2");
        EXPECT_EQ(info->server_name, "");
        ASSERT_TRUE(info->server_cert_pem);
        EXPECT_EQ(*info->server_cert_pem, file_text(default_cert().cert));
        EXPECT_TRUE(info->client_chain_pem.empty());
        EXPECT_EQ(info->client_subject, "");
        EXPECT_EQ(info->client_verify_error, "");
        EXPECT_FALSE(info->resumed);
    }
    {
        pair p(ctx, TLS1_2_VERSION, "info-a.example");
        ASSERT_TRUE(p.handshake()) << p.last_error;
        const core::tls_info& info = *p.server.tls_info();
        EXPECT_EQ(info.version, 0x0303);
        EXPECT_EQ(info.version_name, "TLSv1.2");
        // The IANA code of the negotiated suite, e.g. 0xC02B ECDHE-ECDSA-AES128-GCM-SHA256.
        EXPECT_EQ(info.cipher_suite, SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(p.client)));
        EXPECT_EQ(info.server_name, "info-a.example");
        ASSERT_TRUE(info.server_cert_pem);
        EXPECT_EQ(*info.server_cert_pem, file_text(a.cert)); // the SNI certificate, not the default
    }
}

TEST(TlsConnectionInfo, ClientCertificateSubjectAndChain) {
    testing::cert_files client = testing::make_cert("info-client.test"); // self-signed: its own CA
    options o = served();
    o.ca_certs = client.cert;
    o.cert_reqs = client_certs::required;
    auto ctx = make_context(o);
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        pair p(ctx, version);
        ASSERT_EQ(SSL_use_certificate_file(p.client, client.cert.c_str(), SSL_FILETYPE_PEM), 1);
        ASSERT_EQ(SSL_use_PrivateKey_file(p.client, client.key.c_str(), SSL_FILETYPE_PEM), 1);
        ASSERT_TRUE(p.handshake()) << p.last_error;
        if (version == TLS1_3_VERSION) {
            // TLS 1.3: the client's certificate arrives with its Finished, after the client is done.
            std::string req = "GET / HTTP/1.1\r\n\r\n";
            ASSERT_GT(SSL_write(p.client, req.data(), static_cast<int>(req.size())), 0);
            p.to_server();
        }
        const core::tls_info& info = *p.server.tls_info();
        ASSERT_EQ(info.client_chain_pem.size(), 1u);
        EXPECT_EQ(info.client_chain_pem[0], file_text(client.cert));
        EXPECT_EQ(info.client_subject, "CN=info-client.test");
        EXPECT_EQ(info.client_issuer, "CN=info-client.test");
        EXPECT_EQ(info.client_verify_error, "");
    }
}

TEST(TlsContext, BadFilesSayWhich) {
    std::string error;
    options o;
    o.certfile = "/nonexistent.crt";
    o.keyfile = default_cert().key;
    EXPECT_FALSE(context::build(o, error));
    EXPECT_NE(error.find("--ssl-certfile /nonexistent.crt"), std::string::npos) << error;
    o.certfile = default_cert().cert;
    o.keyfile = testing::make_cert("other.test").key;
    EXPECT_FALSE(context::build(o, error));
    EXPECT_NE(error.find("does not match"), std::string::npos) << error;
    o.keyfile = default_cert().cert; // not a key
    EXPECT_FALSE(context::build(o, error));
    EXPECT_NE(error.find("--ssl-keyfile"), std::string::npos) << error;
    o.keyfile = default_cert().key;
    o.cert_reqs = client_certs::required;
    EXPECT_FALSE(context::build(o, error));
    EXPECT_NE(error.find("--ssl-ca-certs"), std::string::npos) << error;
    o.cert_reqs = client_certs::none;
    o.ciphers = "NO-SUCH-CIPHER";
    EXPECT_FALSE(context::build(o, error));
    EXPECT_NE(error.find("--ssl-ciphers"), std::string::npos) << error;
}

TEST(TlsContext, ParseMinVersion) {
    EXPECT_EQ(parse_min_version("TLSv1.2"), TLS1_2_VERSION);
    EXPECT_EQ(parse_min_version("1.3"), TLS1_3_VERSION);
    EXPECT_EQ(parse_min_version("TLSv1.1"), 0);
}

TEST(TlsContext, KtlsProbeGivesAnAnswer) {
    // Either available (empty) or a reason: never a crash, stable across calls.
    const std::string& a = ktls_unavailable_reason();
    EXPECT_EQ(&a, &ktls_unavailable_reason());
}

} // namespace
} // namespace ringbolt::tls
