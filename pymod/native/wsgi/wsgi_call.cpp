// ringbolt._native.WSGICall and StartResponse: WSGI's common case in one native call per
// request (environ, wsgi.input, the app call in a fresh contextvars.Context, a native
// start_response, a list/tuple of bytes joined into the answer, whose head the bridge
// builds straight from the app's header list). Anything else goes to
// ringbolt.wsgi.WSGIHandler's Python methods, which own the uncommon cases and the errors.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pymod/native/py_exception.hpp"
#include "pymod/native/py_names.hpp"
#include "pymod/native/py_type.hpp"
#include "pymod/native/wsgi/wsgi_call.hpp"

#include "pymod/native/bridge/kept_list.hpp"
#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/bridge/response_stream.hpp"
#include "pymod/native/wsgi/wsgi_answer.hpp"
#include "pymod/native/wsgi/wsgi_environ.hpp"
#include "pymod/native/wsgi/wsgi_input.hpp"

#include <cstddef>
#include <cstring>
#include <string>

namespace ringbolt::py {

namespace {

PyObject* str_with_traceback = nullptr;
PyObject* key_input = nullptr; // "wsgi.input"
PyObject* key_content_length = nullptr;
PyObject* key_path_info = nullptr;

bool intern_wsgi_names() {
    if (!intern_names({
            {&str_with_traceback, "with_traceback"},
            {&key_input, "wsgi.input"},
            {&key_content_length, "CONTENT_LENGTH"},
            {&key_path_info, "PATH_INFO"},
        })) {
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------
// StartResponse: start_response and write for one request. The same attributes as
// start_response has always had (status, headers, sent, written): ringbolt.wsgi's Python
// fallbacks (_respond, _Body) read and set them. Once WSGICall has joined the app's list
// of bytes it is also the answer: `body` is set, and the bridge reads status, headers
// and body from it (wsgi_answer_message), with no ringbolt.Response in between.

struct start_object {
    PyObject_HEAD vectorcallfunc vectorcall;
    PyObject* headers;       ///< nullptr until start_response was called (reads as None)
    PyObject* written;       ///< list of bytes from write(), made on first use
    PyObject* body;          ///< the whole body (bytes) once answered natively; nullptr before and after
    PyObject* parse_status;  ///< ringbolt.wsgi._parse_status: raises the error for a bad status
    PyObject* check_headers; ///< ringbolt.wsgi._check_headers: raises for bad headers, re-encodes latin-1
    int status;
    bool sent; ///< the head was handed to the server: too late to change it
};

extern PyTypeObject write_type;

/// One StartResponse and one write callable a request: a few kept for the next requests
/// (kept_list.hpp), each an allocation and a free otherwise.
kept_list<start_object, 4, PyObject_Free> spare_starts;

/// The write callable start_response returns (PEP 3333): write(data) of its StartResponse.
struct write_object {
    PyObject_HEAD vectorcallfunc vectorcall;
    PyObject* start;
};

kept_list<write_object, 4, PyObject_Free> spare_writes;

PyObject* start_write(PyObject* self_obj, PyObject* data);

PyObject* write_call(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 1 || kwnames != nullptr) {
        PyErr_Format(PyExc_TypeError, "write() takes exactly one argument (%zd given)",
                     nargs + (kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0));
        return nullptr;
    }
    return start_write(reinterpret_cast<write_object*>(self)->start, args[0]);
}

PyObject* new_write(PyObject* start) {
    write_object* w = take_object(spare_writes, &write_type);
    if (w == nullptr) {
        return nullptr;
    }
    w->vectorcall = write_call;
    w->start = Py_NewRef(start);
    return reinterpret_cast<PyObject*>(w);
}

void write_dealloc(PyObject* self) {
    auto* w = reinterpret_cast<write_object*>(self);
    Py_DECREF(w->start);
    if (!spare_writes.give(w)) {
        PyObject_Free(w);
    }
}

PyTypeObject write_type = vectorcall_type<write_object>({
    .name = "ringbolt._native.StartResponseWrite",
    .basicsize = sizeof(write_object),
    .doc = "write(data): body bytes before the iterable's (PEP 3333), what start_response returns.",
    .dealloc = write_dealloc,
});

/// "NNN reason" with NNN >= 100, ASCII (PEP 3333): the code, or 0 when not.
int status_code(PyObject* status) {
    if (!PyUnicode_CheckExact(status) || !PyUnicode_IS_ASCII(status) || PyUnicode_GET_LENGTH(status) < 4) {
        return 0;
    }
    const auto* s = static_cast<const unsigned char*>(PyUnicode_DATA(status));
    if (s[3] != ' ') {
        return 0;
    }
    int code = 0;
    for (int i = 0; i < 3; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        code = code * 10 + (s[i] - '0');
    }
    return code >= 100 ? code : 0;
}

/// A list or tuple of (str, str) tuples, all ASCII: usable as given.
bool plain_headers(PyObject* headers) {
    PyObject** items;
    Py_ssize_t n;
    if (PyList_CheckExact(headers)) {
        items = PySequence_Fast_ITEMS(headers);
        n = PyList_GET_SIZE(headers);
    } else if (PyTuple_CheckExact(headers)) {
        items = PySequence_Fast_ITEMS(headers);
        n = PyTuple_GET_SIZE(headers);
    } else {
        return false;
    }
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* pair = items[i];
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) {
            return false;
        }
        PyObject* name = PyTuple_GET_ITEM(pair, 0);
        PyObject* value = PyTuple_GET_ITEM(pair, 1);
        if (!PyUnicode_CheckExact(name) || !PyUnicode_CheckExact(value) || !PyUnicode_IS_ASCII(name) ||
            !PyUnicode_IS_ASCII(value)) {
            return false;
        }
    }
    return true;
}

/// Re-raise exc_info's exception with its traceback (PEP 3333: start_response with
/// exc_info after the head was sent). Always returns nullptr with the exception set.
PyObject* reraise(PyObject* exc_info) {
    PyObject* value = PySequence_GetItem(exc_info, 1);
    PyObject* tb = value ? PySequence_GetItem(exc_info, 2) : nullptr;
    PyObject* exc = tb ? PyObject_CallMethodOneArg(value, str_with_traceback, tb) : nullptr;
    if (exc != nullptr) {
        if (PyExceptionInstance_Check(exc)) {
            PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc)), exc); // keeps exc.__traceback__
        } else {
            PyErr_SetString(PyExc_TypeError, "exceptions must derive from BaseException");
        }
    }
    Py_XDECREF(value);
    Py_XDECREF(tb);
    Py_XDECREF(exc);
    return nullptr;
}

