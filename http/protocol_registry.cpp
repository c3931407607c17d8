// The protocol registry: a handful of entries searched in order (a lookup happens once
// per connection at most, or per Upgrade request), so a vector is all it needs.
#include "http/protocol_registry.hpp"

#include "core/strings.hpp"

namespace ringbolt::http {

void protocol_registry::add(const protocol_choice& how, std::unique_ptr<protocol_upgrade> make) {
    _entries.push_back(entry{how, std::move(make)});
}

protocol_upgrade* protocol_registry::by_alpn(std::string_view id) const noexcept {
    if (id.empty()) {
        return nullptr;
    }
    for (const entry& e : _entries) {
        if (e.how.alpn == id) {
            return e.make.get();
        }
    }
    return nullptr;
}

protocol_upgrade* protocol_registry::by_preface(std::string_view first_bytes) const noexcept {
    for (const entry& e : _entries) {
        std::string_view p = e.how.preface;
        if (p.empty()) {
            continue;
        }
        size_t n = first_bytes.size() < p.size() ? first_bytes.size() : p.size();
        if (n >= (p.size() < preface_prefix_min ? p.size() : preface_prefix_min) &&
            first_bytes.substr(0, n) == p.substr(0, n)) {
            return e.make.get();
        }
    }
    return nullptr;
}

protocol_upgrade* protocol_registry::by_upgrade(std::string_view upgrade_value,
                                                std::string_view& token) const noexcept {
    for (const entry& e : _entries) {
        if (!e.how.upgrade.empty() && core::lists_token(upgrade_value, e.how.upgrade)) {
            token = e.how.upgrade;
            return e.make.get();
        }
    }
    return nullptr;
}

std::vector<std::string_view> protocol_registry::alpn_ids() const {
    std::vector<std::string_view> ids;
    for (const entry& e : _entries) {
        if (!e.how.alpn.empty()) {
            ids.push_back(e.how.alpn);
        }
    }
    return ids;
}

const protocol_choice* protocol_registry::find(std::string_view name) const noexcept {
    for (const entry& e : _entries) {
        if (e.how.name == name) {
            return &e.how;
        }
    }
    return nullptr;
}

} // namespace ringbolt::http
