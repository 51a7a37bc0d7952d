/* SPDX-License-Identifier: MIT */
/*
 * Per-order state and history in Redis: the visible state of every
 * Sellercloud order scbridge knows (DESIGN.md "Order states"), its
 * history of events, the DDI order number index, the per-order lock and
 * the hourly import/ship counts. Records expire SCBRIDGE_ORDER_RETENTION
 * after their last change.
 *
 * Keys (under the store prefix): order:<id> (hash), order:<id>:h (list of
 * history JSON), orders:state:<state> (zset of ids by update time, ms),
 * ddi:<order_no> (sc order id), lock:order:<id>, stats:h:<hour>.
 * Functions take the caller's struct store (not thread-safe itself).
 */
#ifndef SCB_ORDERSTATE_H
#define SCB_ORDERSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "store.h"

#define ORDERSTATE_REASON_MAX 1024

/* The order states of operations.md, and how many there are. */
extern const char *const orderstate_names[];
#define ORDERSTATE_COUNT 7

struct order_rec {
    int64_t sc_order_id;
    char state[24];
    char reason[ORDERSTATE_REASON_MAX]; /* "" when none */
    int64_t company_id;                 /* company at first import */
    char channel[64];                   /* DDI channel name */
    char channel_order_id[128];
    char reference[64];                 /* "" until import starts */
    char ddi_order_no[64];              /* "" until the DDI order exists */
    int64_t updated_at_ms;
    int64_t awaiting_since_ms;          /* 0 unless awaiting payment */
    int64_t create_sent_at_ms;          /* last DDI create, outcome open */
    char sig[72];                       /* lines and total at import */
    char sc_last_updated[40];           /* LastUpdated as last read */
    bool shipped_outside;
    bool exported;                      /* SetExported confirmed it */
    bool replay;                        /* an operator asked to run it */
};

/* An extra hash field written with a transition. */
struct orderstate_field {
    const char *name;
    const char *value;
};

/* True when 'state' is one of the seven names. */
bool orderstate_valid(const char *state);

/*
 * Reads the record of order 'id'. SCB_ENOTFOUND when none (never seen,
 * or expired). On SCB_OK *out is filled.
 */
enum scb_err orderstate_get(struct store *st, int64_t id,
                            struct order_rec *out);

/*
 * Sets the state (and reason: NULL clears it), writes the extra fields,
 * appends a history event when 'event' is not NULL, moves the id between
 * the state indexes, renews retention, counts imports and shipments per
 * hour. One atomic script. 'detail' may be NULL ("").
 */
enum scb_err orderstate_set(struct store *st, const struct config *cfg,
                            int64_t id, const char *state,
                            const char *reason, const char *event,
                            const char *detail,
                            const struct orderstate_field *fields,
                            size_t nfields);

/*
 * Sets hash field 'name' of an existing record (no state change, no
 * history); does nothing for an order with no record.
 */
enum scb_err orderstate_touch(struct store *st, int64_t id, const char *name,
                              const char *value);

/* Appends a history event without changing the state. */
enum scb_err orderstate_event(struct store *st, const struct config *cfg,
                              int64_t id, const char *event,
                              const char *detail);

/*
 * Takes the per-order lock for 'lease_ms'. SCB_ECONFLICT when another
 * holder has it. On SCB_OK out_token (33 bytes) identifies this holder.
 */
enum scb_err orderstate_lock(struct store *st, int64_t id, int64_t lease_ms,
                             char out_token[33]);

/* Releases the lock if 'token' still holds it (else does nothing). */
enum scb_err orderstate_unlock(struct store *st, int64_t id,
                               const char *token);

/* The Sellercloud order id of DDI order 'order_no'; SCB_ENOTFOUND. */
enum scb_err orderstate_find_ddi(struct store *st, const char *order_no,
                                 int64_t *out_id);

/*
 * Appends the history of order 'id' as a JSON array (oldest first) of
 * {"at","event","detail"} objects with RFC 3339 times to 'out'.
 */
enum scb_err orderstate_history_json(struct store *st, int64_t id,
                                     struct buf *out);

/* Number of orders in each state, in orderstate_names order. */
enum scb_err orderstate_counts(struct store *st, const struct config *cfg,
                               int64_t out_counts[ORDERSTATE_COUNT]);

/* Formats Unix ms as RFC 3339 UTC with milliseconds (25 bytes). */
void orderstate_fmt_time(int64_t ms, char out[32]);

/* The wall clock in Unix ms. */
int64_t orderstate_now_ms(void);

#endif
