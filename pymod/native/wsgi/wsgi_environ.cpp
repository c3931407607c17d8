// The WSGI environ of one request (PEP 3333), built in one pass: a copy of the server's
// base dict (SERVER_*, SCRIPT_NAME, wsgi.*) plus the CGI variables. Keys are interned
// once: the fixed ones and the HTTP_* names of common request headers (a header known
// here costs no key string, no hash and no key deallocation). Values that repeat from
// request to request (the peer's address, Host, Accept, User-Agent...) are kept and
// handed out again while they repeat.
#include "pymod/native/wsgi/wsgi_environ.hpp"

#include "http/parser.hpp"
#include "http/query.hpp"
#include "pymod/native/bridge/proxy_info_py.hpp"
#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/tls/tls_info_py.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>

namespace ringbolt::py {

namespace {

/// Values kept for reuse live beyond their request, shared by every pool thread: that
/// needs the GIL. A free-threaded build makes every value anew.
#ifdef Py_GIL_DISABLED
constexpr bool reuse_values = false;
#else
constexpr bool reuse_values = true;
#endif

/// A value longer than this is never kept (a long User-Agent still is).
constexpr size_t reuse_at_most = 512;

/// A request header whose CGI name is interned once. `reuse`: its value usually repeats
/// from one request to the next, so the last one is kept; never for credentials
/// (Cookie, Authorization), which must not outlive their request, nor for values that
/// differ per request.
struct known_header {
    std::string_view name; ///< lower case
    const char* key;
    bool reuse;
};

// Sorted by name length (the lookup compares only the names of the header's length).
constexpr known_header known_headers[] = {
    {"te", "HTTP_TE", true},
    {"dnt", "HTTP_DNT", true},
    {"via", "HTTP_VIA", true},
    {"host", "HTTP_HOST", true},
    {"range", "HTTP_RANGE", false},
    {"accept", "HTTP_ACCEPT", true},
    {"cookie", "HTTP_COOKIE", false},
    {"expect", "HTTP_EXPECT", true},
    {"origin", "HTTP_ORIGIN", true},
    {"pragma", "HTTP_PRAGMA", true},
    {"baggage", "HTTP_BAGGAGE", false},
    {"referer", "HTTP_REFERER", false},
    {"upgrade", "HTTP_UPGRADE", true},
    {"if-match", "HTTP_IF_MATCH", false},
    {"if-range", "HTTP_IF_RANGE", false},
    {"priority", "HTTP_PRIORITY", true},
    {"forwarded", "HTTP_FORWARDED", false},
    {"sec-ch-ua", "HTTP_SEC_CH_UA", true},
    {"x-real-ip", "HTTP_X_REAL_IP", false},
    {"connection", "HTTP_CONNECTION", true},
    {"keep-alive", "HTTP_KEEP_ALIVE", true},
    {"tracestate", "HTTP_TRACESTATE", false},
    {"user-agent", "HTTP_USER_AGENT", true},
    {"traceparent", "HTTP_TRACEPARENT", false},
    {"content-type", "CONTENT_TYPE", true},
    {"x-request-id", "HTTP_X_REQUEST_ID", false},
    {"authorization", "HTTP_AUTHORIZATION", false},
    {"cache-control", "HTTP_CACHE_CONTROL", true},
    {"if-none-match", "HTTP_IF_NONE_MATCH", false},
    {"accept-charset", "HTTP_ACCEPT_CHARSET", true},
    {"content-length", "CONTENT_LENGTH", false},
    {"sec-fetch-dest", "HTTP_SEC_FETCH_DEST", true},
    {"sec-fetch-mode", "HTTP_SEC_FETCH_MODE", true},
    {"sec-fetch-site", "HTTP_SEC_FETCH_SITE", true},
    {"sec-fetch-user", "HTTP_SEC_FETCH_USER", true},
    {"accept-encoding", "HTTP_ACCEPT_ENCODING", true},
    {"accept-language", "HTTP_ACCEPT_LANGUAGE", true},
    {"x-forwarded-for", "HTTP_X_FORWARDED_FOR", false},
    {"content-encoding", "HTTP_CONTENT_ENCODING", true},
    {"sec-ch-ua-mobile", "HTTP_SEC_CH_UA_MOBILE", true},
    {"x-forwarded-host", "HTTP_X_FORWARDED_HOST", true},
    {"x-forwarded-port", "HTTP_X_FORWARDED_PORT", true},
    {"x-requested-with", "HTTP_X_REQUESTED_WITH", true},
    {"if-modified-since", "HTTP_IF_MODIFIED_SINCE", false},
    {"sec-websocket-key", "HTTP_SEC_WEBSOCKET_KEY", false},
    {"transfer-encoding", "HTTP_TRANSFER_ENCODING", true},
    {"x-forwarded-proto", "HTTP_X_FORWARDED_PROTO", true},
    {"sec-ch-ua-platform", "HTTP_SEC_CH_UA_PLATFORM", true},
    {"if-unmodified-since", "HTTP_IF_UNMODIFIED_SINCE", false},
    {"proxy-authorization", "HTTP_PROXY_AUTHORIZATION", false},
    {"sec-websocket-version", "HTTP_SEC_WEBSOCKET_VERSION", true},
    {"sec-websocket-protocol", "HTTP_SEC_WEBSOCKET_PROTOCOL", true},
    {"sec-websocket-extensions", "HTTP_SEC_WEBSOCKET_EXTENSIONS", true},
    {"upgrade-insecure-requests", "HTTP_UPGRADE_INSECURE_REQUESTS", true},
};
constexpr size_t known_count = std::size(known_headers);
constexpr size_t longest_known = 25;

constexpr bool sorted_by_length() {
    for (size_t i = 1; i < known_count; ++i) {
        if (known_headers[i - 1].name.size() > known_headers[i].name.size()) {
            return false;
        }
    }
    return known_headers[known_count - 1].name.size() == longest_known;
}
static_assert(sorted_by_length(), "known_headers must be sorted by name length");

/// Where the names of each length begin in known_headers (and end: the next length's begin).
struct length_index {
    uint8_t begin[longest_known + 2] = {};
    constexpr length_index() {
        for (size_t len = 0; len <= longest_known + 1; ++len) {
            size_t i = 0;
            while (i < known_count && known_headers[i].name.size() < len) {
                ++i;
            }
            begin[len] = static_cast<uint8_t>(i);
        }
    }
};
constexpr length_index by_length;

constexpr int index_of(std::string_view name) {
    for (size_t i = 0; i < known_count; ++i) {
        if (known_headers[i].name == name) {
            return static_cast<int>(i);
        }
    }
    return -1;
}
constexpr int host_header = index_of("host");
static_assert(host_header >= 0);

template <typename W> W load(const char* p) noexcept {
    W w;
    std::memcpy(&w, p, sizeof(w));
    return w;
}

/// Whether a header name (a valid token, any case) is `known` (lower case, letters,
/// digits and '-'), of the same length. A token's letters differ from lower case by bit
/// 0x20 only, and no other token character becomes a letter, a digit or '-' by setting
/// it ('^' becomes '~'), so setting that bit in every byte compares exactly: eight bytes
/// at a time, the last word overlapping the one before (no read past either name).
bool same_name(const char* name, const char* known, size_t n) noexcept {
    constexpr uint64_t lower64 = 0x2020202020202020ull;
    constexpr uint32_t lower32 = 0x20202020u;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            if ((load<uint64_t>(name + i) | lower64) != load<uint64_t>(known + i)) {
                return false;
            }
        }
        return (load<uint64_t>(name + n - 8) | lower64) == load<uint64_t>(known + n - 8);
    }
    if (n >= 4) {
        return (load<uint32_t>(name) | lower32) == load<uint32_t>(known) &&
               (load<uint32_t>(name + n - 4) | lower32) == load<uint32_t>(known + n - 4);
    }
    for (size_t i = 0; i < n; ++i) {
        if ((static_cast<unsigned char>(name[i]) | 0x20) != static_cast<unsigned char>(known[i])) {
            return false;
        }
    }
    return true;
}