PyObject* start_call(PyObject* self_obj, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    auto* self = reinterpret_cast<start_object*>(self_obj);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject* argv[3] = {nullptr, nullptr, nullptr}; // status, headers, exc_info
    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError, "start_response() takes from 2 to 3 positional arguments but %zd were given",
                     nargs);
        return nullptr;
    }
    for (Py_ssize_t i = 0; i < nargs; ++i) {
        argv[i] = args[i];
    }
    if (kwnames != nullptr) {
        static const char* const names[] = {"status", "headers", "exc_info"};
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(kwnames); ++k) {
            PyObject* key = PyTuple_GET_ITEM(kwnames, k);
            int slot = -1;
            for (int j = 0; j < 3; ++j) {
                if (PyUnicode_CompareWithASCIIString(key, names[j]) == 0) {
                    slot = j;
                }
            }
            if (slot < 0 || argv[slot] != nullptr) {
                PyErr_Format(PyExc_TypeError,
                             slot < 0 ? "start_response() got an unexpected keyword argument '%U'"
                                      : "start_response() got multiple values for argument '%U'",
                             key);
                return nullptr;
            }
            argv[slot] = args[nargs + k];
        }
    }
    if (argv[0] == nullptr || argv[1] == nullptr) {
        PyErr_SetString(PyExc_TypeError, "start_response() missing required arguments: 'status' and 'headers'");
        return nullptr;
    }
    PyObject* exc_info = argv[2];
    if (exc_info != nullptr && exc_info != Py_None) {
        if (self->sent) {
            return reraise(exc_info); // too late to change the head
        }
    } else if (self->headers != nullptr) {
        PyErr_SetString(PyExc_AssertionError, "start_response called a second time without exc_info");
        return nullptr;
    }
    int code = status_code(argv[0]);
    if (code == 0) [[unlikely]] {
        // Not the common form: the Python check raises WSGIStatusError with its message
        // (or accepts what it accepts), so both paths answer the same.
        PyObject* r = PyObject_CallOneArg(self->parse_status, argv[0]);
        if (r == nullptr) {
            return nullptr;
        }
        code = static_cast<int>(PyLong_AsLong(r));
        Py_DECREF(r);
        if (code == -1 && PyErr_Occurred()) {
            return nullptr;
        }
    }
    PyObject* headers;
    if (plain_headers(argv[1])) [[likely]] {
        headers = Py_NewRef(argv[1]);
    } else {
        // Not a list of ASCII (str, str) tuples: TypeError/ValueError naming the cause,
        // or a latin-1 re-encoded copy, from the Python check.
        headers = PyObject_CallOneArg(self->check_headers, argv[1]);
        if (headers == nullptr) {
            return nullptr;
        }
    }
    self->status = code;
    Py_XSETREF(self->headers, headers);
    return new_write(self_obj);
}

