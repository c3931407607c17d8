// ringbolt._native.ValueSigner: tls/signed_value.hpp for ringbolt.sessions and
// ringbolt.csrf. A session read opens its cookie here (the HMAC through OpenSSL with a kept
// keyed context, the text parsed and compared in C++): the MAC 6,901 instructions a call
// against 16,635 through the stdlib's hmac (benchmarks/load/session_cost.py; docs/sessions.md,
// "What it costs").
// The GIL is released for none of it: a MAC of a cookie is a few microseconds.
#include "pymod/native/json/json_py.hpp"
#include "pymod/native/py_type.hpp"
#include "tls/signed_value.hpp"

#include <ctime>
#include <string>
#include <vector>

namespace ringbolt::py {

namespace {

constexpr long not_an_object = 4; // open_session's refusal past tls::signed_refusal's

struct signer_object {
    PyObject_HEAD tls::value_signer* signer;
};

tls::value_signer& S(PyObject* self) {
    return *reinterpret_cast<signer_object*>(self)->signer;
}

bool bytes_view(PyObject* arg, const char* what, std::string_view& out) {
    if (!PyBytes_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s must be bytes, not %.100s", what, Py_TYPE(arg)->tp_name);
        return false;
    }
    out = std::string_view(PyBytes_AS_STRING(arg), static_cast<size_t>(PyBytes_GET_SIZE(arg)));
    return true;
}

bool int64_arg(PyObject* arg, const char* what, int64_t& out) {
    if (!PyLong_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s must be int, not %.100s", what, Py_TYPE(arg)->tp_name);
        return false;
    }
    out = PyLong_AsLongLong(arg);
    return !(out == -1 && PyErr_Occurred());
}

PyObject* signer_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kw[] = {"keys", nullptr};
    PyObject* keys_arg;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:ValueSigner", const_cast<char**>(kw), &keys_arg)) {
        return nullptr;
    }
    PyObject* seq = PySequence_Fast(keys_arg, "ValueSigner takes a list of keys (bytes)");
    if (seq == nullptr) {
        return nullptr;
    }
    std::vector<std::string> keys;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
        std::string_view k;
        if (!bytes_view(PySequence_Fast_GET_ITEM(seq, i), "a key", k)) {
            Py_DECREF(seq);
            return nullptr;
        }
        keys.emplace_back(k);
    }
    Py_DECREF(seq);
    std::string error;
    auto signer = tls::value_signer::make(keys, error);
    if (!signer) {
        PyErr_Format(PyExc_ValueError, "ValueSigner: %s", error.c_str());
        return nullptr;
    }
    auto* self = reinterpret_cast<signer_object*>(type->tp_alloc(type, 0));
    if (self == nullptr) {
        return nullptr;
    }
    self->signer = signer.release();
    return reinterpret_cast<PyObject*>(self);
}

void signer_dealloc(PyObject* o) {
    delete reinterpret_cast<signer_object*>(o)->signer;
    Py_TYPE(o)->tp_free(o);
}

// mac(index, data) -> bytes: HMAC-SHA256 of data with key `index`.
PyObject* signer_mac(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    int64_t index = 0;
    std::string_view data;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "mac(index, data) takes 2 arguments");
        return nullptr;
    }
    if (!int64_arg(args[0], "index", index) || !bytes_view(args[1], "data", data)) {
        return nullptr;
    }
    if (index < 0 || static_cast<size_t>(index) >= S(self).key_count()) {
        PyErr_Format(PyExc_IndexError, "key %lld: the signer has %zu", static_cast<long long>(index),
                     S(self).key_count());
        return nullptr;
    }
    std::string m = S(self).mac(static_cast<size_t>(index), data);
    return PyBytes_FromStringAndSize(m.data(), static_cast<Py_ssize_t>(m.size()));
}

// sign(payload, now) -> str
PyObject* signer_sign(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    std::string_view payload;
    int64_t now = 0;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "sign(payload, now) takes 2 arguments");
        return nullptr;
    }
    if (!bytes_view(args[0], "payload", payload) || !int64_arg(args[1], "now", now)) {
        return nullptr;
    }
    std::string v = S(self).sign(payload, now);
    return PyUnicode_DecodeASCII(v.data(), static_cast<Py_ssize_t>(v.size()), nullptr);
}

