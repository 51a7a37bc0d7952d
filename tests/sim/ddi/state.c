/* SPDX-License-Identifier: MIT */
/* DDI simulator tables: items, customers, ledger, time stamps, cursors. */
#include "ddisim.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jsonio.h"
#include "mem.h"
#include "money.h"

#define DDISIM_PNO_MAX 64
#define DDISIM_WH_MAX 32
#define DDISIM_HANDED_MAX ((size_t)100 * 1000 * 1000)

int64_t ddisim_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A wall-clock time stamp later than every one given before, so that the
 * order of the tables (commit order) is also the order of their times.
 */
int64_t ddisim_stamp(struct ddisim *d)
{
    int64_t now = ddisim_now_ms();

    if (now <= d->last_ms)
        now = d->last_ms + 1;
    d->last_ms = now;
    return now;
}

/* xorshift64*, seeded from the command line: runs repeat exactly. */
double ddisim_rand(struct ddisim *d)
{
    uint64_t x = d->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    d->rng = x;
    return (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static cJSON *ddisim_split(const char *list)
{
    cJSON *arr = cJSON_CreateArray();
    const char *p = list ? list : "";
    const char *end;
    char *tok;

    while (arr && *p) {
        end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        if (end > p) {
            tok = mem_strndup(p, (size_t)(end - p));
            if (tok)
                cJSON_AddItemToArray(arr, cJSON_CreateString(tok));
            mem_free(tok);
        }
        p = *end ? end + 1 : end;
    }
    return arr;
}

static bool ddisim_list_has(const cJSON *arr, const char *s)
{
    const cJSON *it;

    cJSON_ArrayForEach (it, arr) {
        if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0)
            return true;
    }
    return false;
}

bool ddisim_customer_known(struct ddisim *d, const char *account_no)
{
    return ddisim_list_has(d->customers, account_no);
}

struct ddisim_order *ddisim_order_find(struct ddisim *d, const char *no)
{
    for (size_t i = 0; i < d->n_orders; i++) {
        if (strcmp(d->orders[i]->order_no, no) == 0)
            return d->orders[i];
    }
    return NULL;
}

static const char *ddisim_rec_str(const struct ddisim_item *it, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(it->record, key);

    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The live row of (product_no, warehouse); NULL warehouse: any. */
struct ddisim_item *ddisim_item_find(struct ddisim *d, const char *product_no,
                                     const char *warehouse)
{
    struct ddisim_item *it;

    for (size_t i = 0; i < d->n_items; i++) {
        it = &d->items[i];
        if (!it->live ||
            strcmp(ddisim_rec_str(it, "product_no"), product_no) != 0)
            continue;
        if (!warehouse ||
            strcmp(ddisim_rec_str(it, "warehouse"), warehouse) == 0)
            return it;
    }
    return NULL;
}

bool ddisim_uom_allowed(struct ddisim *d, const char *product_no,
                        const char *uom)
{
    for (size_t i = 0; i < d->n_items; i++) {
        if (d->items[i].live &&
            strcmp(ddisim_rec_str(&d->items[i], "product_no"), product_no) ==
                0 &&
            ddisim_list_has(d->items[i].uoms, uom))
            return true;
    }
    return false;
}

const char *ddisim_uom_default(struct ddisim *d, const char *product_no,
                               const char *warehouse)
{
    struct ddisim_item *it = ddisim_item_find(d, product_no, warehouse);

    if (!it)
        it = ddisim_item_find(d, product_no, NULL);
    return it ? ddisim_rec_str(it, "uom") : "EA";
}

static cJSON *ddisim_item_blank(const char *pno, const char *wh)
{
    cJSON *r = cJSON_CreateObject();

    cJSON_AddStringToObject(r, "product_no", pno);
    cJSON_AddStringToObject(r, "warehouse", wh);
    cJSON_AddStringToObject(r, "description", pno);
    cJSON_AddStringToObject(r, "product_type", "General");
    cJSON_AddStringToObject(r, "image_url", "");
    cJSON_AddStringToObject(r, "web_description", "");
    cJSON_AddStringToObject(r, "mfg_product_no", "");
    cJSON_AddStringToObject(r, "upc", "");
    cJSON_AddStringToObject(r, "uom", "EA");
    cJSON_AddStringToObject(r, "price", "0.00");
    cJSON_AddNumberToObject(r, "available_qty", 0);
    cJSON_AddBoolToObject(r, "active", true);
    cJSON_AddBoolToObject(r, "web", true);
    return r;
}

static const char *const ddisim_item_strs[] = {
    "description",    "product_type", "image_url", "web_description",
    "mfg_product_no", "upc",          "uom",
};

/* Copies the known fields of 'f' into 'r'; false on a wrong type. */
static bool ddisim_item_merge(cJSON *r, const cJSON *f)
{
    const cJSON *v;
    int64_t cents;

    for (size_t i = 0; i < sizeof(ddisim_item_strs) / sizeof(char *); i++) {
        v = cJSON_GetObjectItemCaseSensitive(f, ddisim_item_strs[i]);
        if (v && (!cJSON_IsString(v) || strlen(v->valuestring) > 2048))
            return false;
        if (v)
            ddisim_json_set(r, ddisim_item_strs[i], cJSON_Duplicate(v, 0));
    }
    v = cJSON_GetObjectItemCaseSensitive(f, "price");
    if (v && (!cJSON_IsString(v) || money_parse(v->valuestring, &cents)))
        return false;
    if (v)
        ddisim_json_set(r, "price", ddisim_money(cents));
    v = cJSON_GetObjectItemCaseSensitive(f, "available_qty");
    if (v && (!cJSON_IsNumber(v) || v->valuedouble != (double)v->valueint))
        return false;
    if (v)
        ddisim_json_set(r, "available_qty", cJSON_Duplicate(v, 0));
    for (int i = 0; i < 2; i++) {
        v = cJSON_GetObjectItemCaseSensitive(f, i ? "web" : "active");
        if (v && !cJSON_IsBool(v))
            return false;
        if (v)
            ddisim_json_set(r, i ? "web" : "active", cJSON_Duplicate(v, 0));
    }
    return true;
}

/* The units a line may use: those given, else the old ones; uom always. */
static cJSON *ddisim_item_uoms(const cJSON *given, const cJSON *old,
                               const char *uom)
{
    const cJSON *src = given ? given : old;
    cJSON *out = src ? cJSON_Duplicate(src, 1) : cJSON_CreateArray();

    if (out && !ddisim_list_has(out, uom))
        cJSON_AddItemToArray(out, cJSON_CreateString(uom));
    return out;
}

static enum scb_err ddisim_items_grow(struct ddisim *d)
{
    struct ddisim_item *n;
    size_t cap = d->cap_items ? d->cap_items * 2 : 64;

    if (d->n_items < d->cap_items)
        return SCB_OK;
    n = mem_realloc(d->items, cap * sizeof(*n));
    if (!n)
        return SCB_ENOMEM;
    d->items = n;
    d->cap_items = cap;
    return SCB_OK;
}

static bool ddisim_uoms_ok(const cJSON *uoms)
{
    const cJSON *it;

    if (!uoms)
        return true;
    if (!cJSON_IsArray(uoms) || cJSON_GetArraySize(uoms) > 16)
        return false;
    cJSON_ArrayForEach (it, uoms) {
        if (!cJSON_IsString(it) || strlen(it->valuestring) > 16)
            return false;
    }
    return true;
}

/*
 * Adds or changes the record (product_no, warehouse) from 'f'. A change
 * appends a new row with a new updated_at and retires the old one, which
 * moves the record to the end of the list. SCB_EINVAL on a bad field.
 */
enum scb_err ddisim_item_put(struct ddisim *d, const cJSON *f)
{
    const char *pno = jsonio_str_or(f, "product_no", NULL);
    const cJSON *wh0 = cJSON_GetArrayItem(d->warehouses, 0);
    const char *wh = jsonio_str_or(f, "warehouse",
                                   wh0 ? wh0->valuestring : "MAIN");
    const cJSON *uoms = cJSON_GetObjectItemCaseSensitive(f, "uoms");
    struct ddisim_item *old;
    struct ddisim_item row;
    char when[DDISIM_TIME_MAX];

    if (!pno || !*pno || strlen(pno) > DDISIM_PNO_MAX || !*wh ||
        strlen(wh) > DDISIM_WH_MAX || !ddisim_uoms_ok(uoms))
        return SCB_EINVAL;
    if (ddisim_items_grow(d))
        return SCB_ENOMEM;
    old = ddisim_item_find(d, pno, wh);
    row.record = old ? cJSON_Duplicate(old->record, 1)
                     : ddisim_item_blank(pno, wh);
    if (!row.record || !ddisim_item_merge(row.record, f)) {
        cJSON_Delete(row.record);
        return row.record ? SCB_EINVAL : SCB_ENOMEM;
    }
    row.uoms = ddisim_item_uoms(uoms, old ? old->uoms : NULL,
                                ddisim_rec_str(&row, "uom"));
    row.updated_ms = ddisim_stamp(d);
    row.live = true;
    ddisim_fmt_time(row.updated_ms, when);
    ddisim_json_set(row.record, "updated_at", cJSON_CreateString(when));
    if (old)
        old->live = false;
    d->items[d->n_items++] = row;
    return SCB_OK;
}

/* The default catalogue: SKU-001... in every warehouse, from the seed. */
static enum scb_err ddisim_seed_items(struct ddisim *d, int count)
{
    char pno[32], buf[128];
    const cJSON *wh;
    cJSON *f;
    enum scb_err err = SCB_OK;

    for (int i = 1; i <= count && !err; i++) {
        snprintf(pno, sizeof(pno), "SKU-%03d", i);
        cJSON_ArrayForEach (wh, d->warehouses) {
            f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "product_no", pno);
            cJSON_AddStringToObject(f, "warehouse", wh->valuestring);
            snprintf(buf, sizeof(buf), "Sample item %d", i);
            cJSON_AddStringToObject(f, "description", buf);
            cJSON_AddStringToObject(f, "web_description", buf);
            snprintf(buf, sizeof(buf), "https://img.example.com/%s.jpg", pno);
            cJSON_AddStringToObject(f, "image_url", buf);
            snprintf(buf, sizeof(buf), "MFG-%03d", i);
            cJSON_AddStringToObject(f, "mfg_product_no", buf);
            snprintf(buf, sizeof(buf), "0%011d", 10000 + i * 37);
            cJSON_AddStringToObject(f, "upc", buf);
            snprintf(buf, sizeof(buf), "%d.%02d",
                     1 + (int)(ddisim_rand(d) * 99),
                     (int)(ddisim_rand(d) * 100));
            cJSON_AddStringToObject(f, "price", buf);
            cJSON_AddNumberToObject(f, "available_qty",
                                    (int)(ddisim_rand(d) * 200));
            err = f ? ddisim_item_put(d, f) : SCB_ENOMEM;
            cJSON_Delete(f);
            if (err)
                break;
        }
    }
    return err;
}

void ddisim_journal(struct ddisim *d, const struct ddisim_order *o,
                    const char *kind, int64_t cents)
{
    char when[DDISIM_TIME_MAX];
    cJSON *e = cJSON_CreateObject();

    ddisim_fmt_time(ddisim_now_ms(), when);
    cJSON_AddStringToObject(e, "at", when);
    cJSON_AddStringToObject(e, "order_no", o->order_no);
    cJSON_AddStringToObject(e, "reference", o->reference);
    cJSON_AddStringToObject(e, "kind", kind);
    cJSON_AddNumberToObject(e, "cents", (double)cents);
    if (!e || !cJSON_AddItemToArray(d->journal, e))
        cJSON_Delete(e);
}

bool ddisim_handed_ok(const struct ddisim_handed *h, size_t pos)
{
    return pos < h->cap && h->at[pos];
}

enum scb_err ddisim_handed_mark(struct ddisim_handed *h, size_t pos)
{
    size_t cap = h->cap ? h->cap : 64;
    bool *n;

    if (pos >= DDISIM_HANDED_MAX)
        return SCB_ETOOBIG;
    while (cap <= pos)
        cap *= 2;
    if (cap != h->cap) {
        n = mem_realloc(h->at, cap * sizeof(*n));
        if (!n)
            return SCB_ENOMEM;
        memset(n + h->cap, 0, (cap - h->cap) * sizeof(*n));
        h->at = n;
        h->cap = cap;
    }
    h->at[pos] = true;
    return SCB_OK;
}

/* Frees every table; the struct is then empty but for its locks. */
static void ddisim_clear(struct ddisim *d)
{
    for (size_t i = 0; i < d->n_orders; i++)
        ddisim_order_free(d->orders[i]);
    for (size_t i = 0; i < d->n_ships; i++)
        cJSON_Delete(d->ships[i].record);
    for (size_t i = 0; i < d->n_items; i++) {
        cJSON_Delete(d->items[i].record);
        cJSON_Delete(d->items[i].uoms);
    }
    mem_free(d->orders);
    mem_free(d->ships);
    mem_free(d->items);
    mem_free(d->handed_ships.at);
    mem_free(d->handed_items.at);
    cJSON_Delete(d->customers);
    cJSON_Delete(d->warehouses);
    cJSON_Delete(d->journal);
    cJSON_Delete(d->messages);
    cJSON_Delete(d->callbacks);
    d->orders = NULL;
    d->ships = NULL;
    d->items = NULL;
    d->handed_ships = (struct ddisim_handed){ NULL, 0 };
    d->handed_items = (struct ddisim_handed){ NULL, 0 };
    d->n_orders = d->cap_orders = 0;
    d->n_ships = d->cap_ships = 0;
    d->n_items = d->cap_items = 0;
    d->customers = d->warehouses = d->journal = NULL;
    d->messages = d->callbacks = NULL;
}

/* Back to the state at startup; with_items false leaves no item. */
enum scb_err ddisim_reset(struct ddisim *d, bool with_items)
{
    ddisim_clear(d);
    d->next_order = 100000;
    d->next_ship = 700000;
    d->next_msg = 0;
    d->rng = d->opts->seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    d->commit_delay_ms = d->opts->commit_delay_ms;
    d->fault = DDISIM_FAULT_NONE;
    d->fault_count = 0;
    d->customers = ddisim_split(d->opts->customers);
    d->warehouses = ddisim_split(d->opts->warehouses);
    d->journal = cJSON_CreateArray();
    d->messages = cJSON_CreateArray();
    d->callbacks = cJSON_CreateArray();
    if (!d->customers || !d->warehouses || !d->journal || !d->messages ||
        !d->callbacks)
        return SCB_ENOMEM;
    if (cJSON_GetArraySize(d->warehouses) == 0)
        cJSON_AddItemToArray(d->warehouses, cJSON_CreateString("MAIN"));
    return with_items ? ddisim_seed_items(d, d->opts->items) : SCB_OK;
}

enum scb_err ddisim_init(struct ddisim *d, const struct ddisim_opts *opts)
{
    enum scb_err err;

    memset(d, 0, sizeof(*d));
    d->opts = opts;
    atomic_init(&d->stopping, false);
    if (pthread_mutex_init(&d->lock, NULL))
        return SCB_EIO;
    if (pthread_mutex_init(&d->send_lock, NULL)) {
        pthread_mutex_destroy(&d->lock);
        return SCB_EIO;
    }
    err = ddisim_reset(d, true);
    if (err)
        ddisim_release(d);
    return err;
}

void ddisim_release(struct ddisim *d)
{
    ddisim_clear(d);
    mem_free(d->callback_url);
    mem_free(d->items_url);
    d->callback_url = d->items_url = NULL;
    pthread_mutex_destroy(&d->send_lock);
    pthread_mutex_destroy(&d->lock);
}
