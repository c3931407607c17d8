// Runs Python handlers for a reactor's batch: the GIL is taken once per batch with the
// reactor's own PyThreadState; each handler is called with vectorcall; its result is
// turned into a response message (framed by the reactor); exceptions become 500 (logged
// with their traceback) or the status of an HTTPError, and never unwind into the loop.
#include "pymod/native/bridge/app_bridge.hpp"
#include "pymod/native/py_exception.hpp"

#include "core/clock.hpp"
#include "core/cpu.hpp"
#include "core/date_cache.hpp"
#include "core/log.hpp"
#include "core/probes.hpp"
#include "dispatch/access_log.hpp"
#include "http/response_writer.hpp"
#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/bridge/response_stream.hpp"
#include "pymod/native/json/json_py.hpp"
#include "pymod/native/wsgi/wsgi_call.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <optional>
#include <strings.h>
#include <sys/stat.h>

namespace ringbolt::py {

namespace {

PyObject* str_status = nullptr;
PyObject* str_body = nullptr;
PyObject* str_headers = nullptr;
PyObject* str_content_type = nullptr;
PyObject* str_detail = nullptr;
PyObject* str_content = nullptr;
PyObject* str_path = nullptr;
PyObject* str_problem = nullptr;
PyObject* str_last_modified = nullptr;

void intern_names() {
    if (str_status == nullptr) {
        str_status = PyUnicode_InternFromString("status");
        str_body = PyUnicode_InternFromString("body");
        str_headers = PyUnicode_InternFromString("headers");
        str_content_type = PyUnicode_InternFromString("content_type");
        str_detail = PyUnicode_InternFromString("detail");
        str_content = PyUnicode_InternFromString("content");
        str_path = PyUnicode_InternFromString("path");
        str_problem = PyUnicode_InternFromString("problem");
        str_last_modified = PyUnicode_InternFromString("last_modified");
    }
}

// The exception now set, as one object (None when none is set).
PyObject* fetch_exception() {
    PyObject* value = take_exception();
    return value != nullptr ? value : Py_NewRef(Py_None);
}

constexpr std::string_view text_plain = "Content-Type: text/plain; charset=utf-8\r\n";
constexpr size_t borrow_body_at_least = 16 * 1024;

bool is_instance(PyObject* o, PyObject* type) {
    return type != nullptr && PyObject_TypeCheck(o, reinterpret_cast<PyTypeObject*>(type));
}

bool as_utf8(PyObject* s, std::string& out, const char* what) {
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(s)->tp_name);
        return false;
    }
    Py_ssize_t n;
    const char* p = PyUnicode_AsUTF8AndSize(s, &n);
    if (p == nullptr) {
        return false;
    }
    out.assign(p, static_cast<size_t>(n));
    return true;
}

// Body of a Response or of a bare return value.
bool convert_body(PyObject* body, response_parts& out, bool set_type) {
    if (body == Py_None) {
        return true;
    }
    if (PyBytes_Check(body)) {
        size_t n = static_cast<size_t>(PyBytes_GET_SIZE(body));
        if (n >= borrow_body_at_least) {
            // Sent from the bytes object itself (kept alive until sent): a large body
            // returned many times (a constant, a cache) costs no copy per response.
            Py_INCREF(body);
            Py_XDECREF(out.body_ref);
            out.body_ref = body;
            out.body_view = std::string_view(PyBytes_AS_STRING(body), n);
        } else {
            out.body.assign(PyBytes_AS_STRING(body), n);
        }
        if (set_type) {
            out.known_type = "application/octet-stream";
        }
        return true;
    }
    if (PyUnicode_Check(body)) {
        Py_ssize_t n;
        const char* p = PyUnicode_AsUTF8AndSize(body, &n);
        if (p == nullptr) {
            return false;
        }
        out.body.assign(p, static_cast<size_t>(n));
        if (set_type) {
            out.known_type = "text/plain; charset=utf-8";
        }
        return true;
    }
    if (PyDict_Check(body) || PyList_Check(body)) {
        if (!write_json(body, out.body)) {
            return false;
        }
        if (set_type) {
            out.known_type = "application/json";
        }
        return true;
    }
    if (PyByteArray_Check(body) || PyMemoryView_Check(body)) {
        Py_buffer view;
        if (PyObject_GetBuffer(body, &view, PyBUF_SIMPLE) < 0) {
            return false;
        }
        out.body.assign(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
        PyBuffer_Release(&view);
        if (set_type) {
            out.known_type = "application/octet-stream";
        }
        return true;
    }
    PyErr_Format(PyExc_TypeError,
                 "a handler must return dict, list, str, bytes, None, Response or (body, status[, headers]); "
                 "got %.100s",
                 Py_TYPE(body)->tp_name);
    return false;
}

// A header name or value: str (sent as UTF-8) or bytes (sent as they are: ASGI).
bool header_text(PyObject* o, std::string& out, const char* what) {
    if (PyBytes_Check(o)) {
        out.assign(PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o)));
        return true;
    }
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be str or bytes, not %.100s", what, Py_TYPE(o)->tp_name);
        return false;
    }
    return as_utf8(o, out, what);
}

