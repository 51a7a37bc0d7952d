/* SPDX-License-Identifier: MIT */
/* Sellercloud order -> DDI POS order, DDI shipments -> tracking; pure. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "channel.h"
#include "mem.h"
#include "money.h"
#include "order_map.h"

#define ORDER_REF_DIGITS_MAX 18 /* keeps each number within int64 */
#define ORDER_MINUTE_MS 60000
#define ORDER_DATE_LEN 10       /* YYYY-MM-DD */
#define ORDER_NOTE_MAX (1u << 20)

void order_map_reference(int64_t company_id, int64_t order_id,
                         char out[ORDER_MAP_REF_MAX])
{
    snprintf(out, ORDER_MAP_REF_MAX, "SC-%" PRId64 "-%" PRId64, company_id,
             order_id);
}

/* Reads 1..ORDER_REF_DIGITS_MAX digits at *p; advances past them. */
static bool order_ref_number(const char **p, int64_t *out)
{
    int64_t v = 0;
    int n = 0;

    for (; **p >= '0' && **p <= '9'; (*p)++) {
        if (++n > ORDER_REF_DIGITS_MAX)
            return false;
        v = v * 10 + (**p - '0');
    }
    if (n == 0)
        return false;
    *out = v;
    return true;
}

bool order_map_reference_parse(const char *ref, int64_t *out_company,
                               int64_t *out_order)
{
    const char *p = ref;
    int64_t company, order;

    if (!ref || strncmp(p, "SC-", 3))
        return false;
    p += 3;
    if (!order_ref_number(&p, &company) || *p++ != '-' ||
        !order_ref_number(&p, &order) || *p != '\0')
        return false;
    if (out_company)
        *out_company = company;
    if (out_order)
        *out_order = order;
    return true;
}

void order_map_totals(const struct sc_order *o, struct order_map_totals *out)
{
    int64_t lines = 0;

    for (size_t i = 0; i < o->n_lines; i++)
        lines += o->lines[i].line_total;
    out->lines = lines;
    out->freight = o->shipping_total + o->handling_fee + o->insurance_total;
    out->tax = o->tax_total;
    out->discount = llabs(o->order_discounts_total) +
                    llabs(o->shipping_discounts_total);
    out->grand_total = o->grand_total;
}

bool order_map_totals_check(const struct order_map_totals *t, char *reason,
                            size_t reasonlen)
{
    int64_t sum = t->lines + t->freight + t->tax - t->discount;
    char l[MONEY_STR_MAX], f[MONEY_STR_MAX], x[MONEY_STR_MAX];
    char d[MONEY_STR_MAX], s[MONEY_STR_MAX], g[MONEY_STR_MAX];

    if (sum == t->grand_total)
        return true;
    if (!reason || !reasonlen)
        return false;
    money_format(t->lines, l);
    money_format(t->freight, f);
    money_format(t->tax, x);
    money_format(t->discount, d);
    money_format(sum, s);
    money_format(t->grand_total, g);
    snprintf(reason, reasonlen,
             "TOTAL_MISMATCH: lines %s + freight %s + tax %s - discount %s"
             " = %s, GrandTotal %s",
             l, f, x, d, s, g);
    return false;
}

void order_map_ship_via(const struct config *cfg, const char *carrier,
                        const char *service, char *out, size_t outlen)
{
    const struct config_map_row *row =
        config_maptable_find(&cfg->ship_via_map, carrier, service);

    if (row)
        snprintf(out, outlen, "%s", row->to_a);
    else if (*carrier && *service)
        snprintf(out, outlen, "%s %s", carrier, service);
    else
        snprintf(out, outlen, "%s", *carrier ? carrier : service);
}

/* "First Last", either alone when the other is empty. */
static void order_name(const struct sc_address *a, char *out, size_t len)
{
    const char *sep = (*a->first_name && *a->last_name) ? " " : "";

    snprintf(out, len, "%s%s%s", a->first_name, sep, a->last_name);
}

