// libFuzzer target for http/accept_encoding and http/response_features: the input is
// an Accept-Encoding value, then (after a NUL) an Origin, a request method and request
// headers for a CORS preflight and an X-Request-ID. Checks: parsing never reads out of
// bounds, choices are offered codings with q > 0, refused preflights add no CORS
// fields, allowed ones echo only a listed or any origin, request ids are always safe.
#include "http/accept_encoding.hpp"
#include "http/parser.hpp"
#include "http/response_features.hpp"
#include "http/response_framer.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace ringbolt::http;

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

const response_features& features(bool credentials, bool any) {
    static response_features f[4];
    static bool made = false;
    if (!made) {
        for (int i = 0; i < 4; ++i) {
            std::vector<std::string> origins = {"https://app.example.com", "https://*.example.org"};
            if (i & 1) {
                origins.push_back("*");
            }
            check(configure_cors(f[i], origins, {"GET", "PUT"}, {"X-Token"}, (i & 2) != 0, {"X-Total"}, 60).empty());
            check(configure_compression(f[i], 0, {"zstd", "br", "gzip"}, {-1, -1, -1}, {}).empty());
            check(configure_request_id(f[i], "X-Request-ID").empty());
        }
        made = true;
    }
    return f[(any ? 1 : 0) | (credentials ? 2 : 0)];
}

bool clean_value(std::string_view v) {
    for (char c : v) {
        if (c == '\r' || c == '\n' || c == '\0') {
            return false;
        }
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    size_t nul = in.find('\0');
    std::string_view ae_value = in.substr(0, nul);

    // Accept-Encoding alone.
    accept_encoding ae;
    constexpr content_coding offered[] = {content_coding::zstd, content_coding::br, content_coding::gzip};
    if (parse_accept_encoding(ae_value, ae)) {
        content_coding c = choose_coding(ae, offered);
        if (c != content_coding::identity) {
            check(ae.quality(c) > 0 && ae.quality(c) <= 1000);
        }
    }

    // A whole request head built from the parts, through the parser (as the server does).
    std::string_view rest = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
    std::string_view parts[4];
    for (auto& p : parts) {
        size_t n = rest.find('\0');
        p = rest.substr(0, n);
        rest = n == std::string_view::npos ? std::string_view() : rest.substr(n + 1);
    }
    uint8_t flags = !parts[3].empty() ? static_cast<uint8_t>(parts[3][0]) : 0;
    std::string req = "OPTIONS /x HTTP/1.1\r\nHost: h\r\n";
    req.append("Accept-Encoding: ").append(ae_value).append("\r\nOrigin: ").append(parts[0]);
    req.append("\r\nAccess-Control-Request-Method: ").append(parts[1]);
    req.append("\r\nAccess-Control-Request-Headers: ").append(parts[2]);
    req.append("\r\nX-Request-ID: ").append(parts[3]).append("\r\n\r\n");
    request_head head;
    if (parse_request_head(req, head, parser_limits{}).status != parse_status::complete) {
        return 0;
    }
    const response_features& f = features((flags & 1) != 0, (flags & 2) != 0);
    request_context ctx;
    std::string id;
    std::string reason;
    preflight pf = decorate_request(f, head, ctx, id, reason);
    check(valid_request_id(id));
    // Fields by name (a substring search would also match inside an echoed request id).
    // `exact`: the whole line (an echoed origin may itself begin with '*').
    auto has_field = [&](std::string_view name_colon_value, bool exact = false) {
        std::string_view x = ctx.extra_fields;
        while (!x.empty()) {
            size_t eol = x.find("\r\n");
            std::string_view line = x.substr(0, eol);
            if (exact ? line == name_colon_value : line.starts_with(name_colon_value)) {
                return true;
            }
            x.remove_prefix(eol == std::string_view::npos ? x.size() : eol + 2);
        }
        return false;
    };
    if (pf == preflight::refused) {
        check(!reason.empty());
        check(!has_field("Access-Control-Allow-Origin:"));
        std::string body = preflight_problem(reason);
        check(clean_value(body));
    }
    if (has_field("Access-Control-Allow-Origin: *", true)) {
        check(!f.cors.credentials); // never "*" with credentials
    }
    // Every added line is a well-formed "Name: value\r\n" without stray CR/LF.
    std::string_view x = ctx.extra_fields;
    while (!x.empty()) {
        size_t eol = x.find("\r\n");
        check(eol != std::string_view::npos);
        std::string_view line = x.substr(0, eol);
        check(line.find(": ") != std::string_view::npos && clean_value(line));
        x.remove_prefix(eol + 2);
    }
    return 0;
}
