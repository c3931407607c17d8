// The bridge's side of the reactor's turns and of an event loop hosted on a reactor's
// thread: the deferred loop wake-up of a turn, the turn function the loop calls
// (AsyncRunner.host), and a reactor thread's Python state given back as it exits.
#include "pymod/native/bridge/app_bridge.hpp"

#include "core/log.hpp"
#include "pymod/native/bridge/response_stream.hpp"

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
constexpr const char* reactor_capsule_name = "ringbolt.reactor";

// The turn function AsyncRunner.host calls: the GIL is released for the turn (its
// handle_batch takes it again with this thread's state).
PyObject* hosted_turn(PyObject* capsule, PyObject*) {
    auto* r = static_cast<uring::reactor*>(PyCapsule_GetPointer(capsule, reactor_capsule_name));
    if (r == nullptr) {
        return nullptr;
    }
    int state;
    Py_BEGIN_ALLOW_THREADS;
    begin_hosted_turn();
    state = r->hosted_turn();
    if (end_hosted_turn()) {
        state |= 4; // producers may go on (AsyncRunner.host wakes them now)
    }
    Py_END_ALLOW_THREADS;
    return PyLong_FromLong(state);
}

PyMethodDef hosted_turn_def = {"hosted_turn", hosted_turn, METH_NOARGS, nullptr};
} // namespace

bool app_bridge::host_loop(uring::reactor& r) noexcept {
    if (_runner == nullptr) {
        return false;
    }
    PyThreadState*& ts = _thread_states[r.index()];
    if (ts == nullptr) {
        ts = PyThreadState_New(_interp);
    }
    PyEval_RestoreThread(ts);
    PyObject* capsule = PyCapsule_New(&r, reactor_capsule_name, nullptr);
    PyObject* turn = capsule != nullptr ? PyCFunction_New(&hosted_turn_def, capsule) : nullptr;
    PyObject* done = turn != nullptr ? PyObject_CallMethod(_runner, "host", "Oi", turn, r.poll_fd()) : nullptr;
    if (done == nullptr) {
        log(log_level::error, "reactor %u: the event loop could not run on its thread; it runs its own turns",
            r.index());
        PyErr_Print();
    }
    Py_XDECREF(done);
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