PyObject* start_write(PyObject* self_obj, PyObject* data) {
    auto* self = reinterpret_cast<start_object*>(self_obj);
    if (self->headers == nullptr) {
        PyErr_SetString(PyExc_AssertionError, "write() called before start_response");
        return nullptr;
    }
    PyObject* chunk;
    if (PyBytes_CheckExact(data)) [[likely]] {
        chunk = Py_NewRef(data);
    } else if (PyBytes_Check(data) || PyByteArray_Check(data) || PyMemoryView_Check(data)) {
        chunk = PyBytes_FromObject(data);
        if (chunk == nullptr) {
            return nullptr;
        }
    } else {
        PyErr_Format(PyExc_TypeError, "a WSGI application must yield bytes, not %s", Py_TYPE(data)->tp_name);
        return nullptr;
    }
    int rc = 0;
    if (PyBytes_GET_SIZE(chunk) > 0) {
        if (self->written == nullptr) {
            self->written = PyList_New(0);
        }
        rc = self->written != nullptr ? PyList_Append(self->written, chunk) : -1;
    }
    Py_DECREF(chunk);
    if (rc < 0) {
        return nullptr;
    }
    Py_RETURN_NONE;
}

PyObject* get_status(PyObject* self, void*) {
    return PyLong_FromLong(reinterpret_cast<start_object*>(self)->status);
}

PyObject* get_headers(PyObject* self, void*) {
    PyObject* h = reinterpret_cast<start_object*>(self)->headers;
    return Py_NewRef(h != nullptr ? h : Py_None);
}

PyObject* get_sent(PyObject* self, void*) {
    return PyBool_FromLong(reinterpret_cast<start_object*>(self)->sent);
}

int set_sent(PyObject* self, PyObject* value, void*) {
    if (value == nullptr) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete 'sent'");
        return -1;
    }
    int truth = PyObject_IsTrue(value);
    if (truth < 0) {
        return -1;
    }
    reinterpret_cast<start_object*>(self)->sent = truth != 0;
    return 0;
}

PyObject* get_written(PyObject* self_obj, void*) {
    auto* self = reinterpret_cast<start_object*>(self_obj);
    if (self->written == nullptr) {
        self->written = PyList_New(0);
    }
    return Py_XNewRef(self->written);
}

start_object* new_start(PyObject* parse_status, PyObject* check_headers) {
    start_object* start = take_object(spare_starts, &wsgi_start_type);
    if (start == nullptr) {
        return nullptr;
    }
    start->vectorcall = start_call;
    start->headers = nullptr;
    start->written = nullptr;
    start->body = nullptr;
    start->parse_status = Py_NewRef(parse_status);
    start->check_headers = Py_NewRef(check_headers);
    start->status = 0;
    start->sent = false;
    return start;
}

