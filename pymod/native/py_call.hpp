// Calling the module's C++ from Python with CPython's own API, for the functions that are
// not on a request's path (the Server's configuration, the options, forms, TLS checks):
// a body that throws is turned into a null return with a Python exception set, values are
// read from Python objects by the C++ type they fill, and the GIL is released for a scope.
// Errors name what was wrong: the option, the argument.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdint>
#include <exception>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ringbolt::py {

/// A method table's entry, a read-only property's, and the end of either table.
constexpr PyMethodDef method(const char* name, PyCFunction fn, int flags, const char* doc) noexcept {
    return {name, fn, flags, doc};
}
constexpr PyGetSetDef property(const char* name, getter get, const char* doc) noexcept {
    return {name, get, nullptr, doc, nullptr};
}
inline constexpr PyMethodDef methods_end{nullptr, nullptr, 0, nullptr};
inline constexpr PyGetSetDef properties_end{nullptr, nullptr, nullptr, nullptr, nullptr};

/// A METH_FASTCALL function as a table's PyCFunction.
template <auto F> constexpr PyCFunction fastcall() {
    return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(F));
}
constexpr int fastcall_kw = METH_FASTCALL | METH_KEYWORDS;

/// Thrown once a Python exception is set: `guarded` returns null and leaves it set.
struct py_raised {};

[[noreturn]] inline void raise_as(PyObject* type, const std::string& message) {
    PyErr_SetString(type, message.c_str());
    throw py_raised{};
}
[[noreturn]] inline void value_error(const std::string& message) {
    raise_as(PyExc_ValueError, message);
}
[[noreturn]] inline void type_error(const std::string& message) {
    raise_as(PyExc_TypeError, message);
}
/// OSError(errno, why): the form the listeners' and the server's binding errors take.
[[noreturn]] inline void os_error(int err, const std::string& why) {
    PyObject* args = Py_BuildValue("(is)", err, why.c_str());
    if (args != nullptr) {
        PyErr_SetObject(PyExc_OSError, args);
        Py_DECREF(args);
    }
    throw py_raised{};
}
/// `o`, or py_raised when it is null (a failed call left its exception set).
inline PyObject* checked(PyObject* o) {
    if (o == nullptr) {
        throw py_raised{};
    }
    return o;
}

/// `body()`'s result (a new reference), or null with a Python exception set: py_raised
/// leaves the one set, std::bad_alloc is MemoryError, std::invalid_argument ValueError,
/// any other std::exception RuntimeError with its message.
template <class F> PyObject* guarded(F&& body) noexcept {
    try {
        return body();
    } catch (const py_raised&) {
        return nullptr;
    } catch (const std::bad_alloc&) {
        return PyErr_NoMemory();
    } catch (const std::invalid_argument& e) {
        PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    }
    return nullptr;
}

/// An owned reference, released when it goes.
class ref {
  public:
    ref() noexcept = default;
    explicit ref(PyObject* o) noexcept : _o(o) {}
    ref(ref&& other) noexcept : _o(other.release()) {}
    ref& operator=(ref&& other) noexcept {
        std::swap(_o, other._o);
        return *this;
    }
    ref(const ref&) = delete;
    ref& operator=(const ref&) = delete;
    ~ref() { Py_XDECREF(_o); }
    PyObject* get() const noexcept { return _o; }
    PyObject* release() noexcept { return std::exchange(_o, nullptr); }
    explicit operator bool() const noexcept { return _o != nullptr; }

  private:
    PyObject* _o = nullptr;
};

/// The GIL released for a scope (the thread holds it before and after).
class gil_released {
  public:
    gil_released() noexcept : _state(PyEval_SaveThread()) {}
    ~gil_released() { PyEval_RestoreThread(_state); }
    gil_released(const gil_released&) = delete;
    gil_released& operator=(const gil_released&) = delete;

  private:
    PyThreadState* _state;
};

/// repr(o) as UTF-8 ("?" when repr fails).
inline std::string repr_of(PyObject* o) {
    ref r(PyObject_Repr(o));
    const char* s = r ? PyUnicode_AsUTF8(r.get()) : nullptr;
    if (s == nullptr) {
        PyErr_Clear();
        return "?";
    }
    return s;
}

