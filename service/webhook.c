/* SPDX-License-Identifier: MIT */
/* Standard Webhooks verification and the bodies of the three webhooks. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "ddi_client.h"
#include "jsonio.h"
#include "mem.h"
#include "money.h"
#include "webhook.h"

#define WEBHOOK_SECRET_PREFIX "whsec_"
#define WEBHOOK_HMAC_LEN 32
#define WEBHOOK_INT32_MAX 2147483647
#define WEBHOOK_SECRET_MAX 4096 /* base64 characters of one secret */

struct webhook_answer_row {
    int status;
    const char *body;
    const char *outcome;
};

static const struct webhook_answer_row webhook_answers[] = {
    [WEBHOOK_OK] = { 0, "", "" },
    [WEBHOOK_ACCEPTED] = { 202, "{\"status\":\"accepted\"}", "accepted" },
    [WEBHOOK_DUPLICATE] = { 202, "{\"status\":\"duplicate\"}", "duplicate" },
    [WEBHOOK_IGNORED] = { 202, "{\"status\":\"ignored\"}", "ignored" },
    [WEBHOOK_BAD_JSON] = { 400, "{\"error\":\"bad_json\"}", "bad_request" },
    [WEBHOOK_UNKNOWN_COMPANY] = { 400, "{\"error\":\"unknown_company\"}",
                                  "bad_request" },
    [WEBHOOK_MISSING_HEADER] = { 401, "{\"error\":\"missing_header\"}",
                                 "unauthorized" },
    [WEBHOOK_STALE_TIMESTAMP] = { 401, "{\"error\":\"stale_timestamp\"}",
                                  "unauthorized" },
    [WEBHOOK_BAD_SIGNATURE] = { 401, "{\"error\":\"bad_signature\"}",
                                "unauthorized" },
    [WEBHOOK_TOO_LARGE] = { 413, "{\"error\":\"too_large\"}", "too_large" },
    [WEBHOOK_UNAVAILABLE] = { 503, "{\"error\":\"unavailable\"}",
                              "unavailable" },
};

static const char *const webhook_sources[] = {
    [WEBHOOK_SRC_SELLERCLOUD] = "sellercloud",
    [WEBHOOK_SRC_DDI_SHIP_CONFIRM] = "ddi_ship_confirm",
    [WEBHOOK_SRC_DDI_ITEMS] = "ddi_items",
};

const char *webhook_source_label(enum webhook_source src)
{
    if ((unsigned)src >= WEBHOOK_SRC_COUNT)
        return "";
    return webhook_sources[src];
}

static const struct webhook_answer_row *webhook_row(enum webhook_answer a)
{
    if ((unsigned)a >= WEBHOOK_ANSWER_COUNT)
        a = WEBHOOK_OK;
    return &webhook_answers[a];
}

int webhook_answer_status(enum webhook_answer a)
{
    return webhook_row(a)->status;
}

const char *webhook_answer_body(enum webhook_answer a)
{
    return webhook_row(a)->body;
}

const char *webhook_answer_outcome(enum webhook_answer a)
{
    return webhook_row(a)->outcome;
}

/* ---- signatures ---- */

static bool webhook_id_ok(const char *id)
{
    size_t n = 0;

    for (; id[n]; n++) {
        if (n >= WEBHOOK_ID_MAX || id[n] < 0x20 || id[n] > 0x7e)
            return false;
    }
    return n > 0;
}

/*
 * Decimal digits only. A value too large for int64 saturates: it is well
 * formed, and the tolerance check then rejects it as far in the future.
 */
static bool webhook_ts_parse(const char *s, int64_t *out_ts)
{
    int64_t v = 0;

    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (v > (INT64_MAX - 9) / 10)
            v = INT64_MAX;
        else
            v = v * 10 + (*s - '0');
    }
    *out_ts = v;
    return true;
}

/*
 * The header is entries separated by spaces, each "<version>,<value>"
 * with both parts non-empty; anything else is malformed.
 */
static bool webhook_sig_header_ok(const char *s)
{
    size_t entries = 0;

    while (*s) {
        size_t n = strcspn(s, " ");
        const char *comma = memchr(s, ',', n);

        if (n > 0) {
            if (!comma || comma == s || comma == s + n - 1)
                return false;
            entries++;
        }
        s += n;
        while (*s == ' ')
            s++;
    }
    return entries > 0;
}

