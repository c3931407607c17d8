/*
 * c_uring_drain.c - the floor of ringbolt's upload comparisons.
 *
 * Owns: nothing of ringbolt. A standalone, minimal HTTP/1.1 server on io_uring (liburing
 * >= 2.3) that reads each request's head, then drains Content-Length bytes of body and
 * answers the count ("200 OK", text/plain, the number of body bytes received). It tells
 * what this machine's kernel charges to receive N bytes on loopback, from one thread,
 * when a server does nothing with them: benchmarks/load/upload_bench.py runs it beside
 * ringbolt and Granian. It is not a real HTTP server: it knows only Content-Length bodies
 * (no chunked encoding), reads no request line, and closes a connection whose head does
 * not fit in 8 KiB.
 *
 * Design, one thread (pin it with `taskset -c N`), the same as c_uring_hello.c:
 *   - one ring, SINGLE_ISSUER|DEFER_TASKRUN when the kernel has them;
 *   - one multishot accept; one multishot recv per connection into a provided buffer
 *     ring of BUF_COUNT buffers of BUF_SIZE bytes (both from the command line: the
 *     receive size is what the floor depends on);
 *   - a body byte is looked at by nobody: only the head is copied (into the
 *     connection's 8 KiB head buffer), the body's bytes are counted and the buffer
 *     given back to the kernel at once;
 *   - answers are batched per connection, one send in flight, short sends resumed.
 *
 * Build: cc -O2 -o c_uring_drain c_uring_drain.c -luring
 * Usage: c_uring_drain PORT [BUF_SIZE [BUF_COUNT]]   (4096 and 1024 by default: ringbolt's)
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
#include <unistd.h>

#define SQ_ENTRIES 1024
#define CQ_ENTRIES 8192
#define BGID 1
#define HEAD_CAP 8192
#define OUT_CAP 4096
#define MAX_FDS 65536

enum op { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };
#define UD(op, fd) (((__u64)(op) << 56) | (__u32)(fd))
#define UD_OP(ud) ((int)((ud) >> 56))
#define UD_FD(ud) ((int)(__u32)(ud))

struct conn {
    char* head;                            /* HEAD_CAP bytes: the head being read */
    unsigned head_len;                     /* bytes of head held */
    uint64_t body_left;                    /* body bytes still to drain; 0 while reading a head */
    uint64_t body_seen;                    /* body bytes drained of the current request */
    int in_body;                           /* reading the body (else a head) */
    char out[OUT_CAP];                     /* answers */
    unsigned out_len, out_off, out_queued; /* in the current send; queued after it */
    char queued[OUT_CAP];
    unsigned char open, recv_armed, sending, dead, dirty;
};

static struct io_uring ring;
static struct io_uring_buf_ring* br;
static char* buf_base;
static unsigned buf_size = 4096, buf_count = 1024;
static struct conn* conns[MAX_FDS];
static int dirty[MAX_FDS], n_dirty;
static int n_recycled;
static int listen_fd;

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
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, UD(OP_RECV, fd));
    conns[fd]->recv_armed = 1;
}

static void arm_send(int fd) {
    struct conn* c = conns[fd];
    struct io_uring_sqe* sqe = get_sqe();
    io_uring_prep_send(sqe, fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, UD(OP_SEND, fd));
    c->sending = 1;
}

static void maybe_close(int fd) {
    struct conn* c = conns[fd];
    if (!c->dead || c->recv_armed || c->sending)
        return;
    close(fd);
    free(c->head);
    free(c);
    conns[fd] = NULL;
}

static void kill_conn(int fd) {
    struct conn* c = conns[fd];
    if (!c->dead) {
        c->dead = 1;
        shutdown(fd, SHUT_RDWR);
    }
    maybe_close(fd);
}

static void mark_dirty(int fd) {
    if (!conns[fd]->dirty) {
        conns[fd]->dirty = 1;
        dirty[n_dirty++] = fd;
    }
}

static void flush(int fd) {
    struct conn* c = conns[fd];
    if (c->dead || c->sending || c->out_queued == 0)
        return;
    memcpy(c->out, c->queued, c->out_queued);
    c->out_len = c->out_queued;
    c->out_off = 0;
    c->out_queued = 0;
    arm_send(fd);
}

/* The answer to one request: the count of its body bytes. */
static int answer(int fd) {
    struct conn* c = conns[fd];
    char num[24];
    int nl = snprintf(num, sizeof num, "%llu", (unsigned long long)c->body_seen);
    char resp[160];
    int rl = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
                      nl, num);
    if (c->out_queued + (unsigned)rl > OUT_CAP)
        return -1; /* a client that pipelines more than a page of answers: not this tool's case */
    memcpy(c->queued + c->out_queued, resp, rl);
    c->out_queued += rl;
    mark_dirty(fd);
    return 0;
}

/* The value of Content-Length in a complete head (0 when there is none). */
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

/* Feed received bytes to a connection: heads are copied, bodies are only counted.
 * Returns -1 when the connection must close. */
