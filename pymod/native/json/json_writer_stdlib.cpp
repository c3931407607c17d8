// The standard library types the JSON writer knows beyond the JSON types: datetime, date
// and time (isoformat() without the call), UUID, Decimal and the field names of
// dataclasses (cached per type). The walk that calls them is json_writer.cpp.
#include "pymod/native/json/json_writer_stdlib.hpp"

#include "http/char_classes.hpp"

#include <datetime.h>

namespace ringbolt::py::json_detail {

stdlib_types g_std;

namespace {

PyTypeObject* type_from(const char* module, const char* name) {
    PyObject* mod = PyImport_ImportModule(module);
    PyObject* t = mod != nullptr ? PyObject_GetAttrString(mod, name) : nullptr;
    Py_XDECREF(mod);
    if (t != nullptr && !PyType_Check(t)) {
        Py_DECREF(t);
        PyErr_Format(PyExc_TypeError, "%s.%s is not a type", module, name);
        return nullptr;
    }
    return reinterpret_cast<PyTypeObject*>(t); // kept for the process's life
}

} // namespace

bool load_stdlib_types_once() {
    if (PyDateTimeAPI == nullptr) {
        PyDateTime_IMPORT;
        if (PyDateTimeAPI == nullptr) {
            return false;
        }
    }
    stdlib_types t;
    t.datetime = PyDateTimeAPI->DateTimeType;
    t.date = PyDateTimeAPI->DateType;
    t.time = PyDateTimeAPI->TimeType;
    t.uuid = type_from("uuid", "UUID");
    t.decimal = t.uuid ? type_from("decimal", "Decimal") : nullptr;
    t.enum_base = t.decimal ? type_from("enum", "Enum") : nullptr;
    PyObject* dc = t.enum_base ? PyImport_ImportModule("dataclasses") : nullptr;
    t.dataclass_field = dc ? PyObject_GetAttrString(dc, "_FIELD") : nullptr;
    Py_XDECREF(dc);
    t.dataclass_cache = t.dataclass_field ? PyDict_New() : nullptr;
    if (t.dataclass_cache == nullptr) {
        return false;
    }
    t.name_int = PyUnicode_InternFromString("int");
    t.name_value = PyUnicode_InternFromString("_value_");
    t.name_dataclass_fields = PyUnicode_InternFromString("__dataclass_fields__");
    t.name_field_type = PyUnicode_InternFromString("_field_type");
    t.name_isoformat = PyUnicode_InternFromString("isoformat");
    t.name_utcoffset = PyUnicode_InternFromString("utcoffset");
    t.loaded = true;
    g_std = t;
    return true;
}

namespace {

// ---- datetime: isoformat() ----

// `width` (2, 4 or 6) decimal digits of v, zero-padded, two at a time.
inline void put_digits(char*& p, int v, int width) {
    for (int i = width - 2; i >= 0; i -= 2) {
        std::memcpy(p + i, &two_digits[static_cast<size_t>(v % 100) * 2], 2);
        v /= 100;
    }
    p += width;
}

// A utcoffset() result (timedelta or None) as isoformat writes it: +HH:MM[:SS[.ffffff]].
bool put_offset(char*& p, PyObject* offset) {
    if (offset == Py_None) {
        return true;
    }
    if (!PyDelta_Check(offset)) {
        PyErr_Format(PyExc_TypeError, "tzinfo.utcoffset() returned %.100s, not a timedelta", Py_TYPE(offset)->tp_name);
        return false;
    }
    long long us =
        (static_cast<long long>(PyDateTime_DELTA_GET_DAYS(offset)) * 86400 + PyDateTime_DELTA_GET_SECONDS(offset)) *
            1000000 +
        PyDateTime_DELTA_GET_MICROSECONDS(offset);
    char sign = '+';
    if (us < 0) {
        sign = '-';
        us = -us;
    }
    long long secs = us / 1000000;
    int micro = static_cast<int>(us % 1000000);
    *p++ = sign;
    put_digits(p, static_cast<int>(secs / 3600) % 100, 2); // under 24 h for a valid offset
    *p++ = ':';
    put_digits(p, static_cast<int>((secs / 60) % 60), 2);
    if (secs % 60 != 0 || micro != 0) {
        *p++ = ':';
        put_digits(p, static_cast<int>(secs % 60), 2);
        if (micro != 0) {
            *p++ = '.';
            put_digits(p, micro, 6);
        }
    }
    return true;
}

// The offset of an aware datetime/time: UTC without a call, else tzinfo.utcoffset(arg).
bool put_tz(char*& p, PyObject* tzinfo, PyObject* arg) {
    if (tzinfo == Py_None) {
        return true;
    }
    if (tzinfo == PyDateTime_TimeZone_UTC) {
        std::memcpy(p, "+00:00", 6);
        p += 6;
        return true;
    }
    PyObject* offset = PyObject_CallMethodOneArg(tzinfo, g_std.name_utcoffset, arg);
    if (offset == nullptr) {
        return false;
    }
    bool ok = put_offset(p, offset);
    Py_DECREF(offset);
    return ok;
}

void put_time(char*& p, int h, int m, int s, int us) {
    put_digits(p, h, 2);
    *p++ = ':';
    put_digits(p, m, 2);
    *p++ = ':';
    put_digits(p, s, 2);
    if (us != 0) {
        *p++ = '.';
        put_digits(p, us, 6);
    }
}

void put_date(char*& p, PyObject* obj) {
    put_digits(p, PyDateTime_GET_YEAR(obj), 4);
    *p++ = '-';
    put_digits(p, PyDateTime_GET_MONTH(obj), 2);
    *p++ = '-';
    put_digits(p, PyDateTime_GET_DAY(obj), 2);
}

} // namespace

// datetime, date and time of exactly those types (a subclass may format itself: its own
// isoformat() is called).
bool write_datetime(PyObject* obj, json_sink& out) {
    char buf[64];
    char* p = buf;
    *p++ = '"';
    put_date(p, obj);
    *p++ = 'T';
    put_time(p, PyDateTime_DATE_GET_HOUR(obj), PyDateTime_DATE_GET_MINUTE(obj), PyDateTime_DATE_GET_SECOND(obj),
             PyDateTime_DATE_GET_MICROSECOND(obj));
    if (!put_tz(p, PyDateTime_DATE_GET_TZINFO(obj), obj)) {
        return false;
    }
    *p++ = '"';
    out.append(buf, static_cast<size_t>(p - buf));
    return true;
}

bool write_date(PyObject* obj, json_sink& out) {
    char buf[16];
    char* p = buf;
    *p++ = '"';
    put_date(p, obj);
    *p++ = '"';
    out.append(buf, static_cast<size_t>(p - buf));
    return true;
}

bool write_time(PyObject* obj, json_sink& out) {
    char buf[48];
    char* p = buf;
    *p++ = '"';
    put_time(p, PyDateTime_TIME_GET_HOUR(obj), PyDateTime_TIME_GET_MINUTE(obj), PyDateTime_TIME_GET_SECOND(obj),
             PyDateTime_TIME_GET_MICROSECOND(obj));
    if (!put_tz(p, PyDateTime_TIME_GET_TZINFO(obj), Py_None)) {
        return false;
    }
    *p++ = '"';
    out.append(buf, static_cast<size_t>(p - buf));
    return true;
}

namespace {

bool write_uuid_bytes(const unsigned char* bytes, json_sink& out) {
    using http::chars::hex_digits;
    char buf[38];
    char* p = buf;
    *p++ = '"';
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }
        *p++ = hex_digits[bytes[i] >> 4];
        *p++ = hex_digits[bytes[i] & 15];
    }
    *p++ = '"';
    out.append(buf, sizeof(buf));
    return true;
}

} // namespace

