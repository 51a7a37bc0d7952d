/* SPDX-License-Identifier: MIT */
/* DDI simulator POS orders: validation, creation, cancel, ship confirm. */
#include "ddisim.h"

#include <stdio.h>
#include <string.h>

#include "jsonio.h"
#include "mem.h"

/* Wide enough for deposit x value shipped (each below 2^63). */
__extension__ typedef __int128 ddisim_wide;

/* What validation reads from a create, borrowed from the request. */
struct ddisim_draft {
    const cJSON *req;
    const char *warehouse;
    int64_t lines_value; /* cents */
    int64_t charges;     /* freight + tax - discount, cents */
    int64_t deposit;     /* cents */
    bool amounts_ok;     /* every amount parsed, sums in range */
    cJSON *errors;
};

static void ddisim_err(struct ddisim_draft *dr, const char *code,
                       const char *field, int64_t line_no, const char *msg)
{
    cJSON *e = ddisim_error(code, field, line_no, msg);

    if (!e || !cJSON_AddItemToArray(dr->errors, e))
        cJSON_Delete(e);
}

/* An optional string field; a wrong type or length is an error. */
static const char *ddisim_opt_str(struct ddisim_draft *dr, const cJSON *obj,
                                  const char *key, const char *field,
                                  int64_t line_no)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v) || strlen(v->valuestring) > DDISIM_STR_MAX) {
        ddisim_err(dr, "INVALID_FIELD", field, line_no,
                   "must be a string of at most 256 bytes");
        return NULL;
    }
    return v->valuestring;
}

static const char *ddisim_req_str(struct ddisim_draft *dr, const cJSON *obj,
                                  const char *key, const char *field,
                                  int64_t line_no)
{
    const char *s = ddisim_opt_str(dr, obj, key, field, line_no);

    if (!s || !*s) {
        if (!s && cJSON_GetObjectItemCaseSensitive(obj, key) &&
            !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj, key)))
            return NULL; /* already reported as the wrong type */
        ddisim_err(dr, "INVALID_FIELD", field, line_no, "is required");
        return NULL;
    }
    return s;
}

/* An amount string in the exact form; false (reported) otherwise. */
static bool ddisim_amount(struct ddisim_draft *dr, const cJSON *obj,
                          const char *key, const char *field, int64_t line_no,
                          int64_t *out_cents)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!v) {
        ddisim_err(dr, "INVALID_FIELD", field, line_no, "is required");
    } else if (!cJSON_IsString(v) ||
               !ddisim_amount_ok(v->valuestring, out_cents)) {
        ddisim_err(dr, "INVALID_AMOUNT", field, line_no,
                   "must be a string matching ^-?[0-9]{1,13}\\.[0-9]{2}$");
    } else {
        return true;
    }
    dr->amounts_ok = false;
    return false;
}

static const cJSON *ddisim_obj(struct ddisim_draft *dr, const cJSON *req,
                               const char *key, bool required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);

    if (cJSON_IsObject(v))
        return v;
    if (v || required)
        ddisim_err(dr, "INVALID_FIELD", key, 0,
                   v ? "must be an object" : "is required");
    return NULL;
}

static void ddisim_check_customer(struct ddisim *d, struct ddisim_draft *dr)
{
    const cJSON *c = ddisim_obj(dr, dr->req, "customer", true);
    const char *acct;

    if (!c)
        return;
    acct = ddisim_req_str(dr, c, "account_no", "customer.account_no", 0);
    if (acct && !ddisim_customer_known(d, acct))
        ddisim_err(dr, "CUSTOMER_NOT_FOUND", "customer.account_no", 0,
                   "no such customer account");
}

static int64_t ddisim_line_no(struct ddisim_draft *dr, const cJSON *line,
                              const char *field)
{
    int64_t no = 0;

    if (jsonio_get_i64(line, "line_no", 1, 9999, &no)) {
        ddisim_err(dr, "INVALID_FIELD", field, 0,
                   "line_no must be an integer from 1 to 9999");
        return 0;
    }
    return no;
}

