/* SPDX-License-Identifier: MIT */
/*
 * Worker threads: SCBRIDGE_WORKERS threads that take jobs from the queue
 * (queue.h) and run the handler registered for each job's type, plus one
 * sweeper thread per pool that moves due delayed jobs into the stream,
 * takes back jobs whose worker went silent past SCBRIDGE_JOB_LEASE, and
 * renews the leases of this pool's long-running jobs.
 *
 * Each thread owns its Redis connection. A worker blocks in XREADGROUP
 * (5 s at most), so an idle pool issues only those reads and a sweep
 * every min(lease / 3, 5 s). Redis going away is survived: threads
 * reconnect with a backoff of 100 ms doubling to 2 s.
 *
 * Handlers run on the worker threads, several at once: they must be
 * thread-safe, and use queue_job_store() for their own Redis work.
 */
#ifndef SCB_WORKER_H
#define SCB_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "queue.h"

#define WORKER_HANDLERS_MAX 32

struct worker_pool;

/*
 * New pool for 'cfg' (borrowed; it must outlive the pool). Starts
 * nothing. NULL only on OOM. Declares the queue's metric families.
 */
struct worker_pool *worker_pool_new(const struct config *cfg);

/*
 * Runs 'fn' (with 'ctx') for jobs of 'type'. Before worker_pool_start()
 * only. SCB_EINVAL for a bad or repeated type, or a full table. A job of
 * a type no handler is registered for is left pending for a replica
 * that knows it (after job_max_attempts leases it is dead-lettered).
 */
enum scb_err worker_pool_register(struct worker_pool *wp, const char *type,
                                  queue_handler_fn fn, void *ctx);

/*
 * Starts the worker threads and the sweeper, and registers the metrics
 * collector of scbridge_queue_depth, scbridge_oldest_job_age_seconds
 * and scbridge_dead_letters (metrics.h has no way to remove it: the pool
 * must outlive metrics rendering, or call metrics_reset() first).
 * Threads block every signal, so signals reach main(). Call once.
 */
enum scb_err worker_pool_start(struct worker_pool *wp);

/*
 * Workers take no new job from now on; returns at once. A job a worker
 * receives after this is handed back to the stream untouched. Blocked
 * reads are cut short with CLIENT UNBLOCK. Call from main() on SIGTERM.
 */
void worker_pool_stop(struct worker_pool *wp);

/*
 * Stops (as worker_pool_stop()) and waits up to timeout_ms for running
 * jobs to finish. True when every thread ended and was joined; false
 * when some job still runs: its entry stays unacknowledged and another
 * replica takes it back after the lease; the caller should then exit
 * without worker_pool_free().
 */
bool worker_pool_drain(struct worker_pool *wp, int64_t timeout_ms);

/*
 * Frees a pool that was never started or whose drain answered true;
 * a pool with threads still running is left alone. NULL: no-op.
 */
void worker_pool_free(struct worker_pool *wp);

/*
 * Tells the sweeper that a delayed job enqueued by this process is due
 * in 'in_ms', so that it runs on time rather than at the next sweep.
 */
void worker_pool_kick(struct worker_pool *wp, int64_t in_ms);

/* Jobs this pool's handlers are running now. */
int worker_pool_in_flight(struct worker_pool *wp);

#endif
