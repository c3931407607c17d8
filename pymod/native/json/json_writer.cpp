// ringbolt's JSON writer: Python objects straight to JSON text (no json module), with
// json.dumps semantics (ensure_ascii=False, compact separators, allow_nan=False) plus
// datetime/date/time, UUID, Enum, Decimal and dataclasses, and an optional `default`.
// The walk is here; the output and the string/number encoding are json_writer_encode.*,
// the standard library types json_writer_stdlib.*.
#include "pymod/native/json/json_py.hpp"
#include "pymod/native/json/json_writer_stdlib.hpp"

#include <new>
#include <string_view>

namespace ringbolt::py {

namespace {

using namespace json_detail;

constexpr int max_depth = 512;
constexpr int max_default_nesting = 64;

/// The kinds of a write plan's nodes (ringbolt/typed/model_plan.py has the same numbers).
enum class plan_kind : long {
    any = 0,
    str = 1,
    integer = 2,
    number = 3,
    boolean = 4,
    none = 5,
    nullable = 6,
    list = 7,
    dict = 8,
    enumeration = 9,
    model = 10
};

PyObject* g_plan_value_name = nullptr; ///< "_value_", interned at the first planned write

// A plan node's kind, a small int, read without a call (-1: not one of 0..1023).
long plan_kind_of(PyObject* o) noexcept {
#if PY_VERSION_HEX >= 0x030C0000
    auto* l = reinterpret_cast<PyLongObject*>(o);
    return PyUnstable_Long_IsCompact(l) && PyUnstable_Long_CompactValue(l) >= 0 ? PyUnstable_Long_CompactValue(l) : -1;
#else
    Py_ssize_t n = Py_SIZE(o);
    return n == 0 ? 0 : n == 1 ? static_cast<long>(reinterpret_cast<PyLongObject*>(o)->ob_digit[0]) : -1;
#endif
}

class json_writer {
  public:
    json_writer(std::string& out, PyObject* default_fn, bool scratch = false, bool strict = false)
        : _out(out, scratch), _default(default_fn), _strict(strict) {}
    size_t written() const noexcept { return _out.written(); }
    json_detail::json_sink& sink() noexcept { return _out; }

    bool value(PyObject* obj, int depth) { return item(obj, depth); }
    /// After planned() failed: because a value was not of the plan's types (no exception).
    bool unplanned_value() const noexcept { return _unplanned; }

    /// `obj` written as a pydantic type's serializer writes it, following `node`, the plan
    /// of that type (ringbolt/typed/model_plan.py builds it; its kinds are plan_kind): a
    /// tuple `(kind, a, b)`. Every value is checked to be exactly what the plan declares
    /// (a model's own class, a str for str, ...), for which pydantic's writer has one
    /// spelling; at anything else it stops, with `_unplanned` set and no exception
    /// (json_dumps then returns None), and the caller hands the value to pydantic.
    bool planned(PyObject* obj, PyObject* node, int depth) {
        if (!PyTuple_CheckExact(node) || PyTuple_GET_SIZE(node) != 3 || !PyLong_CheckExact(PyTuple_GET_ITEM(node, 0)))
            [[unlikely]] {
            PyErr_SetString(PyExc_TypeError, "a write plan's node is a tuple (kind, a, b)");
            return false;
        }
        long kind = plan_kind_of(PyTuple_GET_ITEM(node, 0));
        PyTypeObject* t = Py_TYPE(obj);
        switch (static_cast<plan_kind>(kind)) {
        case plan_kind::any:
            return item(obj, depth); // (strict: JSON's own types, spelt as pydantic does)
        case plan_kind::str:
            return t == &PyUnicode_Type ? write_str(obj, _out, true) : unplanned();
        case plan_kind::integer:
            return t == &PyLong_Type ? write_int(obj, _out) : unplanned();
        case plan_kind::number:
            return t == &PyFloat_Type ? write_float(obj, _out, true) : unplanned();
        case plan_kind::boolean:
            if (obj != Py_True && obj != Py_False) {
                return unplanned();
            }
            obj == Py_True ? _out.append("true", 4) : _out.append("false", 5);
            return true;
        case plan_kind::none:
            if (obj != Py_None) {
                return unplanned();
            }
            _out.append("null", 4);
            return true;
        case plan_kind::nullable:
            if (obj == Py_None) {
                _out.append("null", 4);
                return true;
            }
            return planned(obj, PyTuple_GET_ITEM(node, 1), depth);
        case plan_kind::list:
            return t == &PyList_Type ? planned_list(obj, PyTuple_GET_ITEM(node, 1), depth) : unplanned();
        case plan_kind::dict:
            return t == &PyDict_Type ? planned_dict(obj, PyTuple_GET_ITEM(node, 1), depth) : unplanned();
        case plan_kind::enumeration:
            return t == reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(node, 1))
                       ? planned_enum(obj, PyTuple_GET_ITEM(node, 2))
                       : unplanned();
        case plan_kind::model:
            return t == reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(node, 1)) &&
                           PyTuple_CheckExact(PyTuple_GET_ITEM(node, 2))
                       ? planned_model(obj, PyTuple_GET_ITEM(node, 2), depth)
                       : unplanned();
        }
        PyErr_Format(PyExc_ValueError, "unknown plan kind %ld", kind);
        return false;
    }

