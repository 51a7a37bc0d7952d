/* SPDX-License-Identifier: MIT */
/* Process-wide metrics registry rendered as Prometheus text 0.0.4. */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "metrics.h"

#define METRICS_MAX_FAMILIES 256
#define METRICS_MAX_SAMPLES 4096 /* per family; beyond it, new ones drop */
#define METRICS_MAX_COLLECTORS 16
#define METRICS_NBUCKETS 11

/* Upper bounds of the histogram buckets, in seconds; +Inf is implied. */
static const double metrics_bounds[METRICS_NBUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

struct sample {
    char *labels;                      /* preformatted, "" for none */
    double value;                      /* counter or gauge */
    double sum;                        /* histogram: sum of observations */
    uint64_t count;                    /* histogram: number of observations */
    uint64_t bucket[METRICS_NBUCKETS]; /* per bucket, not cumulative */
};

struct family {
    char *name;
    char *help;
    enum metrics_type type;
    struct sample *samples; /* sorted by labels */
    size_t n;
    size_t cap;
};

struct collector {
    metrics_collect_fn fn;
    void *ctx;
};

/* metrics_lock guards every static below. */
static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct family *metrics_fams; /* sorted by name */
static size_t metrics_nfams;
static size_t metrics_capfams;
static struct collector metrics_colls[METRICS_MAX_COLLECTORS];
static size_t metrics_ncolls;

static bool name_ok(const char *name)
{
    if (!name || !*name || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == ':'))
            return false;
    }
    return true;
}

/* Index of 'name', or where it would go (*found false). */
static size_t fam_search(const char *name, bool *found)
{
    size_t lo = 0, hi = metrics_nfams;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(metrics_fams[mid].name, name);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static struct family *fam_find(const char *name)
{
    bool found;
    size_t i;

    if (!name)
        return NULL;
    i = fam_search(name, &found);
    return found ? &metrics_fams[i] : NULL;
}

static bool fam_grow(void)
{
    size_t cap;
    struct family *p;

    if (metrics_nfams < metrics_capfams)
        return true;
    if (metrics_capfams >= METRICS_MAX_FAMILIES)
        return false;
    cap = metrics_capfams ? metrics_capfams * 2 : 32;
    p = mem_realloc(metrics_fams, cap * sizeof(*p));
    if (!p)
        return false;
    metrics_fams = p;
    metrics_capfams = cap;
    return true;
}

void metrics_describe(const char *name, enum metrics_type type,
                      const char *help)
{
    struct family f = { 0 };
    bool found;
    size_t i;

    if (!name_ok(name))
        return;
    pthread_mutex_lock(&metrics_lock);
    i = fam_search(name, &found);
    if (found || !fam_grow())
        goto out;
    f.name = mem_strdup(name);
    f.help = mem_strdup(help ? help : "");
    f.type = type;
    if (!f.name || !f.help) {
        mem_free(f.name);
        mem_free(f.help);
        goto out;
    }
    memmove(&metrics_fams[i + 1], &metrics_fams[i],
            (metrics_nfams - i) * sizeof(*metrics_fams));
    metrics_fams[i] = f;
    metrics_nfams++;
out:
    pthread_mutex_unlock(&metrics_lock);
}

static size_t sample_search(const struct family *f, const char *labels,
                            bool *found)
{
    size_t lo = 0, hi = f->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->samples[mid].labels, labels);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* The sample of 'labels' in 'f', added at zero if new; NULL if full. */
static struct sample *sample_get(struct family *f, const char *labels)
{
    struct sample s = { 0 };
    bool found;
    size_t i = sample_search(f, labels, &found);

    if (found)
        return &f->samples[i];
    if (f->n >= METRICS_MAX_SAMPLES)
        return NULL;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct sample *p = mem_realloc(f->samples, cap * sizeof(*p));

        if (!p)
            return NULL;
        f->samples = p;
        f->cap = cap;
    }
    s.labels = mem_strdup(labels);
    if (!s.labels)
        return NULL;
    memmove(&f->samples[i + 1], &f->samples[i],
            (f->n - i) * sizeof(*f->samples));
    f->samples[i] = s;
    f->n++;
    return &f->samples[i];
}

/* Finds the family of 'name' if it has type 'a' or 'b', then its sample. */
static struct sample *lookup(const char *name, const char *labels,
                             enum metrics_type a, enum metrics_type b)
{
    struct family *f = fam_find(name);

    if (!f || (f->type != a && f->type != b))
        return NULL;
    return sample_get(f, labels ? labels : "");
}