/// The table entry for a header name (a valid token, any case), or -1.
int find_known(std::string_view name) noexcept {
    if (name.size() > longest_known) {
        return -1;
    }
    for (size_t i = by_length.begin[name.size()]; i < by_length.begin[name.size() + 1]; ++i) {
        if (same_name(name.data(), known_headers[i].name.data(), name.size())) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

/// Everything made once (at the first request; the GIL is held) and kept for the
/// module's lifetime.
struct environ_names {
    PyObject* request_method = nullptr;
    PyObject* path_info = nullptr;
    PyObject* query_string = nullptr;
    PyObject* raw_uri = nullptr;
    PyObject* server_protocol = nullptr;
    PyObject* remote_addr = nullptr;
    PyObject* remote_port = nullptr;
    PyObject* url_scheme = nullptr;
    PyObject* https = nullptr;
    PyObject* https_value = nullptr; // "https"
    PyObject* on = nullptr;          // "on"
    PyObject* protocols[4] = {};     // HTTP/1.0, HTTP/1.1, HTTP/2, HTTP/3
    PyObject* known_keys[known_count] = {};
    bool ok = false;

    environ_names() {
        const std::pair<PyObject**, const char*> fixed[] = {
            {&request_method, "REQUEST_METHOD"},
            {&path_info, "PATH_INFO"},
            {&query_string, "QUERY_STRING"},
            {&raw_uri, "RAW_URI"},
            {&server_protocol, "SERVER_PROTOCOL"},
            {&remote_addr, "REMOTE_ADDR"},
            {&remote_port, "REMOTE_PORT"},
            {&url_scheme, "wsgi.url_scheme"},
            {&https, "HTTPS"},
            {&https_value, "https"},
            {&on, "on"},
            {&protocols[0], "HTTP/1.0"},
            {&protocols[1], "HTTP/1.1"},
            {&protocols[2], "HTTP/2"},
            {&protocols[3], "HTTP/3"},
        };
        for (const auto& [slot, text] : fixed) {
            if ((*slot = PyUnicode_InternFromString(text)) == nullptr) {
                return;
            }
        }
        for (size_t i = 0; i < known_count; ++i) {
            if ((known_keys[i] = PyUnicode_InternFromString(known_headers[i].key)) == nullptr) {
                return;
            }
        }
        ok = true;
    }
};

/// The values kept for reuse (GIL held; see reuse_values).
struct kept_values {
    static constexpr size_t ports = 256; ///< a power of two
    PyObject* header[known_count] = {};
    PyObject* port[ports] = {}; ///< REMOTE_PORT texts, by the port's low bits (a keep-alive
                                ///< connection's requests find theirs)
    PyObject* peer = nullptr;   ///< REMOTE_ADDR of `peer_addr`
    uint8_t peer_family = 0;
    uint8_t peer_addr[16] = {};
};
kept_values kept;

/// `last` again when it holds exactly the text `s`, else a new str of `s` that becomes
/// `last` (when short enough). New reference.
PyObject* reused_text(PyObject*& last, std::string_view s) {
    if constexpr (reuse_values) {
        if (last != nullptr && static_cast<size_t>(PyUnicode_GET_LENGTH(last)) == s.size() &&
            std::memcmp(PyUnicode_DATA(last), s.data(), s.size()) == 0) {
            return Py_NewRef(last); // latin-1: one byte a character, as sent
        }
        PyObject* fresh = latin1_text(s);
        if (fresh != nullptr && s.size() <= reuse_at_most) {
            Py_XSETREF(last, Py_NewRef(fresh));
        }
        return fresh;
    } else {
        return latin1_text(s);
    }
}

/// REMOTE_ADDR's text (print_peer); the last one made is kept and given again while the
/// same peer comes back.
PyObject* peer_text(const http::peer_address& peer) {
    size_t n = peer.family == AF_INET ? 4 : 16;
    if (reuse_values && kept.peer != nullptr && kept.peer_family == peer.family &&
        std::memcmp(kept.peer_addr, peer.addr, n) == 0) {
        return Py_NewRef(kept.peer);
    }
    char buf[INET6_ADDRSTRLEN];
    PyObject* text = latin1_text(print_peer(peer, buf));
    if (reuse_values && text != nullptr) {
        Py_XSETREF(kept.peer, Py_NewRef(text));
        kept.peer_family = peer.family;
        std::memcpy(kept.peer_addr, peer.addr, n);
    }
    return text;
}

/// REMOTE_PORT's text; the last one made for each slot of the port's low bits is kept.
PyObject* port_text(uint16_t port) {
    char buf[8];
    auto printed = std::to_chars(buf, buf + sizeof(buf), static_cast<unsigned>(port));
    std::string_view text(buf, static_cast<size_t>(printed.ptr - buf));
    if constexpr (reuse_values) {
        return reused_text(kept.port[port & (kept_values::ports - 1)], text);
    } else {
        return latin1_text(text);
    }
}

/// `d[key] = value`, not stealing.
bool put(PyObject* d, PyObject* key, PyObject* value) {
    return value != nullptr && PyDict_SetItem(d, key, value) == 0;
}

/// The CGI name of a header not in the table: HTTP_ and the name upper-cased, '-' as '_'
/// (CONTENT_TYPE and CONTENT_LENGTH are in the table).
PyObject* header_key(std::string_view name) {
    PyObject* key = PyUnicode_New(static_cast<Py_ssize_t>(name.size() + 5), 127);
    if (key == nullptr) {
        return nullptr;
    }
    auto* out = static_cast<char*>(PyUnicode_DATA(key));
    std::memcpy(out, "HTTP_", 5);
    out += 5;
    for (char c : name) {
        *out++ = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    }
    return key;
}

/// One request header into the environ: repeated headers are joined with ", " (RFC 9110 §5.3).
bool add_header(PyObject* d, PyObject* key, PyObject* value) {
    Py_ssize_t before = PyDict_GET_SIZE(d);
    PyObject* prev = PyDict_SetDefault(d, key, value); // borrowed: the value now under key
    if (prev == nullptr) {
        return false;
    }
    if (PyDict_GET_SIZE(d) != before || !PyUnicode_Check(prev)) {
        return true; // new (a size compare: `prev` may be `value` itself, a kept str)
    }
    PyObject* joined = PyUnicode_FromFormat("%U, %U", prev, value);
    return set_key(d, key, joined);
}

/// Room in the base dict's table for what a request adds (its CGI variables, wsgi.input
/// and a browser's dozen or two headers): every environ is a copy of that table, so
/// none has to grow while it is filled.
constexpr Py_ssize_t environ_room = 42;

PyObject* environ_base(PyObject*, PyObject* items) {
    if (!PyDict_Check(items)) {
        PyErr_SetString(PyExc_TypeError, "environ_base takes a dict");
        return nullptr;
    }
    PyObject* d = _PyDict_NewPresized(PyDict_GET_SIZE(items) + environ_room);
    // One by one: PyDict_Update into an empty dict would clone `items`' smaller table.
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (d != nullptr && PyDict_Next(items, &pos, &key, &value)) {
        if (PyDict_SetItem(d, key, value) < 0) {
            Py_CLEAR(d);
        }
    }
    return d;
}

PyMethodDef environ_functions[] = {
    {"environ_base", environ_base, METH_O,
     "environ_base(d): a dict with d's items and room for a request's variables (WSGIHandler.base)."},
    {nullptr, nullptr, 0, nullptr},
};

} // namespace

int init_wsgi_environ(PyObject* module) {
    return PyModule_AddFunctions(module, environ_functions);
}

PyObject* wsgi_environ(const dispatch::app_request& r, PyObject* base) {
    static const environ_names names; // first call holds the GIL; never freed (module lifetime)
    if (!names.ok) {
        PyErr_SetString(PyExc_MemoryError, "interning the WSGI environ's keys failed");
        return nullptr;
    }
    if (!PyDict_Check(base)) {
        PyErr_SetString(PyExc_TypeError, "_wsgi_environ takes a dict");
        return nullptr;
    }
    PyObject* d = PyDict_Copy(base);
    if (d == nullptr) {
        return nullptr;
    }
    std::string_view raw = r.path.in(r.data);
    std::string decoded;
    std::string_view path = raw;
    if (http::needs_decoding(raw, false) && http::percent_decode(raw, decoded, false)) {
        path = decoded;
    }
    PyObject* protocol = names.protocols[r.version_minor == 0                     ? 0
                                         : r.version_minor == http::version_http2 ? 2
                                         : r.version_minor == http::version_http3 ? 3
                                                                                  : 1];
    PyObject* path_info = latin1_text(path);
    // RAW_URI is the target as sent: the same text as PATH_INFO when it has no query and
    // no escapes (the common case), then the same object.
    std::string_view target = r.target.in(r.data);
    PyObject* raw_uri =
        path_info != nullptr && target.data() == raw.data() && target.size() == raw.size() && path.data() == raw.data()
            ? Py_NewRef(path_info)
            : latin1_text(target);
    bool ok = set_key(d, names.request_method, method_text(r)) && put(d, names.path_info, path_info) &&
              set_key(d, names.query_string, latin1_text(r.query.in(r.data))) && put(d, names.raw_uri, raw_uri) &&
              put(d, names.server_protocol, protocol);
    Py_XDECREF(path_info);
    Py_XDECREF(raw_uri);
    if (ok && r.https) {
        ok = put(d, names.url_scheme, names.https_value) && put(d, names.https, names.on);
    }
    if (ok && r.tls) [[unlikely]] {
        ok = add_wsgi_tls_vars(d, *r.tls);
    }
    if (ok && r.proxy) [[unlikely]] {
        ok = set_item(d, "ringbolt.proxy_protocol", proxy_info_dict(*r.proxy));
    }
    if (ok && r.peer.family != 0) {
        ok = set_key(d, names.remote_addr, peer_text(r.peer)) && set_key(d, names.remote_port, port_text(r.peer.port));
    }
    size_t n = r.headers.size() / 2;
    for (size_t i = 0; ok && i < n; ++i) {
        std::string_view name = r.headers[2 * i].in(r.data);
        std::string_view value = r.headers[2 * i + 1].in(r.data);
        // A name with '_' is left out: "X_Forwarded_For" must not pass as X-Forwarded-For
        // once both become HTTP_X_FORWARDED_FOR.
        if (name.find('_') != std::string_view::npos) {
            continue;
        }
        int known = find_known(name);
        if (known == host_header && r.forwarded_host.len != 0) { // what a trusted proxy says the client asked for
            value = r.forwarded_host.in(r.data);
        }
        PyObject* key = known >= 0 ? Py_NewRef(names.known_keys[known]) : header_key(name);
        PyObject* v =
            known >= 0 && known_headers[known].reuse ? reused_text(kept.header[known], value) : latin1_text(value);
        ok = key != nullptr && v != nullptr && add_header(d, key, v);
        Py_XDECREF(key);
        Py_XDECREF(v);
    }
    if (!ok) {
        Py_DECREF(d);
        return nullptr;
    }
    return d;
}

} // namespace ringbolt::py
