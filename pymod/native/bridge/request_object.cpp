// The Request type, written with the C API: attribute access is a getset slot that
// builds the Python object on first use and caches it.
#include "pymod/native/bridge/request_object.hpp"

#include "core/strings.hpp"
#include "dispatch/dispatcher.hpp"
#include "http/method_names.hpp"
#include "http/parser.hpp"
#include "http/query.hpp"
#include "pymod/native/asgi/asgi_scope.hpp"
#include "pymod/native/bridge/app_bridge.hpp"
#include "pymod/native/bridge/kept_list.hpp"
#include "pymod/native/bridge/proxy_info_py.hpp"
#include "pymod/native/bridge/response_stream.hpp"
#include "pymod/native/json/json_py.hpp"
#include "pymod/native/py_type.hpp"
#include "pymod/native/tls/tls_info_py.hpp"
#include "pymod/native/wsgi/wsgi_environ.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <memory>
#include <structmember.h>

namespace ringbolt::py {

PyObject* decode_text(std::string_view s) {
    // Paths, headers and queries may carry any bytes; keep them round-trippable.
    return PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape");
}

namespace {

PyObject* interned_methods[10] = {};

// Request objects of finished requests, kept for the next ones (kept_list.hpp): a request
// then costs no allocation and no GC accounting (PyObject_GC_New and PyObject_GC_Del, ~200
// instructions). Kept untracked, their count 0: PyObject_Init revives one.
kept_list<request_object, 64, PyObject_GC_Del> request_free;

// The storage of detached requests whose views died, kept for the next detach: a new
// app_request per async request (and its delete) otherwise, a malloc and a free each
// (detach_request). Each keeps its two buffers, cleared; the detach gives them to the batch
// entry it empties, and the dispatcher keeps them as spares for the next requests' copies
// (recycle_batch). Released at exit as every kept_list is; a view that dies after that
// frees its storage (free_detached).
void free_detached(dispatch::app_request* req) noexcept {
    dispatch::return_request_buffers(*req); // for the next requests' copies
    delete req;
}
constexpr size_t detached_buffer_kept = 4096; // bytes, as the dispatcher's spares
kept_list<dispatch::app_request, 256, free_detached> detached_kept;

void give_detached(dispatch::app_request* req) noexcept {
    if (detached_kept.give(req)) [[likely]] {
        // What the request shares (the disconnect watch, a streamed body, the connection's
        // TLS facts) goes now, with its view, as when it was deleted.
        req->streamed_body.reset();
        req->watch.reset();
        req->tls = core::tls_ref();
        req->peer.tls = nullptr;
        req->proxy = core::proxy_ref();
        req->peer.proxy = nullptr;
        if (req->data.capacity() > detached_buffer_kept) {
            http::give_body_buffer(std::move(req->data)); // a large body's: kept there, or freed
        }
        req->data.clear();
        if (req->headers.capacity() * sizeof(dispatch::span32) > detached_buffer_kept) {
            std::vector<dispatch::span32>().swap(req->headers);
        }
        req->headers.clear();
        return;
    }
    free_detached(req);
}

void dealloc(PyObject* self) {
    auto* r = reinterpret_cast<request_object*>(self);
    PyObject_GC_UnTrack(self);
    Py_CLEAR(r->cache_method);
    Py_CLEAR(r->cache_path);
    Py_CLEAR(r->cache_headers);
    release_query_params(*r->types, r->cache_query);
    Py_CLEAR(r->cache_params);
    Py_CLEAR(r->cache_body);
    Py_CLEAR(r->cache_cookies);
    Py_CLEAR(r->dict);
    Py_CLEAR(r->param_names);
    if (r->detached) {
        give_detached(r->req);
    }
    if (request_free.give(r)) [[likely]] {
        return; // untracked, its count 0: PyObject_Init revives it
    }
    Py_TYPE(self)->tp_free(self);
}

int traverse(PyObject* self, visitproc visit, void* arg) {
    auto* r = reinterpret_cast<request_object*>(self);
    Py_VISIT(r->cache_headers);
    Py_VISIT(r->cache_query);
    Py_VISIT(r->cache_params);
    Py_VISIT(r->cache_cookies);
    Py_VISIT(r->dict);
    return 0;
}

int clear(PyObject* self) {
    auto* r = reinterpret_cast<request_object*>(self);
    Py_CLEAR(r->cache_headers);
    Py_CLEAR(r->cache_query);
    Py_CLEAR(r->cache_params);
    Py_CLEAR(r->cache_cookies);
    Py_CLEAR(r->dict);
    return 0;
}

const dispatch::app_request& R(PyObject* self) {
    return request_of(self);
}
request_object* O(PyObject* self) {
    return as_request(self);
}

/// The method's text: an interned str for the methods the parser knows.
PyObject* method_of(const dispatch::app_request& r) {
    unsigned id = r.method_id == 0 ? unsigned{http::method_other} : unsigned{r.method_id};
    int bit = __builtin_ctz(id);
    if (bit < static_cast<int>(std::size(http::method_bit_names)) && interned_methods[bit] != nullptr) {
        Py_INCREF(interned_methods[bit]);
        return interned_methods[bit];
    }
    return latin1_text(r.method.in(r.data));
}

// `req.method` is the member below (set when the object is made), not a getter.
PyObject* get_method(PyObject* self, void*) {
    return Py_NewRef(O(self)->cache_method);
}

PyObject* get_path(PyObject* self, void*) {
    request_object* o = O(self);
    if (PyObject* kept = cached(o->cache_path)) {
        return kept;
    }
    const auto& r = R(self);
    std::string_view raw = r.path.in(r.data);
    if (!http::needs_decoding(raw, false)) {
        return get_cached(o->cache_path, decode_text(raw));
    }
    std::string decoded;
    if (!http::percent_decode(raw, decoded, false)) {
        return get_cached(o->cache_path, decode_text(raw)); // malformed escape: keep as sent
    }
    return get_cached(o->cache_path, decode_text(decoded));
}

PyObject* get_raw_path(PyObject* self, void*) {
    const auto& r = R(self);
    std::string_view raw = r.path.in(r.data);
    return PyBytes_FromStringAndSize(raw.data(), static_cast<Py_ssize_t>(raw.size()));
}

PyObject* get_target(PyObject* self, void*) {
    const auto& r = R(self);
    return latin1_text(r.target.in(r.data));
}

PyObject* get_query_string(PyObject* self, void*) {
    const auto& r = R(self);
    return latin1_text(r.query.in(r.data));
}

PyObject* get_http_version(PyObject* self, void*) {
    uint8_t v = R(self).version_minor;
    return PyUnicode_FromString(v == 0                     ? "1.0"
                                : v == http::version_http2 ? "2"
                                : v == http::version_http3 ? "3"
                                                           : "1.1");
}

PyObject* get_keep_alive(PyObject* self, void*) {
    return PyBool_FromLong(R(self).keep_alive);
}

PyObject* pairs_to(PyObject* cls, PyObject* list) {
    if (list == nullptr) {
        return nullptr;
    }
    PyObject* obj = PyObject_CallOneArg(cls, list);
    Py_DECREF(list);
    return obj;
}

PyObject* get_headers(PyObject* self, void*) {
    request_object* o = O(self);
    if (PyObject* kept = cached(o->cache_headers)) {
        return kept;
    }
    std::string lower;
    PyObject* list = header_tuples(R(self), [&lower](std::string_view name, std::string_view value) {
        lower.assign(name);
        for (char& c : lower) {
            c = core::ascii_lower(c);
        }
        return std::pair{PyUnicode_DecodeLatin1(lower.data(), static_cast<Py_ssize_t>(lower.size()), nullptr),
                         latin1_text(value)};
    });
    if (list == nullptr) {
        return nullptr;
    }
    return get_cached(o->cache_headers, pairs_to(o->types->headers, list));
}

PyObject* get_query(PyObject* self, void*) {
    request_object* o = O(self);
    if (PyObject* kept = cached(o->cache_query)) {
        return kept;
    }
    const auto& r = R(self);
    return get_cached(o->cache_query, new_query_params(*o->types, r.query.in(r.data)));
}

// uuid.UUID, imported on the first uuid parameter (kept for the process's life).
PyObject* uuid_class() {
    static PyObject* cls = nullptr;
    if (cls == nullptr) {
        PyObject* mod = PyImport_ImportModule("uuid");
        cls = mod != nullptr ? PyObject_GetAttrString(mod, "UUID") : nullptr;
        Py_XDECREF(mod);
    }
    return cls;
}

PyObject* get_params(PyObject* self, void*) {
    request_object* o = O(self);
    if (PyObject* kept = cached(o->cache_params)) {
        return kept;
    }
    const auto& r = R(self);
    PyObject* d = PyDict_New();
    if (d == nullptr) {
        return nullptr;
    }
    Py_ssize_t names = o->param_names != nullptr ? PyTuple_GET_SIZE(o->param_names) : 0;
    for (uint8_t i = 0; i < r.num_params && i < names; ++i) {
        const dispatch::app_param& p = r.params[i];
        PyObject* v;
        if (p.type == dispatch::param_type::integer) {
            v = PyLong_FromLongLong(p.int_value);
        } else if (p.type == dispatch::param_type::floating) {
            v = PyFloat_FromDouble(dispatch::float_of(p.int_value));
        } else {
            // str, uuid and path: the decoded text (a path's "%2F" becomes '/'), then a uuid
            // becomes a uuid.UUID (the router checked its form, so the call cannot fail on it).
            std::string_view raw = p.raw.in(r.data);
            std::string decoded;
            if (http::needs_decoding(raw, false) && http::percent_decode(raw, decoded, false)) {
                v = decode_text(decoded);
            } else {
                v = decode_text(raw);
            }
            if (v != nullptr && p.type == dispatch::param_type::uuid) {
                PyObject* text = v;
                PyObject* uuid_type = uuid_class();
                v = uuid_type != nullptr ? PyObject_CallOneArg(uuid_type, text) : nullptr;
                Py_DECREF(text);
            }
        }
        if (v == nullptr || PyDict_SetItem(d, PyTuple_GET_ITEM(o->param_names, i), v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return nullptr;
        }
        Py_DECREF(v);
    }
    return get_cached(o->cache_params, d);
}

// A body streamed to the handler is not in the request: say how to read it.
bool refuse_streamed(PyObject* self) {
    if (R(self).streamed_body) [[unlikely]] {
        PyErr_SetString(PyExc_RuntimeError,
                        "this request's body is streamed to the handler (larger than 1 MiB or chunked): "
                        "use `await req.read()` or `async for chunk in req.stream()`");
        return true;
    }
    return false;
}

PyObject* get_body(PyObject* self, void*) {
    request_object* o = O(self);
    if (refuse_streamed(self)) {
        return nullptr;
    }
    if (PyObject* kept = cached(o->cache_body)) {
        return kept;
    }
    const auto& r = R(self);
    std::string_view b = r.body.in(r.data);
    return get_cached(o->cache_body, PyBytes_FromStringAndSize(b.data(), static_cast<Py_ssize_t>(b.size())));
}

PyObject* get_client(PyObject* self, void*) {
    const auto& peer = R(self).peer;
    if (peer.family == 0) {
        Py_RETURN_NONE;
    }
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(peer.family, peer.addr, buf, sizeof(buf));
    return Py_BuildValue("(si)", buf, static_cast<int>(peer.port));
}

// The Host the client asked for: a trusted proxy's X-Forwarded-Host/Forwarded host, else
// the Host header ("" when there is none: HTTP/1.0).
std::string_view host_of(const dispatch::app_request& r) {
    if (r.forwarded_host.len != 0) {
        return r.forwarded_host.in(r.data);
    }
    for (size_t i = 0; i + 1 < r.headers.size(); i += 2) {
        std::string_view name = r.headers[i].in(r.data);
        if (core::iequals(name, "host")) {
            return r.headers[i + 1].in(r.data);
        }
    }
    return {};
}

PyObject* get_tls(PyObject* self, void*) {
    const auto& r = R(self);
    if (!r.tls) {
        Py_RETURN_NONE;
    }
    return new_tls_info(r.tls);
}

PyObject* get_proxy_protocol(PyObject* self, void*) {
    const auto& r = R(self);
    if (!r.proxy) {
        Py_RETURN_NONE;
    }
    return proxy_info_dict(*r.proxy);
}

PyObject* get_scheme(PyObject* self, void*) {
    return PyUnicode_FromString(R(self).https ? "https" : "http");
}

PyObject* get_request_id(PyObject* self, void*) {
    const dispatch::app_request& r = R(self);
    if (r.request_id.len == 0) {
        Py_RETURN_NONE;
    }
    return latin1_text(r.request_id.in(r.data));
}

PyObject* get_host(PyObject* self, void*) {
    return latin1_text(host_of(R(self)));
}

PyObject* get_url(PyObject* self, void*) {
    const auto& r = R(self);
    std::string url = r.https ? "https://" : "http://";
    url.append(host_of(r));
    url.append(r.target.in(r.data));
    return decode_text(url);
}

PyObject* get_body_stream(PyObject* self, void*) {
    const auto& r = R(self);
    if (!r.streamed_body) {
        Py_RETURN_NONE;
    }
    return new_body_handle(std::static_pointer_cast<request_body>(r.streamed_body), O(self)->types);
}

PyObject* get_disconnect_watch(PyObject* self, void*) {
    const auto& r = R(self);
    if (!r.watch) {
        Py_RETURN_NONE;
    }
    return new_body_handle(std::static_pointer_cast<request_body>(r.watch), O(self)->types);
}

PyObject* get_websocket(PyObject* self, void*) {
    return PyBool_FromLong(R(self).websocket);
}

PyObject* method_stream(PyObject* self, PyObject*) {
    return PyObject_CallOneArg(O(self)->types->request_stream, self);
}

// req.stream() over a body read whole: the piece at `offset`, at most request_body::max_chunk
// bytes, b"" past the end; the whole body when req.body made it already. Pieces stay
// under malloc's mmap threshold, so none is mapped, faulted in and unmapped.
PyObject* method_body_piece(PyObject* self, PyObject* arg) {
    Py_ssize_t off = PyLong_AsSsize_t(arg);
    const auto& r = R(self);
    if ((off < 0 && PyErr_Occurred()) || refuse_streamed(self)) {
        return nullptr;
    }
    std::string_view b = r.body.in(r.data);
    if (off == 0 && O(self)->cache_body != nullptr) {
        return Py_NewRef(O(self)->cache_body);
    }
    size_t at = std::min(static_cast<size_t>(std::max<Py_ssize_t>(off, 0)), b.size());
    size_t n = std::min(b.size() - at, request_body::max_chunk);
    return PyBytes_FromStringAndSize(b.data() + at, static_cast<Py_ssize_t>(n));
}

PyObject* method_read(PyObject* self, PyObject*) {
    return PyObject_CallOneArg(O(self)->types->request_read, self);
}

PyObject* method_json(PyObject* self, PyObject*) {
    if (refuse_streamed(self)) {
        return nullptr;
    }
    const auto& r = R(self);
    std::string_view b = r.body.in(r.data);
    if (b.empty()) {
        PyErr_SetString(O(self)->types->bad_request, "Invalid JSON body: the request has no body");
        return nullptr;
    }
    bool padded = r.data.capacity() - (b.data() + b.size() - r.data.data()) >= json_padding;
    return parse_json(b.data(), b.size(), padded, O(self)->types->bad_request);
}

PyObject* method_text(PyObject* self, PyObject*) {
    if (refuse_streamed(self)) {
        return nullptr;
    }
    const auto& r = R(self);
    std::string_view b = r.body.in(r.data);
    if (b.size() > 1 && is_ascii(b)) [[likely]] {
        return ascii_str(b); // valid UTF-8 as it is: a copy, no decoder
    }
    PyObject* s = PyUnicode_DecodeUTF8(b.data(), static_cast<Py_ssize_t>(b.size()), "strict");
    if (s == nullptr && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        PyErr_SetString(O(self)->types->bad_request, "Request body is not valid UTF-8");
    }
    return s;
}

// ---- the Python-side request helpers (ringbolt._reqresp) ----

// A Request method written in Python (ringbolt._reqresp: forms, cookies to set,
// background tasks; nothing on the hot path calls one), as the package registered it at
// import (_native._set_request_methods): `fn` is that callable, or null before then.
bool registered(PyObject* fn) {
    if (fn == nullptr) [[unlikely]] {
        PyErr_SetString(PyExc_RuntimeError, "the Request's Python methods are not registered (import ringbolt)");
        return false;
    }
    return true;
}

const python_types& types_of(PyObject* self) {
    return *reinterpret_cast<request_object*>(self)->types;
}

PyObject* call_reqresp(PyObject* fn, PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    if (!registered(fn)) {
        return nullptr;
    }
    Py_ssize_t n = nargs + (kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0);
    std::vector<PyObject*> all(static_cast<size_t>(n) + 1);
    all[0] = self;
    for (Py_ssize_t i = 0; i < n; ++i) {
        all[static_cast<size_t>(i) + 1] = args[i];
    }
    return PyObject_Vectorcall(fn, all.data(), static_cast<size_t>(nargs) + 1, kwnames);
}

PyObject* method_form(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    return call_reqresp(types_of(self).request_form, self, args, nargs, kwnames);
}

PyObject* method_set_cookie(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    return call_reqresp(types_of(self).request_set_cookie, self, args, nargs, kwnames);
}

PyObject* method_delete_cookie(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    return call_reqresp(types_of(self).request_delete_cookie, self, args, nargs, kwnames);
}

PyObject* get_background(PyObject* self, void*) {
    return call_reqresp(types_of(self).request_background, self, nullptr, 0, nullptr);
}

PyObject* method_finish(PyObject* self, PyObject* result) {
    return finish_result(reinterpret_cast<request_object*>(self), result);
}

PyObject* repr(PyObject* self) {
    const auto& r = R(self);
    std::string_view m = r.method.in(r.data);
    std::string_view t = r.target.in(r.data);
    return PyUnicode_FromFormat("<Request %.*s %.*s>", static_cast<int>(m.size()), m.data(),
                                static_cast<int>(t.size() > 200 ? 200 : t.size()), t.data());
}

// ---- server-mode views: an ASGI scope and a WSGI environ built in one pass ----

PyObject* method_asgi_scope(PyObject* self, PyObject* base) {
    PyObject* method = get_method(self, nullptr);
    PyObject* path = method != nullptr ? get_path(self, nullptr) : nullptr;
    PyObject* scope = path != nullptr ? asgi_scope_of(R(self), base, method, path) : nullptr; // asgi_scope.cpp
    Py_XDECREF(method);
    Py_XDECREF(path);
    return scope;
}

PyObject* method_wsgi_environ(PyObject* self, PyObject* base) {
    return wsgi_environ(R(self), base); // wsgi_environ.cpp
}

// The method is a read-only object member, set when the request object is made: the
// interpreter's attribute cache reads a member in a few instructions (CPython 3.11+
// specialise LOAD_ATTR for a T_OBJECT_EX slot), where a getter goes through the generic
// lookup and a call (~120 instructions a read).
PyMemberDef members[] = {
    {"method", T_OBJECT_EX, offsetof(request_object, cache_method), READONLY, "Request method (str)."},
    {nullptr, 0, 0, 0, nullptr},
};

PyGetSetDef getset[] = {
    {"path", get_path, nullptr, "Percent-decoded path (str).", nullptr},
    {"raw_path", get_raw_path, nullptr, "Path as sent (bytes).", nullptr},
    {"target", get_target, nullptr, "Request target as sent (str).", nullptr},
    {"query_string", get_query_string, nullptr, "Raw query string (str, without '?').", nullptr},
    {"query", get_query, nullptr, "Query parameters (QueryParams: first value; getlist for all).", nullptr},
    {"params", get_params, nullptr,
     "Path parameters (dict: str; int for {x:int}, float for {x:float}, uuid.UUID for {x:uuid}).", nullptr},
    {"headers", get_headers, nullptr, "Request headers (case-insensitive Headers).", nullptr},
    {"body", get_body, nullptr, "Request body (bytes).", nullptr},
    {"_body_stream", get_body_stream, nullptr, "The streamed body's handle (RequestBody), or None.", nullptr},
    {"_disconnect_watch", get_disconnect_watch, nullptr,
     "A RequestBody that raises ClientDisconnect once the client left (or None).", nullptr},
    {"_websocket", get_websocket, nullptr, "A valid WebSocket handshake for a route that takes them.", nullptr},
    {"client", get_client, nullptr, "(host, port) of the peer.", nullptr},
    {"http_version", get_http_version, nullptr, "'1.0', '1.1', '2' or '3'.", nullptr},
    {"keep_alive", get_keep_alive, nullptr, "Whether the connection stays open after the response.", nullptr},
    {"tls", get_tls, nullptr,
     "The connection's TLS facts (TLSInfo: version, cipher, client_cert...), or None on plain HTTP.", nullptr},
    {"proxy_protocol", get_proxy_protocol, nullptr,
     "What a load balancer's PROXY protocol header said (dict: version, balancer, destination, alpn, authority, "
     "unique_id, ssl), or None without one.",
     nullptr},
    {"scheme", get_scheme, nullptr, "'http' or 'https' (from a trusted proxy's headers).", nullptr},
    {"host", get_host, nullptr, "The requested host (Host, or a trusted proxy's forwarded host).", nullptr},
    {"url", get_url, nullptr, "scheme://host/target as the client asked for it.", nullptr},
    {"request_id", get_request_id, nullptr,
     "The request's id (app.enable_request_id: the client's when valid, else a new one), or None.", nullptr},
    {"cookies", request_cookies, nullptr, "Cookies the client sent (dict name -> value, RFC 6265).", nullptr},
    {"last_event_id", request_last_event_id, nullptr, "The Last-Event-ID header (SSE reconnect), or None.", nullptr},
    {"background", get_background, nullptr, "BackgroundTasks run after the response is sent.", nullptr},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, "Attributes a handler set.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyMethodDef methods[] = {
    {"json", method_json, METH_NOARGS, "Parse the body as JSON (simdjson). Raises BadRequest (400) if invalid."},
    {"text", method_text, METH_NOARGS, "The body decoded as UTF-8. Raises BadRequest (400) if invalid."},
    {"header", request_header, METH_O, "The first value of a header (case-insensitive), or None."},
    {"cookie", request_cookie, METH_O, "One cookie's value (the first of a repeated name), or None."},
    {"stream", method_stream, METH_NOARGS, "Async iterator over the body's chunks as they arrive."},
    {"read", method_read, METH_NOARGS, "Awaitable of the whole body (bytes)."},
    {"_body_piece", method_body_piece, METH_O, "req.stream() of a body read whole: the piece at an offset."},
    {"form", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(method_form)), METH_FASTCALL | METH_KEYWORDS,
     "The form (FormData): urlencoded or multipart; awaitable too (needed for a streamed body)."},
    {"set_cookie", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(method_set_cookie)),
     METH_FASTCALL | METH_KEYWORDS, "Set a cookie on whatever this handler returns (see Response.set_cookie)."},
    {"delete_cookie", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(method_delete_cookie)),
     METH_FASTCALL | METH_KEYWORDS, "Delete a cookie on whatever this handler returns."},
    {"_finish", method_finish, METH_O, "The handler's result with cookies/background applied (async runner)."},
    {"_asgi_scope", method_asgi_scope, METH_O, "The ASGI http scope: a copy of the given base dict plus this request."},
    {"_wsgi_environ", method_wsgi_environ, METH_O,
     "The WSGI environ: a copy of the given base dict plus this request."},
    {nullptr, nullptr, 0, nullptr},
};

} // namespace

