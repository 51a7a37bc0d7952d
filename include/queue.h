/* SPDX-License-Identifier: MIT */
/*
 * The durable job queue: Redis Streams with one consumer group, a
 * delayed set for retries, waits and scheduled jobs, and a dead-letter
 * stream. Every state change of a job is one Lua script, so a crash
 * between two steps cannot lose or duplicate a job.
 *
 * Keys ("<P>" is store_prefix(), e.g. "scb:v1:"):
 *   <P>jobs               stream of ready and taken jobs; group "workers"
 *   <P>jobs:seq           counter that numbers jobs (the job id)
 *   <P>jobs:delayed       zset: job id -> Unix ms when it may run
 *   <P>jobs:delayed:data  hash: job id -> the job's fields (JSON array)
 *   <P>jobs:dead          stream of dead letters, trimmed to retention
 *   <P>jobs:dead:key:<k>  dead-letter id of the job with key k
 *   <P>jobs:co:<type>:<k> the pending job of (type, k): "s:<entry id>"
 *                         while in the stream, "d:<job id>" while delayed
 *
 * A job's fields: v (schema, QUEUE_SCHEMA), id, type, key, payload
 * (JSON text), accepted (Unix ms), attempts (spent so far), waited (ms
 * spent on waits), error (the last one). Entries are deleted from the
 * stream when they are acknowledged, so the stream holds only jobs not
 * yet finished and never needs trimming past a pending entry.
 *
 * Round trips per job: enqueue 1 (one script, or one for a whole
 * batch), take 1 (XREADGROUP), finish 1 (one script). A retry or wait
 * adds its share of a sweep (one script moves up to 100 due jobs).
 *
 * Functions that take a struct store use that connection and are as
 * thread-safe as it is (one per thread).
 */
#ifndef SCB_QUEUE_H
#define SCB_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "err.h"
#include "store.h"

#define QUEUE_SCHEMA "1"
#define QUEUE_GROUP "workers"
#define QUEUE_TYPE_MAX 64             /* bytes of a job type */
#define QUEUE_KEY_MAX 200             /* bytes of a coalescing key */
#define QUEUE_PAYLOAD_MAX (64u << 20) /* bytes of a payload */
#define QUEUE_BATCH_MAX 500           /* jobs in one batch */
#define QUEUE_ID_MAX 48               /* a stream id or job id, with NUL */
#define QUEUE_CONSUMER_MAX 96         /* a consumer name, with NUL */
#define QUEUE_TEXT_MAX 512            /* an error or reason, with NUL */

/* What a handler answers; see DESIGN.md, "Jobs and the queue". */
enum queue_outcome {
    QUEUE_DONE,  /* finished: acknowledged and deleted */
    QUEUE_RETRY, /* transient: backoff, spends an attempt */
    QUEUE_WAIT,  /* wait queue_job_set_wait() ms; spends no attempt */
    QUEUE_DEAD,  /* permanent: to the dead letters with the reason */
};

/* What an enqueue did with one job. */
enum queue_added {
    QUEUE_ADDED,     /* a new job */
    QUEUE_COALESCED, /* a job of the same type and key was pending */
};

/* A job to enqueue; every pointer is borrowed for the call. */
struct queue_new_job {
    const char *type;    /* "order.import": 1..QUEUE_TYPE_MAX bytes */
    const char *key;     /* coalescing key; NULL or "" for none */
    const char *payload; /* JSON text, at most QUEUE_PAYLOAD_MAX bytes */
    int64_t accepted_ms; /* Unix ms it was accepted; 0: Redis's now */
    int64_t run_at_ms;   /* Unix ms it may run from; 0: at once */
};

/*
 * Enqueues one job in one round trip. A key makes it coalesce: while a
 * job of the same type and key waits to be taken (in the stream or
 * delayed), no second one is added and *out_added is QUEUE_COALESCED;
 * an earlier run_at_ms pulls the waiting one forward. Once a worker has
 * taken a job, the next enqueue adds a new one, so news that arrives
 * while a job runs is never lost. SCB_EINVAL for a bad type, key or
 * payload size; SCB_ESTORE, SCB_ESTORECMD from Redis.
 */
enum scb_err queue_enqueue(struct store *st, const struct queue_new_job *job,
                           enum queue_added *out_added);

