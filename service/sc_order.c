/* SPDX-License-Identifier: MIT */
/* Sellercloud order list items parsed into bounded C structs. */
#include <stdio.h>
#include <string.h>

#include "jsonio.h"
#include "mem.h"
#include "money.h"
#include "sc_order.h"

#define SC_ORDER_QTY_MAX 1000000
#define SC_ORDER_INT32_MAX 2147483647

/* Names the field that failed: "<prefix><key>" into 'field'. */
static enum scb_err sc_bad(char *field, const char *prefix, const char *key)
{
    if (field)
        snprintf(field, SC_ORDER_FIELD_MAX, "%s%s", prefix, key);
    return SCB_EINVAL;
}

static bool sc_absent(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return !v || cJSON_IsNull(v);
}

/* A string, "" when absent or null; too long or not a string: EINVAL. */
static enum scb_err sc_get_str(const cJSON *obj, const char *key, char *out,
                               size_t cap, char *field, const char *prefix)
{
    const char *s;
    size_t len;

    if (sc_absent(obj, key)) {
        out[0] = '\0';
        return SCB_OK;
    }
    if (jsonio_get_str(obj, key, &s))
        return sc_bad(field, prefix, key);
    len = strlen(s);
    if (len >= cap)
        return sc_bad(field, prefix, key);
    memcpy(out, s, len + 1);
    return SCB_OK;
}

static enum scb_err sc_get_int(const cJSON *obj, const char *key,
                               int64_t min, int64_t max, int64_t *out,
                               char *field, const char *prefix)
{
    if (jsonio_get_i64(obj, key, min, max, out))
        return sc_bad(field, prefix, key);
    return SCB_OK;
}

/* An amount in cents, 0 when absent or null. */
static enum scb_err sc_get_cents(const cJSON *obj, const char *key,
                                 bool required, int64_t *out, char *field)
{
    if (!required && sc_absent(obj, key)) {
        *out = 0;
        return SCB_OK;
    }
    if (jsonio_get_cents(obj, key, out))
        return sc_bad(field, "", key);
    return SCB_OK;
}

static enum scb_err sc_get_time(const cJSON *obj, const char *key,
                                bool required, struct sc_time *out,
                                char *field)
{
    const char *s;
    size_t len;

    memset(out, 0, sizeof(*out));
    if (!required && sc_absent(obj, key))
        return SCB_OK;
    if (jsonio_get_str(obj, key, &s))
        return sc_bad(field, "", key);
    len = strlen(s);
    if (len >= sizeof(out->raw) ||
        sc_time_parse(s, &out->ms, &out->has_zone))
        return sc_bad(field, "", key);
    memcpy(out->raw, s, len + 1);
    out->present = true;
    return SCB_OK;
}

static enum scb_err sc_parse_address(const cJSON *item, const char *key,
                                     struct sc_address *a, char *field)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(item, key);
    char prefix[40];
    enum scb_err err = SCB_OK;
    const struct {
        const char *key;
        char *dst;
    } f[] = {
        { "FirstName", a->first_name },
        { "LastName", a->last_name },
        { "CompanyName", a->company_name },
        { "StreetLine1", a->street_line1 },
        { "StreetLine2", a->street_line2 },
        { "City", a->city },
        { "StateCode", a->state_code },
        { "PostalCode", a->postal_code },
        { "CountryCode", a->country_code },
        { "PhoneNumber", a->phone_number },
        { "EmailAddress", a->email_address },
    };

    memset(a, 0, sizeof(*a));
    if (!o || cJSON_IsNull(o))
        return SCB_OK;
    if (!cJSON_IsObject(o))
        return sc_bad(field, "", key);
    snprintf(prefix, sizeof(prefix), "%s.", key);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]) && !err; i++)
        err = sc_get_str(o, f[i].key, f[i].dst, SC_ORDER_STR_MAX, field,
                         prefix);
    return err;
}

static enum scb_err sc_parse_line(const cJSON *o, size_t i,
                                  struct sc_order_line *l, char *field)
{
    char prefix[32];
    enum scb_err err;

