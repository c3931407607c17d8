// ringbolt.RawJSON: JSON text the writer puts in its place as it is, checked once when it
// is made (one JSON value, simdjson). For text that is JSON already: a PostgreSQL json or
// jsonb column (asyncpg hands it over as text), a cached body, another service's answer.
// Parsing it into objects for the writer to turn back into the same text cost about a
// third of a database row's Python time (docs/json.md, "Text that is JSON already").
#include "pymod/native/json/json_py.hpp"
#include "pymod/native/py_type.hpp"

#include <simdjson.h>

namespace ringbolt::py {

namespace {

struct raw_json_object {
    PyObject_HEAD PyObject* text; ///< bytes, UTF-8, one JSON value
};

/// One JSON value? True, or false with ValueError naming the cause. Numbers simdjson
/// refuses (integers beyond 64 bits, 1e99999) are asked of the json module.
bool check_json(PyObject* text) {
    thread_local simdjson::dom::parser parser;
    const char* data = PyBytes_AS_STRING(text);
    size_t len = static_cast<size_t>(PyBytes_GET_SIZE(text));
    simdjson::dom::element root;
    auto error = parser.parse(reinterpret_cast<const uint8_t*>(data), len, true).get(root);
    if (!error) [[likely]] {
        return true;
    }
    if (number_beyond_simdjson(error)) {
        // json.loads(text, parse_constant=int): int() refuses NaN and Infinity, which
        // json.loads takes but JSON has not.
        PyObject* json = PyImport_ImportModule("json");
        PyObject* loads = json != nullptr ? PyObject_GetAttrString(json, "loads") : nullptr;
        PyObject* kw = loads != nullptr ? Py_BuildValue("{sO}", "parse_constant", &PyLong_Type) : nullptr;
        PyObject* pos = kw != nullptr ? PyTuple_Pack(1, text) : nullptr;
        PyObject* v = pos != nullptr ? PyObject_Call(loads, pos, kw) : nullptr;
        Py_XDECREF(pos);
        Py_XDECREF(kw);
        Py_XDECREF(loads);
        Py_XDECREF(json);
        if (v != nullptr) {
            Py_DECREF(v);
            return true;
        }
        PyErr_Clear();
    }
    PyErr_Format(PyExc_ValueError, "RawJSON: the text is not one JSON value (%s)", simdjson::error_message(error));
    return false;
}

PyObject* raw_json_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kw[] = {"text", nullptr};
    PyObject* arg;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:RawJSON", const_cast<char**>(kw), &arg)) {
        return nullptr;
    }
    PyObject* text;
    if (PyUnicode_Check(arg)) {
        text = PyUnicode_AsUTF8String(arg); // a lone surrogate: UnicodeEncodeError
    } else if (PyBytes_Check(arg)) {
        text = Py_NewRef(arg);
    } else if (PyByteArray_Check(arg) || PyMemoryView_Check(arg)) {
        text = PyBytes_FromObject(arg);
    } else {
        PyErr_Format(PyExc_TypeError, "RawJSON takes JSON text as str or bytes, not %.100s", Py_TYPE(arg)->tp_name);
        return nullptr;
    }
    if (text == nullptr || !check_json(text)) {
        Py_XDECREF(text);
        return nullptr;
    }
    auto* self = reinterpret_cast<raw_json_object*>(type->tp_alloc(type, 0));
    if (self == nullptr) {
        Py_DECREF(text);
        return nullptr;
    }
    self->text = text;
    return reinterpret_cast<PyObject*>(self);
}

void raw_json_dealloc(PyObject* o) {
    Py_CLEAR(reinterpret_cast<raw_json_object*>(o)->text);
    Py_TYPE(o)->tp_free(o);
}

PyObject* raw_json_repr(PyObject* o) {
    return PyUnicode_FromFormat("RawJSON(%R)", reinterpret_cast<raw_json_object*>(o)->text);
}

PyObject* raw_json_text(PyObject* o, void*) {
    return Py_NewRef(reinterpret_cast<raw_json_object*>(o)->text);
}

PyGetSetDef raw_json_getset[] = {
    {"text", raw_json_text, nullptr, "The JSON text (bytes, UTF-8), as the writer puts it.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject raw_json_type = native_type({
    .name = "ringbolt.RawJSON",
    .basicsize = sizeof(raw_json_object),
    .doc = "RawJSON(text): JSON text (str or bytes, one JSON value, checked here) that a handler's dict or list, "
           "Response.json and json_dumps write as it is, in its place: a json/jsonb column, a cached body.",
    .dealloc = raw_json_dealloc,
    .repr = raw_json_repr,
    .getset = raw_json_getset,
    .new_object = raw_json_new,
});

} // namespace

bool raw_json_view(PyObject* obj, std::string_view& text) noexcept {
    if (Py_TYPE(obj) != &raw_json_type) {
        return false;
    }
    PyObject* bytes = reinterpret_cast<raw_json_object*>(obj)->text;
    text = std::string_view(PyBytes_AS_STRING(bytes), static_cast<size_t>(PyBytes_GET_SIZE(bytes)));
    return true;
}

int init_raw_json(PyObject* module) {
    return ready_native_type(raw_json_type, module, "RawJSON") ? 0 : -1;
}

} // namespace ringbolt::py