static enum webhook_answer webhook_check_headers(
    const struct webhook_headers *h, int64_t *out_ts)
{
    if (!h->id || !h->timestamp || !h->signature)
        return WEBHOOK_MISSING_HEADER;
    if (!webhook_id_ok(h->id) || !webhook_ts_parse(h->timestamp, out_ts))
        return WEBHOOK_MISSING_HEADER;
    if (!webhook_sig_header_ok(h->signature))
        return WEBHOOK_MISSING_HEADER;
    return WEBHOOK_OK;
}

static enum scb_err webhook_mac_run(EVP_MAC_CTX *ctx, const unsigned char *key,
                                    size_t keylen, const char *id,
                                    const char *ts, const char *body,
                                    size_t len,
                                    unsigned char mac[WEBHOOK_HMAC_LEN])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[2];
    size_t maclen = 0;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest,
                                                 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_init(ctx, key, keylen, params) ||
        !EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) ||
        !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
        !EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts)) ||
        !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
        !EVP_MAC_update(ctx, (const unsigned char *)body, len) ||
        !EVP_MAC_final(ctx, mac, &maclen, WEBHOOK_HMAC_LEN) ||
        maclen != WEBHOOK_HMAC_LEN)
        return SCB_ENOMEM;
    return SCB_OK;
}

enum scb_err webhook_sign(const unsigned char *key, size_t keylen,
                          const char *id, const char *ts, const char *body,
                          size_t len, char out[WEBHOOK_SIG_LEN + 1])
{
    unsigned char mac[WEBHOOK_HMAC_LEN];
    EVP_MAC *alg = NULL;
    EVP_MAC_CTX *ctx = NULL;
    enum scb_err err = SCB_ENOMEM;

    if (!key || keylen == 0)
        return SCB_EINVAL;
    alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!alg)
        goto out;
    ctx = EVP_MAC_CTX_new(alg);
    if (!ctx)
        goto out;
    err = webhook_mac_run(ctx, key, keylen, id, ts, body, len, mac);
    if (err)
        goto out;
    EVP_EncodeBlock((unsigned char *)out, mac, WEBHOOK_HMAC_LEN);

out:
    OPENSSL_cleanse(mac, sizeof(mac));
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(alg);
    return err;
}

/* True when a "v1" entry of the header equals 'want', in constant time. */
static bool webhook_sig_match(const char *header, const char *want)
{
    bool found = false;

    while (*header) {
        size_t n = strcspn(header, " ");

        if (n == 3 + WEBHOOK_SIG_LEN && strncmp(header, "v1,", 3) == 0 &&
            CRYPTO_memcmp(header + 3, want, WEBHOOK_SIG_LEN) == 0)
            found = true;
        header += n;
        while (*header == ' ')
            header++;
    }
    return found;
}

static enum webhook_answer webhook_check_sig(const struct webhook_headers *h,
                                             const char *body, size_t len,
                                             const struct config_secret *sec,
                                             size_t n)
{
    char want[WEBHOOK_SIG_LEN + 1];
    enum webhook_answer res = WEBHOOK_BAD_SIGNATURE;

    for (size_t i = 0; i < n && res == WEBHOOK_BAD_SIGNATURE; i++) {
        if (sec[i].len == 0)
            continue;
        if (webhook_sign(sec[i].bytes, sec[i].len, h->id, h->timestamp, body,
                         len, want)) {
            res = WEBHOOK_UNAVAILABLE;
            break;
        }
        if (webhook_sig_match(h->signature, want))
            res = WEBHOOK_OK;
    }
    OPENSSL_cleanse(want, sizeof(want));
    return res;
}

enum webhook_answer webhook_verify(const struct webhook_headers *h,
                                   const char *body, size_t len,
                                   const struct config_secret *secrets,
                                   size_t n, int64_t now_s, int64_t tolerance_s)
{
    int64_t ts = 0;
    enum webhook_answer res = webhook_check_headers(h, &ts);

    if (res)
        return res;
    /* Both sides are non-negative in practice; compare without overflow. */
    if (ts > now_s && ts - now_s > tolerance_s)
        return WEBHOOK_STALE_TIMESTAMP;
    if (ts < now_s && now_s - ts > tolerance_s)
        return WEBHOOK_STALE_TIMESTAMP;
    return webhook_check_sig(h, body, len, secrets, n);
}

static bool webhook_b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Standard base64: the alphabet, then at most two '=' that bring the
 * length to a multiple of 4. Unpadded text is accepted too. On success
 * *out_pad is the number of '=' the text has or needs.
 */
static bool webhook_b64_shape(const char *s, size_t len, size_t *out_pad)
{
    size_t body = len, pad;

    while (body > 0 && len - body < 2 && s[body - 1] == '=')
        body--;
    for (size_t i = 0; i < body; i++) {
        if (!webhook_b64_char(s[i]))
            return false;
    }
    if (body % 4 == 1 || body == 0)
        return false;
    pad = (4 - body % 4) % 4;
    if (len != body && len != body + pad)
        return false;
    *out_pad = pad;
    return true;
}

