// c_ws_uring_echo: the io_uring floor for issue 11's WebSocket echo, c_ws_echo.c's
// protocol on the cheapest kernel interface this machine has. One thread, one ring
// (SINGLE_ISSUER|DEFER_TASKRUN when the kernel takes it), multishot accept, one multishot
// recv per connection into a provided buffer ring, and every send of a loop turn
// submitted with the wait for the next completions: one io_uring_enter per turn for all
// connections, however many echoes it carries.
//
// A frame that arrives whole in one provided buffer is unmasked in place and sent
// straight from that buffer: the reply header (4 bytes shorter, no mask) is written over
// the mask key just before the payload, so the reply is contiguous and nothing is copied;
// the buffer goes back to the ring when the send completes. A frame split across buffers
// (75 KiB messages, or TCP cutting one) is gathered in the connection's own buffer and its
// reply copied out. A ping gets a pong, a client pong nothing, a close gets its close echoed
// and then the connection ends. An unmasked client frame ends the connection. Not a server
// for anything else: no UTF-8 check, no size limit beyond memory, no extensions.
//
//   cc -O2 -Wall -Wextra -o c_ws_uring_echo c_ws_uring_echo.c -luring -lcrypto
//   ./c_ws_uring_echo [--zc] [--spin] [port]
//
// --zc sends replies of at least ZC_MIN bytes from provided buffers with IORING_OP_SEND_ZC
// (the buffer goes back on the notification, not the completion) and reports at exit how
// many notifications said the kernel copied after all (it does on loopback).
// --spin never sleeps: each turn submits and reaps without waiting, so no completion waits
// for this CPU to wake up (from HLT, on a VM a trip through the host); it burns the whole
// CPU, so its CPU per message is just 1/rate. It shows how much of msg/s is wake-up latency.
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ws_buf.h"
#include "ws_handshake.h"

// Newer than liburing 2.3's header; values from the kernel's include/uapi/linux/io_uring.h.
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3) // kernel 6.2
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

enum {
    RING_ENTRIES = 4096,
    CQ_ENTRIES = 16384,
    BUF_GROUP = 1,
    BUF_COUNT = 1024, // a power of two: the buffer ring's size
    BUF_SIZE = 32768, // a 16 KiB message and its 8-byte header fit in one
    ZC_MIN = 4096,
};

// user_data: the connection pointer (16-byte aligned) with the operation in its low bits;
// a zero-copy send also carries its provided buffer id + 1 in bits 48-63, so that its
// notification can give the buffer back.
enum op { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };

enum phase {
    PH_HANDSHAKE, // waiting for the whole request head
    PH_OPEN,      // echoing frames
    PH_CLOSING,   // a close frame was answered: end once the output is sent
    PH_DEAD,      // shut down: freed once no operation of it is in flight
};

// One reply waiting to be sent: bytes in a provided buffer (bid >= 0) or on the heap.
struct seg {
    unsigned char* p;
    size_t len;
    int bid;
};

struct conn {
    int fd;
    enum phase phase;
    int recv_armed;     // the multishot recv is in flight
    int send_inflight;  // at most one send per socket, so replies cannot be reordered
    int notifs_pending; // zero-copy notifications still to come
    size_t sent;        // bytes of q[0] already sent
    struct buf in;      // a request head or a frame that spans buffers
    struct seg* q;      // replies in order; q[0] is the one being sent
    size_t qlen, qcap;
};

static struct io_uring ring;
static struct io_uring_buf_ring* br;
static unsigned char* bufs;
static unsigned br_mask;
static int returns_pending;            // buffers added to the ring this turn, published at its end
static unsigned short refs[BUF_COUNT]; // zero-copy sends still reading a buffer, plus one while queued
static int listen_fd;
static int use_zc;
static int spin;
static volatile sig_atomic_t stop;
static struct { unsigned long long turns, cqes, recvs, sends, short_sends, zc_sends, zc_copied, enobufs, gathered; } st;

static void die(const char* what, int err) {
    fprintf(stderr, "c_ws_uring_echo: %s: %s\n", what, strerror(err));
    exit(1);
}

static struct io_uring_sqe* get_sqe(void) {
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (sqe == NULL) { // the SQ is full: submit what is queued (rare: 4096 entries)
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
        if (sqe == NULL) {
            die("io_uring_get_sqe", EBUSY);
        }
    }
    return sqe;
}

static uint64_t ud(struct conn* c, enum op op, int bid) {
    return (uint64_t)(uintptr_t)c | (uint64_t)op | ((uint64_t)(bid + 1) << 48);
}

static void give_back(int bid) {
    io_uring_buf_ring_add(br, bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid, br_mask, returns_pending++);
}

static void unref(int bid) {
    if (--refs[bid] == 0) {
        give_back(bid);
    }
}