bool convert_headers(PyObject* headers, response_parts& out) {
    if (headers == Py_None) {
        return true;
    }
    // A list (a Response's ResponseHeaders is a list subclass) or tuple is walked as it is
    // (nothing below runs Python code while it walks: it cannot change); anything else is
    // copied into a list first.
    PyObject* items = PyList_Check(headers) || PyTuple_CheckExact(headers) ? Py_NewRef(headers)
                      : PyDict_Check(headers)                              ? PyDict_Items(headers)
                                                                           : PySequence_List(headers);
    if (items == nullptr) {
        return false;
    }
    bool ok = true;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
    PyObject** pairs = PySequence_Fast_ITEMS(items);
    out.headers.reserve(out.headers.size() + static_cast<size_t>(count));
    for (Py_ssize_t i = 0; ok && i < count; ++i) {
        PyObject* pair = pairs[i];
        bool is_tuple = PyTuple_Check(pair);
        if ((is_tuple ? PyTuple_GET_SIZE(pair) : PyList_Check(pair) ? PyList_GET_SIZE(pair) : 0) != 2) {
            PyErr_SetString(PyExc_TypeError, "headers must be a dict or a list of (name, value) pairs");
            ok = false;
            break;
        }
        PyObject* pname = is_tuple ? PyTuple_GET_ITEM(pair, 0) : PyList_GET_ITEM(pair, 0);
        PyObject* pvalue = is_tuple ? PyTuple_GET_ITEM(pair, 1) : PyList_GET_ITEM(pair, 1);
        auto& [name, value] = out.headers.emplace_back();
        ok = header_text(pname, name, "a header name") && header_text(pvalue, value, "a header value");
        if (ok && !http::valid_field_name(name)) {
            PyErr_Format(PyExc_ValueError, "invalid header name %R", pname);
            ok = false;
        } else if (ok && !http::valid_field_value(value)) {
            PyErr_Format(PyExc_ValueError, "header %R: value contains CR, LF or NUL", pname);
            ok = false;
        }
    }
    Py_DECREF(items);
    return ok;
}

bool convert_status(PyObject* status, response_parts& out) {
    long v = PyLong_AsLong(status);
    if (v == -1 && PyErr_Occurred()) {
        return false;
    }
    if (v < 100 || v > 999) {
        PyErr_Format(PyExc_ValueError, "invalid HTTP status %ld (must be 100-999)", v);
        return false;
    }
    out.status = static_cast<uint16_t>(v);
    return true;
}

} // namespace

bool convert_result(PyObject* result, const python_types& types, response_parts& out) {
    intern_names();
    if (PyDict_CheckExact(result)) [[likely]] {
        out.known_type = "application/json";
        return write_json(result, out.body);
    }
    if (result == Py_None) {
        out.status = 204;
        return true;
    }
    bool stream = is_instance(result, types.streaming_response);
    if (stream || is_instance(result, types.file_response)) {
        PyObject* status = PyObject_GetAttr(result, str_status);
        PyObject* headers = status ? PyObject_GetAttr(result, str_headers) : nullptr;
        PyObject* ctype = headers ? PyObject_GetAttr(result, str_content_type) : nullptr;
        PyObject* source = ctype ? PyObject_GetAttr(result, stream ? str_content : str_path) : nullptr;
        bool ok = source != nullptr && convert_status(status, out) && convert_headers(headers, out) &&
                  (ctype == Py_None || as_utf8(ctype, out.content_type, "media_type"));
        if (ok && stream) {
            out.source = response_parts::body_source::stream;
            out.content = source;
            source = nullptr;
        } else if (ok) {
            out.source = response_parts::body_source::file;
            ok = as_utf8(source, out.path, "path");
            // False for an adapter's file (ASGI pathsend, wsgi.file_wrapper): the app's
            // headers go out as written (RFC 9111 §4.2.2: a Last-Modified the app did not
            // send would make its answer heuristically cacheable).
            PyObject* stamp = ok ? PyObject_GetAttr(result, str_last_modified) : nullptr;
            if (stamp == nullptr && ok && PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Clear(); // a subclass made without __init__: the default
            } else if (stamp == nullptr) {
                ok = false;
            } else {
                out.last_modified = PyObject_IsTrue(stamp) == 1;
                Py_DECREF(stamp);
            }
        }
        Py_XDECREF(status);
        Py_XDECREF(headers);
        Py_XDECREF(ctype);
        Py_XDECREF(source);
        return ok;
    }
    if (types.response != nullptr && PyObject_TypeCheck(result, reinterpret_cast<PyTypeObject*>(types.response))) {
        PyObject* status = PyObject_GetAttr(result, str_status);
        PyObject* body = status ? PyObject_GetAttr(result, str_body) : nullptr;
        PyObject* headers = body ? PyObject_GetAttr(result, str_headers) : nullptr;
        PyObject* ctype = headers ? PyObject_GetAttr(result, str_content_type) : nullptr;
        bool ok = ctype != nullptr && convert_status(status, out) && convert_body(body, out, ctype == Py_None) &&
                  convert_headers(headers, out) &&
                  (ctype == Py_None || as_utf8(ctype, out.content_type, "content_type"));
        if (ok && !http::valid_field_value(out.content_type)) {
            PyErr_SetString(PyExc_ValueError, "content_type contains CR, LF or NUL");
            ok = false;
        }
        Py_XDECREF(status);
        Py_XDECREF(body);
        Py_XDECREF(headers);
        Py_XDECREF(ctype);
        return ok;
    }
    if (PyTuple_Check(result)) {
        Py_ssize_t n = PyTuple_GET_SIZE(result);
        if (n < 2 || n > 3) {
            PyErr_SetString(PyExc_TypeError, "a tuple return value must be (body, status) or (body, status, headers)");
            return false;
        }
        return convert_status(PyTuple_GET_ITEM(result, 1), out) &&
               convert_body(PyTuple_GET_ITEM(result, 0), out, true) &&
               (n == 2 || convert_headers(PyTuple_GET_ITEM(result, 2), out));
    }
    return convert_body(result, out, true);
}

namespace {
void sink_one(uring::response_sink& sink, http::app_response&& m) {
    std::vector<http::app_response> one;
    one.push_back(std::move(m));
    Py_BEGIN_ALLOW_THREADS sink.deliver(one);
    Py_END_ALLOW_THREADS
}

void address_response_from(const http::app_response& from, http::app_response& to) {
    to.conn_slot = from.conn_slot;
    to.conn_gen = from.conn_gen;
    to.seq = from.seq;
    to.route_id = from.route_id;
    to.start_ns = from.start_ns;
}
} // namespace

void problem_answer(http::app_response& resp, uint16_t status, std::string_view problem) {
    text_answer(resp, status, problem);
    resp.start.fields = http::problem_content_type;
}