enum scb_err webhook_secret_decode(const char *text, size_t len,
                                   struct config_secret *out)
{
    size_t plen = strlen(WEBHOOK_SECRET_PREFIX), pad = 0, body, cap = 0;
    int got;
    char *padded = NULL;
    unsigned char *key = NULL;
    enum scb_err err = SCB_ENOMEM;

    if (len >= plen && memcmp(text, WEBHOOK_SECRET_PREFIX, plen) == 0) {
        text += plen;
        len -= plen;
    }
    if (len > WEBHOOK_SECRET_MAX || !webhook_b64_shape(text, len, &pad))
        return SCB_EINVAL;
    body = len;
    while (body > 0 && text[body - 1] == '=')
        body--;
    padded = mem_malloc(body + pad + 1);
    cap = (body + pad) / 4 * 3 + 1;
    key = mem_malloc(cap);
    if (!padded || !key)
        goto out;
    memcpy(padded, text, body);
    memset(padded + body, '=', pad);
    got = EVP_DecodeBlock(key, (unsigned char *)padded, (int)(body + pad));
    OPENSSL_cleanse(padded, body + pad);
    if (got < 0 || (size_t)got <= pad) {
        err = SCB_EINVAL; /* the shape was checked: not expected */
        goto out;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes; drop them. */
    out->len = (size_t)got - pad;
    out->bytes = key;
    key = NULL;
    err = SCB_OK;

out:
    mem_free(padded);
    mem_free_secret(key, cap);
    return err;
}

/* ---- bodies ---- */

static enum webhook_answer webhook_parse_object(const char *body, size_t len,
                                                cJSON **out_root)
{
    cJSON *root = NULL;
    enum scb_err err = jsonio_parse(body, len, len, &root);

    if (err == SCB_ENOMEM)
        return WEBHOOK_UNAVAILABLE;
    if (err)
        return WEBHOOK_BAD_JSON;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return WEBHOOK_BAD_JSON;
    }
    *out_root = root;
    return WEBHOOK_OK;
}

/* An integral JSON number within [min, max]. */
static bool webhook_int(const cJSON *v, int64_t min, int64_t max,
                        int64_t *out_v)
{
    double d;

    if (!cJSON_IsNumber(v))
        return false;
    d = v->valuedouble;
    if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d)
        return false;
    *out_v = (int64_t)d;
    return true;
}

/* The value under 'key', or NULL when it is absent or JSON null. */
static const cJSON *webhook_opt(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsNull(v) ? NULL : v;
}

static bool webhook_str_nonempty(const cJSON *obj, const char *key)
{
    const char *s;

    return jsonio_get_str(obj, key, &s) == SCB_OK && *s;
}

static bool webhook_opt_str(const cJSON *obj, const char *key)
{
    const cJSON *v = webhook_opt(obj, key);

    return !v || (cJSON_IsString(v) && v->valuestring);
}

/* ---- Sellercloud notification ---- */

static bool webhook_sc_type_ok(const cJSON *root)
{
    static const char *const types[] = { "order.created", "order.updated",
                                         "order.shipped" };
    const char *t;

    if (jsonio_get_str(root, "type", &t))
        return false;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(t, types[i]) == 0)
            return true;
    }
    return false;
}

static bool webhook_sc_ids_ok(const cJSON *ids)
{
    const cJSON *it;
    size_t count = 0;
    int64_t v;

    if (!cJSON_IsArray(ids))
        return false;
    cJSON_ArrayForEach (it, ids) {
        if (++count > WEBHOOK_LIST_MAX ||
            !webhook_int(it, 1, WEBHOOK_INT32_MAX, &v))
            return false;
    }
    return count > 0;
}

static bool webhook_id_in(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == id)
            return true;
    }
    return false;
}

/* Called once the list is known good; keeps each id once. */
static void webhook_sc_fill(const cJSON *ids, int64_t company,
                            struct webhook_sc_note *out)
{
    const cJSON *it;
    int64_t v = 0;

    out->company_id = company;
    out->n_order_ids = 0;
    cJSON_ArrayForEach (it, ids) {
        /* The list was checked: every element is an id. */
        (void)webhook_int(it, 1, WEBHOOK_INT32_MAX, &v);
        if (!webhook_id_in(out->order_ids, out->n_order_ids, v))
            out->order_ids[out->n_order_ids++] = v;
    }
}

