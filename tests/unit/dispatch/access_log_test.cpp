// The access-log line: the client's text (method, target, request id) shares what the rest
// of the line leaves, so the status, size and time end every line whatever the target's length.
#include "dispatch/access_log.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <regex>
#include <string>

namespace ringbolt::dispatch {
namespace {

constexpr std::string_view all_atoms = "%(h)s:%(p)s %(m)s \"%(r)s\" %(U)s?%(q)s %(H)s %(s)s %(S)s %(b)s %(B)s %(D)s "
                                       "%(L)s %(i)s %(t)s";

std::string line_of(const access_entry& e) {
    std::array<char, access_line_max> out{};
    size_t n = format_access_line(e, out);
    EXPECT_LE(n, access_line_max);
    return {out.data(), n};
}

void configure(std::string_view format) {
    ASSERT_EQ(configure_access_log(false, format), "");
}

// What a piece of the client's text became in a line: as it was, or its start and the
// count of the bytes the marker says were left out.
struct shown_text {
    std::string start;
    size_t left_out = 0;
};

shown_text parse_cut(const std::string& shown) {
    static const std::regex cut(R"(^(.*)\.\.\.\[\+(\d+)\]$)");
    std::smatch m;
    if (std::regex_match(shown, m, cut)) {
        return {m[1].str(), std::stoul(m[2].str())};
    }
    return {shown, 0};
}

http::peer_address longest_peer() {
    http::peer_address p;
    p.family = AF_INET6;
    p.port = 65535;
    std::fill(std::begin(p.addr), std::end(p.addr), 0xff); // "ffff:...:ffff"
    return p;
}

struct target_case {
    const char* name;
    std::string target;
    bool cut;
};

TEST(AccessLog, TheDefaultLineEndsWithItsStatusWhateverTheTargetsLength) {
    configure(default_access_format);
    http::peer_address peer = longest_peer();
    const target_case cases[] = {
        {"short", "/users/7?x=1", false},
        {"just under the line", "/" + std::string(800, 'a'), false},
        {"over the line", "/" + std::string(2000, 'b'), true},
        {"over the request-line limit", "/" + std::string(100000, 'c'), true},
    };
    for (const auto& c : cases) {
        std::string line = line_of({&peer, "GET", c.target, 1, 414, 120, 0, {}});
        std::smatch m;
        static const std::regex whole(R"(^\[ringbolt\] ACCESS: [0-9a-f:]+:65535 - "GET (\S+) HTTP/1\.1" 414 (.+)$)");
        ASSERT_TRUE(std::regex_match(line, m, whole)) << c.name << ": " << line;
        EXPECT_EQ(m[2].str(), "URI Too Long") << c.name;
        shown_text t = parse_cut(m[1].str());
        EXPECT_EQ(t.left_out != 0, c.cut) << c.name << ": " << line;
        EXPECT_EQ(t.start + c.target.substr(t.start.size()), c.target) << c.name; // a prefix
        EXPECT_EQ(t.start.size() + t.left_out, c.target.size()) << c.name;
        if (c.cut) {
            EXPECT_GT(line.size(), access_line_max - 80) << c.name << ": the target takes what the line leaves";
        }
    }
}

TEST(AccessLog, EveryAtomReachesTheLineWhenTheClientsTextIsLong) {
    configure(all_atoms);
    http::peer_address peer = longest_peer();
    std::string target = "/" + std::string(5000, 'p') + "?" + std::string(5000, 'q');
    std::string method(3000, 'M');
    std::string request_id(3000, 'i');
    std::string line = line_of({&peer, method, target, 1, 503, 1234567, 0, request_id});
    static const std::regex tail(R"( HTTP/1\.1 503 Service Unavailable 1234567 1234567 0 0\.000000 (\S+) )"
                                 R"(\[\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d \+0000\]$)");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(line, m, tail)) << line;
    EXPECT_EQ(parse_cut(m[1].str()).start.size() + parse_cut(m[1].str()).left_out, request_id.size());
}

// Each piece is whole when it is shorter than its share; the longer ones share the rest alike.
TEST(AccessLog, AShortPieceIsWholeAndTheLongOnesShareTheRest) {
    configure("%(U)s|%(q)s|%(s)s");
    struct share_case {
        const char* name;
        size_t path, query;
        bool path_cut, query_cut;
    } cases[] = {
        {"both fit", 300, 600, false, false},
        {"a short path, a long query", 10, 5000, false, true},
        {"a long path, a short query", 5000, 10, true, false},
        {"both long", 5000, 5000, true, true},
    };
    for (const auto& c : cases) {
        std::string path = "/" + std::string(c.path - 1, 'u');
        std::string query(c.query, 'v');
        std::string line = line_of({nullptr, "GET", path + "?" + query, 1, 200, 6, 0, {}});
        std::smatch m;
        static const std::regex parts(R"(^\[ringbolt\] ACCESS: ([^|]*)\|([^|]*)\|200$)");
        ASSERT_TRUE(std::regex_match(line, m, parts)) << c.name << ": " << line;
        shown_text u = parse_cut(m[1].str());
        shown_text q = parse_cut(m[2].str());
        EXPECT_EQ(u.left_out != 0, c.path_cut) << c.name;
        EXPECT_EQ(q.left_out != 0, c.query_cut) << c.name;
        EXPECT_EQ(u.start.size() + u.left_out, path.size()) << c.name;
        EXPECT_EQ(q.start.size() + q.left_out, query.size()) << c.name;
        if (c.path_cut && c.query_cut) {
            EXPECT_EQ(m[1].length(), m[2].length()) << c.name << ": equal shares";
        }
    }
}

// A cut keeps an escape whole and a UTF-8 sequence out rather than split.
TEST(AccessLog, ACutSplitsNeitherAnEscapeNorAUtf8Sequence) {
    configure("%(U)s %(s)s");
    struct unit_case {
        const char* name;
        std::string unit;
    } cases[] = {{"control bytes", "\x01"}, {"two-byte UTF-8", "\xc3\xa9"}, {"four-byte UTF-8", "\xf0\x9f\x98\x80"}};
    for (const auto& c : cases) {
        for (size_t lead = 0; lead < 4; ++lead) { // every alignment of the units against the cut
            std::string path = "/" + std::string(lead, 'x');
            while (path.size() < 3000) {
                path += c.unit;
            }
            std::string line = line_of({nullptr, "GET", path, 1, 200, 0, 0, {}});
            ASSERT_TRUE(line.ends_with(" 200")) << c.name << ": " << line;
            std::string shown = line.substr(19, line.size() - 19 - 4);
            shown_text t = parse_cut(shown);
            ASSERT_NE(t.left_out, 0u) << c.name;
            if (c.unit == "\x01") {
                EXPECT_TRUE(t.start.ends_with("\\x01") || t.start.size() == 1 + lead) << c.name << ": " << t.start;
                EXPECT_EQ(t.start.find('\x01'), std::string::npos) << c.name;
                size_t escapes = (t.start.size() - 1 - lead) / 4;
                EXPECT_EQ(1 + lead + escapes + t.left_out, path.size()) << c.name;
            } else {
                EXPECT_EQ((t.start.size() - 1 - lead) % c.unit.size(), 0u) << c.name << ", lead " << lead;
                EXPECT_EQ(t.start.size() + t.left_out, path.size()) << c.name;
            }
        }
    }
}

TEST(AccessLog, AFormatThatLeavesTheClientTooLittleIsRefused) {
    std::string error = configure_access_log(true, std::string(950, '-') + "%(r)s %(s)s");
    EXPECT_NE(error.find("fewer than 64 bytes each"), std::string::npos) << error;
    EXPECT_NE(configure_access_log(true, std::string(1000, '-') + "%(s)s").find("take up to"), std::string::npos);
    EXPECT_EQ(configure_access_log(false, std::string(700, '-') + "%(r)s %(s)s"), "");
}

} // namespace
} // namespace ringbolt::dispatch