std::string_view print_peer(const http::peer_address& peer, char (&buf)[INET6_ADDRSTRLEN]) {
    if (peer.family != AF_INET) {
        if (inet_ntop(peer.family, peer.addr, buf, sizeof(buf)) == nullptr) {
            buf[0] = '\0';
        }
        return buf;
    }
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
        if (i > 0) {
            *p++ = '.';
        }
        p = std::to_chars(p, buf + sizeof(buf), static_cast<unsigned>(peer.addr[i])).ptr;
    }
    return {buf, static_cast<size_t>(p - buf)};
}

PyObject* method_text(const dispatch::app_request& r) {
    return method_of(r);
}

PyTypeObject request_type = native_type({
    .name = "ringbolt._native.Request",
    .basicsize = sizeof(request_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .doc = "An HTTP request (a view created by the server; not constructible).",
    .dealloc = dealloc,
    .repr = repr,
    .getattro = PyObject_GenericGetAttr,
    .setattro = PyObject_GenericSetAttr,
    .traverse = traverse,
    .clear = clear,
    .methods = methods,
    .members = members,
    .getset = getset,
    .dictoffset = offsetof(request_object, dict),
});

PyObject* asgi_scope(PyObject* req, PyObject* base) {
    return method_asgi_scope(req, base);
}

bool is_websocket_request(PyObject* req) {
    return R(req).websocket;
}

int init_request_type(PyObject* module) {
    for (size_t i = 0; i < std::size(http::method_bit_names); ++i) {
        const std::string_view name = http::method_bit_names[i];
        interned_methods[i] = PyUnicode_FromStringAndSize(name.data(), static_cast<Py_ssize_t>(name.size()));
        PyUnicode_InternInPlace(&interned_methods[i]);
    }
    return ready_native_type(request_type, module, "Request") ? 0 : -1;
}

request_object* new_request(dispatch::app_request* req, PyObject* param_names, const python_types* types) {
    // The method first (a method the parser does not know is a new str, which can fail).
    PyObject* method = method_of(*req);
    if (method == nullptr) [[unlikely]] {
        return nullptr;
    }
    request_object* o = request_free.take();
    if (o != nullptr) [[likely]] {
        PyObject_Init(reinterpret_cast<PyObject*>(o), &request_type); // its GC header is as GC_New left it
    } else {
        o = PyObject_GC_New(request_object, &request_type);
        if (o == nullptr) {
            Py_DECREF(method);
            return nullptr;
        }
    }
    o->req = req;
    o->detached = false;
    Py_XINCREF(param_names);
    o->param_names = param_names;
    o->types = types;
    o->cache_method = method;
    o->cache_path = o->cache_headers = o->cache_query = o->cache_params = o->cache_body = nullptr;
    o->cache_cookies = nullptr;
    o->dict = nullptr;
    PyObject_GC_Track(reinterpret_cast<PyObject*>(o));
    return o;
}

// Whether what the handler's request holds needs ringbolt._reqresp.finish_result: cookies to set, background tasks, a
// parsed form, or a session (ringbolt.sessions) that changed or must be re-sent. A route that only read its session
// skips the Python call (about 5k instructions). On any error: true, and finish_result decides.
bool state_needs_finish(PyObject* dict) noexcept {
    static PyObject* cookies = PyUnicode_InternFromString("_rb_cookies");
    static PyObject* background = PyUnicode_InternFromString("_rb_background");
    static PyObject* form = PyUnicode_InternFromString("_rb_form");
    static PyObject* session = PyUnicode_InternFromString("_rb_session");
    static PyObject* modified = PyUnicode_InternFromString("modified");
    static PyObject* renew = PyUnicode_InternFromString("renew");
    if (cookies == nullptr || background == nullptr || form == nullptr || session == nullptr || modified == nullptr ||
        renew == nullptr || !PyDict_Check(dict)) {
        PyErr_Clear();
        return true;
    }
    PyObject* c = PyDict_GetItemWithError(dict, cookies); // borrowed
    if (c != nullptr && PyObject_IsTrue(c) != 0) {
        PyErr_Clear(); // (a truth test that failed: finish_result decides)
        return true;
    }
    if (PyErr_Occurred() || PyDict_GetItemWithError(dict, background) != nullptr ||
        PyDict_GetItemWithError(dict, form) != nullptr || PyErr_Occurred()) {
        PyErr_Clear();
        return true;
    }
    PyObject* s = PyDict_GetItemWithError(dict, session);
    if (s == nullptr) {
        bool failed = PyErr_Occurred() != nullptr;
        PyErr_Clear();
        return failed;
    }
    for (PyObject* name : {modified, renew}) {
        PyObject* v = PyObject_GetAttr(s, name);
        int truth = v != nullptr ? PyObject_IsTrue(v) : -1;
        Py_XDECREF(v);
        if (truth != 0) {
            PyErr_Clear();
            return true;
        }
    }
    return false;
}

bool needs_finish(PyObject* state, PyObject* result, const python_types& types) noexcept {
    if (state != nullptr && state_needs_finish(state)) [[unlikely]] {
        return true; // the handler set cookies, background tasks, a parsed form, a session
    }
    if (PyDict_CheckExact(result) || PyUnicode_CheckExact(result) || types.response == nullptr) [[likely]] {
        return false;
    }
    // A Response/StreamingResponse with cookies to resolve or background tasks.
    if (!PyObject_TypeCheck(result, reinterpret_cast<PyTypeObject*>(types.response)) &&
        !PyObject_TypeCheck(result, reinterpret_cast<PyTypeObject*>(types.streaming_response))) {
        return false;
    }
    static PyObject* name = PyUnicode_InternFromString("_after");
    PyObject* after = PyObject_GetAttr(result, name);
    if (after == nullptr) {
        PyErr_Clear();
        return false;
    }
    bool needed = after != Py_None;
    Py_DECREF(after);
    return needed;
}

PyObject* finish_result(request_object* obj, PyObject* result) {
    if (!needs_finish(obj->dict, result, *obj->types)) {
        Py_INCREF(result);
        return result;
    }
    PyObject* fn = obj->types->finish_result;
    if (!registered(fn)) {
        return nullptr;
    }
    return PyObject_CallFunctionObjArgs(fn, reinterpret_cast<PyObject*>(obj), result, nullptr);
}

void detach_request(request_object* obj) {
    if (obj->detached) {
        return;
    }
    dispatch::app_request& entry = *obj->req;
    if (dispatch::app_request* own = detached_kept.take(); own != nullptr) [[likely]] {
        // The request moves in; the entry gets the kept buffers (cleared) in exchange.
        std::string data = std::move(own->data);
        std::vector<dispatch::span32> headers = std::move(own->headers);
        *own = std::move(entry);
        entry.data = std::move(data);
        entry.headers = std::move(headers);
        obj->req = own;
        obj->detached = true;
        return;
    }
    obj->req = new dispatch::app_request(std::move(entry));
    obj->detached = true;
}

void release_request(request_object* obj) {
    // The handler may have kept the request (stored it, a closure, another thread): then
    // it gets its own copy of the request before the batch entry goes.
#ifdef Py_GIL_DISABLED
    // Free-threaded CPython: the count is split between the owning thread and a shared
    // part, and another thread can take or drop a reference between a read and the
    // move, so the count cannot tell; detach always.
    detach_request(obj);
#else
    // With the GIL held nobody else can change the count: 1 means only this reference
    // is left and the view dies right here. Copying only when kept keeps the object
    // small (under CPython's 512-byte small-object limit: no malloc per request) and
    // spares the move of every member per request.
    if (Py_REFCNT(obj) > 1) {
        detach_request(obj);
    }
#endif
    Py_DECREF(obj);
}

} // namespace ringbolt::py