PyObject* start_new(PyTypeObject*, PyObject* args, PyObject* kwds) {
    static const char* kw[] = {"parse_status", "check_headers", nullptr};
    PyObject *parse_status, *check_headers;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:StartResponse", const_cast<char**>(kw), &parse_status,
                                     &check_headers)) {
        return nullptr;
    }
    return reinterpret_cast<PyObject*>(new_start(parse_status, check_headers));
}

void start_dealloc(PyObject* self_obj) {
    auto* self = reinterpret_cast<start_object*>(self_obj);
    Py_DECREF(self->parse_status);
    Py_DECREF(self->check_headers);
    Py_XDECREF(self->headers);
    Py_XDECREF(self->written);
    Py_XDECREF(self->body);
    if (!spare_starts.give(self)) {
        PyObject_Free(self);
    }
}

PyMethodDef start_methods[] = {
    {"write", start_write, METH_O, "write(data): body bytes before the iterable's (PEP 3333)."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef start_getset[] = {
    {"status", get_status, nullptr, "The status code given (0 before start_response).", nullptr},
    {"headers", get_headers, nullptr, "The checked header list, or None before start_response.", nullptr},
    {"sent", get_sent, set_sent, "True once the head was handed to the server.", nullptr},
    {"written", get_written, nullptr, "Bytes given to write(), in order.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

/// Bodies at least this long are sent from the bytes object itself (as the bridge does).
constexpr size_t borrow_body_at_least = 16 * 1024;

// ---------------------------------------------------------------------------------------
// WSGICall: the server's fallback handler for a mounted WSGI app.

struct call_object {
    PyObject_HEAD vectorcallfunc vectorcall;
    PyObject* app;
    PyObject* base;      ///< the environ's constant part (dict; WSGIHandler.base)
    PyObject* root_path; ///< str; "" when none
    PyObject* run;       ///< handler._run(req, context): the whole Python path
    PyObject* finish;    ///< handler._finish(environ, start, result, context)
    PyObject* failed;    ///< handler._failed(environ, result, exc)
    PyObject* parse_status;
    PyObject* check_headers;
};

/// The body of a list/tuple of exact bytes (after write()'s chunks), or nullptr with no
/// exception when an item is anything else (the Python path then joins or refuses it).
PyObject* join_body(PyObject* written, PyObject* result) {
    PyObject** items = PySequence_Fast_ITEMS(result);
    Py_ssize_t n = PySequence_Fast_GET_SIZE(result);
    Py_ssize_t nw = written != nullptr ? PyList_GET_SIZE(written) : 0;
    size_t total = 0;
    for (Py_ssize_t i = 0; i < n; ++i) {
        if (!PyBytes_CheckExact(items[i])) {
            return nullptr;
        }
        total += static_cast<size_t>(PyBytes_GET_SIZE(items[i]));
    }
    if (nw == 0) {
        if (n == 1) {
            return Py_NewRef(items[0]);
        }
        if (n == 0) {
            return PyBytes_FromStringAndSize(nullptr, 0);
        }
    }
    for (Py_ssize_t i = 0; i < nw; ++i) {
        total += static_cast<size_t>(PyBytes_GET_SIZE(PyList_GET_ITEM(written, i)));
    }
    PyObject* out = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(total));
    if (out == nullptr) {
        return nullptr;
    }
    char* p = PyBytes_AS_STRING(out);
    auto put = [&p](PyObject* b) {
        size_t k = static_cast<size_t>(PyBytes_GET_SIZE(b));
        std::memcpy(p, PyBytes_AS_STRING(b), k);
        p += k;
    };
    for (Py_ssize_t i = 0; i < nw; ++i) {
        put(PyList_GET_ITEM(written, i));
    }
    for (Py_ssize_t i = 0; i < n; ++i) {
        put(items[i]);
    }
    return out;
}

/// The app raised (or the result could not be answered): handler._failed logs it and
/// returns the 500, or re-raises an HTTPError from wsgi.input.
PyObject* failed(call_object* self, PyObject* environ, PyObject* result) {
    PyObject* exc = take_exception();
    if (exc == nullptr) {
        PyErr_SetString(PyExc_SystemError, "WSGI call failed with no exception set");
        return nullptr;
    }
    PyObject* args[3] = {environ, result != nullptr ? result : Py_None, exc};
    PyObject* r = PyObject_Vectorcall(self->failed, args, 3, nullptr);
    Py_DECREF(exc);
    return r;
}

/// Strip root_path from PATH_INFO when it starts with it (as WSGIHandler._run does).
bool strip_root(call_object* self, PyObject* environ) {
    PyObject* path = PyDict_GetItemWithError(environ, key_path_info); // borrowed
    if (path == nullptr || !PyUnicode_Check(path)) {
        return !PyErr_Occurred();
    }
    Py_ssize_t rn = PyUnicode_GET_LENGTH(self->root_path);
    Py_ssize_t pn = PyUnicode_GET_LENGTH(path);
    if (pn < rn || PyUnicode_Tailmatch(path, self->root_path, 0, rn, -1) != 1) {
        return !PyErr_Occurred();
    }
    if (pn > rn && PyUnicode_ReadChar(path, rn) != '/') {
        return true;
    }
    PyObject* rest = PyUnicode_Substring(path, rn, pn);
    if (rest == nullptr) {
        return false;
    }
    int rc = PyDict_SetItem(environ, key_path_info, rest);
    Py_DECREF(rest);
    return rc == 0;
}

/// The request as WSGICall needs it: its C++ record, and a Python view of it (a
/// ringbolt._native.Request) only when the Python path needs one (a streamed body).
class wsgi_request {
  public:
    /// Called by the server (the bridge): no view yet.
    wsgi_request(dispatch::app_request& r, PyObject* param_names, const python_types* types)
        : _r(r), _param_names(param_names), _types(types) {}
    /// Called from Python with a view.
    wsgi_request(PyObject* view) : _r(*reinterpret_cast<request_object*>(view)->req), _view(view) {}
    wsgi_request(const wsgi_request&) = delete;
    wsgi_request& operator=(const wsgi_request&) = delete;
    ~wsgi_request() {
        if (_made != nullptr) {
            release_request(_made); // detached first if something kept it
        }
    }

    dispatch::app_request& record() noexcept { return _r; }

    /// The view (borrowed), made now if there is none; nullptr with an exception.
    PyObject* view() {
        if (_view == nullptr) {
            _made = new_request(&_r, _param_names, _types);
            _view = reinterpret_cast<PyObject*>(_made);
            if (_view == nullptr && !PyErr_Occurred()) {
                PyErr_NoMemory();
            }
        }
        return _view;
    }

  private:
    dispatch::app_request& _r;
    PyObject* _view = nullptr;
    request_object* _made = nullptr;
    PyObject* _param_names = nullptr;
    const python_types* _types = nullptr;
};

PyObject* run_request(call_object* self, wsgi_request& req, PyObject* context) {
    dispatch::app_request& r = req.record();
    if (r.streamed_body) {
        // A body read as it arrives (over 1 MiB, or chunked): the Python path's BodyInput.
        PyObject* view = req.view();
        if (view == nullptr) {
            return nullptr;
        }
        PyObject* args[2] = {view, context};
        return PyObject_Vectorcall(self->run, args, 2, nullptr);
    }
    PyObject* environ = wsgi_environ(r, self->base);
    if (environ == nullptr) {
        return nullptr;
    }
    PyObject* result = nullptr;
    PyObject* answer = nullptr;
    start_object* start = nullptr;
    std::string_view body_bytes = r.body.in(r.data);
    PyObject* body = PyBytes_FromStringAndSize(body_bytes.data(), static_cast<Py_ssize_t>(body_bytes.size()));
    PyObject* input = body != nullptr ? new_wsgi_input(body) : nullptr;
    bool ok = input != nullptr && PyDict_SetItem(environ, key_input, input) == 0;
    if (ok && PyBytes_GET_SIZE(body) > 0) {
        // A chunked body, buffered: its length is known.
        int has = PyDict_Contains(environ, key_content_length);
        if (has == 0) {
            PyObject* n = PyUnicode_FromFormat("%zd", PyBytes_GET_SIZE(body));
            ok = n != nullptr && PyDict_SetItem(environ, key_content_length, n) == 0;
            Py_XDECREF(n);
        } else {
            ok = has > 0;
        }
    }
    Py_XDECREF(body);
    Py_XDECREF(input);
    if (ok && PyUnicode_GET_LENGTH(self->root_path) > 0) {
        ok = strip_root(self, environ);
    }
    if (ok) {
        start = new_start(self->parse_status, self->check_headers);
        ok = start != nullptr;
    }
    if (!ok) {
        Py_XDECREF(start);
        Py_DECREF(environ);
        return nullptr;
    }
    PyObject* cargs[2] = {environ, reinterpret_cast<PyObject*>(start)};
    result = PyObject_Vectorcall(self->app, cargs, 2, nullptr);
    if (result == nullptr) {
        answer = failed(self, environ, nullptr);
    } else if ((PyList_CheckExact(result) || PyTuple_CheckExact(result)) && start->headers != nullptr) [[likely]] {
        // A body already in memory (raw apps, wsgiref-style). An exact list or tuple has
        // no close() to call.
        PyObject* joined = join_body(start->written, result);
        if (joined != nullptr) {
            // The answer is the StartResponse itself, carrying the body: the bridge turns
            // it into the response message (wsgi_answer_message).
            start->sent = true;
            start->body = joined;
            answer = Py_NewRef(reinterpret_cast<PyObject*>(start));
        } else if (PyErr_Occurred()) {
            answer = failed(self, environ, result);
        }
    }
    if (answer == nullptr && result != nullptr && !PyErr_Occurred()) {
        // Everything else (generators, FileWrapper, str items, no start_response...):
        // the Python path, with its errors.
        PyObject* args[4] = {environ, reinterpret_cast<PyObject*>(start), result, context};
        answer = PyObject_Vectorcall(self->finish, args, 4, nullptr);
    }
    Py_XDECREF(result);
    Py_DECREF(start);
    Py_DECREF(environ);
    return answer;
}

/// One request, in a fresh context (as contextvars.Context().run would): nothing set by
/// one request, or by the pool thread, is seen by the next.
PyObject* call_in_context(call_object* self, wsgi_request& req) {
    PyObject* context = PyContext_New();
    if (context == nullptr) {
        return nullptr;
    }
    if (PyContext_Enter(context) < 0) {
        Py_DECREF(context);
        return nullptr;
    }
    PyObject* answer = run_request(self, req, context);
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (PyContext_Exit(context) < 0) {
        // The app left a context of its own entered: ours is not the current one.
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        Py_XDECREF(answer);
        Py_DECREF(context);
        return nullptr;
    }
    PyErr_Restore(type, value, tb);
    Py_DECREF(context);
    return answer;
}

/// entry(req) from Python (WSGIHandler.__call__): the same as the server's call.
PyObject* call_vectorcall(PyObject* self_obj, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != nullptr || !Py_IS_TYPE(args[0], &request_type)) {
        PyErr_SetString(PyExc_TypeError, "WSGICall takes one argument, the request (a ringbolt Request)");
        return nullptr;
    }
    wsgi_request req(args[0]);
    return call_in_context(reinterpret_cast<call_object*>(self_obj), req);
}

PyObject* call_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kw[] = {"handler", "app", "base", "root_path", "parse_status", "check_headers", nullptr};
    PyObject *handler, *app, *base, *root_path, *parse_status, *check_headers;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO!UOO:WSGICall", const_cast<char**>(kw), &handler, &app,
                                     &PyDict_Type, &base, &root_path, &parse_status, &check_headers)) {
        return nullptr;
    }
    PyObject* run = PyObject_GetAttrString(handler, "_run");
    PyObject* finish = run ? PyObject_GetAttrString(handler, "_finish") : nullptr;
    PyObject* fail = finish ? PyObject_GetAttrString(handler, "_failed") : nullptr;
    auto* self = fail ? reinterpret_cast<call_object*>(type->tp_alloc(type, 0)) : nullptr;
    if (self == nullptr) {
        Py_XDECREF(run);
        Py_XDECREF(finish);
        Py_XDECREF(fail);
        return nullptr;
    }
    self->vectorcall = call_vectorcall;
    self->app = Py_NewRef(app);
    self->base = Py_NewRef(base);
    self->root_path = Py_NewRef(root_path);
    self->run = run;
    self->finish = finish;
    self->failed = fail;
    self->parse_status = Py_NewRef(parse_status);
    self->check_headers = Py_NewRef(check_headers);
    return reinterpret_cast<PyObject*>(self);
}

