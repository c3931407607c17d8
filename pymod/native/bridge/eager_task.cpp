// ringbolt._native.eager_task: an asyncio Task whose first step runs at once, before the
// call returns, as Python 3.12's Task(..., eager_start=True) does, for Python 3.11,
// which has no such start. A request whose app does not suspend is then answered in
// the loop iteration that received it, and its first step is never scheduled.
//
// The Task is a real one, made by asyncio.Task itself: code in the first step sees it
// as asyncio.current_task() (anyio cancel scopes, asyncio.timeout, task groups), and
// the same Task goes on if the coroutine suspends. Only the scheduling of its first
// step is taken over: Task.__init__ hands that step to `loop.call_soon(step,
// context=ctx)`, looked up on the loop by name. While the Task is made, the loop's
// __dict__ maps "call_soon" to `capture`, which keeps the call whose context is the one
// this Task was given (anything else goes to the real call_soon); the step is then run
// here, in that context, as the loop would run it one iteration later.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pymod/native/bridge/app_bridge.hpp"
#include "pymod/native/py_names.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>

namespace ringbolt::py {

namespace {

PyObject* str_call_soon = nullptr;        // "call_soon"
PyObject* str_get_task_factory = nullptr; // "get_task_factory"
PyObject* str_create_task = nullptr;      // "create_task"
PyObject* str_done = nullptr;             // "done"
PyObject* str_run = nullptr;              // "run"
PyObject* str_takes_pending = nullptr;    // "_ringbolt_takes_pending"
PyObject* str_discard = nullptr;          // "discard"
PyObject* str_add_done_callback = nullptr;
PyObject* str_add = nullptr;              // "add"
PyObject* str_coro = nullptr;             // "_coro"
PyObject* str_data = nullptr;             // "data"
PyObject* str_remove = nullptr;           // "_remove"
PyObject* kw_loop_context_name = nullptr; // ("loop", "context", "name")
PyObject* capture_fn = nullptr;           // the `capture` function object
PyObject* capture_add_fn = nullptr;       // the `capture_add` function object

/// One eager_task call in progress (they nest only if a finalizer makes a Task).
struct capture_frame {
    PyObject* context;  ///< the Task's context: its first step is the call_soon with it
    PyObject* real;     ///< the loop's own call_soon
    PyObject* callback; ///< the captured step (new reference), or null
    PyObject* args;     ///< its positional arguments (a tuple, new reference)
    capture_frame* outer;
    PyObject* coro = nullptr;       ///< the Task's coroutine (borrowed): how its registration is told apart
    PyObject* registered = nullptr; ///< the weak reference that registered it (new reference), or null
};

capture_frame* g_frame = nullptr; // guarded by the GIL

// call_soon(callback, *args, context=None) while a Task is made: keeps the Task's first
// step; schedules anything else as the loop's call_soon does (and returns its Handle).
PyObject* capture(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    capture_frame* f = g_frame;
    if (f == nullptr) {
        PyErr_SetString(PyExc_RuntimeError, "ringbolt's call_soon capture called outside eager_task");
        return nullptr;
    }
    PyObject* context = nullptr;
    if (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) == 1 &&
        PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "context") == 0) {
        context = args[nargs];
    }
    if (f->callback == nullptr && nargs >= 1 && context == f->context) {
        f->args = PyTuple_New(nargs - 1);
        if (f->args == nullptr) {
            return nullptr;
        }
        for (Py_ssize_t i = 1; i < nargs; ++i) {
            PyTuple_SET_ITEM(f->args, i - 1, Py_NewRef(args[i]));
        }
        f->callback = Py_NewRef(args[0]);
        Py_RETURN_NONE; // Task.__init__ drops the handle
    }
    return PyObject_Vectorcall(f->real, args, static_cast<size_t>(nargs), kwnames);
}

PyMethodDef capture_def = {"call_soon", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&capture)),
                           METH_FASTCALL | METH_KEYWORDS,
                           "ringbolt's stand-in for loop.call_soon while eager_task makes a Task."};

