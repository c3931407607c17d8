/*
 * c_uring_hello.c - the "ceiling" server of ringbolt's load comparisons, and (--drain)
 * the floor of its upload comparisons.
 *
 * Owns: nothing of ringbolt. It is a standalone, minimal HTTP/1.1 hello-world server
 * on io_uring (liburing >= 2.3) that tells how fast this machine can answer a trivial
 * request from one thread, so that every other system in benchmarks/load/ can be read
 * as a fraction of it. It is not a real HTTP server: it never looks at the request
 * line, ignores bodies, and answers every request (anything ending in "\r\n\r\n")
 * with the same 200 response.
 *
 * Design, one thread (pin it with `taskset -c N`):
 *   - one ring, SINGLE_ISSUER|DEFER_TASKRUN when the kernel has them;
 *   - one multishot accept on the listener;
 *   - one multishot recv per connection, reading into a provided buffer ring that we
 *     allocate and register ourselves (liburing 2.3 has no io_uring_setup_buf_ring);
 *   - every received chunk is scanned for "\r\n\r\n": N complete requests (pipelining)
 *     owe N responses; the scan state survives chunk boundaries;
 *   - responses are batched per connection: at most one send in flight per connection,
 *     issued after each batch of completions, with short sends resumed;
 *   - the Date header is rebuilt at most once per second.
 *
 * Drain mode (--drain) tells what this machine's kernel charges to receive N bytes on
 * loopback when a server does nothing with them (benchmarks/load/upload_bench.py runs
 * it beside ringbolt and Granian): it reads each request's head, then drains
 * Content-Length bytes of body and answers the count ("200 OK", text/plain, the number
 * of body bytes received). A body byte is looked at by nobody: only the head is copied
 * (into the connection's 8 KiB head buffer), the body's bytes are counted and the buffer
 * given back to the kernel at once. It knows only Content-Length bodies (no chunked
 * encoding) and closes a connection whose head does not fit in 8 KiB. BUF_SIZE and
 * BUF_COUNT size the buffer ring (the receive size is what the floor depends on).
 * Hello mode's path is the one it had before drain mode joined: one never-taken branch
 * per received chunk and per flush, the buffer size and count read from two statics.
 *
 * Build: cc -O2 -o c_uring_hello c_uring_hello.c -luring
 * Usage: c_uring_hello PORT [ADDR]      (ADDR defaults to 127.0.0.1)
 *        c_uring_hello --drain PORT [BUF_SIZE [BUF_COUNT]]   (4096 and 1024 by default:
 *        ringbolt's; on 127.0.0.1)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SQ_ENTRIES 1024
#define CQ_ENTRIES 8192
#define BGID 1 /* provided-buffer group id */
#ifndef BUF_COUNT
#define BUF_COUNT 1024 /* buffers in the ring, power of two (-D to override) */
#endif
#ifndef BUF_SIZE
#define BUF_SIZE 4096 /* bytes per receive buffer */
#endif
#define OUT_CAP 32768  /* per-connection send buffer */
#define HEAD_CAP 8192  /* drain mode: the longest request head */
#define QUEUE_CAP 4096 /* drain mode: answers queued while a send is in flight */
#define MAX_FDS 65536

/* user_data: operation in the top byte, fd in the low 32 bits. */
enum op { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };
#define UD(op, fd) (((__u64)(op) << 56) | (__u32)(fd))
#define UD_OP(ud) ((int)((ud) >> 56))
#define UD_FD(ud) ((int)(__u32)(ud))

struct conn {
    char* out;           /* send buffer (OUT_CAP bytes), allocated on accept */
    unsigned out_len;    /* bytes of out in the current send */
    unsigned out_off;    /* bytes of out already sent */
    unsigned owed;       /* responses owed but not yet copied into out */
    unsigned char match; /* how much of "\r\n\r\n" the last chunk ended with */
    unsigned char open, recv_armed, sending, dead, dirty;
    struct drain* drain; /* drain mode's state, allocated on accept; NULL in hello mode */
};

/* Drain mode: the request being read, and the answers not yet sent. */
struct drain {
    unsigned head_len;   /* bytes of head held */
    int in_body;         /* reading the body (else a head) */
    uint64_t body_left;  /* body bytes still to drain */
    uint64_t body_seen;  /* body bytes drained of the current request */
    unsigned queued_len; /* bytes of answers in queued (c->owed counts them) */
    char head[HEAD_CAP];
    char queued[QUEUE_CAP];
};

