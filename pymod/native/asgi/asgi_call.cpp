// ringbolt._native.ASGICall: the per-request entry of an ASGI app (ASGIHandler.run): the
// scope and the cycle (ASGICycle), and the coroutine the request's task runs, a native
// one (ASGIServe) that calls the app and does what the Python
// `try: await app(...) / except / else` around it did. WebSocket scopes go to
// ASGIHandler's Python method.
//
// The same coroutine type runs an `async def` handler of a ringbolt App
// (`_native.answer(loop, handler, request, pending)`, ringbolt._aio): it calls the
// handler, passes its coroutine through, and answers the request when it ends, as the
// Python coroutine `_aio._answer` did (replacing it took an async GET /json from 28,328
// to 27,222 instructions per request: BENCHMARKS.md, "The async hand-off, cheaper").
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pymod/native/asgi/asgi_cycle.hpp"
#include "pymod/native/bridge/app_bridge.hpp"
#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/py_names.hpp"
#include "pymod/native/py_type.hpp"

#include <cstddef>

namespace ringbolt::py {

namespace {

PyObject* str_path = nullptr;     // "path"
PyObject* str_state = nullptr;    // "state"
PyObject* str_receive = nullptr;  // "receive"
PyObject* str_send = nullptr;     // "send"
PyObject* str_throw = nullptr;    // "throw"
PyObject* str_close = nullptr;    // "close"
PyObject* str_fail = nullptr;     // "fail"
PyObject* str_returned = nullptr; // "returned"
PyObject* str_finish = nullptr;   // "_finish"

// For handler answers (set by _native._set_answer_hooks, from ringbolt._aio):
PyObject* g_cancelled = nullptr;     ///< asyncio.CancelledError
PyObject* g_report_exit = nullptr;   ///< _aio._report_exit(request, exc): logs a SystemExit/KeyboardInterrupt
PyObject* g_cancelled_msg = nullptr; ///< "the async handler was cancelled"

struct call_object {
    PyObject_HEAD vectorcallfunc vectorcall;
    PyObject* app;
    PyObject* base;       ///< the scope's server-wide part (dict; ASGIHandler.base)
    PyObject* state;      ///< lifespan state (dict; copied into each scope when not empty)
    PyObject* cycle_type; ///< ringbolt.asgi._Cycle
    PyObject* run;        ///< ASGIHandler._run_websocket(req, pending, loop): WebSocket handshakes
    PyObject* failed;     ///< ASGIHandler._failed(cycle, exc): what an app's exception does
    PyObject* asgi_path;  ///< ringbolt.asgi._asgi_path(path)
    PyObject* cancelled;  ///< asyncio.CancelledError
};

// ---------------------------------------------------------------------------------------
// ASGIServe: the coroutine of one request's task, in place of the Python
// `try: await app(scope, receive, send) / except / else` around the app. Its first step
// calls the app (inside the task, as before: code in a synchronous __call__ sees the
// task as current), then passes the app's coroutine through: what it yields goes to the
// task, what the task sends or throws goes to it. When it ends: returned,
// cycle.returned() unless the response is complete; raised CancelledError,
// cycle.fail(exc) and the error goes on; raised anything else,
// ASGIHandler._failed(cycle, exc) and the task ends normally (each exception reaches its
// request; a SystemExit never reaches the loop).

//
// For a ringbolt handler (`loop` set) the fields hold the handler's parts, and its end
// answers the request: returned, request._finish(value) is the answer; raised
// CancelledError, the answer is a CancelledError and the error goes on; raised anything
// else, that exception is the answer (a 500 unless it is an HTTPError; a SystemExit or
// KeyboardInterrupt is also logged) and the task ends normally.

struct serve_object {
    PyObject_HEAD PyObject* inner; ///< what `await app(...)` iterates (null before the app's call and after its end)
    PyObject* scope;               ///< until the app is called (null after); a handler: the handler
    PyObject* cycle;               ///< a handler: the Request
    PyObject* call;                ///< the ASGICall; a handler: its pending answer
    PyObject* loop;                ///< a handler: the loop, where the flush of a staged answer is scheduled;
                                   ///< null for an ASGI app's call (what tells the two apart)
};

extern PyTypeObject serve_type;

serve_object* serve_of(PyObject* o) {
    return reinterpret_cast<serve_object*>(o);
}

/// A ringbolt handler's answer (`_native.answer`), not an ASGI app's call.
bool is_handler(const serve_object* s) {
    return s->loop != nullptr;
}

/// The app returned: finish the cycle. PYGEN_RETURN with None, or PYGEN_ERROR.
PySendResult on_return(serve_object* s, PyObject** result) {
    if (!asgi_cycle_done(s->cycle)) {
        PyObject* r = PyObject_CallMethodNoArgs(s->cycle, str_returned);
        if (r == nullptr) {
            *result = nullptr;
            return PYGEN_ERROR;
        }
        Py_DECREF(r);
    }
    *result = Py_NewRef(Py_None);
    return PYGEN_RETURN;
}

/// The coroutine's exception (set) is handled by `handle(value, cancelled)`, which
/// answers for it (false: it raised). Then a CancelledError goes on to the task, anything
/// else ends the task normally; an exception `handle` raised goes up instead, with the
/// coroutine's as its context.
template <class Handle> PySendResult settle_error(PyObject* cancelled_type, PyObject** result, Handle handle) {
    *result = nullptr;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != nullptr) {
        PyException_SetTraceback(value, tb);
    }
    bool cancelled = PyObject_IsInstance(value, cancelled_type) == 1;
    if (!handle(value, cancelled)) {
        PyObject *t2, *v2, *tb2;
        PyErr_Fetch(&t2, &v2, &tb2);
        PyErr_NormalizeException(&t2, &v2, &tb2);
        if (v2 != nullptr) {
            PyException_SetContext(v2, Py_NewRef(value));
        }
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        PyErr_Restore(t2, v2, tb2);
        return PYGEN_ERROR;
    }
    if (cancelled) {
        PyErr_Restore(type, value, tb); // the cancellation goes on to the task
        return PYGEN_ERROR;
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    *result = Py_NewRef(Py_None);
    return PYGEN_RETURN;
}

/// The app raised (the exception is set): as the Python except clauses did.
PySendResult on_error(serve_object* s, PyObject** result) {
    auto* call = reinterpret_cast<call_object*>(s->call);
    return settle_error(call->cancelled, result, [&](PyObject* value, bool cancelled) {
        PyObject* r = cancelled ? PyObject_CallMethodOneArg(s->cycle, str_fail, value)
                                : PyObject_CallFunctionObjArgs(call->failed, s->cycle, value, nullptr);
        Py_XDECREF(r);
        return r != nullptr;
    });
}

/// A handler's request answered (complete_async's result `r`, a new reference or null):
/// its flush scheduled when it is the first staged since the last.
bool staged(serve_object* s, PyObject* r) {
    if (r == nullptr) {
        return false;
    }
    bool first = r == Py_True;
    Py_DECREF(r);
    return !first || schedule_flush(s->loop);
}

/// The handler raised (the exception is set): `_aio._answer`'s except clauses.
PySendResult handler_error(serve_object* s, PyObject** result) {
    return settle_error(g_cancelled, result, [&](PyObject* value, bool cancelled) {
        if (!cancelled && (PyErr_GivenExceptionMatches(value, PyExc_SystemExit) ||
                           PyErr_GivenExceptionMatches(value, PyExc_KeyboardInterrupt))) {
            PyObject* logged = PyObject_CallFunctionObjArgs(g_report_exit, s->cycle, value, nullptr);
            if (logged == nullptr) {
                PyErr_WriteUnraisable(g_report_exit);
            }
            Py_XDECREF(logged);
        }
        PyObject* answer = cancelled ? PyObject_CallOneArg(g_cancelled, g_cancelled_msg) : Py_NewRef(value);
        bool ok = answer != nullptr && staged(s, complete_async(s->call, Py_None, answer));
        Py_XDECREF(answer);
        return ok;
    });
}

/// The handler returned `value` (stolen): request._finish(value) is the answer.
PySendResult handler_return(serve_object* s, PyObject* value, PyObject** result) {
    PyObject* req = s->cycle;
    PyObject* answer = Py_TYPE(req) == &request_type ? finish_result(reinterpret_cast<request_object*>(req), value)
                                                     : PyObject_CallMethodOneArg(req, str_finish, value);
    Py_DECREF(value);
    if (answer == nullptr) {
        return handler_error(s, result); // as an exception of the handler's own
    }
    bool ok = staged(s, complete_async(s->call, answer, Py_None));
    Py_DECREF(answer);
    if (!ok) {
        *result = nullptr;
        return PYGEN_ERROR;
    }
    *result = Py_NewRef(Py_None);
    return PYGEN_RETURN;
}

/// The end of what the coroutine awaited: `value` (stolen) when it returned, null when it
/// raised (the exception set).
PySendResult ended(serve_object* s, PyObject* value, PyObject** result) {
    if (is_handler(s)) {
        return value != nullptr ? handler_return(s, value, result) : handler_error(s, result);
    }
    if (value == nullptr) {
        return on_error(s, result);
    }
    Py_DECREF(value); // ASGI apps return None
    return on_return(s, result);
}

/// What `await` iterates for `awaitable` (a new reference), or null with the TypeError
/// the interpreter's GET_AWAITABLE raises.
PyObject* await_iter(PyObject* awaitable) {
    PyTypeObject* t = Py_TYPE(awaitable);
    if (t->tp_as_async == nullptr || t->tp_as_async->am_await == nullptr) {
        PyErr_Format(PyExc_TypeError, "object %.100s can't be used in 'await' expression", t->tp_name);
        return nullptr;
    }
    PyObject* it = t->tp_as_async->am_await(awaitable);
    if (it == nullptr) {
        return nullptr;
    }
    if (PyCoro_CheckExact(it)) {
        PyErr_SetString(PyExc_TypeError, "__await__() returned a coroutine");
        Py_DECREF(it);
        return nullptr;
    }
    if (!PyIter_Check(it)) {
        PyErr_Format(PyExc_TypeError, "__await__() returned non-iterator of type '%.100s'", Py_TYPE(it)->tp_name);
        Py_DECREF(it);
        return nullptr;
    }
    return it;
}

/// What the call made (`coro`, stolen; null when it raised) awaited from now on, in
/// s->inner: false when there is nothing to await (the exception set).
bool awaiting(serve_object* s, PyObject* coro) {
    if (coro == nullptr || PyCoro_CheckExact(coro)) [[likely]] {
        s->inner = coro;
    } else {
        s->inner = await_iter(coro); // any other awaitable
        Py_DECREF(coro);
    }
    return s->inner != nullptr;
}

/// A handler's first step: handler(request), and what to await of it, in s->inner.
bool call_handler(serve_object* s) {
    PyObject* handler = s->scope;
    s->scope = nullptr;
    PyObject* coro = PyObject_CallOneArg(handler, s->cycle);
    Py_DECREF(handler);
    return awaiting(s, coro);
}

/// The first step: app(scope, receive, send), and what to await of it, in s->inner.
bool call_app(serve_object* s) {
    PyObject* scope = s->scope;
    s->scope = nullptr;
    PyObject* receive = PyObject_GetAttr(s->cycle, str_receive);
    PyObject* send = receive != nullptr ? PyObject_GetAttr(s->cycle, str_send) : nullptr;
    PyObject* coro = nullptr;
    if (send != nullptr) {
        PyObject* app_args[] = {scope, receive, send};
        coro = PyObject_Vectorcall(reinterpret_cast<call_object*>(s->call)->app, app_args, 3, nullptr);
    }
    Py_XDECREF(send);
    Py_XDECREF(receive);
    Py_DECREF(scope);
    return awaiting(s, coro);
}

PySendResult serve_am_send(PyObject* o, PyObject* arg, PyObject** result) {
    serve_object* s = serve_of(o);
    if (s->inner == nullptr) {
        if (s->scope == nullptr) {
            PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
            *result = nullptr;
            return PYGEN_ERROR;
        }
        if (!(is_handler(s) ? call_handler(s) : call_app(s))) {
            return ended(s, nullptr, result);
        }
    }
    PySendResult status = PyIter_Send(s->inner, arg, result);
    if (status == PYGEN_NEXT) [[likely]] {
        return status;
    }
    Py_CLEAR(s->inner);
    return ended(s, status == PYGEN_RETURN ? *result : nullptr, result);
}

/// A PySendResult as a method's answer: the value yielded, or StopIteration(value).
PyObject* as_method_result(PySendResult status, PyObject* result) {
    if (status == PYGEN_NEXT) {
        return result;
    }
    if (status == PYGEN_RETURN) {
        if (result == Py_None) {
            PyErr_SetNone(PyExc_StopIteration);
        } else {
            PyObject* stop = PyObject_CallOneArg(PyExc_StopIteration, result);
            if (stop != nullptr) {
                PyErr_SetObject(PyExc_StopIteration, stop);
                Py_DECREF(stop);
            }
        }
        Py_DECREF(result);
    }
    return nullptr;
}

PyObject* serve_send(PyObject* o, PyObject* arg) {
    PyObject* result;
    PySendResult status = serve_am_send(o, arg, &result);
    return as_method_result(status, result);
}

PyObject* serve_iternext(PyObject* o) {
    PyObject* result;
    PySendResult status = serve_am_send(o, Py_None, &result);
    if (status == PYGEN_RETURN) {
        Py_DECREF(result); // None: the end, no exception
        return nullptr;
    }
    return as_method_result(status, result);
}

/// The value of the StopIteration set (a new reference; None if it has none), cleared.
PyObject* stop_iteration_value() {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject* returned = value != nullptr && PyErr_GivenExceptionMatches(value, PyExc_StopIteration)
                             ? reinterpret_cast<PyStopIterationObject*>(value)->value
                             : nullptr;
    returned = Py_NewRef(returned != nullptr ? returned : Py_None);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return returned;
}

// throw(...): into the app's coroutine (the task's cancellation comes this way).
PyObject* serve_throw(PyObject* o, PyObject* const* args, Py_ssize_t nargs) {
    serve_object* s = serve_of(o);
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw expected 1 to 3 arguments");
        return nullptr;
    }
    if (s->inner == nullptr) {
        // Not started (or ended): raise what is thrown, as such a coroutine does; the
        // app is never called.
        Py_CLEAR(s->scope);
        PyObject* typ = args[0];
        if (PyExceptionInstance_Check(typ)) {
            PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(typ)), typ);
        } else if (PyExceptionClass_Check(typ)) {
            PyErr_SetObject(typ, nargs > 1 ? args[1] : Py_None);
        } else {
            PyErr_SetString(PyExc_TypeError, "exceptions must be classes or instances deriving from BaseException");
        }
        return nullptr;
    }
    PyObject* throw_fn = PyObject_GetAttr(s->inner, str_throw);
    if (throw_fn == nullptr) {
        return nullptr;
    }
    PyObject* yielded = PyObject_Vectorcall(throw_fn, args, static_cast<size_t>(nargs), nullptr);
    Py_DECREF(throw_fn);
    if (yielded != nullptr) {
        return yielded;
    }
    Py_CLEAR(s->inner);
    PyObject* result;
    PySendResult status;
    if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
        status = ended(s, stop_iteration_value(), &result); // the app or handler returned
    } else {
        status = ended(s, nullptr, &result);
    }
    return as_method_result(status, result);
}

