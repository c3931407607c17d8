// Compression choice, CORS, request ids and security headers: the per-request and
// per-response decisions of the native response features.
#include "http/response_features.hpp"

#include "core/strings.hpp"
#include "http/body_encoder.hpp"
#include "http/char_classes.hpp"
#include "http/response_framer.hpp"
#include "http/response_writer.hpp"

#include <algorithm>
#include <cstring>
#include <sys/random.h>

namespace ringbolt::http {

namespace {

// The value of field `name` among checked "Name: value\r\n" lines ("" and false if absent).
bool find_field(std::string_view fields, std::string_view name, std::string_view& value) noexcept {
    size_t i = 0;
    while (i < fields.size()) {
        size_t eol = fields.find("\r\n", i);
        if (eol == std::string_view::npos) {
            eol = fields.size();
        }
        std::string_view line = fields.substr(i, eol - i);
        size_t colon = line.find(':');
        if (colon != std::string_view::npos && core::iequals(line.substr(0, colon), name)) {
            value = core::trim_ows(line.substr(colon + 1));
            return true;
        }
        i = eol + 2;
    }
    return false;
}

// An Origin matches "scheme://*.suffix" when it starts with "scheme://", ends with
// ".suffix", and what stands for "*" is a non-empty run of host characters.
bool wildcard_match(std::string_view pattern, std::string_view origin) noexcept {
    size_t star = pattern.find("://*.");
    if (star == std::string_view::npos) {
        return false;
    }
    std::string_view scheme = pattern.substr(0, star + 3); // "https://"
    std::string_view suffix = pattern.substr(star + 4);    // ".example.com[:port]"
    if (origin.size() <= scheme.size() + suffix.size() || !core::istarts_with(origin, scheme) ||
        !core::iends_with(origin, suffix)) {
        return false;
    }
    std::string_view label = origin.substr(scheme.size(), origin.size() - scheme.size() - suffix.size());
    for (char c : label) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (!ok) {
            return false;
        }
    }
    return label.front() != '.' && label.back() != '.';
}

bool valid_origin(std::string_view o) noexcept;

bool origin_allowed(const cors_settings& c, std::string_view origin) noexcept {
    if (c.any_origin) {
        // With credentials the origin is echoed, so it must be one ("*", "null" or garbage
        // echoed back would grant credentialed access to anything); without them the
        // answer is "*" whatever was sent.
        return !c.credentials || valid_origin(origin);
    }
    for (const std::string& o : c.origins) {
        if (core::iequals(o, origin)) {
            return true;
        }
    }
    for (const std::string& w : c.origin_wildcards) {
        if (wildcard_match(w, origin)) {
            return true;
        }
    }
    return false;
}

// Fetch standard: these request headers never need to be allowed in a preflight.
bool safelisted_header(std::string_view name) noexcept {
    return core::iequals(name, "accept") || core::iequals(name, "accept-language") ||
           core::iequals(name, "content-language") || core::iequals(name, "content-type");
}

bool is_token(std::string_view v) noexcept {
    if (v.empty()) {
        return false;
    }
    for (char c : v) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
        if (!ok || c == '\0') {
            return false;
        }
    }
    return true;
}

// Access-Control-Request-Headers: a comma list of header names. False with `reason`
// set when one is not allowed (or the list is malformed).
bool headers_allowed(const cors_settings& c, std::string_view list, std::string& reason) {
    while (!list.empty()) {
        std::string_view name = core::pop_list_element(list);
        if (name.empty()) {
            continue;
        }
        if (!is_token(name)) {
            reason = "CORS preflight: Access-Control-Request-Headers is not a list of header names";
            return false;
        }
        if (c.any_header || safelisted_header(name)) {
            continue;
        }
        bool found = false;
        for (const std::string& h : c.headers) {
            if (core::iequals(h, name)) {
                found = true;
                break;
            }
        }
        if (!found) {
            reason = "CORS preflight: request header '";
            reason.append(name).append("' is not allowed");
            return false;
        }
    }
    return true;
}

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c < 0x20 || c >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out.append(buf);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    out.push_back('"');
}