static void ddisim_check_line(struct ddisim *d, struct ddisim_draft *dr,
                              const cJSON *line, int idx)
{
    char f[64], pf[64], uf[64];
    int64_t no, qty = 0, price = 0, value;
    const char *pno, *uom;

    snprintf(f, sizeof(f), "lines[%d]", idx);
    if (!cJSON_IsObject(line)) {
        ddisim_err(dr, "INVALID_FIELD", f, 0, "must be an object");
        dr->amounts_ok = false;
        return;
    }
    no = ddisim_line_no(dr, line, f);
    snprintf(pf, sizeof(pf), "lines[%d].product_no", idx);
    snprintf(uf, sizeof(uf), "lines[%d].uom", idx);
    pno = ddisim_req_str(dr, line, "product_no", pf, no);
    uom = ddisim_opt_str(dr, line, "uom", uf, no);
    if (pno && !ddisim_item_find(d, pno, NULL))
        ddisim_err(dr, "UNKNOWN_PRODUCT", pf, no, "no such product");
    else if (pno && uom && !ddisim_uom_allowed(d, pno, uom))
        ddisim_err(dr, "UOM_NOT_ALLOWED", uf, no,
                   "unit of measure not allowed for this item");
    snprintf(f, sizeof(f), "lines[%d].description", idx);
    (void)ddisim_opt_str(dr, line, "description", f, no);
    snprintf(f, sizeof(f), "lines[%d].qty", idx);
    if (jsonio_get_i64(line, "qty", 1, DDISIM_QTY_MAX, &qty)) {
        ddisim_err(dr, "INVALID_FIELD", f, no,
                   "qty must be an integer from 1 to 1000000");
        dr->amounts_ok = false;
    }
    snprintf(f, sizeof(f), "lines[%d].unit_price", idx);
    if (!ddisim_amount(dr, line, "unit_price", f, no, &price) || !qty)
        return;
    if (__builtin_mul_overflow(qty, price, &value) ||
        __builtin_add_overflow(dr->lines_value, value, &dr->lines_value))
        dr->amounts_ok = false;
}

static void ddisim_check_lines(struct ddisim *d, struct ddisim_draft *dr)
{
    const cJSON *lines = cJSON_GetObjectItemCaseSensitive(dr->req, "lines");
    const cJSON *line;
    int idx = 0;

    if (!cJSON_IsArray(lines) || cJSON_GetArraySize(lines) < 1 ||
        cJSON_GetArraySize(lines) > DDISIM_LINES_MAX) {
        ddisim_err(dr, "INVALID_FIELD", "lines", 0,
                   "must be an array of 1 to 500 lines");
        dr->amounts_ok = false;
        return;
    }
    cJSON_ArrayForEach (line, lines) {
        ddisim_check_line(d, dr, line, idx++);
    }
}

static void ddisim_check_money(struct ddisim_draft *dr)
{
    const cJSON *ch = ddisim_obj(dr, dr->req, "charges", true);
    const cJSON *dep = ddisim_obj(dr, dr->req, "deposit", true);
    int64_t fr = 0, tax = 0, disc = 0;

    if (!ch || !dep)
        dr->amounts_ok = false;
    if (ch) {
        (void)ddisim_amount(dr, ch, "freight", "charges.freight", 0, &fr);
        (void)ddisim_amount(dr, ch, "tax", "charges.tax", 0, &tax);
        (void)ddisim_amount(dr, ch, "discount", "charges.discount", 0, &disc);
    }
    if (dep) {
        (void)ddisim_amount(dr, dep, "amount", "deposit.amount", 0,
                            &dr->deposit);
        (void)ddisim_opt_str(dr, dep, "method", "deposit.method", 0);
        (void)ddisim_opt_str(dr, dep, "reference", "deposit.reference", 0);
    }
    dr->charges = fr + tax - disc;
}