static cJSON *order_address(const struct sc_address *a)
{
    char name[2 * SC_ORDER_STR_MAX];
    cJSON *o = cJSON_CreateObject();

    order_name(a, name, sizeof(name));
    if (!o || !cJSON_AddStringToObject(o, "name", name) ||
        !cJSON_AddStringToObject(o, "company", a->company_name) ||
        !cJSON_AddStringToObject(o, "address1", a->street_line1) ||
        !cJSON_AddStringToObject(o, "address2", a->street_line2) ||
        !cJSON_AddStringToObject(o, "city", a->city) ||
        !cJSON_AddStringToObject(o, "state", a->state_code) ||
        !cJSON_AddStringToObject(o, "postal_code", a->postal_code) ||
        !cJSON_AddStringToObject(o, "country", a->country_code) ||
        !cJSON_AddStringToObject(o, "phone", a->phone_number) ||
        !cJSON_AddStringToObject(o, "email", a->email_address)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool order_add_money(cJSON *obj, const char *key, int64_t cents)
{
    char text[MONEY_STR_MAX];

    money_format(cents, text);
    return cJSON_AddStringToObject(obj, key, text) != NULL;
}

/* Appends one DDI line; *line_no is the number it takes. */
static bool order_add_line(cJSON *lines, const struct sc_order_line *l,
                           const char *uom, int64_t qty, int64_t unit,
                           int *line_no)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !cJSON_AddItemToArray(lines, o)) {
        cJSON_Delete(o);
        return false;
    }
    return cJSON_AddNumberToObject(o, "line_no", (*line_no)++) &&
           cJSON_AddStringToObject(o, "product_no", l->product_id) &&
           (!uom || cJSON_AddStringToObject(o, "uom", uom)) &&
           cJSON_AddNumberToObject(o, "qty", (double)qty) &&
           order_add_money(o, "unit_price", unit) &&
           cJSON_AddStringToObject(o, "description", l->display_name);
}

/* floor(a / b) for b > 0, a of either sign. */
static int64_t order_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/*
 * One Sellercloud line as one DDI line at amount / qty when that is
 * whole cents; else qty - 1 at the floor and 1 at the rest.
 */
static bool order_map_line(cJSON *lines, const struct sc_order_line *l,
                           const struct order_map_opts *opts, int *line_no)
{
    const char *uom = opts->uom ? opts->uom(opts->uom_ctx, l->product_id)
                                : NULL;
    int64_t unit, rest;

    if (uom && !*uom)
        uom = NULL;
    if (l->line_total % l->qty == 0)
        return order_add_line(lines, l, uom, l->qty, l->line_total / l->qty,
                              line_no);
    unit = order_floor_div(l->line_total, l->qty);
    rest = l->line_total - (l->qty - 1) * unit;
    return order_add_line(lines, l, uom, l->qty - 1, unit, line_no) &&
           order_add_line(lines, l, uom, 1, rest, line_no);
}

/* A line of Qty 0 carries no amount DDI could hold. */
static bool order_lines_ok(const struct sc_order *o, char *reason,
                           size_t reasonlen)
{
    char amount[MONEY_STR_MAX];

    for (size_t i = 0; i < o->n_lines; i++) {
        const struct sc_order_line *l = &o->lines[i];

        if (l->qty > 0 || l->line_total == 0)
            continue;
        if (!reason || !reasonlen)
            return false;
        money_format(l->line_total, amount);
        snprintf(reason, reasonlen,
                 "TOTAL_MISMATCH: line %zu (%.64s) has Qty 0 and "
                 "LineTotal %s",
                 i + 1, l->product_id, amount);
        return false;
    }
    return true;
}

static cJSON *order_lines(const struct sc_order *o,
                          const struct order_map_opts *opts)
{
    cJSON *lines = cJSON_CreateArray();
    int line_no = 1;

    if (!lines)
        return NULL;
    for (size_t i = 0; i < o->n_lines; i++) {
        if (o->lines[i].qty == 0)
            continue; /* Qty 0 and LineTotal 0: nothing to send */
        if (!order_map_line(lines, &o->lines[i], opts, &line_no)) {
            cJSON_Delete(lines);
            return NULL;
        }
    }
    return lines;
}

