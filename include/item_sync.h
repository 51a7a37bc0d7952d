/* SPDX-License-Identifier: MIT */
/*
 * One item's write to Sellercloud, for the SKU sync's two jobs
 * (job_items.h): the item's lock and stored state, the planned calls
 * (item_map.h) and the record of the outcome in its hash. Also the key
 * and lock helpers that the item jobs share.
 *
 * Use, from a job handler, with 'x' on the stack:
 *   item_sync_init(), item_sync_open() (the lock, then the state in
 *   x->s), set x->item and x->as_of, item_sync_run(); on an error that
 *   item_sync_give_up() does not turn into an item error, the job ends
 *   with item_sync_again(); otherwise item_sync_commit(). Always
 *   item_sync_close() and item_sync_release() at the end.
 *
 * Writes, in this order: catalog read (only when the product is not
 * known to exist), create, physical stock, basic info, custom columns.
 * When the budget runs out between them (SCB_EWAIT) the steps done are
 * stored in the item's hash ("pend", "done") and the next run sends
 * only the rest.
 *
 * Functions use the job's store connection and API clients (one per
 * worker thread).
 */
#ifndef SCB_ITEM_SYNC_H
#define SCB_ITEM_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "ddi_client.h"
#include "err.h"
#include "jobs.h"
#include "queue.h"
#include "store.h"

#define ITEM_SYNC_LOG "items"           /* the "mod" of the sync's logs */
#define ITEM_SYNC_KEY_MAX 256           /* a key: prefix, name, product */
#define ITEM_SYNC_REASON_MAX 512        /* an item error, NUL included */
#define ITEM_SYNC_TOKEN_SIZE 33         /* a lock token, NUL included */
#define ITEM_SYNC_ERR_METRIC "scbridge_item_errors_total"

/* What the item's hash holds, as read by item_sync_open(). */
struct item_sync_state {
    redisReply *r;       /* owns the strings below */
    const char *ddi;     /* the stored DDI record, or NULL */
    int64_t read_at;     /* Redis ms before the read that brought it */
    const char *fp;      /* settings fingerprint it was written under */
    const char *written; /* the last written record, or NULL */
    bool exists;         /* the product is known to exist */
    const char *pend;    /* target record of an interrupted write */
    unsigned done;       /* the steps of it that were sent */
};

/*
 * One item's write, from its DDI record to what is recorded. The caller
 * sets 'item' and 'as_of' (and may fill 'stored' to point 'item' at)
 * before item_sync_run(); the other fields are the sync's, to be read.
 */
struct item_sync {
    struct jobs *j;
    struct queue_job *job;
    struct store *st;
    struct jobs_thread *t;
    const char *jid;
    const char *pno;                  /* borrowed for the whole use */
    char key[ITEM_SYNC_KEY_MAX];      /* item:<pno> */
    char token[ITEM_SYNC_TOKEN_SIZE]; /* its lock; "" when not held */
    const struct ddi_item *item;      /* the record to write */
    struct ddi_item stored;           /* item.sync: the stored record */
    int64_t as_of;                    /* Redis ms the record is current at */
    struct item_sync_state s;
    const char *status;               /* the outcome, once handled */
    char error[ITEM_SYNC_REASON_MAX]; /* "" when none */
    const char *exists;               /* "1", "0" (gone), "" (as it was) */
    char *record;                     /* owned: the new written record */
    bool recheck;                     /* a reservation newer than it */
    bool gave_up;                     /* tried too often: an item error */
    int tries;                        /* failed tries of the item so far */
    const char *what;                 /* the call that failed */
    int calls;                        /* Sellercloud calls made */
};

/* Prepares 'x' for product 'pno' (borrowed) of 'job'; cannot fail. */
void item_sync_init(struct item_sync *x, struct jobs *j,
                    struct queue_job *job, struct jobs_thread *t,
                    const char *pno);

/*
 * Takes the item's lock and reads its hash into x->s. SCB_ECONFLICT
 * when another worker holds the lock (see item_sync_busy()); SCB_ESTORE,
 * SCB_ESTORECMD, SCB_EIO (no random token).
 */
enum scb_err item_sync_open(struct item_sync *x);

/* The job's answer to SCB_ECONFLICT from item_sync_open(): wait a bit. */
enum queue_outcome item_sync_busy(struct item_sync *x);

/*
 * Handles one item from x->item (current at x->as_of). SCB_OK: x->status
 * says what happened, to be committed. Otherwise the item must be tried
 * again: SCB_EWAIT (sc_client_wait_ms()), a transient Sellercloud error
 * (x->what names the call), or a Redis error.
 */
enum scb_err item_sync_run(struct item_sync *x);

/*
 * After item_sync_run() failed with 'err': true when the item has been
 * tried SCBRIDGE_JOB_MAX_ATTEMPTS times, so the failure is now the
 * item's error (x->gave_up) and it is to be committed. Waits, Redis
 * trouble and refused credentials concern every item alike and never
 * count against one.
 */
bool item_sync_give_up(struct item_sync *x, enum scb_err err);

/* The queue outcome of an item that must be tried again after 'err'. */
enum queue_outcome item_sync_again(struct item_sync *x, enum scb_err err);

/*
 * Records the outcome in the item's hash and "items:errors"; 'ddi' (may
 * be NULL: keep the stored one) becomes the stored record, read at
 * 'read_at' under settings fingerprint 'fp'. *out_hinted (may be NULL)
 * tells whether a webhook hint had announced the new record.
 * SCB_EINVAL when nothing was decided; SCB_ESTORE, SCB_ESTORECMD.
 */
enum scb_err item_sync_commit(struct item_sync *x, const char *ddi,
                              int64_t read_at, const char *fp,
                              bool *out_hinted);

/* Gives up the item's lock, if held. */
void item_sync_close(struct item_sync *x);

/* Frees what 'x' holds; it must be initialised again before reuse. */
void item_sync_release(struct item_sync *x);

/* ---- helpers the item jobs share ---- */

/* "<prefix>v1:<name><id>" ('id' may be NULL) into 'out'. */
enum scb_err item_sync_key(struct store *st, char out[ITEM_SYNC_KEY_MAX],
                           const char *name, const char *id);

/* A random lock token, 32 hex digits. SCB_EIO without randomness. */
enum scb_err item_sync_token(char out[ITEM_SYNC_TOKEN_SIZE]);

/* How long a lock may outlive a silent holder, ms: an item's worst. */
int64_t item_sync_lock_ms(const struct config *cfg);

/*
 * Releases ('ms' NULL) or extends to 'ms' (decimal text) the lock 'key'
 * while it still holds 'token'. A failure is ignored: the lock expires.
 */
void item_sync_lock_keep(struct store *st, const char *key,
                         const char *token, const char *ms);

/* Element 'i' of array reply 'r' when it is a string, else NULL. */
const char *item_sync_reply_str(const redisReply *r, size_t i);

/* Sets the job's error from a Redis failure: QUEUE_RETRY. */
enum queue_outcome item_sync_store_fail(struct queue_job *job,
                                        struct store *st, enum scb_err err);

#endif