// asyncio's registry of live tasks on Python 3.11, asyncio.tasks._all_tasks: a WeakSet
// that Task.__init__ adds every Task to (`_all_tasks.add(task)`, a Python method: a frame,
// a weak reference with a Python callback) and that the Task leaves when it is freed (the
// callback, `_remove`, another frame). Doing it natively took Task.__init__ from 3,946 to
// 2,959 instructions and the task's deallocation from 1,887 to 485, an async request
// from 30,415 to 28,802 (callgrind, BENCHMARKS.md "The async hand-off, cheaper"). Python 3.12
// registers an eager task in a plain set while its first step runs and in the WeakSet
// only if it suspends (CPython gh-97696); eager_task does the same with the WeakSet's own
// parts: while a Task is made, the set's __dict__ maps "add" to `capture_add`, which
// registers that Task as WeakSet.add would (a weak reference with the set's `_remove`,
// into its `data`) but natively; when the first step has finished the task, that
// reference is taken out again, so nothing runs when the task is freed. A task that
// suspended stays registered, exactly as WeakSet.add left it. asyncio.all_tasks() sees the
// task during its first step either way.
struct task_registry {
    PyObject* attrs = nullptr;  ///< the WeakSet's __dict__ (strong), or null: not available
    PyObject* add = nullptr;    ///< its own `add` (a bound method), kept in that __dict__ for good
    PyObject* data = nullptr;   ///< its `data`, the set of weak references (set once, in WeakSet.__init__)
    PyObject* remove = nullptr; ///< its `_remove`, every reference's callback (likewise)
    bool looked = false;
};
task_registry g_registry; // guarded by the GIL

/// The registry's __dict__ (borrowed), or null when it cannot be used (then Task.__init__
/// registers as usual). Looked up once; errors are cleared: the fast path is optional.
PyObject* registry_attrs() {
    if (g_registry.looked) [[likely]] {
        return g_registry.attrs;
    }
    g_registry.looked = true;
#if PY_VERSION_HEX >= 0x030C0000
    return nullptr; // 3.12+ register eager tasks cheaply themselves (eager_task is not on their path)
#else
    PyObject* mod = PyImport_ImportModule("asyncio.tasks");
    PyObject* set = mod != nullptr ? PyObject_GetAttrString(mod, "_all_tasks") : nullptr;
    PyObject* attrs = set != nullptr ? PyObject_GenericGetDict(set, nullptr) : nullptr;
    PyObject* add = attrs != nullptr ? PyObject_GetAttr(set, str_add) : nullptr;
    PyObject* data = add != nullptr && PyDict_Check(attrs) ? PyDict_GetItemWithError(attrs, str_data) : nullptr;
    PyObject* remove = data != nullptr ? PyDict_GetItemWithError(attrs, str_remove) : nullptr;
    bool usable =
        remove != nullptr && PySet_Check(data) && PyCallable_Check(remove) && PyDict_SetItem(attrs, str_add, add) == 0;
    Py_XDECREF(mod);
    Py_XDECREF(set);
    if (!usable) {
        PyErr_Clear();
        Py_XDECREF(attrs);
        Py_XDECREF(add);
        return nullptr;
    }
    g_registry = {attrs, add, Py_NewRef(data), Py_NewRef(remove), true};
    return attrs;
#endif
}

// _all_tasks.add(task) while eager_task makes a Task: registers the Task being made (its
// coroutine is the frame's) natively and keeps the reference in the frame; any other task
// (made by another thread meanwhile, or by a finalizer) goes to the set's own add.
PyObject* capture_add(PyObject*, PyObject* task) {
    capture_frame* f = g_frame;
    if (f != nullptr && f->registered == nullptr && f->coro != nullptr) {
        PyObject* coro = PyObject_GetAttr(task, str_coro);
        bool ours = coro == f->coro;
        Py_XDECREF(coro);
        if (coro == nullptr) {
            PyErr_Clear();
        }
        if (ours) {
            PyObject* ref = PyWeakref_NewRef(task, g_registry.remove);
            if (ref == nullptr || PySet_Add(g_registry.data, ref) < 0) {
                Py_XDECREF(ref);
                return nullptr;
            }
            f->registered = ref;
            Py_RETURN_NONE;
        }
    }
    return PyObject_CallOneArg(g_registry.add, task);
}

