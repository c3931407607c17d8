// Two dependencies a route's plan calls with no Python run when the request is ringbolt's
// own (ringbolt._runner binds a dependency's `_rb_fast_call`): the signed-cookie session
// read (ringbolt.sessions.Sessions) and the bearer JWT kept after it verified
// (ringbolt.auth.JWTAuth). Each does what its Python method does, and hands any other
// request (an ASGI request, a JWKS key set, a route's scopes) to that method.
//
// Kept values. A session cookie that verified is kept (its value -> when it was signed,
// the key, the data) so the same cookie again skips the HMAC and, when its values are
// scalars, the JSON parse; the age limit is still checked on every read. The kept dict is
// Python's: its keys' hash is SipHash with the process's random key, so a cookie an attacker
// makes is compared (memcmp) with a kept one only after a 64-bit keyed hash matched; a
// cookie that is not kept is verified in full (the MAC compared in constant time).
// JWTAuth's kept tokens are the same kind of dict, filled by its Python.
#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/json/json_py.hpp"
#include "pymod/native/py_names.hpp"
#include "pymod/native/py_type.hpp"
#include "tls/signed_value.hpp"

#include <structmember.h>

#include <ctime>
#include <string>
#include <string_view>

namespace ringbolt::py {

const tls::value_signer* value_signer_of(PyObject* o); // tls/signed_value_py.cpp

namespace {

// A refusal past tls::signed_refusal's (ringbolt.sessions._REFUSALS names them).
constexpr long not_an_object = 4;
constexpr long too_large = 5;

// Names interned once at module init (py_names.hpp).
PyObject* name_rb_session = nullptr; // req.__dict__'s key of the session read
PyObject* name_session = nullptr;    // req.session
PyObject* name_renew = nullptr;      // Session.renew
PyObject* name_scopes = nullptr;     // SecurityScopes.scopes

// d[key] as a new reference, or null (an error set, or none for a key not there). A
// free-threaded build takes the reference under the dict's own lock: another thread may
// drop the entry meanwhile.
PyObject* get_ref(PyObject* d, PyObject* key) {
#ifdef Py_GIL_DISABLED
    PyObject* v = nullptr;
    return PyDict_GetItemRef(d, key, &v) < 0 ? nullptr : v;
#else
    return Py_XNewRef(PyDict_GetItemWithError(d, key));
#endif
}

// A new reference released at scope end.
struct owned {
    PyObject* p;
    ~owned() { Py_XDECREF(p); }
};

// What both objects start with: the vectorcall slot and a count of the requests answered
// natively (the `hits` attribute: tests prove the path ran with it).
struct fast_head {
    PyObject_HEAD vectorcallfunc vectorcall;
    Py_ssize_t hits;
};

PyMemberDef hits_member[] = {
    {"hits", T_PYSSIZET, offsetof(fast_head, hits), READONLY, "Requests answered natively (a kept value)."},
    {nullptr, 0, 0, 0, nullptr},
};

// A type of this file: `d` called by vectorcall through fast_head, with `hits`, not subclassable.
PyTypeObject fast_type(type_def d) {
    d.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | (d.flags & Py_TPFLAGS_HAVE_GC);
    d.members = hits_member;
    return vectorcall_type<fast_head>(d);
}

bool is_request(PyObject* o, Py_ssize_t nargs, PyObject* kwnames, Py_ssize_t want) {
    return nargs == want && kwnames == nullptr && Py_IS_TYPE(o, &request_type);
}

// ---- SessionReader ----

struct session_reader {
    fast_head head;
    PyObject* signer;     ///< ValueSigner (kept alive for `keys`)
    PyObject* read_type;  ///< the Sessions' Session subclass of a cookie that verified
    PyObject* empty_type; ///< ... of no cookie, or one refused
    PyObject* fallback;   ///< Sessions.get: any request that is not ringbolt's own
    PyObject* on_refused; ///< ringbolt.sessions.refused(code): logs why, at debug
    PyObject* kept;       ///< dict: cookie value -> (issued, key index, data dict or None, payload bytes or None)
    const tls::value_signer* keys;
    std::string* name;
    int64_t max_age;
    Py_ssize_t max_bytes; ///< the cookie's name=value beyond this: refused
    Py_ssize_t kept_size;
    bool refresh;
};

using reader_refs =
    gc_refs<session_reader, &session_reader::signer, &session_reader::read_type, &session_reader::empty_type,
            &session_reader::fallback, &session_reader::on_refused, &session_reader::kept>;

session_reader& SR(PyObject* o) {
    return *reinterpret_cast<session_reader*>(o);
}

void reader_dealloc(PyObject* o) {
    PyObject_GC_UnTrack(o);
    reader_refs::clear(o);
    delete SR(o).name;
    Py_TYPE(o)->tp_free(o);
}

// Whether every value of `d` is a str, int, float, bool or None: a copy of it is then a
// session no handler's change can reach back from (a list or a dict inside could).
bool scalars_only(PyObject* d) {
    Py_ssize_t pos = 0;
    PyObject* k;
    PyObject* v;
    while (PyDict_Next(d, &pos, &k, &v)) {
        if (!(PyUnicode_CheckExact(v) || PyLong_CheckExact(v) || PyFloat_CheckExact(v) || PyBool_Check(v) ||
              v == Py_None)) {
            return false;
        }
    }
    return true;
}

// The session's data parsed from the signed payload: a dict, or nullptr (no error set)
// for a payload that is not a JSON object.
PyObject* parse_object(std::string_view payload) {
    PyObject* data = parse_json(payload.data(), payload.size(), false, PyExc_ValueError);
    if (data == nullptr || !PyDict_CheckExact(data)) {
        PyErr_Clear();
        Py_XDECREF(data);
        return nullptr;
    }
    return data;
}

// `value` kept: the oldest entry dropped first when the dict is full.
bool keep(session_reader& r, PyObject* key, PyObject* entry) {
    if (r.kept_size <= 0) {
        return true;
    }
    if (PyDict_GET_SIZE(r.kept) >= r.kept_size) {
        Py_ssize_t pos = 0;
        PyObject* oldest;
        PyObject* ignored;
        if (PyDict_Next(r.kept, &pos, &oldest, &ignored)) {
            Py_INCREF(oldest);
            int gone = PyDict_DelItem(r.kept, oldest);
            Py_DECREF(oldest);
            if (gone < 0) {
                return false;
            }
        }
    }
    return PyDict_SetItem(r.kept, key, entry) == 0;
}

// The data of the cookie `value` (a new reference: a dict parsed now, or the kept one, to
// be copied into the session), its key index in `index`; or nullptr with `refusal` set
// (no error), or nullptr with an error and `refusal` 0.
PyObject* open_value(session_reader& r, std::string_view value, size_t& index, long& refusal) {
    int64_t now = static_cast<int64_t>(time(nullptr)); // time.time()'s clock
    owned key{PyUnicode_DecodeASCII(value.data(), static_cast<Py_ssize_t>(value.size()), nullptr)};
    if (key.p == nullptr) {
        return nullptr;
    }
    owned hit{get_ref(r.kept, key.p)};
    if (hit.p != nullptr && PyTuple_CheckExact(hit.p) && PyTuple_GET_SIZE(hit.p) == 4) {
        int64_t issued = PyLong_AsLongLong(PyTuple_GET_ITEM(hit.p, 0));
        index = PyLong_AsSize_t(PyTuple_GET_ITEM(hit.p, 1));
        if (PyErr_Occurred()) {
            return nullptr;
        }
        if (r.max_age >= 0 && now - issued > r.max_age) {
            if (PyDict_DelItem(r.kept, key.p) < 0 && !PyErr_ExceptionMatches(PyExc_KeyError)) {
                return nullptr;
            }
            PyErr_Clear(); // (another thread dropped it first)
            refusal = static_cast<long>(tls::signed_refusal::expired);
            return nullptr;
        }
        ++r.head.hits;
        PyObject* data = PyTuple_GET_ITEM(hit.p, 2);
        if (data != Py_None) {
            return Py_NewRef(data);
        }
        PyObject* payload = PyTuple_GET_ITEM(hit.p, 3);
        data =
            parse_object(std::string_view(PyBytes_AS_STRING(payload), static_cast<size_t>(PyBytes_GET_SIZE(payload))));
        if (data == nullptr) {
            refusal = not_an_object; // not reached: kept only once it parsed
        }
        return data;
    }
    if (PyErr_Occurred()) {
        return nullptr;
    }
    tls::signed_opened opened;
    tls::signed_refusal why = r.keys->open(value, r.max_age, now, opened);
    if (why != tls::signed_refusal::none) {
        refusal = static_cast<long>(why);
        return nullptr;
    }
    PyObject* data = parse_object(opened.payload);
    if (data == nullptr) {
        refusal = not_an_object;
        return nullptr;
    }
    index = opened.key_index;
    bool scalar = scalars_only(data);
    PyObject* entry =
        scalar ? Py_BuildValue("(LnOO)", static_cast<long long>(opened.issued), static_cast<Py_ssize_t>(index), data,
                               Py_None)
               : Py_BuildValue("(LnOy#)", static_cast<long long>(opened.issued), static_cast<Py_ssize_t>(index),
                               Py_None, opened.payload.data(), static_cast<Py_ssize_t>(opened.payload.size()));
    bool kept = entry != nullptr && keep(r, key.p, entry);
    Py_XDECREF(entry);
    if (!kept) {
        Py_DECREF(data);
        return nullptr;
    }
    return data;
}

// reader(req): the request's Session, read once and kept as req.session (what
// Sessions.get does for the cookie store).
PyObject* reader_call(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    session_reader& r = SR(self);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (!is_request(nargs > 0 ? args[0] : nullptr, nargs, kwnames, 1)) {
        return PyObject_Vectorcall(r.fallback, args, nargsf, kwnames);
    }
    request_object* o = as_request(args[0]);
    if (o->dict != nullptr) {
        if (PyObject* s = get_ref(o->dict, name_rb_session); s != nullptr) {
            return s;
        }
        if (PyErr_Occurred()) {
            return nullptr;
        }
    }
    std::string_view value;
    bool stale = false;
    size_t index = 0;
    PyObject* data = nullptr;
    if (find_cookie(*o->req, *r.name, value)) {
        long refusal = 0;
        if (static_cast<Py_ssize_t>(value.size() + r.name->size() + 1) > r.max_bytes) {
            refusal = too_large;
        } else if (!is_ascii(value)) {
            refusal = static_cast<long>(tls::signed_refusal::malformed); // signed values are ASCII
        } else {
            data = open_value(r, value, index, refusal);
            if (data == nullptr && refusal == 0) {
                return nullptr;
            }
        }
        if (refusal != 0) {
            stale = true; // the cookie is expired in the answer unless the session is written
            PyObject* code = PyLong_FromLong(refusal);
            PyObject* logged = code != nullptr ? PyObject_CallOneArg(r.on_refused, code) : nullptr;
            Py_XDECREF(code);
            if (logged == nullptr) {
                return nullptr;
            }
            Py_DECREF(logged);
        }
    }
    bool read = data != nullptr;
    PyObject* session = read ? PyObject_CallOneArg(r.read_type, data) : PyObject_CallNoArgs(r.empty_type);
    Py_XDECREF(data);
    if (session == nullptr) {
        return nullptr;
    }
    if ((stale || (read && (index > 0 || r.refresh))) && PyObject_SetAttr(session, name_renew, Py_True) < 0) {
        Py_DECREF(session);
        return nullptr;
    }
    if (o->dict == nullptr && (o->dict = PyDict_New()) == nullptr) {
        Py_DECREF(session);
        return nullptr;
    }
    if (PyDict_SetItem(o->dict, name_rb_session, session) < 0 || PyDict_SetItem(o->dict, name_session, session) < 0) {
        Py_DECREF(session);
        return nullptr;
    }
    return session;
}

PyObject* reader_kept_count(PyObject* self, PyObject*) {
    return PyLong_FromSsize_t(PyDict_GET_SIZE(SR(self).kept));
}

PyObject* reader_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kw[] = {"signer",  "cookie_name", "max_age",    "read_type", "empty_type", "max_bytes",
                               "refresh", "fallback",    "on_refused", "kept_size", nullptr};
    PyObject* signer;
    const char* name;
    Py_ssize_t name_len;
    long long max_age;
    PyObject* read_type;
    PyObject* empty_type;
    Py_ssize_t max_bytes;
    int refresh;
    PyObject* fallback;
    PyObject* on_refused;
    Py_ssize_t kept_size;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Os#LO!O!npOOn:SessionReader", const_cast<char**>(kw), &signer, &name,
                                     &name_len, &max_age, &PyType_Type, &read_type, &PyType_Type, &empty_type,
                                     &max_bytes, &refresh, &fallback, &on_refused, &kept_size)) {
        return nullptr;
    }
    const tls::value_signer* keys = value_signer_of(signer);
    if (keys == nullptr) {
        PyErr_Format(PyExc_TypeError, "signer must be a ValueSigner, not %.100s", Py_TYPE(signer)->tp_name);
        return nullptr;
    }
    if (!PyCallable_Check(fallback) || !PyCallable_Check(on_refused)) {
        PyErr_SetString(PyExc_TypeError, "fallback and on_refused must be callable");
        return nullptr;
    }
    PyObject* kept = PyDict_New();
    if (kept == nullptr) {
        return nullptr;
    }
    PyObject* self = type->tp_alloc(type, 0);
    if (self == nullptr) {
        Py_DECREF(kept);
        return nullptr;
    }
    session_reader& r = SR(self);
    r.head.vectorcall = reader_call;
    r.signer = Py_NewRef(signer);
    r.read_type = Py_NewRef(read_type);
    r.empty_type = Py_NewRef(empty_type);
    r.fallback = Py_NewRef(fallback);
    r.on_refused = Py_NewRef(on_refused);
    r.kept = kept;
    r.keys = keys;
    r.name = new std::string(name, static_cast<size_t>(name_len));
    r.max_age = max_age;
    r.max_bytes = max_bytes;
    r.kept_size = kept_size;
    r.head.hits = 0;
    r.refresh = refresh != 0;
    return self;
}

