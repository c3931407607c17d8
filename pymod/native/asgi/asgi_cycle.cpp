// ringbolt._native.ASGICycle: one ASGI http request and its response, with `send` and
// `receive` native for the common case (a response start, then its whole body in one
// message; a body the server has read already), each an awaitable that is complete at
// once. Everything else goes to ringbolt.asgi._Cycle's Python methods (`_send`,
// `_receive`), which own streaming, pathsend, disconnects and every protocol error.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pymod/native/asgi/asgi_cycle.hpp"

#include "pymod/native/bridge/app_bridge.hpp"
#include "pymod/native/py_names.hpp"
#include "pymod/native/py_type.hpp"

#include <structmember.h>

#include <cstddef>
#include <cstring>

namespace ringbolt::py {

namespace {

// The cycle's states, as ringbolt.asgi names them (_INIT, _STARTED, _STREAMING, _DONE).
enum cycle_state : int { state_init = 0, state_started = 1, state_streaming = 2, state_done = 3 };

PyObject* str_type = nullptr;        // "type"
PyObject* str_body = nullptr;        // "body"
PyObject* str_more_body = nullptr;   // "more_body"
PyObject* str_status = nullptr;      // "status"
PyObject* str_headers = nullptr;     // "headers"
PyObject* str_send = nullptr;        // "_send"
PyObject* str_receive = nullptr;     // "_receive"
PyObject* str_body_stream = nullptr; // "_body_stream"
PyObject* str_call_soon = nullptr;   // "call_soon"
PyObject* str_http_request = nullptr;
PyObject* empty_bytes = nullptr;
PyObject* empty_tuple = nullptr;
PyObject* flush_fn = nullptr; // _native._flush_completions (set by init_asgi_cycle)

bool intern_asgi_names() {
    if (!intern_names({
            {&str_type, "type"},
            {&str_body, "body"},
            {&str_more_body, "more_body"},
            {&str_status, "status"},
            {&str_headers, "headers"},
            {&str_send, "_send"},
            {&str_receive, "_receive"},
            {&str_body_stream, "_body_stream"},
            {&str_call_soon, "call_soon"},
            {&str_http_request, "http.request"},
        })) {
        return false;
    }
    empty_bytes = PyBytes_FromStringAndSize("", 0);
    empty_tuple = PyTuple_New(0);
    return empty_bytes != nullptr && empty_tuple != nullptr;
}

/// `s` is exactly the ASCII text `text` (message types are not interned: they have dots).
template <size_t N> bool is_text(PyObject* s, const char (&text)[N]) {
    return PyUnicode_CheckExact(s) && PyUnicode_IS_COMPACT_ASCII(s) && PyUnicode_GET_LENGTH(s) == N - 1 &&
           std::memcmp(PyUnicode_DATA(s), text, N - 1) == 0;
}

// ---------------------------------------------------------------------------------------
// Ready: what the native send and receive return, an awaitable already complete. It is a
// coroutine as collections.abc.Coroutine sees it (__await__, send, throw, close), so
// asyncio.ensure_future and create_task take it as they take a coroutine.

struct ready_object {
    PyObject_HEAD PyObject* value; ///< what `await` gives (None when null)
};

extern PyTypeObject ready_type;
ready_object* ready_none = nullptr; // send's answer: one object for all

PyObject* new_ready(PyObject* value) {
    auto* r = PyObject_New(ready_object, &ready_type);
    if (r == nullptr) {
        Py_DECREF(value);
        return nullptr;
    }
    r->value = value; // stolen
    return reinterpret_cast<PyObject*>(r);
}

void ready_dealloc(PyObject* o) {
    Py_XDECREF(reinterpret_cast<ready_object*>(o)->value);
    PyObject_Free(o);
}

PyObject* ready_await(PyObject* o) {
    return Py_NewRef(o);
}

PySendResult ready_am_send(PyObject* o, PyObject*, PyObject** result) {
    PyObject* v = reinterpret_cast<ready_object*>(o)->value;
    *result = Py_NewRef(v != nullptr ? v : Py_None);
    return PYGEN_RETURN;
}

/// StopIteration carrying the value (as a coroutine's return sets it).
PyObject* ready_stop(PyObject* o) {
    PyObject* v = reinterpret_cast<ready_object*>(o)->value;
    if (v == nullptr) {
        return nullptr; // no exception set: StopIteration with None
    }
    PyObject* stop = PyObject_CallOneArg(PyExc_StopIteration, v);
    if (stop != nullptr) {
        PyErr_SetObject(PyExc_StopIteration, stop);
        Py_DECREF(stop);
    }
    return nullptr;
}

PyObject* ready_iternext(PyObject* o) {
    return ready_stop(o);
}

PyObject* ready_send(PyObject* o, PyObject*) {
    if (reinterpret_cast<ready_object*>(o)->value == nullptr) {
        PyErr_SetNone(PyExc_StopIteration);
        return nullptr;
    }
    return ready_stop(o);
}

// throw(exc) or throw(type[, value[, tb]]): raised at once, as a coroutine that has not
// started raises what is thrown into it.
PyObject* ready_throw(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw expected 1 to 3 arguments");
        return nullptr;
    }
    PyObject* typ = args[0];
    PyObject* val = nargs > 1 ? args[1] : Py_None;
    if (PyExceptionInstance_Check(typ)) {
        if (val != Py_None) {
            PyErr_SetString(PyExc_TypeError, "instance exception may not have a separate value");
            return nullptr;
        }
        PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(typ)), typ);
    } else if (PyExceptionClass_Check(typ)) {
        PyErr_SetObject(typ, val);
    } else {
        PyErr_Format(PyExc_TypeError, "exceptions must be classes or instances deriving from BaseException, not %s",
                     Py_TYPE(typ)->tp_name);
        return nullptr;
    }
    if (nargs > 2 && args[2] != Py_None) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        if (v != nullptr) {
            PyException_SetTraceback(v, args[2]);
        }
        Py_XDECREF(tb);
        PyErr_Restore(t, v, Py_NewRef(args[2]));
    }
    return nullptr;
}

