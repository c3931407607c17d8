// Each protocol a connection may be handed to, and how it is chosen (ALPN id, preface,
// Upgrade token: the protocol's `choice`). One line a protocol.
#include "server/protocols.hpp"

#include "h2/connection.hpp"
#include "http/http1_connection.hpp"

namespace ringbolt::server {

http::protocol_registry protocols_for(const server_config& config, bool websocket) {
    http::protocol_registry r;
    r.set_first([]() -> std::unique_ptr<http::protocol> { return std::make_unique<http::http1_connection>(); });
    if (config.http != http::http_versions::http1) {
        h2::settings h2_cfg;
        h2_cfg.websocket = websocket;
        r.add(h2::choice, std::make_unique<h2::starter>(h2_cfg));
    }
    return r;
}

alpn_choice alpn_offer_for(const server_config& config) {
    alpn_choice offer;
    for (std::string_view id : protocols_for(config).alpn_ids()) {
        offer.ids.emplace_back(id);
    }
    if (config.http != http::http_versions::http2) {
        offer.ids.emplace_back(http::http1_alpn);
    } else {
        offer.required = true;
    }
    return offer;
}

} // namespace ringbolt::server
