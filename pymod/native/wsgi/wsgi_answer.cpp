// The head of a WSGI app's whole answer: its header list checked as the bridge checks a
// Response's headers, written once, and a block of fields that recurs sent from a copy
// kept for the process's lifetime instead of a new string per response.
#include "pymod/native/wsgi/wsgi_answer.hpp"

#include "http/response_writer.hpp"
#include "pymod/native/bridge/field_blocks.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace ringbolt::py {

namespace {

/// A field name or value as the bridge takes it: str (sent as UTF-8) or bytes (sent as
/// they are: _check_headers' latin-1 re-encoding). A view into the object.
bool field_text(PyObject* o, std::string_view& out, const char* what) {
    if (PyUnicode_Check(o)) [[likely]] {
        if (PyUnicode_IS_ASCII(o)) [[likely]] {
            out = {static_cast<const char*>(PyUnicode_DATA(o)), static_cast<size_t>(PyUnicode_GET_LENGTH(o))};
            return true;
        }
        Py_ssize_t n;
        const char* p = PyUnicode_AsUTF8AndSize(o, &n);
        if (p == nullptr) {
            return false;
        }
        out = {p, static_cast<size_t>(n)};
        return true;
    }
    if (PyBytes_Check(o)) {
        out = {PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o))};
        return true;
    }
    PyErr_Format(PyExc_TypeError, "%s must be str or bytes, not %.100s", what, Py_TYPE(o)->tp_name);
    return false;
}

/// One header of the app's list (no initializers: an array of them costs nothing to set up).
struct app_field {
    const char* name;
    size_t name_size;
    const char* value;
    size_t value_size;
    PyObject* name_object; ///< for the error messages
    http::field_action action;
};

/// Header name objects already found valid. An app passes the same str objects (its
/// literals) answer after answer; the table holds a reference to each name it keeps, so
/// a pointer compare identifies one, and its token check is skipped. Direct-mapped by
/// address, a collision replaces. Only under the GIL; a free-threaded build keeps none.
class valid_names {
  public:
    bool contains(PyObject* name) const noexcept {
#ifdef Py_GIL_DISABLED
        (void)name;
        return false;
#else
        return _names[slot_of(name)] == name;
#endif
    }
    void add(PyObject* name) noexcept {
#ifndef Py_GIL_DISABLED
        if (PyUnicode_CheckExact(name)) {
            Py_XSETREF(_names[slot_of(name)], Py_NewRef(name));
        }
#endif
    }

  private:
    static constexpr size_t size = 64; ///< a power of two
    static size_t slot_of(PyObject* name) noexcept {
        return (reinterpret_cast<uintptr_t>(name) >> 4) & (size - 1);
    }
    PyObject* _names[size] = {};
};

valid_names known_valid;

} // namespace

bool wsgi_answer_head(int status, PyObject* headers, size_t body_size, bool head_request, http::response_head& head) {
    PyObject* seq = PySequence_Fast(headers, "headers must be a dict or a list of (name, value) pairs");
    if (seq == nullptr) {
        return false;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject** items = PySequence_Fast_ITEMS(seq);
    app_field small[16];
    std::unique_ptr<app_field[]> large;
    app_field* fields = small;
    if (n > static_cast<Py_ssize_t>(std::size(small))) [[unlikely]] {
        large.reset(new app_field[static_cast<size_t>(n)]);
        fields = large.get();
    }
    // First every field's types and characters (convert_headers), then the framing
    // fields (build_head): the same error as the bridge's when several are wrong.
    bool ok = true;
    for (Py_ssize_t i = 0; ok && i < n; ++i) {
        PyObject* pair = items[i];
        bool is_tuple = PyTuple_Check(pair);
        if ((is_tuple ? PyTuple_GET_SIZE(pair) : PyList_Check(pair) ? PyList_GET_SIZE(pair) : 0) != 2) {
            PyErr_SetString(PyExc_TypeError, "headers must be a dict or a list of (name, value) pairs");
            ok = false;
            break;
        }
        app_field& f = fields[i];
        f.name_object = is_tuple ? PyTuple_GET_ITEM(pair, 0) : PyList_GET_ITEM(pair, 0);
        PyObject* value_object = is_tuple ? PyTuple_GET_ITEM(pair, 1) : PyList_GET_ITEM(pair, 1);
        std::string_view name, value;
        ok = field_text(f.name_object, name, "a header name") && field_text(value_object, value, "a header value");
        if (ok && !known_valid.contains(f.name_object)) {
            if (http::valid_field_name(name)) {
                known_valid.add(f.name_object);
            } else {
                PyErr_Format(PyExc_ValueError, "invalid header name %R", f.name_object);
                ok = false;
            }
        }
        if (ok && !http::valid_field_value(value)) {
            PyErr_Format(PyExc_ValueError, "header %R: value contains CR, LF or NUL", f.name_object);
            ok = false;
        }
        f.name = name.data();
        f.name_size = name.size();
        f.value = value.data();
        f.value_size = value.size();
    }
    if (ok && status < 200) {
        PyErr_Format(PyExc_ValueError, "a handler cannot answer with status %d (1xx is not a final response)", status);
        ok = false;
    }
    head.status = static_cast<uint16_t>(status);
    head.fields.clear();
    head.static_fields = {};
    int64_t declared = -1;
    size_t size = 0;
    for (Py_ssize_t i = 0; ok && i < n; ++i) {
        app_field& f = fields[i];
        std::string_view value(f.value, f.value_size);
        f.action = http::check_app_field({f.name, f.name_size}, value, head, declared);
        if (f.action == http::field_action::keep) {
            size += f.name_size + f.value_size + 4;
        } else if (f.action == http::field_action::bad_length) {
            PyErr_Format(PyExc_ValueError, "invalid or conflicting Content-Length header '%s'",
                         std::string(value).c_str());
            ok = false;
        }
    }
    if (ok) {
        // The lines, into a stack buffer when they fit the kept blocks' bound (then maybe
        // found among them), else straight into the head's own string.
        char buffer[field_blocks::max_size];
        bool small_block = size <= sizeof(buffer);
        if (!small_block) {
            head.fields.resize(size);
        }
        char* p = small_block ? buffer : head.fields.data();
        for (Py_ssize_t i = 0; i < n; ++i) {
            const app_field& f = fields[i];
            if (f.action == http::field_action::keep) {
                std::memcpy(p, f.name, f.name_size);
                p += f.name_size;
                *p++ = ':';
                *p++ = ' ';
                std::memcpy(p, f.value, f.value_size);
                p += f.value_size;
                *p++ = '\r';
                *p++ = '\n';
            }
        }
        if (small_block && size > 0) {
            std::string_view block(buffer, size);
            head.static_fields = kept_field_blocks.find(block);
            if (head.static_fields.empty()) {
                head.fields.assign(block);
            }
        }
        if (head_request && declared >= 0 && body_size == 0) {
            head.content_length = declared; // HEAD: the length GET would send (RFC 9110 §9.3.2), no body
        } else if (declared >= 0 && static_cast<uint64_t>(declared) != body_size &&
                   !http::status_forbids_body(head.status)) {
            PyErr_Format(PyExc_ValueError, "Content-Length: %lld does not match the body (%zu bytes)",
                         static_cast<long long>(declared), body_size);
            ok = false;
        } else {
            head.content_length = static_cast<int64_t>(body_size);
        }
    }
    Py_DECREF(seq);
    return ok;
}

} // namespace ringbolt::py
