/* SPDX-License-Identifier: MIT */
/*
 * The shared rate limit of an upstream: one token bucket in Redis that
 * every thread of every replica draws from, plus a shared "paused until"
 * instant set when the upstream itself answered "too many requests".
 *
 * With a budget of H calls an hour, the bucket holds at most the burst
 * b = max(1, floor(H / 50)) (2% of H) and refills at H - b calls an hour
 * (at least 1), so any hour, however aligned, holds at most H calls
 * (DESIGN.md, "Invariants"). One Lua script takes a token or answers how
 * long to wait; it reads the clock with Redis TIME, so replicas need not
 * agree on theirs. Keys: "<prefix>v1:ratelimit:<upstream>" (a hash) and
 * "<prefix>v1:ratelimit:<upstream>:paused" (Unix ms, expiring with it).
 *
 * Metrics: scbridge_rate_limit_wait_seconds_total{upstream} counts the
 * time this process slept for a token plus the waits it handed back as
 * SCB_EWAIT; scbridge_rate_limit_paused{upstream} is 1 while this process
 * last saw the upstream paused.
 *
 * Functions take the caller's store handle (one per thread); they are as
 * thread-safe as that rule makes them.
 */
#ifndef SCB_RATELIMIT_H
#define SCB_RATELIMIT_H

#include <stdint.h>

#include "err.h"
#include "store.h"

/* The burst of a budget of 'per_hour' calls (pure). */
int64_t ratelimit_burst(int64_t per_hour);

/* The refill rate of that budget, in calls per hour (pure). */
int64_t ratelimit_refill_per_hour(int64_t per_hour);

/*
 * Takes one token for 'upstream' ("sellercloud"), budget 'per_hour'.
 * SCB_OK: granted. SCB_EWAIT: none now; *out_wait_ms is how long until
 * one can be (until the pause ends when paused), at least 1 ms. Store
 * errors as store_eval() answers them (SCB_ESTORE, SCB_ESTORECMD).
 */
enum scb_err ratelimit_take(struct store *st, const char *upstream,
                            int64_t per_hour, int64_t *out_wait_ms);

/*
 * Like ratelimit_take(), but sleeps while the wait fits: it returns
 * SCB_OK once a token is granted, or SCB_EWAIT with *out_wait_ms as soon
 * as the next wait would take the total slept past 'max_block_ms' (0:
 * never sleep), so that a job can be rescheduled instead of holding its
 * thread. A pause longer than the bound answers SCB_EWAIT at once.
 */
enum scb_err ratelimit_acquire(struct store *st, const char *upstream,
                               int64_t per_hour, int64_t max_block_ms,
                               int64_t *out_wait_ms);

/*
 * Records that 'upstream' is paused until 'until_ms' (Unix ms, the
 * upstream's reset time): no replica takes a token before it. A later
 * instant already recorded is kept. An instant in the past is a no-op.
 */
enum scb_err ratelimit_pause(struct store *st, const char *upstream,
                             int64_t until_ms);

/*
 * The recorded pause of 'upstream': *out_until_ms is its end (Unix ms),
 * or 0 when not paused.
 */
enum scb_err ratelimit_paused_until(struct store *st, const char *upstream,
                                    int64_t *out_until_ms);

#endif
