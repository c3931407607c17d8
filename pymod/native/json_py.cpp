// The JSON writer walks Python objects directly (no json module); the reader uses
// simdjson's DOM parser, one per thread, and builds Python objects from it.
#include "pymod/native/json_py.hpp"

#include "http/char_classes.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <simdjson.h>

namespace ringbolt::py {

namespace {

constexpr int max_depth = 512;

// 0: copy as is; 1: needs an escape.
constexpr std::array<uint8_t, 256> make_escape_table() {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 0x20; ++c) {
        t[c] = 1;
    }
    t['"'] = 1;
    t['\\'] = 1;
    return t;
}
constexpr auto escape_table = make_escape_table();

void write_escaped(std::string& out, const char* s, size_t n) {
    out.push_back('"');
    size_t start = 0;
    for (size_t i = 0; i < n; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (!escape_table[c]) [[likely]] {
            continue;
        }
        out.append(s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':
            out.append("\\\"", 2);
            break;
        case '\\':
            out.append("\\\\", 2);
            break;
        case '\n':
            out.append("\\n", 2);
            break;
        case '\r':
            out.append("\\r", 2);
            break;
        case '\t':
            out.append("\\t", 2);
            break;
        case '\b':
            out.append("\\b", 2);
            break;
        case '\f':
            out.append("\\f", 2);
            break;
        default: {
            using http::chars::hex_digits;
            char buf[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 15]};
            out.append(buf, 6);
        }
        }
    }
    out.append(s + start, n - start);
    out.push_back('"');
}

bool write_str(PyObject* obj, std::string& out) {
    Py_ssize_t n;
    const char* s = PyUnicode_AsUTF8AndSize(obj, &n); // cached in the object after the first call
    if (s == nullptr) {
        return false;
    }
    write_escaped(out, s, static_cast<size_t>(n));
    return true;
}

bool write_float(PyObject* obj, std::string& out) {
    double v = PyFloat_AS_DOUBLE(obj);
    if (!std::isfinite(v)) {
        PyErr_SetString(PyExc_ValueError, "Out of range float values are not JSON compliant");
        return false;
    }
    // float.__repr__ (shortest round-trip), like the json module.
    char* s = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, nullptr);
    if (s == nullptr) {
        return false;
    }
    out.append(s);
    PyMem_Free(s);
    return true;
}

bool write_int(PyObject* obj, std::string& out) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow == 0) [[likely]] {
        if (v == -1 && PyErr_Occurred()) {
            return false;
        }
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
        (void)ec;
        out.append(buf, static_cast<size_t>(end - buf));
        return true;
    }
    PyObject* s = PyObject_Str(obj); // big integers: exact decimal text
    if (s == nullptr) {
        return false;
    }
    Py_ssize_t n;
    const char* text = PyUnicode_AsUTF8AndSize(s, &n);
    if (text != nullptr) {
        out.append(text, static_cast<size_t>(n));
    }
    Py_DECREF(s);
    return text != nullptr;
}

bool write_value(PyObject* obj, std::string& out, int depth);

bool write_key(PyObject* key, std::string& out) {
    if (PyUnicode_Check(key)) [[likely]] {
        return write_str(key, out);
    }
    // json.dumps turns these keys into strings; so do we.
    if (key == Py_True || key == Py_False || key == Py_None) {
        out.append(key == Py_True ? "\"true\"" : key == Py_False ? "\"false\"" : "\"null\"");
        return true;
    }
    if (PyLong_Check(key) || PyFloat_Check(key)) {
        out.push_back('"');
        bool ok = PyLong_Check(key) ? write_int(key, out) : write_float(key, out);
        out.push_back('"');
        return ok;
    }
    PyErr_Format(PyExc_TypeError, "keys must be str, int, float, bool or None, not %.100s", Py_TYPE(key)->tp_name);
    return false;
}

