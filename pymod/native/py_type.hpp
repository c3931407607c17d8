// The one way the module's C-API types are made: a static PyTypeObject built from a
// type_def (the fields a type sets, by name, as a PyType_Spec's slots would), readied
// and added to the module by ready_native_type. Static types, not heap types: no reference to
// the type per instance, and a type's identity is a pointer compare (PyObject_TypeCheck).
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstddef>

namespace ringbolt::py {

/// What a native type sets; the rest stays as PyType_Ready fills it. Members follow
/// PyTypeObject's order, so a definition names them with designated initializers.
/// A type with Py_TPFLAGS_HAVE_GC sets traverse and clear; one without `new_object` is
/// not constructible from Python.
struct type_def {
    const char* name; ///< "ringbolt._native.<Name>"
    Py_ssize_t basicsize;
    unsigned long flags = Py_TPFLAGS_DEFAULT;
    const char* doc = nullptr;
    destructor dealloc = nullptr;
    Py_ssize_t vectorcall_offset = 0; ///< with Py_TPFLAGS_HAVE_VECTORCALL (and call = PyVectorcall_Call)
    PyAsyncMethods* as_async = nullptr;
    reprfunc repr = nullptr;
    ternaryfunc call = nullptr;
    getattrofunc getattro = nullptr;
    setattrofunc setattro = nullptr;
    traverseproc traverse = nullptr;
    inquiry clear = nullptr;
    getiterfunc iter = nullptr;
    iternextfunc iternext = nullptr;
    PyMethodDef* methods = nullptr;
    PyMemberDef* members = nullptr;
    PyGetSetDef* getset = nullptr;
    Py_ssize_t dictoffset = 0;
    initproc init = nullptr;
    newfunc new_object = nullptr;
};

/// The PyTypeObject of `d`, to initialise a type's static with (ready it with ready_native_type).
inline PyTypeObject native_type(const type_def& d) noexcept {
    PyTypeObject t{PyVarObject_HEAD_INIT(nullptr, 0)};
    t.tp_name = d.name;
    t.tp_basicsize = d.basicsize;
    t.tp_flags = d.flags;
    t.tp_doc = d.doc;
    t.tp_dealloc = d.dealloc;
    t.tp_vectorcall_offset = d.vectorcall_offset;
    t.tp_as_async = d.as_async;
    t.tp_repr = d.repr;
    t.tp_call = d.call;
    t.tp_getattro = d.getattro;
    t.tp_setattro = d.setattro;
    t.tp_traverse = d.traverse;
    t.tp_clear = d.clear;
    t.tp_iter = d.iter;
    t.tp_iternext = d.iternext;
    t.tp_methods = d.methods;
    t.tp_members = d.members;
    t.tp_getset = d.getset;
    t.tp_dictoffset = d.dictoffset;
    t.tp_init = d.init;
    t.tp_new = d.new_object;
    return t;
}

/// A plain class's PyTypeObject: made by `init` (PyType_GenericNew allocates), freed by
/// `dealloc`, its methods and read-only properties.
inline PyTypeObject class_type(const char* name, Py_ssize_t size, const char* doc, destructor dealloc, initproc init,
                               PyMethodDef* methods, PyGetSetDef* getset = nullptr) noexcept {
    type_def d{.name = name, .basicsize = size, .doc = doc, .dealloc = dealloc};
    d.methods = methods;
    d.getset = getset;
    d.init = init;
    d.new_object = PyType_GenericNew;
    return native_type(d);
}

/// PyType_Ready on `type`, and with a `module`, the type added to it as `attr`. False with
/// a Python exception set. GIL held (module init).
inline bool ready_native_type(PyTypeObject& type, PyObject* module = nullptr, const char* attr = nullptr) noexcept {
    if (PyType_Ready(&type) < 0) {
        return false;
    }
    return module == nullptr || PyModule_AddObjectRef(module, attr, reinterpret_cast<PyObject*>(&type)) == 0;
}

/// The PyTypeObject of `d` called by vectorcall: `T` holds its `vectorcallfunc vectorcall`.
template <class T> PyTypeObject vectorcall_type(type_def d) noexcept {
    d.flags |= Py_TPFLAGS_HAVE_VECTORCALL;
    d.vectorcall_offset = offsetof(T, vectorcall);
    d.call = PyVectorcall_Call;
    return native_type(d);
}

/// The GC slots of a type whose references are the PyObject* members `Refs` of `T`,
/// named once: traverse visits them, clear clears them, dealloc untracks, clears and
/// frees (tp_free). A type's own dealloc may still use traverse and clear.
template <class T, PyObject* T::*... Refs> struct gc_refs {
    static int traverse(PyObject* o, visitproc visit, void* arg) {
        T* self = reinterpret_cast<T*>(o);
        for (PyObject* ref : {self->*Refs...}) {
            Py_VISIT(ref);
        }
        return 0;
    }
    static int clear(PyObject* o) {
        T* self = reinterpret_cast<T*>(o);
        (clear_ref(self->*Refs), ...);
        return 0;
    }
    static void dealloc(PyObject* o) {
        PyObject_GC_UnTrack(o);
        clear(o);
        Py_TYPE(o)->tp_free(o);
    }
    /// `d` made a GC type with these slots: traverse, clear, and dealloc unless `d` has its own.
    static type_def def(type_def d) noexcept {
        d.flags |= Py_TPFLAGS_HAVE_GC;
        d.dealloc = d.dealloc != nullptr ? d.dealloc : dealloc;
        d.traverse = traverse;
        d.clear = clear;
        return d;
    }

  private:
    static void clear_ref(PyObject*& ref) noexcept { Py_CLEAR(ref); }
};

} // namespace ringbolt::py
