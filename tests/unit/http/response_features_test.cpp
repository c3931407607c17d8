// http/response_features: CORS (preflights, credentials and wildcard rules), request
// ids, the compression plan, and security fields, from parsed request heads.
#include "http/response_features.hpp"

#include "http/body_encoder.hpp"

#include "http/response_framer.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace ringbolt::http;

namespace {

struct parsed {
    std::string bytes;
    request_head head;
    explicit parsed(std::string b) : bytes(std::move(b)) {
        parse_outcome r = parse_request_head(bytes, head, parser_limits{});
        EXPECT_EQ(r.status, parse_status::complete) << bytes;
    }
};

struct outcome {
    preflight pf;
    std::string fields;
    std::string id;
    std::string reason;
    content_coding coding;
};

outcome run(const response_features& f, const std::string& req) {
    parsed p(req);
    request_context ctx;
    outcome o;
    o.pf = decorate_request(f, p.head, ctx, o.id, o.reason);
    o.fields = ctx.extra_fields;
    o.coding = ctx.coding;
    EXPECT_EQ(ctx.features, &f);
    return o;
}

response_features cors(std::vector<std::string> origins, bool credentials,
                       std::vector<std::string> methods = {"GET", "PUT"},
                       std::vector<std::string> headers = {"X-Token"}) {
    response_features f;
    EXPECT_EQ(configure_cors(f, origins, methods, headers, credentials, {"X-Total"}, 300), "");
    return f;
}

TEST(Cors, PreflightAllowedEchoesWhatWasAsked) {
    auto f = cors({"https://app.example.com"}, false);
    outcome o =
        run(f, "OPTIONS /x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example.com\r\n"
               "Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: x-token, content-type\r\n\r\n");
    EXPECT_EQ(o.pf, preflight::allowed);
    EXPECT_NE(o.fields.find("Access-Control-Allow-Origin: https://app.example.com\r\n"), std::string::npos);
    EXPECT_NE(o.fields.find("Vary: Origin\r\n"), std::string::npos);
    EXPECT_NE(o.fields.find("Access-Control-Allow-Methods: PUT\r\n"), std::string::npos);
    EXPECT_NE(o.fields.find("Access-Control-Allow-Headers: x-token, content-type\r\n"), std::string::npos);
    EXPECT_NE(o.fields.find("Access-Control-Max-Age: 300\r\n"), std::string::npos);
    EXPECT_EQ(o.fields.find("Credentials"), std::string::npos);
}

TEST(Cors, PreflightRefusals) {
    auto f = cors({"https://app.example.com"}, false);
    struct refusal {
        const char* origin;
        const char* method;
        const char* headers;
        const char* reason_part;
    } cases[] = {
        {"https://evil.example", "PUT", "", "origin \"https://evil.example\" is not allowed"},
        {"https://app.example.com", "DELETE", "", "method 'DELETE' is not allowed"},
        {"https://app.example.com", "PUT", "x-other", "request header 'x-other' is not allowed"},
        {"https://app.example.com", "PUT", "x-token, bad header", "not a list of header names"},
        {"https://app.example.com", "P(T", "", "not a method name"},
        {"http://app.example.com", "PUT", "", "is not allowed"}, // scheme differs
    };
    for (const auto& c : cases) {
        std::string req = std::string("OPTIONS /x HTTP/1.1\r\nHost: a\r\nOrigin: ") + c.origin +
                          "\r\nAccess-Control-Request-Method: " + c.method + "\r\n";
        if (*c.headers != '\0') {
            req += std::string("Access-Control-Request-Headers: ") + c.headers + "\r\n";
        }
        outcome o = run(f, req + "\r\n");
        EXPECT_EQ(o.pf, preflight::refused) << c.origin << " " << c.method;
        EXPECT_NE(o.reason.find(c.reason_part), std::string::npos) << o.reason;
        EXPECT_EQ(o.fields.find("Access-Control-Allow-Origin"), std::string::npos);
        std::string body = preflight_problem(o.reason);
        EXPECT_NE(body.find("\"status\":403"), std::string::npos);
    }
}

TEST(Cors, StarletteRefusalTextNamesEveryPartRefused) {
    // FastAPI's conventions answer a refused preflight with Starlette's text: every part
    // refused, in its order (dispatch/app_routes.hpp starlette_preflight).
    auto f = cors({"https://app.example.com"}, false);
    struct refusal {
        const char* origin;
        const char* method;
        const char* headers;
        const char* text;
    } cases[] = {
        {"https://evil.example", "PUT", "", "Disallowed CORS origin"},
        {"https://app.example.com", "DELETE", "", "Disallowed CORS method"},
        {"https://app.example.com", "PUT", "x-other", "Disallowed CORS headers"},
        {"https://evil.example", "DELETE", "x-other", "Disallowed CORS origin, method, headers"},
        {"https://app.example.com", "P(T", "x-token, bad header", "Disallowed CORS method, headers"},
    };
    for (const auto& c : cases) {
        std::string req = std::string("OPTIONS /x HTTP/1.1\r\nHost: a\r\nOrigin: ") + c.origin +
                          "\r\nAccess-Control-Request-Method: " + c.method + "\r\n";
        if (*c.headers != '\0') {
            req += std::string("Access-Control-Request-Headers: ") + c.headers + "\r\n";
        }
        parsed p(req + "\r\n");
        EXPECT_EQ(preflight_refusal_text(f, p.head), c.text) << c.origin << " " << c.method << " " << c.headers;
    }
}

TEST(Cors, WildcardAndCredentials) {
    auto any = cors({"*"}, false);
    outcome o = run(any, "GET / HTTP/1.1\r\nHost: a\r\nOrigin: https://x.test\r\n\r\n");
    EXPECT_EQ(o.pf, preflight::none);
    EXPECT_NE(o.fields.find("Access-Control-Allow-Origin: *\r\n"), std::string::npos);
    EXPECT_EQ(o.fields.find("Vary: Origin"), std::string::npos);
    EXPECT_NE(o.fields.find("Access-Control-Expose-Headers: X-Total\r\n"), std::string::npos);

    auto creds = cors({"*"}, true); // never "*" with credentials: the origin is echoed
    o = run(creds, "GET / HTTP/1.1\r\nHost: a\r\nOrigin: https://x.test\r\n\r\n");
    EXPECT_NE(o.fields.find("Access-Control-Allow-Origin: https://x.test\r\nVary: Origin\r\n"), std::string::npos);
    EXPECT_NE(o.fields.find("Access-Control-Allow-Credentials: true\r\n"), std::string::npos);
    EXPECT_EQ(o.fields.find("Allow-Origin: *"), std::string::npos);

    // Echoing is only for origins: "*" (found by response_features_fuzz: it came back as
    // "Access-Control-Allow-Origin: *" with credentials), "null" and garbage get nothing.
    for (const char* bad : {"*", "null", "*xp;Q=0.9", "no-scheme.example"}) {
        SCOPED_TRACE(bad);
        o = run(creds, std::string("GET / HTTP/1.1\r\nHost: a\r\nOrigin: ") + bad + "\r\n\r\n");
        EXPECT_EQ(o.fields.find("Access-Control-Allow-"), std::string::npos);
    }
}

TEST(Cors, SubdomainWildcard) {
    auto f = cors({"https://*.example.com"}, false);
    const std::pair<const char*, bool> cases[] = {
        {"https://a.example.com", true},       {"https://a.b.example.com", true},
        {"https://example.com", false},        {"https://.example.com", false},
        {"http://a.example.com", false},       {"https://a.example.com.evil", false},
        {"https://evil/x.example.com", false}, {"https://a:b@x.example.com", false},
        {"HTTPS://A.EXAMPLE.COM", true},
    };
    for (const auto& [origin, ok] : cases) {
        outcome o = run(f, std::string("GET / HTTP/1.1\r\nHost: a\r\nOrigin: ") + origin + "\r\n\r\n");
        EXPECT_EQ(o.fields.find("Access-Control-Allow-Origin") != std::string::npos, ok) << origin;
        EXPECT_NE(o.fields.find("Vary: Origin"), std::string::npos) << origin;
    }
}

TEST(Cors, NoOriginNoHeadersAndOptionsWithoutRequestMethodIsNotAPreflight) {
    auto f = cors({"https://app.example.com"}, false);
    outcome o = run(f, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(o.fields, "");
    o = run(f, "OPTIONS / HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example.com\r\n\r\n");
    EXPECT_EQ(o.pf, preflight::none);
}

TEST(Cors, ConfigurationErrors) {
    response_features f;
    EXPECT_NE(configure_cors(f, {}, {}, {}, false, {}, 1), "");
    EXPECT_NE(configure_cors(f, {"example.com"}, {}, {}, false, {}, 1), "");
    EXPECT_NE(configure_cors(f, {"https://a.com/"}, {}, {}, false, {}, 1), "");
    EXPECT_NE(configure_cors(f, {"https://*.*.com"}, {}, {}, false, {}, 1), "");
    EXPECT_NE(configure_cors(f, {"*"}, {"G T"}, {}, false, {}, 1), "");
    EXPECT_NE(configure_cors(f, {"*"}, {}, {"bad header"}, false, {}, 1), "");
    EXPECT_FALSE(f.cors.enabled); // nothing changed on error
}

TEST(RequestId, KeptWhenValidElseNew) {
    response_features f;
    ASSERT_EQ(configure_request_id(f, "X-Request-ID"), "");
    outcome o = run(f, "GET / HTTP/1.1\r\nHost: a\r\nx-request-id: abc-123.DEF_4:5\r\n\r\n");
    EXPECT_EQ(o.id, "abc-123.DEF_4:5");
    EXPECT_EQ(o.fields, "X-Request-ID: abc-123.DEF_4:5\r\n");
    for (const char* bad : {"", "a b", "<script>", "x\"y", "a,b"}) {
        o = run(f, std::string("GET / HTTP/1.1\r\nHost: a\r\nX-Request-ID: ") + bad + "\r\n\r\n");
        EXPECT_EQ(o.id.size(), 32u) << bad;
        EXPECT_EQ(o.id.find_first_not_of("0123456789abcdef"), std::string::npos);
    }
    o = run(f, "GET / HTTP/1.1\r\nHost: a\r\nX-Request-ID: " + std::string(129, 'a') + "\r\n\r\n");
    EXPECT_EQ(o.id.size(), 32u);
    o = run(f, "GET / HTTP/1.1\r\nHost: a\r\nX-Request-ID: " + std::string(128, 'a') + "\r\n\r\n");
    EXPECT_EQ(o.id, std::string(128, 'a'));
    std::string a, b;
    new_request_id(a);
    new_request_id(b);
    EXPECT_NE(a, b);
}

TEST(Compression, NegotiatedAndPlanned) {
    response_features f;
    ASSERT_EQ(configure_compression(f, 1024, {"zstd", "br", "gzip"}, {-1, -1, -1}, {"text/csv", "font/*"}), "");
    outcome o = run(f, "GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip, br;q=0.9\r\n\r\n");
    EXPECT_EQ(o.coding, content_coding::gzip);
    o = run(f, "GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip;q=2\r\n\r\n");
    EXPECT_EQ(o.coding, content_coding::identity); // bad syntax: ignored
    o = run(f, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(o.coding, content_coding::identity);

    request_context ctx;
    ctx.features = &f;
    ctx.coding = content_coding::zstd;
    const std::string json = "Content-Type: application/json\r\n";
    struct plan_case {
        uint16_t status;
        std::string fields;
        int64_t length;
        bool file;
        bool vary;
        content_coding coding;
    } cases[] = {
        {200, json, 2048, false, true, content_coding::zstd},
        {200, json, -1, false, true, content_coding::zstd},        // streamed
        {200, json, 1023, false, false, content_coding::identity}, // below min_size
        {204, json, 2048, false, false, content_coding::identity},
        {304, json, 2048, false, false, content_coding::identity},
        {206, json + "Content-Range: bytes 0-1/2\r\n", 2048, false, false, content_coding::identity},
        {200, json, 2048, true, false, content_coding::identity}, // files go by sendfile
        {200, json + "content-encoding: gzip\r\n", 2048, false, false, content_coding::identity},
        {200, json + "Cache-Control: no-transform\r\n", 2048, false, false, content_coding::identity},
        {200, "Content-Type: image/png\r\n", 2048, false, false, content_coding::identity},
        {200, "Content-Type: image/svg+xml\r\n", 2048, false, true, content_coding::zstd},
        {200, "Content-Type: application/octet-stream\r\n", 2048, false, false, content_coding::identity},
        {200, "Content-Type: video/mp4\r\n", 2048, false, false, content_coding::identity},
        {200, "Content-Type: text/csv; charset=utf-8\r\n", 2048, false, false, content_coding::identity},
        {200, "Content-Type: font/ttf\r\n", 2048, false, false, content_coding::identity},
        {200, "Content-Type: text/html; charset=utf-8\r\n", 2048, false, true, content_coding::zstd},
        {200, "", 2048, false, false, content_coding::identity}, // no type: left alone
        {404, json, 4096, false, true, content_coding::zstd},
    };
    for (const auto& c : cases) {
        compression_plan p = plan_compression(f, ctx, c.status, c.fields, c.length, c.file);
        EXPECT_EQ(p.vary, c.vary) << c.status << " " << c.fields;
        EXPECT_EQ(p.coding, c.coding) << c.status << " " << c.fields;
    }
    ctx.head_request = true;
    compression_plan head = plan_compression(f, ctx, 200, json, 2048, false);
    EXPECT_TRUE(head.vary);
    EXPECT_EQ(head.coding, content_coding::identity);
    std::string out;
    append_compression_fields({true, content_coding::br}, out);
    EXPECT_EQ(out, "Content-Encoding: br\r\nVary: Accept-Encoding\r\n");
}

// An app with compression alone takes a shorter look at the fields than one with CORS
// or request ids beside it: both find the same codings, the field in any place and case,
// two fields as one list, a bad one spoiling the whole, and add nothing to the head.
TEST(Compression, CompressionAloneAndWithOtherFeaturesAgree) {
    response_features alone;
    ASSERT_EQ(configure_compression(alone, 1024, {"zstd", "br", "gzip"}, {-1, -1, -1}, {}), "");
    response_features with_cors = cors({"https://app.example.com"}, false);
    ASSERT_EQ(configure_compression(with_cors, 1024, {"zstd", "br", "gzip"}, {-1, -1, -1}, {}), "");
    const struct {
        const char* fields;
        content_coding coding;
    } cases[] = {
        {"Host: a\r\n", content_coding::identity},
        {"Host: a\r\nAccept-Encoding: gzip, br;q=0.9\r\n", content_coding::gzip},
        {"aCCEPT-eNCODING: br\r\nHost: a\r\nX-Long-Field-Name: 1\r\n", content_coding::br},
        {"Host: a\r\nAccept-Encoding: gzip;q=0.5\r\nAccept-Encodings: zstd\r\n", content_coding::gzip},
        {"Host: a\r\nAccept-Encoding: gzip;q=0.6\r\nAccept-Encoding: zstd;q=0.5\r\n", content_coding::gzip},
        {"Host: a\r\nAccept-Encoding: gzip\r\nAccept-Encoding: br;q=2\r\n", content_coding::identity},
        {"Host: a\r\nAccept-Encoding: br;q=2\r\nAccept-Encoding: gzip\r\n", content_coding::identity},
        {"Host: a\r\nAccept-Encoding:\r\n", content_coding::identity},
    };
    for (const auto& c : cases) {
        const std::string req = std::string("GET / HTTP/1.1\r\n") + c.fields + "\r\n";
        outcome a = run(alone, req);
        EXPECT_EQ(a.coding, c.coding) << c.fields;
        EXPECT_EQ(a.pf, preflight::none) << c.fields;
        EXPECT_EQ(a.fields, "") << c.fields;
        outcome b = run(with_cors, req);
        EXPECT_EQ(b.coding, c.coding) << c.fields;
    }
}

TEST(Compression, AutomaticLevelsAreFastForSmallBodies) {
    response_features f;
    ASSERT_EQ(configure_compression(f, 0, {"zstd", "br", "gzip"}, {-1, 9, -1}, {}), "");
    const compression_settings& s = f.compression;
    EXPECT_EQ(compression_level(s, content_coding::gzip, 2048), tiny_gzip_level);
    EXPECT_EQ(compression_level(s, content_coding::gzip, 0), 1); // a streamed piece
    EXPECT_EQ(compression_level(s, content_coding::gzip, small_body), 6);
    EXPECT_EQ(compression_level(s, content_coding::zstd, 2048), tiny_zstd_level); // tiny
    EXPECT_EQ(compression_level(s, content_coding::zstd, 8192), tiny_zstd_level); // tiny up to 32 KiB
    EXPECT_EQ(compression_level(s, content_coding::zstd, 40000), 3);
    EXPECT_EQ(compression_level(s, content_coding::br, 2048), 9); // given: always used
    EXPECT_EQ(compression_level(s, content_coding::br, 1 << 20), 9);
}

TEST(Compression, AutomaticLevelsBySize) {
    // Under tiny_body (32 KiB) each codec's own one-pass encoder (tiny_zstd_level, tiny_br_level, tiny_gzip_level);
    // up to small_body and for streamed pieces zstd 3, br 1, gzip 1; from small_body on zstd 3, br 4, gzip 6.
    response_features f;
    ASSERT_EQ(configure_compression(f, 0, {"zstd", "br", "gzip"}, {-1, -1, -1}, {}), "");
    const compression_settings& s = f.compression;
    constexpr int tg = tiny_gzip_level;
    constexpr int tb = tiny_br_level;
    constexpr int tz = tiny_zstd_level;
    struct {
        uint64_t size;
        int zstd, br, gzip;
    } cases[] = {{1, tz, tb, tg},           {1024, tz, tb, tg},          {2055, tz, tb, tg},   {4096, tz, tb, tg},
                 {8397, tz, tb, tg},        {tiny_body - 1, tz, tb, tg}, {tiny_body, 3, 1, 1}, {48000, 3, 1, 1},
                 {small_body - 1, 3, 1, 1}, {small_body, 3, 4, 6},       {1 << 30, 3, 4, 6},   {0, 3, 1, 1}};
    static_assert(tiny_body == 32 * 1024);
    for (auto c : cases) {
        EXPECT_EQ(compression_level(s, content_coding::zstd, c.size), c.zstd) << c.size;
        EXPECT_EQ(compression_level(s, content_coding::br, c.size), c.br) << c.size;
        EXPECT_EQ(compression_level(s, content_coding::gzip, c.size), c.gzip) << c.size;
    }
}

// A whole body through compress_answer: the Content-Encoding chosen, and whether the
// coded bytes are exactly compress_whole's at `level` (the level that was used).
struct coded {
    std::string encoding;
    std::string body;
};

coded answer(const response_features& f, const std::string& accept, size_t size) {
    parsed p("GET /json HTTP/1.1\r\nHost: a\r\nAccept-Encoding: " + accept + "\r\n\r\n");
    request_context ctx;
    std::string id, reason;
    (void)decorate_request(f, p.head, ctx, id, reason);
    std::string json = R"({"items":[)";
    for (size_t i = 0; json.size() < size; ++i) {
        json += R"({"id":)" + std::to_string(i) + R"(,"name":"Alpha Widget","category":"electronics","price":)" +
                std::to_string(i * 37 % 500) + R"(,"quantity":)" + std::to_string(i % 20) +
                R"(,"active":true,"tags":["sale","popular"],"rating":{"score":48,"count":)" +
                std::to_string(i * 13 % 90) + "}},";
    }
    json.resize(size);
    std::string_view fields = "Content-Type: application/json\r\n", body = json;
    std::string fields_out, body_out;
    EXPECT_TRUE(compress_answer(ctx, 200, fields, body, fields_out, body_out));
    coded c;
    size_t at = fields.find("Content-Encoding: ");
    if (at != std::string_view::npos) {
        c.encoding = std::string(fields.substr(at + 18, fields.find('\r', at) - at - 18));
    }
    c.body.assign(body);
    return c;
}

bool coded_at(const coded& c, content_coding coding, int level, size_t size, const response_features& f) {
    coded plain = answer(f, "identity", size);
    std::string expect;
    return compress_whole(coding, level, plain.body, expect) && expect == c.body;
}

TEST(Compression, WholeBodyCodingAndLevelByAcceptEncodingAndSize) {
    // The automatic choice (docs/middleware-native.md, "Compression"): under tiny_body the codings the
    // client weighs equally go gzip, br, zstd (the tiny encoders' cost per byte saved);
    // from tiny_body on, the server's order (zstd, br, gzip) at the fast levels (zstd 3,
    // br 1, gzip 1), from small_body on the defaults.
    response_features f;
    ASSERT_EQ(configure_compression(f, 1024, {"zstd", "br", "gzip"}, {-1, -1, -1}, {}), "");
    const content_coding gz = content_coding::gzip, br = content_coding::br, zs = content_coding::zstd;
    struct {
        const char* accept;
        size_t size;
        const char* encoding;
        content_coding coding;
        int level;
    } cases[] = {
        // HttpArena's json-comp client and its body sizes (4.2-8.4 KB).
        {"gzip, br", 4190, "gzip", gz, tiny_gzip_level},
        {"gzip, br", 8397, "gzip", gz, tiny_gzip_level},
        {"gzip, br", 2048, "gzip", gz, tiny_gzip_level},
        {"gzip, br", tiny_body - 1, "gzip", gz, tiny_gzip_level},
        {"gzip, br", tiny_body, "br", br, 1},
        {"gzip, br", 48000, "br", br, 1},
        {"gzip, br", small_body, "br", br, 4},
        {"gzip, deflate, br, zstd", 8397, "gzip", gz, tiny_gzip_level},
        {"gzip, deflate, br, zstd", 48000, "zstd", zs, 3},
        {"br", 8397, "br", br, tiny_br_level},
        {"br", 48000, "br", br, 1},
        {"zstd, br", 8397, "br", br, tiny_br_level},
        {"zstd", 8397, "zstd", zs, tiny_zstd_level},
        {"gzip", 48000, "gzip", gz, 1},
        {"gzip", small_body, "gzip", gz, 6},
        // The client's weights come first.
        {"gzip;q=0.5, br", 8397, "br", br, tiny_br_level},
        {"gzip, zstd;q=0.9", 48000, "gzip", gz, 1},
    };
    for (const auto& c : cases) {
        coded got = answer(f, c.accept, c.size);
        EXPECT_EQ(got.encoding, c.encoding) << c.accept << " " << c.size;
        EXPECT_TRUE(coded_at(got, c.coding, c.level, c.size, f)) << c.accept << " " << c.size << " level " << c.level;
    }
    // Nothing acceptable: identity, whatever the size.
    EXPECT_EQ(answer(f, "deflate", 8397).encoding, "");

    // A level given for any coding keeps the server's order for every size.
    response_features given;
    ASSERT_EQ(configure_compression(given, 1024, {"zstd", "br", "gzip"}, {-1, 2, -1}, {}), "");
    coded g = answer(given, "gzip, br", 8397);
    EXPECT_EQ(g.encoding, "br");
    EXPECT_TRUE(coded_at(g, br, 2, 8397, given));
}

TEST(Compression, ConfigurationErrors) {
    response_features f;
    EXPECT_NE(configure_compression(f, 0, {}, {}, {}), "");
    EXPECT_NE(configure_compression(f, 0, {"deflate"}, {-1}, {}), "");
    EXPECT_NE(configure_compression(f, 0, {"gzip", "gzip"}, {-1, -1}, {}), "");
    EXPECT_NE(configure_compression(f, 0, {"gzip"}, {10}, {}), "");
    EXPECT_NE(configure_compression(f, 0, {"gzip"}, {-1}, {"text"}), "");
    EXPECT_FALSE(f.compression.enabled);
}

TEST(SecurityHeaders, HandlerValueWins) {
    response_features f;
    ASSERT_EQ(configure_security_headers(f, {{"X-Content-Type-Options", "nosniff"}, {"X-Frame-Options", "DENY"}}), "");
    request_context ctx;
    ctx.features = &f;
    std::string out;
    append_feature_fields(ctx, "", out);
    EXPECT_EQ(out, "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n");
    out.clear();
    append_feature_fields(ctx, "x-frame-options: SAMEORIGIN\r\n", out);
    EXPECT_EQ(out, "X-Content-Type-Options: nosniff\r\n");
    EXPECT_NE(configure_security_headers(f, {{"Bad Name", "x"}}), "");
    EXPECT_NE(configure_security_headers(f, {{"X-A", "a\r\nb"}}), "");
}

} // namespace