// The Origin (or other) value shown in a reason: bounded, so a huge header does not
// make a huge answer.
std::string_view shown(std::string_view v) noexcept {
    return v.substr(0, 200);
}

struct splitmix {
    uint64_t s = 0;
    bool seeded = false;
    uint64_t next() noexcept {
        if (!seeded) [[unlikely]] {
            if (getrandom(&s, sizeof(s), 0) != static_cast<ssize_t>(sizeof(s))) {
                s = reinterpret_cast<uintptr_t>(this) ^ 0x9e3779b97f4a7c15ULL;
            }
            seeded = true;
        }
        uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};

} // namespace

bool valid_request_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > max_request_id) {
        return false;
    }
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c != '\0' && std::strchr("._:+/=@-", c) != nullptr);
        if (!ok) {
            return false;
        }
    }
    return true;
}

void new_request_id(std::string& out) {
    // Not a secret: unique enough to correlate logs (128 bits from a per-thread
    // generator seeded by getrandom).
    thread_local splitmix gen;
    out.clear();
    for (int w = 0; w < 2; ++w) {
        uint64_t v = gen.next();
        for (int i = 0; i < 16; ++i) {
            out.push_back(chars::hex_digits[(v >> (60 - 4 * i)) & 15]);
        }
    }
}

namespace {

// The codings the response may use, from the client's Accept-Encoding fields (none, or one
// that does not parse: identity). Its own pass over the fields: with compression alone (the
// usual setup) it is the only field decorate_request looks for.
void choose_codings(const response_features& f, const request_head& head, request_context& ctx) {
    accept_encoding ae;
    for (uint16_t i = 0; i < head.num_headers; ++i) {
        const std::string_view name = head.headers[i].name;
        if (name.size() == 15 && core::iequals(name, "accept-encoding") &&
            !parse_accept_encoding(head.headers[i].value, ae)) {
            return;
        }
    }
    if (ae.present) {
        ctx.coding = choose_coding(ae, {f.compression.offered, f.compression.offered_count});
        ctx.small_coding = choose_coding(ae, {f.compression.small_offered, f.compression.offered_count});
    }
}

} // namespace