// uuid.UUID: its 128-bit `int`, as the canonical 8-4-4-4-12 lower-case hex string.
bool write_uuid(PyObject* obj, json_sink& out) {
    PyObject* value = PyObject_GetAttr(obj, g_std.name_int);
    if (value == nullptr) {
        return false;
    }
    unsigned char bytes[16];
    int rc;
    if (!PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "UUID.int is not an int");
        rc = -1;
    } else {
#if PY_VERSION_HEX >= 0x030C0000
        // CPython's digits directly (30 bits each, least significant first): the generic
        // byte conversion costs several times more.
        uintptr_t tag = reinterpret_cast<PyLongObject*>(value)->long_value.lv_tag;
        Py_ssize_t ndigits = static_cast<Py_ssize_t>(tag >> 3);
        const digit* d = reinterpret_cast<PyLongObject*>(value)->long_value.ob_digit;
        bool negative = (tag & 3) == 2;
#else
        Py_ssize_t ndigits = Py_SIZE(value);
        const digit* d = reinterpret_cast<PyLongObject*>(value)->ob_digit;
        bool negative = ndigits < 0;
#endif
        // 128 bits: at most five digits, the fifth under 2^8.
        if (!negative && PyLong_SHIFT == 30 && (ndigits < 5 || (ndigits == 5 && d[4] < 256))) [[likely]] {
            unsigned __int128 acc = 0;
            for (Py_ssize_t i = ndigits - 1; i >= 0; --i) {
                acc = (acc << 30) | d[i];
            }
            for (int i = 15; i >= 0; --i) {
                bytes[i] = static_cast<unsigned char>(acc & 0xFF);
                acc >>= 8;
            }
            Py_DECREF(value);
            return write_uuid_bytes(bytes, out);
        }
#if PY_VERSION_HEX >= 0x030D0000
        Py_ssize_t need = PyLong_AsNativeBytes(value, bytes, 16,
                                               Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
                                                   Py_ASNATIVEBYTES_REJECT_NEGATIVE);
        rc = need < 0 ? -1 : 0;
        if (need > 16) {
            PyErr_SetString(PyExc_OverflowError, "UUID.int does not fit in 128 bits");
            rc = -1;
        }
#else
        rc = _PyLong_AsByteArray(reinterpret_cast<PyLongObject*>(value), bytes, 16, 0, 0);
#endif
    }
    Py_DECREF(value);
    if (rc < 0) {
        return false;
    }
    return write_uuid_bytes(bytes, out);
}

