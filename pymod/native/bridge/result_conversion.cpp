// A handler's return value reduced to what the wire needs (response_parts): dict/list as
// JSON, str, bytes, None, Response, StreamingResponse, FileResponse, a (body, status[,
// headers]) tuple, an HTTPError's problem; and the head built from it under the
// framing rules the server owns (build_head).
#include "pymod/native/bridge/result_conversion.hpp"

#include "http/response_writer.hpp"
#include "pymod/native/bridge/field_blocks.hpp"
#include "pymod/native/json/json_py.hpp"

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

} // namespace

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
            out.body_out().assign(PyBytes_AS_STRING(body), n);
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
        // clear + append: no aliasing checks (assign's _M_replace), a copy into the
        // string's own room for a short body.
        std::string& text = out.body_out();
        text.clear();
        text.append(p, static_cast<size_t>(n));
        if (set_type) {
            out.known_type = "text/plain; charset=utf-8";
        }
        return true;
    }
    if (PyDict_Check(body) || PyList_Check(body)) {
        if (!write_json(body, out.body_out())) {
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
        out.body_out().assign(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
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

bool convert_result(PyObject* result, const python_types& types, response_parts& out) {
    intern_names();
    if (PyDict_CheckExact(result)) [[likely]] {
        out.known_type = "application/json";
        return write_json(result, out.body_out());
    }
    if (result == Py_None) {
        out.status = 204;
        return true;
    }
    if (PyUnicode_CheckExact(result) || PyBytes_CheckExact(result)) [[likely]] {
        return convert_body(result, out, true); // no Response class to test it against
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

bool convert_http_error(PyObject* exc, response_parts& parts, http::response_head& head, bool detail_body) {
    intern_names();
    // HTTPError.problem() gives its members (type, title, status, detail and any
    // extensions); FastAPI's conventions answer {"detail": exc.detail} instead.
    PyObject* status = PyObject_GetAttr(exc, str_status);
    PyObject* headers = status ? PyObject_GetAttr(exc, str_headers) : nullptr;
    PyObject* body = nullptr;
    if (headers != nullptr) {
        if (detail_body) {
            PyObject* detail = PyObject_GetAttr(exc, str_detail);
            body = detail ? Py_BuildValue("{sN}", "detail", detail) : nullptr;
        } else {
            body = PyObject_CallMethodNoArgs(exc, str_problem);
        }
    }
    bool ok = false;
    if (body != nullptr && convert_status(status, parts)) {
        // RFC 9110 §15.2, §15.3.5, §15.3.6, §15.4.5: no content (Starlette sends none either)
        bool no_body =
            detail_body && (parts.status < 200 || parts.status == 204 || parts.status == 205 || parts.status == 304);
        if (!no_body) {
            parts.content_type = detail_body ? "application/json" : "application/problem+json";
        }
        ok = (no_body || write_json(body, parts.body_out())) && convert_headers(headers, parts) &&
             build_head(parts, head);
    }
    Py_XDECREF(status);
    Py_XDECREF(headers);
    Py_XDECREF(body);
    return ok;
}

namespace {
// A head's field lines: into a stack buffer while they fit a kept block (field_blocks.hpp),
// past that into the head's own string. A block that recurs is then sent from its kept
// copy: no allocation for the head of an answer with the same headers as before (an ASGI
// app's, a Response's with headers), where a string built per response cost a malloc on
// the loop and a free on the reactor (4096 connections, raw ASGI: 2% of the server's
// samples, benchmarks/journal/2026-11-26.md).
class field_lines {
  public:
    explicit field_lines(std::string& spill) noexcept : _spill(spill) {}
    void append(std::string_view s) {
        if (!_spilled && _size + s.size() <= sizeof(_buffer)) [[likely]] {
            std::memcpy(_buffer + _size, s.data(), s.size());
            _size += s.size();
            return;
        }
        if (!_spilled) {
            _spill.reserve(2 * sizeof(_buffer));
            _spill.append(_buffer, _size);
            _spilled = true;
        }
        _spill.append(s);
    }
    /// The lines as the head sends them: a kept block (static_fields), else its own string.
    void finish(http::response_head& head) {
        if (_spilled || _size == 0) {
            return;
        }
        std::string_view block(_buffer, _size);
        head.static_fields = kept_field_blocks.find(block);
        if (head.static_fields.empty()) {
            head.fields.assign(block);
        }
    }

  private:
    std::string& _spill;
    char _buffer[field_blocks::max_size];
    size_t _size = 0;
    bool _spilled = false;
};
} // namespace

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
    head.static_fields = {};
    std::string_view type = parts.type();
    bool typed = !type.empty() && !http::status_forbids_body(parts.status);
    int64_t declared = -1;
    if (parts.headers.empty() && (!typed || !parts.known_type.empty())) [[likely]] {
        // The hot path: no handler headers, a default type: static text, no allocation.
        head.static_fields = !typed                       ? std::string_view{}
                             : type == "application/json" ? std::string_view("Content-Type: application/json\r\n")
                             : type == "application/octet-stream"
                                 ? std::string_view("Content-Type: application/octet-stream\r\n")
                                 : std::string_view("Content-Type: text/plain; charset=utf-8\r\n");
    } else {
        field_lines lines(head.fields);
        if (typed) {
            lines.append("Content-Type: ");
            lines.append(type);
            lines.append("\r\n");
        }
        for (const auto& [name, value] : parts.headers) {
            switch (http::check_app_field(name, value, head, declared)) {
            case http::field_action::keep:
                lines.append(name);
                lines.append(": ");
                lines.append(value);
                lines.append("\r\n");
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
        lines.finish(head);
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

} // namespace ringbolt::py
