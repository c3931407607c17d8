// The standard library types the JSON writer knows beyond the JSON types (json_writer_stdlib.cpp):
// datetime/date/time, UUID, Decimal and dataclasses, looked up once; Enum's base type and
// the interned names the walk (json_writer.cpp) uses are here too.
#pragma once

#include "pymod/native/json/json_writer_encode.hpp"

namespace ringbolt::py::json_detail {

// Types from the standard library the writer knows, looked up once (GIL held) when a
// value is first not one of the JSON types.
struct stdlib_types {
    bool loaded = false;
    // datetime's types, from its C API: datetime.h's PyDateTimeAPI is a static of each
    // file that includes it, loaded only in json_writer_stdlib.cpp.
    PyTypeObject* datetime = nullptr;
    PyTypeObject* date = nullptr;
    PyTypeObject* time = nullptr;
    PyTypeObject* uuid = nullptr;
    PyTypeObject* decimal = nullptr;
    PyTypeObject* enum_base = nullptr;
    PyObject* dataclass_field = nullptr; ///< dataclasses._FIELD: a real field (not ClassVar/InitVar)
    PyObject* dataclass_cache = nullptr; ///< type -> tuple of field names (or None: not a dataclass)
    PyObject* name_int = nullptr;
    PyObject* name_value = nullptr;
    PyObject* name_dataclass_fields = nullptr;
    PyObject* name_field_type = nullptr;
    PyObject* name_isoformat = nullptr;
    PyObject* name_utcoffset = nullptr;
};
extern stdlib_types g_std;

/// Look the types up (GIL held); false with a Python exception set.
bool load_stdlib_types_once();
/// The types, looked up at the first call (inline: the walk asks for every value that is
/// not one of the JSON types).
[[gnu::always_inline]] inline bool load_stdlib_types() {
    if (g_std.loaded) [[likely]] {
        return true;
    }
    return load_stdlib_types_once();
}

/// datetime, date and time of exactly those types, as isoformat() writes them (a subclass
/// may format itself: the walk calls its own isoformat()).
bool write_datetime(PyObject* obj, json_sink& out);
bool write_date(PyObject* obj, json_sink& out);
bool write_time(PyObject* obj, json_sink& out);

/// uuid.UUID (a subclass too): the canonical 8-4-4-4-12 lower-case hex string.
bool write_uuid(PyObject* obj, json_sink& out);
/// decimal.Decimal: a JSON number spelled as str(d); NaN and Infinity refused (ValueError).
bool write_decimal(PyObject* obj, json_sink& out);
/// The field names of a dataclass type (a tuple), or None (a new reference; nullptr with
/// an exception set on error).
PyObject* dataclass_fields(PyTypeObject* type);

} // namespace ringbolt::py::json_detail
