// ringbolt._native.MultipartParser and parse_urlencoded: request forms parsed natively.
// The multipart state machine (http/multipart) runs with the GIL released; small parts
// stay in memory, file parts above the spool threshold go to a temp file as they arrive
// (never the whole body in one buffer). Errors raise MultipartError(status, message).
#include "pymod/native/py_call.hpp"

#include "http/multipart.hpp"
#include "http/query.hpp"
#include "pymod/native/py_type.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace ringbolt::py {

namespace {

PyObject* g_multipart_error = nullptr; // ringbolt._native.MultipartError(ValueError)

[[noreturn]] void raise_form_error(int status, const std::string& message) {
    PyObject* args = Py_BuildValue("(is#)", status, message.data(), static_cast<Py_ssize_t>(message.size()));
    if (args != nullptr) {
        PyErr_SetObject(g_multipart_error, args);
        Py_DECREF(args);
    }
    throw py_raised{};
}

struct spooled_part {
    std::string name, filename, content_type;
    bool has_filename = false;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string mem; ///< the body while it is small (or a field's whole value)
    int fd = -1;     ///< the temp file once spooled
    std::string path;
    uint64_t size = 0;
};

class form_sink final : public http::multipart_sink {
  public:
    uint64_t max_field_size = 1 << 20;
    uint64_t spool_threshold = 1 << 20;
    std::string spool_dir = "/tmp";
    std::vector<spooled_part> parts;
    int error_status = 0;
    std::string error_message;

    ~form_sink() override { discard(); }

    /// Close and remove every temp file not handed out.
    void discard() noexcept {
        for (auto& p : parts) {
            if (p.fd >= 0) {
                ::close(p.fd);
                ::unlink(p.path.c_str());
                p.fd = -1;
            }
        }
    }

    bool on_part_begin(const http::multipart_part& part) override {
        spooled_part& p = parts.emplace_back();
        p.name = part.name;
        p.filename = part.filename;
        p.has_filename = part.has_filename;
        p.content_type = part.content_type;
        for (auto [n, v] : part.headers) {
            p.headers.emplace_back(n, v);
        }
        return true;
    }

    bool on_part_data(std::string_view d) override {
        spooled_part& p = parts.back();
        p.size += d.size();
        if (!p.has_filename) {
            if (p.size > max_field_size) {
                error_status = 413;
                error_message = "multipart field '" + p.name.substr(0, 100) + "' larger than " +
                                std::to_string(max_field_size) + " bytes (max_field_size)";
                return false;
            }
            p.mem.append(d);
            return true;
        }
        if (p.fd < 0 && p.size <= spool_threshold) {
            p.mem.append(d);
            return true;
        }
        if (p.fd < 0) {
            std::string tmpl = spool_dir + "/ringbolt-upload-XXXXXX";
            int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
            if (fd < 0) {
                return spool_failed("create a temp file in " + spool_dir);
            }
            p.fd = fd;
            p.path = std::move(tmpl);
            if (!write_all(p.fd, p.mem)) {
                return spool_failed("write " + p.path);
            }
            p.mem.clear();
            p.mem.shrink_to_fit();
        }
        return write_all(p.fd, d) || spool_failed("write " + p.path);
    }

    bool on_part_end() override { return true; }

  private:
    static bool write_all(int fd, std::string_view d) noexcept {
        while (!d.empty()) {
            ssize_t n = ::write(fd, d.data(), d.size());
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return false;
            }
            d.remove_prefix(static_cast<size_t>(n));
        }
        return true;
    }

    bool spool_failed(const std::string& what) {
        error_status = 500;
        error_message = "could not " + what + ": " + std::strerror(errno);
        return false;
    }
};

class multipart_reader {
  public:
    multipart_reader(const std::string& boundary, size_t max_parts, uint64_t max_part_size, uint64_t max_field_size,
                     size_t max_name_length, size_t max_header_bytes, uint64_t spool_threshold, std::string spool_dir)
        : _parser(boundary, {.max_parts = max_parts,
                             .max_part_size = max_part_size,
                             .max_header_bytes = max_header_bytes,
                             .max_name_length = max_name_length}) {
        _sink.max_field_size = max_field_size;
        _sink.spool_threshold = spool_threshold;
        _sink.spool_dir = std::move(spool_dir);
        if (!http::valid_boundary(boundary)) {
            raise_form_error(400, http::multipart_message(http::multipart_error::bad_boundary, _parser.limits()));
        }
    }

    void feed(PyObject* data) {
        if (_done) {
            return; // the epilogue, or after an error that was raised already
        }
        char* p = nullptr;
        Py_ssize_t n = 0;
        if (PyBytes_AsStringAndSize(data, &p, &n) < 0) {
            throw py_raised{};
        }
        http::multipart_status_code st;
        {
            gil_released nogil; // the bytes object is immutable and referenced by the caller
            st = _parser.feed(std::string_view(p, static_cast<size_t>(n)), _sink);
        }
        check(st);
    }

