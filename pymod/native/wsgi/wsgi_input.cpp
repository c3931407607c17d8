// ringbolt._native.WSGIInput: wsgi.input for a request body already in memory (PEP 3333:
// read, readline, readlines, iteration), a read-only file over one bytes object. It
// replaces an io.BytesIO per request: no __dict__, no GC tracking, no buffer export.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pymod/native/wsgi/wsgi_input.hpp"

#include "pymod/native/bridge/kept_list.hpp"
#include "pymod/native/py_type.hpp"

#include <cstring>

namespace ringbolt::py {

namespace {

struct input_object {
    PyObject_HEAD PyObject* body; ///< exact bytes
    Py_ssize_t pos;               ///< may be past the end after a seek (reads then give b"")
    bool closed;
};

extern PyTypeObject input_type;

PyObject* unsupported = nullptr; // io.UnsupportedOperation

/// One input a request: a few kept for the next requests (kept_list.hpp).
kept_list<input_object, 4, PyObject_Free> spare_inputs;

input_object* I(PyObject* self) {
    return reinterpret_cast<input_object*>(self);
}

/// False (with ValueError set, as io.BytesIO raises it) once close() was called.
bool check_open(PyObject* self) {
    if (I(self)->closed) [[unlikely]] {
        PyErr_SetString(PyExc_ValueError, "I/O operation on closed file.");
        return false;
    }
    return true;
}

/// A size argument: an int, or None (and absent) for "all". False with TypeError set
/// otherwise (io.BytesIO's message).
bool size_arg(PyObject* const* args, Py_ssize_t nargs, const char* name, Py_ssize_t& size) {
    size = -1;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s expected at most 1 argument, got %zd", name, nargs);
        return false;
    }
    if (nargs == 0 || args[0] == Py_None) {
        return true;
    }
    if (!PyIndex_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "argument should be integer or None, not '%.200s'", Py_TYPE(args[0])->tp_name);
        return false;
    }
    size = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    return !(size == -1 && PyErr_Occurred());
}

/// Bytes left from the position.
Py_ssize_t remaining(input_object* in) {
    Py_ssize_t n = PyBytes_GET_SIZE(in->body) - in->pos;
    return n > 0 ? n : 0;
}

/// The next `n` bytes (n <= remaining), the position moved past them.
PyObject* take(input_object* in, Py_ssize_t n) {
    if (in->pos == 0 && n == PyBytes_GET_SIZE(in->body)) {
        in->pos = n;
        return Py_NewRef(in->body); // the whole body: the object itself, no copy
    }
    PyObject* out = PyBytes_FromStringAndSize(PyBytes_AS_STRING(in->body) + in->pos, n);
    if (out != nullptr) {
        in->pos += n;
    }
    return out;
}

/// Length of the next line (through its '\n'), at most `limit` bytes (< 0: no limit).
Py_ssize_t line_length(input_object* in, Py_ssize_t limit) {
    Py_ssize_t n = remaining(in);
    if (limit >= 0 && limit < n) {
        n = limit;
    }
    const char* start = PyBytes_AS_STRING(in->body) + in->pos;
    const void* nl = n > 0 ? std::memchr(start, '\n', static_cast<size_t>(n)) : nullptr;
    return nl != nullptr ? static_cast<const char*>(nl) - start + 1 : n;
}

PyObject* input_read(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    Py_ssize_t size;
    if (!size_arg(args, nargs, "read", size) || !check_open(self)) {
        return nullptr;
    }
    Py_ssize_t n = remaining(I(self));
    return take(I(self), size < 0 || size > n ? n : size);
}

PyObject* input_readline(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    Py_ssize_t size;
    if (!size_arg(args, nargs, "readline", size) || !check_open(self)) {
        return nullptr;
    }
    return take(I(self), line_length(I(self), size));
}