preflight decorate_request(const response_features& f, const request_head& head, request_context& ctx,
                           std::string& request_id, std::string& reason) {
    ctx.features = &f;
    if (f.compression.enabled) {
        choose_codings(f, head, ctx);
    }
    if (!f.cors.enabled && !f.request_id.enabled) [[likely]] {
        return preflight::none; // compression alone: nothing to add to the answer's head here
    }
    std::string_view origin;
    std::string_view acr_method;
    std::string_view acr_headers;
    bool has_origin = false;
    bool has_acr_method = false;
    std::string_view client_id;
    for (uint16_t i = 0; i < head.num_headers; ++i) {
        std::string_view name = head.headers[i].name;
        std::string_view value = head.headers[i].value;
        if (f.cors.enabled && core::iequals(name, "origin")) {
            origin = value;
            has_origin = true;
        } else if (f.cors.enabled && core::iequals(name, "access-control-request-method")) {
            acr_method = value;
            has_acr_method = true;
        } else if (f.cors.enabled && core::iequals(name, "access-control-request-headers")) {
            acr_headers = value; // several fields: the last one (browsers send one)
        } else if (f.request_id.enabled && core::iequals(name, f.request_id.header)) {
            client_id = value;
        }
    }
    if (f.request_id.enabled) {
        if (valid_request_id(client_id)) {
            request_id.assign(client_id);
        } else {
            new_request_id(request_id);
        }
        ctx.extra_fields.append(f.request_id.header).append(": ").append(request_id).append("\r\n");
    }
    if (!f.cors.enabled || !has_origin) {
        return preflight::none;
    }
    const cors_settings& c = f.cors;
    bool echo = !c.any_origin || c.credentials; // "*" only without credentials
    bool allowed = origin_allowed(c, origin);
    bool is_preflight = head.method_id == method_options && has_acr_method;
    if (is_preflight) {
        if (!allowed) {
            reason = "CORS preflight: origin ";
            append_json_string(reason, shown(origin));
            reason.append(" is not allowed");
            return preflight::refused;
        }
        if (!is_token(acr_method)) {
            reason = "CORS preflight: Access-Control-Request-Method is not a method name";
            return preflight::refused;
        }
        bool method_ok = c.any_method;
        for (const std::string& m : c.methods) {
            method_ok = method_ok || m == acr_method;
        }
        if (!method_ok) {
            reason = "CORS preflight: method '";
            reason.append(shown(acr_method)).append("' is not allowed");
            return preflight::refused;
        }
        if (!headers_allowed(c, acr_headers, reason)) {
            return preflight::refused;
        }
    } else if (!allowed) {
        if (echo) {
            ctx.extra_fields.append("Vary: Origin\r\n"); // another origin would get another answer
        }
        return preflight::none;
    }
    std::string& x = ctx.extra_fields;
    x.append("Access-Control-Allow-Origin: ");
    if (echo) {
        x.append(origin).append("\r\nVary: Origin\r\n");
    } else {
        x.append("*\r\n");
    }
    if (c.credentials) {
        x.append("Access-Control-Allow-Credentials: true\r\n");
    }
    if (!is_preflight) {
        if (!c.expose.empty()) {
            x.append("Access-Control-Expose-Headers: ").append(c.expose).append("\r\n");
        }
        return preflight::none;
    }
    // The requested method and headers were checked: echoing them is always right
    // (with credentials a "*" would not count as a wildcard).
    x.append("Access-Control-Allow-Methods: ").append(acr_method).append("\r\n");
    std::string_view hdrs = core::trim_ows(acr_headers);
    if (!hdrs.empty()) {
        x.append("Access-Control-Allow-Headers: ").append(hdrs).append("\r\n");
    }
    if (c.max_age >= 0) {
        x.append("Access-Control-Max-Age: ").append(std::to_string(c.max_age)).append("\r\n");
    }
    x.append("Vary: Access-Control-Request-Method, Access-Control-Request-Headers\r\n");
    return preflight::allowed;
}

std::string preflight_refusal_text(const response_features& f, const request_head& head) {
    const cors_settings& c = f.cors;
    std::string_view origin;
    std::string_view acr_method;
    std::string_view acr_headers;
    for (uint16_t i = 0; i < head.num_headers; ++i) {
        std::string_view name = head.headers[i].name;
        if (core::iequals(name, "origin")) {
            origin = head.headers[i].value;
        } else if (core::iequals(name, "access-control-request-method")) {
            acr_method = head.headers[i].value;
        } else if (core::iequals(name, "access-control-request-headers")) {
            acr_headers = head.headers[i].value; // as decorate_request: the last field
        }
    }
    bool method_ok = c.any_method && is_token(acr_method);
    for (const std::string& m : c.methods) {
        method_ok = method_ok || m == acr_method;
    }
    std::string unused;
    std::string text = "Disallowed CORS";
    const char* sep = " ";
    for (auto [failed, part] : {std::pair{!origin_allowed(c, origin), "origin"}, std::pair{!method_ok, "method"},
                                std::pair{!headers_allowed(c, acr_headers, unused), "headers"}}) {
        if (failed) {
            text.append(sep).append(part);
            sep = ", ";
        }
    }
    return text;
}

std::string preflight_problem(std::string_view reason) {
    std::string body = R"({"type":"about:blank","title":"Forbidden","status":403,"detail":)";
    append_json_string(body, reason);
    body.push_back('}');
    return body;
}

