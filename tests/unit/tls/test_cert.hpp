// Test-only certificates: a P-256 key and a self-signed certificate made at run time
// and written as PEM files into a fresh temporary directory (no key is committed).
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace ringbolt::tls::testing {

struct cert_files {
    std::string cert;
    std::string key;
};

inline std::string temp_dir() {
    static std::string dir = [] {
        char tmpl[] = "/tmp/ringbolt-tls-test-XXXXXX";
        const char* d = mkdtemp(tmpl);
        return std::string(d != nullptr ? d : "/tmp");
    }();
    return dir;
}

/// A self-signed certificate for `cn` (also its subjectAltName), files named after `cn`.
inline cert_files make_cert(const std::string& cn) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::hash<std::string>{}(cn)&0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 30);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, key, EVP_sha256());
    cert_files f{temp_dir() + "/" + cn + ".crt", temp_dir() + "/" + cn + ".key"};
    if (FILE* out = std::fopen(f.cert.c_str(), "w")) {
        PEM_write_X509(out, x);
        std::fclose(out);
    }
    if (FILE* out = std::fopen(f.key.c_str(), "w")) {
        PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
        std::fclose(out);
    }
    X509_free(x);
    EVP_PKEY_free(key);
    return f;
}

} // namespace ringbolt::tls::testing
