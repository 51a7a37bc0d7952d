/* SPDX-License-Identifier: MIT */
/*
 * I of the stock formula P = max(0, A + I - B) (DESIGN.md "Available
 * quantity"): per SKU, the quantity on Sellercloud orders that scbridge
 * imported into DDI and that Sellercloud still reserves, that is not
 * shipped and not cancelled in Sellercloud, as last read.
 *
 * Keys (under store_prefix(), "scb:v1:"):
 *   reserve:sku:<sku>    hash: order id -> "<qty>:<added>", the order's
 *                        quantity of the SKU and the Unix ms (Redis's
 *                        clock) at which the reservation was recorded
 *   reserve:order:<id>   hash: state "open" or "closed", at (Unix ms),
 *                        and "s:<sku>" -> qty for every SKU it reserved;
 *                        a closed one expires after RESERVE_CLOSED_TTL_S
 * Every change is one Lua script. A change also enqueues one item.sync
 * job per affected SKU (job_items.h; the same type, key and payload
 * shape as POST /webhooks/ddi/items, with "source":"reserve"), so the
 * SKU's physical stock is written again.
 *
 * When the order jobs call these (order.import, tracking.push):
 *   - reserve_add(): once the DDI order is known to exist, i.e. after
 *     ddi_create_order() succeeded or the reference lookup found the one
 *     order, before or with recording the state "imported". Not for an
 *     order sent as already shipped (Sellercloud reserves nothing for
 *     a FullyShipped order).
 *   - reserve_remove(): whenever a Sellercloud snapshot of an imported
 *     order shows it FullyShipped (ShippingStatus 3) or Canceled/Void
 *     (StatusCode -1/999), whatever happens in DDI; and in tracking.push
 *     once Sellercloud accepted a ShippingStatus call (it marks the whole
 *     order FullyShipped).
 * Both are idempotent: calling again does nothing new but enqueue the
 * syncs again, so on any error the caller simply retries its job. An
 * order removed once is never reserved again (a replay cannot revive
 * it). DDI partial shipments do not touch I.
 *
 * Gating. A reservation counts for a DDI record only if the record was
 * read from DDI at or after the reservation was recorded
 * (reserve_qty_as_of()): DDI lowered available_qty by the order when it
 * created it, which was before reserve_add(), so a record read earlier
 * does not show it yet, and adding the order to I then would count it
 * twice (Sellercloud would show it available again until the next read).
 *
 * Functions use the caller's store connection (one per thread).
 */
#ifndef SCB_RESERVE_H
#define SCB_RESERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "sc_order.h"
#include "store.h"

/* How long a closed reservation is remembered, seconds (90 days). */
#define RESERVE_CLOSED_TTL_S (90 * 86400)

/*
 * Records the reservation of every line of imported order 'order_id'
 * ('o', read from Sellercloud; o->id must be order_id): the sum of the
 * line quantities per SKU; lines with no SKU or a quantity below 1 are
 * left out. Nothing changes when the order is reserved already or was
 * removed. Then enqueues item.sync for each SKU of the order (those of
 * at most DDI_PRODUCT_NO_MAX bytes: only those can be DDI items).
 * SCB_EINVAL for a bad id or no order; SCB_ESTORE, SCB_ESTORECMD,
 * SCB_ENOMEM.
 */
enum scb_err reserve_add(struct store *st, int64_t order_id,
                         const struct sc_order *o);

/*
 * Drops the reservation of order 'order_id' (what reserve_add()
 * recorded, whatever 'o' holds now; 'o' may be NULL, else o->id must be
 * order_id) and remembers it closed, so that a later reserve_add() is
 * ignored. Then enqueues item.sync for each SKU it held. Errors as
 * reserve_add().
 */
enum scb_err reserve_remove(struct store *st, int64_t order_id,
                            const struct sc_order *o);

/* I for 'sku': the sum of its open reservations. */
enum scb_err reserve_qty(struct store *st, const char *sku,
                         int64_t *out_qty);

/*
 * I for 'sku' as a DDI record read at 'as_of_ms' (Redis's clock) sees
 * it: the reservations recorded at or before that time. *out_later (may
 * be NULL) tells whether a later one was left out; the record must then
 * be read again before it counts.
 */
enum scb_err reserve_qty_as_of(struct store *st, const char *sku,
                               int64_t as_of_ms, int64_t *out_qty,
                               bool *out_later);

#endif