using call_refs =
    gc_refs<call_object, &call_object::app, &call_object::base, &call_object::root_path, &call_object::run,
            &call_object::finish, &call_object::failed, &call_object::parse_status, &call_object::check_headers>;

PyTypeObject call_type = vectorcall_type<call_object>(call_refs::def({
    .name = "ringbolt._native.WSGICall",
    .basicsize = sizeof(call_object),
    .doc = "WSGICall(handler, app, base, root_path, parse_status, check_headers): "
           "the server's per-request entry for a WSGI app (ringbolt.wsgi.WSGIHandler.entry).",
    .new_object = call_new,
}));

} // namespace

PyTypeObject wsgi_start_type = vectorcall_type<start_object>({
    .name = "ringbolt._native.StartResponse",
    .basicsize = sizeof(start_object),
    .doc = "StartResponse(parse_status, check_headers): start_response(status, headers, exc_info=None) "
           "for one WSGI request; returns write.",
    .dealloc = start_dealloc,
    .methods = start_methods,
    .getset = start_getset,
    .new_object = start_new,
});

bool is_wsgi_call(PyObject* handler) noexcept {
    return Py_IS_TYPE(handler, &call_type);
}

PyObject* run_wsgi_call(PyObject* handler, dispatch::app_request& req, PyObject* param_names,
                        const python_types* types) {
    wsgi_request request(req, param_names, types);
    return call_in_context(reinterpret_cast<call_object*>(handler), request);
}