enum webhook_answer webhook_parse_sellercloud(const char *body, size_t len,
                                              const int64_t *companies,
                                              size_t ncompanies,
                                              struct webhook_sc_note *out)
{
    cJSON *root = NULL;
    const cJSON *ids;
    int64_t company = 0;
    enum webhook_answer res = webhook_parse_object(body, len, &root);

    if (res)
        return res;
    ids = cJSON_GetObjectItemCaseSensitive(root, "order_ids");
    if (!webhook_sc_type_ok(root) || !webhook_sc_ids_ok(ids) ||
        !webhook_int(cJSON_GetObjectItemCaseSensitive(root, "company_id"), 1,
                     WEBHOOK_INT32_MAX, &company)) {
        res = WEBHOOK_BAD_JSON;
        goto out;
    }
    if (!webhook_id_in(companies, ncompanies, company)) {
        res = WEBHOOK_UNKNOWN_COMPANY;
        goto out;
    }
    webhook_sc_fill(ids, company, out);

out:
    cJSON_Delete(root);
    return res;
}

/* ---- DDI ship confirm ---- */

static bool webhook_digits(const char *s, size_t n, int *out_v)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out_v = v;
    return true;
}

/* "YYYY-MM-DD" at the start of 's', a real calendar day. */
static bool webhook_date_prefix(const char *s)
{
    static const int mdays[] = {
        31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };
    int y, m, d;
    bool leap;

    if (strnlen(s, 10) < 10 || s[4] != '-' || s[7] != '-' ||
        !webhook_digits(s, 4, &y) || !webhook_digits(s + 5, 2, &m) ||
        !webhook_digits(s + 8, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

static bool webhook_date_ok(const char *s)
{
    return webhook_date_prefix(s) && s[10] == '\0';
}

/*
 * RFC 3339 in UTC: date "T" time, an optional fraction of 1 to 9 digits,
 * then "Z" (or its equivalents "z" and "+00:00").
 */
static bool webhook_rfc3339_utc(const char *s)
{
    int h, mi, sec;
    size_t i = 19, f = 0;

    if (strnlen(s, 20) < 20 || !webhook_date_prefix(s) ||
        (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
        !webhook_digits(s + 11, 2, &h) || !webhook_digits(s + 14, 2, &mi) ||
        !webhook_digits(s + 17, 2, &sec))
        return false;
    if (h > 23 || mi > 59 || sec > 60)
        return false;
    if (s[i] == '.') {
        for (i++; s[i] >= '0' && s[i] <= '9'; i++)
            f++;
        if (f == 0 || f > 9)
            return false;
    }
    return strcmp(s + i, "Z") == 0 || strcmp(s + i, "z") == 0 ||
           strcmp(s + i, "+00:00") == 0;
}

static bool webhook_packages_ok(const cJSON *root)
{
    const cJSON *pkgs = cJSON_GetObjectItemCaseSensitive(root, "packages");
    const cJSON *p;

    if (!cJSON_IsArray(pkgs))
        return false;
    cJSON_ArrayForEach (p, pkgs) {
        if (!cJSON_IsObject(p) || !webhook_str_nonempty(p, "tracking_no") ||
            !webhook_opt_str(p, "weight_lb"))
            return false;
    }
    return true;
}

static bool webhook_line_ok(const cJSON *line)
{
    const cJSON *no, *qty;
    int64_t v;

    if (!cJSON_IsObject(line) || !webhook_opt_str(line, "product_no"))
        return false;
    no = webhook_opt(line, "line_no");
    qty = webhook_opt(line, "qty_shipped");
    if (no && !webhook_int(no, 1, WEBHOOK_INT32_MAX, &v))
        return false;
    return !qty || (cJSON_IsNumber(qty) && qty->valuedouble >= 0.0);
}

static bool webhook_optionals_ok(const cJSON *root)
{
    const cJSON *v, *line;
    int64_t cents;

    if (!webhook_opt_str(root, "carrier") ||
        !webhook_opt_str(root, "service") ||
        !webhook_opt_str(root, "ship_date") ||
        !webhook_opt_str(root, "deposit_applied"))
        return false;
    v = webhook_opt(root, "ship_date");
    if (v && !webhook_date_ok(v->valuestring))
        return false;
    v = webhook_opt(root, "deposit_applied");
    if (v && money_parse(v->valuestring, &cents))
        return false;
    v = webhook_opt(root, "lines");
    if (v && !cJSON_IsArray(v))
        return false;
    cJSON_ArrayForEach (line, v) {
        if (!webhook_line_ok(line))
            return false;
    }
    return true;
}

static bool webhook_shipment_ok(const cJSON *root)
{
    const char *at;
    bool complete;

    return webhook_str_nonempty(root, "shipment_id") &&
           webhook_str_nonempty(root, "order_no") &&
           webhook_str_nonempty(root, "reference") &&
           jsonio_get_str(root, "confirmed_at", &at) == SCB_OK &&
           webhook_rfc3339_utc(at) &&
           jsonio_get_bool(root, "complete", &complete) == SCB_OK &&
           webhook_packages_ok(root) && webhook_optionals_ok(root);
}

bool webhook_reference_is_ours(const char *ref)
{
    size_t a, b;

    if (strncmp(ref, "SC-", 3) != 0)
        return false;
    ref += 3;
    a = strspn(ref, "0123456789");
    if (a == 0 || ref[a] != '-')
        return false;
    ref += a + 1;
    b = strspn(ref, "0123456789");
    return b > 0 && ref[b] == '\0';
}

/*
 * The record must also be one the tracking job can read (the limits of
 * ddi_shipment_read(): ids of at most DDI_ID_MAX bytes, and so on): a 202
 * for a shipment the job would then pass over would lose its tracking.
 */
static enum webhook_answer webhook_shipment_usable(const cJSON *root)
{
    struct ddi_shipment s;
    bool valid;

    if (ddi_shipment_read(root, &s) != SCB_OK)
        return WEBHOOK_UNAVAILABLE;
    valid = s.valid;
    ddi_shipment_release(&s);
    return valid ? WEBHOOK_OK : WEBHOOK_BAD_JSON;
}

enum webhook_answer webhook_parse_ship_confirm(const char *body, size_t len,
                                               struct webhook_shipment *out)
{
    cJSON *root = NULL;
    const char *ref = NULL, *id = NULL;
    enum webhook_answer res = webhook_parse_object(body, len, &root);

    if (res)
        return res;
    if (!webhook_shipment_ok(root)) {
        res = WEBHOOK_BAD_JSON;
        goto out;
    }
    res = webhook_shipment_usable(root);
    if (res)
        goto out;
    (void)jsonio_get_str(root, "reference", &ref); /* checked above */
    (void)jsonio_get_str(root, "shipment_id", &id);
    if (!webhook_reference_is_ours(ref)) {
        res = WEBHOOK_IGNORED;
        goto out;
    }
    out->record = root;
    out->shipment_id = id;
    out->reference = ref;
    root = NULL;

out:
    cJSON_Delete(root);
    return res;
}

void webhook_shipment_release(struct webhook_shipment *s)
{
    cJSON_Delete(s->record);
    s->record = NULL;
    s->shipment_id = NULL;
    s->reference = NULL;
}

/* ---- DDI item change ---- */

static bool webhook_items_list_ok(const cJSON *nos)
{
    const cJSON *it;
    size_t count = 0, n;

    if (!cJSON_IsArray(nos))
        return false;
    cJSON_ArrayForEach (it, nos) {
        if (++count > WEBHOOK_LIST_MAX || !cJSON_IsString(it) ||
            !it->valuestring)
            return false;
        n = strnlen(it->valuestring, WEBHOOK_PRODUCT_NO_MAX + 1);
        if (n == 0 || n > WEBHOOK_PRODUCT_NO_MAX)
            return false;
    }
    return count > 0;
}

/* Called once the list is known good; keeps each number once. */
static void webhook_items_fill(const cJSON *nos, struct webhook_items *out)
{
    const cJSON *it;
    size_t j;

    out->n_product_nos = 0;
    cJSON_ArrayForEach (it, nos) {
        for (j = 0; j < out->n_product_nos; j++) {
            if (strcmp(out->product_nos[j], it->valuestring) == 0)
                break;
        }
        if (j == out->n_product_nos) {
            /* Checked: 1 to WEBHOOK_PRODUCT_NO_MAX bytes. */
            memcpy(out->product_nos[j], it->valuestring,
                   strlen(it->valuestring) + 1);
            out->n_product_nos++;
        }
    }
}

enum webhook_answer webhook_parse_items(const char *body, size_t len,
                                        struct webhook_items *out)
{
    cJSON *root = NULL;
    const cJSON *nos;
    const char *type;
    enum webhook_answer res = webhook_parse_object(body, len, &root);

    if (res)
        return res;
    nos = cJSON_GetObjectItemCaseSensitive(root, "product_nos");
    if (jsonio_get_str(root, "type", &type) ||
        strcmp(type, "items.changed") != 0 || !webhook_items_list_ok(nos)) {
        res = WEBHOOK_BAD_JSON;
        goto out;
    }
    webhook_items_fill(nos, out);

out:
    cJSON_Delete(root);
    return res;
}
