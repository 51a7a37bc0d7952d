/* SPDX-License-Identifier: MIT */
/* The Sellercloud simulator's relay: signed order notifications. */
#include <stdio.h>
#include <string.h>

#include "../common/whsend.h"
#include "buf.h"
#include "mem.h"
#include "scsim.h"

#define SCSIM_RELAY_IDS_MAX 500 /* order ids in one notification */

static void scsim_relay_event(void *ctx, const struct whsend_event *ev)
{
    struct scsim *s = ctx;

    if (ev->dropped) {
        atomic_fetch_add(&s->relay_dropped, 1);
        return;
    }
    if (ev->attempt == 1)
        atomic_fetch_add(&s->relay_sent, 1);
    if (ev->final && ev->delivered)
        atomic_fetch_add(&s->relay_delivered, 1);
    else if (ev->final)
        atomic_fetch_add(&s->relay_failed, 1);
}

enum scb_err scsim_relay_start(struct scsim *s)
{
    struct whsend_opts o;

    if (!s->opts.relay_url)
        return SCB_OK;
    memset(&o, 0, sizeof(o));
    o.url = s->opts.relay_url;
    o.secret = s->opts.relay_secret;
    o.max_attempts = 5;
    o.first_delay_ms = 200;
    o.max_delay_ms = 5000;
    o.timeout_ms = 5000;
    o.drop_rate = s->opts.relay_drop;
    o.dup_rate = s->opts.relay_dup;
    o.seed = s->opts.seed;
    o.on_event = scsim_relay_event;
    o.event_ctx = s;
    if (!o.secret)
        return SCB_EINVAL;
    return whsend_new(&o, &s->relay);
}

void scsim_relay_stop(struct scsim *s)
{
    whsend_free(s->relay);
    s->relay = NULL;
}

/* Posts one notification of up to 500 ids of one company. */
static void scsim_relay_post(struct scsim *s, const char *type,
                             int64_t company, const int64_t *ids,
                             size_t n)
{
    struct buf b;

    buf_init(&b, 16384);
    (void)buf_puts(&b, "{\"type\":");
    (void)buf_put_json_str(&b, type);
    (void)buf_printf(&b, ",\"company_id\":%lld,\"order_ids\":[",
                     (long long)company);
    for (size_t i = 0; i < n; i++)
        (void)buf_printf(&b, "%s%lld", i ? "," : "", (long long)ids[i]);
    if (!buf_puts(&b, "]}") &&
        !whsend_post(s->relay, NULL, NULL, b.data))
        atomic_fetch_add(&s->relay_posted, 1);
    buf_release(&b);
}

void scsim_relay_notify(struct scsim *s, const char *type,
                        const int64_t *ids, const int64_t *companies,
                        size_t n)
{
    int64_t batch[SCSIM_RELAY_IDS_MAX];
    bool *done;

    if (!s->relay || n == 0)
        return;
    done = mem_calloc(n, sizeof(*done));
    if (!done)
        return;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;

        if (done[i])
            continue;
        for (size_t j = i; j < n; j++) {
            if (done[j] || companies[j] != companies[i])
                continue;
            batch[k++] = ids[j];
            done[j] = true;
            if (k == SCSIM_RELAY_IDS_MAX) {
                scsim_relay_post(s, type, companies[i], batch, k);
                k = 0;
            }
        }
        if (k)
            scsim_relay_post(s, type, companies[i], batch, k);
    }
    mem_free(done);
}