void text_answer(http::app_response& resp, uint16_t status, std::string_view text) {
    resp.start = http::response_head{};
    resp.start.status = status;
    resp.start.fields = text_plain;
    resp.start.content_length = static_cast<int64_t>(text.size());
    resp.body.assign(text);
    resp.borrowed = {};
    resp.keep.reset();
    resp.file.reset();
    resp.parts = http::app_response::part_head | http::app_response::part_body | http::app_response::part_end;
}

bool build_head(const response_parts& parts, http::response_head& head, bool head_request) {
    if (parts.status < 200) {
        // 1xx are interim responses the server sends itself (100 Continue); a 101 only
        // comes through the upgrade path, never as a handler's final answer.
        PyErr_Format(PyExc_ValueError, "a handler cannot answer with status %d (1xx is not a final response)",
                     static_cast<int>(parts.status));
        return false;
    }
    head.status = parts.status;
    head.fields.clear();
    std::string_view type = parts.type();
    bool typed = !type.empty() && !http::status_forbids_body(parts.status);
    if (parts.headers.empty() && (!typed || !parts.known_type.empty())) [[likely]] {
        // The hot path: no handler headers, a default type: static text, no allocation.
        head.static_fields = !typed                       ? std::string_view{}
                             : type == "application/json" ? std::string_view("Content-Type: application/json\r\n")
                             : type == "application/octet-stream"
                                 ? std::string_view("Content-Type: application/octet-stream\r\n")
                                 : std::string_view("Content-Type: text/plain; charset=utf-8\r\n");
    } else {
        // Only here: on the hot path above a reserve would be a malloc per response.
        head.fields.reserve(48 + parts.headers.size() * 40);
        if (typed) {
            head.fields.append("Content-Type: ");
            head.fields.append(type);
            head.fields.append("\r\n");
        }
    }
    int64_t declared = -1;
    for (const auto& [name, value] : parts.headers) {
        switch (http::check_app_field(name, value, head, declared)) {
        case http::field_action::keep:
            head.fields.append(name);
            head.fields.append(": ");
            head.fields.append(value);
            head.fields.append("\r\n");
            break;
        case http::field_action::drop:
        case http::field_action::content_length:
            break;
        case http::field_action::bad_length:
            PyErr_Format(PyExc_ValueError, "invalid or conflicting Content-Length header '%s'",
                         std::string(value).c_str());
            return false;
        }
    }
    if (parts.source == response_parts::body_source::bytes) {
        if (head_request && declared >= 0 && parts.body_size() == 0) {
            head.content_length = declared; // HEAD: the length GET would send (RFC 9110 §9.3.2), no body
            return true;
        }
        if (declared >= 0 && static_cast<uint64_t>(declared) != parts.body_size() &&
            !http::status_forbids_body(parts.status)) {
            PyErr_Format(PyExc_ValueError, "Content-Length: %lld does not match the body (%zu bytes)",
                         static_cast<long long>(declared), parts.body_size());
            return false;
        }
        head.content_length = static_cast<int64_t>(parts.body_size());
    } else {
        head.content_length = declared; // a stream may declare its length; the framer holds it to it
    }
    return true;
}

app_bridge::~app_bridge() {
    Py_XDECREF(_json_default);
    Py_XDECREF(_runner);
    for (auto& h : _handlers) {
        Py_XDECREF(h.callable);
        Py_XDECREF(h.param_names);
    }
}

uint32_t app_bridge::add_handler(PyObject* callable, PyObject* param_names, bool is_coroutine) {
    Py_INCREF(callable);
    Py_INCREF(param_names);
    _handlers.push_back({callable, param_names, is_coroutine, is_wsgi_call(callable)});
    return static_cast<uint32_t>(_handlers.size() - 1);
}

void app_bridge::prepare(unsigned reactors) {
    _interp = PyThreadState_Get()->interp;
    _thread_states.assign(reactors + 1, nullptr);
}

void app_bridge::error_response(PyObject* exc, const answer_meta& meta, http::app_response& resp) {
    intern_names();
    // HTTPError (and BadRequest from req.json()) carry their own status; anything else
    // is a bug in the handler: 500, and the traceback goes to the log.
    response_parts parts;
    bool handled = false;
    if (_types.http_error != nullptr && PyObject_IsInstance(exc, _types.http_error) == 1) {
        // An RFC 9457 problem: HTTPError.problem() gives its members (type, title,
        // status, detail and any extensions).
        PyObject* status = PyObject_GetAttr(exc, str_status);
        PyObject* headers = status ? PyObject_GetAttr(exc, str_headers) : nullptr;
        PyObject* body = headers ? PyObject_CallMethodNoArgs(exc, str_problem) : nullptr;
        if (body != nullptr && convert_status(status, parts)) {
            parts.content_type = "application/problem+json";
            handled = write_json(body, parts.body) && convert_headers(headers, parts) && build_head(parts, resp.start);
        }
        Py_XDECREF(status);
        Py_XDECREF(headers);
        Py_XDECREF(body);
        if (!handled) {
            PyErr_Clear();
        }
    }
    if (handled) {
        resp.body = parts.take_body();
    } else {
        if (_types.log_exception != nullptr) {
            std::string_view m = meta.method;
            std::string_view t = meta.target;
            PyObject* rv =
                PyObject_CallFunction(_types.log_exception, "Os#s#", exc, m.data(), static_cast<Py_ssize_t>(m.size()),
                                      t.data(), static_cast<Py_ssize_t>(t.size()));
            if (rv == nullptr) {
                PyErr_Clear();
            }
            Py_XDECREF(rv);
        }
        internal_error_answer(resp);
        return;
    }
    resp.parts = http::app_response::part_head | http::app_response::part_body | http::app_response::part_end;
}

