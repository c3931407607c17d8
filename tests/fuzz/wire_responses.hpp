// Reads what a server wrote on one connection as a sequence of HTTP/1.1 responses and
// checks each one's framing (RFC 9112 §6) and that it answers the right request: the
// connection fuzzer's view of the wire. Violations go to fail(), which the includer defines.
#pragma once

#include "core/strings.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::fuzz {

/// Report a violated invariant and abort (defined by the fuzz target).
[[noreturn]] void fail(const char* what);

inline void check(bool ok, const char* what) {
    if (!ok) [[unlikely]] {
        fail(what);
    }
}

/// What is known of the request that the k-th final response answers.
struct request_facts {
    bool head_request = false;
    bool http10 = false;
    bool to_app = false;       ///< answered by the app: carries "X-Seq: k", its body comes from `produced`
    std::string_view produced; ///< body bytes the app produced for it, in order
    bool whole = false;        ///< the app finished it correctly: a complete body is all of `produced`
};

/// What reading the wire learned.
struct wire_summary {
    size_t finals = 0;          ///< final (non-1xx) responses begun, complete or not
    bool last_complete = true;  ///< the wire ends on a response boundary
    bool last_close = false;    ///< the last complete response said Connection: close
    int64_t cut_seq = -1;       ///< the final response cut short, when !last_complete
    std::vector<bool> complete; ///< per final response
};

/// Reads the wire front to back; `line()` is false when the wire ends first.
class wire_reader {
  public:
    explicit wire_reader(std::string_view w) : _w(w) {}
    bool at_end() const noexcept { return _pos == _w.size(); }
    bool line(std::string_view& out) {
        size_t e = _w.find("\r\n", _pos);
        if (e == std::string_view::npos) {
            _pos = _w.size();
            return false;
        }
        out = _w.substr(_pos, e - _pos);
        check(out.find_first_of("\r\n") == std::string_view::npos, "(c) bare CR or LF in a head line");
        _pos = e + 2;
        return true;
    }
    bool take(uint64_t n, std::string& out) {
        uint64_t have = std::min<uint64_t>(n, _w.size() - _pos);
        out.append(_w.substr(_pos, have));
        _pos += have;
        return have == n;
    }
    void rest(std::string& out) {
        out.append(_w.substr(_pos));
        _pos = _w.size();
    }

  private:
    std::string_view _w;
    size_t _pos = 0;
};

