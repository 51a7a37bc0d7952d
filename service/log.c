/* SPDX-License-Identifier: MIT */
/* JSON-lines logger: each line built in a local buffer, one write(2). */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 4096
#define LOG_TAIL ",\"truncated\":true}\n"

static atomic_int log_min = LOG_INFO;
static atomic_int log_fd = 1;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

struct line {
    char b[LOG_LINE_MAX];
    size_t n;
    bool full; /* something did not fit */
};

void log_init(enum log_level min, int fd)
{
    atomic_store(&log_min, (int)min);
    atomic_store(&log_fd, fd);
}

bool log_level_parse(const char *s, enum log_level *out_level)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcmp(s, log_names[i]) == 0) {
            *out_level = (enum log_level)i;
            return true;
        }
    }
    return false;
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load(&log_min);
}

/* Room is kept for the truncation tail so a cut line stays valid JSON. */
static void line_put(struct line *l, const char *s, size_t len)
{
    size_t room = sizeof(l->b) - sizeof(LOG_TAIL) - l->n;

    if (l->full)
        return;
    if (len > room) {
        l->full = true;
        return;
    }
    memcpy(l->b + l->n, s, len);
    l->n += len;
}

static void line_puts(struct line *l, const char *s)
{
    line_put(l, s, strlen(s));
}

static void line_str(struct line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    line_put(l, "\"", 1);
    for (; s && *s && !l->full; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

        if (c == '"' || c == '\\') {
            char pair[2] = { '\\', (char)c };

            line_put(l, pair, 2);
        } else if (c < 0x20 || c == 0x7f) {
            line_put(l, esc, 6);
        } else {
            line_put(l, (const char *)&c, 1);
        }
    }
    line_put(l, "\"", 1);
}

static void line_key(struct line *l, const char *key)
{
    line_put(l, ",", 1);
    line_str(l, key);
    line_put(l, ":", 1);
}

static void line_field(struct line *l, const struct log_field *f)
{
    char num[48];

    line_key(l, f->key);
    switch (f->type) {
    case LOG_F_STR:
        if (f->s)
            line_str(l, f->s);
        else
            line_puts(l, "null");
        break;
    case LOG_F_INT:
        snprintf(num, sizeof(num), "%lld", f->i);
        line_puts(l, num);
        break;
    case LOG_F_DBL:
        snprintf(num, sizeof(num), "%.6g", f->d);
        line_puts(l, num);
        break;
    case LOG_F_BOOL:
        line_puts(l, f->i ? "true" : "false");
        break;
    case LOG_F_END:
        break;
    }
}

static void line_time(struct line *l)
{
    struct timespec ts;
    struct tm tm;
    char t[96];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    line_puts(l, "{\"ts\":\"");
    line_puts(l, t);
    line_puts(l, "\"");
}

static void line_write(const struct line *l)
{
    size_t off = 0;
    int fd = atomic_load(&log_fd);

    while (off < l->n) {
        ssize_t w = write(fd, l->b + off, l->n - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere else to report a failed log write */
        off += (size_t)w;
    }
}

void log_emit(enum log_level level, const char *mod, const char *msg, ...)
{
    struct line l = { .n = 0, .full = false };
    size_t good; /* end of the last field that fitted whole */
    va_list ap;

    line_time(&l);
    line_key(&l, "level");
    line_str(&l, log_names[level]);
    line_key(&l, "mod");
    line_str(&l, mod);
    line_key(&l, "msg");
    line_str(&l, msg);
    good = l.n;
    va_start(ap, msg);
    for (;;) {
        struct log_field f = va_arg(ap, struct log_field);

        if (f.type == LOG_F_END)
            break;
        line_field(&l, &f);
        if (!l.full)
            good = l.n;
    }
    va_end(ap);
    if (l.full) {
        l.n = good;
        memcpy(l.b + l.n, LOG_TAIL, sizeof(LOG_TAIL) - 1);
        l.n += sizeof(LOG_TAIL) - 1;
    } else {
        memcpy(l.b + l.n, "}\n", 2);
        l.n += 2;
    }
    line_write(&l);
}
