/* SPDX-License-Identifier: MIT */
/*
 * Snapshots of Sellercloud orders kept in Redis between the list call
 * that read them and the job that handles them, so that one list call of
 * 50 orders serves 50 import jobs (DESIGN.md, "Coalescing").
 *
 * A snapshot is the order in Sellercloud's list shape (sc_order_parse()
 * reads it back) with the time it was read. The per-company "pending"
 * set (a zset: order id -> when it was last announced) tells a job
 * whether news arrived after its snapshot was taken.
 *
 * Keys: snap:<order id> (hash: at, json; expires after an hour),
 * import:pending:<company> (zset), import:batch:<company> (a lock).
 */
#ifndef SCB_ORDER_SNAP_H
#define SCB_ORDER_SNAP_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "sc_order.h"
#include "store.h"

/* The list-shape JSON of 'o' (new; cJSON_Delete()); NULL on OOM. */
cJSON *order_snap_to_json(const struct sc_order *o);

/* Stores the snapshot of 'o', read at 'at_ms'. */
enum scb_err order_snap_put(struct store *st, const struct sc_order *o,
                            int64_t at_ms);

/*
 * Reads the snapshot of order 'id'. SCB_ENOTFOUND when none. On SCB_OK
 * *out is filled (sc_order_release()) and *out_at_ms is when it was read.
 */
enum scb_err order_snap_get(struct store *st, int64_t id,
                            struct sc_order *out, int64_t *out_at_ms);

/*
 * Marks order 'id' of 'company' announced at 'at_ms' (kept when a later
 * time is already recorded).
 */
enum scb_err order_snap_announce(struct store *st, int64_t company,
                                 int64_t id, int64_t at_ms);

/*
 * The same for 'n' orders (at most 500) at once, in one command: the
 * Sellercloud webhook announces what it accepted, so that a job already
 * waiting for one of them knows a snapshot read before 'at_ms' is old.
 */
enum scb_err order_snap_announce_many(struct store *st, int64_t company,
                                      const int64_t *ids, size_t n,
                                      int64_t at_ms);

/*
 * When order 'id' was last announced and not yet read since: *out_at_ms,
 * or 0 when nothing is pending for it.
 */
enum scb_err order_snap_pending_at(struct store *st, int64_t company,
                                   int64_t id, int64_t *out_at_ms);

/*
 * Up to 'max' pending ids of 'company', oldest announcement first, into
 * out_ids; *out_n how many.
 */
enum scb_err order_snap_pending(struct store *st, int64_t company,
                                int64_t *out_ids, size_t max,
                                size_t *out_n);

/*
 * Clears the announcements of 'ids' that are not newer than 'read_ms'
 * (the time the list call began): news that came during the call stays.
 */
enum scb_err order_snap_settle(struct store *st, int64_t company,
                               const int64_t *ids, size_t n,
                               int64_t read_ms);

#endif