inline uint64_t parse_decimal(std::string_view v, const char* what) {
    check(!v.empty() && v.size() <= 18, what);
    uint64_t n = 0;
    for (char c : v) {
        check(c >= '0' && c <= '9', what);
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    return n;
}

/// A chunked body; false when the wire ends inside it.
inline bool read_chunked(wire_reader& r, std::string& body) {
    while (true) {
        std::string_view size_line;
        if (!r.line(size_line)) {
            return false;
        }
        check(!size_line.empty() && size_line.size() <= 16, "(c) chunk size line");
        uint64_t n = 0;
        for (char c : size_line) {
            int v = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            check(v >= 0, "(c) chunk size not hex");
            n = n * 16 + static_cast<uint64_t>(v);
        }
        if (n == 0) {
            std::string_view trailer;
            do {
                if (!r.line(trailer)) {
                    return false;
                }
                check(trailer.empty() || trailer.find(':') != std::string_view::npos, "(c) trailer line");
            } while (!trailer.empty());
            return true;
        }
        check(n > 0, "(c) chunk");
        if (!r.take(n, body)) {
            return false;
        }
        std::string_view crlf;
        if (!r.line(crlf)) {
            return false;
        }
        check(crlf.empty(), "(c) chunk data not followed by CRLF");
    }
}

template <class Facts> wire_summary read_responses(std::string_view wire, const Facts& facts_of) {
    wire_summary sum;
    wire_reader r(wire);
    bool after_close = false;
    while (!r.at_end()) {
        check(!after_close, "(c) bytes after a response with Connection: close");
        sum.last_complete = false;
        sum.cut_seq = -1;
        std::string_view status_line;
        if (!r.line(status_line)) {
            sum.cut_seq = static_cast<int64_t>(sum.finals);
            return sum;
        }
        check(status_line.size() >= 13 && status_line.substr(0, 9) == "HTTP/1.1 " && status_line[12] == ' ',
              "(c) status line");
        uint16_t status = static_cast<uint16_t>(parse_decimal(status_line.substr(9, 3), "(c) status code"));
        check(status >= 100 && status <= 599, "(c) status code range");
        bool interim = status < 200;
        uint64_t k = sum.finals;
        if (!interim) {
            ++sum.finals;
            sum.cut_seq = static_cast<int64_t>(k);
        }
        const request_facts facts = interim ? request_facts{} : facts_of(k);
        const bool head_request = facts.head_request;
        const bool http10 = facts.http10;
        int lengths = 0;
        int encodings = 0;
        int connections = 0;
        uint64_t length = 0;
        bool close = false;
        int64_t xseq = -1;
        std::string_view field;
        while (true) {
            if (!r.line(field)) {
                return sum; // cut inside the head
            }
            if (field.empty()) {
                break;
            }
            size_t colon = field.find(':');
            check(colon != std::string_view::npos && colon > 0, "(c) header line without a name");
            std::string_view name = field.substr(0, colon);
            std::string_view value = field.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') {
                value.remove_prefix(1);
            }
            if (core::iequals(name, "content-length")) {
                ++lengths;
                length = parse_decimal(value, "(c) Content-Length value");
            } else if (core::iequals(name, "transfer-encoding")) {
                ++encodings;
                check(value == "chunked", "(c) Transfer-Encoding other than chunked");
            } else if (core::iequals(name, "connection")) {
                ++connections;
                check(value == "close" || value == "keep-alive", "(c) Connection value");
                close = value == "close";
            } else if (name == "X-Seq") {
                xseq = static_cast<int64_t>(parse_decimal(value, "(d) X-Seq value"));
            }
        }
        check(lengths <= 1, "(c) two Content-Length fields");
        check(encodings <= 1, "(c) two Transfer-Encoding fields");
        check(lengths + encodings <= 1, "(c) Content-Length with Transfer-Encoding");
        check(connections <= 1, "(c) two Connection fields");
        if (interim) {
            check(lengths + encodings == 0 && xseq < 0 && connections == 0, "(c) an interim response with fields");
            sum.last_complete = true;
            continue;
        }
        // (d) order: the k-th final response answers request k.
        check(!facts.to_app || xseq == static_cast<int64_t>(k),
              "(d) an app response out of order or without its X-Seq");
        check(xseq < 0 || facts.to_app, "(d) an app response where another was due");
        if (http10) {
            check(connections == 1, "(c) an HTTP/1.0 response without a Connection field");
            check(encodings == 0, "(c) chunked to an HTTP/1.0 client");
        }
        std::string body;
        bool complete = true;
        bool forbids = status == 204 || status == 304;
        if (forbids) {
            check(lengths + encodings == 0, "(c) framing fields on 204/304");
        } else if (head_request) {
            check(encodings == 0, "(c) Transfer-Encoding on a HEAD response");
        } else if (lengths == 1) {
            complete = r.take(length, body);
        } else if (encodings == 1) {
            complete = read_chunked(r, body);
        } else {
            check(close, "(c) a close-delimited response without Connection: close");
            check(http10, "(c) a close-delimited response to an HTTP/1.1 request");
            r.rest(body);
            complete = r.at_end();
        }
        if (facts.to_app && !forbids && !head_request) {
            check(facts.produced.substr(0, body.size()) == body, "(d) body bytes not what the app produced");
            check(!complete || !facts.whole || body == facts.produced, "(d) a complete response lost body bytes");
        }
        sum.complete.push_back(complete);
        if (!complete) {
            return sum;
        }
        sum.last_complete = true;
        sum.last_close = close;
        sum.cut_seq = -1;
        after_close = close;
    }
    return sum;
}

} // namespace ringbolt::fuzz