    snprintf(prefix, sizeof(prefix), "Items[%zu].", i);
    if (!cJSON_IsObject(o))
        return sc_bad(field, prefix, "");
    err = sc_get_int(o, "ID", 0, SC_ORDER_INT32_MAX, &l->id, field, prefix);
    if (!err)
        err = sc_get_str(o, "ProductID", l->product_id,
                         sizeof(l->product_id), field, prefix);
    if (!err && l->product_id[0] == '\0')
        err = sc_bad(field, prefix, "ProductID");
    if (!err)
        err = sc_get_int(o, "Qty", 0, SC_ORDER_QTY_MAX, &l->qty, field,
                         prefix);
    if (!err && jsonio_get_cents(o, "LineTotal", &l->line_total))
        err = sc_bad(field, prefix, "LineTotal");
    if (!err)
        err = sc_get_str(o, "DisplayName", l->display_name,
                         sizeof(l->display_name), field, prefix);
    return err;
}

static enum scb_err sc_parse_lines(const cJSON *item, struct sc_order *o,
                                   char *field)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(item, "Items");
    const cJSON *el;
    size_t n, i = 0;
    enum scb_err err = SCB_OK;

    if (!cJSON_IsArray(arr))
        return sc_bad(field, "", "Items");
    n = (size_t)cJSON_GetArraySize(arr);
    if (n > SC_ORDER_MAX_LINES)
        return sc_bad(field, "", "Items");
    if (n == 0)
        return SCB_OK;
    o->lines = mem_calloc(n, sizeof(*o->lines));
    if (!o->lines)
        return SCB_ENOMEM;
    cJSON_ArrayForEach(el, arr)
    {
        err = sc_parse_line(el, i, &o->lines[i], field);
        if (err)
            break;
        i++;
    }
    o->n_lines = i;
    return err;
}

static enum scb_err sc_parse_tracking(const cJSON *item, struct sc_order *o,
                                      char *field)
{
    const cJSON *arr, *el;
    size_t n, i = 0, len;

    if (sc_absent(item, "AllTrackingNumbers"))
        return SCB_OK;
    arr = cJSON_GetObjectItemCaseSensitive(item, "AllTrackingNumbers");
    if (!cJSON_IsArray(arr))
        return sc_bad(field, "", "AllTrackingNumbers");
    n = (size_t)cJSON_GetArraySize(arr);
    if (n > SC_ORDER_MAX_TRACKING)
        return sc_bad(field, "", "AllTrackingNumbers");
    if (n == 0)
        return SCB_OK;
    o->all_tracking = mem_calloc(n, sizeof(*o->all_tracking));
    if (!o->all_tracking)
        return SCB_ENOMEM;
    cJSON_ArrayForEach(el, arr)
    {
        if (!cJSON_IsString(el) || !el->valuestring)
            return sc_bad(field, "", "AllTrackingNumbers");
        len = strlen(el->valuestring);
        if (len >= SC_ORDER_TRACK_MAX)
            return sc_bad(field, "", "AllTrackingNumbers");
        memcpy(o->all_tracking[i].no, el->valuestring, len + 1);
        o->n_all_tracking = ++i;
    }
    return SCB_OK;
}

static enum scb_err sc_parse_payment(const cJSON *item, struct sc_order *o,
                                     char *field)
{
    const cJSON *arr, *first;

    o->payment_ref[0] = '\0';
    if (sc_absent(item, "Payments"))
        return SCB_OK;
    arr = cJSON_GetObjectItemCaseSensitive(item, "Payments");
    if (!cJSON_IsArray(arr))
        return sc_bad(field, "", "Payments");
    first = cJSON_GetArrayItem(arr, 0);
    if (!first)
        return SCB_OK;
    if (!cJSON_IsObject(first))
        return sc_bad(field, "", "Payments[0]");
    return sc_get_str(first, "TransactionReferenceNumber", o->payment_ref,
                      sizeof(o->payment_ref), field, "Payments[0].");
}

