/* SPDX-License-Identifier: MIT */
/*
 * Inbound webhooks without I/O: Standard Webhooks signatures, the checks
 * of contracts/webhooks.md ("Checks, in order", 3 to 7) and the bodies of
 * the three routes, each answer a distinct code. Pure functions; every
 * one is thread-safe.
 */
#ifndef SCB_WEBHOOK_H
#define SCB_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "err.h"

#define WEBHOOK_ID_MAX 256        /* webhook-id, characters */
#define WEBHOOK_LIST_MAX 500      /* order_ids, product_nos */
#define WEBHOOK_PRODUCT_NO_MAX 64 /* bytes of one product number */
#define WEBHOOK_SIG_LEN 44        /* base64 of an HMAC-SHA256 */

/* The three routes; the label is the metrics "source". */
enum webhook_source {
    WEBHOOK_SRC_SELLERCLOUD,
    WEBHOOK_SRC_DDI_SHIP_CONFIRM,
    WEBHOOK_SRC_DDI_ITEMS,
    WEBHOOK_SRC_COUNT
};

/*
 * What a check found. WEBHOOK_OK means "passed, go on" and is no answer;
 * every other code is one row of the answers table of webhooks.md.
 */
enum webhook_answer {
    WEBHOOK_OK = 0,
    WEBHOOK_ACCEPTED,        /* 202 accepted */
    WEBHOOK_DUPLICATE,       /* 202 duplicate */
    WEBHOOK_IGNORED,         /* 202 ignored: not scbridge's shipment */
    WEBHOOK_BAD_JSON,        /* 400 bad_json */
    WEBHOOK_UNKNOWN_COMPANY, /* 400 unknown_company */
    WEBHOOK_MISSING_HEADER,  /* 401 missing_header: absent or malformed */
    WEBHOOK_STALE_TIMESTAMP, /* 401 stale_timestamp */
    WEBHOOK_BAD_SIGNATURE,   /* 401 bad_signature */
    WEBHOOK_TOO_LARGE,       /* 413 too_large */
    WEBHOOK_UNAVAILABLE,     /* 503 unavailable, Retry-After: 5 */
    WEBHOOK_ANSWER_COUNT
};

/* "sellercloud", "ddi_ship_confirm", "ddi_items". */
const char *webhook_source_label(enum webhook_source src);

/* The HTTP status of an answer; 0 for WEBHOOK_OK. */
int webhook_answer_status(enum webhook_answer a);

/* The JSON body of an answer ("{\"status\":\"accepted\"}"); "" for OK. */
const char *webhook_answer_body(enum webhook_answer a);

/* The metrics "outcome" label of an answer; "" for OK. */
const char *webhook_answer_outcome(enum webhook_answer a);

/* The three signature headers as received; NULL when absent. */
struct webhook_headers {
    const char *id;
    const char *timestamp;
    const char *signature;
};

/*
 * Checks 3 to 5: the headers are present and well formed (else
 * WEBHOOK_MISSING_HEADER), the timestamp is at most 'tolerance_s' away
 * from 'now_s' either way (else WEBHOOK_STALE_TIMESTAMP), and some "v1"
 * entry equals the HMAC-SHA256 of "<id>.<timestamp>.<body>" under one
 * of the 'n' secrets, compared in constant time (else
 * WEBHOOK_BAD_SIGNATURE). WEBHOOK_UNAVAILABLE if libcrypto fails (OOM).
 */
enum webhook_answer webhook_verify(const struct webhook_headers *h,
                                   const char *body, size_t len,
                                   const struct config_secret *secrets,
                                   size_t n, int64_t now_s,
                                   int64_t tolerance_s);

/*
 * Writes the base64 HMAC-SHA256 of "<id>.<ts>.<body>" under 'key' into
 * out (WEBHOOK_SIG_LEN characters and a NUL); a signer prefixes it with
 * "v1,". SCB_EINVAL for an empty key, SCB_ENOMEM when libcrypto fails.
 */
enum scb_err webhook_sign(const unsigned char *key, size_t keylen,
                          const char *id, const char *ts, const char *body,
                          size_t len, char out[WEBHOOK_SIG_LEN + 1]);

/*
 * Decodes one webhook secret, "whsec_<base64>" or the bare base64 key
 * (padding optional), into its key bytes. On SCB_OK *out holds a new
 * key: release it with mem_free_secret(out->bytes, out->len).
 * SCB_EINVAL when it is not base64 or decodes to no byte; SCB_ENOMEM.
 */
enum scb_err webhook_secret_decode(const char *text, size_t len,
                                   struct config_secret *out);

/* A Sellercloud notification: the distinct order ids in first-seen order. */
struct webhook_sc_note {
    int64_t company_id;
    int64_t order_ids[WEBHOOK_LIST_MAX];
    size_t n_order_ids;
};

/*
 * Check 6 for POST /webhooks/sellercloud. WEBHOOK_OK and *out filled,
 * WEBHOOK_BAD_JSON for any shape or limit broken, then
 * WEBHOOK_UNKNOWN_COMPANY for a company_id not among the 'ncompanies'
 * of 'companies'; WEBHOOK_UNAVAILABLE on OOM.
 */
enum webhook_answer webhook_parse_sellercloud(const char *body, size_t len,
                                              const int64_t *companies,
                                              size_t ncompanies,
                                              struct webhook_sc_note *out);

/* An accepted ship confirm. */
struct webhook_shipment {
    cJSON *record;           /* owned: the record as received */
    const char *shipment_id; /* borrowed from record */
    const char *reference;   /* borrowed from record */
};

/*
 * Checks 6 and 7 for POST /webhooks/ddi/ship-confirm: WEBHOOK_BAD_JSON
 * unless the body is a shipment record of the documented shape (optional
 * fields may be absent or null, else typed), then WEBHOOK_IGNORED when
 * its reference is not scbridge's. On WEBHOOK_OK *out is filled; release
 * it with webhook_shipment_release(). WEBHOOK_UNAVAILABLE on OOM.
 */
enum webhook_answer webhook_parse_ship_confirm(const char *body, size_t len,
                                               struct webhook_shipment *out);

/* Frees the record; safe on a zeroed struct. */
void webhook_shipment_release(struct webhook_shipment *s);

/* True when 'ref' matches ^SC-[0-9]+-[0-9]+$ (scbridge's references). */
bool webhook_reference_is_ours(const char *ref);

/* A DDI item change: the distinct product numbers in first-seen order. */
struct webhook_items {
    char product_nos[WEBHOOK_LIST_MAX][WEBHOOK_PRODUCT_NO_MAX + 1];
    size_t n_product_nos;
};

/*
 * Check 6 for POST /webhooks/ddi/items. WEBHOOK_OK and *out filled (it
 * is about 33 KiB: allocate it), WEBHOOK_BAD_JSON, or
 * WEBHOOK_UNAVAILABLE on OOM.
 */
enum webhook_answer webhook_parse_items(const char *body, size_t len,
                                        struct webhook_items *out);

#endif