/*
 * Enqueues 'n' jobs (0..QUEUE_BATCH_MAX) and records 'dedupe_key' for
 * 'dedupe_ttl_s' seconds, all in one atomic script (one round trip).
 * 'dedupe_key' is a whole key (build it with store_key()), or NULL for
 * none. If it already exists nothing is written and *out_duplicate is
 * true; otherwise every job is enqueued as by queue_enqueue() (each may
 * coalesce; out_each, when not NULL, receives n results) and the key is
 * set last, so a failed script never leaves the key without its jobs.
 */
enum scb_err queue_enqueue_batch(struct store *st,
                                 const struct queue_new_job *jobs, size_t n,
                                 const char *dedupe_key, int64_t dedupe_ttl_s,
                                 bool *out_duplicate,
                                 enum queue_added *out_each);

/*
 * A job taken by a worker. Opaque; the accessors' strings live as long
 * as the job. A handler reads it and sets its error, reason and wait.
 */
struct queue_job;

typedef enum queue_outcome (*queue_handler_fn)(struct queue_job *job,
                                               void *ctx);

/* The job id, stable across retries: the "job" field of log lines. */
const char *queue_job_id(const struct queue_job *job);
/* The stream id of this delivery. */
const char *queue_job_entry_id(const struct queue_job *job);
const char *queue_job_type(const struct queue_job *job);
/* The coalescing key, "" when none. */
const char *queue_job_key(const struct queue_job *job);
/* The payload text as enqueued. */
const char *queue_job_payload(const struct queue_job *job);
/* The payload parsed, or NULL when it is not JSON. Borrowed. */
const cJSON *queue_job_json(const struct queue_job *job);
/* 1 for the first try; waits do not count. */
int queue_job_attempt(const struct queue_job *job);
int64_t queue_job_accepted_ms(const struct queue_job *job);
/* Total ms this job has spent waiting (QUEUE_WAIT) so far. */
int64_t queue_job_waited_ms(const struct queue_job *job);
/* The last error of an earlier attempt, "" when none. */
const char *queue_job_last_error(const struct queue_job *job);
/* The error set by this attempt, else the last one; "" when none. */
const char *queue_job_error(const struct queue_job *job);
/* The worker's connection, for the handler's own Redis work. */
struct store *queue_job_store(const struct queue_job *job);
/* True for a job of another schema version: leave it alone. */
bool queue_job_foreign(const struct queue_job *job);