void app_bridge::start_stream(response_parts& parts, const answer_meta& meta, http::app_response& resp,
                              uring::response_sink& sink) {
    http::response_head head;
    if (!build_head(parts, head)) {
        PyObject* exc = fetch_exception();
        error_response(exc, meta, resp);
        Py_DECREF(exc);
        sink_one(sink, std::move(resp));
        return;
    }
    std::string what(meta.method);
    what.push_back(' ');
    what.append(meta.target);
    auto stream = std::make_shared<response_stream>(sink, resp, std::move(head), std::move(what));
    if (meta.head_request) {
        // HEAD: the head alone; the iterator is never started (an endless event stream
        // would otherwise run for nothing).
        stream->end_without_body();
        PyObject* rv = PyObject_HasAttrString(parts.content, "close")
                           ? PyObject_CallMethod(parts.content, "close", nullptr)
                           : nullptr;
        Py_XDECREF(rv);
        PyErr_Clear();
        return;
    }
    PyObject* handle = new_stream_handle(stream);
    PyObject* rv = handle != nullptr && _types.start_stream != nullptr
                       ? PyObject_CallFunctionObjArgs(_types.start_stream, handle, parts.content, nullptr)
                       : nullptr;
    if (rv == nullptr) {
        PyObject* exc = fetch_exception();
        if (_types.log_exception != nullptr) {
            PyObject* r2 = PyObject_CallFunction(_types.log_exception, "Os#s#", exc, meta.method.data(),
                                                 static_cast<Py_ssize_t>(meta.method.size()), meta.target.data(),
                                                 static_cast<Py_ssize_t>(meta.target.size()));
            Py_XDECREF(r2);
            PyErr_Clear();
        }
        Py_DECREF(exc);
        stream->abort(); // nothing sent yet: a clean 500
    }
    Py_XDECREF(rv);
    Py_XDECREF(handle);
}

namespace {
void log_access(const app_bridge::answer_meta& meta, uint16_t status, int64_t body_bytes) noexcept {
    http::write_access_log(
        {meta.peer, meta.method, meta.target, meta.version_minor, status, body_bytes, meta.start_ns, meta.request_id});
}
} // namespace

// Inlined into finish(): the sync handlers' hot path keeps no extra call.
[[gnu::always_inline]] inline bool app_bridge::answer(response_parts* converted, PyObject* exc, const answer_meta& meta,
                                                      http::app_response& resp, uring::response_sink& sink) {
    bool logs = http::access_log_enabled();
    if (converted != nullptr) [[likely]] {
        response_parts& parts = *converted;
        if (parts.source == response_parts::body_source::bytes) [[likely]] {
            if (build_head(parts, resp.start, meta.head_request)) [[likely]] {
                if (logs) [[unlikely]] {
                    log_access(meta, resp.start.status, static_cast<int64_t>(parts.body_size()));
                }
                if (parts.body_ref != nullptr) {
                    resp.borrowed = parts.body_view;
                    resp.keep = hold_python_object(parts.body_ref);
                } else {
                    resp.body = std::move(parts.body);
                }
                resp.parts =
                    http::app_response::part_head | http::app_response::part_body | http::app_response::part_end;
                return true;
            }
        } else if (parts.source == response_parts::body_source::file) {
            if (file_message(parts, resp)) {
                if (logs) [[unlikely]] {
                    log_access(meta, resp.start.status, static_cast<int64_t>(resp.file_length));
                }
                return true;
            }
        } else {
            if (logs) [[unlikely]] {
                log_access(meta, parts.status, -1);
            }
            start_stream(parts, meta, resp, sink);
            return false;
        }
    }
    PyObject* raised = exc;
    if (raised == nullptr) {
        raised = fetch_exception();
    } else {
        Py_INCREF(raised);
    }
    error_response(raised, meta, resp);
    Py_DECREF(raised);
    if (logs) [[unlikely]] {
        log_access(meta, resp.start.status, static_cast<int64_t>(resp.body.size()));
    }
    return true;
}

bool app_bridge::finish(PyObject* result, PyObject* exc, const answer_meta& meta, http::app_response& resp,
                        uring::response_sink& sink) {
    // The App's json_default for dict/list results. Only set when the App has one: outside
    // a scope the thread's default is already null (scopes nest and restore), and setting
    // and restoring the thread_local costs three __tls_get_addr calls a request.
    std::optional<json_default_scope> json_default;
    if (_json_default != nullptr) [[unlikely]] {
        json_default.emplace(_json_default);
    }
    response_parts parts;
    bool converted = exc == nullptr && result != nullptr && convert_result(result, _types, parts);
    return answer(converted ? &parts : nullptr, exc, meta, resp, sink);
}

bool app_bridge::finish_wsgi(PyObject* result, const answer_meta& meta, http::app_response& resp,
                             uring::response_sink& sink) {
    if (result == nullptr || !is_wsgi_answer(result)) {
        return finish(result, nullptr, meta, resp, sink); // the Python path's Response, or its error
    }
    // WSGI's common case (wsgi_call.cpp): the head straight from the app's header list.
    int64_t body_bytes = 0;
    if (wsgi_answer_message(result, meta.head_request, resp, body_bytes)) [[likely]] {
        if (http::access_log_enabled()) [[unlikely]] {
            log_access(meta, resp.start.status, body_bytes);
        }
        return true;
    }
    return answer(nullptr, nullptr, meta, resp, sink); // its error is set: the 500
}