  private:
    // A value that is not what the plan declares: no exception (the caller's usual case
    // of a dict returned for a model costs no exception object), only the mark.
    bool unplanned() {
        _unplanned = true;
        return false;
    }

    bool planned_list(PyObject* obj, PyObject* node, int depth) {
        if (!enter(depth)) {
            return false;
        }
        size_t start = _out.written();
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(obj); ++i) {
            _out.push_back(',');
            PyObject* member = Py_NewRef(PyList_GET_ITEM(obj, i)); // (held: an Enum's _value_ may run code)
            bool ok = planned(member, node, depth + 1);
            Py_DECREF(member);
            if (!ok) {
                return false;
            }
        }
        return close(start, '[', ']');
    }

    bool planned_dict(PyObject* obj, PyObject* node, int depth) {
        return members(obj, depth, [this, node](PyObject* v, int d) { return planned(v, node, d); });
    }

    // An Enum member as pydantic writes an Enum field: its value, a str or an int here.
    // `members`: the plan's ((member, b'"value"'), ...), found by identity (no attribute
    // lookup, no Enum.__hash__ in Python); a member not in it is read for its value.
    bool planned_enum(PyObject* obj, PyObject* members) {
        if (PyTuple_CheckExact(members)) {
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(members); ++i) {
                PyObject* m = PyTuple_GET_ITEM(members, i);
                if (PyTuple_CheckExact(m) && PyTuple_GET_SIZE(m) == 2 && PyTuple_GET_ITEM(m, 0) == obj &&
                    PyBytes_CheckExact(PyTuple_GET_ITEM(m, 1))) {
                    PyObject* text = PyTuple_GET_ITEM(m, 1);
                    _out.append(PyBytes_AS_STRING(text), static_cast<size_t>(PyBytes_GET_SIZE(text)));
                    return true;
                }
            }
        }
        PyObject* v = PyObject_GetAttr(obj, g_plan_value_name);
        if (v == nullptr) {
            return false;
        }
        bool ok = Py_TYPE(v) == &PyUnicode_Type ? write_str(v, _out, true)
                  : Py_TYPE(v) == &PyLong_Type  ? write_int(v, _out)
                                                : unplanned();
        Py_DECREF(v);
        return ok;
    }

    // A plan's pre-written key (bytes: '"name":'), most under 16 bytes: copied as two
    // words, overlapping, without a memcpy call. The 8 bytes that end at its data's end
    // are readable for any length (the bytes object's header comes before the data).
    void append_key(PyObject* key) {
        const char* s = PyBytes_AS_STRING(key);
        auto n = static_cast<size_t>(PyBytes_GET_SIZE(key));
        if (n > 16) [[unlikely]] {
            _out.append(s, n);
            return;
        }
        char* p = _out.room(16);
        uint64_t tail;
        std::memcpy(&tail, s + n - 8, 8);
        if (n > 8) {
            uint64_t head;
            std::memcpy(&head, s, 8);
            std::memcpy(p, &head, 8);
            std::memcpy(p + n - 8, &tail, 8);
        } else if (n > 0) {
            tail >>= 8 * (8 - n); // little-endian: the key's bytes now at the bottom
            std::memcpy(p, &tail, 8);
        }
        _out.advance(n);
    }

    // A model's fields, in the plan's order (its declared order, pydantic's), from its
    // __dict__: `fields` is a tuple of (name, b'"key":', node). The __dict__ holds them in
    // that order too, as a rule, under the same (interned) name objects: each is taken
    // from the next of its entries when the names are one object, else looked up.
    bool planned_model(PyObject* obj, PyObject* fields, int depth) {
        if (!enter(depth)) {
            return false;
        }
        PyObject* d = PyObject_GenericGetDict(obj, nullptr);
        if (d == nullptr) {
            return false;
        }
        size_t start = _out.written();
        bool ok = true;
        Py_ssize_t pos = 0; // the next entry of d, while d's order is the plan's
        for (Py_ssize_t i = 0; ok && i < PyTuple_GET_SIZE(fields); ++i) {
            PyObject* field = PyTuple_GET_ITEM(fields, i);
            if (!PyTuple_CheckExact(field) || PyTuple_GET_SIZE(field) != 3 ||
                !PyBytes_CheckExact(PyTuple_GET_ITEM(field, 1))) [[unlikely]] {
                PyErr_SetString(PyExc_TypeError, "a write plan's model field is a tuple (name, key bytes, node)");
                ok = false;
                break;
            }
            PyObject* name = PyTuple_GET_ITEM(field, 0);
            PyObject* k = nullptr;
            PyObject* v = nullptr;
            if (pos < 0 || !PyDict_Next(d, &pos, &k, &v) || k != name) {
                pos = -1; // (out of order: looked up from here on)
                v = PyDict_GetItemWithError(d, name);
            }
            if (v == nullptr) {
                ok = PyErr_Occurred() == nullptr && unplanned();
                break;
            }
            PyObject* key = PyTuple_GET_ITEM(field, 1);
            _out.push_back(',');
            append_key(key);
            Py_INCREF(v); // (held while written: d's entry could change under code run meanwhile)
            ok = planned(v, PyTuple_GET_ITEM(field, 2), depth + 1);
            Py_DECREF(v);
        }
        Py_DECREF(d);
        return ok && close(start, '{', '}');
    }

    // One value. The JSON types are written inline, so that a dict's or list's loop
    // writes its scalars without a call (a call per value into one big recursive
    // function cost more in register saves than the writing); containers and
    // everything else are out of line.
    [[gnu::always_inline]] bool item(PyObject* obj, int depth) {
        int r = json_type<true>(obj, depth);
        if (r >= 0) [[likely]] {
            return r != 0;
        }
        return other(obj, depth);
    }

    // The JSON types: 1 written, 0 failed (exception set), -1 not one of them. `exact`:
    // the types themselves, one compare each, and None/True/False (the hot path);
    // otherwise subclasses too (other(), after the standard library types).
    template <bool exact> [[gnu::always_inline]] int json_type(PyObject* obj, int depth) {
        PyTypeObject* t = Py_TYPE(obj);
        if (exact ? t == &PyUnicode_Type : PyUnicode_Check(obj)) {
            return write_str(obj, _out, _strict);
        }
        if (exact ? t == &PyLong_Type : PyLong_Check(obj)) { // bool: True/False, never a subclass
            return write_int(obj, _out);
        }
        if (exact ? t == &PyDict_Type : PyDict_Check(obj)) {
            return dict(obj, depth);
        }
        if (exact ? t == &PyList_Type || t == &PyTuple_Type : PyList_Check(obj) || PyTuple_Check(obj)) {
            return sequence(obj, depth);
        }
        if (exact ? t == &PyFloat_Type : PyFloat_Check(obj)) {
            return write_float(obj, _out, _strict);
        }
        if constexpr (exact) {
            if (obj == Py_None) {
                _out.append("null", 4);
                return 1;
            }
            if (obj == Py_True) {
                _out.append("true", 4);
                return 1;
            }
            if (obj == Py_False) {
                _out.append("false", 5);
                return 1;
            }
        }
        return -1;
    }

    bool enter(int depth) {
        if (depth >= max_depth) [[unlikely]] {
            PyErr_SetString(PyExc_ValueError, "JSON nesting too deep (over 512 levels, or a reference cycle)");
            return false;
        }
        return true;
    }

    // Containers write every member after a ',' and turn the first ',' into the opening
    // bracket at the end: no "is this the first?" test per member.
    bool close(size_t start, char open, char end) {
        if (_out.written() == start) {
            char* p = _out.room(2);
            p[0] = open;
            p[1] = end;
            _out.advance(2);
        } else {
            _out.at(start) = open;
            _out.push_back(end);
        }
        return true;
    }

    [[gnu::noinline]] bool dict(PyObject* obj, int depth) {
        return members(obj, depth, [this](PyObject* v, int d) { return item(v, d); });
    }

    // A dict's members, each value written by write(value, depth) (item(), or a plan's).
    template <class Write> [[gnu::always_inline]] bool members(PyObject* obj, int depth, Write write) {
        if (!enter(depth)) {
            return false;
        }
        size_t start = _out.written();
        Py_ssize_t pos = 0;
        PyObject* key;
        PyObject* val;
        while (PyDict_Next(obj, &pos, &key, &val)) {
            if (Py_TYPE(key) == &PyUnicode_Type && PyUnicode_IS_COMPACT_ASCII(key)) [[likely]] {
                write_ascii_data(_out, ascii_data(key), ascii_length(key), ',', ':');
            } else {
                _out.push_back(',');
                if (!write_key(key)) {
                    return false;
                }
                _out.push_back(':');
            }
            if (!write(val, depth + 1)) {
                return false;
            }
        }
        return close(start, '{', '}');
    }

    [[gnu::noinline]] bool sequence(PyObject* obj, int depth) {
        if (!enter(depth)) {
            return false;
        }
        size_t start = _out.written();
        // Size and items re-read each time: a `default` callable run for a member may
        // change a list (and move its items) while it is written.
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(obj); ++i) {
            _out.push_back(',');
            if (!item(PySequence_Fast_GET_ITEM(obj, i), depth + 1)) {
                return false;
            }
        }
        return close(start, '[', ']');
    }

    bool write_key(PyObject* key) {
        if (_strict && Py_TYPE(key) != &PyUnicode_Type) [[unlikely]] {
            // pydantic spells these its own way (None as "None", a tuple as "1,2")
            PyErr_Format(PyExc_ValueError, "a %.100s key: strict writes str keys only", Py_TYPE(key)->tp_name);
            return false;
        }
        if (PyUnicode_Check(key)) {
            return write_str(key, _out, _strict);
        }
        // json.dumps turns these keys into strings; so do we.
        if (key == Py_True || key == Py_False || key == Py_None) {
            const char* text = key == Py_True ? "\"true\"" : key == Py_False ? "\"false\"" : "\"null\"";
            _out.append(text, std::strlen(text));
            return true;
        }
        if (PyLong_Check(key) || PyFloat_Check(key)) {
            _out.push_back('"');
            bool ok = PyLong_Check(key) ? write_int(key, _out) : write_float(key, _out);
            _out.push_back('"');
            return ok;
        }
        PyErr_Format(PyExc_TypeError, "keys must be str, int, float, bool or None, not %.100s", Py_TYPE(key)->tp_name);
        return false;
    }

    bool dataclass(PyObject* obj, PyObject* names, int depth) {
        if (!enter(depth)) {
            return false;
        }
        _out.push_back('{');
        Py_ssize_t n = PyTuple_GET_SIZE(names);
        for (Py_ssize_t i = 0; i < n; ++i) {
            if (i != 0) {
                _out.push_back(',');
            }
            PyObject* name = PyTuple_GET_ITEM(names, i);
            if (!write_str(name, _out)) {
                return false;
            }
            _out.push_back(':');
            PyObject* field = PyObject_GetAttr(obj, name);
            bool ok = field != nullptr && value(field, depth + 1);
            Py_XDECREF(field);
            if (!ok) {
                return false;
            }
        }
        _out.push_back('}');
        return true;
    }

    // Everything that is not exactly a JSON type: the standard library types the
    // writer knows, subclasses of the JSON types, dataclasses, then `default`.
    [[gnu::noinline]] bool other(PyObject* obj, int depth) {
        if (_strict) [[unlikely]] {
            return by_default(obj, depth); // json_dumps(strict=True): only JSON's own types are written here
        }
        if (std::string_view raw; raw_json_view(obj, raw)) { // JSON text already (checked when made)
            _out.append(raw.data(), raw.size());
            return true;
        }
        if (!load_stdlib_types()) {
            return false;
        }
        PyTypeObject* t = Py_TYPE(obj);
        if (t == g_std.datetime) {
            return write_datetime(obj, _out);
        }
        if (t == g_std.date) {
            return write_date(obj, _out);
        }
        if (t == g_std.time) {
            return write_time(obj, _out);
        }
        if (PyType_IsSubtype(t, g_std.uuid)) {
            return write_uuid(obj, _out);
        }
        if (PyType_IsSubtype(t, g_std.enum_base)) {
            // An Enum member is its value (IntEnum, StrEnum and mixins included).
            if (!enter(depth)) {
                return false;
            }
            PyObject* v = PyObject_GetAttr(obj, g_std.name_value);
            bool ok = v != nullptr && value(v, depth + 1);
            Py_XDECREF(v);
            return ok;
        }
        if (int r = json_type<false>(obj, depth); r >= 0) { // subclasses of the JSON types
            return r != 0;
        }
        if (PyObject_TypeCheck(obj, g_std.decimal)) {
            return write_decimal(obj, _out);
        }
        // Subclasses of date and time format themselves: their own isoformat().
        if (PyObject_TypeCheck(obj, g_std.date) || PyObject_TypeCheck(obj, g_std.time)) {
            PyObject* s = PyObject_CallMethodNoArgs(obj, g_std.name_isoformat);
            bool ok =
                s != nullptr &&
                (PyUnicode_Check(s) || (PyErr_Format(PyExc_TypeError, "%.100s.isoformat() returned %.100s, not str",
                                                     t->tp_name, Py_TYPE(s)->tp_name),
                                        false)) &&
                write_str(s, _out);
            Py_XDECREF(s);
            return ok;
        }
        if (!PyType_Check(obj)) {
            PyObject* names = dataclass_fields(t);
            if (names == nullptr) {
                return false;
            }
            bool is_dataclass = names != Py_None;
            bool ok = is_dataclass && dataclass(obj, names, depth);
            Py_DECREF(names);
            if (is_dataclass) {
                return ok;
            }
        }
        return by_default(obj, depth);
    }

    // `default` called for `obj` and its result written, or a TypeError naming its type.
    bool by_default(PyObject* obj, int depth) {
        PyTypeObject* t = Py_TYPE(obj);
        if (_default != nullptr) {
            if (!enter(depth)) {
                return false;
            }
            if (_default_nesting >= max_default_nesting) {
                PyErr_Format(PyExc_TypeError,
                             "Object of type %.100s is not JSON serializable (the default function returned values "
                             "needing it again %d times)",
                             t->tp_name, max_default_nesting);
                return false;
            }
            PyObject* v = PyObject_CallOneArg(_default, obj);
            if (v == nullptr) {
                return false;
            }
            ++_default_nesting;
            bool ok = value(v, depth + 1);
            --_default_nesting;
            Py_DECREF(v);
            return ok;
        }
        PyErr_Format(_strict ? PyExc_ValueError : PyExc_TypeError, "Object of type %.100s is not JSON serializable%s",
                     t->tp_name, _strict ? " (strict: JSON's own types only)" : "");
        return false;
    }

    json_sink _out;
    PyObject* _default;
    bool _strict; ///< only the exact JSON types (dict, list, str, int, float, bool, None) are written as such
    int _default_nesting = 0;
    bool _unplanned = false; ///< planned(): a value was not of the plan's types (no exception set)
};