PyObject* serve_close(PyObject* o, PyObject*) {
    serve_object* s = serve_of(o);
    Py_CLEAR(s->scope);
    if (s->inner == nullptr) {
        Py_RETURN_NONE;
    }
    PyObject* inner = s->inner;
    s->inner = nullptr;
    PyObject* r = PyObject_CallMethodNoArgs(inner, str_close);
    Py_DECREF(inner);
    return r;
}

PyObject* serve_await(PyObject* o) {
    return Py_NewRef(o);
}

using serve_refs = gc_refs<serve_object, &serve_object::inner, &serve_object::scope, &serve_object::cycle,
                           &serve_object::call, &serve_object::loop>;

void serve_dealloc(PyObject* o) {
    PyObject_GC_UnTrack(o);
    serve_refs::clear(o);
    PyObject_GC_Del(o);
}

PyMethodDef serve_methods[] = {
    {"send", serve_send, METH_O, "Resume the app's coroutine with a value."},
    {"throw", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&serve_throw)), METH_FASTCALL,
     "Raise an exception in the app's coroutine."},
    {"close", serve_close, METH_NOARGS, "Close the app's coroutine."},
    {nullptr, nullptr, 0, nullptr},
};

PyAsyncMethods serve_async = {serve_await, nullptr, nullptr, serve_am_send};

