// Accept-Encoding parsing and coding choice (RFC 9110 §12.5.3, §12.4.2 for q-values).
#include "http/accept_encoding.hpp"

#include "core/strings.hpp"
#include "http/char_classes.hpp"

namespace ringbolt::http {

namespace {

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 9110 §12.4.2)
bool parse_qvalue(std::string_view v, size_t& i, int16_t& q) noexcept {
    if (i >= v.size() || (v[i] != '0' && v[i] != '1')) {
        return false;
    }
    bool one = v[i] == '1';
    ++i;
    int frac = 0;
    int digits = 0;
    if (i < v.size() && v[i] == '.') {
        ++i;
        while (i < v.size() && v[i] >= '0' && v[i] <= '9') {
            if (++digits > 3 || (one && v[i] != '0')) {
                return false;
            }
            frac = frac * 10 + (v[i] - '0');
            ++i;
        }
    }
    while (digits < 3) {
        frac *= 10;
        ++digits;
    }
    q = static_cast<int16_t>(one ? 1000 : frac);
    return true;
}

} // namespace

std::string_view coding_name(content_coding c) noexcept {
    switch (c) {
    case content_coding::gzip:
        return "gzip";
    case content_coding::br:
        return "br";
    case content_coding::zstd:
        return "zstd";
    case content_coding::identity:
        break;
    }
    return "";
}

bool coding_from_name(std::string_view name, content_coding& out) noexcept {
    if (core::iequals(name, "gzip") || core::iequals(name, "x-gzip")) {
        out = content_coding::gzip;
    } else if (core::iequals(name, "br")) {
        out = content_coding::br;
    } else if (core::iequals(name, "zstd")) {
        out = content_coding::zstd;
    } else if (core::iequals(name, "identity")) {
        out = content_coding::identity;
    } else {
        return false;
    }
    return true;
}

int16_t accept_encoding::quality(content_coding c) const noexcept {
    int16_t own = q[static_cast<size_t>(c)];
    if (own != unset) {
        return own;
    }
    if (star != unset) {
        return star;
    }
    return c == content_coding::identity ? 1000 : 0;
}

bool parse_accept_encoding(std::string_view v, accept_encoding& out) noexcept {
    out.present = true;
    size_t i = 0;
    while (true) {
        // #element: empty list elements (",,") are allowed (RFC 9110 §5.6.1)
        core::skip_ows(v, i);
        while (i < v.size() && v[i] == ',') {
            ++i;
            core::skip_ows(v, i);
        }
        if (i >= v.size()) {
            return true;
        }
        size_t start = i;
        while (i < v.size() && chars::tchar[static_cast<unsigned char>(v[i])]) {
            ++i;
        }
        if (i == start) {
            return false; // not a token
        }
        std::string_view name = v.substr(start, i - start);
        int16_t q = 1000;
        core::skip_ows(v, i);
        if (i < v.size() && v[i] == ';') {
            ++i;
            core::skip_ows(v, i);
            if (i + 2 > v.size() || (v[i] != 'q' && v[i] != 'Q') || v[i + 1] != '=') {
                return false; // the only parameter Accept-Encoding has is the weight
            }
            i += 2;
            if (!parse_qvalue(v, i, q)) {
                return false;
            }
            core::skip_ows(v, i);
        }
        if (i < v.size() && v[i] != ',') {
            return false;
        }
        int16_t* slot = nullptr;
        content_coding c;
        if (name == "*") {
            slot = &out.star;
        } else if (coding_from_name(name, c)) {
            slot = &out.q[static_cast<size_t>(c)];
        }
        if (slot != nullptr && q > *slot) {
            *slot = q;
        }
    }
}

content_coding choose_coding(const accept_encoding& ae, std::span<const content_coding> offered) noexcept {
    content_coding best = content_coding::identity;
    int16_t best_q = 0;
    for (content_coding c : offered) {
        if (c == content_coding::identity) {
            continue;
        }
        int16_t q = ae.quality(c);
        if (q > best_q) {
            best = c;
            best_q = q;
        }
    }
    // RFC 9110 §12.5.3: a coding the client weighs below an identity it named is not
    // preferred to it (an unnamed identity is acceptable, not preferred).
    int16_t identity_q = ae.q[static_cast<size_t>(content_coding::identity)];
    if (best != content_coding::identity && identity_q != accept_encoding::unset && identity_q > best_q) {
        return content_coding::identity;
    }
    return best;
}

} // namespace ringbolt::http