namespace {
app_bridge::answer_meta meta_of(const http::app_request& req) {
    return {req.method.in(req.data),    req.target.in(req.data),
            req.head_request,           &req.peer,
            req.version_minor,          req.start_ns,
            req.request_id.in(req.data)};
}

void address_response(const http::app_request& req, http::app_response& resp) {
    resp.conn_slot = req.conn_slot;
    resp.conn_gen = req.conn_gen;
    resp.seq = req.seq;
    resp.route_id = req.route_id;
    resp.start_ns = req.start_ns;
}

// An async request in flight on the asyncio runner: everything needed to answer it.
struct pending_answer {
    app_bridge* bridge;
    uring::response_sink* sink;
    http::app_response address; ///< addressing fields only
    std::string method, target;
    bool head_request;
    http::peer_address peer;
    uint8_t version_minor;
    std::string request_id; ///< for the access log
    bool done = false;
};

constexpr const char* pending_name = "ringbolt.pending";

// Async requests handed to the event loop: the (handler, request, pending) items of the
// reactors' batches (or the handler threads'), staged here under the GIL and taken by the
// loop when the notify eventfd fires (take_async_requests). The first staging since the
// last take asks for the wake-up; on a reactor thread it is written at the end of its
// turn, so the loop is not woken in the middle of a turn that still holds the GIL.
PyObject* g_async_staged = nullptr; // a list, or null: nothing staged

/// Stage `items` (a list; stolen) for the loop.
void stage_for_loop(PyObject* items) {
    if (g_async_staged == nullptr) {
        g_async_staged = items;
        if (!in_hosted_turn()) { // a hosting loop takes them after the turn, unwoken
            request_loop_wake();
        }
        return;
    }
    Py_ssize_t n = PyList_GET_SIZE(g_async_staged);
    if (PyList_SetSlice(g_async_staged, n, n, items) < 0) {
        PyErr_Print(); // out of memory: the items' pending destructors answer 500
    }
    Py_DECREF(items);
}

// Answers completed on the event loop, delivered once per loop iteration
// (flush_completions): a reactor is woken once for all of them, not once per answer.
// Guarded by the GIL.
std::vector<std::pair<uring::response_sink*, http::app_response>> g_staged;

// Nonzero while the event loop starts a reactor's batch (begin_batch): the batch ends
// with a flush of its own, so staging schedules none.
unsigned g_in_batch = 0;

// The answer of `p`: `result` converted, or `exc`; or, with `parts` (result and exc
// null), what an ASGI app sent, converted already (null parts and exc: the conversion
// failed with an exception set).
void deliver_pending(pending_answer& p, PyObject* result, PyObject* exc, bool stage = false,
                     response_parts* parts = nullptr) {
    http::app_response resp;
    address_response_from(p.address, resp);
    app_bridge::answer_meta meta{p.method,        p.target,           p.head_request, &p.peer,
                                 p.version_minor, p.address.start_ns, p.request_id};
    p.done = true;
    bool whole = result != nullptr || exc != nullptr ? p.bridge->finish(result, exc, meta, resp, *p.sink)
                                                     : p.bridge->answer(parts, nullptr, meta, resp, *p.sink);
    if (whole) {
        if (stage) {
            g_staged.emplace_back(p.sink, std::move(resp));
        } else {
            sink_one(*p.sink, std::move(resp));
        }
    }
}

void pending_destructor(PyObject* capsule) {
    auto* p = static_cast<pending_answer*>(PyCapsule_GetPointer(capsule, pending_name));
    if (p == nullptr) {
        PyErr_Clear();
        return;
    }
    if (!p->done) {
        // Never completed (the runner dropped it): the client still gets an answer.
        PyObject* err = PyObject_CallFunction(PyExc_RuntimeError, "s", "async handler was never completed");
        deliver_pending(*p, nullptr, err);
        Py_XDECREF(err);
    }
    delete p;
}
} // namespace

PyObject* complete_async(PyObject* capsule, PyObject* result, PyObject* exc) {
    auto* p = static_cast<pending_answer*>(PyCapsule_GetPointer(capsule, pending_name));
    if (p == nullptr) {
        return nullptr;
    }
    if (p->done) {
        PyErr_SetString(PyExc_RuntimeError, "this request was already answered");
        return nullptr;
    }
    bool first = g_staged.empty();
    deliver_pending(*p, exc == Py_None ? result : nullptr, exc == Py_None ? nullptr : exc, true);
    // The caller schedules flush_completions.
    return PyBool_FromLong(first && !g_staged.empty() && g_in_batch == 0);
}

int complete_asgi(PyObject* capsule, PyObject* status, PyObject* headers, PyObject* body) {
    auto* p = static_cast<pending_answer*>(PyCapsule_GetPointer(capsule, pending_name));
    if (p == nullptr) {
        return -1;
    }
    if (p->done) {
        PyErr_SetString(PyExc_RuntimeError, "this request was already answered");
        return -1;
    }
    // What convert_result does with Response(body, status, headers, content_type=""), in
    // the same order (so the same error is the one reported): no default Content-Type.
    response_parts parts;
    bool ok = convert_status(status, parts) && convert_body(body, parts, false) && convert_headers(headers, parts);
    bool first = g_staged.empty();
    deliver_pending(*p, nullptr, nullptr, true, ok ? &parts : nullptr);
    return first && !g_staged.empty() && g_in_batch == 0 ? 1 : 0;
}

void begin_batch() noexcept {
    ++g_in_batch;
}

PyObject* end_batch() {
    if (g_in_batch > 0) {
        --g_in_batch;
    }
    return flush_completions();
}

bool claim_pending(PyObject* capsule, uring::response_sink*& sink, http::app_response& address) {
    auto* p = static_cast<pending_answer*>(PyCapsule_GetPointer(capsule, pending_name));
    if (p == nullptr) {
        return false;
    }
    if (p->done) {
        PyErr_SetString(PyExc_RuntimeError, "this request was already answered");
        return false;
    }
    p->done = true;
    sink = p->sink;
    address_response_from(p->address, address);
    return true;
}

void deliver_now(uring::response_sink& sink, http::app_response&& m) {
    sink_one(sink, std::move(m));
}

bool stage_message(uring::response_sink& sink, http::app_response&& m) {
    bool first = g_staged.empty();
    g_staged.emplace_back(&sink, std::move(m));
    return first && g_in_batch == 0;
}

