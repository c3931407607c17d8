// req.query's object (ringbolt.QueryParams, a dict subclass) filled from C++: split from
// request_object.cpp, which asks for it on the first `req.query`.
#include "pymod/native/bridge/request_object.hpp"

#include "http/query.hpp"
#include "pymod/native/bridge/app_bridge.hpp"
#include "pymod/native/bridge/kept_list.hpp"

#include <structmember.h>

#include <cstdint>

namespace ringbolt::py {

namespace {

#ifndef Py_GIL_DISABLED
// Recent short ASCII names and values as str objects, kept for the next queries: an app's
// requests repeat their names (and often their values: page=1, a=13), and a hit costs a
// compare instead of a new str, its deallocation and, for a name, its hash (a str keeps
// the hash it computed once). The text, at most 16 bytes, is read once into two words
// (zero-filled) that pick the slot and are compared with the slot's; a miss replaces the
// slot's object. Guarded by the GIL, as the Request free list is; a free-threaded build
// makes a str each time.
constexpr size_t text_cache_longest = 16;
constexpr unsigned text_cache_bits = 6; // 64 slots
struct text_entry {
    uint64_t lo, hi;
    size_t size;
    PyObject* str; // a strong reference, or null
};
text_entry text_cache[size_t{1} << text_cache_bits];

// A miss of the recent strs: the str of `s` (ASCII, 1 to text_cache_longest bytes, read
// into `lo` and `hi`) made now and kept in `e`. Out of line, as the texts that are not
// short ASCII are: the hit below, inlined where a name or value is read, makes no call.
[[gnu::noinline]] PyObject* short_ascii_miss(std::string_view s, text_entry& e, uint64_t lo, uint64_t hi) {
    PyObject* made = ascii_str(s);
    if (made != nullptr) {
        Py_XSETREF(e.str, Py_NewRef(made));
        e.lo = lo;
        e.hi = hi;
        e.size = s.size();
    }
    return made;
}
#endif

// A query's name or value as str, when it is not a short ASCII text: ASCII copied into a
// str, no UTF-8 decoder; none is the interpreter's shared empty str; anything else decoded
// as UTF-8 with surrogate escapes (decode_text), as a path is.
[[gnu::noinline]] PyObject* query_text_other(std::string_view s) {
    if (!s.empty() && is_ascii(s)) {
        return ascii_str(s);
    }
    return decode_text(s);
}

// A query's name or value as str: ASCII (the usual query: names, numbers, words) copied
// into a str, a short one (1 to 16 bytes) taken from the recent ones; the rest as
// query_text_other says. The text is read once into two zero-filled words (in registers)
// that pick the slot and are compared with the slot's; a miss replaces the slot's object.
[[gnu::always_inline]] inline PyObject* query_text(std::string_view s) {
#ifndef Py_GIL_DISABLED
    const size_t n = s.size();
    if (n - 1 < text_cache_longest) [[likely]] { // 1 to 16 bytes
        const auto* b = reinterpret_cast<const unsigned char*>(s.data());
        const size_t low = n < 8 ? n : 8;
        uint64_t lo = 0;
        uint64_t hi = 0;
        for (size_t i = 0; i < low; ++i) {
            lo |= uint64_t{b[i]} << (i * 8);
        }
        for (size_t i = 8; i < n; ++i) {
            hi |= uint64_t{b[i]} << ((i - 8) * 8);
        }
        constexpr uint64_t highs = 0x8080808080808080ull;
        if (((lo | hi) & highs) == 0) [[likely]] {
            const uint64_t h = (lo ^ (hi * 0xc2b2ae3d27d4eb4full) ^ n) * 0x9e3779b97f4a7c15ull;
            text_entry& e = text_cache[h >> (64 - text_cache_bits)];
            if (e.lo == lo && e.hi == hi && e.size == n && e.str != nullptr) [[likely]] {
                return Py_NewRef(e.str);
            }
            return short_ascii_miss(s, e, lo, hi);
        }
    }
#endif
    return query_text_other(s);
}

// QueryParams of finished requests that nobody kept, emptied (PyDict_Clear, `_items` slot
// unset: as tp_new leaves one), for the next requests' queries (kept_list.hpp): no
// allocation, GC accounting or subtype deallocation per request. Live objects, still
// tracked by the GC (an empty dict and an unset slot to visit): the list holds their one
// reference, dropped when it is released.
void drop_query(PyObject* q) noexcept {
    Py_DECREF(q);
}
kept_list<PyObject, 16, drop_query> query_free;

PyObject*& items_slot(const python_types& types, PyObject* q) noexcept {
    return *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(q) + types.query_items_offset);
}

// Built in place: a QueryParams (a dict subclass) filled with each name's first value, its
// `_items` slot the (name, value) pairs only when a name repeats (None otherwise: the
// dict's items are the pairs). No Python __init__, no list of tuples for the usual query.
PyObject* query_in_place(const python_types& types, std::string_view query) {
    auto* cls = reinterpret_cast<PyTypeObject*>(types.query_params);
    PyObject* q = query_free.take();
    if (q != nullptr && Py_TYPE(q) != cls) [[unlikely]] {
        query_free.give(q); // another app's class: left for its queries (it was just taken: room)
        q = nullptr;
    }
    if (q == nullptr) {
        PyObject* no_args = PyTuple_New(0);
        q = no_args != nullptr ? cls->tp_new(cls, no_args, nullptr) : nullptr;
        Py_XDECREF(no_args);
        if (q == nullptr) {
            return nullptr;
        }
    }
    PyObject* pairs = nullptr; // made at the first repeated name
    Py_ssize_t seen = 0;
    bool failed = false;
    http::for_each_query_param(query, [&](std::string_view k, std::string_view v) {
        if (failed) {
            return;
        }
        PyObject* pk = query_text(k);
        PyObject* pv = pk != nullptr ? query_text(v) : nullptr;
        if (pv == nullptr || PyDict_SetDefault(q, pk, pv) == nullptr) {
            failed = true;
        } else if (pairs == nullptr && PyDict_GET_SIZE(q) == seen) { // a repeat: keep every pair from now on
            pairs = PyList_New(0);
            PyObject *ik, *iv;
            Py_ssize_t pos = 0;
            while (pairs != nullptr && PyDict_Next(q, &pos, &ik, &iv)) {
                PyObject* t = PyTuple_Pack(2, ik, iv);
                if (t == nullptr || PyList_Append(pairs, t) < 0) {
                    Py_CLEAR(pairs);
                }
                Py_XDECREF(t);
            }
            failed = pairs == nullptr;
        }
        if (!failed && pairs != nullptr) {
            PyObject* t = PyTuple_Pack(2, pk, pv);
            failed = t == nullptr || PyList_Append(pairs, t) < 0;
            Py_XDECREF(t);
        }
        seen = PyDict_GET_SIZE(q);
        Py_XDECREF(pk);
        Py_XDECREF(pv);
    });
    if (failed) {
        Py_XDECREF(pairs);
        Py_DECREF(q);
        return nullptr;
    }
    // The slot is empty in a new object (and in a kept one): it takes the list, or None.
    items_slot(types, q) = pairs != nullptr ? pairs : Py_NewRef(Py_None);
    return q;
}

// A QueryParams without the `_items` slot (a subclass made otherwise): its __init__ takes
// the list of pairs.
PyObject* query_from_pairs(const python_types& types, std::string_view query) {
    PyObject* list = PyList_New(0);
    if (list == nullptr) {
        return nullptr;
    }
    bool failed = false;
    http::for_each_query_param(query, [&](std::string_view k, std::string_view v) {
        if (failed) {
            return;
        }
        PyObject* pk = query_text(k);
        PyObject* pv = query_text(v);
        PyObject* t = (pk != nullptr && pv != nullptr) ? PyTuple_Pack(2, pk, pv) : nullptr;
        Py_XDECREF(pk);
        Py_XDECREF(pv);
        if (t == nullptr || PyList_Append(list, t) < 0) {
            failed = true;
        }
        Py_XDECREF(t);
    });
    if (failed) {
        Py_DECREF(list);
        return nullptr;
    }
    PyObject* obj = PyObject_CallOneArg(types.query_params, list);
    Py_DECREF(list);
    return obj;
}

} // namespace

