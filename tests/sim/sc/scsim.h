/* SPDX-License-Identifier: MIT */
/*
 * The Sellercloud simulator's shared state and the functions its files
 * export to each other. One lock, 'lock' in struct scsim, guards every
 * mutable field below it; request handlers hold it for their whole run.
 */
#ifndef SIM_SCSIM_H
#define SIM_SCSIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../common/simhttp.h"
#include "err.h"

#define SCSIM_MAX_COMPANIES 32
#define SCSIM_MAX_ORDERS 500000
#define SCSIM_MAX_PRODUCTS 200000
#define SCSIM_MAX_TOKENS 8192
#define SCSIM_LOG_MAX 20000       /* request log entries kept */
#define SCSIM_BREACH_MAX 10000    /* breach entries kept */
#define SCSIM_CTL_BODY_MAX ((size_t)64 * 1024 * 1024)
#define SCSIM_PAGE_MAX 50

struct scsim_swagger;
struct whsend;

/* Settings from the command line and environment; fixed after start. */
struct scsim_opts {
    int port;
    uint64_t seed;
    const char *username;
    const char *password;
    double token_life_s;
    long rate_budget;             /* calls per window; 0: unlimited */
    long rate_window_s;
    int tz_min;                   /* SIM_TZ as minutes east of UTC */
    double broken_share;          /* generated orders with bad totals */
    const char *swagger_path;
    const char *relay_url;        /* NULL: no relay */
    const char *relay_secret;
    double relay_drop;
    double relay_dup;
    long companies[SCSIM_MAX_COMPANIES];
    size_t n_companies;
    long generate;                /* orders generated at start */
};

struct scsim_pkg {
    int64_t id;
    char *tracking;               /* NULL: none written */
    char *carrier;
    char *method;
    int64_t ship_ms;              /* 0: not shipped */
};

struct scsim_note {
    char *message;
    int category;
    int64_t created_ms;
};

struct scsim_order {
    int64_t id;
    int64_t company;
    int64_t created_ms;
    int64_t time_of_order_ms;
    int64_t updated_ms;
    int64_t ship_ms;              /* 0: no ship date */
    bool exported;
    cJSON *doc;                   /* list-shape fields but ids and times */
    struct scsim_pkg *pkgs;
    size_t n_pkgs;
    struct scsim_note *notes;
    size_t n_notes;
};

struct scsim_product {
    char *sku;
    cJSON *doc;                   /* catalog fields we keep */
    cJSON *inv;                   /* {"<warehouse id>": qty, ...} */
};

struct scsim_token {
    char value[48];
    int64_t expires_ms;
};

struct scsim_logent {
    int64_t ts_ms;
    char method[8];
    char *path;
    char *query;
    char *body;                   /* first 4 KiB */
    int status;
};

struct scsim_breach {
    int64_t ts_ms;
    char method[8];
    char *path;
    char *reason;
};

struct scsim_count {
    char *key;
    unsigned long n;
};

struct scsim {
    struct scsim_opts opts;
    struct scsim_swagger *sw;     /* read-only after start */
    struct whsend *relay;         /* NULL without a relay */
    atomic_ulong relay_sent;
    atomic_ulong relay_dropped;
    atomic_ulong relay_delivered;
    atomic_ulong relay_failed;
    atomic_ulong relay_posted;

    pthread_mutex_t lock;         /* guards everything below */
    int64_t clock_offset_ms;
    long rate_budget;
    long rate_window_s;
    double token_life_s;
    uint64_t rng;
    struct scsim_order **orders;  /* sorted by id */
    size_t n_orders;
    size_t cap_orders;
    int64_t next_order_id;
    int64_t next_line_id;
    int64_t next_pkg_id;
    int64_t next_payment_id;
    struct scsim_product **products;
    size_t n_products;
    size_t cap_products;
    struct scsim_token *tokens;
    size_t n_tokens;
    int64_t window_start_ms;      /* 0: no window open */
    long window_calls;
    struct scsim_logent *log;     /* ring of SCSIM_LOG_MAX */
    size_t log_head;              /* next slot */
    size_t log_len;
    struct scsim_count *by_endpoint;
    size_t n_by_endpoint;
    struct scsim_count *by_status;
    size_t n_by_status;
    struct scsim_breach *breaches;
    size_t n_breaches;
    unsigned long breach_total;
    unsigned long calls_total;
    unsigned long rate_limited;
    unsigned long unauthorized;
};

/* scsim_time.c */
int64_t scsim_now_ms(const struct scsim *s);
/* "YYYY-MM-DDTHH:MM:SS.mmm" in the zone 'tz_min', no designator. */
void scsim_fmt_local(int64_t ms, int tz_min, char out[32]);
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
void scsim_fmt_utc(int64_t ms, char out[32]);
/*
 * Reads "mm/dd/yyyy[ hh:mm[:ss]]" or ISO 8601 (a zone-less one in the
 * zone 'tz_min'). False when it is neither.
 */
bool scsim_parse_time(const char *s, int tz_min, int64_t *out_ms);
/* Reads "UTC", "Z" or "+HH:MM"/"-HH:MM". */
bool scsim_parse_tz(const char *s, int *out_min);

/* scsim_swagger.c */
struct scsim_op {
    const char *tmpl;             /* "/api/Orders/{id}" */
    const cJSON *op;              /* the Swagger operation object */
    bool obsolete;
    char key[192];                /* "GET /api/Orders/{id}" */
};