static enum scb_err sc_parse_ids(const cJSON *item, struct sc_order *o,
                                 char *field)
{
    int64_t v[6];
    enum scb_err err;

    err = sc_get_int(item, "ID", 1, SC_ORDER_INT32_MAX, &v[0], field, "");
    if (!err)
        err = sc_get_int(item, "CompanyID", 0, SC_ORDER_INT32_MAX, &v[1],
                         field, "");
    if (!err)
        err = sc_get_int(item, "OrderSource", 0, 100000, &v[2], field, "");
    if (!err)
        err = sc_get_int(item, "StatusCode", -1000, 100000, &v[3], field,
                         "");
    if (!err)
        err = sc_get_int(item, "PaymentStatus", 0, 100000, &v[4], field,
                         "");
    if (!err)
        err = sc_get_int(item, "ShippingStatus", 0, 100000, &v[5], field,
                         "");
    if (err)
        return err;
    o->id = v[0];
    o->company_id = v[1];
    o->order_source = (int)v[2];
    o->status_code = (int)v[3];
    o->payment_status = (int)v[4];
    o->shipping_status = (int)v[5];
    if (sc_absent(item, "Dropship"))
        return SCB_OK;
    err = sc_get_int(item, "Dropship", 0, 100000, &v[0], field, "");
    if (!err)
        o->dropship = (int)v[0];
    return err;
}

static enum scb_err sc_parse_totals(const cJSON *item, struct sc_order *o,
                                    char *field)
{
    enum scb_err err;

    err = sc_get_cents(item, "GrandTotal", true, &o->grand_total, field);
    if (!err)
        err = sc_get_cents(item, "ShippingTotal", false, &o->shipping_total,
                           field);
    if (!err)
        err = sc_get_cents(item, "HandlingFee", false, &o->handling_fee,
                           field);
    if (!err)
        err = sc_get_cents(item, "InsuranceTotal", false,
                           &o->insurance_total, field);
    if (!err)
        err = sc_get_cents(item, "TaxTotal", false, &o->tax_total, field);
    if (!err)
        err = sc_get_cents(item, "OrderDiscountsTotal", false,
                           &o->order_discounts_total, field);
    if (!err)
        err = sc_get_cents(item, "ShippingDiscountsTotal", false,
                           &o->shipping_discounts_total, field);
    return err;
}

static enum scb_err sc_parse_texts(const cJSON *item, struct sc_order *o,
                                   char *field)
{
    enum scb_err err;

    err = sc_get_str(item, "OrderSourceOrderID", o->order_source_order_id,
                     sizeof(o->order_source_order_id), field, "");
    if (!err)
        err = sc_get_str(item, "ShippingCarrier", o->shipping_carrier,
                         sizeof(o->shipping_carrier), field, "");
    if (!err)
        err = sc_get_str(item, "ShippingService", o->shipping_service,
                         sizeof(o->shipping_service), field, "");
    if (!err)
        err = sc_get_str(item, "TrackingNumber", o->tracking_number,
                         sizeof(o->tracking_number), field, "");
    if (!err)
        err = sc_parse_address(item, "BillingAddress", &o->billing, field);
    if (!err)
        err = sc_parse_address(item, "ShippingAddress", &o->shipping,
                               field);
    return err;
}

static enum scb_err sc_parse_times(const cJSON *item, struct sc_order *o,
                                   char *field)
{
    enum scb_err err;

    err = sc_get_time(item, "TimeOfOrder", true, &o->time_of_order, field);
    if (!err)
        err = sc_get_time(item, "LastUpdated", true, &o->last_updated,
                          field);
    if (!err)
        err = sc_get_time(item, "CreatedOn", false, &o->created_on, field);
    if (!err)
        err = sc_get_time(item, "ShipDate", false, &o->ship_date, field);
    return err;
}