PyObject* new_query_params(const python_types& types, std::string_view query) {
    if (types.query_items_offset >= 0) [[likely]] {
        return query_in_place(types, query);
    }
    return query_from_pairs(types, query);
}

void release_query_params([[maybe_unused]] const python_types& types, PyObject*& query) {
    PyObject* q = query;
    if (q == nullptr) {
        return;
    }
    query = nullptr;
    // Only this reference left (the GIL held: nobody can take another), of the exact class
    // built in place: kept, and emptied. Its values are str, its slot a list of tuples of
    // str or None: clearing runs no Python code.
    if (Py_REFCNT(q) == 1 && types.query_items_offset >= 0 &&
        Py_TYPE(q) == reinterpret_cast<PyTypeObject*>(types.query_params) && query_free.give(q)) [[likely]] {
        PyDict_Clear(q);
        Py_CLEAR(items_slot(types, q));
        return;
    }
    Py_DECREF(q);
}

Py_ssize_t query_items_offset(PyObject* cls) {
    if (!PyType_Check(cls) || !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(cls), &PyDict_Type) ||
        reinterpret_cast<PyTypeObject*>(cls)->tp_new != PyDict_Type.tp_new) {
        return -1;
    }
    PyObject* descr = PyObject_GetAttrString(cls, "_items");
    Py_ssize_t offset = -1;
    if (descr != nullptr && Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDef* m = reinterpret_cast<PyMemberDescrObject*>(descr)->d_member;
        if (m->type == T_OBJECT_EX) {
            offset = m->offset;
        }
    }
    Py_XDECREF(descr);
    PyErr_Clear();
    return offset;
}

} // namespace ringbolt::py