PyMethodDef capture_add_def = {"add", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&capture_add)), METH_O,
                               "ringbolt's stand-in for asyncio's _all_tasks.add while eager_task makes a Task."};

// The loop's own call_soon, a bound method kept in the loop's __dict__ for good:
// swapping a value in and out there (below) then changes no dict keys (attribute caches
// stay valid) and allocates nothing. Which one it is, for the last loop seen: what the
// loop's class had (to notice a class patched later) and the bound method stored.
struct stored_call_soon {
    PyObject* loop = nullptr;  ///< strong: the runner's loop lives as long as the process
    PyObject* descr = nullptr; ///< the class attribute it was bound from
    PyObject* bound = nullptr; ///< what the loop's __dict__ was given
};
stored_call_soon g_stored;

/// The call_soon to forward to (a new reference), given `current`, what the loop's
/// __dict__ holds now (borrowed, or null). Our own entry is refreshed when the class's
/// call_soon changed since (patched after the first request); an entry someone else put
/// there (loop.call_soon = f) is used as it is.
PyObject* own_call_soon(PyObject* loop, PyObject* attrs, PyObject* current) {
    PyObject* descr = _PyType_Lookup(Py_TYPE(loop), str_call_soon); // borrowed
    bool ours = current != nullptr && current == g_stored.bound && loop == g_stored.loop;
    if (current != nullptr && (!ours || descr == g_stored.descr)) [[likely]] {
        return Py_NewRef(current);
    }
    if (current != nullptr && PyDict_DelItem(attrs, str_call_soon) < 0) {
        return nullptr;
    }
    PyObject* bound = PyObject_GetAttr(loop, str_call_soon); // from the class, now
    if (bound == nullptr || PyDict_SetItem(attrs, str_call_soon, bound) < 0) {
        Py_XDECREF(bound);
        return nullptr;
    }
    Py_XSETREF(g_stored.loop, Py_NewRef(loop));
    Py_XSETREF(g_stored.descr, Py_XNewRef(descr));
    Py_XSETREF(g_stored.bound, Py_NewRef(bound));
    return bound;
}

/// `loop.create_task(coro)`: the lazy start (a task factory, a nested call).
PyObject* create_task(PyObject* loop, PyObject* coro) {
    return PyObject_CallMethodOneArg(loop, str_create_task, coro);
}

PyObject* make_task(PyObject* task_type, PyObject* loop, PyObject* coro, int* is_done);

// Each Task gets a name, "ringbolt-request-<n>", made here: a Task made without one
// formats "Task-<n>" in Task.__init__ with PyUnicode_FromFormat, about 1,450 instructions
// on 3.11 (3% of a raw ASGI request); Python 3.12 defers that formatting for the same
// reason (CPython gh-103793). Our own prefix, since asyncio's counter is not ours to take.
std::uint64_t g_task_count = 0; // guarded by the GIL

PyObject* next_task_name() {
    static constexpr char prefix[] = "ringbolt-request-";
    char text[sizeof(prefix) + 20];
    std::memcpy(text, prefix, sizeof(prefix) - 1);
    char* end = std::to_chars(text + sizeof(prefix) - 1, text + sizeof(text), ++g_task_count).ptr;
    Py_ssize_t n = end - text;
    PyObject* name = PyUnicode_New(n, 127);
    if (name != nullptr) {
        std::memcpy(PyUnicode_1BYTE_DATA(name), text, static_cast<size_t>(n));
    }
    return name;
}