bool carries_wsgi_answer(PyObject* start) noexcept {
    return reinterpret_cast<start_object*>(start)->body != nullptr;
}

bool wsgi_answer_message(PyObject* result, bool head_request, http::app_response& resp, int64_t& body_bytes) {
    auto* start = reinterpret_cast<start_object*>(result);
    PyObject* body = start->body; // taken: a start_response the app keeps does not keep the body
    start->body = nullptr;
    size_t n = static_cast<size_t>(PyBytes_GET_SIZE(body));
    body_bytes = static_cast<int64_t>(n);
    bool ok = wsgi_answer_head(start->status, start->headers, n, head_request, resp.start);
    if (ok) {
        if (n >= borrow_body_at_least) {
            http::app_response_more& more = resp.rare();
            more.borrowed = std::string_view(PyBytes_AS_STRING(body), n);
            more.keep = hold_python_object(body);
        } else {
            resp.body.assign(PyBytes_AS_STRING(body), n);
        }
        resp.parts = http::app_response::part_head | http::app_response::part_body | http::app_response::part_end;
    }
    Py_DECREF(body);
    return ok;
}

/// Ready StartResponse and WSGICall and add them to `module` (once, at module init).
int init_wsgi_call(PyObject* module) {
    if (!intern_wsgi_names() || init_wsgi_input(module) < 0 || init_wsgi_environ(module) < 0) {
        return -1;
    }
    return ready_native_type(wsgi_start_type, module, "StartResponse") && ready_native_type(write_type) &&
                   ready_native_type(call_type, module, "WSGICall")
               ? 0
               : -1;
}

} // namespace ringbolt::py
