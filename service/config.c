/* SPDX-License-Identifier: MIT */
/* Settings: the environment, read once and checked row by row. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "channel.h"
#include "config.h"
#include "mem.h"

/*
 * Limits on what the environment may hold (listed in README.md). Values are
 * bytes; each limit keeps a typo or a wrong file from becoming a huge
 * allocation, and keeps every problem line short.
 */
#define CFG_VALUE_MAX 4096  /* any value, or the content of a NAME_FILE */
#define CFG_STR_MAX 255     /* a plain string setting */
#define CFG_SECRET_MAX 1024 /* the Sellercloud password, the DDI key */
#define CFG_URL_MAX 2048    /* a base URL */
#define CFG_HOST_MAX 253    /* a host name */
#define CFG_TOKEN_MAX 512   /* one admin token */
#define CFG_WHSEC_MAX 1024  /* one webhook secret, as written (base64) */
#define CFG_TABLE_MAX 256   /* rows of a mapping table */
#define CFG_LINE_MAX 256    /* one problem line */

/* How a row's text becomes fields of struct config. */
enum cfg_type {
    CFG_HOSTPORT,  /* host[256] at off, int port at off_n */
    CFG_TOKENS,    /* admin tokens: config_secret[] at off, n at off_n */
    CFG_WHSECRETS, /* webhook secrets: config_secret[] at off, n at off_n */
    CFG_REDIS,     /* the redis_* fields */
    CFG_PREFIX,    /* char[max + 1] at off */
    CFG_URL,       /* char * at off */
    CFG_STR,       /* char * at off */
    CFG_PATH,      /* char * at off, a readable file */
    CFG_IDLIST,    /* int64_t[] at off, size_t n at off_n */
    CFG_INT,       /* int64_t at off */
    CFG_SECS,      /* int64_t at off: bare seconds (names ending in _S) */
    CFG_DURATION,  /* int64_t at off: seconds */
    CFG_DURMAP,    /* struct config_chanmap at off, secs values */
    CFG_STRMAP,    /* struct config_chanmap at off, str values */
    CFG_POLICYMAP, /* struct config_chanmap at off, complete|first */
    CFG_TIME,      /* int64_t ms at off */
    CFG_CHANLIST,  /* int[] at off, size_t n at off_n */
    CFG_BOOL,      /* bool at off */
    CFG_MAPTABLE,  /* struct config_maptable at off */
    CFG_SYNC,      /* unsigned at off */
    CFG_LOGLEVEL,  /* enum log_level at off */
    CFG_TYPE_COUNT
};

enum cfg_flag {
    CFG_REQUIRED = 1u << 0,
    CFG_SECRET = 1u << 1, /* NAME_FILE allowed, printed as *** */
    CFG_HAS = 1u << 2,    /* off_has is the bool that says it is set */
    CFG_PAIR = 1u << 3,   /* mapping table: right side is a|b too */
    CFG_REST = 1u << 4,   /* URL: the path must end in /rest */
};

struct cfg_row {
    const char *name;
    enum cfg_type type;
    const char *dflt; /* NULL: no fixed default */
    int64_t min;      /* numbers: range; strings: length */
    int64_t max;
    unsigned flags; /* enum cfg_flag bits */
    size_t off;     /* offsetof the field in struct config */
    size_t off_n;   /* port, or the count of a list */
    size_t off_has; /* with CFG_HAS */
};

#define CFG_F(field) offsetof(struct config, field)
#define CFG_H 3600
#define CFG_POLL_DEFAULT "default=60m,Amazon=20m,eBay=30m,Walmart=30m"
#define CFG_SYNC_DEFAULT                                              \
    "name,long_description,manufacturer_sku,upc,price,uom,image_url," \
    "product_type,qty"

