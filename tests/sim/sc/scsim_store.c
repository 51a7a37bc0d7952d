/* SPDX-License-Identifier: MIT */
/* The Sellercloud simulator's in-memory records, log and counters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "scsim.h"

#define SCSIM_LOG_BODY_MAX 4096

uint64_t scsim_rand(uint64_t *state)
{
    uint64_t z;

    *state += 0x9e3779b97f4a7c15ULL;
    z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double scsim_uniform(uint64_t *state)
{
    return (double)(scsim_rand(state) >> 11) * (1.0 / 9007199254740992.0);
}

cJSON *scsim_money(int64_t cents)
{
    char text[32];

    /* Printed from cents and read back, so the double is the nearest. */
    (void)snprintf(text, sizeof(text), "%s%lld.%02lld", cents < 0 ? "-" : "",
                   (long long)(cents < 0 ? -cents : cents) / 100,
                   (long long)(cents < 0 ? -cents : cents) % 100);
    return cJSON_CreateNumber(strtod(text, NULL));
}

int64_t scsim_cents(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsNumber(v))
        return 0;
    return (int64_t)llround(v->valuedouble * 100.0);
}

void scsim_order_free(struct scsim_order *o)
{
    if (!o)
        return;
    cJSON_Delete(o->doc);
    for (size_t i = 0; i < o->n_pkgs; i++) {
        mem_free(o->pkgs[i].tracking);
        mem_free(o->pkgs[i].carrier);
        mem_free(o->pkgs[i].method);
    }
    mem_free(o->pkgs);
    for (size_t i = 0; i < o->n_notes; i++)
        mem_free(o->notes[i].message);
    mem_free(o->notes);
    mem_free(o);
}

/* Index of the first order whose id is >= 'id'. */
static size_t scsim_order_pos(const struct scsim *s, int64_t id)
{
    size_t lo = 0, hi = s->n_orders;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->orders[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct scsim_order *scsim_order_find(const struct scsim *s, int64_t id)
{
    size_t i = scsim_order_pos(s, id);

    return i < s->n_orders && s->orders[i]->id == id ? s->orders[i] : NULL;
}

static bool scsim_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p;

    if (need <= *cap)
        return true;
    while (ncap < need)
        ncap *= 2;
    p = mem_realloc(*arr, ncap * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

/* Takes ownership of 'o' on SCB_OK. SCB_ECONFLICT for a known id. */
enum scb_err scsim_order_insert(struct scsim *s, struct scsim_order *o)
{
    size_t i = scsim_order_pos(s, o->id);

    if (i < s->n_orders && s->orders[i]->id == o->id)
        return SCB_ECONFLICT;
    if (s->n_orders >= SCSIM_MAX_ORDERS)
        return SCB_ETOOBIG;
    if (!scsim_grow((void **)&s->orders, &s->cap_orders, s->n_orders + 1,
                    sizeof(*s->orders)))
        return SCB_ENOMEM;
    memmove(&s->orders[i + 1], &s->orders[i],
            (s->n_orders - i) * sizeof(*s->orders));
    s->orders[i] = o;
    s->n_orders++;
    if (o->id >= s->next_order_id)
        s->next_order_id = o->id + 1;
    return SCB_OK;
}

void scsim_product_free(struct scsim_product *p)
{
    if (!p)
        return;
    mem_free(p->sku);
    cJSON_Delete(p->doc);
    cJSON_Delete(p->inv);
    mem_free(p);
}

struct scsim_product *scsim_product_find(const struct scsim *s,
                                         const char *sku)
{
    for (size_t i = 0; i < s->n_products; i++) {
        if (strcmp(s->products[i]->sku, sku) == 0)
            return s->products[i];
    }
    return NULL;
}

enum scb_err scsim_product_insert(struct scsim *s, struct scsim_product *p)
{
    if (scsim_product_find(s, p->sku))
        return SCB_ECONFLICT;
    if (s->n_products >= SCSIM_MAX_PRODUCTS)
        return SCB_ETOOBIG;
    if (!scsim_grow((void **)&s->products, &s->cap_products,
                    s->n_products + 1, sizeof(*s->products)))
        return SCB_ENOMEM;
    s->products[s->n_products++] = p;
    return SCB_OK;
}

void scsim_breach(struct scsim *s, const char *method, const char *path,
                  const char *reason)
{
    struct scsim_breach *b;

    s->breach_total++;
    if (!s->breaches) {
        s->breaches = mem_calloc(SCSIM_BREACH_MAX, sizeof(*s->breaches));
        if (!s->breaches)
            return;
    }
    if (s->n_breaches >= SCSIM_BREACH_MAX)
        return;
    b = &s->breaches[s->n_breaches];
    b->path = mem_strdup(path);
    b->reason = mem_strdup(reason);
    if (!b->path || !b->reason) {
        mem_free(b->path);
        mem_free(b->reason);
        return;
    }
    b->ts_ms = scsim_now_ms(s);
    (void)snprintf(b->method, sizeof(b->method), "%s", method);
    s->n_breaches++;
}

static void scsim_count(struct scsim_count **arr, size_t *n,
                        const char *key)
{
    struct scsim_count *p;

    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*arr)[i].key, key) == 0) {
            (*arr)[i].n++;
            return;
        }
    }
    p = mem_realloc(*arr, (*n + 1) * sizeof(**arr));
    if (!p)
        return;
    *arr = p;
    p[*n].key = mem_strdup(key);
    if (!p[*n].key)
        return;
    p[*n].n = 1;
    (*n)++;
}

