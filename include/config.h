/* SPDX-License-Identifier: MIT */
/*
 * Configuration: every SCBRIDGE_* setting of contracts/operations.md,
 * read from the environment once in main() and immutable afterwards
 * (share it as const struct config *). Durations are whole seconds.
 */
#ifndef SCB_CONFIG_H
#define SCB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "log.h"

#define CONFIG_MAX_COMPANIES 64
#define CONFIG_MAX_SECRETS 16
#define CONFIG_MAP_MAX 96
#define CONFIG_NAME_MAX 64

/* One entry of a per-channel map ("Per-channel map" in operations.md). */
struct config_chan_entry {
    char key[CONFIG_NAME_MAX];   /* "default" or the name as configured */
    int channels[2];             /* the channel integers the key covers */
    int nchannels;               /* 0 for "default" */
    int64_t secs;                /* duration maps: the value in seconds */
    char str[CONFIG_NAME_MAX];   /* string maps: the value */
};

struct config_chanmap {
    struct config_chan_entry e[CONFIG_MAP_MAX];
    size_t n; /* e[0] is always "default" */
};

/* One row of a mapping table: from carrier|service to a|b. */
struct config_map_row {
    char from_a[CONFIG_NAME_MAX]; /* carrier */
    char from_b[CONFIG_NAME_MAX]; /* service */
    char to_a[CONFIG_NAME_MAX];   /* carrier, or the DDI ship-via name */
    char to_b[CONFIG_NAME_MAX];   /* service; empty for SHIP_VIA_MAP */
};

struct config_maptable {
    struct config_map_row *rows; /* owned */
    size_t n;
};

/* A decoded webhook secret (key bytes), or an admin token (text). */
struct config_secret {
    unsigned char *bytes; /* owned, wiped on release */
    size_t len;
};

/* Bits of SCBRIDGE_SYNC_FIELDS. */
enum config_sync_field {
    SYNC_NAME = 1u << 0,
    SYNC_LONG_DESCRIPTION = 1u << 1,
    SYNC_MANUFACTURER_SKU = 1u << 2,
    SYNC_UPC = 1u << 3,
    SYNC_PRICE = 1u << 4,
    SYNC_UOM = 1u << 5,
    SYNC_IMAGE_URL = 1u << 6,
    SYNC_PRODUCT_TYPE = 1u << 7,
    SYNC_QTY = 1u << 8,
};

struct config {
    char listen_host[256];
    int listen_port;
    bool has_admin_listen;
    char admin_host[256];
    int admin_port;
    struct config_secret admin_tokens[CONFIG_MAX_SECRETS];
    size_t n_admin_tokens;

    char *redis_url;      /* secret (password inside) */
    char redis_host[256];
    int redis_port;
    int redis_db;
    char *redis_user;     /* NULL when none */
    char *redis_password; /* secret; NULL when none */
    char redis_prefix[33];

    char *sc_base_url;
    char *sc_username;
    char *sc_password; /* secret */
    int64_t sc_company_ids[CONFIG_MAX_COMPANIES];
    size_t n_sc_company_ids;
    int64_t sc_rate_per_hour;
    int64_t sc_timeout_s;
    int64_t upstream_max_bytes;
    char *ca_file; /* NULL: the system's bundle */

    char *ddi_base_url;
    char *ddi_api_key; /* secret */
    char *ddi_company;
    int64_t ddi_timeout_s;
    int64_t ddi_lookup_delay_s;
    int64_t ddi_concurrency;
    char *ddi_branch;
    char *ddi_warehouse;
    struct config_chanmap ddi_customers; /* str values */

    struct config_secret webhook_secret_sc[CONFIG_MAX_SECRETS];
    size_t n_webhook_secret_sc;
    struct config_secret webhook_secret_ddi[CONFIG_MAX_SECRETS];
    size_t n_webhook_secret_ddi;
    int64_t webhook_tolerance_s;
    int64_t webhook_max_bytes;
    int64_t webhook_dedupe_ttl_s;

    int64_t workers;
    int64_t job_lease_s;
    int64_t job_max_attempts;
    int64_t backoff_base_s;
    int64_t backoff_cap_s;
    int64_t max_wait_s;
    int64_t drain_timeout_s;

    struct config_chanmap poll_orders; /* secs values */
    int64_t poll_shipments_s;
    int64_t poll_items_s;
    int64_t poll_overlap_s;
    bool has_import_since;
    int64_t import_since_ms; /* Unix ms */
    int64_t orders_lookback_s;
    bool has_shipments_since;
    int64_t shipments_since_ms; /* Unix ms */
    int import_channels_exclude[CONFIG_MAP_MAX]; /* channel integers */
    size_t n_import_channels_exclude;
    bool import_dropship;
    int64_t awaiting_payment_max_age_s;
    struct config_chanmap partial_shipments; /* "complete" or "first" */
    struct config_maptable ship_via_map;
    struct config_maptable carrier_map;
    int64_t order_retention_s;

    unsigned sync_fields; /* enum config_sync_field bits */
    int64_t stock_buffer;
    bool sc_create_products;
    int64_t sc_product_company_id;
    char *sc_default_product_type; /* NULL when unset */
    int64_t sc_warehouse_id;
    char *sc_uom_column;
    char *sc_image_column;
    enum log_level log_level;
};

/* Answers the value of environment variable 'name', or NULL. */
typedef const char *(*config_getenv_fn)(const char *name, void *ctx);

/*
 * Reads and validates every setting through 'get' (getenv in production).
 * SCB_OK: *cfg is filled; release it with config_release(). SCB_EINVAL:
 * one line per problem was appended to 'problems' ("scbridge: NAME:
 * problem\n", never a value) and *cfg holds nothing to release.
 * SCB_ENOMEM. Not thread-safe; call once before threads.
 */
enum scb_err config_load(struct config *cfg, config_getenv_fn get,
                         void *ctx, struct buf *problems);

/* Frees what config_load() allocated, wiping secrets. */
void config_release(struct config *cfg);

/*
 * Appends "NAME=value\n" for every setting, sorted by name, defaults
 * included, secrets as *** (the Redis URL with its password as ***).
 */
enum scb_err config_print(const struct config *cfg, struct buf *out);

/* The entry of 'map' that covers 'channel', else its "default" entry. */
const struct config_chan_entry *
config_chanmap_find(const struct config_chanmap *map, int channel);

/* The row whose from side matches a|b without regard to case, or NULL. */
const struct config_map_row *
config_maptable_find(const struct config_maptable *t, const char *a,
                     const char *b);

/* True when 'channel' is in SCBRIDGE_IMPORT_CHANNELS_EXCLUDE. */
bool config_channel_excluded(const struct config *cfg, int channel);

#endif