PyMethodDef reader_methods[] = {
    {"kept_count", reader_kept_count, METH_NOARGS, "kept_count() -> int: the verified cookies kept."},
    {nullptr, nullptr, 0, nullptr},
};

const char reader_doc[] =
    "SessionReader(signer, cookie_name, max_age, read_type, empty_type, max_bytes, refresh, fallback, on_refused, "
    "kept_size): reader(req) -> the request's session (ringbolt.sessions.Sessions.get).";

PyTypeObject reader_type = fast_type(reader_refs::def({.name = "ringbolt._native.SessionReader",
                                                       .basicsize = sizeof(session_reader),
                                                       .doc = reader_doc,
                                                       .dealloc = reader_dealloc,
                                                       .methods = reader_methods,
                                                       .new_object = reader_new}));

// ---- KeptBearer ----

struct kept_bearer {
    fast_head head;
    PyObject* verified; ///< JWTAuth._verified: token -> (principal, valid until, valid from, generation)
    PyObject* fallback; ///< JWTAuth's Python __call__
    PyObject* scopes;   ///< the last SecurityScopes seen, and whether it asked for none
    bool scopes_empty;
};

using bearer_refs = gc_refs<kept_bearer, &kept_bearer::verified, &kept_bearer::fallback, &kept_bearer::scopes>;

