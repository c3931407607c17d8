// ringbolt._native.Request: a thin Python view of one dispatch::app_request. Attributes
// become Python objects only when read, and are cached. While the handler runs the
// view points into the reactor's batch; before the dispatcher drops its reference the
// request is moved into the object (detach), so a view the handler kept never dangles.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "dispatch/app_request.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <string_view>
#include <utility>

namespace ringbolt::py {

struct python_types; // ringbolt.Headers, QueryParams, BadRequest... (app_bridge.hpp)

/// `d[key] = value`, stealing `value` (a new reference, or nullptr when making it failed);
/// false with an exception set. How the ASGI scope, the WSGI environ and the TLS views
/// are filled.
inline bool set_item(PyObject* d, const char* key, PyObject* value) {
    if (value == nullptr) {
        return false;
    }
    int rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc == 0;
}

/// `d[key] = value` under an interned key object, stealing `value` as set_item does.
inline bool set_key(PyObject* d, PyObject* key, PyObject* value) {
    if (value == nullptr) {
        return false;
    }
    int rc = PyDict_SetItem(d, key, value);
    Py_DECREF(value);
    return rc == 0;
}

/// A str of the bytes `s` read as latin-1 (PEP 3333's "bytes as latin-1"; a header's
/// value), built directly: an ASCII text (the usual case) is one copy into a compact
/// ASCII str. New reference.
inline PyObject* latin1_text(std::string_view s) {
    unsigned char high = 0;
    for (char c : s) {
        high |= static_cast<unsigned char>(c);
    }
    PyObject* out = PyUnicode_New(static_cast<Py_ssize_t>(s.size()), (high & 0x80) != 0 ? 255 : 127);
    if (out != nullptr && !s.empty()) {
        std::memcpy(PyUnicode_DATA(out), s.data(), s.size());
    }
    return out;
}

/// The peer's address as text, printed into `buf`: an IPv4 address by hand (inet_ntop's
/// sprintf costs about 1,700 instructions per request), anything else by inet_ntop. The
/// ASGI scope's client and the WSGI environ's REMOTE_ADDR.
/// True when every byte of `s` is ASCII.
inline bool is_ascii(std::string_view s) noexcept {
    unsigned char high = 0;
    for (char c : s) {
        high |= static_cast<unsigned char>(c);
    }
    return (high & 0x80) == 0;
}

/// A new str of `s`, which is ASCII (is_ascii): a copy, no decoder.
inline PyObject* ascii_str(std::string_view s) {
    PyObject* u = PyUnicode_New(static_cast<Py_ssize_t>(s.size()), 127);
    if (u != nullptr && !s.empty()) {
        std::memcpy(PyUnicode_1BYTE_DATA(u), s.data(), s.size());
    }
    return u;
}

/// A str of UTF-8 text that should be valid (a certificate's subject, a balancer's TLV),
/// bad bytes replaced rather than refused. New reference.
inline PyObject* utf8_text(std::string_view s) {
    return PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
}

/// utf8_text, or None for an empty (absent) field. New reference.
inline PyObject* utf8_text_or_none(std::string_view s) {
    if (s.empty()) {
        Py_RETURN_NONE;
    }
    return utf8_text(s);
}

std::string_view print_peer(const http::peer_address& peer, char (&buf)[INET6_ADDRSTRLEN]);

/// A new list of the request's header fields as 2-tuples, in the order they came:
/// `field(name, value)` makes each tuple's two items (new references; nullptr for one that
/// could not be made). nullptr with the error set when an item or a tuple failed. The
/// Request's `headers` (str pairs) and the ASGI scope's (bytes pairs, names lowered).
template <class Field> PyObject* header_tuples(const dispatch::app_request& r, Field field) {
    size_t n = r.headers.size() / 2;
    PyObject* list = PyList_New(static_cast<Py_ssize_t>(n));
    if (list == nullptr) {
        return nullptr;
    }
    for (size_t i = 0; i < n; ++i) {
        auto [k, v] = field(r.headers[2 * i].in(r.data), r.headers[2 * i + 1].in(r.data));
        PyObject* t = (k != nullptr && v != nullptr) ? PyTuple_Pack(2, k, v) : nullptr;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (t == nullptr) {
            Py_DECREF(list);
            return nullptr;
        }
        PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), t);
    }
    return list;
}

struct request_object {
    PyObject_HEAD dispatch::app_request* req; ///< batch entry, or the object's own copy after detach
    bool detached;                            ///< `req` is the object's own heap copy (deleted with it)
    PyObject* param_names;                    ///< tuple of str (borrowed from the bridge, kept alive by it)
    const python_types* types;
    PyObject* cache_method;
    PyObject* cache_path;
    PyObject* cache_headers;
    PyObject* cache_query;
    PyObject* cache_params;
    PyObject* cache_body;
    PyObject* cache_cookies; ///< dict parsed from Cookie on first read
    PyObject* dict;          ///< __dict__ for handler-set attributes (req.state-like use)
};