/* One row per setting of contracts/operations.md, in its order. */
static const struct cfg_row cfg_rows[] = {
    { "SCBRIDGE_LISTEN", CFG_HOSTPORT, "0.0.0.0:8080", 0, 0, 0,
      CFG_F(listen_host), CFG_F(listen_port), 0 },
    { "SCBRIDGE_ADMIN_LISTEN", CFG_HOSTPORT, NULL, 0, 0, CFG_HAS,
      CFG_F(admin_host), CFG_F(admin_port), CFG_F(has_admin_listen) },
    { "SCBRIDGE_ADMIN_TOKEN", CFG_TOKENS, NULL, 32, CFG_TOKEN_MAX,
      CFG_REQUIRED | CFG_SECRET, CFG_F(admin_tokens), CFG_F(n_admin_tokens),
      0 },
    { "SCBRIDGE_REDIS_URL", CFG_REDIS, "redis://127.0.0.1:6379/0", 0, 0,
      CFG_SECRET, CFG_F(redis_url), 0, 0 },
    { "SCBRIDGE_REDIS_PREFIX", CFG_PREFIX, "scb:", 1, 32, 0,
      CFG_F(redis_prefix), 0, 0 },
    { "SCBRIDGE_SC_BASE_URL", CFG_URL, NULL, 1, CFG_URL_MAX,
      CFG_REQUIRED | CFG_REST, CFG_F(sc_base_url), 0, 0 },
    { "SCBRIDGE_SC_USERNAME", CFG_STR, NULL, 1, CFG_STR_MAX, CFG_REQUIRED,
      CFG_F(sc_username), 0, 0 },
    { "SCBRIDGE_SC_PASSWORD", CFG_STR, NULL, 1, CFG_SECRET_MAX,
      CFG_REQUIRED | CFG_SECRET, CFG_F(sc_password), 0, 0 },
    { "SCBRIDGE_SC_COMPANY_IDS", CFG_IDLIST, NULL, 1, INT32_MAX, CFG_REQUIRED,
      CFG_F(sc_company_ids), CFG_F(n_sc_company_ids), 0 },
    { "SCBRIDGE_SC_RATE_PER_HOUR", CFG_INT, "10800", 1, 1000000, 0,
      CFG_F(sc_rate_per_hour), 0, 0 },
    { "SCBRIDGE_SC_TIMEOUT", CFG_DURATION, "30s", 1, 600, 0,
      CFG_F(sc_timeout_s), 0, 0 },
    { "SCBRIDGE_UPSTREAM_MAX_BYTES", CFG_INT, "8388608", 65536, 1073741824, 0,
      CFG_F(upstream_max_bytes), 0, 0 },
    { "SCBRIDGE_CA_FILE", CFG_PATH, NULL, 1, PATH_MAX - 1, 0, CFG_F(ca_file), 0,
      0 },
    { "SCBRIDGE_DDI_BASE_URL", CFG_URL, NULL, 1, CFG_URL_MAX, CFG_REQUIRED,
      CFG_F(ddi_base_url), 0, 0 },
    { "SCBRIDGE_DDI_API_KEY", CFG_STR, NULL, 1, CFG_SECRET_MAX,
      CFG_REQUIRED | CFG_SECRET, CFG_F(ddi_api_key), 0, 0 },
    { "SCBRIDGE_DDI_COMPANY", CFG_STR, NULL, 1, CFG_STR_MAX, CFG_REQUIRED,
      CFG_F(ddi_company), 0, 0 },
    { "SCBRIDGE_DDI_TIMEOUT", CFG_DURATION, "30s", 1, 600, 0,
      CFG_F(ddi_timeout_s), 0, 0 },
    { "SCBRIDGE_DDI_LOOKUP_DELAY", CFG_DURATION, "2m", 1, 24 * CFG_H, 0,
      CFG_F(ddi_lookup_delay_s), 0, 0 },
    { "SCBRIDGE_DDI_CONCURRENCY", CFG_INT, "4", 1, 64, 0,
      CFG_F(ddi_concurrency), 0, 0 },
    { "SCBRIDGE_DDI_BRANCH", CFG_STR, "01", 1, CFG_STR_MAX, 0,
      CFG_F(ddi_branch), 0, 0 },
    { "SCBRIDGE_DDI_WAREHOUSE", CFG_STR, "MAIN", 1, CFG_STR_MAX, 0,
      CFG_F(ddi_warehouse), 0, 0 },
    { "SCBRIDGE_DDI_CUSTOMERS", CFG_STRMAP, "default=WEB", 1,
      CONFIG_NAME_MAX - 1, 0, CFG_F(ddi_customers), 0, 0 },
    { "SCBRIDGE_WEBHOOK_SECRET_SC", CFG_WHSECRETS, NULL, 1, CFG_WHSEC_MAX,
      CFG_REQUIRED | CFG_SECRET, CFG_F(webhook_secret_sc),
      CFG_F(n_webhook_secret_sc), 0 },
    { "SCBRIDGE_WEBHOOK_SECRET_DDI", CFG_WHSECRETS, NULL, 1, CFG_WHSEC_MAX,
      CFG_REQUIRED | CFG_SECRET, CFG_F(webhook_secret_ddi),
      CFG_F(n_webhook_secret_ddi), 0 },
    { "SCBRIDGE_WEBHOOK_TOLERANCE_S", CFG_SECS, "300", 1, 3600, 0,
      CFG_F(webhook_tolerance_s), 0, 0 },
    { "SCBRIDGE_WEBHOOK_MAX_BYTES", CFG_INT, "1048576", 1024, 67108864, 0,
      CFG_F(webhook_max_bytes), 0, 0 },
    { "SCBRIDGE_WEBHOOK_DEDUPE_TTL", CFG_DURATION, "168h", 60, 720 * CFG_H, 0,
      CFG_F(webhook_dedupe_ttl_s), 0, 0 },
    { "SCBRIDGE_WORKERS", CFG_INT, "8", 1, 256, 0, CFG_F(workers), 0, 0 },
    { "SCBRIDGE_JOB_LEASE", CFG_DURATION, "30s", 5, CFG_H, 0,
      CFG_F(job_lease_s), 0, 0 },
    { "SCBRIDGE_JOB_MAX_ATTEMPTS", CFG_INT, "10", 1, 100, 0,
      CFG_F(job_max_attempts), 0, 0 },
    { "SCBRIDGE_BACKOFF_BASE", CFG_DURATION, "2s", 1, CFG_H, 0,
      CFG_F(backoff_base_s), 0, 0 },
    { "SCBRIDGE_BACKOFF_CAP", CFG_DURATION, "10m", 1, 24 * CFG_H, 0,
      CFG_F(backoff_cap_s), 0, 0 },
    { "SCBRIDGE_MAX_WAIT", CFG_DURATION, "1h", 1, 24 * CFG_H, 0,
      CFG_F(max_wait_s), 0, 0 },
    { "SCBRIDGE_DRAIN_TIMEOUT", CFG_DURATION, "10s", 1, 600, 0,
      CFG_F(drain_timeout_s), 0, 0 },
    { "SCBRIDGE_POLL_ORDERS", CFG_DURMAP, CFG_POLL_DEFAULT, 1, 24 * CFG_H, 0,
      CFG_F(poll_orders), 0, 0 },
    { "SCBRIDGE_POLL_SHIPMENTS", CFG_DURATION, "20m", 1, 24 * CFG_H, 0,
      CFG_F(poll_shipments_s), 0, 0 },
    { "SCBRIDGE_POLL_ITEMS", CFG_DURATION, "15m", 1, 24 * CFG_H, 0,
      CFG_F(poll_items_s), 0, 0 },
    { "SCBRIDGE_POLL_OVERLAP", CFG_DURATION, "15m", 0, 24 * CFG_H, 0,
      CFG_F(poll_overlap_s), 0, 0 },
    { "SCBRIDGE_IMPORT_SINCE", CFG_TIME, NULL, 0, 0, CFG_HAS,
      CFG_F(import_since_ms), 0, CFG_F(has_import_since) },
    { "SCBRIDGE_ORDERS_LOOKBACK", CFG_DURATION, "24h", 1, 720 * CFG_H, 0,
      CFG_F(orders_lookback_s), 0, 0 },
    { "SCBRIDGE_SHIPMENTS_SINCE", CFG_TIME, NULL, 0, 0, CFG_HAS,
      CFG_F(shipments_since_ms), 0, CFG_F(has_shipments_since) },
    { "SCBRIDGE_IMPORT_CHANNELS_EXCLUDE", CFG_CHANLIST, "FBA,WFS", 0,
      CONFIG_MAP_MAX, 0, CFG_F(import_channels_exclude),
      CFG_F(n_import_channels_exclude), 0 },
    { "SCBRIDGE_IMPORT_DROPSHIP", CFG_BOOL, "false", 0, 0, 0,
      CFG_F(import_dropship), 0, 0 },
    { "SCBRIDGE_AWAITING_PAYMENT_MAX_AGE", CFG_DURATION, "168h", CFG_H,
      720 * CFG_H, 0, CFG_F(awaiting_payment_max_age_s), 0, 0 },
    { "SCBRIDGE_PARTIAL_SHIPMENTS", CFG_POLICYMAP, "default=complete", 0, 0, 0,
      CFG_F(partial_shipments), 0, 0 },
    { "SCBRIDGE_SHIP_VIA_MAP", CFG_MAPTABLE, NULL, 0, 0, 0, CFG_F(ship_via_map),
      0, 0 },
    { "SCBRIDGE_CARRIER_MAP", CFG_MAPTABLE, NULL, 0, 0, CFG_PAIR,
      CFG_F(carrier_map), 0, 0 },
    { "SCBRIDGE_ORDER_RETENTION", CFG_DURATION, "2160h", 24 * CFG_H,
      8760 * CFG_H, 0, CFG_F(order_retention_s), 0, 0 },
    { "SCBRIDGE_SYNC_FIELDS", CFG_SYNC, CFG_SYNC_DEFAULT, 0, 0, 0,
      CFG_F(sync_fields), 0, 0 },
    { "SCBRIDGE_STOCK_BUFFER", CFG_INT, "0", 0, 1000000, 0, CFG_F(stock_buffer),
      0, 0 },
    { "SCBRIDGE_SC_CREATE_PRODUCTS", CFG_BOOL, "true", 0, 0, 0,
      CFG_F(sc_create_products), 0, 0 },
    /* Unset: the first company id, filled in by cfg_cross_check(). */
    { "SCBRIDGE_SC_PRODUCT_COMPANY_ID", CFG_INT, NULL, 1, INT32_MAX, 0,
      CFG_F(sc_product_company_id), 0, 0 },
    { "SCBRIDGE_SC_DEFAULT_PRODUCT_TYPE", CFG_STR, NULL, 1, CFG_STR_MAX, 0,
      CFG_F(sc_default_product_type), 0, 0 },
    { "SCBRIDGE_SC_WAREHOUSE_ID", CFG_INT, "1", 1, INT32_MAX, 0,
      CFG_F(sc_warehouse_id), 0, 0 },
    { "SCBRIDGE_SC_UOM_COLUMN", CFG_STR, "UnitOfMeasure", 1, CFG_STR_MAX, 0,
      CFG_F(sc_uom_column), 0, 0 },
    { "SCBRIDGE_SC_IMAGE_COLUMN", CFG_STR, "ImageURL", 1, CFG_STR_MAX, 0,
      CFG_F(sc_image_column), 0, 0 },
    { "SCBRIDGE_LOG_LEVEL", CFG_LOGLEVEL, "info", 0, 0, 0, CFG_F(log_level), 0,
      0 },
};

#define CFG_NROWS (sizeof(cfg_rows) / sizeof(cfg_rows[0]))

/* Names of SCBRIDGE_SYNC_FIELDS; bit i of sync_fields is name i. */
static const char *const cfg_sync_names[] = {
    "name", "long_description", "manufacturer_sku", "upc", "price",
    "uom",  "image_url",        "product_type",     "qty",
};

#define CFG_NSYNC (sizeof(cfg_sync_names) / sizeof(cfg_sync_names[0]))

static const char *const cfg_level_names[] = { "debug", "info", "warn",
                                               "error" };

enum cfg_state { CFG_S_UNSET, CFG_S_OK, CFG_S_BAD };

/* What config_load() carries from row to row. */
struct cfg_load {
    struct config *c;
    config_getenv_fn get;
    void *ctx;
    struct buf *problems;
    bool nomem; /* an allocation failed: the answer is SCB_ENOMEM */
    bool bad;   /* at least one problem was reported */
    unsigned char state[CFG_NROWS]; /* enum cfg_state */
};

static void *cfg_field(struct config *c, size_t off)
{
    return (char *)c + off;
}

static const void *cfg_cfield(const struct config *c, size_t off)
{
    return (const char *)c + off;
}

/* Reports one problem of setting 'name'; answers SCB_EINVAL. */
__attribute__((format(printf, 3, 4))) static enum scb_err cfg_bad(
    struct cfg_load *ld, const char *name, const char *fmt, ...)
{
    char line[CFG_LINE_MAX];
    va_list ap;
    int n;

    n = snprintf(line, sizeof(line), "scbridge: %s: ", name);
    if (n > 0 && (size_t)n < sizeof(line)) {
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    /* A full problems buffer only loses lines; the answer stays EINVAL. */
    if (buf_printf(ld->problems, "%s\n", line) == SCB_ENOMEM)
        ld->nomem = true;
    ld->bad = true;
    return SCB_EINVAL;
}

/* Formats a duration in its largest exact unit: 90s, 20m, 168h. */
static void cfg_fmt_duration(int64_t secs, char out[24])
{
    if (secs != 0 && secs % CFG_H == 0)
        snprintf(out, 24, "%" PRId64 "h", secs / CFG_H);
    else if (secs != 0 && secs % 60 == 0)
        snprintf(out, 24, "%" PRId64 "m", secs / 60);
    else
        snprintf(out, 24, "%" PRId64 "s", secs);
}

/* Printable ASCII without the space: 0x21 to 0x7e. */
static bool cfg_printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    }
    return true;
}