static int feed(int fd, const char* p, size_t n) {
    struct conn* c = conns[fd];
    while (n > 0) {
        if (c->in_body) {
            size_t take = n < c->body_left ? n : (size_t)c->body_left;
            c->body_left -= take;
            c->body_seen += take;
            p += take;
            n -= take;
            if (c->body_left == 0) {
                c->in_body = 0;
                if (answer(fd))
                    return -1;
            }
            continue;
        }
        /* A head: copy what fits and look for its end from a little before the new bytes. */
        size_t room = HEAD_CAP - c->head_len, take = n < room ? n : room;
        unsigned from = c->head_len > 3 ? c->head_len - 3 : 0;
        memcpy(c->head + c->head_len, p, take);
        unsigned have = c->head_len + (unsigned)take;
        char* end = memmem(c->head + from, have - from, "\r\n\r\n", 4);
        if (!end) {
            if (have == HEAD_CAP)
                return -1;
            c->head_len = have;
            return 0;
        }
        unsigned head_end = (unsigned)(end - c->head) + 4;
        size_t used = head_end - c->head_len; /* bytes of p that were head */
        c->body_left = content_length(c->head, head_end);
        c->body_seen = 0;
        c->head_len = 0;
        p += used;
        n -= used;
        if (c->body_left)
            c->in_body = 1;
        else if (answer(fd))
            return -1;
    }
    return 0;
}

static void on_accept(struct io_uring_cqe* cqe) {
    if (!(cqe->flags & IORING_CQE_F_MORE))
        arm_accept();
    int fd = cqe->res;
    if (fd < 0)
        return;
    if (fd >= MAX_FDS) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn* c = calloc(1, sizeof *c);
    if (c)
        c->head = malloc(HEAD_CAP);
    if (!c || !c->head) {
        free(c);
        close(fd);
        return;
    }
    c->open = 1;
    conns[fd] = c;
    arm_recv(fd);
}

static void on_recv(struct io_uring_cqe* cqe) {
    int fd = UD_FD(cqe->user_data);
    struct conn* c = conns[fd];
    int more = cqe->flags & IORING_CQE_F_MORE;
    if (!more)
        c->recv_armed = 0;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        char* buf = buf_base + (size_t)bid * buf_size;
        if (cqe->res > 0 && !c->dead && feed(fd, buf, (size_t)cqe->res))
            kill_conn(fd), c = conns[fd];
        io_uring_buf_ring_add(br, buf, buf_size, bid, io_uring_buf_ring_mask(buf_count), n_recycled++);
        if (!c)
            return;
    }
    if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS)) {
        c->dead = 1;
        maybe_close(fd);
    } else if (!more && !c->dead) {
        arm_recv(fd);
    } else if (!more) {
        maybe_close(fd);
    }
}

static void on_send(struct io_uring_cqe* cqe) {
    int fd = UD_FD(cqe->user_data);
    struct conn* c = conns[fd];
    c->sending = 0;
    if (cqe->res < 0) {
        kill_conn(fd);
        return;
    }
    c->out_off += cqe->res;
    if (c->dead)
        maybe_close(fd);
    else if (c->out_off < c->out_len)
        arm_send(fd);
    else if (c->out_queued)
        mark_dirty(fd);
}

static int setup_ring(void) {
    unsigned tries[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_COOP_TASKRUN, 0};
    for (unsigned i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = tries[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        int ret = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
        if (ret == 0)
            return 0;
        if (ret != -EINVAL) {
            fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
            return -1;
        }
    }
    return -1;
}

static int setup_buffers(void) {
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
    memset(buf_base, 0, (size_t)buf_count * buf_size); /* fault the buffers in before the run */
    io_uring_buf_ring_init(br);
    for (unsigned i = 0; i < buf_count; i++)
        io_uring_buf_ring_add(br, buf_base + (size_t)i * buf_size, buf_size, i, io_uring_buf_ring_mask(buf_count), i);
    io_uring_buf_ring_advance(br, buf_count);
    return 0;
}

static int setup_listener(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr*)&sa, sizeof sa) || listen(fd, 4096)) {
        perror("bind/listen");
        return -1;
    }
    return fd;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [BUF_SIZE [BUF_COUNT]]\n", argv[0]);
        return 2;
    }
    if (argc > 2)
        buf_size = (unsigned)atoi(argv[2]);
    if (argc > 3)
        buf_count = (unsigned)atoi(argv[3]);
    if (buf_size < 512 || buf_count == 0 || buf_count > 32768 || (buf_count & (buf_count - 1))) {
        fprintf(stderr, "BUF_SIZE >= 512, BUF_COUNT a power of two up to 32768\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    listen_fd = setup_listener(atoi(argv[1]));
    if (listen_fd < 0 || setup_ring() || setup_buffers())
        return 1;
    arm_accept();
    for (;;) {
        int ret = io_uring_submit_and_wait(&ring, 1);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
            fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-ret));
            return 1;
        }
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
        for (int i = 0; i < n_dirty; i++) {
            if (conns[dirty[i]]) {
                conns[dirty[i]]->dirty = 0;
                flush(dirty[i]);
            }
        }
        n_dirty = 0;
    }
}