// What open and open_session share: the arguments (value, max_age[, now]) checked and the
// value opened. Returns the refusal's code as a new int (or nullptr with an exception)
// unless `opened` holds what was signed; then nullptr with no exception.
PyObject* open_args(PyObject* self, PyObject* const* args, Py_ssize_t nargs, bool with_now,
                    tls::signed_opened& opened) {
    if (nargs != (with_now ? 3 : 2)) {
        PyErr_SetString(PyExc_TypeError, with_now ? "open(value, max_age, now) takes 3 arguments"
                                                  : "open_session(value, max_age) takes 2 arguments");
        return nullptr;
    }
    if (!PyUnicode_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "value must be str, not %.100s", Py_TYPE(args[0])->tp_name);
        return nullptr;
    }
    int64_t max_age = -1;
    int64_t now = 0;
    if ((args[1] != Py_None && !int64_arg(args[1], "max_age", max_age)) ||
        (with_now && !int64_arg(args[2], "now", now))) {
        return nullptr;
    }
    if (!with_now) {
        now = static_cast<int64_t>(time(nullptr)); // time.time()'s clock
    }
    if (!PyUnicode_IS_ASCII(args[0])) { // a signed value is ASCII: base64url, digits and dots
        return PyLong_FromLong(static_cast<long>(tls::signed_refusal::malformed));
    }
    std::string_view value(static_cast<const char*>(PyUnicode_DATA(args[0])),
                           static_cast<size_t>(PyUnicode_GET_LENGTH(args[0])));
    tls::signed_refusal r = S(self).open(value, max_age, now, opened);
    return r == tls::signed_refusal::none ? nullptr : PyLong_FromLong(static_cast<long>(r));
}

// open(value, max_age, now) -> (payload, issued, key_index), or the refusal's code (int:
// 1 malformed, 2 bad signature, 3 expired). max_age None: no limit.
PyObject* signer_open(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    tls::signed_opened opened;
    if (PyObject* refused = open_args(self, args, nargs, true, opened); refused != nullptr || PyErr_Occurred()) {
        return refused;
    }
    return Py_BuildValue("(y#Ln)", opened.payload.data(), static_cast<Py_ssize_t>(opened.payload.size()),
                         static_cast<long long>(opened.issued), static_cast<Py_ssize_t>(opened.key_index));
}

// open_session(value, max_age) -> (dict, key_index), or why not (int: 1 malformed, 2 bad
// signature, 3 expired, 4 signed but not a JSON object): a session cookie opened and its
// JSON parsed (simdjson) in one call, the clock read here.
PyObject* signer_open_session(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    tls::signed_opened opened;
    if (PyObject* refused = open_args(self, args, nargs, false, opened); refused != nullptr || PyErr_Occurred()) {
        return refused;
    }
    PyObject* data = parse_json(opened.payload.data(), opened.payload.size(), false, PyExc_ValueError);
    if (data == nullptr || !PyDict_CheckExact(data)) { // signed by a key holder, yet not an object
        PyErr_Clear();
        Py_XDECREF(data);
        return PyLong_FromLong(not_an_object);
    }
    return Py_BuildValue("(Nn)", data, static_cast<Py_ssize_t>(opened.key_index));
}

PyMethodDef signer_methods[] = {
    {"open_session", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&signer_open_session)), METH_FASTCALL,
     "open_session(value, max_age) -> (dict, key_index), or why not (int: 1 malformed, 2 bad signature, 3 "
     "expired, 4 not a JSON object)."},
    {"mac", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&signer_mac)), METH_FASTCALL,
     "mac(index, data) -> bytes: the HMAC-SHA256 of data with key `index`."},
    {"sign", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&signer_sign)), METH_FASTCALL,
     "sign(payload, now) -> str: base64url(payload).now.base64url(HMAC) with the first key."},
    {"open", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&signer_open)), METH_FASTCALL,
     "open(value, max_age, now) -> (payload, issued, key_index), or why not (int: 1 malformed, 2 bad "
     "signature, 3 expired)."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject signer_type = native_type({
    .name = "ringbolt._native.ValueSigner",
    .basicsize = sizeof(signer_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE, // no attribute of it is for the app to set
    .doc = "ValueSigner(keys): HMAC-SHA256 signed values (the first key signs, every key verifies).",
    .dealloc = signer_dealloc,
    .methods = signer_methods,
    .new_object = signer_new,
});

} // namespace

// The signer of a ValueSigner (bridge/dependency_fast.cpp's session reader), or null.
const tls::value_signer* value_signer_of(PyObject* o) {
    return PyObject_TypeCheck(o, &signer_type) ? &S(o) : nullptr;
}

int init_value_signer(PyObject* module) {
    return ready_native_type(signer_type, module, "ValueSigner") ? 0 : -1;
}

} // namespace ringbolt::py