enum scb_err scsim_swagger_load(const char *path,
                                struct scsim_swagger **out_sw);
void scsim_swagger_free(struct scsim_swagger *sw);
/* Finds the operation for a path under /rest; 'why' says what failed. */
const struct scsim_op *scsim_swagger_match(const struct scsim_swagger *sw,
                                           const char *method,
                                           const char *path, char *why,
                                           size_t why_len);
bool scsim_swagger_check_query(const struct scsim_swagger *sw,
                               const struct scsim_op *op,
                               struct MHD_Connection *conn, char *why,
                               size_t why_len);
/*
 * Checks the body against the operation's body schema. On true,
 * *out_body is the parsed body (NULL when the operation takes none).
 */
bool scsim_swagger_check_body(const struct scsim_swagger *sw,
                              const struct scsim_op *op, const char *body,
                              size_t len, cJSON **out_body, char *why,
                              size_t why_len);
/* Checks 'v' against the named definition (short or full name). */
bool scsim_swagger_check_def(const struct scsim_swagger *sw,
                             const char *def, const cJSON *v, char *why,
                             size_t why_len);

/* scsim_store.c */
void scsim_order_free(struct scsim_order *o);
struct scsim_order *scsim_order_find(const struct scsim *s, int64_t id);
enum scb_err scsim_order_insert(struct scsim *s, struct scsim_order *o);
struct scsim_product *scsim_product_find(const struct scsim *s,
                                         const char *sku);
enum scb_err scsim_product_insert(struct scsim *s, struct scsim_product *p);
void scsim_product_free(struct scsim_product *p);
void scsim_breach(struct scsim *s, const char *method, const char *path,
                  const char *reason);
void scsim_log_request(struct scsim *s, const char *method,
                       const char *path, const char *query,
                       const char *body, const char *endpoint, int status);
void scsim_reset(struct scsim *s);
uint64_t scsim_rand(uint64_t *state);
double scsim_uniform(uint64_t *state);
/* Collects the values of one query key (all of its repeats). */
size_t scsim_query_all(struct MHD_Connection *conn, const char *key,
                       const char **out, size_t max);
/* The JSON number of 'cents' (two decimals exactly). */
cJSON *scsim_money(int64_t cents);
int64_t scsim_cents(const cJSON *obj, const char *key);

/* scsim_render.c */
cJSON *scsim_render_list_item(const struct scsim *s,
                              const struct scsim_order *o);
cJSON *scsim_render_single(const struct scsim *s,
                           const struct scsim_order *o);
cJSON *scsim_render_package(const struct scsim_pkg *p);
cJSON *scsim_render_state(const struct scsim *s, const struct scsim_order *o);
cJSON *scsim_render_product(const struct scsim *s,
                            const struct scsim_product *p, bool state);
void scsim_order_tracking(const struct scsim_order *o, cJSON *arr);

/* scsim_api.c: the /rest routes (orders) */
void scsim_api_handle(struct scsim *s, const struct simhttp_req *req,
                      struct simhttp_resp *resp);
void scsim_msg(struct simhttp_resp *resp, int status, const char *msg);
void scsim_send_json(struct simhttp_resp *resp, int status, cJSON *doc);
bool scsim_ship_date_ok(const struct scsim *s, const struct scsim_order *o,
                        const cJSON *body, int64_t *out_ms, char *why,
                        size_t why_len);

/* scsim_products.c */
bool scsim_products_route(struct scsim *s, const struct scsim_op *op,
                          const struct simhttp_req *req, const cJSON *body,
                          struct simhttp_resp *resp);

/*
 * Seeds one product from the control API: catalog-read field names,
 * plus "PhysicalQty" and "WarehouseID". SCB_ECONFLICT if it exists.
 */
enum scb_err scsim_product_seed(struct scsim *s, const cJSON *spec,
                                const char **out_why);

/* scsim_orders.c */
bool scsim_orders_route(struct scsim *s, const struct scsim_op *op,
                        const struct simhttp_req *req, const cJSON *body,
                        struct simhttp_resp *resp);

/* scsim_seed.c */
/*
 * Makes an order from 'spec' (list-shape fields plus the simulator's
 * "Packages" and "Exported"); consumes nothing. On SCB_OK *out_o is new.
 */
enum scb_err scsim_seed_order(struct scsim *s, const cJSON *spec,
                              struct scsim_order **out_o, char *why,
                              size_t why_len);
/* Generates orders as 'params' says; appends their ids to 'ids'. */
enum scb_err scsim_seed_generate(struct scsim *s, const cJSON *params,
                                 cJSON *ids, char *why, size_t why_len);
void scsim_recompute_total(cJSON *doc);
enum scb_err scsim_seed_apply_times(struct scsim *s, cJSON *doc,
                                    struct scsim_order *o, char *why,
                                    size_t why_len);

/* scsim_ctl.c: the /_sim routes */
void scsim_ctl_handle(struct scsim *s, const struct simhttp_req *req,
                      struct simhttp_resp *resp);

/* scsim_relay.c */
enum scb_err scsim_relay_start(struct scsim *s);
void scsim_relay_stop(struct scsim *s);
/* Sends one notification per company for 'ids' (ints), in 500s. */
void scsim_relay_notify(struct scsim *s, const char *type,
                        const int64_t *ids, const int64_t *companies,
                        size_t n);

#endif