PyObject* ready_close(PyObject*, PyObject*) {
    Py_RETURN_NONE;
}

PyMethodDef ready_methods[] = {
    {"send", ready_send, METH_O, "Complete: StopIteration with the value."},
    {"throw", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&ready_throw)), METH_FASTCALL,
     "Raise the exception given."},
    {"close", ready_close, METH_NOARGS, "Nothing to close."},
    {nullptr, nullptr, 0, nullptr},
};

PyAsyncMethods ready_async = {ready_await, nullptr, nullptr, ready_am_send};

PyTypeObject ready_type = native_type({
    .name = "ringbolt._native.Ready",
    .basicsize = sizeof(ready_object),
    .doc = "An awaitable that is already complete (ASGICycle.send and receive).",
    .dealloc = ready_dealloc,
    .as_async = &ready_async,
    .iter = PyObject_SelfIter,
    .iternext = ready_iternext,
    .methods = ready_methods,
});

// ---------------------------------------------------------------------------------------
// ASGICycle

struct cycle_object {
    PyObject_HEAD PyObject* req;
    PyObject* pending;
    PyObject* loop;
    PyObject* status;   ///< int, from http.response.start
    PyObject* headers;  ///< as the app gave them
    PyObject* body;     ///< ringbolt.asgi._Body once the body streams, else None
    PyObject* finished; ///< a Future the Python receive waits on, else None
    int state;
    char body_done;
    char disconnected;
};

cycle_object* cycle_of(PyObject* o) {
    return reinterpret_cast<cycle_object*>(o);
}

/// The whole response in one message: answered now (staged; the flush is scheduled once
/// per loop iteration). Returns the ready awaitable, or nullptr with an exception.
PyObject* answer_now(cycle_object* c, PyObject* body) {
    c->state = state_done;
    int rc = complete_asgi(c->pending, c->status, c->headers, body);
    if (rc < 0) {
        return nullptr;
    }
    if (rc > 0 && !schedule_flush(c->loop)) {
        return nullptr;
    }
    return Py_NewRef(reinterpret_cast<PyObject*>(ready_none));
}

// send(message): the two messages of a simple response, natively; anything else (another
// type, a body in several messages, a body that is not bytes, a message out of order...)
// is ringbolt.asgi._Cycle._send(message), a coroutine.
/// Made by __new__ without __init__: nothing to answer with.
bool initialized(cycle_object* c) {
    if (c->req == nullptr) [[unlikely]] {
        PyErr_SetString(PyExc_RuntimeError, "ASGICycle.__init__ was not called");
        return false;
    }
    return true;
}

