// Tests for http/multipart: a table of bodies, each parsed in one piece, at every split
// point in two pieces and one byte at a time, which must all give the same parts/error.
#include "http/multipart.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace std::literals;
using namespace ringbolt::http;

namespace {

struct recorded_part {
    std::string name, filename, content_type, data;
    bool has_filename = false;
    size_t headers = 0;
    bool operator==(const recorded_part&) const = default;
};

struct recorder final : multipart_sink {
    std::vector<recorded_part> parts;
    bool open = false;
    bool on_part_begin(const multipart_part& p) override {
        EXPECT_FALSE(open);
        open = true;
        parts.push_back({p.name, p.filename, std::string(p.content_type), "", p.has_filename, p.headers.size()});
        return true;
    }
    bool on_part_data(std::string_view d) override {
        EXPECT_TRUE(open);
        EXPECT_FALSE(d.empty());
        parts.back().data.append(d);
        return true;
    }
    bool on_part_end() override {
        EXPECT_TRUE(open);
        open = false;
        return true;
    }
};

struct outcome {
    multipart_status_code status;
    multipart_error error;
    std::vector<recorded_part> parts;
};

outcome parse(std::string_view boundary, std::string_view body, const std::vector<size_t>& pieces,
              const multipart_limits& limits = {}) {
    multipart_parser p(boundary, limits);
    recorder r;
    multipart_status_code st = multipart_status_code::incomplete;
    size_t pos = 0;
    size_t k = 0;
    while (pos < body.size() && st == multipart_status_code::incomplete) {
        size_t len = k < pieces.size() ? pieces[k++] : body.size() - pos;
        len = std::min(len, body.size() - pos);
        std::string piece(body.substr(pos, len)); // an exact-size copy: reads past it are caught by ASan
        st = p.feed(piece, r);
        pos += len;
    }
    if (st == multipart_status_code::incomplete) {
        st = p.finish();
    }
    return {st, p.error(), r.parts};
}

void check_all_splits(std::string_view boundary, std::string_view body, const multipart_limits& limits = {}) {
    outcome whole = parse(boundary, body, {}, limits);
    for (size_t cut = 0; cut <= body.size(); ++cut) {
        outcome two = parse(boundary, body, {cut}, limits);
        EXPECT_EQ(two.status, whole.status) << "split at " << cut;
        EXPECT_EQ(two.error, whole.error) << "split at " << cut;
        if (whole.status != multipart_status_code::error) {
            EXPECT_EQ(two.parts, whole.parts) << "split at " << cut;
        }
    }
    outcome bytes = parse(boundary, body, std::vector<size_t>(body.size(), 1), limits);
    EXPECT_EQ(bytes.status, whole.status);
    EXPECT_EQ(bytes.error, whole.error);
    if (whole.status != multipart_status_code::error) {
        EXPECT_EQ(bytes.parts, whole.parts);
    }
}

constexpr std::string_view simple = "--XyZ\r\n"
                                    "Content-Disposition: form-data; name=\"title\"\r\n"
                                    "\r\n"
                                    "hello\r\nworld\r\n"
                                    "--XyZ\r\n"
                                    "Content-Disposition: form-data; name=\"file\"; filename=\"a b.txt\"\r\n"
                                    "Content-Type: text/plain\r\n"
                                    "\r\n"
                                    "line1\r\n--XyQ\r\n\r\r\n--Xy\r\n"
                                    "--XyZ--\r\n"
                                    "epilogue is ignored";

TEST(Multipart, ParsesFieldsAndFilesAtEverySplit) {
    outcome o = parse("XyZ", simple, {});
    ASSERT_EQ(o.status, multipart_status_code::complete);
    ASSERT_EQ(o.parts.size(), 2u);
    EXPECT_EQ(o.parts[0], (recorded_part{"title", "", "", "hello\r\nworld", false, 1}));
    EXPECT_EQ(o.parts[1], (recorded_part{"file", "a b.txt", "text/plain", "line1\r\n--XyQ\r\n\r\r\n--Xy", true, 2}));
    check_all_splits("XyZ", simple);
}

struct error_case {
    std::string_view what;
    std::string_view boundary;
    std::string_view body;
    multipart_error error;
    multipart_limits limits = {};
};

const std::vector<error_case> error_cases = {
    {"bad boundary char", "a\r\nb", "--a\r\n", multipart_error::bad_boundary},
    {"empty boundary", "", "--\r\n", multipart_error::bad_boundary},
    {"boundary too long", std::string_view("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
     "", multipart_error::bad_boundary},
    {"truncated in headers", "b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n", multipart_error::truncated},
    {"truncated in body", "b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc\r\n--b",
     multipart_error::truncated},
    {"no delimiter at all", "b", "just some bytes", multipart_error::truncated},
    {"empty body", "b", "", multipart_error::truncated},
    {"junk after delimiter", "b", "--bX\r\n", multipart_error::bad_delimiter},
    {"single dash close", "b", "--b-x", multipart_error::bad_delimiter},
    {"bare LF after delimiter", "b", "--b\n", multipart_error::bad_delimiter},
    {"header without colon", "b", "--b\r\nContent-Disposition form-data\r\n\r\n--b--",
     multipart_error::bad_part_header},
    {"header bare LF", "b", "--b\r\nContent-Disposition: form-data; name=a\n\r\n--b--",
     multipart_error::bad_part_header},
    {"obs-fold", "b", "--b\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\n--b--",
     multipart_error::bad_part_header},
    {"bad header name", "b", "--b\r\nCont(ent: x\r\n\r\n--b--", multipart_error::bad_part_header},
    {"no disposition", "b", "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", multipart_error::bad_disposition},
    {"no headers", "b", "--b\r\n\r\nx\r\n--b--", multipart_error::bad_disposition},
    {"not form-data", "b", "--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--",
     multipart_error::bad_disposition},
    {"no name", "b", "--b\r\nContent-Disposition: form-data; filename=\"x\"\r\n\r\nx\r\n--b--",
     multipart_error::bad_disposition},
    {"unclosed quote", "b", "--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--",
     multipart_error::bad_disposition},
    {"two names", "b", "--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nx\r\n--b--",
     multipart_error::bad_disposition},
    {"name too long",
     "b",
     "--b\r\nContent-Disposition: form-data; name=\"abcdefghijk\"\r\n\r\nx\r\n--b--",
     multipart_error::name_too_long,
     {.max_name_length = 10}},
    {"too many parts",
     "b",
     "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
     "--b\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n"
     "--b\r\nContent-Disposition: form-data; name=c\r\n\r\n3\r\n--b--",
     multipart_error::too_many_parts,
     {.max_parts = 2}},
    {"part too large",
     "b",
     "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n0123456789A\r\n--b--",
     multipart_error::part_too_large,
     {.max_part_size = 10}},
    {"headers too large",
     "b",
     "--b\r\nContent-Disposition: form-data; name=a\r\nX-Pad: 0123456789\r\n\r\n--b--",
     multipart_error::header_too_large,
     {.max_header_bytes = 50}},
};

TEST(Multipart, RefusesMalformedBodiesAtEverySplit) {
    for (const error_case& c : error_cases) {
        SCOPED_TRACE(std::string(c.what));
        outcome o = parse(c.boundary, c.body, {}, c.limits);
        EXPECT_EQ(o.status, multipart_status_code::error);
        EXPECT_EQ(o.error, c.error);
        check_all_splits(c.boundary, c.body, c.limits);
    }
}

TEST(Multipart, LimitsAtTheirEdgeAreAccepted) {
    multipart_limits l{.max_parts = 1, .max_part_size = 10, .max_header_bytes = 1024, .max_name_length = 3};
    outcome o = parse("b", "--b\r\nContent-Disposition: form-data; name=abc\r\n\r\n0123456789\r\n--b--", {}, l);
    ASSERT_EQ(o.status, multipart_status_code::complete);
    EXPECT_EQ(o.parts[0].data, "0123456789");
}

TEST(Multipart, DispositionParameters) {
    struct c {
        std::string_view header;
        std::string name, filename;
        bool has_filename;
    };
    const std::vector<c> cases = {
        {"form-data; name=plain", "plain", "", false},
        {"FORM-DATA ;name = \"sp ace\" ; filename=\"x.bin\"", "sp ace", "x.bin", true},
        {"form-data; name=\"q\\\"uote\"; filename=\"C:\\\\dir\\\\f.txt\"", "q\"uote", "C:\\dir\\f.txt", true},
        {"form-data; name=f; filename=\"\"", "f", "", true},
        {"form-data; name=f; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt", "f",
         "\xE2\x82\xAC rates.txt", true},
        {"form-data; name=f; filename*=utf-8'en'na%C3%AFve.txt; filename=\"later.txt\"", "f", "na\xC3\xAFve.txt", true},
        {"form-data; name=f; filename*=iso-8859-1''caf%E9", "f", "caf\xC3\xA9", true},
        {"form-data; name=f; filename=\"keep\"; filename*=koi8-r''%E9", "f", "keep", true},
        {"form-data; name=f; filename=\"keep\"; filename*=UTF-8''%zz", "f", "keep", true},
        {"form-data; name=\"\"", "", "", false},
        {"form-data; name=a;", "a", "", false},
    };
    for (const c& k : cases) {
        SCOPED_TRACE(std::string(k.header));
        std::string body = "--b\r\nContent-Disposition: " + std::string(k.header) + "\r\n\r\nv\r\n--b--";
        outcome o = parse("b", body, {});
        ASSERT_EQ(o.status, multipart_status_code::complete);
        ASSERT_EQ(o.parts.size(), 1u);
        EXPECT_EQ(o.parts[0].name, k.name);
        EXPECT_EQ(o.parts[0].filename, k.filename);
        EXPECT_EQ(o.parts[0].has_filename, k.has_filename);
    }
}

TEST(Multipart, PreamblePaddingAndEmptyForm) {
    std::string_view body = "preamble\r\n--b \t\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n--b--";
    outcome o = parse("b", body, {});
    ASSERT_EQ(o.status, multipart_status_code::complete);
    ASSERT_EQ(o.parts.size(), 1u);
    EXPECT_EQ(o.parts[0].data, "");
    check_all_splits("b", body);
    EXPECT_EQ(parse("b", "--b--", {}).status, multipart_status_code::complete);
}

TEST(Multipart, BoundaryHelpers) {
    EXPECT_EQ(boundary_of("multipart/form-data; boundary=abc"), "abc");
    EXPECT_EQ(boundary_of("multipart/form-data; charset=x; BOUNDARY=\"a b:c\""), "a b:c");
    EXPECT_EQ(boundary_of("multipart/form-data"), "");
    EXPECT_EQ(boundary_of("multipart/form-data; boundary=\"unclosed"), "");
    EXPECT_TRUE(valid_boundary("----WebKitFormBoundary7MA4YWxkTrZu0gW"));
    EXPECT_FALSE(valid_boundary("ends with space "));
    EXPECT_FALSE(valid_boundary("semi;colon"));
    EXPECT_EQ(multipart_status(multipart_error::part_too_large), 413);
    EXPECT_EQ(multipart_status(multipart_error::truncated), 400);
    EXPECT_NE(multipart_message(multipart_error::too_many_parts, {.max_parts = 7}).find("7"), std::string::npos);
}

} // namespace