thread_local PyObject* tl_json_default = nullptr;

} // namespace

bool write_json(PyObject* obj, std::string& out) {
    return json_writer(out, tl_json_default).value(obj, 0);
}

bool write_json(PyObject* obj, std::string& out, PyObject* default_fn) {
    return json_writer(out, default_fn).value(obj, 0);
}

json_default_scope::json_default_scope(PyObject* default_fn) noexcept : _previous(tl_json_default) {
    tl_json_default = default_fn;
}

json_default_scope::~json_default_scope() {
    tl_json_default = _previous;
}

PyObject* json_dumps(PyObject* /*module*/, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* obj = nargs >= 1 ? args[0] : nullptr;
    PyObject* default_fn = nargs >= 2 ? args[1] : nullptr;
    bool strict = false;
    PyObject* plan = nullptr;
    Py_ssize_t nkw = kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 2 || nargs < 1) [[unlikely]] {
        if (nargs == 0 && nkw == 0) {
            PyErr_SetString(PyExc_TypeError, "json_dumps() missing required argument 'obj'");
            return nullptr;
        }
    }
    for (Py_ssize_t i = 0; i < nkw; ++i) {
        PyObject* name = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(name, "default") == 0 && default_fn == nullptr) {
            default_fn = args[nargs + i];
        } else if (PyUnicode_CompareWithASCIIString(name, "obj") == 0 && obj == nullptr) {
            obj = args[nargs + i];
        } else if (PyUnicode_CompareWithASCIIString(name, "plan") == 0) {
            plan = args[nargs + i];
        } else if (PyUnicode_CompareWithASCIIString(name, "strict") == 0) {
            int on = PyObject_IsTrue(args[nargs + i]);
            if (on < 0) {
                return nullptr;
            }
            strict = on == 1;
        } else {
            PyErr_Format(PyExc_TypeError, "json_dumps() got an unexpected keyword argument %R", name);
            return nullptr;
        }
    }
    if (obj == nullptr || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "json_dumps(obj, default=None) takes one object");
        return nullptr;
    }
    if (default_fn == Py_None) {
        default_fn = nullptr;
    }
    if (plan == Py_None) {
        plan = nullptr;
    }
    if (plan != nullptr) {
        if (!PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) != 3) {
            PyErr_SetString(PyExc_TypeError, "plan must be a write plan (ringbolt.typed.model_plan)");
            return nullptr;
        }
        if (g_plan_value_name == nullptr && (g_plan_value_name = PyUnicode_InternFromString("_value_")) == nullptr) {
            return nullptr;
        }
        strict = true; // a plan's Any is written as pydantic writes it
    }
    if (default_fn != nullptr && !PyCallable_Check(default_fn)) {
        PyErr_Format(PyExc_TypeError, "default must be callable, not %.100s", Py_TYPE(default_fn)->tp_name);
        return nullptr;
    }
    // One buffer per thread, reused (a default that calls json_dumps gets its own), for
    // the first spill_at bytes: a larger document moves into the bytes object returned
    // and is written on there (no copy of it after; its first size: this thread's last
    // large document's, so one of about the same size needs no realloc).
    constexpr size_t spill_at = 64 * 1024;
    thread_local std::string buffer;
    thread_local bool in_use = false;
    thread_local size_t last_large = 0;
    std::string local;
    std::string& out = in_use ? local : buffer;
    bool owner = !in_use;
    in_use = true;
    PyObject* result = nullptr;
    try {
        // (a plan's values are pydantic's to write when not its own: never an App's json_default)
        json_writer writer(out,
                           default_fn != nullptr ? default_fn
                           : plan != nullptr     ? nullptr
                                                 : tl_json_default,
                           true, strict);
        writer.sink().spill_into_bytes(spill_at, last_large + last_large / 16 + 4096);
        if (plan != nullptr ? writer.planned(obj, plan, 0) : writer.value(obj, 0)) {
            if (writer.sink().spilled()) {
                last_large = writer.written();
                result = writer.sink().take_bytes();
            } else {
                result = PyBytes_FromStringAndSize(out.data(), static_cast<Py_ssize_t>(writer.written()));
            }
        } else if (writer.unplanned_value() && !PyErr_Occurred()) {
            result = Py_NewRef(Py_None); // not of the plan's types: pydantic's to write
        }
    } catch (const std::bad_alloc&) {
        Py_CLEAR(result);
        PyErr_NoMemory();
    }
    if (owner) {
        in_use = false;
    }
    return result;
}

} // namespace ringbolt::py
