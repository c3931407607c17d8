// ringbolt._native.MultipartParser and parse_urlencoded: request forms parsed natively.
// The multipart state machine (http/multipart) runs with the GIL released; small parts
// stay in memory, file parts above the spool threshold go to a temp file as they arrive
// (never the whole body in one buffer). Errors raise MultipartError(status, message).
#define PY_SSIZE_T_CLEAN
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "http/multipart.hpp"
#include "http/query.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace pb = pybind11;

namespace ringbolt::py {

namespace {

PyObject* g_multipart_error = nullptr; // ringbolt._native.MultipartError(ValueError)

[[noreturn]] void raise_form_error(int status, const std::string& message) {
    PyErr_SetObject(g_multipart_error, pb::make_tuple(status, message).ptr());
    throw pb::error_already_set();
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

    void feed(const pb::bytes& data) {
        if (_done) {
            return; // the epilogue, or after an error that was raised already
        }
        char* p = nullptr;
        Py_ssize_t n = 0;
        PyBytes_AsStringAndSize(data.ptr(), &p, &n);
        http::multipart_status_code st;
        {
            pb::gil_scoped_release nogil; // the bytes object is immutable and referenced by the caller
            st = _parser.feed(std::string_view(p, static_cast<size_t>(n)), _sink);
        }
        check(st);
    }

    /// The body ended: the parts as tuples (name, filename or None, content_type or None,
    /// headers, value bytes or None, fd, path or None, size). Temp files pass to the caller.
    pb::list finish() {
        if (!_done) {
            check(_parser.finish());
        }
        pb::list out;
        for (auto& p : _sink.parts) {
            pb::object filename =
                p.has_filename ? pb::object(pb::str(PyUnicode_DecodeUTF8(
                                     p.filename.data(), static_cast<Py_ssize_t>(p.filename.size()), "surrogateescape")))
                               : pb::object(pb::none());
            pb::list headers;
            for (auto& [k, v] : p.headers) {
                headers.append(pb::make_tuple(latin1(k), latin1(v)));
            }
            pb::object value = p.fd < 0 ? pb::object(pb::bytes(p.mem)) : pb::object(pb::none());
            pb::object path = p.fd < 0 ? pb::object(pb::none()) : pb::object(pb::str(p.path));
            out.append(pb::make_tuple(utf8(p.name), filename,
                                      p.content_type.empty() ? pb::object(pb::none()) : latin1(p.content_type), headers,
                                      value, p.fd, path, p.size));
            p.fd = -1; // the caller owns it now
        }
        _sink.parts.clear();
        return out;
    }

    void close() { _sink.discard(); }

  private:
    static pb::object latin1(const std::string& s) {
        return pb::reinterpret_steal<pb::object>(
            PyUnicode_DecodeLatin1(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr));
    }
    static pb::object utf8(const std::string& s) {
        PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape");
        if (o == nullptr) {
            throw pb::error_already_set();
        }
        return pb::reinterpret_steal<pb::object>(o);
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
pb::list parse_urlencoded(const pb::bytes& data, size_t max_fields, size_t max_name_length) {
    std::string_view body = data;
    pb::list out;
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
        PyObject* k = PyUnicode_DecodeUTF8(name.data(), static_cast<Py_ssize_t>(name.size()), "strict");
        PyObject* v = k ? PyUnicode_DecodeUTF8(value.data(), static_cast<Py_ssize_t>(value.size()), "strict") : nullptr;
        if (v == nullptr) {
            Py_XDECREF(k);
            PyErr_Clear();
            raise_form_error(400, "form field " + std::to_string(count) + " is not valid UTF-8");
        }
        out.append(pb::make_tuple(pb::reinterpret_steal<pb::object>(k), pb::reinterpret_steal<pb::object>(v)));
    }
    return out;
}

} // namespace

void init_forms(pb::module_& m) {
    g_multipart_error = PyErr_NewExceptionWithDoc(
        "ringbolt._native.MultipartError",
        "A form body the server refuses: args are (HTTP status, message naming the cause).", PyExc_ValueError, nullptr);
    if (g_multipart_error == nullptr) {
        throw pb::error_already_set();
    }
    m.add_object("MultipartError", pb::handle(g_multipart_error));
    pb::class_<multipart_reader>(m, "MultipartParser")
        .def(pb::init<const std::string&, size_t, uint64_t, uint64_t, size_t, size_t, uint64_t, std::string>(),
             pb::arg("boundary"), pb::arg("max_parts"), pb::arg("max_part_size"), pb::arg("max_field_size"),
             pb::arg("max_name_length"), pb::arg("max_header_bytes"), pb::arg("spool_threshold"), pb::arg("spool_dir"))
        .def("feed", &multipart_reader::feed, "Parse the next piece of the body (GIL released).")
        .def("finish", &multipart_reader::finish, "The body ended: the parts (temp files pass to the caller).")
        .def("close", &multipart_reader::close, "Remove temp files not handed out yet.");
    m.def("parse_urlencoded", &parse_urlencoded, pb::arg("data"), pb::arg("max_fields"), pb::arg("max_name_length"),
          "application/x-www-form-urlencoded pairs; MultipartError(400) on a bad %-escape or invalid UTF-8.");
    m.def(
        "multipart_boundary", [](const std::string& content_type) { return http::boundary_of(content_type); },
        "The boundary parameter of a Content-Type value ('' when absent).");
}

} // namespace ringbolt::py
