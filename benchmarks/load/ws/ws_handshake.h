// The opening handshake of the two C WebSocket floors (c_ws_echo.c, c_ws_uring_echo.c):
// find Sec-WebSocket-Key in a whole request head and write the 101 answer (RFC 6455
// §4.2.2). Header-only, so each floor still builds from its one .c file.
#pragma once

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { WS_REPLY_MAX = 256 };

// `in` holds `len` bytes of a request head. Returns the length of the 101 answer written
// to `reply` and sets *head_len to the head's length; 0 when the head is not whole yet;
// -1 to refuse (no key, a key too long, or a head over 16 KiB).
static int ws_handshake_reply(const unsigned char* in, size_t len, char reply[WS_REPLY_MAX], size_t* head_len) {
    const unsigned char* end = memmem(in, len, "\r\n\r\n", 4);
    if (end == NULL) {
        return len > 16384 ? -1 : 0;
    }
    *head_len = (size_t)(end - in) + 4;
    const char* key = NULL;
    size_t key_len = 0;
    for (const unsigned char* line = in; line < end;) {
        const unsigned char* eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        if (eol == NULL) {
            break;
        }
        if (eol - line > 18 && strncasecmp((const char*)line, "Sec-WebSocket-Key:", 18) == 0) {
            key = (const char*)line + 18;
            while (*key == ' ' || *key == '\t') {
                ++key;
            }
            key_len = (size_t)((const char*)eol - key);
            while (key_len > 0 && (key[key_len - 1] == ' ' || key[key_len - 1] == '\t')) {
                --key_len;
            }
        }
        line = eol + 2;
    }
    if (key == NULL || key_len == 0 || key_len > 64) {
        return -1;
    }
    // Sec-WebSocket-Accept = base64(SHA-1(key + GUID)).
    char joined[128];
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    memcpy(joined, key, key_len);
    memcpy(joined + key_len, guid, sizeof guid - 1);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char*)joined, key_len + sizeof guid - 1, digest);
    unsigned char accept[64];
    EVP_EncodeBlock(accept, digest, SHA_DIGEST_LENGTH);
    return snprintf(reply, WS_REPLY_MAX,
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: %s\r\n\r\n",
                    (const char*)accept);
}