bool compressible_type(std::string_view ct, const compression_settings& s) noexcept {
    size_t semi = ct.find(';');
    std::string_view type = core::trim_ows(semi == std::string_view::npos ? ct : ct.substr(0, semi));
    if (type.empty()) {
        return false;
    }
    if (core::istarts_with(type, "image/")) {
        return core::iequals(type, "image/svg+xml") || core::iequals(type, "image/x-icon") ||
               core::iequals(type, "image/bmp");
    }
    if (core::istarts_with(type, "video/") || core::istarts_with(type, "audio/") || core::iequals(type, "font/woff") ||
        core::iequals(type, "font/woff2")) {
        return false;
    }
    static constexpr std::string_view packed[] = {
        "application/octet-stream",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/zstd",
        "application/x-brotli",
        "application/br",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/pdf",
        "application/x-tar+gzip",
        "application/vnd.rar",
    };
    for (std::string_view p : packed) {
        if (core::iequals(type, p)) {
            return false;
        }
    }
    for (const std::string& e : s.exclude_types) {
        if (e.size() >= 2 && e.ends_with("/*")) {
            if (core::istarts_with(type, std::string_view(e).substr(0, e.size() - 1))) {
                return false;
            }
        } else if (core::iequals(type, e)) {
            return false;
        }
    }
    return true;
}

compression_plan plan_compression(const response_features& f, const request_context& ctx, uint16_t status,
                                  std::string_view fields, int64_t length, bool file) noexcept {
    compression_plan p;
    const compression_settings& s = f.compression;
    // 1xx/204/304 have no body; a 206 is a range of the identity body (RFC 9110 §14):
    // compressing it would change what the ranges mean.
    if (!s.enabled || status < 200 || status == 204 || status == 304 || status == 206 || file) {
        return p;
    }
    if (length >= 0 && static_cast<uint64_t>(length) < s.min_size) {
        return p;
    }
    std::string_view v;
    if (find_field(fields, "content-encoding", v) || find_field(fields, "content-range", v)) {
        return p; // already coded by the handler, or a range
    }
    if (find_field(fields, "cache-control", v) && v.find("no-transform") != std::string_view::npos) {
        return p; // RFC 9111 §5.2.2.6
    }
    if (!find_field(fields, "content-type", v) || !compressible_type(v, s)) {
        return p;
    }
    p.vary = true;
    if (!ctx.head_request) {
        p.coding = ctx.coding;
    }
    return p;
}

content_coding whole_body_coding(const request_context& ctx, content_coding planned, uint64_t size) noexcept {
    return planned != content_coding::identity && size < tiny_body ? ctx.small_coding : planned;
}

int compression_level(const compression_settings& s, content_coding c, uint64_t size) noexcept {
    size_t i = static_cast<size_t>(c);
    if (!s.auto_level[i] || size >= small_body) {
        return s.level[i];
    }
    return fast_level(c, size);
}

bool compress_answer(const request_context& ctx, uint16_t status, std::string_view& fields, std::string_view& body,
                     std::string& fields_out, std::string& body_out) {
    if (ctx.features == nullptr || !ctx.features->compression.enabled) [[likely]] {
        return false;
    }
    compression_plan p = plan_compression(*ctx.features, ctx, status, fields, static_cast<int64_t>(body.size()), false);
    if (!p.vary) {
        return false;
    }
    p.coding = whole_body_coding(ctx, p.coding, body.size());
    if (p.coding != content_coding::identity &&
        !compress_whole(p.coding, compression_level(ctx.features->compression, p.coding, body.size()), body,
                        body_out)) {
        p.coding = content_coding::identity; // the library failed: send it as it is
    }
    fields_out.assign(fields);
    append_compression_fields(p, fields_out);
    fields = fields_out;
    if (p.coding != content_coding::identity) {
        body = body_out;
    }
    return true;
}

