// The Request's header fields read from its bytes: `req.cookies`, `req.cookie(name)`,
// `req.header(name)`, `req.last_event_id` (the getters and methods request_object.cpp's
// tables name).
#include "core/strings.hpp"
#include "pymod/native/bridge/request_object.hpp"

namespace ringbolt::py {

namespace {

// RFC 6265 §4.2.1 / §5.4: Cookie: name=value; name2=value2. Pairs without '=' or with
// an empty name are skipped; a DQUOTE-wrapped value loses its quotes; the first of a
// repeated name wins (user agents send the most specific path first). Values are not
// percent-decoded (RFC 6265 defines no encoding). `take(name, value)` sees each pair in
// order and returns false to stop.
template <class Take> void each_cookie(const dispatch::app_request& r, Take&& take) {
    for (size_t i = 0; i + 1 < r.headers.size(); i += 2) {
        if (!core::iequals(r.headers[i].in(r.data), "cookie")) {
            continue;
        }
        std::string_view rest = r.headers[i + 1].in(r.data);
        while (!rest.empty()) {
            size_t semi = rest.find(';');
            std::string_view pair = rest.substr(0, semi);
            rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
            size_t eq = pair.find('=');
            if (eq == std::string_view::npos) {
                continue;
            }
            std::string_view k = core::trim_ows(pair.substr(0, eq));
            std::string_view v = core::trim_ows(pair.substr(eq + 1));
            if (k.empty()) {
                continue;
            }
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
                v = v.substr(1, v.size() - 2);
            }
            if (!take(k, v)) {
                return;
            }
        }
    }
}

} // namespace

PyObject* request_cookies(PyObject* self, void*) {
    request_object* o = as_request(self);
    if (PyObject* kept = cached(o->cache_cookies)) {
        return kept;
    }
    PyObject* d = PyDict_New();
    if (d == nullptr) {
        return nullptr;
    }
    bool failed = false;
    each_cookie(request_of(self), [&](std::string_view k, std::string_view v) {
        PyObject* pk = decode_text(k);
        if (pk == nullptr) {
            failed = true;
            return false;
        }
        int has = PyDict_Contains(d, pk);
        PyObject* pv = has == 0 ? decode_text(v) : nullptr;
        failed = has < 0 || (has == 0 && (pv == nullptr || PyDict_SetItem(d, pk, pv) < 0));
        Py_DECREF(pk);
        Py_XDECREF(pv);
        return !failed;
    });
    if (failed) {
        Py_DECREF(d);
        return nullptr;
    }
    return get_cached(o->cache_cookies, d);
}

bool find_cookie(const dispatch::app_request& r, std::string_view name, std::string_view& value) {
    bool seen = false;
    each_cookie(r, [&](std::string_view k, std::string_view v) {
        if (k != name) {
            return true;
        }
        value = v;
        seen = true;
        return false;
    });
    return seen;
}

// req.cookie(name): one cookie's value (the first of a repeated name), or None, read from
// the request's bytes with no dict made (a session cookie, a typed Cookie() parameter).
PyObject* request_cookie(PyObject* self, PyObject* arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "cookie() takes a cookie name (str), not %s", Py_TYPE(arg)->tp_name);
        return nullptr;
    }
    request_object* o = as_request(self);
    Py_ssize_t n = 0;
    const char* name = o->cache_cookies == nullptr ? PyUnicode_AsUTF8AndSize(arg, &n) : nullptr;
    if (name == nullptr) {
        // the dict made already, or a name with lone surrogates (a cookie name sent as
        // bytes that are not UTF-8): looked up among the decoded names
        PyErr_Clear();
        PyObject* all = request_cookies(self, nullptr);
        if (all == nullptr) {
            return nullptr;
        }
        PyObject* v = PyDict_GetItemWithError(all, arg); // borrowed
        Py_XINCREF(v);
        Py_DECREF(all);
        if (v == nullptr && !PyErr_Occurred()) {
            Py_RETURN_NONE;
        }
        return v;
    }
    std::string_view found;
    if (!find_cookie(request_of(self), std::string_view(name, static_cast<size_t>(n)), found)) {
        Py_RETURN_NONE;
    }
    return decode_text(found);
}

// req.header(name): the first value of one header (case-insensitive), or None; read from
// the request's bytes, with no Headers object made (what a typed Header() parameter, a
// bearer token or an API key needs).
PyObject* request_header(PyObject* self, PyObject* arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "header() takes a header name (str), not %s", Py_TYPE(arg)->tp_name);
        return nullptr;
    }
    Py_ssize_t n = 0;
    const char* name = PyUnicode_AsUTF8AndSize(arg, &n);
    if (name == nullptr) {
        return nullptr;
    }
    std::string_view value;
    if (!find_header(request_of(self), std::string_view(name, static_cast<size_t>(n)), value)) {
        Py_RETURN_NONE;
    }
    return latin1_text(value);
}

bool find_header(const dispatch::app_request& r, std::string_view name, std::string_view& value) {
    for (size_t i = 0; i + 1 < r.headers.size(); i += 2) {
        if (core::iequals(r.headers[i].in(r.data), name)) {
            value = r.headers[i + 1].in(r.data);
            return true;
        }
    }
    return false;
}

PyObject* request_last_event_id(PyObject* self, void*) {
    std::string_view value;
    if (!find_header(request_of(self), "last-event-id", value)) {
        Py_RETURN_NONE;
    }
    return decode_text(value);
}

} // namespace ringbolt::py