static void ddisim_check_shipped(struct ddisim_draft *dr)
{
    const cJSON *as = ddisim_obj(dr, dr->req, "already_shipped", false);
    const cJSON *nos, *it;
    const char *date;

    if (!as)
        return;
    date = ddisim_req_str(dr, as, "ship_date", "already_shipped.ship_date", 0);
    if (date && !ddisim_is_date(date))
        ddisim_err(dr, "INVALID_FIELD", "already_shipped.ship_date", 0,
                   "must be a date YYYY-MM-DD");
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(as, "carrier")) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(as, "service")))
        ddisim_err(dr, "INVALID_FIELD", "already_shipped", 0,
                   "carrier and service must be strings");
    nos = cJSON_GetObjectItemCaseSensitive(as, "tracking_nos");
    if (!cJSON_IsArray(nos) || cJSON_GetArraySize(nos) > 100) {
        ddisim_err(dr, "INVALID_FIELD", "already_shipped.tracking_nos", 0,
                   "must be an array of at most 100 strings");
        return;
    }
    cJSON_ArrayForEach (it, nos) {
        if (!cJSON_IsString(it) || !*it->valuestring ||
            strlen(it->valuestring) > DDISIM_STR_MAX) {
            ddisim_err(dr, "INVALID_FIELD", "already_shipped.tracking_nos", 0,
                       "each tracking number must be a non-empty string");
            break;
        }
    }
}

static void ddisim_check_total(struct ddisim_draft *dr, int64_t *out_total)
{
    char msg[160];
    int64_t total;

    if (!dr->amounts_ok ||
        __builtin_add_overflow(dr->lines_value, dr->charges, &total)) {
        *out_total = 0;
        return;
    }
    *out_total = total;
    if (total == dr->deposit)
        return;
    snprintf(msg, sizeof(msg),
             "deposit %lld cents differs from the order total %lld cents",
             (long long)dr->deposit, (long long)total);
    ddisim_err(dr, "DEPOSIT_MISMATCH", "deposit.amount", 0, msg);
}

static void ddisim_validate(struct ddisim *d, struct ddisim_draft *dr,
                            int64_t *out_total)
{
    static const char *const opt[] = { "channel", "channel_order_id", "branch",
                                       "warehouse", "ship_via" };

    (void)ddisim_req_str(dr, dr->req, "reference", "reference", 0);
    for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
        (void)ddisim_opt_str(dr, dr->req, opt[i], opt[i], 0);
    dr->warehouse = jsonio_str_or(dr->req, "warehouse", NULL);
    (void)ddisim_obj(dr, dr->req, "bill_to", false);
    (void)ddisim_obj(dr, dr->req, "ship_to", false);
    ddisim_check_customer(d, dr);
    ddisim_check_lines(d, dr);
    ddisim_check_money(dr);
    ddisim_check_shipped(dr);
    ddisim_check_total(dr, out_total);
}

void ddisim_order_free(struct ddisim_order *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n_lines; i++)
        mem_free(o->lines[i].product_no);
    mem_free(o->lines);
    mem_free(o->reference);
    mem_free(o->ships);
    cJSON_Delete(o->fields);
    mem_free(o);
}

/* Fills o->lines from the stored request, giving each line its uom. */
static enum scb_err ddisim_order_lines(struct ddisim *d, struct ddisim_order *o,
                                       const char *warehouse)
{
    cJSON *lines = cJSON_GetObjectItemCaseSensitive(o->fields, "lines");
    cJSON *line;
    struct ddisim_line *l;
    int64_t cents = 0;

    o->lines = mem_calloc((size_t)cJSON_GetArraySize(lines) + 1,
                          sizeof(*o->lines));
    if (!o->lines)
        return SCB_ENOMEM;
    cJSON_ArrayForEach (line, lines) {
        l = &o->lines[o->n_lines++];
        l->line_no = jsonio_i64_or(line, "line_no", 0);
        l->qty = jsonio_i64_or(line, "qty", 0);
        (void)ddisim_amount_ok(jsonio_str_or(line, "unit_price", "0.00"),
                               &cents);
        l->unit_price = cents;
        l->product_no = mem_strdup(jsonio_str_or(line, "product_no", ""));
        if (!l->product_no)
            return SCB_ENOMEM;
        if (!cJSON_GetObjectItemCaseSensitive(line, "uom"))
            cJSON_AddStringToObject(
                line, "uom", ddisim_uom_default(d, l->product_no, warehouse));
    }
    return SCB_OK;
}

static enum scb_err ddisim_orders_grow(struct ddisim *d)
{
    struct ddisim_order **n;
    size_t cap = d->cap_orders ? d->cap_orders * 2 : 64;