/// Reading a Python value into a C++ one: `read(o, out)` is false (no exception set) when
/// `o` has the wrong type, and a number out of `out`'s range is `out_of_range`.
struct reader {
    bool out_of_range = false;

    bool read(PyObject* o, bool& out) {
        if (o == Py_True || o == Py_False) {
            out = o == Py_True;
            return true;
        }
        if (Py_TYPE(o)->tp_as_number == nullptr || Py_TYPE(o)->tp_as_number->nb_bool == nullptr) {
            return false; // a number's truth, as an int 0 or 1 given for a switch; not a str's
        }
        int truth = PyObject_IsTrue(o);
        if (truth < 0) {
            PyErr_Clear();
            return false;
        }
        out = truth == 1;
        return true;
    }

    template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) bool read(PyObject* o, T& out) {
        if (PyFloat_Check(o) || !PyIndex_Check(o)) {
            return false;
        }
        ref n(PyNumber_Index(o));
        if (!n) {
            PyErr_Clear();
            return false;
        }
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(n.get(), &overflow);
        if (overflow == 0 && v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return false;
        }
        if (overflow > 0 && std::is_unsigned_v<T>) {
            unsigned long long u = PyLong_AsUnsignedLongLong(n.get());
            if (u == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
                PyErr_Clear();
                out_of_range = true;
                return false;
            }
            if (u > static_cast<unsigned long long>(std::numeric_limits<T>::max())) {
                out_of_range = true;
                return false;
            }
            out = static_cast<T>(u);
            return true;
        }
        bool fits = overflow == 0;
        if constexpr (std::is_unsigned_v<T>) {
            fits = fits && v >= 0 && static_cast<unsigned long long>(v) <= std::numeric_limits<T>::max();
        } else {
            fits = fits && v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
        }
        if (!fits) {
            out_of_range = true;
            return false;
        }
        out = static_cast<T>(v);
        return true;
    }

    bool read(PyObject* o, double& out) {
        if (!PyFloat_Check(o) && !PyLong_Check(o) && !PyNumber_Check(o)) {
            return false;
        }
        out = PyFloat_AsDouble(o);
        if (out == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return false;
        }
        return true;
    }

    bool read(PyObject* o, std::string& out) {
        if (PyBytes_Check(o)) {
            out.assign(PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o)));
            return true;
        }
        if (!PyUnicode_Check(o)) {
            return false;
        }
        Py_ssize_t n = 0;
        const char* s = PyUnicode_AsUTF8AndSize(o, &n);
        if (s == nullptr) {
            PyErr_Clear();
            return false;
        }
        out.assign(s, static_cast<size_t>(n));
        return true;
    }

    template <class A, class B> bool read(PyObject* o, std::pair<A, B>& out) {
        std::vector<PyObject*> items;
        ref seq;
        if (!items_of(o, seq, items) || items.size() != 2) {
            return false;
        }
        return read(items[0], out.first) && read(items[1], out.second);
    }

    template <class T> bool read(PyObject* o, std::vector<T>& out) {
        std::vector<PyObject*> items;
        ref seq;
        if (!items_of(o, seq, items)) {
            return false;
        }
        out.clear();
        out.reserve(items.size());
        for (PyObject* item : items) {
            if (!read(item, out.emplace_back())) {
                return false;
            }
        }
        return true;
    }

  private:
    /// The items of a sequence that is not a str or bytes (borrowed from `seq`).
    static bool items_of(PyObject* o, ref& seq, std::vector<PyObject*>& items) {
        if (PyUnicode_Check(o) || PyBytes_Check(o) || !PySequence_Check(o)) {
            return false;
        }
        seq = ref(PySequence_Fast(o, ""));
        if (!seq) {
            PyErr_Clear();
            return false;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.get());
        PyObject** first = PySequence_Fast_ITEMS(seq.get());
        items.assign(first, first + n);
        return true;
    }
};