PyObject* cycle_send(PyObject* self, PyObject* message) {
    cycle_object* c = cycle_of(self);
    if (!initialized(c)) {
        return nullptr;
    }
    if (PyDict_CheckExact(message)) [[likely]] {
        PyObject* kind = PyDict_GetItemWithError(message, str_type); // borrowed
        if (kind != nullptr) {
            if (c->state == state_started && c->finished == Py_None && is_text(kind, "http.response.body")) {
                PyObject* body = PyDict_GetItemWithError(message, str_body);
                PyObject* more =
                    body != nullptr || !PyErr_Occurred() ? PyDict_GetItemWithError(message, str_more_body) : nullptr;
                if (PyErr_Occurred()) {
                    return nullptr;
                }
                if ((body == nullptr || PyBytes_CheckExact(body)) && (more == nullptr || more == Py_False)) {
                    return answer_now(c, body != nullptr ? body : empty_bytes);
                }
            } else if (c->state == state_init && is_text(kind, "http.response.start")) {
                PyObject* status = PyDict_GetItemWithError(message, str_status);
                PyObject* headers = status != nullptr ? PyDict_GetItemWithError(message, str_headers) : nullptr;
                if (PyErr_Occurred()) {
                    return nullptr;
                }
                if (status != nullptr && PyLong_CheckExact(status)) {
                    Py_XSETREF(c->status, Py_NewRef(status));
                    Py_XSETREF(c->headers, Py_NewRef(headers != nullptr ? headers : empty_tuple));
                    c->state = state_started;
                    return Py_NewRef(reinterpret_cast<PyObject*>(ready_none));
                }
            }
        } else if (PyErr_Occurred()) {
            return nullptr;
        }
    }
    return PyObject_CallMethodOneArg(self, str_send, message);
}

// receive(): a body read whole by the server, natively; a streamed body and the wait for
// the end of the request are ringbolt.asgi._Cycle._receive(), a coroutine.
PyObject* cycle_receive(PyObject* self, PyObject*) {
    cycle_object* c = cycle_of(self);
    if (!initialized(c)) {
        return nullptr;
    }
    if (!c->body_done) {
        PyObject* stream = PyObject_GetAttr(c->req, str_body_stream);
        if (stream == nullptr) {
            return nullptr;
        }
        bool whole = stream == Py_None;
        Py_DECREF(stream);
        if (whole) {
            PyObject* body = PyObject_GetAttr(c->req, str_body);
            if (body == nullptr) {
                return nullptr;
            }
            c->body_done = 1;
            PyObject* message = PyDict_New();
            if (message == nullptr || PyDict_SetItem(message, str_type, str_http_request) < 0 ||
                PyDict_SetItem(message, str_body, body) < 0 || PyDict_SetItem(message, str_more_body, Py_False) < 0) {
                Py_XDECREF(message);
                Py_DECREF(body);
                return nullptr;
            }
            Py_DECREF(body);
            return new_ready(message);
        }
    }
    return PyObject_CallMethodNoArgs(self, str_receive);
}

int set_fields(PyObject* self, PyObject* req, PyObject* pending, PyObject* loop) {
    cycle_object* c = cycle_of(self);
    Py_XSETREF(c->req, Py_NewRef(req));
    Py_XSETREF(c->pending, Py_NewRef(pending));
    Py_XSETREF(c->loop, Py_NewRef(loop));
    Py_XSETREF(c->status, PyLong_FromLong(200));
    Py_XSETREF(c->headers, Py_NewRef(empty_tuple));
    Py_XSETREF(c->body, Py_NewRef(Py_None));
    Py_XSETREF(c->finished, Py_NewRef(Py_None));
    c->state = state_init;
    c->body_done = 0;
    c->disconnected = 0;
    return c->status != nullptr ? 0 : -1;
}

int cycle_init(PyObject* self, PyObject* args, PyObject* kwds) {
    static const char* kw[] = {"req", "pending", "loop", nullptr};
    PyObject *req, *pending, *loop;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO:ASGICycle", const_cast<char**>(kw), &req, &pending, &loop)) {
        return -1;
    }
    return set_fields(self, req, pending, loop);
}