/// task.done(): 1, 0, or -1 with an exception set.
int task_done(PyObject* task) {
    PyObject* done = PyObject_CallMethodNoArgs(task, str_done);
    int is_done = done != nullptr ? PyObject_IsTrue(done) : -1;
    Py_XDECREF(done);
    return is_done;
}

/// A task not done yet is kept in `keep` (a set) until it is: the loop holds tasks weakly
/// (ringbolt._tasks._keep). `is_done`: what make_task found, or -1 (not asked yet).
/// Steals `task`; returns it, or null.
PyObject* kept(PyObject* task, PyObject* keep, int is_done) {
    if (task == nullptr || keep == Py_None) {
        return task;
    }
    if (is_done < 0) {
        is_done = task_done(task);
    }
    if (is_done == 0) {
        PyObject* discard = PySet_Add(keep, task) == 0 ? PyObject_GetAttr(keep, str_discard) : nullptr;
        PyObject* r = discard != nullptr ? PyObject_CallMethodOneArg(task, str_add_done_callback, discard) : nullptr;
        Py_XDECREF(discard);
        if (r == nullptr) {
            is_done = -1;
        }
        Py_XDECREF(r);
    }
    if (is_done < 0) {
        Py_DECREF(task);
        return nullptr;
    }
    return task;
}

// eager_task(Task, loop, coro, keep) -> Task
PyObject* eager_task(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 4 || (args[3] != Py_None && !PySet_Check(args[3]))) {
        PyErr_SetString(PyExc_TypeError, "eager_task(Task, loop, coro, keep) takes 4 arguments (keep: a set or None)");
        return nullptr;
    }
    int is_done = -1;
    PyObject* task = make_task(args[0], args[1], args[2], &is_done);
    return kept(task, args[3], is_done);
}