    /// The body ended: the parts as tuples (name, filename or None, content_type or None,
    /// headers, value bytes or None, fd, path or None, size). Temp files pass to the caller.
    PyObject* finish() {
        if (!_done) {
            check(_parser.finish());
        }
        ref out(checked(PyList_New(0)));
        for (auto& p : _sink.parts) {
            ref name(utf8(p.name));
            ref filename(p.has_filename ? utf8(p.filename) : Py_NewRef(Py_None));
            ref ctype(p.content_type.empty() ? Py_NewRef(Py_None) : latin1(p.content_type));
            ref headers(checked(PyList_New(0)));
            for (auto& [k, v] : p.headers) {
                ref key(latin1(k));
                ref value(latin1(v));
                ref pair(checked(PyTuple_Pack(2, key.get(), value.get())));
                if (PyList_Append(headers.get(), pair.get()) < 0) {
                    throw py_raised{};
                }
            }
            ref value(p.fd < 0 ? checked(PyBytes_FromStringAndSize(p.mem.data(), static_cast<Py_ssize_t>(p.mem.size())))
                               : Py_NewRef(Py_None));
            ref path(p.fd < 0 ? Py_NewRef(Py_None) : str_of(p.path));
            ref fd(checked(PyLong_FromLong(p.fd)));
            ref size(checked(PyLong_FromUnsignedLongLong(p.size)));
            ref part(checked(PyTuple_Pack(8, name.get(), filename.get(), ctype.get(), headers.get(), value.get(),
                                          fd.get(), path.get(), size.get())));
            if (PyList_Append(out.get(), part.get()) < 0) {
                throw py_raised{};
            }
            p.fd = -1; // the caller owns it now
        }
        _sink.parts.clear();
        return out.release();
    }

    void close() { _sink.discard(); }