PyObject* flush_completions() {
    if (g_staged.empty()) {
        Py_RETURN_NONE;
    }
    std::vector<std::pair<uring::response_sink*, http::app_response>> staged;
    staged.swap(g_staged);
    Py_BEGIN_ALLOW_THREADS;
    // One deliver (one lock, at most one wake-up) per reactor, answers in their order.
    std::vector<http::app_response> batch;
    for (size_t i = 0; i < staged.size(); ++i) {
        uring::response_sink* sink = staged[i].first;
        if (sink == nullptr) {
            continue;
        }
        batch.clear();
        for (size_t j = i; j < staged.size(); ++j) {
            if (staged[j].first == sink) {
                batch.push_back(std::move(staged[j].second));
                staged[j].first = nullptr;
            }
        }
        if (!sink->deliver_here(batch)) { // sent from here on the thread that hosts the loop
            sink->deliver(batch);
        }
    }
    Py_END_ALLOW_THREADS;
    Py_RETURN_NONE;
}

void app_bridge::set_json_default(PyObject* fn) {
    Py_XINCREF(fn);
    Py_XDECREF(_json_default);
    _json_default = fn;
}

void app_bridge::set_async_runner(PyObject* runner) {
    _async_runner = runner != nullptr && runner != Py_None;
    Py_XSETREF(_runner, _async_runner ? Py_NewRef(runner) : nullptr);
}

void app_bridge::run_one(http::app_request& req, std::vector<http::app_response>& answers,
                         uring::response_sink& later) {
    // The answer is built in place (no move of the message into the vector); nothing
    // else appends to `answers` while the handler runs (it is this thread's).
    http::app_response& resp = answers.emplace_back();
    address_response(req, resp);
    const handler_entry& h = _handlers[req.handler];
    if (h.wsgi) {
        // A mounted WSGI app (wsgi_call.cpp): it reads the request natively; no Request
        // view, and no cookies or background tasks to apply to its answer.
        RB_PROBE2(handler_dispatched, req.conn_slot, req.seq);
        PyObject* result = run_wsgi_call(h.callable, req, h.param_names, &_types);
        if (!finish_wsgi(result, meta_of(req), resp, later)) [[unlikely]] {
            answers.pop_back(); // a stream: its head went to `later` on its own
        }
        Py_XDECREF(result);
        return;
    }
    request_object* obj = new_request(&req, h.param_names, &_types);
    if (obj == nullptr) {
        PyErr_Clear();
        internal_error_answer(resp);
        return;
    }
    PyObject* arg = reinterpret_cast<PyObject*>(obj);
    RB_PROBE2(handler_dispatched, req.conn_slot, req.seq);
    PyObject* result = PyObject_Vectorcall(h.callable, &arg, 1, nullptr);
    if (result != nullptr) {
        PyObject* final = finish_result(obj, result); // cookies/background/forms: usually `result` itself
        Py_DECREF(result);
        result = final;
    }
    if (!finish(result, nullptr, meta_of(req), resp, later)) [[unlikely]] {
        answers.pop_back(); // a stream: its head went to `later` on its own
    }
    Py_XDECREF(result);
    release_request(obj);
}

namespace {
// On a reactor thread that hosts the event loop, sync handlers run with no running loop
// there (as on any other reactor): one may call asyncio.run, or check for a loop as
// Django's async-unsafe guard does. Set aside before the batch's first sync handler and
// put back after its last, only in batches that have one (asyncio's setter is not free).
class running_loop_aside {
  public:
    ~running_loop_aside() {
        if (_aside) {
            PyObject* r = PyObject_CallOneArg(_set, _loop);
            Py_XDECREF(r);
            if (r == nullptr) {
                PyErr_WriteUnraisable(_set);
            }
            Py_DECREF(_loop);
        }
    }
    /// Before a sync handler: the first time in a batch of a hosted turn, set aside.
    void before_sync_handler() {
        if (_checked) {
            return;
        }
        _checked = true;
        if (!in_hosted_turn() || !load()) {
            return;
        }
        PyObject* loop = PyObject_CallNoArgs(_get);
        PyObject* r = loop != nullptr && loop != Py_None ? PyObject_CallOneArg(_set, Py_None) : nullptr;
        if (r == nullptr) {
            if (PyErr_Occurred()) {
                PyErr_WriteUnraisable(_set);
            }
            Py_XDECREF(loop);
            return;
        }
        Py_DECREF(r);
        _loop = loop;
        _aside = true;
    }

  private:
    static bool load() {
        if (_set == nullptr) {
            PyObject* mod = PyImport_ImportModule("_asyncio");
            _get = mod != nullptr ? PyObject_GetAttrString(mod, "_get_running_loop") : nullptr;
            _set = _get != nullptr ? PyObject_GetAttrString(mod, "_set_running_loop") : nullptr;
            Py_XDECREF(mod);
            if (_set == nullptr) {
                PyErr_WriteUnraisable(nullptr);
                Py_CLEAR(_get);
                return false;
            }
        }
        return true;
    }
    static inline PyObject* _get = nullptr; // process-wide, never released (module functions)
    static inline PyObject* _set = nullptr;
    PyObject* _loop = nullptr;
    bool _aside = false;
    bool _checked = false;
};
} // namespace

void app_bridge::run_batch(std::vector<http::app_request>& batch, std::vector<http::app_response>& answers,
                           uring::response_sink& later) {
    release_sent_objects();
    PyObject* async_items = nullptr;
    running_loop_aside aside;
    for (http::app_request& req : batch) {
        const handler_entry& h = _handlers[req.handler];
        if (!h.is_coroutine || !_async_runner) [[likely]] {
            aside.before_sync_handler();
            run_one(req, answers, later);
            continue;
        }
        // async def: hand (handler, request, pending) over to the asyncio runner.
        auto* p = new pending_answer{this,
                                     &later,
                                     {},
                                     std::string(req.method.in(req.data)),
                                     std::string(req.target.in(req.data)),
                                     req.head_request,
                                     req.peer,
                                     req.version_minor,
                                     std::string(req.request_id.in(req.data))};
        address_response(req, p->address);
        PyObject* capsule = PyCapsule_New(p, pending_name, pending_destructor);
        request_object* obj = capsule != nullptr ? new_request(&req, h.param_names, &_types) : nullptr;
        if (obj != nullptr) {
            detach_request(obj); // it outlives this batch
        }
        if (async_items == nullptr) {
            async_items = PyList_New(0);
        }
        PyObject* item =
            obj != nullptr ? PyTuple_Pack(3, h.callable, reinterpret_cast<PyObject*>(obj), capsule) : nullptr;
        if (item == nullptr || async_items == nullptr || PyList_Append(async_items, item) < 0) {
            PyErr_Clear(); // the capsule's destructor answers 500
        }
        Py_XDECREF(item);
        Py_XDECREF(reinterpret_cast<PyObject*>(obj));
        if (capsule == nullptr) {
            delete p;
            PyErr_Clear();
            http::app_response& resp = answers.emplace_back();
            address_response(req, resp);
            internal_error_answer(resp);
        } else {
            Py_DECREF(capsule);
        }
    }
    if (async_items != nullptr) {
        stage_for_loop(async_items); // one hand-over per batch
    }
}