    if (d->n_orders < d->cap_orders)
        return SCB_OK;
    n = mem_realloc(d->orders, cap * sizeof(*n));
    if (!n)
        return SCB_ENOMEM;
    d->orders = n;
    d->cap_orders = cap;
    return SCB_OK;
}

static enum scb_err ddisim_order_build(struct ddisim *d,
                                       const struct ddisim_draft *dr,
                                       int64_t total,
                                       struct ddisim_order **out_order)
{
    struct ddisim_order *o = mem_calloc(1, sizeof(*o));
    enum scb_err err = SCB_ENOMEM;

    if (!o || ddisim_orders_grow(d))
        goto out;
    o->reference = mem_strdup(jsonio_str_or(dr->req, "reference", ""));
    o->fields = cJSON_Duplicate(dr->req, 1);
    if (!o->reference || !o->fields)
        goto out;
    err = ddisim_order_lines(d, o, dr->warehouse);
    if (err)
        goto out;
    snprintf(o->order_no, sizeof(o->order_no), "SO%06lu", ++d->next_order);
    o->total = total;
    o->deposit = dr->deposit;
    o->status = DDISIM_OPEN;
    o->created_ms = ddisim_now_ms();
    d->orders[d->n_orders++] = o;
    ddisim_journal(d, o, "deposit_held", o->deposit);
    *out_order = o;
    return SCB_OK;
out:
    ddisim_order_free(o);
    return err;
}

static enum scb_err ddisim_ship_outside(struct ddisim *d,
                                        struct ddisim_order *o);

/*
 * Validates 'req' and, when it is good, adds the order (caller holds the
 * lock). On a refusal res->errors is a new array and res->status 422;
 * the function still answers SCB_OK and *out_order is NULL.
 */
enum scb_err ddisim_order_create(struct ddisim *d, const cJSON *req,
                                 struct ddisim_create *res,
                                 struct ddisim_order **out_order)
{
    struct ddisim_draft dr = { .req = req, .amounts_ok = true };
    struct ddisim_order *o = NULL;
    int64_t total = 0;
    enum scb_err err;

    dr.errors = cJSON_CreateArray();
    if (!dr.errors)
        return SCB_ENOMEM;
    ddisim_validate(d, &dr, &total);
    if (cJSON_GetArraySize(dr.errors) > 0) {
        res->errors = dr.errors;
        res->status = 422;
        *out_order = NULL;
        return SCB_OK;
    }
    cJSON_Delete(dr.errors);
    err = ddisim_order_build(d, &dr, total, &o);
    if (!err && cJSON_GetObjectItemCaseSensitive(req, "already_shipped"))
        err = ddisim_ship_outside(d, o);
    if (err)
        return err;
    res->errors = NULL;
    res->status = 201;
    *out_order = o;
    return SCB_OK;
}

static const char *ddisim_status_name(enum ddisim_status s)
{
    static const char *const names[] = { "open", "partially_shipped",
                                         "complete", "cancelled" };

    return names[s];
}

static const char *ddisim_deposit_status(const struct ddisim_order *o)
{
    if (o->status == DDISIM_CANCELLED)
        return "reversed";
    if (o->status == DDISIM_COMPLETE)
        return "applied";
    return o->n_ships ? "partially_applied" : "held";
}

static cJSON *ddisim_deposit_json(const struct ddisim_order *o)
{
    cJSON *dep = cJSON_CreateObject();
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(o->fields, "deposit");
    const cJSON *it;

    cJSON_AddItemToObject(dep, "amount", ddisim_money(o->deposit));
    cJSON_AddItemToObject(dep, "applied", ddisim_money(o->applied));
    cJSON_AddStringToObject(dep, "status", ddisim_deposit_status(o));
    cJSON_ArrayForEach (it, in) {
        if (!cJSON_GetObjectItemCaseSensitive(dep, it->string))
            cJSON_AddItemToObject(dep, it->string, cJSON_Duplicate(it, 1));
    }
    return dep;
}

/*
 * The order in the shape of ddi.md "One order", followed by the other
 * fields of its create (new; the caller deletes it).
 */