compression_plan compress_head(const request_context& ctx, uint16_t status, int64_t length, bool whole, bool file,
                               std::string_view body, std::string_view& fields, std::string& fields_out,
                               std::string& body_out, std::unique_ptr<body_encoder>& encoder) {
    const compression_settings& s = ctx.features->compression;
    // A short stream that came whole (head, body and end in one message) is planned by its size.
    int64_t planned = whole && length < 0 ? static_cast<int64_t>(body.size()) : length;
    compression_plan p = plan_compression(*ctx.features, ctx, status, fields, planned, file);
    if (!p.vary) {
        return p;
    }
    if (p.coding != content_coding::identity) {
        if (whole) {
            p.coding = whole_body_coding(ctx, p.coding, body.size());
            if (length >= 0 && static_cast<uint64_t>(length) != body.size()) {
                p.coding = content_coding::identity; // a wrong declared length: the framing refuses it as usual
            } else if (!compress_whole(p.coding, compression_level(s, p.coding, body.size()), body, body_out)) {
                p.coding = content_coding::identity; // the library failed: send it as it is
            }
        } else {
            encoder = make_body_encoder(p.coding, compression_level(s, p.coding, 0));
            if (!encoder) {
                p.coding = content_coding::identity;
            }
        }
    }
    fields_out.assign(fields);
    append_compression_fields(p, fields_out);
    fields = fields_out;
    return p;
}

answer_scratch& thread_answer_scratch() noexcept {
    thread_local answer_scratch scratch;
    return scratch;
}

void append_compression_fields(const compression_plan& p, std::string& out) {
    if (p.coding != content_coding::identity) {
        out.append("Content-Encoding: ").append(coding_name(p.coding)).append("\r\n");
    }
    if (p.vary) {
        out.append("Vary: Accept-Encoding\r\n");
    }
}

void append_feature_fields(const request_context& ctx, std::string_view app_fields, std::string& out) {
    out.append(ctx.extra_fields);
    const response_features& f = *ctx.features;
    if (f.security_fields.empty()) {
        return;
    }
    if (app_fields.empty()) {
        out.append(f.security_fields);
        return;
    }
    // The handler's own value wins: add only the lines it did not set.
    std::string_view lines = f.security_fields;
    size_t i = 0;
    for (const std::string& name : f.security_names) {
        size_t eol = lines.find("\r\n", i);
        std::string_view unused;
        if (!find_field(app_fields, name, unused)) {
            out.append(lines.substr(i, eol + 2 - i));
        }
        i = eol + 2;
    }
}

namespace {

bool valid_origin(std::string_view o) noexcept {
    size_t sep = o.find("://");
    if (sep == std::string_view::npos || sep == 0 || sep + 3 >= o.size()) {
        return false;
    }
    for (char c : o) {
        if (c <= 0x20 || c >= 0x7f || c == ',') {
            return false;
        }
    }
    std::string_view rest = o.substr(sep + 3);
    return rest.find('/') == std::string_view::npos && o.back() != '/';
}

} // namespace

void set_small_offered(compression_settings& s) noexcept {
    std::copy_n(s.offered, s.offered_count, s.small_offered);
    bool all_auto = true;
    for (uint8_t i = 0; i < s.offered_count; ++i) {
        all_auto = all_auto && s.auto_level[static_cast<size_t>(s.offered[i])];
    }
    if (all_auto) {
        std::stable_sort(s.small_offered, s.small_offered + s.offered_count,
                         [](content_coding a, content_coding b) { return small_body_rank(a) < small_body_rank(b); });
    }
}