PyObject* take_async_requests() {
    PyObject* items = g_async_staged;
    g_async_staged = nullptr;
    return items != nullptr ? items : Py_NewRef(Py_None);
}

uint64_t app_bridge::handle_batch(unsigned reactor_index, std::vector<http::app_request>& batch,
                                  std::vector<http::app_response>& responses, uring::response_sink& later) noexcept {
    PyThreadState*& ts = _thread_states[reactor_index];
    if (ts == nullptr) {
        ts = PyThreadState_New(_interp);
    }
    uint64_t t0 = monotonic_ns();
    PyEval_RestoreThread(ts);
    uint64_t waited = monotonic_ns() - t0;
    run_batch(batch, responses, later);
    PyEval_SaveThread();
    return waited;
}

std::shared_ptr<http::body_stream> app_bridge::make_body_stream(uring::response_sink& sink, uint32_t slot, uint32_t gen,
                                                                uint64_t seq) noexcept {
    return std::make_shared<request_body>(sink, slot, gen, seq);
}

void app_bridge::begin_turns() noexcept {
    begin_reactor_turns();
}

void app_bridge::end_of_turn() noexcept {
    // Twice a request: no thread_local access (a __tls_get_addr call from the extension)
    // unless some thread owes the loop a wake-up.
    if (reactor_wake_owed_somewhere()) [[unlikely]] {
        end_reactor_turn();
    }
}

namespace {
constexpr const char* reactor_capsule_name = "ringbolt.reactor";

// The turn function AsyncRunner.host calls: the GIL is released for the turn (its
// handle_batch takes it again with this thread's state).
PyObject* hosted_turn(PyObject* capsule, PyObject*) {
    auto* r = static_cast<uring::reactor*>(PyCapsule_GetPointer(capsule, reactor_capsule_name));
    if (r == nullptr) {
        return nullptr;
    }
    int state;
    Py_BEGIN_ALLOW_THREADS;
    begin_hosted_turn();
    state = r->hosted_turn();
    if (end_hosted_turn()) {
        state |= 4; // producers may go on (AsyncRunner.host wakes them now)
    }
    Py_END_ALLOW_THREADS;
    return PyLong_FromLong(state);
}

PyMethodDef hosted_turn_def = {"hosted_turn", hosted_turn, METH_NOARGS, nullptr};
} // namespace

bool app_bridge::host_loop(uring::reactor& r) noexcept {
    if (_runner == nullptr) {
        return false;
    }
    PyThreadState*& ts = _thread_states[r.index()];
    if (ts == nullptr) {
        ts = PyThreadState_New(_interp);
    }
    PyEval_RestoreThread(ts);
    PyObject* capsule = PyCapsule_New(&r, reactor_capsule_name, nullptr);
    PyObject* turn = capsule != nullptr ? PyCFunction_New(&hosted_turn_def, capsule) : nullptr;
    PyObject* done = turn != nullptr ? PyObject_CallMethod(_runner, "host", "Oi", turn, r.poll_fd()) : nullptr;
    if (done == nullptr) {
        log(log_level::error, "reactor %u: the event loop could not run on its thread; it runs its own turns",
            r.index());
        PyErr_Print();
    }
    Py_XDECREF(done);
    Py_XDECREF(turn);
    Py_XDECREF(capsule);
    PyEval_SaveThread();
    return done != nullptr;
}

void app_bridge::on_reactor_exit(unsigned reactor_index) noexcept {
    end_reactor_turn(false);
    PyThreadState*& ts = _thread_states[reactor_index];
    if (ts != nullptr) {
        PyEval_RestoreThread(ts);
        PyThreadState_Clear(ts);
        PyThreadState_DeleteCurrent();
        ts = nullptr;
    }
}

} // namespace ringbolt::py