static bool cfg_has_ctl(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch < 0x20 || ch == 0x7f)
            return true;
    }
    return false;
}

/*
 * Decimal digits, no sign, into *out (at most 18 digits, so no overflow);
 * 'len' bytes of 's'. False for anything else.
 */
static bool cfg_digits(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;

    if (len == 0 || len > 18)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "<integer><s|m|h>", one unit, no spaces. */
static bool cfg_duration(const char *s, size_t len, int64_t *out_secs)
{
    int64_t v, mul;

    if (len < 2)
        return false;
    switch (s[len - 1]) {
    case 's':
        mul = 1;
        break;
    case 'm':
        mul = 60;
        break;
    case 'h':
        mul = CFG_H;
        break;
    default:
        return false;
    }
    if (!cfg_digits(s, len - 1, &v) || v > INT64_MAX / CFG_H)
        return false;
    *out_secs = v * mul;
    return true;
}

/* Items of a list: the spans between separators, empty ones included. */
struct cfg_iter {
    const char *p; /* NULL once the last item was given */
};

static bool cfg_iter_next(struct cfg_iter *it, char sep, const char **item,
                          size_t *len)
{
    const char *end;

    if (!it->p)
        return false;
    end = strchr(it->p, sep);
    *item = it->p;
    *len = end ? (size_t)(end - it->p) : strlen(it->p);
    it->p = end ? end + 1 : NULL;
    return true;
}

/* Copies a span into a terminated buffer of 'size' bytes if it fits. */
static bool cfg_span_copy(char *dst, size_t size, const char *s, size_t len)
{
    if (len >= size)
        return false;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return true;
}

/*
 * Reads a NAME_FILE: its content less one trailing "\n" or "\r\n". On
 * SCB_OK *out_text is new (CFG_VALUE_MAX + 3 bytes; wipe and free it with
 * cfg_text_free()). SCB_EIO unreadable, SCB_ETOOBIG, SCB_EINVAL empty,
 * SCB_EPARSE a NUL byte inside, SCB_ENOMEM.
 */
static enum scb_err cfg_read_file(const char *path, char **out_text)
{
    char *text = mem_malloc(CFG_VALUE_MAX + 3);
    size_t len = 0;
    enum scb_err err = SCB_OK;
    int fd;

    if (!text)
        return SCB_ENOMEM;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = SCB_EIO;
        goto out;
    }
    while (len < CFG_VALUE_MAX + 3) {
        ssize_t n = read(fd, text + len, CFG_VALUE_MAX + 3 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = SCB_EIO;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (!err && len > 0 && text[len - 1] == '\n')
        len -= (len > 1 && text[len - 2] == '\r') ? 2 : 1;
    if (!err && len > CFG_VALUE_MAX)
        err = SCB_ETOOBIG;
    else if (!err && len == 0)
        err = SCB_EINVAL;
    else if (!err && memchr(text, '\0', len))
        err = SCB_EPARSE;
out:
    if (err) {
        mem_free_secret(text, CFG_VALUE_MAX + 3);
    } else {
        text[len] = '\0';
        *out_text = text;
    }
    return err;
}

static void cfg_text_free(char *text)
{
    mem_free_secret(text, CFG_VALUE_MAX + 3);
}

static enum scb_err cfg_file_problem(struct cfg_load *ld, const char *name,
                                     enum scb_err err)
{
    switch (err) {
    case SCB_ENOMEM:
        ld->nomem = true;
        return SCB_ENOMEM;
    case SCB_ETOOBIG:
        return cfg_bad(ld, name, "file is larger than %d bytes", CFG_VALUE_MAX);
    case SCB_EINVAL:
        return cfg_bad(ld, name, "file is empty");
    case SCB_EPARSE:
        return cfg_bad(ld, name, "file holds a NUL byte");
    default:
        return cfg_bad(ld, name, "cannot read the file");
    }
}

static const char *cfg_env(struct cfg_load *ld, const char *name)
{
    const char *v = ld->get(name, ld->ctx);

    return v && *v ? v : NULL; /* empty counts as unset */
}

/*
 * The text of row 'r' from NAME, or for a secret from NAME_FILE. *out_v
 * is NULL when unset; *out_owned is what must go to cfg_text_free().
 */
static enum scb_err cfg_fetch(struct cfg_load *ld, const struct cfg_row *r,
                              const char **out_v, char **out_owned)
{
    char fname[96];
    const char *v = cfg_env(ld, r->name);
    const char *path = NULL;
    char *text = NULL;
    enum scb_err err;

    if (r->flags & CFG_SECRET) {
        snprintf(fname, sizeof(fname), "%s_FILE", r->name);
        path = cfg_env(ld, fname);
    }
    if (v && path)
        return cfg_bad(ld, r->name, "both %s and %s_FILE are set", r->name,
                       r->name);
    if (v && strnlen(v, CFG_VALUE_MAX + 1) > CFG_VALUE_MAX)
        return cfg_bad(ld, r->name, "longer than %d bytes", CFG_VALUE_MAX);
    if (path) {
        err = cfg_read_file(path, &text);
        if (err)
            return cfg_file_problem(ld, fname, err);
        v = text;
    }
    *out_v = v;
    *out_owned = text;
    return SCB_OK;
}

/* A host name or IPv4 address: [A-Za-z0-9._-], dots between labels. */
static bool cfg_host_name_ok(const char *h)
{
    size_t len = strlen(h);
    bool numeric = true;

    if (len == 0 || len > CFG_HOST_MAX || h[0] == '.' || h[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = h[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9');

        if (!alnum && ch != '.' && ch != '-' && ch != '_')
            return false;
        if (ch == '.' && h[i + 1] == '.')
            return false;
        if (ch != '.' && (ch < '0' || ch > '9'))
            numeric = false;
    }
    if (numeric) {
        struct in_addr a;

        return inet_pton(AF_INET, h, &a) == 1;
    }
    return true;
}

/*
 * Parses host:port from 'len' bytes of 's' ("[v6]:port" for IPv6). The
 * host goes to out_host (256 bytes) without brackets. NULL on success,
 * else what is wrong.
 */
static const char *cfg_hostport(const char *s, size_t len, char *out_host,
                                int *out_port)
{
    char host[CFG_HOST_MAX + 1];
    const char *colon = NULL;
    int64_t port;
    struct in6_addr a6;

    for (size_t i = len; i > 0; i--) {
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    }
    if (!colon ||
        !cfg_digits(colon + 1, len - (size_t)(colon + 1 - s), &port) ||
        port < 1 || port > 65535)
        return "must be host:port with a port from 1 to 65535";
    if (s[0] == '[') {
        if (colon[-1] != ']' ||
            !cfg_span_copy(host, sizeof(host), s + 1,
                           (size_t)(colon - s) - 2) ||
            inet_pton(AF_INET6, host, &a6) != 1)
            return "the host is not an IPv6 address in brackets";
    } else if (!cfg_span_copy(host, sizeof(host), s, (size_t)(colon - s)) ||
               !cfg_host_name_ok(host)) {
        return "the host is not a host name, an IPv4 address or [IPv6]";
    }
    memcpy(out_host, host, strlen(host) + 1);
    *out_port = (int)port;
    return NULL;
}

static enum scb_err cfg_parse_hostport(struct cfg_load *ld,
                                       const struct cfg_row *r, const char *v)
{
    const char *why;
    int port;

    why = cfg_hostport(v, strlen(v), cfg_field(ld->c, r->off), &port);
    if (why)
        return cfg_bad(ld, r->name, "%s", why);
    *(int *)cfg_field(ld->c, r->off_n) = port;
    if (r->flags & CFG_HAS)
        *(bool *)cfg_field(ld->c, r->off_has) = true;
    return SCB_OK;
}

static enum scb_err cfg_print_host(struct buf *out, const char *host, int port)
{
    if (strchr(host, ':'))
        return buf_printf(out, "[%s]:%d", host, port);
    return buf_printf(out, "%s:%d", host, port);
}

static enum scb_err cfg_print_hostport(const struct config *c,
                                       const struct cfg_row *r, struct buf *out)
{
    if ((r->flags & CFG_HAS) && !*(const bool *)cfg_cfield(c, r->off_has))
        return SCB_OK;
    return cfg_print_host(out, cfg_cfield(c, r->off),
                          *(const int *)cfg_cfield(c, r->off_n));
}

/* Items of a secret list: runs of non-whitespace. */
static bool cfg_ws_next(const char **p, const char **item, size_t *len)
{
    const char *s = *p;
    size_t n = 0;

    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    while (s[n] && s[n] != ' ' && !(s[n] >= '\t' && s[n] <= '\r'))
        n++;
    if (n == 0)
        return false;
    *item = s;
    *len = n;
    *p = s + n;
    return true;
}

static void cfg_secrets_free(struct config_secret *sec, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        mem_free_secret(sec[i].bytes, sec[i].len + 1);
        sec[i].bytes = NULL;
        sec[i].len = 0;
    }
    *n = 0;
}

/* Keeps a copy of 'len' bytes, NUL-terminated, as the next secret. */
static enum scb_err cfg_secret_add(struct cfg_load *ld, const struct cfg_row *r,
                                   const unsigned char *bytes, size_t len)
{
    struct config_secret *sec = cfg_field(ld->c, r->off);
    size_t *n = cfg_field(ld->c, r->off_n);
    unsigned char *copy;

    for (size_t i = 0; i < *n; i++) {
        if (sec[i].len == len && memcmp(sec[i].bytes, bytes, len) == 0)
            return cfg_bad(ld, r->name, "item %zu repeats an earlier one",
                           *n + 1);
    }
    copy = mem_malloc(len + 1);
    if (!copy) {
        ld->nomem = true;
        return SCB_ENOMEM;
    }
    memcpy(copy, bytes, len);
    copy[len] = '\0';
    sec[*n].bytes = copy;
    sec[*n].len = len;
    (*n)++;
    return SCB_OK;
}

/* An admin token: 32 or more printable ASCII characters. */
static enum scb_err cfg_token(struct cfg_load *ld, const struct cfg_row *r,
                              const char *s, size_t len, size_t idx)
{
    if (!cfg_printable(s, len) || len < (size_t)r->min || len > (size_t)r->max)
        return cfg_bad(ld, r->name,
                       "token %zu must be %" PRId64 " to %" PRId64
                       " printable ASCII characters",
                       idx, r->min, r->max);
    return cfg_secret_add(ld, r, (const unsigned char *)s, len);
}

/*
 * A webhook secret: "whsec_<base64>" or bare base64 (padding optional),
 * decoded with OpenSSL; it must give at least one byte.
 */
static enum scb_err cfg_whsec(struct cfg_load *ld, const struct cfg_row *r,
                              const char *s, size_t len, size_t idx)
{
    unsigned char in[CFG_WHSEC_MAX + 4], key[CFG_WHSEC_MAX];
    size_t n = 0, pad = 0;
    int got = -1;
    enum scb_err err;

    if (len > 6 && strncmp(s, "whsec_", 6) == 0) {
        s += 6;
        len -= 6;
    }
    while (len > 0 && s[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (len > 0 && len <= CFG_WHSEC_MAX &&
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789+/") >= len &&
        len % 4 != 1) {
        memcpy(in, s, len);
        for (n = len; n % 4 != 0; n++)
            in[n] = '=';
        pad = n - len;
        got = EVP_DecodeBlock(key, in, (int)n);
    }
    if (got < 0 || (size_t)got <= pad) {
        explicit_bzero(in, sizeof(in));
        return cfg_bad(
            ld, r->name,
            "secret %zu is not whsec_<base64> or base64 of at least one byte",
            idx);
    }
    err = cfg_secret_add(ld, r, key, (size_t)got - pad);
    explicit_bzero(in, sizeof(in));
    explicit_bzero(key, sizeof(key));
    return err;
}

static enum scb_err cfg_parse_secrets(struct cfg_load *ld,
                                      const struct cfg_row *r, const char *v)
{
    const char *p = v, *item;
    size_t len, idx = 0;
    enum scb_err err = SCB_OK;

    while (!err && cfg_ws_next(&p, &item, &len)) {
        if (++idx > CONFIG_MAX_SECRETS)
            return cfg_bad(ld, r->name, "more than %d items",
                           CONFIG_MAX_SECRETS);
        if (r->type == CFG_TOKENS)
            err = cfg_token(ld, r, item, len, idx);
        else
            err = cfg_whsec(ld, r, item, len, idx);
    }
    if (!err && idx == 0)
        err = cfg_bad(ld, r->name, "holds no item");
    return err;
}

static enum scb_err cfg_print_secrets(const struct config *c,
                                      const struct cfg_row *r, struct buf *out)
{
    if (*(const size_t *)cfg_cfield(c, r->off_n) == 0)
        return SCB_OK;
    return buf_puts(out, "***");
}

static void cfg_release_secrets(struct config *c, const struct cfg_row *r)
{
    cfg_secrets_free(cfg_field(c, r->off), cfg_field(c, r->off_n));
}

static int cfg_hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/*
 * Percent-decodes 'len' bytes of 's' into a new string (*out NULL for an
 * empty result). SCB_EINVAL for a bad escape, %00 or a control character.
 */
static enum scb_err cfg_pct_decode(const char *s, size_t len, char **out)
{
    char tmp[CFG_VALUE_MAX + 1];
    size_t n = 0;
    enum scb_err err = SCB_OK;

    for (size_t i = 0; i < len && n < CFG_VALUE_MAX; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '%') {
            int hi = i + 2 < len ? cfg_hexval(s[i + 1]) : -1;
            int lo = hi >= 0 ? cfg_hexval(s[i + 2]) : -1;

            /* A bad escape becomes 0, refused below like %00. */
            ch = lo < 0 ? 0 : (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (ch < 0x20 || ch == 0x7f) {
            err = SCB_EINVAL;
            break;
        }
        tmp[n++] = (char)ch;
    }
    if (!err && n > 0) {
        *out = mem_strndup(tmp, n);
        err = *out ? SCB_OK : SCB_ENOMEM;
    } else if (!err) {
        *out = NULL;
    }
    explicit_bzero(tmp, n);
    return err;
}

#define CFG_REDIS_FORM "must be redis://[[user]:password@]host:port[/db]"

/* "[user]:password" of a Redis URL, both percent-decoded. */
static enum scb_err cfg_redis_userinfo(struct cfg_load *ld,
                                       const struct cfg_row *r, const char *s,
                                       size_t len)
{
    struct config *c = ld->c;
    const char *colon = memchr(s, ':', len);
    enum scb_err err;

    if (!colon)
        return cfg_bad(ld, r->name, "%s (a password is needed before @)",
                       CFG_REDIS_FORM);
    err = cfg_pct_decode(s, (size_t)(colon - s), &c->redis_user);
    if (!err)
        err = cfg_pct_decode(colon + 1, len - (size_t)(colon + 1 - s),
                             &c->redis_password);
    if (err == SCB_ENOMEM) {
        ld->nomem = true;
        return err;
    }
    if (err)
        return cfg_bad(
            ld, r->name,
            "the user or password holds a bad %%-escape or a control character");
    if (!c->redis_password)
        return cfg_bad(ld, r->name, "the password is empty");
    return SCB_OK;
}

static enum scb_err cfg_parse_redis(struct cfg_load *ld,
                                    const struct cfg_row *r, const char *v)
{
    struct config *c = ld->c;
    const char *rest, *at, *hp, *slash, *why;
    int64_t db = 0;
    enum scb_err err;

    if (strncasecmp(v, "rediss://", 9) == 0)
        return cfg_bad(
            ld, r->name,
            "rediss:// (TLS) is not supported; reach a TLS Redis through a local proxy such as stunnel or HAProxy");
    if (strncasecmp(v, "redis://", 8) != 0)
        return cfg_bad(ld, r->name, CFG_REDIS_FORM);
    rest = v + 8;
    at = strrchr(rest, '@');
    hp = at ? at + 1 : rest;
    slash = strchr(hp, '/');
    if (slash && slash[1] != '\0' &&
        (!cfg_digits(slash + 1, strlen(slash + 1), &db) || db > INT_MAX))
        return cfg_bad(ld, r->name,
                       "the database must be an integer from 0 to %d", INT_MAX);
    why = cfg_hostport(hp, slash ? (size_t)(slash - hp) : strlen(hp),
                       c->redis_host, &c->redis_port);
    if (why)
        return cfg_bad(ld, r->name, "%s", why);
    if (at) {
        err = cfg_redis_userinfo(ld, r, rest, (size_t)(at - rest));
        if (err)
            return err;
    }
    c->redis_db = (int)db;
    c->redis_url = mem_strdup(v);
    if (!c->redis_url) {
        ld->nomem = true;
        return SCB_ENOMEM;
    }
    return SCB_OK;
}

static enum scb_err cfg_print_redis(const struct config *c,
                                    const struct cfg_row *r, struct buf *out)
{
    enum scb_err err;

    (void)r;
    if (!c->redis_url)
        return SCB_OK;
    err = buf_printf(out, "redis://%s%s", c->redis_user ? c->redis_user : "",
                     c->redis_password ? ":***@" : "");
    if (!err)
        err = cfg_print_host(out, c->redis_host, c->redis_port);
    if (!err)
        err = buf_printf(out, "/%d", c->redis_db);
    return err;
}

static void cfg_free_str(char **p, bool secret)
{
    if (*p && secret)
        mem_free_secret(*p, strlen(*p) + 1);
    else
        mem_free(*p);
    *p = NULL;
}

static void cfg_release_redis(struct config *c, const struct cfg_row *r)
{
    (void)r;
    cfg_free_str(&c->redis_url, true);
    cfg_free_str(&c->redis_user, false);
    cfg_free_str(&c->redis_password, true);
}

/* 1-32 printable ASCII characters, no spaces, into char[max + 1]. */
static enum scb_err cfg_parse_prefix(struct cfg_load *ld,
                                     const struct cfg_row *r, const char *v)
{
    size_t len = strlen(v);

    if (!cfg_printable(v, len) || len < (size_t)r->min || len > (size_t)r->max)
        return cfg_bad(ld, r->name,
                       "must be %" PRId64 " to %" PRId64
                       " printable ASCII characters, no spaces",
                       r->min, r->max);
    memcpy(cfg_field(ld->c, r->off), v, len + 1);
    return SCB_OK;
}

static enum scb_err cfg_print_chars(const struct config *c,
                                    const struct cfg_row *r, struct buf *out)
{
    return buf_puts(out, cfg_cfield(c, r->off));
}

/* Stores a copy of 'len' bytes of 's' in the char * field of 'r'. */
static enum scb_err cfg_store_str(struct cfg_load *ld, const struct cfg_row *r,
                                  const char *s, size_t len)
{
    char **field = cfg_field(ld->c, r->off);

    *field = mem_strndup(s, len);
    if (!*field) {
        ld->nomem = true;
        return SCB_ENOMEM;
    }
    return SCB_OK;
}

static enum scb_err cfg_parse_str(struct cfg_load *ld, const struct cfg_row *r,
                                  const char *v)
{
    size_t len = strlen(v);

    if (len > (size_t)r->max)
        return cfg_bad(ld, r->name, "longer than %" PRId64 " bytes", r->max);
    if (cfg_has_ctl(v, len))
        return cfg_bad(ld, r->name, "holds a control character");
    return cfg_store_str(ld, r, v, len);
}

/* A readable file; its content is the business of whoever opens it. */
static enum scb_err cfg_parse_path(struct cfg_load *ld, const struct cfg_row *r,
                                   const char *v)
{
    enum scb_err err = cfg_parse_str(ld, r, v);

    if (!err && access(v, R_OK) != 0)
        err = cfg_bad(ld, r->name, "cannot read the file");
    return err;
}

/*
 * The authority of an http(s) URL: host or host:port (no user, no
 * password), as 'len' bytes of 's'.
 */
static bool cfg_authority_ok(const char *s, size_t len)
{
    char host[256];
    char with_port[CFG_HOST_MAX + 16];
    int port;

    if (len == 0 || memchr(s, '@', len))
        return false;
    if (cfg_hostport(s, len, host, &port) == NULL)
        return true;
    /* No port given: check it as if it had one. */
    if (len + 4 > sizeof(with_port))
        return false;
    memcpy(with_port, s, len);
    memcpy(with_port + len, ":80", 4);
    return cfg_hostport(with_port, len + 3, host, &port) == NULL;
}

/*
 * An http or https URL with no query or fragment, kept without trailing
 * slashes; with CFG_REST its path must end in /rest.
 */
static enum scb_err cfg_parse_url(struct cfg_load *ld, const struct cfg_row *r,
                                  const char *v)
{
    size_t len = strlen(v), skip;
    const char *auth, *path;

    if (strncasecmp(v, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(v, "https://", 8) == 0)
        skip = 8;
    else
        return cfg_bad(ld, r->name, "must be an http:// or https:// URL");
    if (len > (size_t)r->max)
        return cfg_bad(ld, r->name, "longer than %" PRId64 " bytes", r->max);
    auth = v + skip;
    path = auth + strcspn(auth, "/");
    if (strpbrk(v, " ?#") || cfg_has_ctl(v, len) ||
        !cfg_authority_ok(auth, (size_t)(path - auth)))
        return cfg_bad(
            ld, r->name,
            "must be http(s)://host[:port][/path] with no user, query or fragment");
    while (len > (size_t)(path - v) && v[len - 1] == '/')
        len--;
    if ((r->flags & CFG_REST) &&
        (len < 5 || strncmp(v + len - 5, "/rest", 5) != 0 ||
         v + len - 5 < path))
        return cfg_bad(ld, r->name, "the path must end in /rest");
    return cfg_store_str(ld, r, v, len);
}

static enum scb_err cfg_print_str(const struct config *c,
                                  const struct cfg_row *r, struct buf *out)
{
    const char *s = *(char *const *)cfg_cfield(c, r->off);

    if (!s)
        return SCB_OK;
    return buf_puts(out, (r->flags & CFG_SECRET) ? "***" : s);
}

static void cfg_release_str(struct config *c, const struct cfg_row *r)
{
    cfg_free_str(cfg_field(c, r->off), (r->flags & CFG_SECRET) != 0);
}

static enum scb_err cfg_parse_int(struct cfg_load *ld, const struct cfg_row *r,
                                  const char *v)
{
    int64_t n;

    if (!cfg_digits(v, strlen(v), &n) || n < r->min || n > r->max)
        return cfg_bad(ld, r->name, "must be %s from %" PRId64 " to %" PRId64,
                       r->type == CFG_SECS ? "a number of seconds"
                                           : "an integer",
                       r->min, r->max);
    *(int64_t *)cfg_field(ld->c, r->off) = n;
    return SCB_OK;
}

static enum scb_err cfg_print_int(const struct config *c,
                                  const struct cfg_row *r, struct buf *out)
{
    return buf_printf(out, "%" PRId64, *(const int64_t *)cfg_cfield(c, r->off));
}

static enum scb_err cfg_duration_bad(struct cfg_load *ld, const char *name,
                                     const char *what, const struct cfg_row *r)
{
    char lo[24], hi[24];

    cfg_fmt_duration(r->min, lo);
    cfg_fmt_duration(r->max, hi);
    return cfg_bad(ld, name,
                   "%smust be a duration <integer><s|m|h> from %s to %s", what,
                   lo, hi);
}

static enum scb_err cfg_parse_duration(struct cfg_load *ld,
                                       const struct cfg_row *r, const char *v)
{
    int64_t secs;

    if (!cfg_duration(v, strlen(v), &secs) || secs < r->min || secs > r->max)
        return cfg_duration_bad(ld, r->name, "", r);
    *(int64_t *)cfg_field(ld->c, r->off) = secs;
    return SCB_OK;
}

static enum scb_err cfg_print_duration(const struct config *c,
                                       const struct cfg_row *r, struct buf *out)
{
    char d[24];

    cfg_fmt_duration(*(const int64_t *)cfg_cfield(c, r->off), d);
    return buf_puts(out, d);
}

/* A list of ids: 1 to CONFIG_MAX_COMPANIES items, none repeated. */
static enum scb_err cfg_parse_idlist(struct cfg_load *ld,
                                     const struct cfg_row *r, const char *v)
{
    int64_t *ids = cfg_field(ld->c, r->off);
    size_t *n = cfg_field(ld->c, r->off_n);
    struct cfg_iter it = { v };
    const char *item;
    size_t len;

    while (cfg_iter_next(&it, ',', &item, &len)) {
        int64_t id;

        if (*n == CONFIG_MAX_COMPANIES)
            return cfg_bad(ld, r->name, "more than %d items",
                           CONFIG_MAX_COMPANIES);
        if (!cfg_digits(item, len, &id) || id < r->min || id > r->max)
            return cfg_bad(ld, r->name,
                           "item %zu is not an id from %" PRId64 " to %" PRId64
                           " (a list is id,id,...)",
                           *n + 1, r->min, r->max);
        for (size_t i = 0; i < *n; i++) {
            if (ids[i] == id)
                return cfg_bad(ld, r->name, "item %zu is repeated", *n + 1);
        }
        ids[(*n)++] = id;
    }
    return SCB_OK;
}

static enum scb_err cfg_print_idlist(const struct config *c,
                                     const struct cfg_row *r, struct buf *out)
{
    const int64_t *ids = cfg_cfield(c, r->off);
    size_t n = *(const size_t *)cfg_cfield(c, r->off_n);
    enum scb_err err = SCB_OK;

    for (size_t i = 0; i < n && !err; i++)
        err = buf_printf(out, "%s%" PRId64, i ? "," : "", ids[i]);
    return err;
}

static enum scb_err cfg_parse_bool(struct cfg_load *ld, const struct cfg_row *r,
                                   const char *v)
{
    bool *b = cfg_field(ld->c, r->off);

    if (strcmp(v, "true") == 0)
        *b = true;
    else if (strcmp(v, "false") == 0)
        *b = false;
    else
        return cfg_bad(ld, r->name, "must be true or false");
    return SCB_OK;
}

static enum scb_err cfg_print_bool(const struct config *c,
                                   const struct cfg_row *r, struct buf *out)
{
    return buf_puts(out,
                    *(const bool *)cfg_cfield(c, r->off) ? "true" : "false");
}

static enum scb_err cfg_parse_level(struct cfg_load *ld,
                                    const struct cfg_row *r, const char *v)
{
    if (!log_level_parse(v, cfg_field(ld->c, r->off)))
        return cfg_bad(ld, r->name, "must be debug, info, warn or error");
    return SCB_OK;
}

static enum scb_err cfg_print_level(const struct config *c,
                                    const struct cfg_row *r, struct buf *out)
{
    enum log_level l = *(const enum log_level *)cfg_cfield(c, r->off);

    return buf_puts(out, cfg_level_names[l]);
}

/* Exactly 'n' digits at *p, advancing it; false otherwise. */
static bool cfg_fixed(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];

        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool cfg_expect(const char **p, const char *set)
{
    if (**p == '\0' || !strchr(set, **p))
        return false;
    (*p)++;
    return true;
}

/* "Z", "z" or "+HH:MM" / "-HH:MM", as seconds east of UTC. */
static bool cfg_zone(const char *p, int64_t *out_off)
{
    int hh, mm, sign;

    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        *out_off = 0;
        return true;
    }
    sign = *p == '-' ? -1 : 1;
    if (!cfg_expect(&p, "+-") || !cfg_fixed(&p, 2, &hh) ||
        !cfg_expect(&p, ":") || !cfg_fixed(&p, 2, &mm) || *p != '\0' ||
        hh > 23 || mm > 59)
        return false;
    *out_off = sign * (hh * 3600 + mm * 60);
    return true;
}

/* Milliseconds after the seconds: ".d" to ".ddddddddd", or none. */
static bool cfg_frac(const char **p, int64_t *out_ms)
{
    int64_t ms = 0;
    int n = 0;

    if (**p != '.')
        return true;
    for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, n++) {
        if (n < 3)
            ms = ms * 10 + (**p - '0');
    }
    if (n == 0 || n > 9)
        return false;
    for (; n < 3; n++)
        ms *= 10;
    *out_ms = ms;
    return true;
}

/* RFC 3339 with a zone, years 1970-9999, as Unix milliseconds. */
static bool cfg_time(const char *s, int64_t *out_ms)
{
    static const int mdays[] = {
        31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };
    const char *p = s;
    struct tm tm = { 0 };
    int64_t ms = 0, off;
    time_t t;

    if (!cfg_fixed(&p, 4, &tm.tm_year) || !cfg_expect(&p, "-") ||
        !cfg_fixed(&p, 2, &tm.tm_mon) || !cfg_expect(&p, "-") ||
        !cfg_fixed(&p, 2, &tm.tm_mday) || !cfg_expect(&p, "Tt") ||
        !cfg_fixed(&p, 2, &tm.tm_hour) || !cfg_expect(&p, ":") ||
        !cfg_fixed(&p, 2, &tm.tm_min) || !cfg_expect(&p, ":") ||
        !cfg_fixed(&p, 2, &tm.tm_sec) || !cfg_frac(&p, &ms) ||
        !cfg_zone(p, &off))
        return false;
    if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 ||
        tm.tm_mday < 1 || tm.tm_mday > mdays[tm.tm_mon - 1] ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
        return false;
    if (tm.tm_mon == 2 && tm.tm_mday == 29 &&
        !(tm.tm_year % 4 == 0 &&
          (tm.tm_year % 100 != 0 || tm.tm_year % 400 == 0)))
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *out_ms = ((int64_t)t - off) * 1000 + ms;
    return true;
}

static enum scb_err cfg_parse_time(struct cfg_load *ld, const struct cfg_row *r,
                                   const char *v)
{
    int64_t ms;

    if (!cfg_time(v, &ms) || ms < 0)
        return cfg_bad(
            ld, r->name,
            "must be an RFC 3339 time with a zone, YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)");
    *(int64_t *)cfg_field(ld->c, r->off) = ms;
    *(bool *)cfg_field(ld->c, r->off_has) = true;
    return SCB_OK;
}

static enum scb_err cfg_print_time(const struct config *c,
                                   const struct cfg_row *r, struct buf *out)
{
    int64_t ms = *(const int64_t *)cfg_cfield(c, r->off);
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (!*(const bool *)cfg_cfield(c, r->off_has))
        return SCB_OK;
    gmtime_r(&t, &tm);
    return buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                      tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* Resolves a span naming a channel; false if unknown. */
static bool cfg_channel(const char *s, size_t len, int out[2], int *out_n)
{
    char name[CHANNEL_NAME_MAX + 1];

    return cfg_span_copy(name, sizeof(name), s, len) &&
           channel_resolve(name, out, out_n);
}

/* Channel names, aliases expanded into their integers; none repeated. */
static enum scb_err cfg_parse_chanlist(struct cfg_load *ld,
                                       const struct cfg_row *r, const char *v)
{
    int *chans = cfg_field(ld->c, r->off);
    size_t *n = cfg_field(ld->c, r->off_n);
    struct cfg_iter it = { v };
    const char *item;
    size_t len, idx = 0;

    while (cfg_iter_next(&it, ',', &item, &len)) {
        int ch[2], nch;

        idx++;
        if (len == 0)
            return cfg_bad(ld, r->name, "item %zu is empty", idx);
        if (!cfg_channel(item, len, ch, &nch))
            return cfg_bad(
                ld, r->name,
                "item %zu is not a channel name (operations.md, \"Channel names\")",
                idx);
        for (int k = 0; k < nch; k++) {
            for (size_t i = 0; i < *n; i++) {
                if (chans[i] == ch[k])
                    return cfg_bad(ld, r->name, "item %zu repeats a channel",
                                   idx);
            }
            chans[(*n)++] = ch[k];
        }
    }
    return SCB_OK;
}

static enum scb_err cfg_print_chanlist(const struct config *c,
                                       const struct cfg_row *r, struct buf *out)
{
    const int *chans = cfg_cfield(c, r->off);
    size_t n = *(const size_t *)cfg_cfield(c, r->off_n);
    enum scb_err err = SCB_OK;

    for (size_t i = 0; i < n && !err; i++)
        err = buf_printf(out, "%s%s", i ? "," : "",
                         channel_enum_name(chans[i]));
    return err;
}

static enum scb_err cfg_parse_sync(struct cfg_load *ld, const struct cfg_row *r,
                                   const char *v)
{
    unsigned *bits = cfg_field(ld->c, r->off);
    struct cfg_iter it = { v };
    const char *item;
    size_t len, idx = 0, f;

    while (cfg_iter_next(&it, ',', &item, &len)) {
        idx++;
        for (f = 0; f < CFG_NSYNC; f++) {
            if (strlen(cfg_sync_names[f]) == len &&
                memcmp(cfg_sync_names[f], item, len) == 0)
                break;
        }
        if (f == CFG_NSYNC)
            return cfg_bad(
                ld, r->name,
                "item %zu is not a field name (name, long_description, manufacturer_sku, upc, price, uom, image_url, product_type, qty)",
                idx);
        if (*bits & (1u << f))
            return cfg_bad(ld, r->name, "item %zu is repeated", idx);
        *bits |= 1u << f;
    }
    return SCB_OK;
}

static enum scb_err cfg_print_sync(const struct config *c,
                                   const struct cfg_row *r, struct buf *out)
{
    unsigned bits = *(const unsigned *)cfg_cfield(c, r->off);
    enum scb_err err = SCB_OK;
    bool first = true;

    for (size_t f = 0; f < CFG_NSYNC && !err; f++) {
        if (!(bits & (1u << f)))
            continue;
        err = buf_printf(out, "%s%s", first ? "" : ",", cfg_sync_names[f]);
        first = false;
    }
    return err;
}

/* The value of one per-channel map entry, by the row's type. */
static enum scb_err cfg_map_value(struct cfg_load *ld, const struct cfg_row *r,
                                  struct config_chan_entry *e, const char *s,
                                  size_t len, size_t idx)
{
    char what[32];
    bool ok;

    snprintf(what, sizeof(what), "entry %zu: ", idx);
    if (r->type == CFG_DURMAP) {
        if (!cfg_duration(s, len, &e->secs) || e->secs < r->min ||
            e->secs > r->max)
            return cfg_duration_bad(ld, r->name, what, r);
        return SCB_OK;
    }
    if (r->type == CFG_POLICYMAP)
        ok = (len == 8 && memcmp(s, "complete", 8) == 0) ||
             (len == 5 && memcmp(s, "first", 5) == 0);
    else
        ok = len > 0 && len <= (size_t)r->max && !cfg_has_ctl(s, len) &&
             !memchr(s, '=', len);
    if (!ok || !cfg_span_copy(e->str, sizeof(e->str), s, len))
        return cfg_bad(
            ld, r->name, "%s%s", what,
            r->type == CFG_POLICYMAP
                ? "the value must be complete or first"
                : "the value must be 1 to 63 bytes, without control characters or =");
    return SCB_OK;
}

static bool cfg_entry_covers(const struct config_chan_entry *e, const int *ch,
                             int nch)
{
    for (int i = 0; i < e->nchannels; i++) {
        for (int k = 0; k < nch; k++) {
            if (e->channels[i] == ch[k])
                return true;
        }
    }
    return false;
}

/* Adds the entry for key 's'; "default" is always e[0]. */
static enum scb_err cfg_map_key(struct cfg_load *ld, const struct cfg_row *r,
                                struct config_chanmap *m, const char *s,
                                size_t len, size_t idx,
                                struct config_chan_entry **out_e)
{
    struct config_chan_entry *e;
    int ch[2], nch;

    if (len == 7 && memcmp(s, "default", 7) == 0) {
        if (m->e[0].key[0] != '\0')
            return cfg_bad(ld, r->name, "entry %zu repeats a key", idx);
        memcpy(m->e[0].key, "default", 8);
        *out_e = &m->e[0];
        return SCB_OK;
    }
    if (!cfg_channel(s, len, ch, &nch))
        return cfg_bad(
            ld, r->name,
            "entry %zu: the key is neither default nor a channel name", idx);
    for (size_t i = 1; i < m->n; i++) {
        if (!cfg_entry_covers(&m->e[i], ch, nch))
            continue;
        if (strncasecmp(m->e[i].key, s, len) == 0 && !m->e[i].key[len])
            return cfg_bad(ld, r->name, "entry %zu repeats a key", idx);
        return cfg_bad(ld, r->name,
                       "entry %zu covers a channel that another entry covers",
                       idx);
    }
    /* Keys are distinct channels, so n stays below CONFIG_MAP_MAX. */
    e = &m->e[m->n++];
    cfg_span_copy(e->key, sizeof(e->key), s, len);
    e->channels[0] = ch[0];
    e->channels[1] = nch > 1 ? ch[1] : ch[0];
    e->nchannels = nch;
    *out_e = e;
    return SCB_OK;
}

/* Parses 'v' into a fresh map; e[0].key stays empty if no default. */
static enum scb_err cfg_map_fill(struct cfg_load *ld, const struct cfg_row *r,
                                 struct config_chanmap *m, const char *v)
{
    struct cfg_iter it = { v };
    struct config_chan_entry *e = NULL;
    const char *item, *eq;
    size_t len, idx = 0;
    enum scb_err err = SCB_OK;

    memset(m, 0, sizeof(*m));
    m->n = 1;
    /* A value with no '=' at all is the default's value alone. */
    if (!strchr(v, '=') && !strchr(v, ',')) {
        memcpy(m->e[0].key, "default", 8);
        return cfg_map_value(ld, r, &m->e[0], v, strlen(v), 1);
    }
    while (!err && cfg_iter_next(&it, ',', &item, &len)) {
        eq = memchr(item, '=', len);
        if (!eq)
            return cfg_bad(ld, r->name, "entry %zu is not key=value", idx + 1);
        err = cfg_map_key(ld, r, m, item, (size_t)(eq - item), ++idx, &e);
        if (!err)
            err = cfg_map_value(ld, r, e, eq + 1, len - (size_t)(eq + 1 - item),
                                idx);
    }
    return err;
}

/*
 * A given map replaces the built-in one, except that the built-in
 * "default" stays unless the given map has its own.
 */
static enum scb_err cfg_parse_chanmap(struct cfg_load *ld,
                                      const struct cfg_row *r, const char *v)
{
    struct config_chanmap *m = cfg_field(ld->c, r->off);
    struct config_chan_entry builtin;
    enum scb_err err;

    err = cfg_map_fill(ld, r, m, r->dflt);
    if (err || v == r->dflt)
        return err;
    builtin = m->e[0];
    err = cfg_map_fill(ld, r, m, v);
    if (!err && m->e[0].key[0] == '\0')
        m->e[0] = builtin;
    return err;
}

static enum scb_err cfg_print_chanmap(const struct config *c,
                                      const struct cfg_row *r, struct buf *out)
{
    const struct config_chanmap *m = cfg_cfield(c, r->off);
    enum scb_err err = SCB_OK;
    char d[24];

    for (size_t i = 0; i < m->n && !err; i++) {
        const struct config_chan_entry *e = &m->e[i];

        if (r->type == CFG_DURMAP)
            cfg_fmt_duration(e->secs, d);
        err = buf_printf(out, "%s%s=%s", i ? "," : "", e->key,
                         r->type == CFG_DURMAP ? d : e->str);
    }
    return err;
}

/* One name of a mapping table, spaces around it dropped. */
static bool cfg_table_name(const char *s, size_t len, char *out)
{
    while (len > 0 && *s == ' ') {
        s++;
        len--;
    }
    while (len > 0 && s[len - 1] == ' ')
        len--;
    return len > 0 && !memchr(s, '|', len) && !memchr(s, '=', len) &&
           !cfg_has_ctl(s, len) && cfg_span_copy(out, CONFIG_NAME_MAX, s, len);
}

/* "a|b" into a and b. */
static bool cfg_table_pair(const char *s, size_t len, char *a, char *b)
{
    const char *bar = memchr(s, '|', len);

    return bar && cfg_table_name(s, (size_t)(bar - s), a) &&
           cfg_table_name(bar + 1, len - (size_t)(bar + 1 - s), b);
}

static enum scb_err cfg_table_row(struct cfg_load *ld, const struct cfg_row *r,
                                  struct config_maptable *t, const char *s,
                                  size_t len, size_t idx)
{
    struct config_map_row *row = &t->rows[t->n];
    const char *eq = memchr(s, '=', len);
    const char *to = eq ? eq + 1 : s;
    size_t tolen = eq ? len - (size_t)(to - s) : 0;
    bool ok;

    ok = eq && cfg_table_pair(s, (size_t)(eq - s), row->from_a, row->from_b);
    if (ok && (r->flags & CFG_PAIR))
        ok = cfg_table_pair(to, tolen, row->to_a, row->to_b);
    else if (ok)
        ok = cfg_table_name(to, tolen, row->to_a);
    if (!ok)
        return cfg_bad(
            ld, r->name,
            "entry %zu must be carrier|service=%s, each name 1 to 63 bytes without =, ; or |",
            idx, (r->flags & CFG_PAIR) ? "carrier|service" : "ship-via");
    for (size_t i = 0; i < t->n; i++) {
        if (strcasecmp(t->rows[i].from_a, row->from_a) == 0 &&
            strcasecmp(t->rows[i].from_b, row->from_b) == 0)
            return cfg_bad(ld, r->name, "entry %zu repeats a from", idx);
    }
    t->n++;
    return SCB_OK;
}

static enum scb_err cfg_parse_table(struct cfg_load *ld,
                                    const struct cfg_row *r, const char *v)
{
    struct config_maptable *t = cfg_field(ld->c, r->off);
    struct cfg_iter it = { v };
    const char *item;
    size_t len, cap = 1, idx = 0;
    enum scb_err err = SCB_OK;

    for (const char *p = v; *p; p++)
        cap += *p == ';';
    if (cap > CFG_TABLE_MAX)
        return cfg_bad(ld, r->name, "more than %d entries", CFG_TABLE_MAX);
    t->rows = mem_calloc(cap, sizeof(*t->rows));
    if (!t->rows) {
        ld->nomem = true;
        return SCB_ENOMEM;
    }
    while (!err && cfg_iter_next(&it, ';', &item, &len))
        err = cfg_table_row(ld, r, t, item, len, ++idx);
    return err;
}

static enum scb_err cfg_print_table(const struct config *c,
                                    const struct cfg_row *r, struct buf *out)
{
    const struct config_maptable *t = cfg_cfield(c, r->off);
    enum scb_err err = SCB_OK;

    for (size_t i = 0; i < t->n && !err; i++) {
        const struct config_map_row *row = &t->rows[i];

        err = buf_printf(out, "%s%s|%s=%s%s%s", i ? ";" : "", row->from_a,
                         row->from_b, row->to_a, row->to_b[0] ? "|" : "",
                         row->to_b);
    }
    return err;
}

static void cfg_release_table(struct config *c, const struct cfg_row *r)
{
    struct config_maptable *t = cfg_field(c, r->off);

    mem_free(t->rows);
    t->rows = NULL;
    t->n = 0;
}

/* What each type does; a NULL release means it owns no memory. */
static const struct {
    enum scb_err (*parse)(struct cfg_load *ld, const struct cfg_row *r,
                          const char *v);
    enum scb_err (*print)(const struct config *c, const struct cfg_row *r,
                          struct buf *out);
    void (*release)(struct config *c, const struct cfg_row *r);
} cfg_ops[CFG_TYPE_COUNT] = {
    [CFG_HOSTPORT] = { cfg_parse_hostport, cfg_print_hostport, NULL },
    [CFG_TOKENS] = { cfg_parse_secrets, cfg_print_secrets,
                     cfg_release_secrets },
    [CFG_WHSECRETS] = { cfg_parse_secrets, cfg_print_secrets,
                        cfg_release_secrets },
    [CFG_REDIS] = { cfg_parse_redis, cfg_print_redis, cfg_release_redis },
    [CFG_PREFIX] = { cfg_parse_prefix, cfg_print_chars, NULL },
    [CFG_URL] = { cfg_parse_url, cfg_print_str, cfg_release_str },
    [CFG_STR] = { cfg_parse_str, cfg_print_str, cfg_release_str },
    [CFG_PATH] = { cfg_parse_path, cfg_print_str, cfg_release_str },
    [CFG_IDLIST] = { cfg_parse_idlist, cfg_print_idlist, NULL },
    [CFG_INT] = { cfg_parse_int, cfg_print_int, NULL },
    [CFG_SECS] = { cfg_parse_int, cfg_print_int, NULL },
    [CFG_DURATION] = { cfg_parse_duration, cfg_print_duration, NULL },
    [CFG_DURMAP] = { cfg_parse_chanmap, cfg_print_chanmap, NULL },
    [CFG_STRMAP] = { cfg_parse_chanmap, cfg_print_chanmap, NULL },
    [CFG_POLICYMAP] = { cfg_parse_chanmap, cfg_print_chanmap, NULL },
    [CFG_TIME] = { cfg_parse_time, cfg_print_time, NULL },
    [CFG_CHANLIST] = { cfg_parse_chanlist, cfg_print_chanlist, NULL },
    [CFG_BOOL] = { cfg_parse_bool, cfg_print_bool, NULL },
    [CFG_MAPTABLE] = { cfg_parse_table, cfg_print_table, cfg_release_table },
    [CFG_SYNC] = { cfg_parse_sync, cfg_print_sync, NULL },
    [CFG_LOGLEVEL] = { cfg_parse_level, cfg_print_level, NULL },
};

static size_t cfg_row_index(const char *name)
{
    size_t i = 0;

    while (i < CFG_NROWS - 1 && strcmp(cfg_rows[i].name, name) != 0)
        i++;
    return i;
}

/* Reads, defaults and parses one row; SCB_ENOMEM is the only failure. */
static enum scb_err cfg_load_row(struct cfg_load *ld, size_t i)
{
    const struct cfg_row *r = &cfg_rows[i];
    const char *v = NULL;
    char *owned = NULL;
    enum scb_err err;

    err = cfg_fetch(ld, r, &v, &owned);
    if (!err && !v)
        v = r->dflt;
    if (!err && !v && (r->flags & CFG_REQUIRED))
        err = cfg_bad(ld, r->name, "is required and not set%s",
                      (r->flags & CFG_SECRET) ? " (nor its _FILE)" : "");
    if (!err && v)
        err = cfg_ops[r->type].parse(ld, r, v);
    if (err == SCB_ENOMEM)
        ld->nomem = true;
    ld->state[i] = err ? CFG_S_BAD : v ? CFG_S_OK : CFG_S_UNSET;
    if (owned)
        cfg_text_free(owned);
    return ld->nomem ? SCB_ENOMEM : SCB_OK;
}

/* Rules that join two settings, checked once both are good. */
static void cfg_cross_check(struct cfg_load *ld)
{
    struct config *c = ld->c;
    size_t base = cfg_row_index("SCBRIDGE_BACKOFF_BASE");
    size_t cap = cfg_row_index("SCBRIDGE_BACKOFF_CAP");
    size_t ids = cfg_row_index("SCBRIDGE_SC_COMPANY_IDS");
    size_t pc = cfg_row_index("SCBRIDGE_SC_PRODUCT_COMPANY_ID");
    size_t adm = cfg_row_index("SCBRIDGE_ADMIN_LISTEN");
    size_t lst = cfg_row_index("SCBRIDGE_LISTEN");

    if (ld->state[base] == CFG_S_OK && ld->state[cap] == CFG_S_OK &&
        c->backoff_cap_s < c->backoff_base_s)
        cfg_bad(ld, cfg_rows[cap].name,
                "must not be below SCBRIDGE_BACKOFF_BASE");
    if (ld->state[pc] == CFG_S_UNSET && ld->state[ids] == CFG_S_OK)
        c->sc_product_company_id = c->sc_company_ids[0];
    if (ld->state[adm] == CFG_S_OK && ld->state[lst] == CFG_S_OK &&
        c->admin_port == c->listen_port &&
        strcmp(c->admin_host, c->listen_host) == 0)
        cfg_bad(ld, cfg_rows[adm].name, "must differ from SCBRIDGE_LISTEN");
}

enum scb_err config_load(struct config *cfg, config_getenv_fn get, void *ctx,
                         struct buf *problems)
{
    struct cfg_load *ld = mem_calloc(1, sizeof(*ld));
    enum scb_err err = SCB_OK;

    if (!ld)
        return SCB_ENOMEM;
    ld->c = mem_calloc(1, sizeof(*ld->c));
    if (!ld->c) {
        err = SCB_ENOMEM;
        goto out;
    }
    ld->get = get;
    ld->ctx = ctx;
    ld->problems = problems;
    for (size_t i = 0; i < CFG_NROWS && !err; i++)
        err = cfg_load_row(ld, i);
    if (!err)
        cfg_cross_check(ld);
    if (!err && ld->nomem)
        err = SCB_ENOMEM;
    else if (!err && ld->bad)
        err = SCB_EINVAL;
out:
    if (!err)
        memcpy(cfg, ld->c, sizeof(*cfg));
    else if (ld->c)
        config_release(ld->c);
    mem_free(ld->c);
    mem_free(ld);
    return err;
}

void config_release(struct config *cfg)
{
    for (size_t i = 0; i < CFG_NROWS; i++) {
        if (cfg_ops[cfg_rows[i].type].release)
            cfg_ops[cfg_rows[i].type].release(cfg, &cfg_rows[i]);
    }
    memset(cfg, 0, sizeof(*cfg));
}

static int cfg_cmp_rows(const void *a, const void *b)
{
    return strcmp(cfg_rows[*(const size_t *)a].name,
                  cfg_rows[*(const size_t *)b].name);
}

enum scb_err config_print(const struct config *cfg, struct buf *out)
{
    size_t order[CFG_NROWS];
    enum scb_err err = SCB_OK;

    for (size_t i = 0; i < CFG_NROWS; i++)
        order[i] = i;
    qsort(order, CFG_NROWS, sizeof(order[0]), cfg_cmp_rows);
    for (size_t i = 0; i < CFG_NROWS && !err; i++) {
        const struct cfg_row *r = &cfg_rows[order[i]];

        err = buf_printf(out, "%s=", r->name);
        if (!err)
            err = cfg_ops[r->type].print(cfg, r, out);
        if (!err)
            err = buf_putc(out, '\n');
    }
    return err;
}

const struct config_chan_entry *config_chanmap_find(
    const struct config_chanmap *map, int channel)
{
    for (size_t i = 1; i < map->n; i++) {
        if (cfg_entry_covers(&map->e[i], &channel, 1))
            return &map->e[i];
    }
    return map->n ? &map->e[0] : NULL;
}

const struct config_map_row *config_maptable_find(
    const struct config_maptable *t, const char *a, const char *b)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcasecmp(t->rows[i].from_a, a ? a : "") == 0 &&
            strcasecmp(t->rows[i].from_b, b ? b : "") == 0)
            return &t->rows[i];
    }
    return NULL;
}

bool config_channel_excluded(const struct config *cfg, int channel)
{
    for (size_t i = 0; i < cfg->n_import_channels_exclude; i++) {
        if (cfg->import_channels_exclude[i] == channel)
            return true;
    }
    return false;
}
