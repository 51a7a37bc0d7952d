/* SPDX-License-Identifier: MIT */
/*
 * The reconciliation polls' scheduler. Every replica runs one thread;
 * the one that holds the leader lease in Redis (renewed every second,
 * lost after SCHED_LEADER_MS of silence) enqueues each poll's job when
 * it is due. The jobs themselves run on any replica's workers; a poll's
 * job is coalesced by the poll's id, so at most one waits at a time.
 *
 * Every poll has a hash "poll:<id>" under the store prefix with the
 * fields kind, company, key, interval_s, next_at, and, written by its
 * job, cursor, last_run_at, last_ok_at, last_error (times in Unix ms).
 * Ids: "orders:<company>:<key>", "shipments:default", "items:default".
 */
#ifndef SCB_SCHEDULER_H
#define SCB_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "store.h"

#define SCHED_LEADER_MS 10000

/* Enqueues one poll job; the scheduler calls it when the poll is due. */
typedef enum scb_err (*sched_enqueue_fn)(struct store *st, void *ctx);

struct scheduler;

/*
 * New scheduler for 'cfg' (borrowed). The order polls come from
 * SCBRIDGE_POLL_ORDERS and SCBRIDGE_SC_COMPANY_IDS; shipments and items
 * polls are added with sched_add(). NULL on OOM.
 */
struct scheduler *sched_new(const struct config *cfg);

/* Adds a DDI poll ("shipments" or "items") run every 'interval_s'. */
enum scb_err sched_add(struct scheduler *s, const char *kind,
                       int64_t interval_s, sched_enqueue_fn fn, void *ctx);

/* Starts the thread. */
enum scb_err sched_start(struct scheduler *s);

/* Stops the thread (giving up the lease) and frees. NULL: no-op. */
void sched_free(struct scheduler *s);

/* True while this replica holds the leader lease. */
bool sched_is_leader(struct scheduler *s);

/*
 * Sets scbridge_poll_last_success_timestamp_seconds of every poll from
 * its hash (last_ok_at), so every replica reports the same figure,
 * whichever ran the poll. For a metrics collector; 'st' is the caller's.
 */
void sched_collect(struct scheduler *s, struct store *st);

/*
 * Records the end of a run of poll 'id' in its hash: last_run_at = the
 * run's start, and last_ok_at (ok) or last_error (text). For the jobs.
 */
enum scb_err sched_poll_report(struct store *st, const char *id,
                               int64_t started_ms, const char *error);

#endif