cJSON *ddisim_order_json(const struct ddisim *d, const struct ddisim_order *o)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *ships = cJSON_CreateArray();
    const cJSON *it;

    cJSON_AddStringToObject(doc, "order_no", o->order_no);
    cJSON_AddStringToObject(doc, "reference", o->reference);
    cJSON_AddStringToObject(doc, "status", ddisim_status_name(o->status));
    cJSON_AddItemToObject(doc, "total", ddisim_money(o->total));
    cJSON_AddItemToObject(doc, "deposit", ddisim_deposit_json(o));
    for (size_t i = 0; ships && i < o->n_ships; i++)
        cJSON_AddItemToArray(ships,
                             cJSON_Duplicate(d->ships[o->ships[i]].record, 1));
    cJSON_AddItemToObject(doc, "shipments", ships);
    cJSON_ArrayForEach (it, o->fields) {
        if (!cJSON_GetObjectItemCaseSensitive(doc, it->string))
            cJSON_AddItemToObject(doc, it->string, cJSON_Duplicate(it, 1));
    }
    return doc;
}

/* Cancels an order without shipments; a cancelled one stays as it is. */
void ddisim_order_cancel(struct ddisim *d, struct ddisim_order *o)
{
    if (o->status == DDISIM_CANCELLED || o->n_ships > 0)
        return;
    o->status = DDISIM_CANCELLED;
    o->reversed = o->deposit - o->applied;
    ddisim_journal(d, o, "deposit_reversed", o->reversed);
}

/* One shipment being built: per-line quantities and what to record. */
struct ddisim_shipping {
    int64_t *qty;        /* per order line, indexed like o->lines */
    cJSON *packages;     /* taken by ddisim_ship_record() */
    const char *carrier; /* NULL: absent */
    const char *service;
    const char *ship_date;
    char date_buf[DDISIM_TIME_MAX]; /* today, when the spec gives none */
};

/* floor(a * b / c) for c > 0, exact. */
static int64_t ddisim_share(int64_t a, int64_t b, int64_t c)
{
    ddisim_wide p = (ddisim_wide)a * b;
    ddisim_wide q = p / c;

    if (p % c != 0 && p < 0)
        q--;
    return (int64_t)q;
}

static enum scb_err ddisim_ships_grow(struct ddisim *d, struct ddisim_order *o)
{
    struct ddisim_ship *n;
    size_t *idx;
    size_t cap = d->cap_ships ? d->cap_ships * 2 : 64;

    if (d->n_ships == d->cap_ships) {
        n = mem_realloc(d->ships, cap * sizeof(*n));
        if (!n)
            return SCB_ENOMEM;
        d->ships = n;
        d->cap_ships = cap;
    }
    idx = mem_realloc(o->ships, (o->n_ships + 1) * sizeof(*idx));
    if (!idx)
        return SCB_ENOMEM;
    o->ships = idx;
    return SCB_OK;
}

/* Applies the quantities to the order; answers the deposit share. */
static int64_t ddisim_apply(struct ddisim_order *o, const int64_t *qty,
                            cJSON *lines_out)
{
    int64_t all = 0, shipped = 0, share;
    bool complete = true;
    cJSON *l;

    for (size_t i = 0; i < o->n_lines; i++) {
        all += o->lines[i].qty * o->lines[i].unit_price;
        shipped += qty[i] * o->lines[i].unit_price;
        o->lines[i].shipped += qty[i];
        complete = complete && o->lines[i].shipped == o->lines[i].qty;
        if (qty[i] == 0)
            continue;
        l = cJSON_CreateObject();
        cJSON_AddNumberToObject(l, "line_no", (double)o->lines[i].line_no);
        cJSON_AddStringToObject(l, "product_no", o->lines[i].product_no);
        cJSON_AddNumberToObject(l, "qty_shipped", (double)qty[i]);
        cJSON_AddItemToArray(lines_out, l);
    }
    if (complete)
        share = o->deposit - o->applied;
    else
        share = all > 0 ? ddisim_share(o->deposit, shipped, all) : 0;
    o->applied += share;
    o->status = complete ? DDISIM_COMPLETE : DDISIM_PARTIAL;
    return share;
}