static void arm_accept(void) {
    struct io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, OP_ACCEPT);
}

static void arm_recv(struct conn* c) {
    struct io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, ud(c, OP_RECV, -1));
    c->recv_armed = 1;
}

// Send (the rest of) the oldest reply, queued for this turn's submit.
static void start_send(struct conn* c) {
    struct seg* s = &c->q[0];
    struct io_uring_sqe* sqe = get_sqe();
    unsigned char* p = s->p + c->sent;
    size_t n = s->len - c->sent;
    if (use_zc && s->bid >= 0 && n >= ZC_MIN) {
        io_uring_prep_send_zc(sqe, c->fd, p, n, MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE);
        io_uring_sqe_set_data64(sqe, ud(c, OP_SEND, s->bid));
        ++refs[s->bid];
        ++st.zc_sends;
    } else {
        io_uring_prep_send(sqe, c->fd, p, n, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, ud(c, OP_SEND, -1));
    }
    c->send_inflight = 1;
    ++st.sends;
}

static void enqueue(struct conn* c, unsigned char* p, size_t len, int bid) {
    if (c->qlen == c->qcap) {
        c->qcap = c->qcap ? 2 * c->qcap : 4;
        c->q = realloc(c->q, c->qcap * sizeof *c->q);
        if (c->q == NULL) {
            die("realloc", ENOMEM);
        }
    }
    c->q[c->qlen++] = (struct seg){p, len, bid};
    if (bid >= 0) {
        ++refs[bid];
    }
    if (!c->send_inflight) {
        start_send(c);
    }
}

static void release_seg(struct seg* s) {
    if (s->bid >= 0) {
        unref(s->bid);
    } else {
        free(s->p);
    }
}

// The connection ends: shutdown() ends its multishot recv (which holds its own reference
// to the socket); it is closed and freed when nothing of it is in flight any more.
static void end_conn(struct conn* c) {
    if (c->phase != PH_DEAD) {
        c->phase = PH_DEAD;
        shutdown(c->fd, SHUT_RDWR);
    }
    if (c->recv_armed || c->send_inflight || c->notifs_pending) {
        return;
    }
    close(c->fd);
    for (size_t i = 0; i < c->qlen; ++i) {
        release_seg(&c->q[i]);
    }
    free(c->q);
    free(c->in.data);
    free(c);
}

// The opening handshake once the request head is whole: 0 to wait, 1 done, -1 refuse.
static int handshake(struct conn* c) {
    char* reply = malloc(WS_REPLY_MAX);
    size_t head_len = 0;
    int n = reply != NULL ? ws_handshake_reply(c->in.data, c->in.len, reply, &head_len) : -1;
    if (n <= 0) {
        free(reply);
        return n;
    }
    consume(&c->in, head_len);
    c->phase = PH_OPEN;
    enqueue(c, (unsigned char*)reply, (size_t)n, -1);
    return 1;
}

// XOR with the mask key, 32 bytes at a time on aligned addresses (the key rotated to
// match): 0.67 µs for 16 KiB here against 1.12 µs for unaligned 16-byte steps.
static void unmask(unsigned char* p, uint64_t len, const unsigned char key[4]) {
    typedef unsigned char v32 __attribute__((vector_size(32), may_alias));
    uint64_t i = 0;
    for (; i < len && ((uintptr_t)(p + i) & 31) != 0; ++i) {
        p[i] ^= key[i & 3];
    }
    v32 m;
    for (int j = 0; j < 32; ++j) {
        m[j] = key[(i + (uint64_t)j) & 3];
    }
    for (; i + 32 <= len; i += 32) {
        *(v32*)(p + i) ^= m;
    }
    for (; i < len; ++i) {
        p[i] ^= key[i & 3];
    }
}

