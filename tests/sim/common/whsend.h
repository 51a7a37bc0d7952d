/* SPDX-License-Identifier: MIT */
/*
 * The simulators' webhook sender: POSTs JSON bodies signed by the
 * Standard Webhooks scheme (webhook-id, webhook-timestamp and
 * webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>") from
 * a background thread, retrying a failed delivery with the same id after
 * growing delays, like a real sender. For tests it can drop a share of
 * the messages (never sent) and duplicate a share (delivered twice under
 * one id). The caller runs curl_global_init() before whsend_new().
 */
#ifndef SIM_WHSEND_H
#define SIM_WHSEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Longest webhook-id whsend_post() takes, NUL excluded. */
#define WHSEND_ID_MAX 256

/* What happened to one message, reported to whsend_opts.on_event. */
struct whsend_event {
    const char *msg_id; /* borrowed for the call only */
    const char *url;    /* borrowed for the call only */
    int delivery;       /* 1, or 2 for the duplicate of a message */
    int attempt;        /* 1, 2, ... within the delivery; 0 if dropped */
    int status;         /* HTTP status; 0: no answer (timeout, refused) */
    bool dropped;       /* never sent: the drop share picked it */
    bool final;         /* no further attempt for this delivery */
    bool delivered;     /* final and answered 2xx */
};

/* Runs on the sender thread; must not call whsend_post() or _free(). */
typedef void (*whsend_event_fn)(void *ctx, const struct whsend_event *ev);

struct whsend_opts {
    const char *url;          /* default target; NULL: each post names one */
    const char *secret;       /* "whsec_<base64>" or bare base64; required */
    int max_attempts;         /* per delivery, >= 1; 0: 5 */
    int first_delay_ms;       /* before attempt 2; doubles; 0: 1000 */
    int max_delay_ms;         /* cap of the delay; 0: 60000 */
    int timeout_ms;           /* per attempt; 0: 5000 */
    double drop_rate;         /* share of messages never sent, 0 to 1 */
    double dup_rate;          /* share delivered twice, 0 to 1 */
    uint64_t seed;            /* for drop and duplicate picks */
    size_t queue_max;         /* messages pending; 0: 10000 */
    whsend_event_fn on_event; /* optional */
    void *event_ctx;
};

struct whsend;

/*
 * Starts a sender and its thread. Copies what it needs from 'opts'.
 * SCB_EINVAL for a secret that is not base64, a rate outside [0, 1] or a
 * negative count; SCB_ENOMEM; SCB_EIO if the thread cannot start. On
 * SCB_OK *out_ws is new; stop and free it with whsend_free().
 */
enum scb_err whsend_new(const struct whsend_opts *opts, struct whsend **out_ws);

/*
 * Stops the thread (an attempt in flight ends within its timeout) and
 * frees the sender; pending messages are discarded. NULL is a no-op.
 */
void whsend_free(struct whsend *ws);

/*
 * Queues 'body' (a NUL-terminated JSON text, copied) for 'url' (NULL: the
 * default url) under 'msg_id' (NULL: a fresh "msg_<n>_<seed>" id).
 * SCB_EINVAL for a missing url or an id that is empty, longer than
 * WHSEND_ID_MAX or not printable ASCII; SCB_ETOOBIG when the queue is
 * full; SCB_ENOMEM. Thread-safe.
 */
enum scb_err whsend_post(struct whsend *ws, const char *url, const char *msg_id,
                         const char *body);

/* True when no message is queued or being sent. Thread-safe. */
bool whsend_idle(struct whsend *ws);

/*
 * Decodes a secret ("whsec_<base64>" or bare base64) into its key bytes.
 * On SCB_OK *out_key is new (free with mem_free_secret(key, *out_len)).
 * SCB_EINVAL if it is not base64 or the key is empty.
 */
enum scb_err whsend_secret_decode(const char *secret, unsigned char **out_key,
                                  size_t *out_len);

/* Longest text whsend_sign() writes, NUL included. */
#define WHSEND_SIG_MAX 64

/*
 * Writes "v1,<base64 HMAC-SHA256(key, id.ts.body)>" into 'out'.
 * Pure, thread-safe.
 */
void whsend_sign(const unsigned char *key, size_t key_len, const char *id,
                 long long ts, const char *body, size_t body_len,
                 char out[WHSEND_SIG_MAX]);

#endif