static struct io_uring ring;
static struct io_uring_buf_ring* br;
static char* buf_base;
static struct conn conns[MAX_FDS];
static int dirty[MAX_FDS], n_dirty; /* connections with responses to flush */
static int n_recycled;              /* buffers re-added but not yet made visible */
static int listen_fd;
static int drain_mode;
static unsigned buf_size = BUF_SIZE, buf_count = BUF_COUNT;

/* The fixed response; the 29-byte Date value is patched in place once per second. */
static char resp[] = "HTTP/1.1 200 OK\r\n"
                     "Content-Length: 13\r\n"
                     "Content-Type: text/plain\r\n"
                     "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                     "Server: c-uring\r\n"
                     "\r\n"
                     "Hello, World!";
#define RESP_LEN (sizeof(resp) - 1)
static time_t date_second = -1;

static void update_date(void) {
    time_t now = time(NULL);
    if (now == date_second)
        return;
    date_second = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    char tmp[40];
    strftime(tmp, sizeof tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    memcpy(strstr(resp, "Date: ") + 6, tmp, 29);
}

/* An SQE, submitting what is queued first if the SQ is full. */
static struct io_uring_sqe* get_sqe(void) {
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    while (!sqe) {
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    return sqe;
}

static void arm_accept(void) {
    struct io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, UD(OP_ACCEPT, listen_fd));
}

static void arm_recv(int fd) {
    struct io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT; /* the kernel picks a buffer from group BGID */
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, UD(OP_RECV, fd));
    conns[fd].recv_armed = 1;
}

static void arm_send(int fd) {
    struct conn* c = &conns[fd];
    struct io_uring_sqe* sqe = get_sqe();
    io_uring_prep_send(sqe, fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, UD(OP_SEND, fd));
    c->sending = 1;
}

/* Close only once nothing is in flight, so that a reused fd number never receives a
 * completion that belongs to the previous connection. */
static void maybe_close(int fd) {
    struct conn* c = &conns[fd];
    if (!c->dead || c->recv_armed || c->sending)
        return;
    close(fd);
    free(c->out);
    free(c->drain);
    memset(c, 0, sizeof *c);
}

/* Kill a connection: shutdown() makes its multishot recv terminate (res 0), whose
 * completion then closes it. */
static void kill_conn(int fd) {
    struct conn* c = &conns[fd];
    if (!c->dead) {
        c->dead = 1;
        shutdown(fd, SHUT_RDWR);
    }
    maybe_close(fd);
}

/* Copy as many owed responses as fit into the send buffer and send them. */
static void flush(int fd) {
    struct conn* c = &conns[fd];
    if (c->dead || c->sending || c->owed == 0)
        return;
    if (c->drain) {
        memcpy(c->out, c->drain->queued, c->drain->queued_len);
        c->out_len = c->drain->queued_len;
        c->drain->queued_len = 0;
        c->owed = 0;
        c->out_off = 0;
        arm_send(fd);
        return;
    }
    unsigned n = c->owed, fit = OUT_CAP / RESP_LEN;
    if (n > fit)
        n = fit;
    for (unsigned i = 0; i < n; i++)
        memcpy(c->out + i * RESP_LEN, resp, RESP_LEN);
    c->owed -= n;
    c->out_len = n * RESP_LEN;
    c->out_off = 0;
    arm_send(fd);
}

static void mark_dirty(int fd) {
    if (!conns[fd].dirty) {
        conns[fd].dirty = 1;
        dirty[n_dirty++] = fd;
    }
}

/* Count the complete requests in a chunk: occurrences of "\r\n\r\n", with the partial
 * match at the end of the previous chunk carried in *match (0..3 bytes matched). */
static unsigned count_requests(const char* p, size_t n, unsigned char* match) {
    unsigned count = 0, m = *match;
    const char* end = p + n;
    while (p < end) {
        if (m == 0) { /* fast path: skip straight to the next '\r' */
            p = memchr(p, '\r', end - p);
            if (!p)
                break;
            m = 1;
            p++;
            continue;
        }
        char ch = *p++;
        if (m == 1 || m == 3) {
            if (ch == '\n') {
                if (m == 3) {
                    count++;
                    m = 0;
                } else
                    m = 2;
            } else
                m = (ch == '\r');
        } else { /* m == 2: "\r\n" seen */
            m = (ch == '\r') ? 3 : 0;
        }
    }
    *match = (unsigned char)m;
    return count;
}