PyTypeObject serve_type = native_type(serve_refs::def({
    .name = "ringbolt._native.ASGIServe",
    .basicsize = sizeof(serve_object),
    .doc = "The coroutine of one ASGI request's task: the app's coroutine, and what its end does.",
    .dealloc = serve_dealloc,
    .as_async = &serve_async,
    .iter = PyObject_SelfIter,
    .iternext = serve_iternext,
    .methods = serve_methods,
}));

/// The coroutine for one request (steals nothing).
PyObject* new_serve(PyObject* scope, PyObject* cycle, PyObject* call) {
    auto* s = PyObject_GC_New(serve_object, &serve_type);
    if (s == nullptr) {
        return nullptr;
    }
    s->inner = nullptr;
    s->scope = Py_NewRef(scope);
    s->cycle = Py_NewRef(cycle);
    s->call = Py_NewRef(call);
    s->loop = nullptr;
    PyObject_GC_Track(reinterpret_cast<PyObject*>(s));
    return reinterpret_cast<PyObject*>(s);
}

// answer(loop, handler, request, pending) -> the coroutine of an async ringbolt handler's
// task (what `_aio._answer(loop, handler, request, pending)` was).
PyObject* answer(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "answer(loop, handler, request, pending) takes 4 arguments");
        return nullptr;
    }
    if (g_cancelled == nullptr) {
        PyErr_SetString(PyExc_RuntimeError, "answer: _native._set_answer_hooks was not called (ringbolt._aio does)");
        return nullptr;
    }
    PyObject* s = new_serve(args[1], args[2], args[3]);
    if (s != nullptr) {
        serve_of(s)->loop = Py_NewRef(args[0]);
    }
    return s;
}

