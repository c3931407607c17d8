// The uring tests' io_events: records each connection slot's completions (what a send
// returned, the bytes received, whether and how its multishot recv ended).
#pragma once

#include "uring/backend.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ringbolt::uring {

class io_recorder final : public io_events {
  public:
    explicit io_recorder(size_t n) : sent(n, -1), received(n), recv_ended(n, false) {}
    void on_accept(int) noexcept override {}
    void on_accept_end(int) noexcept override {}
    void on_recv(uint32_t slot, uint16_t, const char* data, size_t len) noexcept override {
        received[slot].append(data, len);
    }
    void on_recv_end(uint32_t slot, uint16_t, recv_end how) noexcept override {
        recv_ended[slot] = true; // (armed again by the test, as the reactor does)
        last_end = how;
    }
    void on_send(uint32_t slot, uint16_t, int res) noexcept override { sent[slot] = res; }
    void on_writable(uint32_t, uint16_t, int) noexcept override {}

    std::vector<int> sent;
    std::vector<std::string> received;
    std::vector<bool> recv_ended;
    recv_end last_end = recv_end::rearm;
};

} // namespace ringbolt::uring