// Turns the whole frames at the start of [p, end) into their replies, in place: each
// reply's header overwrites the end of its frame's header and the mask key, and replies
// after the first are moved down so that all of them are one contiguous run, returned in
// *out/*out_len. Returns the bytes of whole frames consumed, or -1 to end the connection.
static long frames(struct conn* c, unsigned char* p, unsigned char* end, unsigned char** out, size_t* out_len) {
    unsigned char* start = p;
    unsigned char* w = NULL; // end of the replies so far
    *out = NULL;
    while (c->phase == PH_OPEN && end - p >= 2) {
        unsigned b0 = p[0], opcode = b0 & 0x0f;
        if (!(p[1] & 0x80)) {
            return -1; // RFC 6455 §5.1: client frames must be masked
        }
        uint64_t len = p[1] & 0x7f;
        size_t at = 2;
        if (len == 126) {
            if (end - p < 4) {
                break;
            }
            len = ((uint64_t)p[2] << 8) | p[3];
            at = 4;
        } else if (len == 127) {
            if (end - p < 10) {
                break;
            }
            len = 0;
            for (int i = 0; i < 8; ++i) {
                len = (len << 8) | p[2 + i];
            }
            at = 10;
        }
        if ((uint64_t)(end - p) < at + 4 + len) {
            break;
        }
        unsigned char key[4];
        memcpy(key, p + at, 4);
        unsigned char* payload = p + at + 4;
        unmask(payload, len, key);
        p = payload + len;
        if (opcode == 0xA) {
            continue; // a pong from the client is not answered
        }
        // The reply header is the frame's header without the mask: `at` bytes, ending
        // right before the payload.
        unsigned char* h = payload - at;
        h[0] = (unsigned char)((b0 & 0x80) | (opcode == 0x9 ? 0xA : opcode));
        if (at == 2) {
            h[1] = (unsigned char)len;
        } else if (at == 4) {
            h[1] = 126;
            h[2] = (unsigned char)(len >> 8);
            h[3] = (unsigned char)len;
        } else {
            h[1] = 127;
            for (int i = 0; i < 8; ++i) {
                h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
            }
        }
        size_t n = at + (size_t)len;
        if (w == NULL) {
            *out = h;
        } else if (w != h) {
            memmove(w, h, n);
        }
        w = (w == NULL ? h : w) + n;
        if (opcode == 0x8) {
            c->phase = PH_CLOSING;
        }
    }
    *out_len = w == NULL ? 0 : (size_t)(w - *out);
    return p - start;
}

// Bytes the multishot recv put in provided buffer `bid`.
static void on_data(struct conn* c, int bid, size_t n) {
    unsigned char* data = bufs + (size_t)bid * BUF_SIZE;
    if (__builtin_expect(c->phase == PH_OPEN && c->in.len == 0, 1)) {
        // The common case: whole frames in this buffer, echoed from it without a copy.
        unsigned char* out;
        size_t out_len;
        long used = frames(c, data, data + n, &out, &out_len);
        if (used < 0) {
            give_back(bid);
            end_conn(c);
            return;
        }
        if (c->phase == PH_OPEN && (size_t)used < n) {
            append(&c->in, data + used, n - (size_t)used); // a frame's start: gather the rest
        }
        if (out_len > 0) {
            enqueue(c, out, out_len, bid);
        } else {
            give_back(bid);
        }
        return;
    }
    if (c->phase != PH_HANDSHAKE && c->phase != PH_OPEN) {
        give_back(bid); // closing or dead: input is dropped
        return;
    }
    // A request head, or a frame spanning buffers: gathered in c->in, replies copied out.
    ++st.gathered;
    append(&c->in, data, n);
    give_back(bid);
    if (c->phase == PH_HANDSHAKE) {
        int h = handshake(c);
        if (h < 0) {
            end_conn(c);
            return;
        }
        if (h == 0) {
            return;
        }
    }
    unsigned char* out;
    size_t out_len;
    long used = frames(c, c->in.data, c->in.data + c->in.len, &out, &out_len);
    if (used < 0) {
        end_conn(c);
        return;
    }
    if (out_len > 0) {
        unsigned char* copy = malloc(out_len);
        memcpy(copy, out, out_len);
        enqueue(c, copy, out_len, -1);
    }
    consume(&c->in, (size_t)used);
}

static void on_accept(struct io_uring_cqe* cqe) {
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        arm_accept();
    }
    if (cqe->res < 0) {
        return;
    }
    int one = 1;
    setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn* c = calloc(1, sizeof *c);
    c->fd = cqe->res;
    c->phase = PH_HANDSHAKE;
    arm_recv(c);
}

static void on_recv(struct conn* c, struct io_uring_cqe* cqe) {
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (cqe->res > 0) {
        ++st.recvs;
        on_data(c, (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT), (size_t)cqe->res);
    } else if (cqe->flags & IORING_CQE_F_BUFFER) {
        give_back((int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
    }
    if (!more) {
        c->recv_armed = 0; // only now: on_data's end_conn must not free c under us
    }
    if (c->phase == PH_DEAD) {
        end_conn(c);
        return;
    }
    if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS)) {
        end_conn(c); // EOF or an error
        return;
    }
    if (cqe->res == -ENOBUFS) {
        ++st.enobufs;
    }
    if (!more) {
        arm_recv(c); // the kernel ended it (out of buffers, or a full CQ)
    }
}