// _set_answer_hooks(cancelled, report_exit)
PyObject* set_answer_hooks(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyExceptionClass_Check(args[0]) || !PyCallable_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "_set_answer_hooks(CancelledError, report_exit) takes an exception class "
                                         "and a callable");
        return nullptr;
    }
    Py_XSETREF(g_cancelled, Py_NewRef(args[0]));
    Py_XSETREF(g_report_exit, Py_NewRef(args[1]));
    Py_RETURN_NONE;
}

PyMethodDef answer_defs[] = {
    {"answer", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&answer)), METH_FASTCALL,
     "answer(loop, handler, request, pending): the coroutine of an async handler's task: it awaits "
     "handler(request) and answers the request with what it returns or raises."},
    {"_set_answer_hooks", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&set_answer_hooks)), METH_FASTCALL,
     "_set_answer_hooks(CancelledError, report_exit): what answer() needs from ringbolt._aio."},
    {nullptr, nullptr, 0, nullptr},
};

// ---------------------------------------------------------------------------------------
// ASGICall

/// The scope of an http request: the Request's own (_asgi_scope), the path made valid UTF-8
/// (asgi._asgi_path) and the lifespan state copied in.
PyObject* http_scope(call_object* self, PyObject* req) {
    PyObject* scope = asgi_scope(req, self->base);
    if (scope == nullptr) {
        return nullptr;
    }
    PyObject* path = PyDict_GetItemWithError(scope, str_path); // borrowed
    if (path != nullptr && PyUnicode_Check(path) && !PyUnicode_IS_ASCII(path)) {
        PyObject* fixed = PyObject_CallOneArg(self->asgi_path, path);
        if (fixed == nullptr || PyDict_SetItem(scope, str_path, fixed) < 0) {
            Py_XDECREF(fixed);
            Py_DECREF(scope);
            return nullptr;
        }
        Py_DECREF(fixed);
    } else if (path == nullptr && PyErr_Occurred()) {
        Py_DECREF(scope);
        return nullptr;
    }
    if (PyDict_GET_SIZE(self->state) > 0) {
        PyObject* copy = PyDict_Copy(self->state);
        if (copy == nullptr || PyDict_SetItem(scope, str_state, copy) < 0) {
            Py_XDECREF(copy);
            Py_DECREF(scope);
            return nullptr;
        }
        Py_DECREF(copy);
    }
    return scope;
}

