// The protocol interface's default behaviour.
#include "http/protocol.hpp"

#include <cerrno>
#include <unistd.h>

namespace ringbolt::http {

void protocol::respond_file(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                            std::shared_ptr<core::file_handle> file, uint64_t offset, uint64_t length,
                            protocol_env& env) {
    // A protocol with no file segments of its own: read the range and answer with bytes.
    std::string body;
    if (file) {
        body.resize(length);
        size_t got = 0;
        while (got < length) {
            ssize_t n = ::pread(file->fd, body.data() + got, length - got, static_cast<off_t>(offset + got));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            got += static_cast<size_t>(n);
        }
        body.resize(got);
    }
    respond(seq, ctx, status, fields, body, env);
}

} // namespace ringbolt::http