kept_bearer& KB(PyObject* o) {
    return *reinterpret_cast<kept_bearer*>(o);
}

double wall_clock() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts); // time.time()'s clock
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Whether `scopes` (a SecurityScopes) names none: asked once per object (a route's is a constant).
bool no_scopes(kept_bearer& b, PyObject* scopes) {
    if (scopes != b.scopes) {
        PyObject* v = PyObject_GetAttr(scopes, name_scopes);
        int truth = v != nullptr ? PyObject_IsTrue(v) : -1;
        Py_XDECREF(v);
        if (truth < 0) {
            PyErr_Clear();
            return false;
        }
        Py_XSETREF(b.scopes, Py_NewRef(scopes));
        b.scopes_empty = truth == 0;
    }
    return b.scopes_empty;
}

// The kept principal of this request's "Authorization: Bearer <token>" (a new reference),
// or null (no error) for anything else: then JWTAuth's Python decides.
PyObject* kept_principal(kept_bearer& b, const dispatch::app_request& r) {
    std::string_view v;
    if (!find_header(r, "authorization", v) || !v.starts_with("Bearer ") || !is_ascii(v)) {
        return nullptr;
    }
    v.remove_prefix(7);
    owned token{PyUnicode_DecodeASCII(v.data(), static_cast<Py_ssize_t>(v.size()), nullptr)};
    owned hit{token.p != nullptr ? get_ref(b.verified, token.p) : nullptr};
    if (hit.p == nullptr || !PyTuple_CheckExact(hit.p) || PyTuple_GET_SIZE(hit.p) != 4) {
        PyErr_Clear();
        return nullptr;
    }
    double until = PyFloat_AsDouble(PyTuple_GET_ITEM(hit.p, 1));
    double since = PyFloat_AsDouble(PyTuple_GET_ITEM(hit.p, 2));
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return nullptr;
    }
    double now = wall_clock();
    return since <= now && now < until ? Py_NewRef(PyTuple_GET_ITEM(hit.p, 0)) : nullptr;
}