// call(req, pending, loop) -> the coroutine the request's task runs.
PyObject* call_vectorcall(PyObject* self_obj, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    auto* self = reinterpret_cast<call_object*>(self_obj);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 3 || kwnames != nullptr) {
        PyErr_SetString(PyExc_TypeError, "ASGICall(req, pending, loop) takes 3 positional arguments");
        return nullptr;
    }
    PyObject* req = args[0];
    if (Py_TYPE(req) != &request_type) [[unlikely]] {
        PyErr_Format(PyExc_TypeError, "ASGICall takes a ringbolt Request, not %.100s", Py_TYPE(req)->tp_name);
        return nullptr;
    }
    if (is_websocket_request(req)) [[unlikely]] {
        return PyObject_Vectorcall(self->run, args, 3, nullptr);
    }
    PyObject* scope = http_scope(self, req);
    if (scope == nullptr) {
        return nullptr;
    }
    PyObject* cycle = new_asgi_cycle(reinterpret_cast<PyTypeObject*>(self->cycle_type), req, args[1], args[2]);
    PyObject* rv = cycle != nullptr ? new_serve(scope, cycle, self_obj) : nullptr;
    Py_XDECREF(cycle);
    Py_DECREF(scope);
    return rv;
}

PyObject* call_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kw[] = {"handler", "app", "base", "state", "cycle_type", "asgi_path", "cancelled", nullptr};
    PyObject *handler, *app, *base, *state, *cycle_type, *asgi_path, *cancelled;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO!O!O!OO:ASGICall", const_cast<char**>(kw), &handler, &app,
                                     &PyDict_Type, &base, &PyDict_Type, &state, &PyType_Type, &cycle_type, &asgi_path,
                                     &cancelled)) {
        return nullptr;
    }
    PyObject* run = PyObject_GetAttrString(handler, "_run_websocket");
    PyObject* failed = run ? PyObject_GetAttrString(handler, "_failed") : nullptr;
    auto* self = failed ? reinterpret_cast<call_object*>(type->tp_alloc(type, 0)) : nullptr;
    if (self == nullptr) {
        Py_XDECREF(run);
        Py_XDECREF(failed);
        return nullptr;
    }
    self->vectorcall = call_vectorcall;
    self->app = Py_NewRef(app);
    self->base = Py_NewRef(base);
    self->state = Py_NewRef(state);
    self->cycle_type = Py_NewRef(cycle_type);
    self->run = run;
    self->failed = failed;
    self->asgi_path = Py_NewRef(asgi_path);
    self->cancelled = Py_NewRef(cancelled);
    return reinterpret_cast<PyObject*>(self);
}