static void ddisim_add_opt(cJSON *rec, const char *key, const char *v)
{
    if (v)
        cJSON_AddStringToObject(rec, key, v);
}

/* Records a shipment of 'o' (lock held); *out_rec is borrowed. */
static enum scb_err ddisim_ship_record(struct ddisim *d, struct ddisim_order *o,
                                       struct ddisim_shipping *sp,
                                       const cJSON **out_rec)
{
    char id[24], when[DDISIM_TIME_MAX];
    cJSON *rec = cJSON_CreateObject();
    cJSON *lines = cJSON_CreateArray();
    int64_t ms, share;

    if (!rec || !lines || !sp->packages || ddisim_ships_grow(d, o)) {
        cJSON_Delete(rec);
        cJSON_Delete(lines);
        cJSON_Delete(sp->packages);
        return SCB_ENOMEM;
    }
    snprintf(id, sizeof(id), "SH%06lu", ++d->next_ship);
    ms = ddisim_stamp(d);
    ddisim_fmt_time(ms, when);
    cJSON_AddStringToObject(rec, "shipment_id", id);
    cJSON_AddStringToObject(rec, "order_no", o->order_no);
    cJSON_AddStringToObject(rec, "reference", o->reference);
    cJSON_AddStringToObject(rec, "confirmed_at", when);
    ddisim_add_opt(rec, "ship_date", sp->ship_date);
    ddisim_add_opt(rec, "carrier", sp->carrier);
    ddisim_add_opt(rec, "service", sp->service);
    cJSON_AddItemToObject(rec, "packages", sp->packages);
    share = ddisim_apply(o, sp->qty, lines);
    cJSON_AddItemToObject(rec, "lines", lines);
    cJSON_AddBoolToObject(rec, "complete", o->status == DDISIM_COMPLETE);
    cJSON_AddItemToObject(rec, "deposit_applied", ddisim_money(share));
    d->ships[d->n_ships] = (struct ddisim_ship){ rec, ms };
    o->ships[o->n_ships++] = d->n_ships++;
    ddisim_journal(d, o, "deposit_applied", share);
    *out_rec = rec;
    return SCB_OK;
}

/* Packages of an already_shipped order: one per tracking number. */
static cJSON *ddisim_outside_packages(const cJSON *nos)
{
    cJSON *pk = cJSON_CreateArray();
    const cJSON *it;
    cJSON *p;

    cJSON_ArrayForEach (it, nos) {
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "tracking_no", it->valuestring);
        cJSON_AddItemToArray(pk, p);
    }
    return pk;
}

/* Records, with the create, the shipment of every line in full. */
static enum scb_err ddisim_ship_outside(struct ddisim *d,
                                        struct ddisim_order *o)
{
    const cJSON *as = cJSON_GetObjectItemCaseSensitive(o->fields,
                                                       "already_shipped");
    struct ddisim_shipping sp;
    const cJSON *rec;
    enum scb_err err;

    sp.qty = mem_calloc(o->n_lines + 1, sizeof(*sp.qty));
    if (!sp.qty)
        return SCB_ENOMEM;
    for (size_t i = 0; i < o->n_lines; i++)
        sp.qty[i] = o->lines[i].qty;
    sp.packages = ddisim_outside_packages(
        cJSON_GetObjectItemCaseSensitive(as, "tracking_nos"));
    sp.carrier = jsonio_str_or(as, "carrier", NULL);
    sp.service = jsonio_str_or(as, "service", NULL);
    sp.ship_date = jsonio_str_or(as, "ship_date", NULL);
    err = ddisim_ship_record(d, o, &sp, &rec);
    mem_free(sp.qty);
    return err;
}

