// Datagram sockets on io_uring: one multishot recvmsg per socket into the datagram buffer
// ring (each CQE one datagram or GRO batch, laid out as io_uring_recvmsg_out, name,
// control, payload), armed again by the backend itself when it ends without an error of
// the socket's (ENOBUFS, CQ pressure); one SENDMSG SQE per planned message.
#include "core/log.hpp"
#include "uring/uring_backend.hpp"
#include "uring/user_data.hpp"

#include <cerrno>
#include <cstring>

namespace ringbolt::uring {

core::result<void> uring_backend::setup_datagrams(const datagram_buffers& buffers) noexcept {
    if (buffers.size % 8 != 0 || buffers.size <= datagram_buffers::header_room || _dgram_buffers.buffer_size() != 0) {
        return {core::errc::invalid_argument}; // headers 8-aligned; room for a payload; once
    }
    RB_TRY(_dgram_buffers.init(_ring, 2, buffers.count, buffers.size));
    _dgram_msg.msg_namelen = datagram_buffers::name_room;
    _dgram_msg.msg_controllen = datagram_buffers::control_room;
    return {};
}

void uring_backend::arm_datagram(uint32_t id, const datagram_socket& sock) noexcept {
    if (id >= max_datagram_sockets || _dgram_buffers.buffer_size() == 0) [[unlikely]] {
        core::log(core::log_level::error, "arm_datagram(%u): id out of range or setup_datagrams not done", id);
        return;
    }
    if (id >= _dgrams.size()) {
        _dgrams.resize(id + 1);
    }
    dgram_state& st = _dgrams[id];
    st.sock = sock;
    ++st.gen;
    st.armed = true;
    st.cancelling = false;
    arm_dgram_recv(id);
}

void uring_backend::arm_dgram_recv(uint32_t id) noexcept {
    const dgram_state& st = _dgrams[id];
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recvmsg_multishot(sqe, st.sock.fd, &_dgram_msg, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = _dgram_buffers.group_id();
    io_uring_sqe_set_data64(sqe, encode_user_data(op::dgram_recv, id, st.gen));
}

void uring_backend::cancel_datagram(uint32_t id) noexcept {
    if (id >= _dgrams.size() || !_dgrams[id].armed || _dgrams[id].cancelling) {
        return;
    }
    _dgrams[id].cancelling = true;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, encode_user_data(op::dgram_recv, id, _dgrams[id].gen), 0);
    io_uring_sqe_set_data64(sqe, encode_user_data(op::cancel));
}

void uring_backend::on_dgram_recv(const io_uring_cqe* cqe, io_events& events) noexcept {
    decoded_user_data ud = decode_user_data(io_uring_cqe_get_data64(cqe));
    int res = cqe->res;
    bool has_buffer = cqe->flags & IORING_CQE_F_BUFFER;
    uint16_t bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    bool current = ud.slot < _dgrams.size() && _dgrams[ud.slot].gen == ud.gen && _dgrams[ud.slot].armed;
    if (current && res > 0 && has_buffer) [[likely]] {
        char* buf = _dgram_buffers.data(bid);
        io_uring_recvmsg_out* o = io_uring_recvmsg_validate(buf, res, &_dgram_msg);
        if (o != nullptr && (o->flags & MSG_TRUNC) != 0) {
            ++dgram_stats.truncated; // larger than a buffer: UDP has no partial datagram
        } else if (o != nullptr) {
            datagram d;
            d.peer.len = o->namelen < datagram_buffers::name_room ? o->namelen : datagram_buffers::name_room;
            std::memcpy(&d.peer.addr, io_uring_recvmsg_name(o), d.peer.len);
            const auto* control = static_cast<const unsigned char*>(io_uring_recvmsg_name(o)) + _dgram_msg.msg_namelen;
            size_t control_len = o->controllen < _dgram_msg.msg_controllen ? o->controllen : _dgram_msg.msg_controllen;
            read_datagram_control(control, control_len, _dgrams[ud.slot].sock.port, d);
            d.data = static_cast<const char*>(io_uring_recvmsg_payload(o, &_dgram_msg));
            d.len = io_uring_recvmsg_payload_length(o, res, &_dgram_msg);
            dgram_stats.count_received(d);
            events.on_datagram(ud.slot, d);
        }
    }
    if (has_buffer) {
        _dgram_buffers.recycle(bid); // consumed by now: back to the ring
    }
    if ((cqe->flags & IORING_CQE_F_MORE) != 0 || !current) {
        return;
    }
    // The multishot recvmsg ended. The buffer ring ran dry (ENOBUFS: the datagrams wait in
    // the socket; buffers are republished before the next submit) or the kernel ended it
    // with its last datagram (res >= 0, e.g. CQ pressure): arm it again. A cancel, or an
    // error of the socket's, ends it for the caller.
    dgram_state& st = _dgrams[ud.slot];
    if (!st.cancelling && (res >= 0 || res == -ENOBUFS)) {
        dgram_stats.enobufs += res == -ENOBUFS ? 1 : 0;
        ++dgram_stats.rearms;
        arm_dgram_recv(ud.slot);
        return;
    }
    st.armed = false;
    events.on_datagram_end(ud.slot, st.cancelling ? -ECANCELED : res);
}

void uring_backend::send_datagrams(uint32_t id, datagram_send& batch) noexcept {
    if (id >= _dgrams.size() || batch.payloads.empty()) [[unlikely]] {
        core::log(core::log_level::error, "send_datagrams(%u): unknown socket or empty batch", id);
        return;
    }
    plan_datagram_messages(batch, _dgrams[id].sock, _dgrams[id].sock.gso);
    batch.socket_id = id;
    batch.inflight = static_cast<uint32_t>(batch.messages.size());
    for (size_t k = 0; k < batch.messages.size(); ++k) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_sendmsg(sqe, _dgrams[id].sock.fd, &batch.hdrs[k].msg_hdr, 0);
        io_uring_sqe_set_data64(sqe, encode_user_pointer(op::dgram_send, &batch.messages[k]));
        ++dgram_stats.send_messages;
        dgram_stats.gso_messages += batch.messages[k].segment_size != 0 ? 1 : 0;
    }
}

void uring_backend::on_dgram_send(const io_uring_cqe* cqe, io_events& events) noexcept {
    auto* m = decode_user_pointer<datagram_message>(io_uring_cqe_get_data64(cqe));
    datagram_send& batch = *m->batch;
    if (cqe->res >= 0) {
        batch.sent += m->count;
        dgram_stats.sent += m->count;
    } else {
        batch.error = batch.error != 0 ? batch.error : cqe->res;
        ++dgram_stats.send_errors;
        if (cqe->res == -EIO && m->segment_size != 0) {
            gso_failed(_dgrams[batch.socket_id].sock);
        }
    }
    if (--batch.inflight == 0) {
        events.on_datagrams_sent(batch.socket_id, batch);
    }
}

} // namespace ringbolt::uring