  private:
    static PyObject* latin1(const std::string& s) {
        return checked(PyUnicode_DecodeLatin1(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr));
    }
    static PyObject* utf8(const std::string& s) {
        return checked(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape"));
    }

    void check(http::multipart_status_code st) {
        if (st == http::multipart_status_code::complete) {
            _done = true;
        } else if (st == http::multipart_status_code::error) {
            _done = true;
            _sink.discard();
            if (_parser.error() == http::multipart_error::aborted && _sink.error_status != 0) {
                raise_form_error(_sink.error_status, _sink.error_message);
            }
            raise_form_error(http::multipart_status(_parser.error()),
                             http::multipart_message(_parser.error(), _parser.limits()));
        }
    }

    http::multipart_parser _parser;
    form_sink _sink;
    bool _done = false;
};

// application/x-www-form-urlencoded (WHATWG URL §5.1): '&'-separated, '+' is a space; a
// malformed %-escape is a 400 here (a form is data the app acts on, not a lenient query).
PyObject* parse_urlencoded(std::string_view body, size_t max_fields, size_t max_name_length) {
    ref out(checked(PyList_New(0)));
    size_t count = 0;
    std::string name;
    std::string value;
    while (!body.empty()) {
        size_t amp = body.find('&');
        std::string_view pair = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        if (++count > max_fields) {
            raise_form_error(413, "form with more than " + std::to_string(max_fields) + " fields (max_fields)");
        }
        size_t eq = pair.find('=');
        std::string_view raw_name = pair.substr(0, eq);
        std::string_view raw_value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        name.clear();
        value.clear();
        if (!http::percent_decode(raw_name, name, true) || !http::percent_decode(raw_value, value, true)) {
            raise_form_error(400, "invalid percent-encoding in form field " + std::to_string(count) + " ('" +
                                      std::string(raw_name.substr(0, 100)) + "')");
        }
        if (name.size() > max_name_length) {
            raise_form_error(400, "form field name longer than " + std::to_string(max_name_length) +
                                      " bytes (max_field_name_length)");
        }
        ref k(PyUnicode_DecodeUTF8(name.data(), static_cast<Py_ssize_t>(name.size()), "strict"));
        ref v(k ? PyUnicode_DecodeUTF8(value.data(), static_cast<Py_ssize_t>(value.size()), "strict") : nullptr);
        if (!v) {
            PyErr_Clear();
            raise_form_error(400, "form field " + std::to_string(count) + " is not valid UTF-8");
        }
        ref item(checked(PyTuple_Pack(2, k.get(), v.get())));
        if (PyList_Append(out.get(), item.get()) < 0) {
            throw py_raised{};
        }
    }
    return out.release();
}

/// ringbolt._native.MultipartParser: a multipart_reader owned by a Python object.
struct parser_object {
    PyObject_HEAD multipart_reader* reader;
};

int parser_init(PyObject* self, PyObject* args, PyObject* kwargs) {
    static const char* const names[] = {"boundary",        "max_parts",        "max_part_size",   "max_field_size",
                                        "max_name_length", "max_header_bytes", "spool_threshold", "spool_dir"};
    PyObject* given = guarded([&]() -> PyObject* {
        PyObject* a[8];
        if (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0) {
            type_error("MultipartParser() takes its 8 arguments by position");
        }
        if (PyTuple_GET_SIZE(args) != 8) {
            type_error("MultipartParser() takes 8 arguments (" + std::to_string(PyTuple_GET_SIZE(args)) + " given)");
        }
        for (size_t i = 0; i < 8; ++i) {
            a[i] = PyTuple_GET_ITEM(args, static_cast<Py_ssize_t>(i));
        }
        auto reader = std::make_unique<multipart_reader>(
            arg_as<std::string>(a[0], names[0]), arg_as<size_t>(a[1], names[1]), arg_as<uint64_t>(a[2], names[2]),
            arg_as<uint64_t>(a[3], names[3]), arg_as<size_t>(a[4], names[4]), arg_as<size_t>(a[5], names[5]),
            arg_as<uint64_t>(a[6], names[6]), arg_as<std::string>(a[7], names[7]));
        parser_object* p = reinterpret_cast<parser_object*>(self);
        delete p->reader;
        p->reader = reader.release();
        Py_RETURN_NONE;
    });
    Py_XDECREF(given);
    return given != nullptr ? 0 : -1;
}

void parser_dealloc(PyObject* self) {
    delete reinterpret_cast<parser_object*>(self)->reader; // its temp files not handed out go with it
    Py_TYPE(self)->tp_free(self);
}

multipart_reader& reader_of(PyObject* self) {
    multipart_reader* r = reinterpret_cast<parser_object*>(self)->reader;
    if (r == nullptr) {
        raise_as(PyExc_RuntimeError, "MultipartParser.__init__ was not called");
    }
    return *r;
}

PyObject* parser_feed(PyObject* self, PyObject* data) {
    return guarded([&]() -> PyObject* {
        if (!PyBytes_Check(data)) {
            type_error("MultipartParser.feed(data) takes bytes");
        }
        reader_of(self).feed(data);
        Py_RETURN_NONE;
    });
}

PyObject* parser_finish(PyObject* self, PyObject*) {
    return guarded([&] { return reader_of(self).finish(); });
}

PyObject* parser_close(PyObject* self, PyObject*) {
    return guarded([&]() -> PyObject* {
        reader_of(self).close();
        Py_RETURN_NONE;
    });
}

PyMethodDef parser_methods[] = {
    method("feed", parser_feed, METH_O, "Parse the next piece of the body (GIL released)."),
    method("finish", parser_finish, METH_NOARGS, "The body ended: the parts (temp files pass to the caller)."),
    method("close", parser_close, METH_NOARGS, "Remove temp files not handed out yet."),
    methods_end,
};

PyTypeObject parser_type =
    class_type("ringbolt._native.MultipartParser", sizeof(parser_object),
               "MultipartParser(boundary, max_parts, max_part_size, max_field_size, max_name_length, "
               "max_header_bytes, spool_threshold, spool_dir): a multipart/form-data body parsed as it arrives.",
               parser_dealloc, parser_init, parser_methods);

PyObject* parse_urlencoded_py(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    return guarded([&] {
        static const char* const names[] = {"data", "max_fields", "max_name_length"};
        PyObject* a[3];
        bind_args("parse_urlencoded", names, 3, args, nargs, kwnames, a);
        if (!PyBytes_Check(a[0])) {
            type_error("argument 'data' has the wrong type: " + std::string(Py_TYPE(a[0])->tp_name));
        }
        std::string_view body(PyBytes_AS_STRING(a[0]), static_cast<size_t>(PyBytes_GET_SIZE(a[0])));
        return parse_urlencoded(body, arg_as<size_t>(a[1], names[1]), arg_as<size_t>(a[2], names[2]));
    });
}

PyObject* multipart_boundary(PyObject*, PyObject* content_type) {
    return guarded([&] { return str_of(http::boundary_of(arg_as<std::string>(content_type, "content_type"))); });
}

PyMethodDef form_defs[] = {
    method("parse_urlencoded", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&parse_urlencoded_py)),
           METH_FASTCALL | METH_KEYWORDS,
           "parse_urlencoded(data, max_fields, max_name_length): application/x-www-form-urlencoded pairs; "
           "MultipartError(400) on a bad %-escape or invalid UTF-8."),
    method("multipart_boundary", multipart_boundary, METH_O,
           "multipart_boundary(content_type): the boundary parameter of a Content-Type value ('' when absent)."),
    methods_end,
};

} // namespace

int init_forms(PyObject* module) {
    g_multipart_error = PyErr_NewExceptionWithDoc(
        "ringbolt._native.MultipartError",
        "A form body the server refuses: args are (HTTP status, message naming the cause).", PyExc_ValueError, nullptr);
    if (g_multipart_error == nullptr || PyModule_AddObjectRef(module, "MultipartError", g_multipart_error) < 0 ||
        !ready_native_type(parser_type, module, "MultipartParser")) {
        return -1;
    }
    return PyModule_AddFunctions(module, form_defs);
}

} // namespace ringbolt::py
