// c_ws_echo: what a WebSocket echo costs this machine with no Python and no framework,
// the floor against which issue 11's "2x the best peer" is read (ws_bench.py --systems
// c-ws,...). One thread, epoll (level-triggered), non-blocking sockets: the RFC 6455
// opening handshake (Sec-WebSocket-Accept from the key), then every client frame is
// unmasked and sent back unmasked with the same FIN bit and opcode (a fragmented message
// comes back in the same fragments), unmasked eight bytes at a time and sent straight from
// the input buffer when nothing is queued; a ping is answered with a pong, a close with a close
// after which the connection ends. An unmasked client frame ends the connection. Not a
// server for anything else: no UTF-8 check, no size limit beyond memory, no extensions.
//
//   cc -O2 -Wall -Wextra -o c_ws_echo c_ws_echo.c -lcrypto && ./c_ws_echo 8000
#define _GNU_SOURCE
#include <errno.h>
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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ws_buf.h"
#include "ws_handshake.h"

struct conn {
    int fd;
    int upgraded;
    int closing; // a close frame was answered: end once the output is sent
    int want_out;
    struct buf in, out;
};

static void end_conn(int ep, struct conn* c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in.data);
    free(c->out.data);
    free(c);
}

// The opening handshake once the request head is whole: 0 to wait, 1 done, -1 refuse.
static int handshake(struct conn* c) {
    char reply[WS_REPLY_MAX];
    size_t head_len = 0;
    int n = ws_handshake_reply(c->in.data, c->in.len, reply, &head_len);
    if (n <= 0) {
        return n;
    }
    append(&c->out, reply, (size_t)n);
    consume(&c->in, head_len);
    c->upgraded = 1;
    return 1;
}

// Echo every whole frame in the input: 0 to go on, -1 to end the connection.
static int frames(struct conn* c) {
    while (!c->closing && c->in.len >= 2) {
        unsigned char* p = c->in.data;
        unsigned opcode = p[0] & 0x0f;
        if (!(p[1] & 0x80)) {
            return -1; // client frames must be masked
        }
        uint64_t len = p[1] & 0x7f;
        size_t at = 2;
        if (len == 126) {
            if (c->in.len < 4) {
                return 0;
            }
            len = ((uint64_t)p[2] << 8) | p[3];
            at = 4;
        } else if (len == 127) {
            if (c->in.len < 10) {
                return 0;
            }
            len = 0;
            for (int i = 0; i < 8; ++i) {
                len = (len << 8) | p[2 + i];
            }
            at = 10;
        }
        if (c->in.len < at + 4 + len) {
            return 0;
        }
        unsigned char* mask = p + at;
        unsigned char* payload = mask + 4;
        uint64_t mask8;
        uint32_t mask4;
        memcpy(&mask4, mask, 4);
        mask8 = ((uint64_t)mask4 << 32) | mask4;
        uint64_t i = 0;
        for (; i + 8 <= len; i += 8) { // eight bytes at a time (the mask repeats every 4)
            uint64_t w;
            memcpy(&w, payload + i, 8);
            w ^= mask8;
            memcpy(payload + i, &w, 8);
        }
        for (; i < len; ++i) {
            payload[i] ^= mask[i & 3];
        }
        unsigned char head[10];
        size_t head_len = 2;
        unsigned out_opcode = opcode == 0x9 ? 0xA : opcode;
        head[0] = (unsigned char)((p[0] & 0x80) | out_opcode);
        if (len < 126) {
            head[1] = (unsigned char)len;
        } else if (len < 65536) {
            head[1] = 126;
            head[2] = (unsigned char)(len >> 8);
            head[3] = (unsigned char)len;
            head_len = 4;
        } else {
            head[1] = 127;
            for (int i = 0; i < 8; ++i) {
                head[2 + i] = (unsigned char)(len >> (56 - 8 * i));
            }
            head_len = 10;
        }
        if (opcode != 0xA) { // a pong from the client is not answered
            size_t done = 0;
            if (c->out.len == 0) { // nothing queued: send from the input buffer, no copy
                struct iovec iov[2] = {{head, head_len}, {payload, (size_t)len}};
                struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
                ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
                if (n < 0 && errno != EAGAIN && errno != EINTR) {
                    return -1;
                }
                done = n > 0 ? (size_t)n : 0;
            }
            if (done < head_len) {
                append(&c->out, head + done, head_len - done);
                done = head_len;
            }
            append(&c->out, payload + (done - head_len), (size_t)len - (done - head_len));
        }
        if (opcode == 0x8) {
            c->closing = 1;
        }
        consume(&c->in, at + 4 + (size_t)len);
    }
    return 0;
}

// Send what is queued: 0 when all of it went or the socket is full, -1 on an error.
static int flush(int ep, struct conn* c) {
    size_t sent = 0;
    while (sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + sent, c->out.len - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                break;
            }
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        sent += (size_t)n;
    }
    consume(&c->out, sent);
    int want = c->out.len > 0;
    if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
    return 0;
}

int main(int argc, char** argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(lfd, 4096) != 0) {
        perror("bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    fprintf(stderr, "c_ws_echo on 127.0.0.1:%d\n", port);
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            struct conn* c = events[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn* nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            int dead = (events[i].events & (EPOLLERR | EPOLLHUP)) != 0;
            if (!dead && (events[i].events & EPOLLIN)) {
                for (;;) {
                    reserve(&c->in, 65536);
                    ssize_t r = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
                    if (r > 0) {
                        c->in.len += (size_t)r;
                        if (c->in.len < c->in.cap) {
                            break; // short read: the socket is empty
                        }
                        continue;
                    }
                    if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                        dead = 1;
                    }
                    break;
                }
                if (!dead && !c->upgraded) {
                    int h = handshake(c);
                    dead = h < 0;
                }
                if (!dead && c->upgraded) {
                    dead = frames(c) < 0;
                }
            }
            if (!dead) {
                dead = flush(ep, c) < 0 || (c->closing && c->out.len == 0);
            }
            if (dead) {
                end_conn(ep, c);
            }
        }
    }
}