namespace ringbolt::py {

void app_bridge::start_pool(unsigned threads) {
    if (_interp == nullptr) {
        _interp = PyThreadState_Get()->interp;
    }
    _pool_size = threads;
    _stopping = false;
    // A test hook (tests/py/test_wsgi.py): the pool threads hold back, before they first
    // wait for work, until this file exists, so that requests can be queued while no
    // pool thread waits (the start-up window a lost wake-up once hid in).
    const char* gate = std::getenv("RINGBOLT_TEST_POOL_GATE");
    _pool_gate = gate != nullptr ? gate : "";
    for (unsigned i = 0; i < threads; ++i) {
        _pool.emplace_back([this, i] {
            name_current_thread("rb-pool-", i);
            pool_main();
        });
    }
}

void app_bridge::stop_pool() noexcept {
    {
        std::lock_guard<std::mutex> lock(_queue_mutex);
        _stopping = true;
    }
    _queue_cv.notify_all();
    for (auto& t : _pool) {
        if (t.joinable()) {
            t.join();
        }
    }
    _pool.clear();
}

void app_bridge::submit(unsigned, std::vector<http::app_request>& batch, uring::response_sink& sink) noexcept {
    bool wake;
    {
        std::lock_guard<std::mutex> lock(_queue_mutex);
        for (auto& req : batch) {
            _queue.emplace_back(&sink, std::move(req));
        }
        wake = wake_standby_locked();
    }
    if (wake) {
        _queue_cv.notify_one();
    }
}

bool app_bridge::is_async(const http::app_request& req) const noexcept {
    return _handlers[req.handler].is_coroutine && _async_runner;
}

bool app_bridge::wake_standby_locked() noexcept {
    if (_standby > 0 || _idle <= _wakeups) {
        return false; // someone looks at the queue next, or every thread is busy
    }
    ++_wakeups;
    ++_standby; // on behalf of the thread it wakes
    return true;
}

// The pool runs queued requests one at a time, taken from the shared queue, and keeps
// exactly one thread on standby while there is work: a thread that takes a request
// while more is queued wakes a spare, which then waits for the GIL. Should the app call
// block (I/O, a lock, a sleep: the GIL is released), the spare gets the GIL at once and
// takes the next request, and wakes the next spare: blocking apps overlap up to the
// pool size. An app that does not block keeps the GIL; the spare gets it when the
// runner lets go to deliver, finds the queue empty and sleeps again. So a batch costs
// one wake-up and one GIL hand-off, whatever its size and the pool's (waking every
// thread per batch cost each of them a wake-up and a GIL round: 0.18 context switches
// per request for a plaintext WSGI app, BENCHMARKS.md issue 9).
//
// Answers wait in one shared outbox and go to each reactor in one delivery: when the
// queue runs dry, every `pool_delivery_batch` answers, before the last queued request
// runs, and whenever a spare gets the GIL (a runner that blocks must not hold back the
// answers it already has).
void app_bridge::pool_main() noexcept {
    constexpr size_t pool_delivery_batch = 64;
    PyThreadState* ts = PyThreadState_New(_interp);
    std::vector<http::app_request> run;
    std::vector<http::app_response> answers;
    outbox_t sending;
    // Under the lock: take what the outbox holds; then, unlocked, deliver it.
    auto deliver_outbox = [&](std::unique_lock<std::mutex>& lock) {
        if (_outbox_held == 0) {
            return;
        }
        sending.swap(_outbox);
        _outbox_held = 0;
        lock.unlock();
        for (auto& [sink, list] : sending) {
            if (!list.empty()) {
                sink->deliver(list);
                list.clear();
            }
        }
        lock.lock();
        if (_outbox.empty()) {
            _outbox.swap(sending); // keep the capacity
        }
    };
    if (!_pool_gate.empty()) {
        struct stat st {};
        while (::stat(_pool_gate.c_str(), &st) != 0) {
            {
                std::lock_guard<std::mutex> lock(_queue_mutex);
                if (_stopping) {
                    break;
                }
            }
            struct timespec pause {
                0, 10'000'000
            };
            ::nanosleep(&pause, nullptr);
        }
    }
    std::unique_lock<std::mutex> lock(_queue_mutex);
    if (!_pool_gate.empty()) {
        log(log_level::warning,
            "test hook RINGBOLT_TEST_POOL_GATE: a pool thread passed the gate with %zu requests queued", _queue.size());
    }
    // The GIL is taken and dropped with the queue's lock released (never wait for the
    // GIL while holding a lock a GIL holder may want).
    auto take_gil = [&] {
        lock.unlock();
        PyEval_RestoreThread(ts);
        lock.lock();
    };
    auto drop_gil = [&] {
        lock.unlock();
        PyEval_SaveThread();
        lock.lock();
    };
    while (true) {
        ++_idle;
        // Woken for work (a token), to stop, or for work nobody stands by for: requests
        // submitted before any pool thread was waiting here (at start-up `_idle` is 0, so
        // submit wakes no one) would otherwise wait forever.
        _queue_cv.wait(lock, [this] { return _wakeups > 0 || _stopping || (!_queue.empty() && _standby == 0); });
        --_idle;
        if (_wakeups > 0) {
            --_wakeups; // _standby already counts this thread
        } else if (!_queue.empty()) {
            ++_standby; // unclaimed work, or stopping: drain what is queued
        } else {
            break; // stopping, and nothing left to answer
        }
        take_gil();           // a spare waits here while the runner holds the GIL
        deliver_outbox(lock); // the runner let go: it may be blocked, holding answers
        while (true) {
            while (!_queue.empty()) {
                // One request; with it, the async ones queued right after it for the same
                // reactor (handing a coroutine over does not block: one hand-over for all).
                uring::response_sink* sink = _queue.front().sink;
                run.clear();
                do {
                    run.push_back(std::move(_queue.front().req));
                    _queue.pop_front();
                } while (!_queue.empty() && _queue.front().sink == sink && is_async(_queue.front().req) &&
                         is_async(run.front()));
                if (_queue.empty()) {
                    deliver_outbox(lock); // no spare will come by while this one runs
                }
                --_standby; // into the app, which may block
                bool wake = !_queue.empty() && wake_standby_locked();
                lock.unlock();
                if (wake) {
                    _queue_cv.notify_one();
                }
                answers.clear();
                run_batch(run, answers, *sink);
                lock.lock();
                ++_standby;
                if (!answers.empty()) {
                    auto box = std::find_if(_outbox.begin(), _outbox.end(), [&](auto& e) { return e.first == sink; });
                    if (box == _outbox.end()) {
                        box = _outbox.insert(_outbox.end(), {sink, {}});
                    }
                    for (auto& a : answers) {
                        box->second.push_back(std::move(a));
                    }
                    _outbox_held += answers.size();
                }
                if (_outbox_held >= pool_delivery_batch) {
                    drop_gil();
                    deliver_outbox(lock);
                    take_gil();
                }
            }
            // The queue ran dry: deliver without the GIL (a spare may take it), still on
            // standby, so a submit meanwhile wakes no one; then look at the queue again.
            drop_gil();
            deliver_outbox(lock);
            if (_queue.empty()) {
                break;
            }
            take_gil();
        }
        --_standby;
    }
    lock.unlock();
    PyEval_RestoreThread(ts);
    PyThreadState_Clear(ts);
    PyThreadState_DeleteCurrent();
}

} // namespace ringbolt::py
