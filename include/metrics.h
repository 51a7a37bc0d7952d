/* SPDX-License-Identifier: MIT */
/*
 * Process-wide metrics: counters, gauges and histograms keyed by a family
 * name and a label string, rendered as Prometheus text (0.0.4).
 *
 * Labels are passed preformatted, 'key="value",key="value"' or "" for
 * none; values that come from outside must go through
 * metrics_label_value() first. Every function is thread-safe.
 */
#ifndef SCB_METRICS_H
#define SCB_METRICS_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

/*
 * Declares a family with its type and help text; a family must be
 * declared before samples of it are recorded (undeclared ones are
 * dropped). Declaring again is a no-op.
 */
void metrics_describe(const char *name, enum metrics_type type,
                      const char *help);

void metrics_inc(const char *name, const char *labels, double by);
void metrics_set(const char *name, const char *labels, double value);
void metrics_observe(const char *name, const char *labels, double value);

/* Escapes 'in' for use inside a label value's quotes. */
void metrics_label_value(const char *in, char *out, size_t outlen);

/*
 * Called at every render, before the text is written, to refresh gauges
 * that are read from elsewhere (queue depths from Redis, say). At most
 * 16 collectors; 'fn' must be thread-safe.
 */
typedef void (*metrics_collect_fn)(void *ctx);
void metrics_add_collector(metrics_collect_fn fn, void *ctx);

/* Appends every family in the text exposition format. */
enum scb_err metrics_render(struct buf *out);

/* Drops every family, sample and collector (tests). */
void metrics_reset(void);

#endif