// Not Py_VISIT(Py_TYPE(self)) in traverse: the Python subclass's subtype_traverse visits
// its type. Its subtype_dealloc calls dealloc, and drops its reference to the (heap)
// subclass itself afterwards.
using cycle_refs = gc_refs<cycle_object, &cycle_object::req, &cycle_object::pending, &cycle_object::loop,
                           &cycle_object::status, &cycle_object::headers, &cycle_object::body, &cycle_object::finished>;

PyMethodDef cycle_methods[] = {
    {"send", cycle_send, METH_O,
     "ASGI send(message): an awaitable; http.response.start and a whole http.response.body complete at once."},
    {"receive", cycle_receive, METH_NOARGS,
     "ASGI receive(): an awaitable; a body the server has read whole comes at once."},
    {nullptr, nullptr, 0, nullptr},
};

PyMemberDef cycle_members[] = {
    {"req", T_OBJECT, offsetof(cycle_object, req), READONLY, "The request (ringbolt._native.Request)."},
    {"pending", T_OBJECT, offsetof(cycle_object, pending), READONLY, "The request's answer slot."},
    {"loop", T_OBJECT, offsetof(cycle_object, loop), READONLY, "The worker's event loop."},
    {"state", T_INT, offsetof(cycle_object, state), 0, "0 init, 1 started, 2 streaming, 3 done."},
    {"status", T_OBJECT, offsetof(cycle_object, status), 0, "The response's status (int)."},
    {"headers", T_OBJECT, offsetof(cycle_object, headers), 0, "The response's headers, as the app gave them."},
    {"body", T_OBJECT, offsetof(cycle_object, body), 0, "The streamed body (ringbolt.asgi._Body), or None."},
    {"finished", T_OBJECT, offsetof(cycle_object, finished), 0, "The future receive() waits on, or None."},
    {"body_done", T_BOOL, offsetof(cycle_object, body_done), 0, "The request body was all received."},
    {"disconnected", T_BOOL, offsetof(cycle_object, disconnected), 0, "The client went away."},
    {nullptr, 0, 0, 0, nullptr},
};

PyTypeObject cycle_type = native_type(cycle_refs::def({
    .name = "ringbolt._native.ASGICycle",
    .basicsize = sizeof(cycle_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .doc = "ASGICycle(req, pending, loop): one ASGI http request and its response; subclassed by "
           "ringbolt.asgi._Cycle, whose _send and _receive take what the native send and receive "
           "do not.",
    .methods = cycle_methods,
    .members = cycle_members,
    .init = cycle_init,
    .new_object = PyType_GenericNew,
}));

} // namespace

PyObject* new_asgi_cycle(PyTypeObject* type, PyObject* req, PyObject* pending, PyObject* loop) {
    if (!PyType_IsSubtype(type, &cycle_type)) {
        PyErr_Format(PyExc_TypeError, "%s is not an ASGICycle type", type->tp_name);
        return nullptr;
    }
    PyObject* self = type->tp_alloc(type, 0);
    if (self != nullptr && set_fields(self, req, pending, loop) < 0) {
        Py_CLEAR(self);
    }
    return self;
}

bool schedule_flush(PyObject* loop) {
    PyObject* h = PyObject_CallMethodOneArg(loop, str_call_soon, flush_fn);
    Py_XDECREF(h);
    return h != nullptr;
}

bool asgi_cycle_done(PyObject* cycle) {
    return cycle_of(cycle)->state == state_done;
}

/// Ready ASGICycle (and its awaitable) and add it to `module` (once, at module init).
/// `flush` is _native._flush_completions, what a staged answer schedules.
int init_asgi_cycle(PyObject* module, PyObject* flush) {
    if (!intern_asgi_names()) {
        return -1;
    }
    flush_fn = Py_NewRef(flush);
    if (!ready_native_type(ready_type) || !ready_native_type(cycle_type)) {
        return -1;
    }
    ready_none = PyObject_New(ready_object, &ready_type);
    if (ready_none == nullptr) {
        return -1;
    }
    ready_none->value = nullptr;
    return PyModule_AddObjectRef(module, "ASGICycle", reinterpret_cast<PyObject*>(&cycle_type));
}

} // namespace ringbolt::py
