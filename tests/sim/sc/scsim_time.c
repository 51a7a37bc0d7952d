/* SPDX-License-Identifier: MIT */
/* The Sellercloud simulator's clock and its date-time texts. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "scsim.h"

int64_t scsim_now_ms(const struct scsim *s)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
           s->clock_offset_ms;
}

/* Unsigned fields bounded by modulo keep the text within 24 bytes. */
static void scsim_fmt(int64_t ms, char out[32], bool utc)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    unsigned frac = (unsigned)(ms - (int64_t)secs * 1000) % 1000u;
    struct tm tm;
    int n;

    gmtime_r(&secs, &tm);
    n = snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03u",
                 (unsigned)(tm.tm_year + 1900) % 10000u,
                 (unsigned)(tm.tm_mon + 1) % 100u,
                 (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
                 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
                 frac);
    if (utc && n > 0 && n < 31) {
        out[n] = 'Z';
        out[n + 1] = '\0';
    }
}

void scsim_fmt_local(int64_t ms, int tz_min, char out[32])
{
    scsim_fmt(ms + (int64_t)tz_min * 60000, out, false);
}

void scsim_fmt_utc(int64_t ms, char out[32])
{
    scsim_fmt(ms, out, true);
}

/* Reads exactly 'n' digits at *p and advances; false otherwise. */
static bool scsim_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool scsim_lit(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

bool scsim_parse_tz(const char *s, int *out_min)
{
    int h, m, sign;

    if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0 || !*s) {
        *out_min = 0;
        return true;
    }
    if (*s != '+' && *s != '-')
        return false;
    sign = *s == '-' ? -1 : 1;
    s++;
    if (!scsim_digits(&s, 2, &h) || !scsim_lit(&s, ':') ||
        !scsim_digits(&s, 2, &m) || *s || h > 14 || m > 59)
        return false;
    *out_min = sign * (h * 60 + m);
    return true;
}

static bool scsim_to_ms(struct tm *tm, int ms, int tz_min, int64_t *out)
{
    time_t t;

    if (tm->tm_mon < 0 || tm->tm_mon > 11 || tm->tm_mday < 1 ||
        tm->tm_mday > 31 || tm->tm_hour > 23 || tm->tm_min > 59 ||
        tm->tm_sec > 60)
        return false;
    t = timegm(tm);
    *out = (int64_t)t * 1000 + ms - (int64_t)tz_min * 60000;
    return true;
}

/* "hh:mm[:ss]" after a date; missing parts are zero. */
static bool scsim_parse_hms(const char **p, struct tm *tm, int *ms)
{
    if (!scsim_digits(p, 2, &tm->tm_hour) || !scsim_lit(p, ':') ||
        !scsim_digits(p, 2, &tm->tm_min))
        return false;
    if (scsim_lit(p, ':')) {
        if (!scsim_digits(p, 2, &tm->tm_sec))
            return false;
        if (scsim_lit(p, '.')) {
            int place = 100;

            if (**p < '0' || **p > '9')
                return false;
            while (**p >= '0' && **p <= '9') {
                *ms += (**p - '0') * place;
                place /= 10;
                (*p)++;
            }
        }
    }
    return true;
}

static bool scsim_parse_us(const char *p, int tz_min, int64_t *out_ms)
{
    struct tm tm;
    int ms = 0;

    memset(&tm, 0, sizeof(tm));
    if (!scsim_digits(&p, 2, &tm.tm_mon) || !scsim_lit(&p, '/') ||
        !scsim_digits(&p, 2, &tm.tm_mday) || !scsim_lit(&p, '/') ||
        !scsim_digits(&p, 4, &tm.tm_year))
        return false;
    if (scsim_lit(&p, ' ') && !scsim_parse_hms(&p, &tm, &ms))
        return false;
    if (*p)
        return false;
    tm.tm_mon -= 1;
    tm.tm_year -= 1900;
    return scsim_to_ms(&tm, ms, tz_min, out_ms);
}

static bool scsim_parse_iso(const char *p, int tz_min, int64_t *out_ms)
{
    struct tm tm;
    int ms = 0;

    memset(&tm, 0, sizeof(tm));
    if (!scsim_digits(&p, 4, &tm.tm_year) || !scsim_lit(&p, '-') ||
        !scsim_digits(&p, 2, &tm.tm_mon) || !scsim_lit(&p, '-') ||
        !scsim_digits(&p, 2, &tm.tm_mday))
        return false;
    if ((scsim_lit(&p, 'T') || scsim_lit(&p, ' ')) &&
        !scsim_parse_hms(&p, &tm, &ms))
        return false;
    if (*p && !scsim_parse_tz(p, &tz_min))
        return false;
    tm.tm_mon -= 1;
    tm.tm_year -= 1900;
    return scsim_to_ms(&tm, ms, tz_min, out_ms);
}

bool scsim_parse_time(const char *s, int tz_min, int64_t *out_ms)
{
    if (!s || strlen(s) > 40)
        return false;
    if (strchr(s, '/'))
        return scsim_parse_us(s, tz_min, out_ms);
    return scsim_parse_iso(s, tz_min, out_ms);
}
