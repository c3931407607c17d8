// The bridge's side of the reactor's turns and of an event loop hosted on a reactor's
// thread: the deferred loop wake-up of a turn, the turn functions the loop calls
// (AsyncRunner.host: turn() and the reader's step), run with the GIL held, and a reactor
// thread's Python state given back as it exits.
#include "pymod/native/bridge/app_bridge.hpp"

#include "core/log.hpp"
#include "pymod/native/bridge/response_stream.hpp"

#include <new>

namespace ringbolt::py {

void app_bridge::begin_turns() noexcept {
    begin_reactor_turns();
}

void app_bridge::end_of_turn() noexcept {
    // Twice a request: no thread_local access (a __tls_get_addr call from the extension)
    // unless some thread owes the loop a wake-up.
    if (reactor_wake_owed_somewhere()) [[unlikely]] {
        end_reactor_turn();
    }
}

namespace {
constexpr const char* hosted_capsule_name = "ringbolt.hosted_turn";

// What the loop's turn functions act on (a capsule's pointer, freed with it).
struct hosted_ctx {
    server::reactor* reactor;
    app_bridge* bridge;
};

hosted_ctx* hosted_ctx_of(PyObject* capsule) {
    return static_cast<hosted_ctx*>(PyCapsule_GetPointer(capsule, hosted_capsule_name));
}

// One hosted turn, called by the loop with the GIL held, which the turn keeps: its batch
// (handle_batch) runs under the same hold, instead of the GIL being let go for the native
// turn and taken again for the batch and after it (two takes a turn, ~270 instructions
// each). The native turn does not block (the loop waits, not the reactor); where it must
// wait for the turn lock (the stand-in serves the connections and its batches need the
// GIL) it lets go first (before_turn_lock_wait).
int run_hosted_turn(hosted_ctx& c) noexcept {
    unsigned i = c.reactor->index();
    c.bridge->set_turn_holds_gil(i, true);
    begin_hosted_turn();
    int state = c.reactor->hosted_turn();
    if (end_hosted_turn()) {
        state |= 4; // producers may go on (AsyncRunner.host wakes them now)
    }
    c.bridge->set_turn_holds_gil(i, false);
    return state;
}

// turn(): one hosted turn; returns its state (AsyncRunner.host).
PyObject* hosted_turn(PyObject* capsule, PyObject*) {
    hosted_ctx* c = hosted_ctx_of(capsule);
    if (c == nullptr) {
        return nullptr;
    }
    return PyLong_FromLong(run_hosted_turn(*c));
}

// step(start, after): what the loop runs when the reactor's fd is readable (and on its
// tick): a turn, then in the common case (state 1: wait for the fd; nothing for producers)
// the requests it staged given to start(items) when there are any, all without a Python
// frame; any other state goes to after(state), which does what AsyncRunner.host says.
PyObject* hosted_step(PyObject* capsule, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "hosted_step(start, after) takes 2 arguments");
        return nullptr;
    }
    hosted_ctx* c = hosted_ctx_of(capsule);
    if (c == nullptr) {
        return nullptr;
    }
    int state = run_hosted_turn(*c);
    if (state != 1) [[unlikely]] {
        PyObject* s = PyLong_FromLong(state);
        PyObject* r = s != nullptr ? PyObject_CallOneArg(args[1], s) : nullptr;
        Py_XDECREF(s);
        return r;
    }
    PyObject* items = take_async_requests();
    if (items == Py_None || (PyList_Check(items) && PyList_GET_SIZE(items) == 0)) {
        Py_DECREF(items);
        Py_RETURN_NONE;
    }
    PyObject* r = PyObject_CallOneArg(args[0], items);
    Py_DECREF(items);
    return r;
}

PyMethodDef hosted_turn_def = {"hosted_turn", hosted_turn, METH_NOARGS, nullptr};
PyMethodDef hosted_step_def = {"hosted_step", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(hosted_step)),
                               METH_FASTCALL, nullptr};
} // namespace

void app_bridge::before_turn_lock_wait(unsigned reactor_index) noexcept {
    if (_turn_holds_gil[reactor_index] != 0) {
        PyEval_SaveThread(); // (this slot's thread state: taken back in after_turn_lock_wait)
    }
}

void app_bridge::after_turn_lock_wait(unsigned reactor_index) noexcept {
    if (_turn_holds_gil[reactor_index] != 0) {
        PyEval_RestoreThread(_thread_states[reactor_index]);
    }
}

bool app_bridge::host_loop(server::reactor& r) noexcept {
    if (_runner == nullptr) {
        return false;
    }
    PyThreadState*& ts = _thread_states[r.index()];
    if (ts == nullptr) {
        ts = PyThreadState_New(_interp);
    }
    PyEval_RestoreThread(ts);
    auto* ctx = new (std::nothrow) hosted_ctx{&r, this};
    PyObject* capsule = ctx != nullptr
                            ? PyCapsule_New(ctx, hosted_capsule_name, [](PyObject* cap) { delete hosted_ctx_of(cap); })
                            : nullptr;
    if (capsule == nullptr) {
        delete ctx;
    }
    PyObject* turn = capsule != nullptr ? PyCFunction_New(&hosted_turn_def, capsule) : nullptr;
    PyObject* step = turn != nullptr ? PyCFunction_New(&hosted_step_def, capsule) : nullptr;
    PyObject* done = step != nullptr ? PyObject_CallMethod(_runner, "host", "OiO", turn, r.poll_fd(), step) : nullptr;
    if (done == nullptr) {
        log(core::log_level::error, "reactor %u: the event loop could not run on its thread; it runs its own turns",
            r.index());
        PyErr_Print();
    }
    Py_XDECREF(done);
    Py_XDECREF(step);
    Py_XDECREF(turn);
    Py_XDECREF(capsule);
    PyEval_SaveThread();
    return done != nullptr;
}

void app_bridge::on_reactor_exit(unsigned reactor_index) noexcept {
    end_reactor_turn(false);
    PyThreadState*& ts = _thread_states[reactor_index];
    if (ts != nullptr) {
        PyEval_RestoreThread(ts);
        PyThreadState_Clear(ts);
        PyThreadState_DeleteCurrent();
        ts = nullptr;
    }
}

} // namespace ringbolt::py