static cJSON *order_charges(const struct order_map_totals *t)
{
    cJSON *c = cJSON_CreateObject();

    if (!c || !order_add_money(c, "freight", t->freight) ||
        !order_add_money(c, "tax", t->tax) ||
        !order_add_money(c, "discount", t->discount)) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

static cJSON *order_deposit(const struct sc_order *o)
{
    const char *ref = *o->payment_ref ? o->payment_ref
                                      : o->order_source_order_id;
    cJSON *d = cJSON_CreateObject();

    if (!d || !order_add_money(d, "amount", o->grand_total) ||
        !cJSON_AddStringToObject(d, "method", "CHANNEL") ||
        !cJSON_AddStringToObject(d, "reference", ref)) {
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}

/* The date part of ShipDate as written; LastUpdated when there is none. */
static void order_ship_day(const struct sc_order *o,
                           char out[ORDER_DATE_LEN + 1])
{
    const struct sc_time *t = &o->ship_date;

    if (!t->present || strlen(t->raw) < ORDER_DATE_LEN)
        t = &o->last_updated;
    snprintf(out, ORDER_DATE_LEN + 1, "%.10s", t->raw);
}

static cJSON *order_already_shipped(const struct sc_order *o)
{
    char day[ORDER_DATE_LEN + 1];
    cJSON *a = cJSON_CreateObject();
    cJSON *nos = a ? cJSON_AddArrayToObject(a, "tracking_nos") : NULL;
    bool ok = nos != NULL;

    order_ship_day(o, day);
    for (size_t i = 0; ok && i < o->n_all_tracking; i++)
        ok = cJSON_AddItemToArray(nos,
                                  cJSON_CreateString(o->all_tracking[i].no));
    if (ok && o->n_all_tracking == 0 && *o->tracking_number)
        ok = cJSON_AddItemToArray(nos,
                                  cJSON_CreateString(o->tracking_number));
    if (!ok || !cJSON_AddStringToObject(a, "ship_date", day) ||
        !cJSON_AddStringToObject(a, "carrier", o->shipping_carrier) ||
        !cJSON_AddStringToObject(a, "service", o->shipping_service)) {
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

/* reference, channel, channel_order_id, branch, ..., customer. */
static bool order_head(cJSON *body, const struct config *cfg,
                       const struct sc_order *o,
                       const struct order_map_opts *opts)
{
    char ref[ORDER_MAP_REF_MAX], chan[24] = "", via[2 * SC_ORDER_STR_MAX];
    const char *name = channel_ddi_name(o->order_source);
    const struct config_chan_entry *cust =
        config_chanmap_find(&cfg->ddi_customers, o->order_source);
    cJSON *customer;

    order_map_reference(opts->company_id, o->id, ref);
    /* An OrderSource newer than the table is sent as its integer. */
    if (!name)
        snprintf(chan, sizeof(chan), "%d", o->order_source);
    order_map_ship_via(cfg, o->shipping_carrier, o->shipping_service, via,
                       sizeof(via));
    if (!cJSON_AddStringToObject(body, "reference", ref) ||
        !cJSON_AddStringToObject(body, "channel", name ? name : chan) ||
        !cJSON_AddStringToObject(body, "channel_order_id",
                                 o->order_source_order_id) ||
        !cJSON_AddStringToObject(body, "branch", cfg->ddi_branch) ||
        !cJSON_AddStringToObject(body, "warehouse", cfg->ddi_warehouse) ||
        !cJSON_AddStringToObject(body, "ship_via", via))
        return false;
    customer = cJSON_AddObjectToObject(body, "customer");
    return customer &&
           cJSON_AddStringToObject(customer, "account_no",
                                   cust ? cust->str : "");
}

static bool order_add(cJSON *body, const char *key, cJSON *item)
{
    if (!item)
        return false;
    if (!cJSON_AddItemToObject(body, key, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

enum scb_err order_map_create_body(const struct config *cfg,
                                   const struct sc_order *o,
                                   const struct order_map_opts *opts,
                                   cJSON **out, char *reason,
                                   size_t reasonlen)
{
    struct order_map_totals t;
    cJSON *body;
    bool ok;

    order_map_totals(o, &t);
    if (!order_map_totals_check(&t, reason, reasonlen) ||
        !order_lines_ok(o, reason, reasonlen))
        return SCB_EINVAL;
    body = cJSON_CreateObject();
    ok = body && order_head(body, cfg, o, opts) &&
         order_add(body, "bill_to", order_address(&o->billing)) &&
         order_add(body, "ship_to", order_address(&o->shipping)) &&
         order_add(body, "lines", order_lines(o, opts)) &&
         order_add(body, "charges", order_charges(&t)) &&
         order_add(body, "deposit", order_deposit(o));
    if (ok && opts->already_shipped)
        ok = order_add(body, "already_shipped", order_already_shipped(o));
    if (!ok) {
        cJSON_Delete(body);
        return SCB_ENOMEM;
    }
    *out = body;
    return SCB_OK;
}

int64_t order_map_ship_date_ms(int64_t confirmed_ms,
                               const struct sc_time *created_on,
                               int64_t now_ms)
{
    int64_t t = confirmed_ms;

    if (created_on && created_on->present &&
        t < created_on->ms + ORDER_MINUTE_MS)
        t = created_on->ms + ORDER_MINUTE_MS;
    if (t > now_ms)
        t = now_ms;
    return t;
}

void order_map_carrier(const struct config *cfg, const char *carrier,
                       const char *service, const char **out_carrier,
                       const char **out_service)
{
    const struct config_map_row *row;

    carrier = carrier ? carrier : "";
    service = service ? service : "";
    row = config_maptable_find(&cfg->carrier_map, carrier, service);
    *out_carrier = row ? row->to_a : carrier;
    *out_service = row ? row->to_b : service;
}

/* Appends "Tracking: " or ", " and the number to the note. */
static enum scb_err order_note_add(struct buf *note, const char *no)
{
    enum scb_err err;

    err = buf_puts(note, note->len ? ", " : "Tracking: ");
    if (!err)
        err = buf_puts(note, no);
    return err;
}

static size_t order_count_numbers(const struct ddi_shipment *shipments,
                                  size_t n_shipments)
{
    size_t n = 0;

    for (size_t i = 0; i < n_shipments; i++)
        n += shipments[i].n_packages;
    return n;
}

/* Fills the call for package k (from 1) from shipment 's'. */
static void order_call(const struct config *cfg, int64_t order_id,
                       const struct sc_time *created_on, int64_t now_ms,
                       const struct ddi_shipment *s, const char *no,
                       int64_t package_id, size_t k,
                       struct order_map_call *c)
{
    c->package = k;
    c->t.order_id = order_id;
    c->t.package_id = package_id;
    c->t.tracking_number = no;
    c->t.ship_date_ms = order_map_ship_date_ms(s->confirmed_at_ms,
                                               created_on, now_ms);
    order_map_carrier(cfg, s->carrier, s->service, &c->t.carrier,
                      &c->t.service);
}

enum scb_err order_map_tracking(const struct config *cfg, int64_t order_id,
                                const struct sc_time *created_on,
                                int64_t now_ms,
                                const struct ddi_shipment *shipments,
                                size_t n_shipments,
                                const struct sc_package *packages,
                                size_t n_packages, size_t written,
                                struct order_map_push *out)
{
    struct order_map_push p = { 0 };
    size_t total = order_count_numbers(shipments, n_shipments);
    size_t slots = n_packages ? n_packages : 1;
    struct buf note;
    enum scb_err err = SCB_OK;

    buf_init(&note, ORDER_NOTE_MAX);
    p.written = written;
    p.calls = mem_calloc(total ? total : 1, sizeof(*p.calls));
    if (!p.calls)
        return SCB_ENOMEM;
    for (size_t i = 0; !err && i < n_shipments; i++) {
        const struct ddi_shipment *s = &shipments[i];

        for (size_t j = 0; !err && j < s->n_packages; j++) {
            const char *no = s->tracking_nos[j];
            size_t k = p.written + 1;

            if (k > slots) {
                err = order_note_add(&note, no);
                p.n_noted++;
                continue;
            }
            order_call(cfg, order_id, created_on, now_ms, s, no,
                       n_packages ? packages[k - 1].id : 0, k,
                       &p.calls[p.n_calls++]);
            p.written = k;
        }
    }
    if (!err && note.len) {
        p.note = buf_steal(&note);
        if (!p.note)
            err = SCB_ENOMEM;
    }
    buf_release(&note);
    if (err)
        order_map_push_release(&p);
    else
        *out = p;
    return err;
}

void order_map_push_release(struct order_map_push *push)
{
    mem_free(push->calls);
    mem_free(push->note);
    memset(push, 0, sizeof(*push));
}