enum scb_err sc_order_parse(const cJSON *item, struct sc_order *out,
                            char *field)
{
    struct sc_order *o;
    enum scb_err err;

    if (!cJSON_IsObject(item))
        return sc_bad(field, "", "(item)");
    /* Built on the heap: the struct is several KiB. */
    o = mem_calloc(1, sizeof(*o));
    if (!o)
        return SCB_ENOMEM;
    err = sc_parse_ids(item, o, field);
    if (!err)
        err = sc_parse_times(item, o, field);
    if (!err)
        err = sc_parse_totals(item, o, field);
    if (!err)
        err = sc_parse_texts(item, o, field);
    if (!err)
        err = sc_parse_payment(item, o, field);
    if (!err)
        err = sc_parse_lines(item, o, field);
    if (!err)
        err = sc_parse_tracking(item, o, field);
    if (err)
        sc_order_release(o);
    else
        *out = *o;
    mem_free(o);
    return err;
}

void sc_order_release(struct sc_order *o)
{
    mem_free(o->lines);
    o->lines = NULL;
    o->n_lines = 0;
    mem_free(o->all_tracking);
    o->all_tracking = NULL;
    o->n_all_tracking = 0;
}

void sc_order_page_release(struct sc_order_page *page)
{
    for (size_t i = 0; i < page->n_orders; i++)
        sc_order_release(&page->orders[i]);
    mem_free(page->orders);
    mem_free(page->bad);
    memset(page, 0, sizeof(*page));
}

/* Parses each item into 'p', good ones into orders, others into bad. */
static enum scb_err sc_page_items(const cJSON *arr, struct sc_order_page *p)
{
    const cJSON *el;
    enum scb_err err;

    cJSON_ArrayForEach(el, arr)
    {
        struct sc_order_bad *b = &p->bad[p->n_bad];

        b->field[0] = '\0';
        err = sc_order_parse(el, &p->orders[p->n_orders], b->field);
        if (err == SCB_ENOMEM)
            return err;
        if (err) {
            b->err = err;
            b->id = jsonio_i64_or(el, "ID", 0);
            p->n_bad++;
        } else {
            p->n_orders++;
        }
    }
    return SCB_OK;
}

enum scb_err sc_order_page_parse(const cJSON *root,
                                 struct sc_order_page *out)
{
    struct sc_order_page p;
    const cJSON *arr;
    int64_t total;
    enum scb_err err = SCB_OK;

    memset(&p, 0, sizeof(p));
    arr = cJSON_GetObjectItemCaseSensitive(root, "Items");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(arr))
        return SCB_EPARSE;
    p.n_items = (size_t)cJSON_GetArraySize(arr);
    if (p.n_items > SC_ORDER_PAGE_MAX)
        return SCB_EPARSE;
    total = (int64_t)p.n_items;
    if (!sc_absent(root, "TotalResults") &&
        jsonio_get_i64(root, "TotalResults", 0, INT64_MAX / 2, &total))
        return SCB_EPARSE;
    p.total_results = total;
    p.orders = mem_calloc(p.n_items, sizeof(*p.orders));
    p.bad = mem_calloc(p.n_items, sizeof(*p.bad));
    if (!p.orders || !p.bad) {
        err = SCB_ENOMEM;
        goto out;
    }
    err = sc_page_items(arr, &p);

out:
    if (err)
        sc_order_page_release(&p);
    else
        *out = p;
    return err;
}

bool sc_order_page_is_last(const struct sc_order_page *page,
                           int64_t page_number, int64_t size)
{
    if ((int64_t)page->n_items < size)
        return true;
    return page_number * size >= page->total_results;
}

/* Reads exactly 'n' digits into *out. */
static bool sc_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];

        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool sc_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int sc_days_in_month(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31 };

    return m == 2 && sc_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t sc_days_from_civil(int y, int m, int d)
{
    int64_t yy = m <= 2 ? y - 1 : y;
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

static void sc_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2 ? 1 : 0));
}

/* Seconds and the fraction in ms after "HH:MM"; both optional. */
static bool sc_time_seconds(const char **p, int *sec, int *ms)
{
    int digits = 0;

    *sec = 0;
    *ms = 0;
    if (**p != ':')
        return true;
    (*p)++;
    if (!sc_digits(p, 2, sec) || *sec > 60) /* 60: a leap second */
        return false;
    if (**p != '.')
        return true;
    for ((*p)++; **p >= '0' && **p <= '9'; (*p)++) {
        if (++digits > 9)
            return false;
        if (digits <= 3)
            *ms = *ms * 10 + (**p - '0');
    }
    for (int i = digits; i < 3; i++)
        *ms *= 10;
    return digits > 0;
}