// bearer(req, security_scopes): JWTAuth(req, security_scopes) for a token kept and still
// in its time window, with no Python run; JWTAuth's own __call__ for everything else.
PyObject* bearer_call(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    kept_bearer& b = KB(self);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (is_request(nargs > 0 ? args[0] : nullptr, nargs, kwnames, 2) && no_scopes(b, args[1])) {
        if (PyObject* principal = kept_principal(b, *as_request(args[0])->req); principal != nullptr) {
            ++b.head.hits;
            return principal;
        }
    }
    return PyObject_Vectorcall(b.fallback, args, nargsf, kwnames);
}

PyObject* bearer_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kw[] = {"verified", "fallback", nullptr};
    PyObject* verified;
    PyObject* fallback;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O:KeptBearer", const_cast<char**>(kw), &PyDict_Type, &verified,
                                     &fallback)) {
        return nullptr;
    }
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return nullptr;
    }
    PyObject* self = type->tp_alloc(type, 0);
    if (self == nullptr) {
        return nullptr;
    }
    kept_bearer& b = KB(self);
    b.head.vectorcall = bearer_call;
    b.verified = Py_NewRef(verified);
    b.fallback = Py_NewRef(fallback);
    b.scopes = nullptr;
    b.head.hits = 0;
    b.scopes_empty = false;
    return self;
}

const char bearer_doc[] = "KeptBearer(verified, fallback): bearer(req, security_scopes) -> the kept principal of "
                          "the request's bearer token, or fallback(req, security_scopes) (ringbolt.auth.JWTAuth).";

PyTypeObject bearer_type = fast_type(bearer_refs::def({.name = "ringbolt._native.KeptBearer",
                                                       .basicsize = sizeof(kept_bearer),
                                                       .doc = bearer_doc,
                                                       .new_object = bearer_new}));

} // namespace

int init_dependency_fast(PyObject* module) {
    if (!intern_names({{&name_rb_session, "_rb_session"},
                       {&name_session, "session"},
                       {&name_renew, "renew"},
                       {&name_scopes, "scopes"}})) {
        return -1;
    }
    return ready_native_type(reader_type, module, "SessionReader") &&
                   ready_native_type(bearer_type, module, "KeptBearer")
               ? 0
               : -1;
}

} // namespace ringbolt::py