std::string configure_compression(response_features& f, uint64_t min_size, const std::vector<std::string>& algorithms,
                                  const std::vector<int>& levels, const std::vector<std::string>& exclude_types) {
    compression_settings s;
    s.enabled = true;
    s.min_size = min_size;
    if (algorithms.empty()) {
        return "algorithms must name at least one of 'zstd', 'br', 'gzip'";
    }
    if (levels.size() != algorithms.size()) {
        return "one level per algorithm";
    }
    for (size_t i = 0; i < algorithms.size(); ++i) {
        content_coding c;
        if (!coding_from_name(algorithms[i], c) || c == content_coding::identity || algorithms[i] != coding_name(c)) {
            return "unknown compression algorithm '" + algorithms[i] + "' (use 'zstd', 'br' or 'gzip')";
        }
        for (uint8_t j = 0; j < s.offered_count; ++j) {
            if (s.offered[j] == c) {
                return "compression algorithm '" + algorithms[i] + "' is listed twice";
            }
        }
        s.auto_level[static_cast<size_t>(c)] = levels[i] < 0;
        int level = levels[i] < 0 ? default_level(c) : levels[i];
        if (!level_in_range(c, level)) {
            return "compression level " + std::to_string(levels[i]) + " is out of range for " + algorithms[i] +
                   " (zstd 1-19, br 0-11, gzip 1-9)";
        }
        s.offered[s.offered_count++] = c;
        s.level[static_cast<size_t>(c)] = level;
    }
    set_small_offered(s);
    for (const std::string& t : exclude_types) {
        size_t slash = t.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == t.size() || t.find(';') != std::string::npos) {
            return "exclude_types: '" + t + "' is not a media type ('type/subtype' or 'type/*')";
        }
        s.exclude_types.push_back(core::ascii_lower(t));
    }
    f.compression = std::move(s);
    return {};
}

std::string configure_cors(response_features& f, const std::vector<std::string>& origins,
                           const std::vector<std::string>& methods, const std::vector<std::string>& headers,
                           bool credentials, const std::vector<std::string>& expose, int64_t max_age) {
    cors_settings c;
    c.enabled = true;
    c.credentials = credentials;
    c.max_age = max_age;
    if (origins.empty()) {
        return "allow_origins must list at least one origin (or '*')";
    }
    for (const std::string& o : origins) {
        if (o == "*") {
            c.any_origin = true;
        } else if (o.find("://*.") != std::string::npos && valid_origin(o) &&
                   o.find('*', o.find("://*.") + 4) == std::string::npos) {
            c.origin_wildcards.push_back(core::ascii_lower(o));
        } else if (valid_origin(o) && o.find('*') == std::string::npos) {
            c.origins.push_back(o);
        } else {
            return "allow_origins: '" + o + "' is not an origin (scheme://host[:port], scheme://*.domain, or '*')";
        }
    }
    for (const std::string& m : methods) {
        if (m == "*") {
            c.any_method = true;
        } else if (is_token(m)) {
            c.methods.push_back(m);
        } else {
            return "allow_methods: '" + m + "' is not a method name";
        }
    }
    for (const std::string& h : headers) {
        if (h == "*") {
            c.any_header = true;
        } else if (valid_field_name(h)) {
            c.headers.push_back(core::ascii_lower(h));
        } else {
            return "allow_headers: '" + h + "' is not a header name";
        }
    }
    for (const std::string& h : expose) {
        if (!valid_field_name(h) && h != "*") {
            return "expose_headers: '" + h + "' is not a header name";
        }
        if (!c.expose.empty()) {
            c.expose.append(", ");
        }
        c.expose.append(h);
    }
    f.cors = std::move(c);
    return {};
}

std::string configure_request_id(response_features& f, const std::string& header) {
    if (!valid_field_name(header)) {
        return "request id header '" + header + "' is not a header name";
    }
    f.request_id.enabled = true;
    f.request_id.header = header;
    return {};
}

std::string configure_security_headers(response_features& f,
                                       const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string lines;
    std::vector<std::string> names;
    for (const auto& [name, value] : fields) {
        if (!valid_field_name(name)) {
            return "security header name '" + name + "' is not a header name";
        }
        if (!valid_field_value(value)) {
            return "security header '" + name + "' has an invalid value (CR, LF or NUL)";
        }
        lines.append(name).append(": ").append(value).append("\r\n");
        names.push_back(core::ascii_lower(name));
    }
    f.security_fields = std::move(lines);
    f.security_names = std::move(names);
    return {};
}

} // namespace ringbolt::http
