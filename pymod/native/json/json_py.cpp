// The JSON reader: simdjson's DOM parser, one per thread, building Python objects from
// it (the writer is json_writer.cpp).
#include "pymod/native/json/json_py.hpp"

#include <simdjson.h>

namespace ringbolt::py {

namespace {

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
    default: // simdjson 4's BIGINT: not made, the parser refuses big integers (BIGINT_ERROR) instead
        break;
    }
    PyErr_SetString(PyExc_ValueError, "Invalid JSON body: a value of a kind this reader does not know");
    return nullptr;
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

PyObject* parse_json(const char* data, size_t len, bool padded, PyObject* error_type) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element root;
    auto error = parser.parse(reinterpret_cast<const uint8_t*>(data), len, !padded).get(root);
    if (number_beyond_simdjson(error)) {
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
