// What the Python bridge keeps for the next request instead of freeing it (Request
// objects, wsgi.input, pending answers...): core/kept_stack.hpp's bounded LIFO of
// pointers, guarded by the GIL, and let go at the interpreter's exit.
#pragma once

#include <Python.h>

#include "core/kept_stack.hpp"

#include <cstddef>

namespace ringbolt::py {

/// Every kept_list of the process, released at once at interpreter exit (atexit, GIL held).
class kept_list_chain {
  public:
    /// Lets every kept_list's items go (their free_item); later gives free at once.
    static void release_all() noexcept {
        for (kept_list_chain* l = s_first; l != nullptr; l = l->_next) {
            l->_release(*l);
        }
    }

  protected:
    explicit kept_list_chain(void (*release)(kept_list_chain&)) noexcept : _next(s_first), _release(release) {
        s_first = this;
    }

  private:
    kept_list_chain* _next;
    void (*_release)(kept_list_chain&);
    static inline constinit kept_list_chain* s_first = nullptr; // constant: set before any list links in
};

/// A kept_stack guarded by the GIL, its items freed by `free_item` (a function of T*) at
/// interpreter exit (kept_list_chain::release_all, registered by the module). A
/// free-threaded build keeps nothing (take: nullptr, give: false): there it would need a
/// list per thread, as CPython's own free lists have there.
template <typename T, size_t N, auto free_item> class kept_list : kept_list_chain {
  public:
    kept_list() noexcept
        : kept_list_chain([](kept_list_chain& l) { static_cast<kept_list&>(l)._stack.release(free_item); }) {}

    /// A kept item, or nullptr: none is kept (make a new one).
    T* take() noexcept {
        T* item = nullptr;
#ifndef Py_GIL_DISABLED
        _stack.take(item);
#endif
        return item;
    }

    /// True: `item` is kept (the list's until taken). False (the list is full, or
    /// released): the caller frees it.
    bool give([[maybe_unused]] T* item) noexcept {
#ifdef Py_GIL_DISABLED
        return false;
#else
        return _stack.give(item);
#endif
    }

  private:
    ringbolt::core::kept_stack<T*, N> _stack;
};

/// An object of `type` (not GC-tracked) with the memory of one kept in `list`, or a new
/// one: either way its type set and a reference count of 1; nullptr with an exception set.
template <typename T, size_t N, auto free_item>
T* take_object(kept_list<T, N, free_item>& list, PyTypeObject* type) noexcept {
    if (T* obj = list.take(); obj != nullptr) {
        PyObject_Init(reinterpret_cast<PyObject*>(obj), type);
        return obj;
    }
    return PyObject_New(T, type);
}

/// Adds `_release_kept_lists()` to `module` (release_all: what runs at exit; tests call it)
/// and registers it with atexit, which runs it once non-daemon threads are joined and
/// before the interpreter is torn down. -1 with an exception set on failure.
inline int release_kept_lists_at_exit(PyObject* module) {
    static PyMethodDef def = {
        "_release_kept_lists",
        [](PyObject*, PyObject*) -> PyObject* {
            kept_list_chain::release_all();
            Py_RETURN_NONE;
        },
        METH_NOARGS, "Free what the bridge keeps for the next requests, and keep nothing from now on (run at exit)."};
    PyObject* fn = PyCFunction_NewEx(&def, nullptr, nullptr);
    if (fn == nullptr || PyModule_AddObjectRef(module, def.ml_name, fn) < 0) {
        Py_XDECREF(fn);
        return -1;
    }
    PyObject* atexit = PyImport_ImportModule("atexit");
    PyObject* done = atexit != nullptr ? PyObject_CallMethod(atexit, "register", "O", fn) : nullptr;
    Py_XDECREF(atexit);
    Py_DECREF(fn);
    Py_XDECREF(done);
    return done != nullptr ? 0 : -1;
}

} // namespace ringbolt::py