/* The error of this attempt (kept for the dead letter). No secrets. */
void queue_job_set_error(struct queue_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The dead-letter reason, "CODE: text", for QUEUE_DEAD. */
void queue_job_set_reason(struct queue_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* How long QUEUE_WAIT waits, in ms (<= 0: one second). */
void queue_job_set_wait(struct queue_job *job, int64_t wait_ms);

/*
 * Renews the job's lease (XCLAIM JUSTID to its own consumer, only if it
 * still owns it). SCB_ECONFLICT when the lease was lost. Workers renew
 * running jobs on their own; a handler may call this too.
 */
enum scb_err queue_job_renew(struct queue_job *job);

/* Frees a job without finishing it (it stays pending). NULL: no-op. */
void queue_job_free(struct queue_job *job);

/*
 * Low level, used by the workers (worker.h) and by tests. queue_take()
 * reads one new job for 'consumer', blocking up to block_ms (0: no
 * wait). SCB_ENOTFOUND when none came. It recreates the consumer group
 * when Redis lost it. On SCB_OK *out_job is new; a foreign job
 * (queue_job_foreign()) must be freed without finishing it.
 */
enum scb_err queue_take(struct store *st, const struct config *cfg,
                        const char *consumer, int block_ms,
                        struct queue_job **out_job);

/* What queue_finish() did. */
struct queue_finished {
    enum queue_outcome outcome; /* applied: a last retry is QUEUE_DEAD */
    int64_t delay_ms;           /* QUEUE_RETRY, QUEUE_WAIT: runs again in */
};

/*
 * Finishes a job as 'outcome' says, in one script that first checks
 * that the job's consumer still owns the entry (XPENDING), then
 * acknowledges and deletes it and, by outcome, schedules the retry or
 * wait or writes the dead letter. SCB_ECONFLICT when the lease was lost:
 * nothing is written, the new owner's work stands. The job is not freed.
 */
enum scb_err queue_finish(struct queue_job *job, enum queue_outcome outcome,
                          struct queue_finished *out);

/*
 * Hands a taken job back untouched (a new entry for any worker, no
 * attempt spent), if its consumer still owns it; SCB_ECONFLICT if not.
 */
enum scb_err queue_release(struct queue_job *job);

/*
 * Renews the leases of 'n' jobs held by other threads: consumers[i]
 * holds entry ids[i]. *out_renewed counts those still owned.
 */
enum scb_err queue_renew(struct store *st, const char *const *consumers,
                         const char *const *ids, size_t n, size_t *out_renewed);

/* What one sweep did. */
struct queue_sweep_result {
    int64_t promoted;    /* delayed jobs moved to the stream */
    int64_t reclaimed;   /* jobs taken back from silent workers */
    int64_t dead;        /* of those, jobs out of attempts */
    int64_t next_due_ms; /* the next delayed job is due in; -1: none */
    bool more;           /* a batch was full: sweep again at once */
};

/*
 * One sweep, one script: moves due delayed jobs to the stream, takes
 * back entries idle longer than the lease (XAUTOCLAIM to 'consumer')
 * and puts them back as new entries, spending an attempt (a job out of
 * attempts becomes a dead letter; a foreign job is put back as it was).
 * 'housekeeping' also trims dead letters past retention and drops
 * consumers idle for an hour with nothing pending.
 */
enum scb_err queue_sweep(struct store *st, const struct config *cfg,
                         const char *consumer, bool housekeeping,
                         struct queue_sweep_result *out);

/* Deletes 'consumer' from the group if it holds nothing. */
enum scb_err queue_consumer_drop(struct store *st, const char *consumer);

/* Creates the stream and group if missing (BUSYGROUP is success). */
enum scb_err queue_group_ensure(struct store *st);

/*
 * Retry delay after failed attempt 'attempt' (1-based): base *
 * 2^(attempt-1), capped at the cap, then less a jitter of up to a
 * quarter taken from 'rnd'. Never above the cap; grows with 'attempt'.
 */
int64_t queue_backoff_ms(const struct config *cfg, int attempt, uint32_t rnd);

/* Queue figures for GET /admin/api/stats and the metrics. */
struct queue_stats {
    int64_t ready;       /* in the stream, not yet taken */
    int64_t pending;     /* taken and not finished, all replicas */
    int64_t delayed;     /* retries, waits and scheduled jobs */
    int64_t dead;        /* dead letters */
    int64_t in_flight;   /* pending whose lease is still live */
    double oldest_age_s; /* oldest ready or pending entry; 0 if none */
};

/* Reads the figures in one round trip. */
enum scb_err queue_stats_read(struct store *st, const struct config *cfg,
                              struct queue_stats *out);

/* One dead letter; the strings are owned (queue_dead_release()). */
struct queue_dead {
    char id[QUEUE_ID_MAX];     /* dead-letter stream id */
    char job_id[QUEUE_ID_MAX]; /* the job's id */
    char *type;
    char *key;     /* "" when none */
    char *payload; /* JSON text */
    char *reason;  /* "CODE: text" */
    char *error;   /* the last error, "" when none */
    int64_t attempts;
    int64_t accepted_ms;
    int64_t failed_at_ms;
};

void queue_dead_release(struct queue_dead *d);

struct queue_dead_page {
    struct queue_dead *items; /* owned */
    size_t n;
    char next_cursor[QUEUE_ID_MAX]; /* "" on the last page */
};

/*
 * A page of dead letters, oldest first, after 'cursor' (NULL or "" for
 * the first page; else a next_cursor). 'limit' 1..500. SCB_EINVAL for
 * a malformed cursor or limit. Release with queue_dead_page_release().
 */
enum scb_err queue_dead_list(struct store *st, const char *cursor, size_t limit,
                             struct queue_dead_page *out);
void queue_dead_page_release(struct queue_dead_page *page);

/*
 * Runs dead letter 'id' again: enqueued afresh (attempts 0, waits 0,
 * coalescing with a pending job of the same type and key) and removed
 * from the dead letters, in one script. SCB_ENOTFOUND for an unknown,
 * malformed or already handled id; SCB_EVERSION for a letter of another
 * schema. When out_dead is not NULL it receives the letter (release it).
 */
enum scb_err queue_dead_retry(struct store *st, const char *id,
                              struct queue_dead *out_dead);

/* Drops dead letter 'id'; SCB_ENOTFOUND as above. */
enum scb_err queue_dead_discard(struct store *st, const char *id,
                                struct queue_dead *out_dead);

/*
 * Drops the dead letter of the job with coalescing key 'key' (a key has
 * at most one: a newer letter replaces an older one). SCB_ENOTFOUND when
 * it has none. For replays, which run the order afresh.
 */
enum scb_err queue_dead_discard_key(struct store *st, const char *key,
                                    struct queue_dead *out_dead);

/* Number of dead letters. */
enum scb_err queue_dead_count(struct store *st, int64_t *out_n);

#endif
