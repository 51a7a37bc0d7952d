/* SPDX-License-Identifier: MIT */
/*
 * The DDI gateway simulator's shared declarations: its in-memory tables
 * (POS orders, shipments, item records, ledger), the gateway routes of
 * contracts/ddi.md and the control routes under /_sim/. All table state
 * sits in struct ddisim and is guarded by its 'lock'; the webhook sender
 * and its settings by 'send_lock'. The two locks are never held together.
 */
#ifndef SIM_DDISIM_H
#define SIM_DDISIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../common/simhttp.h"
#include "../common/whsend.h"
#include "err.h"

#define DDISIM_BODY_MAX ((size_t)4 * 1024 * 1024)
#define DDISIM_STR_MAX 256 /* longest string field of a create */
#define DDISIM_LINES_MAX 500
#define DDISIM_QTY_MAX 1000000
#define DDISIM_HOLD_MAX_MS (120 * 1000)

/* Startup settings: command line over environment over defaults. */
struct ddisim_opts {
    int port;
    uint64_t seed;
    const char *api_key;
    const char *company;
    const char *callback_url; /* ship confirm; NULL: none */
    const char *items_url;    /* items.changed; NULL: none */
    const char *secret;       /* whsec_ or base64; NULL: none */
    double drop_rate;
    double dup_rate;
    int retry_max; /* attempts per delivery */
    int retry_first_ms;
    int retry_cap_ms;
    int callback_timeout_ms;
    int commit_delay_ms;
    int items;              /* default catalogue size */
    const char *warehouses; /* comma separated */
    const char *customers;  /* comma separated */
};

enum ddisim_status {
    DDISIM_OPEN,
    DDISIM_PARTIAL,
    DDISIM_COMPLETE,
    DDISIM_CANCELLED
};

struct ddisim_line {
    int64_t line_no;
    char *product_no;
    int64_t qty;
    int64_t unit_price; /* cents */
    int64_t shipped;
};

struct ddisim_order {
    char order_no[24];
    char *reference;
    cJSON *fields; /* the create request, lines normalised */
    struct ddisim_line *lines;
    size_t n_lines;
    int64_t total;    /* cents */
    int64_t deposit;  /* cents */
    int64_t applied;  /* cents */
    int64_t reversed; /* cents */
    enum ddisim_status status;
    size_t *ships; /* indexes into ddisim.ships */
    size_t n_ships;
    int64_t created_ms; /* Unix ms */
};

struct ddisim_ship {
    cJSON *record; /* immutable */
    int64_t confirmed_ms;
};

struct ddisim_item {
    cJSON *record; /* the /v1/items record */
    cJSON *uoms;   /* array of the units an order line may use */
    int64_t updated_ms;
    bool live; /* false once a later row replaced it */
};

/* Positions of a list that were handed out as a next_cursor. */
struct ddisim_handed {
    bool *at;
    size_t cap;
};

enum ddisim_fault {
    DDISIM_FAULT_NONE,
    DDISIM_FAULT_TIMEOUT,
    DDISIM_FAULT_ERROR
};

struct ddisim {
    pthread_mutex_t lock; /* guards the fields down to 'callbacks' */
    struct ddisim_order **orders;
    size_t n_orders, cap_orders;
    struct ddisim_ship *ships;
    size_t n_ships, cap_ships;
    struct ddisim_item *items;
    size_t n_items, cap_items;
    cJSON *customers;  /* array of account numbers */
    cJSON *warehouses; /* array of warehouse codes */
    cJSON *journal;    /* ledger entries */
    cJSON *messages;   /* webhooks queued */
    cJSON *callbacks;  /* delivery attempts reported by the sender */
    struct ddisim_handed handed_ships;
    struct ddisim_handed handed_items;
    int64_t last_ms; /* latest time stamp given out */
    unsigned long next_order;
    unsigned long next_ship;
    unsigned long next_msg;
    uint64_t rng;
    int commit_delay_ms;
    enum ddisim_fault fault;
    int fault_count; /* creates left to suffer it; -1: all */
    int committing;  /* creates inside their commit delay */