/* Drain mode: queue the answer to one request, the count of its body bytes. */
static int answer(int fd) {
    struct conn* c = &conns[fd];
    struct drain* d = c->drain;
    char num[24];
    int nl = snprintf(num, sizeof num, "%llu", (unsigned long long)d->body_seen);
    char text[160];
    int tl = snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
                      nl, num);
    if (d->queued_len + (unsigned)tl > QUEUE_CAP)
        return -1; /* a client that pipelines more than a page of answers: not this tool's case */
    memcpy(d->queued + d->queued_len, text, tl);
    d->queued_len += tl;
    c->owed++;
    mark_dirty(fd);
    return 0;
}

/* Drain mode: the value of Content-Length in a complete head (0 when there is none). */
static uint64_t content_length(const char* head, unsigned len) {
    static const char name[] = "\ncontent-length:";
    const unsigned nlen = sizeof name - 1;
    for (unsigned i = 0; i + nlen <= len; i++) {
        if (head[i] == '\n' && strncasecmp(head + i, name, nlen) == 0) {
            const char* p = head + i + nlen;
            while (*p == ' ' || *p == '\t')
                p++;
            return strtoull(p, NULL, 10);
        }
    }
    return 0;
}

/* Drain mode: feed received bytes to a connection; heads are copied, bodies only
 * counted. Returns -1 when the connection must close. */
static int drain_feed(int fd, const char* p, size_t n) {
    struct drain* d = conns[fd].drain;
    while (n > 0) {
        if (d->in_body) {
            size_t take = n < d->body_left ? n : (size_t)d->body_left;
            d->body_left -= take;
            d->body_seen += take;
            p += take;
            n -= take;
            if (d->body_left == 0) {
                d->in_body = 0;
                if (answer(fd))
                    return -1;
            }
            continue;
        }
        /* A head: copy what fits and look for its end from a little before the new bytes. */
        size_t room = HEAD_CAP - d->head_len, take = n < room ? n : room;
        unsigned from = d->head_len > 3 ? d->head_len - 3 : 0;
        memcpy(d->head + d->head_len, p, take);
        unsigned have = d->head_len + (unsigned)take;
        char* end = memmem(d->head + from, have - from, "\r\n\r\n", 4);
        if (!end) {
            if (have == HEAD_CAP)
                return -1;
            d->head_len = have;
            return 0;
        }
        unsigned head_end = (unsigned)(end - d->head) + 4;
        size_t used = head_end - d->head_len; /* bytes of p that were head */
        d->body_left = content_length(d->head, head_end);
        d->body_seen = 0;
        d->head_len = 0;
        p += used;
        n -= used;
        if (d->body_left)
            d->in_body = 1;
        else if (answer(fd))
            return -1;
    }
    return 0;
}

static void on_accept(struct io_uring_cqe* cqe) {
    if (!(cqe->flags & IORING_CQE_F_MORE))
        arm_accept(); /* the multishot accept ended: re-arm it */
    int fd = cqe->res;
    if (fd < 0)
        return; /* e.g. EMFILE; keep accepting */
    if (fd >= MAX_FDS) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn* c = &conns[fd];
    memset(c, 0, sizeof *c);
    c->out = malloc(OUT_CAP);
    if (drain_mode && c->out)
        c->drain = calloc(1, sizeof *c->drain);
    if (!c->out || (drain_mode && !c->drain)) {
        free(c->out);
        close(fd);
        return;
    }
    c->open = 1;
    arm_recv(fd);
}

/* A consumed buffer is re-added at once but made visible to the kernel in one go
 * after the batch (one store-release per batch). */
static void on_recv(struct io_uring_cqe* cqe) {
    int fd = UD_FD(cqe->user_data);
    struct conn* c = &conns[fd];
    int more = cqe->flags & IORING_CQE_F_MORE;
    if (!more)
        c->recv_armed = 0;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        char* buf = buf_base + (size_t)bid * buf_size;
        if (cqe->res > 0 && !c->dead && c->drain) {
            if (drain_feed(fd, buf, (size_t)cqe->res)) {
                c->dead = 1; /* closed below, or by the recv's last completion */
                shutdown(fd, SHUT_RDWR);
            }
        } else if (cqe->res > 0 && !c->dead) {
            c->owed += count_requests(buf, cqe->res, &c->match);
            if (c->owed)
                mark_dirty(fd);
        }
        io_uring_buf_ring_add(br, buf, buf_size, bid, io_uring_buf_ring_mask(buf_count), n_recycled++);
    }
    if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS)) {
        c->dead = 1; /* EOF or error */
        maybe_close(fd);
    } else if (!more && !c->dead) {
        arm_recv(fd); /* multishot ended (ENOBUFS, or the kernel chose to): re-arm */
    } else if (!more) {
        maybe_close(fd);
    }
}