bool write_value(PyObject* obj, std::string& out, int depth) {
    if (depth > max_depth) [[unlikely]] {
        PyErr_SetString(PyExc_ValueError, "JSON nesting too deep (over 512 levels, or a reference cycle)");
        return false;
    }
    if (PyUnicode_Check(obj)) {
        return write_str(obj, out);
    }
    if (obj == Py_None) {
        out.append("null", 4);
        return true;
    }
    if (obj == Py_True) {
        out.append("true", 4);
        return true;
    }
    if (obj == Py_False) {
        out.append("false", 5);
        return true;
    }
    if (PyLong_Check(obj)) {
        return write_int(obj, out);
    }
    if (PyFloat_Check(obj)) {
        return write_float(obj, out);
    }
    if (PyDict_Check(obj)) {
        out.push_back('{');
        Py_ssize_t pos = 0;
        PyObject* key;
        PyObject* value;
        bool first = true;
        while (PyDict_Next(obj, &pos, &key, &value)) {
            if (!first) {
                out.push_back(',');
            }
            first = false;
            if (!write_key(key, out)) {
                return false;
            }
            out.push_back(':');
            if (!write_value(value, out, depth + 1)) {
                return false;
            }
        }
        out.push_back('}');
        return true;
    }
    if (PyList_Check(obj) || PyTuple_Check(obj)) {
        out.push_back('[');
        Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
        PyObject** items = PySequence_Fast_ITEMS(obj);
        for (Py_ssize_t i = 0; i < n; ++i) {
            if (i != 0) {
                out.push_back(',');
            }
            if (!write_value(items[i], out, depth + 1)) {
                return false;
            }
        }
        out.push_back(']');
        return true;
    }
    PyErr_Format(PyExc_TypeError, "Object of type %.100s is not JSON serializable", Py_TYPE(obj)->tp_name);
    return false;
}

// ---- reading ----

PyObject* to_python(simdjson::dom::element el) {
    using simdjson::dom::element_type;
    switch (el.type()) {
    case element_type::OBJECT: {
        PyObject* d = PyDict_New();
        if (d == nullptr) {
            return nullptr;
        }
        for (auto field : simdjson::dom::object(el)) {
            PyObject* k = PyUnicode_FromStringAndSize(field.key.data(), static_cast<Py_ssize_t>(field.key.size()));
            PyObject* v = k != nullptr ? to_python(field.value) : nullptr;
            if (v == nullptr || PyDict_SetItem(d, k, v) < 0) {
                Py_XDECREF(k);
                Py_XDECREF(v);
                Py_DECREF(d);
                return nullptr;
            }
            Py_DECREF(k);
            Py_DECREF(v);
        }
        return d;
    }
    case element_type::ARRAY: {
        simdjson::dom::array arr(el);
        PyObject* l = PyList_New(static_cast<Py_ssize_t>(arr.size()));
        if (l == nullptr) {
            return nullptr;
        }
        Py_ssize_t i = 0;
        for (auto item : arr) {
            PyObject* v = to_python(item);
            if (v == nullptr) {
                Py_DECREF(l);
                return nullptr;
            }
            PyList_SET_ITEM(l, i++, v);
        }
        return l;
    }
    case element_type::STRING: {
        std::string_view s(el);
        return PyUnicode_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
    }
    case element_type::INT64:
        return PyLong_FromLongLong(int64_t(el));
    case element_type::UINT64:
        return PyLong_FromUnsignedLongLong(uint64_t(el));
    case element_type::DOUBLE:
        return PyFloat_FromDouble(double(el));
    case element_type::BOOL:
        return PyBool_FromLong(bool(el));
    case element_type::NULL_VALUE:
        Py_RETURN_NONE;
    }
    Py_RETURN_NONE;
}

PyObject* parse_with_json_module(const char* data, size_t len, PyObject* error_type) {
    PyObject* mod = PyImport_ImportModule("json");
    if (mod == nullptr) {
        return nullptr;
    }
    PyObject* text = PyUnicode_DecodeUTF8(data, static_cast<Py_ssize_t>(len), "strict");
    PyObject* result = text != nullptr ? PyObject_CallMethod(mod, "loads", "O", text) : nullptr;
    Py_XDECREF(text);
    Py_DECREF(mod);
    if (result == nullptr && error_type != nullptr && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear();
        PyErr_SetString(error_type, "Invalid JSON body");
    }
    return result;
}

} // namespace

bool write_json(PyObject* obj, std::string& out) {
    return write_value(obj, out, 0);
}

PyObject* parse_json(const char* data, size_t len, bool padded, PyObject* error_type) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element root;
    auto error = parser.parse(reinterpret_cast<const uint8_t*>(data), len, !padded).get(root);
    if (error == simdjson::NUMBER_ERROR) {
        return parse_with_json_module(data, len, error_type); // e.g. integers beyond 64 bits: exact via Python
    }
    if (error) {
        PyErr_Format(error_type != nullptr ? error_type : PyExc_ValueError, "Invalid JSON body: %s",
                     simdjson::error_message(error));
        return nullptr;
    }
    return to_python(root);
}

} // namespace ringbolt::py