// decimal.Decimal: a finite one is a JSON number spelled exactly as str(d) ("1.10",
// "1E+3", "-0"); NaN and Infinity have no JSON form, like float's.
bool write_decimal(PyObject* obj, json_sink& out) {
    PyObject* s = g_std.decimal->tp_str(obj);
    if (s == nullptr) {
        return false;
    }
    Py_ssize_t n;
    const char* text = PyUnicode_AsUTF8AndSize(s, &n);
    bool ok = text != nullptr;
    if (ok) {
        const char* digits = text + (n > 0 && text[0] == '-');
        if (*digits < '0' || *digits > '9') {
            PyErr_Format(PyExc_ValueError, "Out of range Decimal values are not JSON compliant: %R", obj);
            ok = false;
        } else {
            out.append(text, static_cast<size_t>(n));
        }
    }
    Py_DECREF(s);
    return ok;
}

// The field names of a dataclass type (a tuple), or None for a type that is not one (a
// new reference); cached per type (bounded: a program making types without end does not
// grow it forever).
PyObject* dataclass_fields(PyTypeObject* type) {
    PyObject* key = reinterpret_cast<PyObject*>(type);
    PyObject* cached = PyDict_GetItemWithError(g_std.dataclass_cache, key);
    if (cached != nullptr) {
        return Py_NewRef(cached);
    }
    if (PyErr_Occurred()) {
        return nullptr;
    }
    PyObject* result = nullptr;
    PyObject* fields = PyObject_GetAttr(key, g_std.name_dataclass_fields);
    if (fields == nullptr) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return nullptr;
        }
        PyErr_Clear();
        result = Py_NewRef(Py_None);
    } else if (!PyDict_Check(fields)) {
        result = Py_NewRef(Py_None);
    } else {
        result = PyList_New(0);
        Py_ssize_t pos = 0;
        PyObject* name;
        PyObject* field;
        while (result != nullptr && PyDict_Next(fields, &pos, &name, &field)) {
            PyObject* kind = PyObject_GetAttr(field, g_std.name_field_type);
            if (kind == nullptr || !PyUnicode_Check(name) ||
                (kind == g_std.dataclass_field && PyList_Append(result, name) < 0)) {
                if (kind != nullptr && !PyUnicode_Check(name)) {
                    PyErr_SetString(PyExc_TypeError, "a dataclass field name is not a str");
                }
                Py_XDECREF(kind);
                Py_CLEAR(result);
                break;
            }
            Py_DECREF(kind);
        }
        if (result != nullptr) {
            Py_SETREF(result, PyList_AsTuple(result));
        }
    }
    Py_XDECREF(fields);
    if (result == nullptr) {
        return nullptr;
    }
    if (PyDict_GET_SIZE(g_std.dataclass_cache) >= 4096) {
        PyDict_Clear(g_std.dataclass_cache);
    }
    if (PyDict_SetItem(g_std.dataclass_cache, key, result) < 0) {
        Py_CLEAR(result);
    }
    return result;
}

} // namespace ringbolt::py::json_detail
