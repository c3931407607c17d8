// The string vocabulary: case-insensitive compares, OWS trimming and list walking, as
// tables of cases, plus compile-time checks (the helpers are constexpr).
#include "core/strings.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringbolt {
namespace {

static_assert(core::iequals("Content-Length", "content-length"));
static_assert(!core::iequals("content-length", "content-lengtH2"));
static_assert(core::trim_ows(" \t x y\t ") == "x y");
static_assert(core::lists_token("keep-alive, Upgrade", "upgrade"));

TEST(Strings, AsciiLower) {
    EXPECT_EQ(core::ascii_lower('A'), 'a');
    EXPECT_EQ(core::ascii_lower('Z'), 'z');
    EXPECT_EQ(core::ascii_lower('@'), '@');       // one below 'A'
    EXPECT_EQ(core::ascii_lower('['), '[');       // one above 'Z'
    EXPECT_EQ(core::ascii_lower('\xC4'), '\xC4'); // not ASCII: unchanged, whatever the locale
    EXPECT_EQ(core::ascii_lower(std::string_view("X-Request-ID: 7")), "x-request-id: 7");
}

struct compare_case {
    std::string_view a, b;
    bool equal, starts, ends;
};

TEST(Strings, CaseInsensitiveCompares) {
    const compare_case cases[] = {
        {"", "", true, true, true},
        {"Host", "host", true, true, true},
        {"HOST", "hosT", true, true, true},
        {"host", "hosts", false, false, false},
        {"hosts", "host", false, true, false},
        {"X-Host", "host", false, false, true},
        {"@", "`", false, false, false}, // equal under | 0x20, not under case folding
        {"[", "{", false, false, false},
        {"\r", "-", false, false, false},
    };
    for (const compare_case& c : cases) {
        EXPECT_EQ(core::iequals(c.a, c.b), c.equal) << c.a << " ~ " << c.b;
        EXPECT_EQ(core::istarts_with(c.a, c.b), c.starts) << c.a << " ~ " << c.b;
        EXPECT_EQ(core::iends_with(c.a, c.b), c.ends) << c.a << " ~ " << c.b;
    }
}

TEST(Strings, CompareAgainstLowerLiteral) {
    EXPECT_TRUE(core::iequals_lower("Transfer-Encoding", "transfer-encoding"));
    EXPECT_TRUE(core::iequals_lower("HOST", "host"));
    EXPECT_FALSE(core::iequals_lower("hosts", "host"));
    EXPECT_FALSE(core::iequals_lower("h0st", "host"));
}

TEST(Strings, OwsTrim) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"", ""}, {" ", ""}, {"\t\t", ""}, {"a", "a"}, {" a ", "a"}, {"\ta b\t", "a b"}, {"\r a", "\r a"},
    };
    for (const auto& [in, out] : cases) {
        EXPECT_EQ(core::trim_ows(in), out) << '[' << in << ']';
    }
    size_t pos = 1;
    core::skip_ows("x \t y", pos);
    EXPECT_EQ(pos, 4u);
    core::skip_ows("x \t y", pos);
    EXPECT_EQ(pos, 4u);
}

TEST(Strings, ListElements) {
    std::string_view list = " a , b,,c ,";
    std::vector<std::string_view> popped;
    while (!list.empty()) {
        popped.push_back(core::pop_list_element(list));
    }
    EXPECT_EQ(popped, (std::vector<std::string_view>{"a", "b", "", "c"}));

    std::vector<std::string_view> walked;
    EXPECT_TRUE(core::for_each_list_element(" a , b,,c ,", [&](std::string_view e) {
        walked.push_back(e);
        return true;
    }));
    EXPECT_EQ(walked, (std::vector<std::string_view>{"a", "b", "", "c", ""}));
    walked.clear();
    EXPECT_FALSE(core::for_each_list_element("a,stop,b", [&](std::string_view e) {
        walked.push_back(e);
        return e != "stop";
    }));
    EXPECT_EQ(walked, (std::vector<std::string_view>{"a", "stop"}));
}

struct token_case {
    std::string_view list, token;
    bool listed;
};

TEST(Strings, ListsToken) {
    const token_case cases[] = {
        {"close", "close", true},
        {"Keep-Alive, CLOSE", "close", true},
        {"keep-alive,\tclose\t", "close", true},
        {"closed", "close", false},
        {"x-close", "close", false},
        {"", "close", false},
        {",,", "close", false},
        {"foo close", "close", false}, // one element "foo close", not a list of two
        {"h2c, websocket", "websocket", true},
    };
    for (const token_case& c : cases) {
        EXPECT_EQ(core::lists_token(c.list, c.token), c.listed) << c.list << " / " << c.token;
    }
}

} // namespace
} // namespace ringbolt
