// The byte buffer of the two C WebSocket floors (c_ws_echo.c, c_ws_uring_echo.c): a
// connection's input and output, grown by doubling from 64 KiB. Header-only, as
// ws_handshake.h, so each floor still builds from its one .c file.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    unsigned char* data;
    size_t len, cap;
};

// Room for `more` bytes after the `len` held (exits when memory runs out).
static void reserve(struct buf* b, size_t more) {
    if (b->len + more <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more) {
        cap *= 2;
    }
    b->data = realloc(b->data, cap);
    if (b->data == NULL) {
        perror("realloc");
        exit(1);
    }
    b->cap = cap;
}

static void append(struct buf* b, const void* p, size_t n) {
    reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

// Drop the first `n` bytes.
static void consume(struct buf* b, size_t n) {
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