/* The zone after the time: "", "Z", "+HH:MM", "+HHMM"; offset in min. */
static bool sc_time_zone(const char *p, int *off_min, bool *has_zone)
{
    int sign, hh, mm;

    *off_min = 0;
    *has_zone = *p != '\0';
    if (*p == '\0')
        return true;
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0';
    if (*p != '+' && *p != '-')
        return false;
    sign = *p == '-' ? -1 : 1;
    p++;
    if (!sc_digits(&p, 2, &hh))
        return false;
    if (*p == ':')
        p++;
    if (!sc_digits(&p, 2, &mm) || *p != '\0' || hh > 23 || mm > 59)
        return false;
    *off_min = sign * (hh * 60 + mm);
    return true;
}

enum scb_err sc_time_parse(const char *s, int64_t *out_ms,
                           bool *out_has_zone)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, ms, off;
    bool zone;
    int64_t secs;

    if (!sc_digits(&p, 4, &y) || *p++ != '-' || !sc_digits(&p, 2, &mo) ||
        *p++ != '-' || !sc_digits(&p, 2, &d))
        return SCB_EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return SCB_EINVAL;
    p++;
    if (!sc_digits(&p, 2, &h) || *p++ != ':' || !sc_digits(&p, 2, &mi))
        return SCB_EINVAL;
    if (!sc_time_seconds(&p, &sec, &ms) || !sc_time_zone(p, &off, &zone))
        return SCB_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > sc_days_in_month(y, mo) ||
        h > 23 || mi > 59)
        return SCB_EINVAL;
    secs = sc_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
           sec - (int64_t)off * 60;
    *out_ms = secs * 1000 + ms;
    if (out_has_zone)
        *out_has_zone = zone;
    return SCB_OK;
}

/* Splits Unix ms into UTC calendar fields. */
static void sc_time_fields(int64_t ms, int f[6])
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;

    sc_civil_from_days(days, &f[0], &f[1], &f[2]);
    f[3] = (int)(rem / 3600);
    f[4] = (int)(rem % 3600 / 60);
    f[5] = (int)(rem % 60);
}

/* Writes 'v' as exactly 'n' decimal digits at 'p' (v within range). */
static void sc_put_digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* UTC fields of 'ms', held to years 0..9999 so that the digits fit. */
static void sc_time_fields_clamped(int64_t ms, int f[6])
{
    static const int lo[6] = { 0, 1, 1, 0, 0, 0 };
    static const int hi[6] = { 9999, 12, 31, 23, 59, 59 };

    sc_time_fields(ms, f);
    if (f[0] < 0)
        memcpy(f, lo, sizeof(lo));
    else if (f[0] > 9999)
        memcpy(f, hi, sizeof(hi));
}

void sc_time_format_query(int64_t ms, char out[SC_TIME_QUERY_LEN])
{
    int f[6];

    sc_time_fields_clamped(ms, f);
    memcpy(out, "mm/dd/yyyy hh:mm", SC_TIME_QUERY_LEN);
    sc_put_digits(out, f[1], 2);
    sc_put_digits(out + 3, f[2], 2);
    sc_put_digits(out + 6, f[0], 4);
    sc_put_digits(out + 11, f[3], 2);
    sc_put_digits(out + 14, f[4], 2);
}

void sc_time_format_body(int64_t ms, char out[SC_TIME_BODY_LEN])
{
    int f[6];

    sc_time_fields_clamped(ms, f);
    memcpy(out, "YYYY-MM-DDTHH:MM:SSZ", SC_TIME_BODY_LEN);
    sc_put_digits(out, f[0], 4);
    sc_put_digits(out + 5, f[1], 2);
    sc_put_digits(out + 8, f[2], 2);
    sc_put_digits(out + 11, f[3], 2);
    sc_put_digits(out + 14, f[4], 2);
    sc_put_digits(out + 17, f[5], 2);
}
