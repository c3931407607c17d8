// A handler's answer as a message: a converted result framed whole, a file, or a stream
// handed to its producer; an exception as an HTTPError's problem or a logged 500; and
// the access-log line of each answer the app gave.
#include "pymod/native/bridge/app_bridge.hpp"

#include "dispatch/access_log.hpp"
#include "pymod/native/bridge/response_stream.hpp"
#include "pymod/native/bridge/result_conversion.hpp"
#include "pymod/native/json/json_py.hpp"
#include "pymod/native/py_exception.hpp"
#include "pymod/native/wsgi/wsgi_call.hpp"

#include <optional>

namespace ringbolt::py {

namespace {
constexpr std::string_view text_plain = "Content-Type: text/plain; charset=utf-8\r\n";

void log_access(const app_bridge::answer_meta& meta, uint16_t status, int64_t body_bytes) noexcept {
    dispatch::write_access_log(
        {meta.peer, meta.method, meta.target, meta.version_minor, status, body_bytes, meta.start_ns, meta.request_id});
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
    resp.more.reset(); // no borrowed bytes, file, trailers or upgrade
    resp.parts = http::app_response::part_head | http::app_response::part_body | http::app_response::part_end;
}

void app_bridge::error_response(PyObject* exc, const answer_meta& meta, http::app_response& resp) {
    // HTTPError (and BadRequest from req.json()) carry their own status; anything else
    // is a bug in the handler: 500, and the traceback goes to the log.
    if (_types.http_error != nullptr && PyObject_IsInstance(exc, _types.http_error) == 1) {
        response_parts parts;
        if (convert_http_error(exc, parts, resp.start, _detail_errors)) {
            resp.body = parts.take_body();
            resp.parts = http::app_response::part_head | http::app_response::part_body | http::app_response::part_end;
            return;
        }
        PyErr_Clear();
    }
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
    if (_detail_errors) {
        text_answer(resp, 500, "Internal Server Error"); // Starlette's ServerErrorMiddleware
        return;
    }
    internal_error_answer(resp);
}

void app_bridge::start_stream(response_parts& parts, const answer_meta& meta, http::app_response& resp,
                              server::response_sink& sink) {
    http::response_head head;
    if (!build_head(parts, head)) {
        PyObject* exc = fetch_exception();
        error_response(exc, meta, resp);
        Py_DECREF(exc);
        deliver_now(sink, std::move(resp));
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

// Inlined into finish(): the sync handlers' hot path keeps no extra call.
[[gnu::always_inline]] inline bool app_bridge::answer_inline(response_parts* converted, PyObject* exc,
                                                             const answer_meta& meta, http::app_response& resp,
                                                             server::response_sink& sink) {
    bool logs = dispatch::access_log_enabled();
    if (converted != nullptr) [[likely]] {
        response_parts& parts = *converted;
        if (parts.source == response_parts::body_source::bytes) [[likely]] {
            if (build_head(parts, resp.start, meta.head_request)) [[likely]] {
                if (logs) [[unlikely]] {
                    log_access(meta, resp.start.status, static_cast<int64_t>(parts.body_size()));
                }
                if (parts.body_ref != nullptr) {
                    http::app_response_more& more = resp.rare();
                    more.borrowed = parts.body_view;
                    more.keep = hold_python_object(parts.body_ref);
                } else if (parts.body_into == nullptr) {
                    resp.body = std::move(parts.body);
                }
                resp.parts =
                    http::app_response::part_head | http::app_response::part_body | http::app_response::part_end;
                return true;
            }
        } else if (parts.source == response_parts::body_source::file) {
            if (file_message(parts, resp)) {
                if (logs) [[unlikely]] {
                    log_access(meta, resp.start.status, static_cast<int64_t>(resp.more->file_length));
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

bool app_bridge::answer(response_parts* parts, PyObject* exc, const answer_meta& meta, http::app_response& resp,
                        server::response_sink& sink) {
    return answer_inline(parts, exc, meta, resp, sink);
}

bool app_bridge::finish(PyObject* result, PyObject* exc, const answer_meta& meta, http::app_response& resp,
                        server::response_sink& sink) {
    // The App's json_default for dict/list results. Only set when the App has one: outside
    // a scope the thread's default is already null (scopes nest and restore), and setting
    // and restoring the thread_local costs three __tls_get_addr calls a request.
    std::optional<json_default_scope> json_default;
    if (_json_default != nullptr) [[unlikely]] {
        json_default.emplace(_json_default);
    }
    response_parts parts;
    resp.body.clear();
    parts.body_into = &resp.body; // converted into the answer's own string
    bool converted = exc == nullptr && result != nullptr && convert_result(result, _types, parts);
    return answer_inline(converted ? &parts : nullptr, exc, meta, resp, sink);
}

bool app_bridge::finish_wsgi(PyObject* result, const answer_meta& meta, http::app_response& resp,
                             server::response_sink& sink) {
    if (result == nullptr || !is_wsgi_answer(result)) {
        return finish(result, nullptr, meta, resp, sink); // the Python path's Response, or its error
    }
    // WSGI's common case (wsgi_call.cpp): the head straight from the app's header list.
    int64_t body_bytes = 0;
    if (wsgi_answer_message(result, meta.head_request, resp, body_bytes)) [[likely]] {
        if (dispatch::access_log_enabled()) [[unlikely]] {
            log_access(meta, resp.start.status, body_bytes);
        }
        return true;
    }
    return answer_inline(nullptr, nullptr, meta, resp, sink); // its error is set: the 500
}

} // namespace ringbolt::py