extern PyTypeObject request_type;

inline request_object* as_request(PyObject* self) {
    return reinterpret_cast<request_object*>(self);
}
inline const dispatch::app_request& request_of(PyObject* self) {
    return *as_request(self)->req;
}

/// A getter's value made already (a new reference), or null.
inline PyObject* cached(PyObject* slot) {
    Py_XINCREF(slot);
    return slot;
}

/// `value` kept in `slot` and returned (a new reference), or null when making it failed.
inline PyObject* get_cached(PyObject*& slot, PyObject* value) {
    if (value == nullptr) {
        return nullptr;
    }
    slot = value;
    Py_INCREF(value);
    return value;
}

// request_fields.cpp: the header fields read from the request's bytes (RFC 6265 cookies:
// every one, or one by name; one header's first value; Last-Event-ID).
PyObject* request_cookies(PyObject* self, void*);
PyObject* request_cookie(PyObject* self, PyObject* name);
/// The first cookie named `name` (its value as sent, a DQUOTE pair removed): false when none.
bool find_cookie(const dispatch::app_request& r, std::string_view name, std::string_view& value);
PyObject* request_header(PyObject* self, PyObject* name);
/// The first value of header `name` (case-insensitive), as sent: false when there is none.
bool find_header(const dispatch::app_request& r, std::string_view name, std::string_view& value);
PyObject* request_last_event_id(PyObject* self, void*);

/// req._asgi_scope(base) for a Request (exact type): the ASGI http scope, a new dict.
PyObject* asgi_scope(PyObject* req, PyObject* base);

/// The Request (exact type) is a WebSocket handshake for a route that takes them.
bool is_websocket_request(PyObject* req);

/// Text as a client sent it (UTF-8, other bytes kept with surrogateescape): new reference.
PyObject* decode_text(std::string_view s);

/// A request's query as a QueryParams (query_params.cpp): each name's first value, the
/// pairs in `_items` when a name repeats (built in place where types.query_items_offset
/// allows, else through the class's __init__). New reference.
PyObject* new_query_params(const python_types& types, std::string_view query);

/// Drops a request's reference to its QueryParams (`query` left null): one nobody else
/// holds is emptied and kept for the next request's query (GIL builds).
void release_query_params(const python_types& types, PyObject*& query);

/// Where `cls` (ringbolt.QueryParams) keeps its `_items` slot, when it is a dict subclass
/// with that slot (then a request's query is built straight into one); else -1.
Py_ssize_t query_items_offset(PyObject* cls);

/// Ready the type (once, at module init).
int init_request_type(PyObject* module);

/// New request view over `req`.
request_object* new_request(dispatch::app_request* req, PyObject* param_names, const python_types* types);

/// The handler returned: drop the dispatcher's reference; when the view may outlive it,
/// move the request into the object's own copy first. With a GIL the reference count
/// says exactly whether anything else holds the view; on a free-threaded build it does
/// not, so there every request is detached.
void release_request(request_object* obj);

/// The handler's `result` as it goes on the wire (new reference; nullptr with an
/// exception): unchanged (one pointer and one type check) unless the handler set
/// cookies or background tasks on the request, or returned a Response carrying them;
/// then ringbolt._reqresp.finish_result applies them (Set-Cookie lines, Secure on https)
/// and schedules the tasks for after the response.
PyObject* finish_result(request_object* obj, PyObject* result);

/// Whether finish_result has anything to do for a request whose attributes are `state`
/// (its __dict__, or nullptr) and whose handler returned `result`: cookies, background
/// tasks or a parsed form on the request, a session (ringbolt.sessions) that changed or
/// must be re-sent, a Response carrying cookies or tasks. The one rule: the ASGI adapter
/// asks it too (_native._needs_finish). Never raises.
bool needs_finish(PyObject* state, PyObject* result, const python_types& types) noexcept;

/// `result` goes on the wire as it is, seen without a call: the handler set no attribute
/// on the request and returned a dict or a str (finish_result's common answer).
inline bool result_is_final(const request_object* obj, PyObject* result) noexcept {
    return obj->dict == nullptr && (PyDict_CheckExact(result) || PyUnicode_CheckExact(result));
}

/// Give the view its own copy of the request now (it will outlive the batch: async).
void detach_request(request_object* obj);

/// A request's method as `req.method` gives it: an interned str for the methods the
/// parser knows. New reference.
PyObject* method_text(const dispatch::app_request& r);

} // namespace ringbolt::py