/// The Task for `coro`, its first step run. `*is_done` is set to 1 or 0 when that was
/// found out on the way (else it stays -1).
PyObject* make_task(PyObject* task_type, PyObject* loop, PyObject* coro, int* is_done) {
    // A task factory set on the loop makes every task (as loop.create_task would ask it to).
    PyObject* factory = PyObject_CallMethodNoArgs(loop, str_get_task_factory);
    if (factory == nullptr) {
        return nullptr;
    }
    bool has_factory = factory != Py_None;
    Py_DECREF(factory);
    if (has_factory) {
        return create_task(loop, coro);
    }
    PyObject* attrs = PyObject_GenericGetDict(loop, nullptr); // uvloop.Loop and asyncio's loops have one
    if (attrs == nullptr) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError) && !PyErr_ExceptionMatches(PyExc_TypeError)) {
            return nullptr;
        }
        PyErr_Clear();
        return create_task(loop, coro); // a loop without a __dict__: started lazily
    }
    PyObject* real = PyDict_GetItemWithError(attrs, str_call_soon); // borrowed
    if (real == capture_fn) {
        Py_DECREF(attrs);
        return create_task(loop, coro); // made while another is (a finalizer): started lazily
    }
    if (real == nullptr && PyErr_Occurred()) {
        Py_DECREF(attrs);
        return nullptr;
    }
    real = own_call_soon(loop, attrs, real);
    if (real == nullptr) {
        Py_DECREF(attrs);
        return nullptr;
    }
    PyObject* context = PyContext_CopyCurrent(); // what Task.__init__ would copy itself
    PyObject* name = context != nullptr ? next_task_name() : nullptr;
    if (name == nullptr) {
        Py_XDECREF(context);
        Py_DECREF(real);
        Py_DECREF(attrs);
        return nullptr;
    }
    capture_frame frame{context, real, nullptr, nullptr, g_frame};
    PyObject* registry = registry_attrs(); // borrowed, or null: Task.__init__ registers as usual
    if (registry != nullptr && PyDict_GetItemWithError(registry, str_add) == g_registry.add) {
        frame.coro = coro; // else someone replaced _all_tasks.add: Task.__init__ calls theirs
    }
    PyObject* task = nullptr;
    bool armed = PyDict_SetItem(attrs, str_call_soon, capture_fn) == 0;
    if (armed && frame.coro != nullptr && PyDict_SetItem(registry, str_add, capture_add_fn) < 0) {
        PyErr_Clear();
        frame.coro = nullptr; // registered as usual
    }
    if (armed) {
        g_frame = &frame;
        PyObject* call_args[] = {coro, loop, context, name};
        task = PyObject_Vectorcall(task_type, call_args, 1, kw_loop_context_name);
        g_frame = frame.outer;
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyDict_SetItem(attrs, str_call_soon, real) < 0 ||
            (frame.coro != nullptr && PyDict_SetItem(registry, str_add, g_registry.add) < 0)) {
            PyErr_WriteUnraisable(loop); // cannot happen: the keys are there
        }
        PyErr_Restore(type, value, tb);
    }
    if (task != nullptr && frame.callback != nullptr) {
        // The first step, in the task's context, as the loop's Handle would run it.
        if (PyContext_Enter(context) == 0) {
            PyObject* rv = PyObject_Call(frame.callback, frame.args, nullptr);
            PyContext_Exit(context);
            if (rv == nullptr) {
                Py_CLEAR(task); // KeyboardInterrupt or SystemExit out of the step: to the loop
            }
            Py_XDECREF(rv);
        } else {
            Py_CLEAR(task);
        }
    }
    if (frame.registered != nullptr) {
        // Finished in its first step: out of the registry again, so that freeing it runs
        // no callback (a finished task is not in all_tasks() anyway). Else it stays.
        int done = task != nullptr ? task_done(task) : -1;
        if (done > 0 && PySet_Discard(g_registry.data, frame.registered) < 0) {
            done = -1;
        }
        if (done < 0 && task != nullptr) {
            Py_CLEAR(task); // done() or the discard failed: the error goes up
        }
        *is_done = done;
        Py_DECREF(frame.registered);
    }
    Py_XDECREF(frame.callback);
    Py_XDECREF(frame.args);
    Py_DECREF(name);
    Py_DECREF(context);
    Py_DECREF(real);
    Py_DECREF(attrs);
    return task;
}

// start_batch(Task, loop, items, answer, keep): AsyncRunner._start for Python 3.11. For
// each (handler, request, pending) of a reactor's batch: the coroutine (handler.run(request,
// pending, loop) for a handler that answers itself, an ASGI app or a WebSocket route;
// else answer(loop, handler, request, pending)), started as eager_task starts it. What
// the first steps answer is delivered at the end (begin_batch/end_batch).
PyObject* start_batch(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 5 || !PyList_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "start_batch(Task, loop, items, answer, keep) takes 5 arguments");
        return nullptr;
    }
    PyObject* task_type = args[0];
    PyObject* loop = args[1];
    PyObject* items = args[2];
    PyObject* answer = args[3];
    PyObject* keep = args[4];
    begin_batch();
    bool ok = true;
    for (Py_ssize_t i = 0; ok && i < PyList_GET_SIZE(items); ++i) {
        PyObject* item = PyList_GET_ITEM(items, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3) {
            PyErr_SetString(PyExc_TypeError, "start_batch: items are (handler, request, pending)");
            ok = false;
            break;
        }
        PyObject* handler = PyTuple_GET_ITEM(item, 0);
        PyObject* request = PyTuple_GET_ITEM(item, 1);
        PyObject* pending = PyTuple_GET_ITEM(item, 2);
        PyObject* takes = nullptr;
#if PY_VERSION_HEX >= 0x030D0000
        if (PyObject_GetOptionalAttr(handler, str_takes_pending, &takes) < 0) {
#else
        if (_PyObject_LookupAttr(handler, str_takes_pending, &takes) < 0) {
#endif
            ok = false;
            break;
        }
        int answers_itself = takes != nullptr ? PyObject_IsTrue(takes) : 0;
        Py_XDECREF(takes);
        PyObject* coro = nullptr;
        if (answers_itself > 0) {
            PyObject* run = PyObject_GetAttr(handler, str_run);
            if (run != nullptr) {
                PyObject* run_args[] = {request, pending, loop};
                coro = PyObject_Vectorcall(run, run_args, 3, nullptr);
                Py_DECREF(run);
            }
        } else if (answers_itself == 0) {
            PyObject* answer_args[] = {loop, handler, request, pending};
            coro = PyObject_Vectorcall(answer, answer_args, 4, nullptr);
        }
        int is_done = -1;
        PyObject* task = coro != nullptr ? make_task(task_type, loop, coro, &is_done) : nullptr;
        task = kept(task, keep, is_done);
        Py_XDECREF(coro);
        ok = task != nullptr;
        Py_XDECREF(task);
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject* flushed = end_batch();
    Py_XDECREF(flushed);
    if (!ok) {
        PyErr_Restore(type, value, tb); // as `_start` raised it, after the flush (its finally)
        return nullptr;
    }
    if (flushed == nullptr) {
        return nullptr;
    }
    Py_RETURN_NONE;
}

PyMethodDef start_batch_def = {
    "start_batch", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&start_batch)), METH_FASTCALL,
    "start_batch(Task, loop, items, answer, keep): start a reactor's batch of async requests (AsyncRunner._start "
    "on Python 3.11): each task as eager_task starts it, then deliver what they answered."};