using call_refs =
    gc_refs<call_object, &call_object::app, &call_object::base, &call_object::state, &call_object::cycle_type,
            &call_object::run, &call_object::failed, &call_object::asgi_path, &call_object::cancelled>;

PyTypeObject call_type = vectorcall_type<call_object>(call_refs::def({
    .name = "ringbolt._native.ASGICall",
    .basicsize = sizeof(call_object),
    .doc = "ASGICall(handler, app, base, state, cycle_type, asgi_path, cancelled): the per-request "
           "entry of an ASGI app (ringbolt.asgi.ASGIHandler.run).",
    .new_object = call_new,
}));

} // namespace

/// Ready ASGICall (and its coroutine type) and add it to `module` (once, at module init).
int init_asgi_call(PyObject* module) {
    if (!intern_names({
            {&str_path, "path"},
            {&str_state, "state"},
            {&str_receive, "receive"},
            {&str_send, "send"},
            {&str_throw, "throw"},
            {&str_close, "close"},
            {&str_fail, "fail"},
            {&str_returned, "returned"},
            {&str_finish, "_finish"},
            {&g_cancelled_msg, "the async handler was cancelled"},
        })) {
        return -1;
    }
    if (PyModule_AddFunctions(module, answer_defs) < 0) {
        return -1;
    }
    return ready_native_type(serve_type) && ready_native_type(call_type, module, "ASGICall") ? 0 : -1;
}

} // namespace ringbolt::py