PyObject* input_readlines(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    Py_ssize_t hint;
    if (!size_arg(args, nargs, "readlines", hint) || !check_open(self)) {
        return nullptr;
    }
    PyObject* lines = PyList_New(0);
    Py_ssize_t total = 0;
    while (lines != nullptr) {
        Py_ssize_t n = line_length(I(self), -1);
        if (n == 0) {
            break;
        }
        PyObject* line = take(I(self), n);
        if (line == nullptr || PyList_Append(lines, line) < 0) {
            Py_XDECREF(line);
            Py_CLEAR(lines);
            break;
        }
        Py_DECREF(line);
        total += n;
        if (hint > 0 && total >= hint) {
            break; // as io's readlines: stop once the lines read reach the hint
        }
    }
    return lines;
}

PyObject* input_readinto(PyObject* self, PyObject* arg) {
    if (!check_open(self)) {
        return nullptr;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return nullptr;
    }
    if (view.readonly) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_TypeError, "readinto() argument must be read-write bytes-like object, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return nullptr;
    }
    input_object* in = I(self);
    Py_ssize_t n = remaining(in);
    if (n > view.len) {
        n = view.len;
    }
    std::memcpy(view.buf, PyBytes_AS_STRING(in->body) + in->pos, static_cast<size_t>(n));
    in->pos += n;
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(n);
}

PyObject* input_seek(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "seek expected 1 or 2 arguments, got %zd", nargs);
        return nullptr;
    }
    Py_ssize_t pos = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    if (pos == -1 && PyErr_Occurred()) {
        return nullptr;
    }
    long whence = nargs == 2 ? PyLong_AsLong(args[1]) : 0;
    if (whence == -1 && PyErr_Occurred()) {
        return nullptr;
    }
    if (!check_open(self)) {
        return nullptr;
    }
    input_object* in = I(self);
    // io.BytesIO's rules: absolute positions must not be negative; relative ones stop at 0.
    if (whence == 0) {
        if (pos < 0) {
            PyErr_Format(PyExc_ValueError, "negative seek value %zd", pos);
            return nullptr;
        }
    } else if (whence == 1 || whence == 2) {
        Py_ssize_t from = whence == 1 ? in->pos : PyBytes_GET_SIZE(in->body);
        if (pos > PY_SSIZE_T_MAX - from) {
            PyErr_SetString(PyExc_OverflowError, "new position too large");
            return nullptr;
        }
        pos = pos + from < 0 ? 0 : pos + from;
    } else {
        PyErr_Format(PyExc_ValueError, "invalid whence (%ld, should be 0, 1 or 2)", whence);
        return nullptr;
    }
    in->pos = pos;
    return PyLong_FromSsize_t(pos);
}

PyObject* input_tell(PyObject* self, PyObject*) {
    return check_open(self) ? PyLong_FromSsize_t(I(self)->pos) : nullptr;
}

PyObject* input_getvalue(PyObject* self, PyObject*) {
    return check_open(self) ? Py_NewRef(I(self)->body) : nullptr;
}

PyObject* input_true_if_open(PyObject* self, PyObject*) {
    return check_open(self) ? Py_NewRef(Py_True) : nullptr;
}

PyObject* input_false_if_open(PyObject* self, PyObject*) {
    return check_open(self) ? Py_NewRef(Py_False) : nullptr;
}

PyObject* input_none_if_open(PyObject* self, PyObject*) {
    return check_open(self) ? Py_NewRef(Py_None) : nullptr;
}

PyObject* input_unsupported(PyObject* self, PyObject*) {
    if (check_open(self)) {
        PyErr_SetString(unsupported, "wsgi.input is read-only and has no file descriptor");
    }
    return nullptr;
}

PyObject* input_close(PyObject* self, PyObject*) {
    I(self)->closed = true;
    Py_RETURN_NONE;
}

PyObject* input_exit(PyObject* self, PyObject* const*, Py_ssize_t) {
    return input_close(self, nullptr);
}

PyObject* input_iter(PyObject* self) {
    return check_open(self) ? Py_NewRef(self) : nullptr;
}

PyObject* input_enter(PyObject* self, PyObject*) {
    return input_iter(self);
}

PyObject* input_next(PyObject* self) {
    if (!check_open(self)) {
        return nullptr;
    }
    Py_ssize_t n = line_length(I(self), -1);
    return n > 0 ? take(I(self), n) : nullptr; // nullptr, no exception: StopIteration
}

PyObject* get_closed(PyObject* self, void*) {
    return PyBool_FromLong(I(self)->closed);
}

