/* SPDX-License-Identifier: MIT */
/*
 * JSON-lines logger: one object per line on stdout, written with one
 * write(2) so that threads never interleave. Keys: ts, level, mod, msg,
 * then the fields in the order given (put "req" or "job" first).
 *
 *   log_warn("store", "command failed", LOG_STR("cmd", "GET"),
 *            LOG_INT("ms", elapsed));
 *
 * Never pass a secret, an Authorization header, a body (beyond an
 * upstream error's 256-byte body_excerpt) or a query string. Thread-safe.
 */
#ifndef SCB_LOG_H
#define SCB_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

enum log_ftype { LOG_F_END, LOG_F_STR, LOG_F_INT, LOG_F_DBL, LOG_F_BOOL };

struct log_field {
    const char *key;
    enum log_ftype type;
    const char *s;
    long long i;
    double d;
};

#define LOG_STR(k, v) ((struct log_field){ (k), LOG_F_STR, (v), 0, 0 })
#define LOG_INT(k, v) \
    ((struct log_field){ (k), LOG_F_INT, 0, (long long)(v), 0 })
#define LOG_DBL(k, v) ((struct log_field){ (k), LOG_F_DBL, 0, 0, (v) })
#define LOG_BOOL(k, v) \
    ((struct log_field){ (k), LOG_F_BOOL, 0, (v) ? 1 : 0, 0 })
#define LOG_END ((struct log_field){ 0, LOG_F_END, 0, 0, 0 })

/* Sets the least severe level written and the output fd (1 = stdout). */
void log_init(enum log_level min, int fd);

/* Parses "debug", "info", "warn" or "error"; false if none. */
bool log_level_parse(const char *s, enum log_level *out_level);

bool log_enabled(enum log_level level);

/* Writes one line; the variadic fields end with LOG_END. Use the macros. */
void log_emit(enum log_level level, const char *mod, const char *msg, ...);

#define log_at(lvl, ...)                                \
    do {                                                \
        if (log_enabled(lvl))                           \
            log_emit((lvl), __VA_ARGS__, LOG_END);      \
    } while (0)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

#endif
