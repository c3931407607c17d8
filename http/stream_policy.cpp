// The stream rules' out-of-line part: the one log line of a connection ended for an error.
#include "http/stream_policy.hpp"

#include "core/log.hpp"
#include "http/app_message.hpp"

#include <arpa/inet.h>

namespace ringbolt::http {

void log_connection_error(const peer_address& peer, std::string_view protocol, std::string_view code_name,
                          uint64_t code, std::string_view reason) noexcept {
    if (!core::log_enabled(core::log_level::debug)) {
        return;
    }
    char host[INET6_ADDRSTRLEN] = "?";
    if (peer.family != 0) {
        inet_ntop(peer.family, peer.addr, host, sizeof(host));
    }
    core::log(core::log_level::debug, "%.*s connection from %s port %u closed: %.*s (0x%llx): %.*s",
              static_cast<int>(protocol.size()), protocol.data(), host, peer.port, static_cast<int>(code_name.size()),
              code_name.data(), static_cast<unsigned long long>(code), static_cast<int>(reason.size()), reason.data());
}

} // namespace ringbolt::http