PyObject* input_new(PyTypeObject*, PyObject* args, PyObject* kwds) {
    static const char* kw[] = {"body", nullptr};
    PyObject* body = nullptr;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:WSGIInput", const_cast<char**>(kw), &body)) {
        return nullptr;
    }
    PyObject* bytes = body == nullptr            ? PyBytes_FromStringAndSize(nullptr, 0)
                      : PyBytes_CheckExact(body) ? Py_NewRef(body)
                                                 : PyBytes_FromObject(body);
    if (bytes == nullptr) {
        return nullptr;
    }
    PyObject* in = new_wsgi_input(bytes);
    Py_DECREF(bytes);
    return in;
}

void input_dealloc(PyObject* self) {
    Py_DECREF(I(self)->body);
    if (!spare_inputs.give(I(self))) {
        PyObject_Free(self);
    }
}

template <typename F> PyCFunction fast(F f) {
    return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f));
}

PyMethodDef input_methods[] = {
    {"read", fast(input_read), METH_FASTCALL, "read(size=-1): up to size bytes (all that is left when size < 0)."},
    {"read1", fast(input_read), METH_FASTCALL, "read1(size=-1): as read()."},
    {"readline", fast(input_readline), METH_FASTCALL, "readline(size=-1): the next line, at most size bytes."},
    {"readlines", fast(input_readlines), METH_FASTCALL,
     "readlines(hint=-1): the remaining lines (stops once they reach hint bytes)."},
    {"readinto", input_readinto, METH_O, "readinto(buffer): bytes read into a writable buffer; their count."},
    {"readinto1", input_readinto, METH_O, "readinto1(buffer): as readinto()."},
    {"seek", fast(input_seek), METH_FASTCALL, "seek(pos, whence=0): move the position; the new one."},
    {"tell", input_tell, METH_NOARGS, "The position."},
    {"getvalue", input_getvalue, METH_NOARGS, "The whole body (bytes)."},
    {"readable", input_true_if_open, METH_NOARGS, "True."},
    {"seekable", input_true_if_open, METH_NOARGS, "True."},
    {"writable", input_false_if_open, METH_NOARGS, "False: wsgi.input is read-only."},
    {"isatty", input_false_if_open, METH_NOARGS, "False."},
    {"flush", input_none_if_open, METH_NOARGS, "Nothing to flush."},
    {"fileno", input_unsupported, METH_NOARGS, "Raises io.UnsupportedOperation: there is no descriptor."},
    {"write", input_unsupported, METH_O, "Raises io.UnsupportedOperation: wsgi.input is read-only."},
    {"close", input_close, METH_NOARGS, "Close: later reads raise ValueError."},
    {"__enter__", input_enter, METH_NOARGS, nullptr},
    {"__exit__", fast(input_exit), METH_FASTCALL, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef input_getset[] = {
    {"closed", get_closed, nullptr, "True once close() was called.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject input_type = native_type({
    .name = "ringbolt._native.WSGIInput",
    .basicsize = sizeof(input_object),
    .doc = "WSGIInput(body=b''): wsgi.input over a body in memory: read, read1, readinto, readline, "
           "readlines, iteration, seek/tell (io.BytesIO's behaviour, read-only).",
    .dealloc = input_dealloc,
    .iter = input_iter,
    .iternext = input_next,
    .methods = input_methods,
    .getset = input_getset,
    .new_object = input_new,
});

} // namespace

PyObject* new_wsgi_input(PyObject* body) {
    input_object* in = take_object(spare_inputs, &input_type);
    if (in == nullptr) {
        return nullptr;
    }
    in->body = Py_NewRef(body);
    in->pos = 0;
    in->closed = false;
    return reinterpret_cast<PyObject*>(in);
}

int init_wsgi_input(PyObject* module) {
    PyObject* io = PyImport_ImportModule("io");
    if (io == nullptr) {
        return -1;
    }
    unsupported = PyObject_GetAttrString(io, "UnsupportedOperation");
    Py_DECREF(io);
    if (unsupported == nullptr) {
        return -1;
    }
    return ready_native_type(input_type, module, "WSGIInput") ? 0 : -1;
}

} // namespace ringbolt::py