PyMethodDef eager_task_def = {
    "eager_task", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&eager_task)), METH_FASTCALL,
    "eager_task(Task, loop, coro, keep) -> Task: Task(coro, loop=loop, name=\"ringbolt-request-<n>\") with its "
    "first step run before this returns (Python 3.12's eager_start, for 3.11); a loop with a task factory gets "
    "loop.create_task(coro). A task not done then is added to the set `keep` (None: not kept) until it is."};

} // namespace

/// Add eager_task to `module` (once, at module init).
int init_eager_task(PyObject* module) {
    kw_loop_context_name = Py_BuildValue("(sss)", "loop", "context", "name");
    if (kw_loop_context_name == nullptr || !intern_names({
                                               {&str_call_soon, "call_soon"},
                                               {&str_get_task_factory, "get_task_factory"},
                                               {&str_create_task, "create_task"},
                                               {&str_done, "done"},
                                               {&str_run, "run"},
                                               {&str_takes_pending, "_ringbolt_takes_pending"},
                                               {&str_discard, "discard"},
                                               {&str_add_done_callback, "add_done_callback"},
                                               {&str_add, "add"},
                                               {&str_coro, "_coro"},
                                               {&str_data, "data"},
                                               {&str_remove, "_remove"},
                                           })) {
        return -1;
    }
    PyObject* name = PyModule_GetNameObject(module);
    capture_fn = name != nullptr ? PyCFunction_NewEx(&capture_def, nullptr, name) : nullptr;
    capture_add_fn = capture_fn != nullptr ? PyCFunction_NewEx(&capture_add_def, nullptr, name) : nullptr;
    PyObject* fn = capture_add_fn != nullptr ? PyCFunction_NewEx(&eager_task_def, nullptr, name) : nullptr;
    PyObject* batch_fn = fn != nullptr ? PyCFunction_NewEx(&start_batch_def, nullptr, name) : nullptr;
    Py_XDECREF(name);
    if (batch_fn == nullptr || PyModule_AddObject(module, "eager_task", fn) < 0) {
        Py_XDECREF(fn);
        Py_XDECREF(batch_fn);
        return -1;
    }
    if (PyModule_AddObject(module, "start_batch", batch_fn) < 0) {
        Py_DECREF(batch_fn);
        return -1;
    }
    return 0;
}

} // namespace ringbolt::py
