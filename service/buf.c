/* SPDX-License-Identifier: MIT */
/* Bounded growable buffer. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "mem.h"

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_release(struct buf *b)
{
    mem_free(b->data);
    buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static enum scb_err buf_reserve(struct buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > b->max || b->len > b->max - extra)
        return SCB_ETOOBIG;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return SCB_OK;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = mem_realloc(b->data, cap);
    if (!p)
        return SCB_ENOMEM;
    b->data = p;
    b->cap = cap;
    return SCB_OK;
}

enum scb_err buf_append(struct buf *b, const void *data, size_t len)
{
    enum scb_err err = buf_reserve(b, len);

    if (err)
        return err;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return SCB_OK;
}

enum scb_err buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum scb_err buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

enum scb_err buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    enum scb_err err;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return SCB_EINVAL;
    err = buf_reserve(b, (size_t)n);
    if (err)
        return err;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return SCB_OK;
}

enum scb_err buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    enum scb_err err;

    va_start(ap, fmt);
    err = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return err;
}

enum scb_err buf_put_json_strn(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = b->len;
    enum scb_err err = buf_putc(b, '"');

    for (size_t i = 0; !err && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };

        if (c == '"' || c == '\\') {
            char pair[2] = { '\\', (char)c };

            err = buf_append(b, pair, 2);
        } else if (c == '\n') {
            err = buf_append(b, "\\n", 2);
        } else if (c == '\r') {
            err = buf_append(b, "\\r", 2);
        } else if (c == '\t') {
            err = buf_append(b, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            err = buf_append(b, esc, 6);
        } else {
            err = buf_putc(b, (char)c);
        }
    }
    if (!err)
        err = buf_putc(b, '"');
    if (err) {
        b->len = start;
        if (b->data)
            b->data[start] = '\0';
    }
    return err;
}

enum scb_err buf_put_json_str(struct buf *b, const char *s)
{
    return buf_put_json_strn(b, s ? s : "", s ? strlen(s) : 0);
}

char *buf_steal(struct buf *b)
{
    char *p = b->data;

    if (!p)
        return mem_strdup("");
    buf_init(b, b->max);
    return p;
}