/// Argument `name` of a function as a T; TypeError naming it when it has another type.
template <class T> T arg_as(PyObject* o, const char* name) {
    T out{};
    reader r;
    if (!r.read(o, out)) {
        if (r.out_of_range) {
            value_error(std::string("argument '") + name + "' is out of range: " + repr_of(o));
        }
        type_error(std::string("argument '") + name + "' has the wrong type: " + Py_TYPE(o)->tp_name + " " +
                   repr_of(o));
    }
    return out;
}

/// The value of `key` in dict `d` (borrowed), or null when absent or None.
inline PyObject* option_of(PyObject* d, const char* key) {
    PyObject* v = PyDict_GetItemString(d, key);
    return v == Py_None ? nullptr : v;
}

/// Option `key` of dict `d` as a T, `fallback` when absent or None. A value no T can hold
/// is an error naming the option: ValueError for an integer out of T's range, TypeError
/// for another type.
template <class T> T get_opt(PyObject* d, const char* key, T fallback) {
    PyObject* value = option_of(d, key);
    if (value == nullptr) {
        return fallback;
    }
    T out{};
    reader r;
    if (r.read(value, out)) {
        return out;
    }
    std::string shown = repr_of(value);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        if (PyLong_Check(value)) {
            value_error(std::string(key) + " must be " + std::to_string(std::numeric_limits<T>::min()) + ".." +
                        std::to_string(std::numeric_limits<T>::max()) + ", not " + shown);
        }
    }
    type_error(std::string(key) + " has the wrong type: " + Py_TYPE(value)->tp_name + " " + shown);
}

/// A Python str from UTF-8 bytes (new reference; py_raised when they are not UTF-8).
inline PyObject* str_of(const std::string& s) {
    return checked(PyUnicode_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size())));
}

/// A list of Python strs from `items` (new reference).
inline PyObject* str_list(const std::vector<std::string>& items) {
    ref out(checked(PyList_New(static_cast<Py_ssize_t>(items.size()))));
    for (size_t i = 0; i < items.size(); ++i) {
        PyList_SET_ITEM(out.get(), static_cast<Py_ssize_t>(i), str_of(items[i]));
    }
    return out.release();
}

/// `d[key] = value`, stealing `value` (py_raised when it is null or the store fails).
inline void put_item(PyObject* d, const char* key, PyObject* value) {
    ref v(checked(value));
    if (PyDict_SetItemString(d, key, v.get()) < 0) {
        throw py_raised{};
    }
}

/// Positional and keyword arguments of a METH_FASTCALL | METH_KEYWORDS call matched to
/// `names` (as Python does: each at most once, the first `required` needed); absent
/// ones null. TypeError naming `fn` and the argument otherwise.
template <size_t N>
void bind_args(const char* fn, const char* const (&names)[N], size_t required, PyObject* const* args, Py_ssize_t nargs,
               PyObject* kwnames, PyObject* (&out)[N]) {
    for (PyObject*& o : out) {
        o = nullptr;
    }
    if (static_cast<size_t>(nargs) > N) {
        type_error(std::string(fn) + "() takes at most " + std::to_string(N) + " arguments (" + std::to_string(nargs) +
                   " given)");
    }
    for (Py_ssize_t i = 0; i < nargs; ++i) {
        out[i] = args[i];
    }
    Py_ssize_t nkw = kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; ++k) {
        const char* key = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k));
        if (key == nullptr) {
            throw py_raised{};
        }
        size_t at = N;
        for (size_t i = 0; i < N; ++i) {
            if (std::string_view(names[i]) == key) {
                at = i;
            }
        }
        if (at == N) {
            type_error(std::string(fn) + "() got an unexpected keyword argument '" + key + "'");
        }
        if (out[at] != nullptr) {
            type_error(std::string(fn) + "() got multiple values for argument '" + key + "'");
        }
        out[at] = args[nargs + k];
    }
    for (size_t i = 0; i < required; ++i) {
        if (out[i] == nullptr) {
            type_error(std::string(fn) + "() missing required argument '" + names[i] + "'");
        }
    }
}

} // namespace ringbolt::py
