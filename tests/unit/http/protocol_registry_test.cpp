// The protocol registry: lookups by ALPN id, preface and Upgrade token; HTTP/1.1 handing
// a connection to a protocol registered only here (a made-up one, so no code names it);
// and the composition root's list (server/protocols.cpp) following --http.
#include "http/protocol_registry.hpp"

#include "h2/connection.hpp"
#include "http/http1_connection.hpp"
#include "server/protocols.hpp"
#include "tests/support/inert_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringbolt::http {
namespace {

/// A protocol that records what it was fed.
struct recording_protocol final : test_support::inert_protocol {
    std::string fed;
    std::string upgraded_head; ///< make_upgraded: the head it answers
    bool on_data(std::string_view data, protocol_env&) override {
        fed.append(data);
        return true;
    }
};

/// Makes recording_protocols; counts what it made and how.
struct recording_factory final : protocol_upgrade {
    int made = 0;
    int upgraded = 0;
    bool refuse_upgrade = false;
    std::unique_ptr<protocol> make(uint32_t, uint32_t, const peer_address&, std::string_view pending,
                                   protocol_env& env) override {
        ++made;
        auto p = std::make_unique<recording_protocol>();
        p->on_data(pending, env);
        return p;
    }
    std::unique_ptr<protocol> make_upgraded(uint32_t, uint32_t, const peer_address&, const request_head&,
                                            std::string_view head_bytes, std::string_view, protocol_env&) override {
        if (refuse_upgrade) {
            return nullptr;
        }
        ++upgraded;
        auto p = std::make_unique<recording_protocol>();
        p->upgraded_head = std::string(head_bytes);
        p->output().append("DEMO-HELLO");
        return p;
    }
};

/// Records the requests HTTP/1.1 reports (those it did not hand on).
struct recording_dispatcher final : dispatcher {
    std::vector<std::string> targets;
    verdict on_request(protocol&, const request_event& ev, protocol_env&, std::shared_ptr<body_stream>&) override {
        targets.emplace_back(ev.head.target);
        return verdict::to_app;
    }
};

constexpr protocol_choice demo{"demo", "demo/1", "DEMO/1 hello\r\n", "demo"};

struct registry_fixture {
    protocol_registry reg;
    recording_factory* factory = nullptr;
    connection_limits limits;
    core::core_counters counters;
    recording_dispatcher dispatch;
    http1_connection conn;
    registry_fixture() {
        auto f = std::make_unique<recording_factory>();
        factory = f.get();
        reg.add(demo, std::move(f));
        conn.open(1, 1, {}, 100, limits);
    }
    protocol_env env() {
        protocol_env e{limits, "date", 100, false, counters, dispatch};
        e.protocols = &reg;
        return e;
    }
    std::string output() {
        std::string out;
        core::send_batch b;
        while (conn.output().take_front(b, 8, SIZE_MAX)) {
            for (const core::segment& s : b.segments()) {
                out.append(s.bytes());
            }
            b.reset();
        }
        return out;
    }
};

TEST(ProtocolRegistry, LooksUpByAlpnPrefaceAndUpgradeToken) {
    registry_fixture f;
    EXPECT_EQ(f.reg.by_alpn("demo/1"), f.factory);
    EXPECT_EQ(f.reg.by_alpn("http/1.1"), nullptr);
    EXPECT_EQ(f.reg.by_alpn(""), nullptr); // no ALPN: HTTP/1.1
    struct preface_case {
        std::string_view bytes;
        bool chosen;
    };
    for (auto c : std::vector<preface_case>{{"DEMO/1 hello\r\nmore", true},
                                            {"DEMO/1 hello\r\n", true},
                                            {"DEM", true}, // as much as arrived, from 3 bytes on
                                            {"DE", false},
                                            {"DEMO/2 hello\r\n", false},
                                            {"GET / HTTP/1.1\r\n", false}}) {
        EXPECT_EQ(f.reg.by_preface(c.bytes) != nullptr, c.chosen) << c.bytes;
    }
    std::string_view token;
    EXPECT_EQ(f.reg.by_upgrade("websocket, Demo", token), f.factory);
    EXPECT_EQ(token, "demo");
    EXPECT_EQ(f.reg.by_upgrade("websocket", token), nullptr);
    EXPECT_EQ(f.reg.by_upgrade("demonstration", token), nullptr); // a token, not a prefix
    ASSERT_NE(f.reg.find("demo"), nullptr);
    EXPECT_EQ(f.reg.find("demo")->alpn, "demo/1");
    EXPECT_EQ(f.reg.find("h2"), nullptr);
}

TEST(ProtocolRegistry, Http1HandsARegisteredPrefaceToItsProtocol) {
    registry_fixture f;
    auto e = f.env();
    f.conn.on_data("DEMO/1 hello\r\nfirst frame", e);
    ASSERT_TRUE(f.conn.has_successor());
    auto next = f.conn.take_successor();
    EXPECT_EQ(static_cast<recording_protocol&>(*next).fed, "DEMO/1 hello\r\nfirst frame");
    EXPECT_TRUE(f.dispatch.targets.empty());
    EXPECT_EQ(f.factory->made, 1);

    registry_fixture g; // the preface after a request is a bad request, not a switch
    auto ge = g.env();
    g.conn.on_data("GET /a HTTP/1.1\r\nHost: x\r\n\r\nDEMO/1 hello\r\n", ge);
    EXPECT_FALSE(g.conn.has_successor());
    EXPECT_EQ(g.dispatch.targets, std::vector<std::string>{"/a"});
    EXPECT_EQ(g.factory->made, 0);
}

TEST(ProtocolRegistry, Http1AnswersARegisteredUpgradeTokenWith101) {
    registry_fixture f;
    auto e = f.env();
    const std::string req = "GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: demo\r\n\r\n";
    f.conn.on_data(req, e);
    ASSERT_TRUE(f.conn.has_successor());
    auto next = f.conn.take_successor();
    EXPECT_EQ(static_cast<recording_protocol&>(*next).upgraded_head, req);
    // The 101 names the registered token, then what the new protocol queued.
    f.conn.output().splice(next->output());
    EXPECT_EQ(f.output(), "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: demo\r\n\r\nDEMO-HELLO");
    EXPECT_TRUE(f.dispatch.targets.empty());

    // Tokens nobody registered, a refusal, and TLS all stay HTTP/1.1 requests.
    struct refusal_case {
        const char* upgrade;
        bool refuse;
        bool secure;
    };
    for (auto c :
         std::vector<refusal_case>{{"websocket", false, false}, {"demo", true, false}, {"demo", false, true}}) {
        registry_fixture g;
        g.factory->refuse_upgrade = c.refuse;
        peer_address peer;
        peer.secure = c.secure;
        g.conn.open(1, 1, peer, 100, g.limits);
        auto ge = g.env();
        g.conn.on_data(
            std::string("GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ") + c.upgrade + "\r\n\r\n", ge);
        EXPECT_FALSE(g.conn.has_successor()) << c.upgrade;
        EXPECT_EQ(g.dispatch.targets, std::vector<std::string>{"/u"}) << c.upgrade;
    }
}

TEST(ProtocolRegistry, TheServerRegistersHttp2UnlessTheListenerIsHttp1Only) {
    for (auto v : {http_versions::both, http_versions::http1, http_versions::http2}) {
        server::server_config cfg;
        cfg.http = v;
        protocol_registry reg = server::protocols_for(cfg);
        bool h2 = v != http_versions::http1;
        std::string_view token;
        EXPECT_EQ(reg.by_alpn("h2") != nullptr, h2);
        EXPECT_EQ(reg.by_preface(h2::client_preface) != nullptr, h2);
        EXPECT_EQ(reg.by_upgrade("h2c", token) != nullptr, h2);
        EXPECT_EQ(reg.by_alpn("http/1.1"), nullptr); // HTTP/1.1 is where every connection starts
    }
}

// The reactor makes a connection's first protocol from the registry (it names none
// itself): the server's is HTTP/1.1 on every listener; a registry may say another.
TEST(ProtocolRegistry, ConnectionsStartWithTheFirstProtocolTheRegistryMakes) {
    protocol_registry none;
    EXPECT_EQ(none.make_first(), nullptr);
    protocol_registry demo;
    demo.set_first([]() -> std::unique_ptr<protocol> { return std::make_unique<recording_protocol>(); });
    std::unique_ptr<protocol> a = demo.make_first();
    std::unique_ptr<protocol> b = demo.make_first();
    EXPECT_NE(dynamic_cast<recording_protocol*>(a.get()), nullptr);
    EXPECT_NE(a.get(), b.get()) << "one per slot";
    for (auto v : {http_versions::both, http_versions::http1, http_versions::http2}) {
        server::server_config cfg;
        cfg.http = v;
        std::unique_ptr<protocol> first = server::protocols_for(cfg).make_first();
        EXPECT_NE(dynamic_cast<http1_connection*>(first.get()), nullptr) << static_cast<int>(v);
    }
}

// TLS offers what the registry holds, in its order: a protocol registered with an ALPN id
// is offered with no edit anywhere else; one without an id is not.
TEST(ProtocolRegistry, AlpnIdsFollowTheRegistrationsInOrder) {
    protocol_registry reg;
    EXPECT_TRUE(reg.alpn_ids().empty());
    reg.add(protocol_choice{"demo", "x-demo", "", ""}, std::make_unique<recording_factory>());
    reg.add(protocol_choice{"nameless", "", "PRI-DEMO", ""}, std::make_unique<recording_factory>());
    reg.add(h2::choice, std::make_unique<h2::starter>());
    EXPECT_EQ(reg.alpn_ids(), (std::vector<std::string_view>{"x-demo", "h2"}));
}

TEST(ProtocolRegistry, TheTlsAlpnOfferFollowsTheRegistryAndTheHttpVersions) {
    struct offer_case {
        http_versions http;
        std::vector<std::string> ids;
        bool required;
    };
    const offer_case cases[] = {
        {http_versions::both, {"h2", "http/1.1"}, false},
        {http_versions::http1, {"http/1.1"}, false},
        {http_versions::http2, {"h2"}, true}, // nothing but h2 serves: a client without it is refused
    };
    for (const auto& c : cases) {
        server::server_config cfg;
        cfg.http = c.http;
        server::alpn_choice offer = server::alpn_offer_for(cfg);
        EXPECT_EQ(offer.ids, c.ids) << static_cast<int>(c.http);
        EXPECT_EQ(offer.required, c.required) << static_cast<int>(c.http);
        // Every id offered is one the reactor can serve: the registry's, or HTTP/1.1's.
        protocol_registry reg = server::protocols_for(cfg);
        for (const std::string& id : offer.ids) {
            EXPECT_TRUE(id == http1_alpn || reg.by_alpn(id) != nullptr) << id;
        }
    }
}

} // namespace
} // namespace ringbolt::http