/* Reads the control call's "lines" into per-line quantities. */
static bool ddisim_ship_qty(const struct ddisim_order *o, const cJSON *lines,
                            int64_t *qty, const char **out_why)
{
    const cJSON *it;
    int64_t no, q, sum = 0;
    size_t i;

    for (i = 0; !lines && i < o->n_lines; i++)
        qty[i] = o->lines[i].qty - o->lines[i].shipped;
    cJSON_ArrayForEach (it, lines) {
        if (jsonio_get_i64(it, "line_no", 1, 9999, &no) ||
            jsonio_get_i64(it, "qty", 0, DDISIM_QTY_MAX, &q)) {
            *out_why = "each line needs line_no and qty";
            return false;
        }
        i = 0;
        while (i < o->n_lines && o->lines[i].line_no != no)
            i++;
        if (i == o->n_lines ||
            qty[i] + q > o->lines[i].qty - o->lines[i].shipped) {
            *out_why = "no such line, or more than its open quantity";
            return false;
        }
        qty[i] += q;
    }
    for (i = 0; i < o->n_lines; i++)
        sum += qty[i];
    if (sum == 0)
        *out_why = "nothing to ship";
    return sum > 0;
}

/* A made-up carrier tracking number, from the seed. */
static cJSON *ddisim_gen_packages(struct ddisim *d)
{
    char no[32];
    cJSON *pk = cJSON_CreateArray();
    cJSON *p = cJSON_CreateObject();

    snprintf(no, sizeof(no), "1ZSIM%06lu%07d", d->next_ship + 1,
             (int)(ddisim_rand(d) * 9999999));
    cJSON_AddStringToObject(p, "tracking_no", no);
    cJSON_AddStringToObject(p, "weight_lb", "1.0");
    if (!cJSON_AddItemToArray(pk, p))
        cJSON_Delete(p);
    return pk;
}

static bool ddisim_packages_ok(const cJSON *pk)
{
    const cJSON *it;

    if (!cJSON_IsArray(pk) || cJSON_GetArraySize(pk) > 100)
        return false;
    cJSON_ArrayForEach (it, pk) {
        if (!cJSON_IsObject(it) || !*jsonio_str_or(it, "tracking_no", ""))
            return false;
    }
    return true;
}

static bool ddisim_ship_spec(struct ddisim *d, const cJSON *spec,
                             struct ddisim_shipping *sp, const char **out_why)
{
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(spec, "packages");

    if (pk && !ddisim_packages_ok(pk)) {
        *out_why = "packages must be objects with a tracking_no";
        return false;
    }
    sp->ship_date = jsonio_str_or(spec, "ship_date", NULL);
    if (sp->ship_date && !ddisim_is_date(sp->ship_date)) {
        *out_why = "ship_date must be YYYY-MM-DD";
        return false;
    }
    sp->carrier = jsonio_str_or(spec, "carrier", "UPS");
    sp->service = jsonio_str_or(spec, "service", "Ground");
    sp->packages = pk ? cJSON_Duplicate(pk, 1) : ddisim_gen_packages(d);
    if (!sp->ship_date) {
        ddisim_fmt_time(ddisim_now_ms(), sp->date_buf);
        sp->date_buf[10] = '\0';
        sp->ship_date = sp->date_buf;
    }
    return true;
}

/*
 * Ship-confirms 'o' as 'spec' says (lock held). On SCB_OK *out_record is
 * the record printed (free with mem_free()). SCB_ECONFLICT when the order
 * cannot ship, SCB_EINVAL for a bad spec; *out_why then says why.
 */
enum scb_err ddisim_ship(struct ddisim *d, struct ddisim_order *o,
                         const cJSON *spec, char **out_record,
                         const char **out_why)
{
    struct ddisim_shipping sp;
    const cJSON *rec;
    enum scb_err err = SCB_EINVAL;
    char *text;

    if (o->status == DDISIM_CANCELLED || o->status == DDISIM_COMPLETE) {
        *out_why = "the order is cancelled or complete";
        return SCB_ECONFLICT;
    }
    memset(&sp, 0, sizeof(sp));
    sp.qty = mem_calloc(o->n_lines + 1, sizeof(*sp.qty));
    if (!sp.qty)
        return SCB_ENOMEM;
    if (!ddisim_ship_qty(o, cJSON_GetObjectItemCaseSensitive(spec, "lines"),
                         sp.qty, out_why) ||
        !ddisim_ship_spec(d, spec, &sp, out_why))
        goto out;
    err = ddisim_ship_record(d, o, &sp, &rec);
    if (err)
        goto out;
    text = jsonio_print(rec);
    if (!text) {
        err = SCB_ENOMEM;
        goto out;
    }
    *out_record = text;
out:
    mem_free(sp.qty);
    return err;
}