static void on_send(struct conn* c, struct io_uring_cqe* cqe) {
    if (cqe->flags & IORING_CQE_F_NOTIF) { // a zero-copy send's buffer is free again
        if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED) {
            ++st.zc_copied;
        }
        unref((int)(cqe->user_data >> 48) - 1);
        --c->notifs_pending;
        if (c->phase == PH_DEAD) {
            end_conn(c);
        }
        return;
    }
    int zc_bid = (int)(cqe->user_data >> 48) - 1;
    if (zc_bid >= 0) {
        if (cqe->flags & IORING_CQE_F_MORE) {
            ++c->notifs_pending;
        } else {
            unref(zc_bid);
        }
    }
    c->send_inflight = 0;
    if (c->phase == PH_DEAD) {
        end_conn(c);
        return;
    }
    if (cqe->res < 0) {
        end_conn(c);
        return;
    }
    c->sent += (size_t)cqe->res;
    if (c->sent < c->q[0].len) {
        ++st.short_sends;
    } else {
        release_seg(&c->q[0]);
        memmove(c->q, c->q + 1, (c->qlen - 1) * sizeof *c->q);
        --c->qlen;
        c->sent = 0;
    }
    if (c->qlen > 0) {
        start_send(c);
    } else if (c->phase == PH_CLOSING) {
        end_conn(c);
    }
}

static void setup_ring(void) {
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    static const char* names[] = {"SINGLE_ISSUER|DEFER_TASKRUN", "SINGLE_ISSUER|COOP_TASKRUN", "COOP_TASKRUN",
                                  "no flags"};
    int err = 0;
    for (unsigned i = 0; i < sizeof tries / sizeof tries[0]; ++i) {
        struct io_uring_params p = {.flags = tries[i] | IORING_SETUP_CQSIZE, .cq_entries = CQ_ENTRIES};
        err = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
        if (err == 0) {
            fprintf(stderr, "c_ws_uring_echo: ring with %s\n", names[i]);
            break;
        }
    }
    if (err != 0) {
        die("io_uring_queue_init_params", -err);
    }
    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    if (posix_memalign((void**)&br, 4096, ring_bytes) != 0 ||
        posix_memalign((void**)&bufs, 4096, (size_t)BUF_COUNT * BUF_SIZE) != 0) {
        die("posix_memalign", ENOMEM);
    }
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = BUF_COUNT, .bgid = BUF_GROUP};
    err = io_uring_register_buf_ring(&ring, &reg, 0);
    if (err != 0) {
        die("io_uring_register_buf_ring", -err);
    }
    br_mask = (unsigned)io_uring_buf_ring_mask(BUF_COUNT);
    for (int bid = 0; bid < BUF_COUNT; ++bid) {
        give_back(bid);
    }
    io_uring_buf_ring_advance(br, returns_pending);
    returns_pending = 0;
}

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

int main(int argc, char** argv) {
    int port = 8000;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--zc") == 0) {
            use_zc = 1;
        } else if (strcmp(argv[i], "--spin") == 0) {
            spin = 1;
        } else {
            port = atoi(argv[i]);
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal}; // no SA_RESTART: the wait returns -EINTR
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(listen_fd, 4096) != 0) {
        perror("bind/listen");
        return 1;
    }
    setup_ring();
    arm_accept();
    fprintf(stderr, "c_ws_uring_echo on 127.0.0.1:%d%s%s\n", port, use_zc ? " (zero-copy sends)" : "",
            spin ? " (spinning)" : "");

    while (!stop) {
        // One syscall a turn: this turn's sends and re-arms go in, the next completions come out.
        int r = spin ? io_uring_submit_and_get_events(&ring) : io_uring_submit_and_wait(&ring, 1);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            die("io_uring_submit_and_wait", -r);
        }
        ++st.turns;
        struct io_uring_cqe* cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            ++seen;
            uint64_t u = cqe->user_data;
            struct conn* c = (struct conn*)(uintptr_t)(u & 0x0000fffffffffff0ULL);
            switch ((enum op)(u & 0xf)) {
            case OP_ACCEPT:
                on_accept(cqe);
                break;
            case OP_RECV:
                on_recv(c, cqe);
                break;
            case OP_SEND:
                on_send(c, cqe);
                break;
            }
        }
        io_uring_cq_advance(&ring, seen);
        st.cqes += seen;
        if (returns_pending) { // the buffers freed this turn, published at once
            io_uring_buf_ring_advance(br, returns_pending);
            returns_pending = 0;
        }
    }
    fprintf(stderr,
            "c_ws_uring_echo: %llu turns, %llu completions (%.1f a turn), %llu recvs, %llu sends (%llu short), "
            "%llu zero-copy sends (%llu copied by the kernel), %llu ENOBUFS, %llu gathered\n",
            st.turns, st.cqes, st.turns ? (double)st.cqes / (double)st.turns : 0.0, st.recvs, st.sends, st.short_sends,
            st.zc_sends, st.zc_copied, st.enobufs, st.gathered);
    return 0;
}