    pthread_mutex_t send_lock; /* guards sender and the send settings */
    bool send_ready;           /* settings taken from the startup opts */
    struct whsend *sender;
    char *callback_url;
    char *items_url;
    double drop_rate;
    double dup_rate;
    int retry_max;
    int retry_first_ms;
    int retry_cap_ms;

    const struct ddisim_opts *opts;
    atomic_bool stopping;
};

/* state.c: tables, time, ids, ledger. Callers hold 'lock'. */
enum scb_err ddisim_init(struct ddisim *d, const struct ddisim_opts *opts);
void ddisim_release(struct ddisim *d);
enum scb_err ddisim_reset(struct ddisim *d, bool with_items);
int64_t ddisim_stamp(struct ddisim *d);
int64_t ddisim_now_ms(void);
double ddisim_rand(struct ddisim *d);
struct ddisim_order *ddisim_order_find(struct ddisim *d, const char *no);
bool ddisim_customer_known(struct ddisim *d, const char *account_no);
struct ddisim_item *ddisim_item_find(struct ddisim *d, const char *product_no,
                                     const char *warehouse);
bool ddisim_uom_allowed(struct ddisim *d, const char *product_no,
                        const char *uom);
const char *ddisim_uom_default(struct ddisim *d, const char *product_no,
                               const char *warehouse);
enum scb_err ddisim_item_put(struct ddisim *d, const cJSON *fields);
void ddisim_journal(struct ddisim *d, const struct ddisim_order *o,
                    const char *kind, int64_t cents);
bool ddisim_handed_ok(const struct ddisim_handed *h, size_t pos);
enum scb_err ddisim_handed_mark(struct ddisim_handed *h, size_t pos);

/* order.c: creating, rendering, cancelling and shipping orders. */
struct ddisim_create {
    cJSON *errors; /* array of error objects, new */
    int status;    /* 400 or 422 when errors */
};
enum scb_err ddisim_order_create(struct ddisim *d, const cJSON *req,
                                 struct ddisim_create *res,
                                 struct ddisim_order **out_order);
cJSON *ddisim_order_json(const struct ddisim *d, const struct ddisim_order *o);
void ddisim_order_cancel(struct ddisim *d, struct ddisim_order *o);
enum scb_err ddisim_ship(struct ddisim *d, struct ddisim_order *o,
                         const cJSON *spec, char **out_record,
                         const char **out_why);
void ddisim_order_free(struct ddisim_order *o);

/* send.c: the webhook sender and its log. */
enum scb_err ddisim_send_start(struct ddisim *d);
void ddisim_send_stop(struct ddisim *d);
enum scb_err ddisim_send_config(struct ddisim *d, const cJSON *cfg);
void ddisim_send_ship(struct ddisim *d, const char *shipment_id,
                      const char *record);
void ddisim_send_items(struct ddisim *d, const cJSON *product_nos);
bool ddisim_send_idle(struct ddisim *d);
void ddisim_send_settings(struct ddisim *d, cJSON *out);

/* api.c and ctl.c: the routes. */
void ddisim_api(struct ddisim *d, const struct simhttp_req *req,
                struct simhttp_resp *resp);
void ddisim_ctl(struct ddisim *d, const struct simhttp_req *req,
                struct simhttp_resp *resp);

/* util.c: formats and answers. */
#define DDISIM_TIME_MAX 32
void ddisim_fmt_time(int64_t ms, char out[DDISIM_TIME_MAX]);
bool ddisim_parse_time(const char *s, int64_t *out_ms);
bool ddisim_is_date(const char *s);
bool ddisim_amount_ok(const char *s, int64_t *out_cents);
cJSON *ddisim_money(int64_t cents);
cJSON *ddisim_error(const char *code, const char *field, int64_t line_no,
                    const char *message);
void ddisim_reply_json(struct simhttp_resp *resp, int status, cJSON *doc);
void ddisim_reply_error(struct simhttp_resp *resp, int status, const char *code,
                        const char *field, const char *message);
char *ddisim_cursor_make(const char *kind, size_t pos);
bool ddisim_cursor_parse(const char *kind, const char *cursor, size_t *out_pos);
void ddisim_json_set(cJSON *obj, const char *key, cJSON *item);
const char *ddisim_query(const struct simhttp_req *req, const char *key);

#endif