/* A counter only goes up, so a negative step is dropped. */
void metrics_inc(const char *name, const char *labels, double by)
{
    struct sample *s;

    if (isnan(by))
        return;
    pthread_mutex_lock(&metrics_lock);
    if (by >= 0)
        s = lookup(name, labels, METRICS_COUNTER, METRICS_GAUGE);
    else
        s = lookup(name, labels, METRICS_GAUGE, METRICS_GAUGE);
    if (s)
        s->value += by;
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_set(const char *name, const char *labels, double value)
{
    struct sample *s;

    pthread_mutex_lock(&metrics_lock);
    s = lookup(name, labels, METRICS_GAUGE, METRICS_COUNTER);
    if (s)
        s->value = value;
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_observe(const char *name, const char *labels, double value)
{
    struct sample *s;

    if (isnan(value))
        return;
    pthread_mutex_lock(&metrics_lock);
    s = lookup(name, labels, METRICS_HISTOGRAM, METRICS_HISTOGRAM);
    if (s) {
        size_t i = 0;

        while (i < METRICS_NBUCKETS && value > metrics_bounds[i])
            i++;
        if (i < METRICS_NBUCKETS)
            s->bucket[i]++;
        s->count++;
        s->sum += value;
    }
    pthread_mutex_unlock(&metrics_lock);
}

/* Length of the valid UTF-8 sequence at 'p', or 0 if it is not one. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    }
    return n;
}

/*
 * Whole characters only, so a cut value is still valid UTF-8 and never
 * ends inside an escape. Bytes that are not UTF-8, and control
 * characters other than newline, become '?'.
 */
void metrics_label_value(const char *in, char *out, size_t outlen)
{
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    size_t o = 0;

    if (outlen == 0)
        return;
    while (*p) {
        char esc[4] = { 0 };
        size_t n = utf8_len(p), w = n;
        const char *src = (const char *)p;

        if (n == 0 || *p < 0x20 || *p == 0x7f) {
            esc[0] = *p == '\n' ? '\\' : '?';
            esc[1] = *p == '\n' ? 'n' : '\0';
            src = esc;
            n = n ? n : 1;
            w = *p == '\n' ? 2 : 1;
        } else if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            src = esc;
            w = 2;
        }
        if (o + w >= outlen)
            break;
        memcpy(out + o, src, w);
        o += w;
        p += n;
    }
    out[o] = '\0';
}

void metrics_add_collector(metrics_collect_fn fn, void *ctx)
{
    pthread_mutex_lock(&metrics_lock);
    if (fn && metrics_ncolls < METRICS_MAX_COLLECTORS) {
        metrics_colls[metrics_ncolls].fn = fn;
        metrics_colls[metrics_ncolls].ctx = ctx;
        metrics_ncolls++;
    }
    pthread_mutex_unlock(&metrics_lock);
}

/* Shortest of %.15g and %.17g that reads back as the same double. */
static void fmt_double(double v, char *out, size_t outlen)
{
    if (isnan(v)) {
        snprintf(out, outlen, "NaN");
    } else if (isinf(v)) {
        snprintf(out, outlen, "%s", v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, outlen, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, outlen, "%.17g", v);
    }
}

static const char *type_name(enum metrics_type t)
{
    switch (t) {
    case METRICS_COUNTER:
        return "counter";
    case METRICS_GAUGE:
        return "gauge";
    case METRICS_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

static enum scb_err put_help(struct buf *out, const struct family *f)
{
    enum scb_err err = buf_printf(out, "# HELP %s ", f->name);

    for (const char *p = f->help; !err && *p; p++) {
        if (*p == '\\')
            err = buf_puts(out, "\\\\");
        else if (*p == '\n')
            err = buf_puts(out, "\\n");
        else
            err = buf_putc(out, *p);
    }
    if (!err)
        err = buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
    return err;
}

/* One line: name+suffix{labels[,extra]} value. */
static enum scb_err put_line(struct buf *out, const char *name,
                             const char *suffix, const char *labels,
                             const char *extra, double v)
{
    char num[40];
    bool any = *labels || *extra;

    fmt_double(v, num, sizeof(num));
    return buf_printf(out, "%s%s%s%s%s%s%s %s\n", name, suffix, any ? "{" : "",
                      labels, *labels && *extra ? "," : "", extra,
                      any ? "}" : "", num);
}

static enum scb_err put_histogram(struct buf *out, const struct family *f,
                                  const struct sample *s)
{
    enum scb_err err = SCB_OK;
    uint64_t cum = 0;
    char le[64], num[40];

    for (size_t i = 0; !err && i < METRICS_NBUCKETS; i++) {
        cum += s->bucket[i];
        fmt_double(metrics_bounds[i], num, sizeof(num));
        snprintf(le, sizeof(le), "le=\"%s\"", num);
        err = put_line(out, f->name, "_bucket", s->labels, le, (double)cum);
    }
    if (!err)
        err = put_line(out, f->name, "_bucket", s->labels, "le=\"+Inf\"",
                       (double)s->count);
    if (!err)
        err = put_line(out, f->name, "_sum", s->labels, "", s->sum);
    if (!err)
        err = put_line(out, f->name, "_count", s->labels, "", (double)s->count);
    return err;
}

static enum scb_err put_family(struct buf *out, const struct family *f)
{
    enum scb_err err = put_help(out, f);

    for (size_t i = 0; !err && i < f->n; i++) {
        const struct sample *s = &f->samples[i];

        if (f->type == METRICS_HISTOGRAM)
            err = put_histogram(out, f, s);
        else
            err = put_line(out, f->name, "", s->labels, "", s->value);
    }
    return err;
}

/*
 * Collectors run first, outside the lock, since they record through
 * metrics_set(); a copy of the list keeps them safe from a concurrent
 * metrics_reset().
 */
enum scb_err metrics_render(struct buf *out)
{
    struct collector colls[METRICS_MAX_COLLECTORS];
    size_t ncolls;
    enum scb_err err = SCB_OK;

    pthread_mutex_lock(&metrics_lock);
    ncolls = metrics_ncolls;
    memcpy(colls, metrics_colls, sizeof(colls));
    pthread_mutex_unlock(&metrics_lock);
    for (size_t i = 0; i < ncolls; i++)
        colls[i].fn(colls[i].ctx);

    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; !err && i < metrics_nfams; i++)
        err = put_family(out, &metrics_fams[i]);
    pthread_mutex_unlock(&metrics_lock);
    return err;
}

void metrics_reset(void)
{
    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; i < metrics_nfams; i++) {
        struct family *f = &metrics_fams[i];

        for (size_t j = 0; j < f->n; j++)
            mem_free(f->samples[j].labels);
        mem_free(f->samples);
        mem_free(f->name);
        mem_free(f->help);
    }
    mem_free(metrics_fams);
    metrics_fams = NULL;
    metrics_nfams = 0;
    metrics_capfams = 0;
    metrics_ncolls = 0;
    pthread_mutex_unlock(&metrics_lock);
}