static void on_send(struct io_uring_cqe* cqe) {
    int fd = UD_FD(cqe->user_data);
    struct conn* c = &conns[fd];
    c->sending = 0;
    if (cqe->res < 0) {
        kill_conn(fd);
        return;
    }
    c->out_off += cqe->res;
    if (c->dead) {
        maybe_close(fd);
    } else if (c->out_off < c->out_len) {
        arm_send(fd); /* short send: send the rest */
    } else if (c->owed) {
        mark_dirty(fd);
    }
}

static int setup_ring(void) {
    /* Best flags first; older kernels answer EINVAL and we fall back. */
    unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    for (unsigned i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = tries[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        int ret = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
        if (ret == 0) {
            fprintf(stderr, "c_uring_hello: ring flags 0x%x\n", p.flags);
            return 0;
        }
        if (ret != -EINVAL) {
            fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
            return -1;
        }
    }
    fprintf(stderr, "io_uring_queue_init: no supported flags\n");
    return -1;
}

static int setup_buffers(void) {
    /* The ring of buffer descriptors must be page aligned; we own its memory. */
    if (posix_memalign((void**)&br, 4096, buf_count * sizeof(struct io_uring_buf)))
        return -1;
    memset(br, 0, buf_count * sizeof(struct io_uring_buf));
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)br;
    reg.ring_entries = buf_count;
    reg.bgid = BGID;
    int ret = io_uring_register_buf_ring(&ring, &reg, 0);
    if (ret) {
        fprintf(stderr, "io_uring_register_buf_ring: %s\n", strerror(-ret));
        return -1;
    }
    buf_base = malloc((size_t)buf_count * buf_size);
    if (!buf_base)
        return -1;
    if (drain_mode)
        memset(buf_base, 0, (size_t)buf_count * buf_size); /* fault the buffers in before the run */
    io_uring_buf_ring_init(br);
    for (unsigned i = 0; i < buf_count; i++)
        io_uring_buf_ring_add(br, buf_base + (size_t)i * buf_size, buf_size, i, io_uring_buf_ring_mask(buf_count), i);
    io_uring_buf_ring_advance(br, buf_count);
    return 0;
}

static int setup_listener(int port, const char* addr) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", addr);
        return -1;
    }
    if (bind(fd, (struct sockaddr*)&sa, sizeof sa) || listen(fd, 4096)) {
        perror("bind/listen");
        return -1;
    }
    return fd;
}

int main(int argc, char** argv) {
    drain_mode = argc > 1 && strcmp(argv[1], "--drain") == 0;
    if (drain_mode) {
        argc--;
        argv++;
        if (argc > 2)
            buf_size = (unsigned)atoi(argv[2]);
        if (argc > 3)
            buf_count = (unsigned)atoi(argv[3]);
    }
    if (argc < 2 || buf_size < 512 || buf_count == 0 || buf_count > 32768 || (buf_count & (buf_count - 1))) {
        fprintf(stderr, "usage: c_uring_hello PORT [ADDR]\n"
                        "       c_uring_hello --drain PORT [BUF_SIZE [BUF_COUNT]]\n"
                        "       (BUF_SIZE >= 512, BUF_COUNT a power of two up to 32768)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    listen_fd = setup_listener(atoi(argv[1]), argc > 2 && !drain_mode ? argv[2] : "127.0.0.1");
    if (listen_fd < 0 || setup_ring() || setup_buffers())
        return 1;
    update_date();
    arm_accept();

    for (;;) {
        /* Submit what the last batch queued and wait for at least one completion;
         * with DEFER_TASKRUN this is also where the kernel runs our task work. */
        int ret = io_uring_submit_and_wait(&ring, 1);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
            fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-ret));
            return 1;
        }
        update_date();
        struct io_uring_cqe* cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            switch (UD_OP(cqe->user_data)) {
            case OP_ACCEPT:
                on_accept(cqe);
                break;
            case OP_RECV:
                on_recv(cqe);
                break;
            case OP_SEND:
                on_send(cqe);
                break;
            }
        }
        if (n_recycled) {
            io_uring_buf_ring_advance(br, n_recycled);
            n_recycled = 0;
        }
        io_uring_cq_advance(&ring, seen);
        /* One batched send per connection that got requests in this batch. */
        for (int i = 0; i < n_dirty; i++) {
            conns[dirty[i]].dirty = 0;
            flush(dirty[i]);
        }
        n_dirty = 0;
    }
}
