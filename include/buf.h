/* SPDX-License-Identifier: MIT */
/*
 * A bounded growable byte buffer. 'data' is NUL-terminated whenever it is
 * not NULL, so text can be used as a C string. Appending past 'max' fails
 * with SCB_ETOOBIG and leaves the buffer as it was.
 */
#ifndef SCB_BUF_H
#define SCB_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct buf {
    char *data; /* NULL until the first append */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* largest len allowed */
};

/* Empties 'b' and sets its maximum length; allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Frees the contents; 'b' is then as after buf_init() with the same max. */
void buf_release(struct buf *b);

/* Keeps the allocation, drops the contents. */
void buf_reset(struct buf *b);

enum scb_err buf_append(struct buf *b, const void *data, size_t len);
enum scb_err buf_puts(struct buf *b, const char *s);
enum scb_err buf_putc(struct buf *b, char c);
enum scb_err buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum scb_err buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Appends 's' as a JSON string literal, quotes included. */
enum scb_err buf_put_json_str(struct buf *b, const char *s);
enum scb_err buf_put_json_strn(struct buf *b, const char *s, size_t len);

/*
 * Hands the contents to the caller (free with mem_free()) and empties 'b'.
 * Returns an empty allocated string for an empty buffer, NULL on OOM.
 */
char *buf_steal(struct buf *b);

#endif
