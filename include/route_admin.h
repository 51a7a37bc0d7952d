/* SPDX-License-Identifier: MIT */
/*
 * The operator surface: the admin page (/admin/ and /admin/static/...),
 * the JSON admin API under /admin/api/ (operations.md, "Admin access"
 * and "Admin API") and the scbridge_orders_awaiting_payment_overdue
 * gauge.
 *
 * The module spans several files: route_admin.c (routes, the token
 * check, the one error edge, shared helpers), admin_orders.c (orders and
 * replay), admin_dead.c (dead letters), admin_stats.c (stats and the
 * overdue gauge) and admin_assets.c (the page, compiled in; generated
 * from service/admin/ by service/admin/embed.py).
 *
 * Every API handler runs after the token check, with a Redis handle
 * borrowed from app.pool for the call; handlers are thread-safe.
 */
#ifndef SCB_ROUTE_ADMIN_H
#define SCB_ROUTE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "buf.h"
#include "config.h"
#include "err.h"
#include "httpd.h"
#include "queue.h"
#include "store.h"

#define ROUTE_ADMIN_LIMIT_DEFAULT 100
#define ROUTE_ADMIN_LIMIT_MAX 500
#define ROUTE_ADMIN_AUTH_MAX 1024 /* bytes of an Authorization header */
#define ROUTE_ADMIN_DDI_NO_MAX 64 /* bytes of a DDI order number */
#define ROUTE_ADMIN_TRACKING_MAX (1u << 20) /* bytes of stored tracking */
#define ROUTE_ADMIN_HOURS 24                /* entries of last_24h */

/*
 * Adds the admin routes to app->httpd (an app_routes_fn) and registers
 * the collector of scbridge_orders_awaiting_payment_overdue.
 */
enum scb_err route_admin_register(struct app *app);

/* One admin API call, from the token check to the answer. */
struct route_admin_call {
    struct app *app;
    struct httpd_req *req;
    struct store *st; /* borrowed from app->pool for the call */
    struct buf out;   /* the JSON answer */
    int status;       /* of the answer when the handler succeeds */
    bool wrote;       /* a write was sent: no second try after SCB_ESTORE */
};

/*
 * An API handler: fills c->out and c->status, or answers an error that
 * the edge maps (SCB_EINVAL 400, SCB_ENOTFOUND 404, SCB_EVERSION 409,
 * store errors 503). It logs nothing but its successful actions.
 */
typedef enum scb_err (*route_admin_fn)(struct route_admin_call *c);

/*
 * True when 'authorization' is "Bearer <token>" with one of the
 * configured admin tokens; each is compared in constant time
 * (CRYPTO_memcmp) when the lengths are equal. NULL answers false.
 */
bool route_admin_token_ok(const struct config *cfg, const char *authorization);

/*
 * Parses a positive decimal integer (digits only, 1..INT64_MAX) into
 * *out_v; false, leaving it alone, for anything else.
 */
bool route_admin_parse_id(const char *text, int64_t *out_v);

/*
 * The single value of query parameter 'name' in *out (NULL when absent).
 * SCB_EINVAL when it is given more than once.
 */
enum scb_err route_admin_query(const struct httpd_req *req, const char *name,
                               const char **out);

/* The page size of 'limit' (1..500, default 100); SCB_EINVAL if bad. */
enum scb_err route_admin_limit(const struct httpd_req *req, size_t *out);

/* Appends Unix ms as a quoted RFC 3339 time, or null when ms <= 0. */
enum scb_err route_admin_put_time(struct buf *out, int64_t ms);

/* Appends 's' as a JSON string, or null when it is NULL or "". */
enum scb_err route_admin_put_str_or_null(struct buf *out, const char *s);

/* ---- orders (admin_orders.c) ---- */

/* The fields of an order hash that the API shows, in this order. */
enum route_admin_field {
    RA_F_STATE,
    RA_F_REASON,
    RA_F_COMPANY,
    RA_F_CHANNEL,
    RA_F_CHANNEL_ORDER,
    RA_F_REFERENCE,
    RA_F_DDI_NO,
    RA_F_UPDATED,
    RA_F_TRACKING,
    RA_F_COUNT
};

/* The hash field names of enum route_admin_field. */
extern const char *const route_admin_field_names[RA_F_COUNT];

/*
 * Appends the order object of operations.md ("Order") without its
 * closing brace and without "history", from the stored hash values
 * (NULL or "" where absent). A stored tracking list that is not a JSON
 * array shows as []; pushed_at may be stored as text or Unix ms.
 */
enum scb_err route_admin_order_json(struct buf *out, int64_t id,
                                    const char *const v[RA_F_COUNT]);

/* GET /admin/api/orders/{sc_order_id} */
enum scb_err route_admin_order_get(struct route_admin_call *c);
/* GET /admin/api/orders?state=... or ?ddi_order_no=... */
enum scb_err route_admin_orders(struct route_admin_call *c);
/* POST /admin/api/orders/{sc_order_id}/replay */
enum scb_err route_admin_replay(struct route_admin_call *c);

/*
 * Runs order 'id' of 'company' again from its current state: adds the
 * history event 'event' with 'detail', enqueues an order.import job with
 * source "replay", then drops the order's dead letter 'dead_id' (none
 * when NULL or "") unless a newer one replaced it. For replay and retry.
 */
enum scb_err route_admin_rerun(struct route_admin_call *c, int64_t company,
                               int64_t id, const char *event,
                               const char *detail, const char *dead_id);

/* ---- dead letters (admin_dead.c) ---- */

/*
 * The Sellercloud order (and its company, 0 when unknown) that a dead
 * letter concerns: the payload's order_id and company_id, else the
 * reference SC-<company>-<order> of its shipment, else a key
 * "order:<id>". false when none.
 */
bool route_admin_dead_order(const char *key, const char *payload,
                            int64_t *out_company, int64_t *out_order);

/* GET /admin/api/dead-letters */
enum scb_err route_admin_dead_list(struct route_admin_call *c);
/* POST /admin/api/dead-letters/{id}/retry */
enum scb_err route_admin_dead_retry(struct route_admin_call *c);
/* POST /admin/api/dead-letters/{id}/discard */
enum scb_err route_admin_dead_discard(struct route_admin_call *c);

/* ---- stats and the overdue gauge (admin_stats.c) ---- */

/* GET /admin/api/stats */
enum scb_err route_admin_stats(struct route_admin_call *c);

/*
 * Orders whose wait for payment passed the maximum age at 'now_ms' and
 * is not resolved: in awaiting_payment and placed (the hash field
 * time_of_order, Unix ms, else the time it entered that state) at or
 * before now - max age, or needs_attention with a PAYMENT_TIMEOUT
 * reason. One script; it looks at up to 20000 orders of each state.
 */
enum scb_err route_admin_overdue_count(struct store *st,
                                       const struct config *cfg,
                                       int64_t now_ms, int64_t *out_n);

/* Declares the gauge and adds its collector (reads app->pool). */
void route_admin_metrics_init(struct app *app);

/* ---- the page (admin_assets.c) ---- */

struct route_admin_asset {
    const char *name; /* "index.html", "app.js", "style.css" */
    const char *type; /* Content-Type */
    const char *const *lines; /* the file, one line each; NULL ends it */
};

/* The asset called 'name', or NULL. */
const struct route_admin_asset *route_admin_asset_find(const char *name);

/* Appends the whole file of 'a' to 'out'. */
enum scb_err route_admin_asset_text(const struct route_admin_asset *a,
                                    struct buf *out);

#endif