static void scsim_logent_clear(struct scsim_logent *e)
{
    mem_free(e->path);
    mem_free(e->query);
    mem_free(e->body);
    memset(e, 0, sizeof(*e));
}

void scsim_log_request(struct scsim *s, const char *method,
                       const char *path, const char *query,
                       const char *body, const char *endpoint, int status)
{
    struct scsim_logent *e;
    char st[16];

    (void)snprintf(st, sizeof(st), "%d", status);
    scsim_count(&s->by_status, &s->n_by_status, st);
    scsim_count(&s->by_endpoint, &s->n_by_endpoint, endpoint);
    if (!s->log) {
        s->log = mem_calloc(SCSIM_LOG_MAX, sizeof(*s->log));
        if (!s->log)
            return;
    }
    e = &s->log[s->log_head];
    scsim_logent_clear(e);
    e->ts_ms = scsim_now_ms(s);
    (void)snprintf(e->method, sizeof(e->method), "%s", method);
    e->path = mem_strdup(path);
    e->query = mem_strdup(query ? query : "");
    e->body = mem_strndup(body ? body : "", SCSIM_LOG_BODY_MAX);
    e->status = status;
    s->log_head = (s->log_head + 1) % SCSIM_LOG_MAX;
    if (s->log_len < SCSIM_LOG_MAX)
        s->log_len++;
}

static void scsim_free_counts(struct scsim_count **arr, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        mem_free((*arr)[i].key);
    mem_free(*arr);
    *arr = NULL;
    *n = 0;
}

/* Forgets every record, log entry and counter; settings stay. */
void scsim_reset(struct scsim *s)
{
    for (size_t i = 0; i < s->n_orders; i++)
        scsim_order_free(s->orders[i]);
    mem_free(s->orders);
    s->orders = NULL;
    s->n_orders = s->cap_orders = 0;
    for (size_t i = 0; i < s->n_products; i++)
        scsim_product_free(s->products[i]);
    mem_free(s->products);
    s->products = NULL;
    s->n_products = s->cap_products = 0;
    s->n_tokens = 0;
    s->window_start_ms = 0;
    s->window_calls = 0;
    for (size_t i = 0; s->log && i < SCSIM_LOG_MAX; i++)
        scsim_logent_clear(&s->log[i]);
    s->log_head = s->log_len = 0;
    scsim_free_counts(&s->by_endpoint, &s->n_by_endpoint);
    scsim_free_counts(&s->by_status, &s->n_by_status);
    for (size_t i = 0; i < s->n_breaches; i++) {
        mem_free(s->breaches[i].path);
        mem_free(s->breaches[i].reason);
    }
    s->n_breaches = 0;
    s->breach_total = s->calls_total = 0;
    s->rate_limited = s->unauthorized = 0;
}

/* Collects the values of one query key in order. */
struct scsim_qall {
    const char *key;
    const char **out;
    size_t max;
    size_t n;
};

static enum MHD_Result scsim_qall_iter(void *cls, enum MHD_ValueKind kind,
                                       const char *key, const char *value)
{
    struct scsim_qall *q = cls;

    (void)kind;
    if (strcmp(key, q->key) == 0 && q->n < q->max)
        q->out[q->n++] = value ? value : "";
    return MHD_YES;
}

size_t scsim_query_all(struct MHD_Connection *conn, const char *key,
                       const char **out, size_t max)
{
    struct scsim_qall q = { key, out, max, 0 };

    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, scsim_qall_iter,
                              &q);
    return q.n;
}
