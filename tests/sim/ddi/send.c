/* SPDX-License-Identifier: MIT */
/* DDI simulator webhooks: the signed sender and the log of what it did. */
#include "ddisim.h"

#include <stdio.h>
#include <string.h>

#include "jsonio.h"
#include "mem.h"

#define DDISIM_URL_MAX 2048

static void ddisim_on_event(void *ctx, const struct whsend_event *ev)
{
    struct ddisim *d = ctx;
    char when[DDISIM_TIME_MAX];
    cJSON *e = cJSON_CreateObject();
    bool ship = strncmp(ev->msg_id, "msg_ship_", 9) == 0;

    ddisim_fmt_time(ddisim_now_ms(), when);
    cJSON_AddStringToObject(e, "msg_id", ev->msg_id);
    cJSON_AddStringToObject(e, "kind", ship ? "ship_confirm" : "items");
    if (ship)
        cJSON_AddStringToObject(e, "shipment_id", ev->msg_id + 9);
    cJSON_AddStringToObject(e, "url", ev->url);
    cJSON_AddNumberToObject(e, "delivery", ev->delivery);
    cJSON_AddNumberToObject(e, "attempt", ev->attempt);
    cJSON_AddNumberToObject(e, "status", ev->status);
    cJSON_AddBoolToObject(e, "dropped", ev->dropped);
    cJSON_AddBoolToObject(e, "final", ev->final);
    cJSON_AddBoolToObject(e, "delivered", ev->delivered);
    cJSON_AddStringToObject(e, "at", when);
    pthread_mutex_lock(&d->lock);
    if (!e || !cJSON_AddItemToArray(d->callbacks, e))
        cJSON_Delete(e);
    pthread_mutex_unlock(&d->lock);
}

/* Starts the sender when a secret is set (send_lock held). */
static enum scb_err ddisim_start_locked(struct ddisim *d)
{
    struct whsend_opts o;

    if (d->sender || !d->opts->secret || !*d->opts->secret)
        return SCB_OK;
    memset(&o, 0, sizeof(o));
    o.secret = d->opts->secret;
    o.max_attempts = d->retry_max;
    o.first_delay_ms = d->retry_first_ms;
    o.max_delay_ms = d->retry_cap_ms;
    o.timeout_ms = d->opts->callback_timeout_ms;
    o.drop_rate = d->drop_rate;
    o.dup_rate = d->dup_rate;
    o.seed = d->opts->seed;
    o.on_event = ddisim_on_event;
    o.event_ctx = d;
    return whsend_new(&o, &d->sender);
}

static char *ddisim_url_dup(const char *url)
{
    return url && *url ? mem_strdup(url) : NULL;
}

/* Takes the startup settings and starts the sender. */
enum scb_err ddisim_send_start(struct ddisim *d)
{
    enum scb_err err = SCB_OK;

    pthread_mutex_lock(&d->send_lock);
    if (!d->send_ready) {
        d->send_ready = true;
        d->callback_url = ddisim_url_dup(d->opts->callback_url);
        d->items_url = ddisim_url_dup(d->opts->items_url);
        d->drop_rate = d->opts->drop_rate;
        d->dup_rate = d->opts->dup_rate;
        d->retry_max = d->opts->retry_max;
        d->retry_first_ms = d->opts->retry_first_ms;
        d->retry_cap_ms = d->opts->retry_cap_ms;
    }
    err = ddisim_start_locked(d);
    pthread_mutex_unlock(&d->send_lock);
    return err;
}

/* Stops the sender; messages not yet delivered are lost. */
void ddisim_send_stop(struct ddisim *d)
{
    pthread_mutex_lock(&d->send_lock);
    whsend_free(d->sender);
    d->sender = NULL;
    pthread_mutex_unlock(&d->send_lock);
}

static bool ddisim_cfg_rate(const cJSON *cfg, const char *key, double *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(cfg, key);

    if (!it)
        return true;
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0) || it->valuedouble > 1)
        return false;
    *v = it->valuedouble;
    return true;
}

static bool ddisim_cfg_int(const cJSON *cfg, const char *key, int min, int max,
                           int *v)
{
    int64_t n;

    if (!cJSON_GetObjectItemCaseSensitive(cfg, key))
        return true;
    if (jsonio_get_i64(cfg, key, min, max, &n))
        return false;
    *v = (int)n;
    return true;
}

/* A url key: absent keeps, null or "" clears, a string sets. */
static bool ddisim_cfg_url(const cJSON *cfg, const char *key, char **url)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(cfg, key);
    char *n;

    if (!it)
        return true;
    if (!cJSON_IsNull(it) &&
        (!cJSON_IsString(it) || strlen(it->valuestring) > DDISIM_URL_MAX))
        return false;
    n = cJSON_IsNull(it) ? NULL : ddisim_url_dup(it->valuestring);
    mem_free(*url);
    *url = n;
    return true;
}

/*
 * Changes the webhook settings from 'cfg' and restarts the sender (what
 * it had queued is lost). SCB_EINVAL for a bad value (nothing changed).
 */
enum scb_err ddisim_send_config(struct ddisim *d, const cJSON *cfg)
{
    double drop, dup;
    int rmax, rfirst, rcap;
    enum scb_err err = SCB_EINVAL;

    pthread_mutex_lock(&d->send_lock);
    drop = d->drop_rate;
    dup = d->dup_rate;
    rmax = d->retry_max;
    rfirst = d->retry_first_ms;
    rcap = d->retry_cap_ms;
    if (!ddisim_cfg_rate(cfg, "drop_rate", &drop) ||
        !ddisim_cfg_rate(cfg, "dup_rate", &dup) ||
        !ddisim_cfg_int(cfg, "retry_max", 1, 100, &rmax) ||
        !ddisim_cfg_int(cfg, "retry_first_ms", 1, 3600000, &rfirst) ||
        !ddisim_cfg_int(cfg, "retry_cap_ms", 1, 86400000, &rcap) ||
        !ddisim_cfg_url(cfg, "callback_url", &d->callback_url) ||
        !ddisim_cfg_url(cfg, "items_url", &d->items_url))
        goto out;
    whsend_free(d->sender);
    d->sender = NULL;
    d->drop_rate = drop;
    d->dup_rate = dup;
    d->retry_max = rmax;
    d->retry_first_ms = rfirst;
    d->retry_cap_ms = rcap;
    err = ddisim_start_locked(d);
out:
    pthread_mutex_unlock(&d->send_lock);
    return err;
}

void ddisim_send_settings(struct ddisim *d, cJSON *out)
{
    pthread_mutex_lock(&d->send_lock);
    if (d->callback_url)
        cJSON_AddStringToObject(out, "callback_url", d->callback_url);
    else
        cJSON_AddNullToObject(out, "callback_url");
    if (d->items_url)
        cJSON_AddStringToObject(out, "items_url", d->items_url);
    else
        cJSON_AddNullToObject(out, "items_url");
    cJSON_AddNumberToObject(out, "drop_rate", d->drop_rate);
    cJSON_AddNumberToObject(out, "dup_rate", d->dup_rate);
    cJSON_AddNumberToObject(out, "retry_max", d->retry_max);
    cJSON_AddNumberToObject(out, "retry_first_ms", d->retry_first_ms);
    cJSON_AddNumberToObject(out, "retry_cap_ms", d->retry_cap_ms);
    cJSON_AddBoolToObject(out, "signing", d->sender != NULL);
    pthread_mutex_unlock(&d->send_lock);
}

/* Queues 'body' for the url of 'kind'; true when it was queued. */
static bool ddisim_post(struct ddisim *d, bool ship, const char *id,
                        const char *body)
{
    bool queued = false;
    const char *url;

    pthread_mutex_lock(&d->send_lock);
    url = ship ? d->callback_url : d->items_url;
    if (d->sender && url)
        queued = whsend_post(d->sender, url, id, body) == SCB_OK;
    pthread_mutex_unlock(&d->send_lock);
    return queued;
}

static void ddisim_note(struct ddisim *d, const char *id, const char *kind,
                        const char *body, bool queued)
{
    cJSON *m = cJSON_CreateObject();

    cJSON_AddStringToObject(m, "msg_id", id);
    cJSON_AddStringToObject(m, "kind", kind);
    cJSON_AddBoolToObject(m, "queued", queued);
    cJSON_AddItemToObject(m, "body", cJSON_Parse(body));
    pthread_mutex_lock(&d->lock);
    if (!m || !cJSON_AddItemToArray(d->messages, m))
        cJSON_Delete(m);
    pthread_mutex_unlock(&d->lock);
}

/* Sends the ship-confirm callback of one shipment (lock not held). */
void ddisim_send_ship(struct ddisim *d, const char *shipment_id,
                      const char *record)
{
    char id[64];
    bool queued;

    snprintf(id, sizeof(id), "msg_ship_%s", shipment_id);
    queued = ddisim_post(d, true, id, record);
    ddisim_note(d, id, "ship_confirm", record, queued);
}

/* Sends {"type":"items.changed","product_nos":[...]} (lock not held). */
void ddisim_send_items(struct ddisim *d, const cJSON *product_nos)
{
    char id[64];
    cJSON *doc = cJSON_CreateObject();
    char *body;
    bool queued = false;

    cJSON_AddStringToObject(doc, "type", "items.changed");
    cJSON_AddItemToObject(doc, "product_nos", cJSON_Duplicate(product_nos, 1));
    body = jsonio_print(doc);
    cJSON_Delete(doc);
    if (!body)
        return;
    pthread_mutex_lock(&d->lock);
    snprintf(id, sizeof(id), "msg_items_%lu", ++d->next_msg);
    pthread_mutex_unlock(&d->lock);
    queued = ddisim_post(d, false, id, body);
    ddisim_note(d, id, "items", body, queued);
    mem_free(body);
}

bool ddisim_send_idle(struct ddisim *d)
{
    bool idle;

    pthread_mutex_lock(&d->send_lock);
    idle = !d->sender || whsend_idle(d->sender);
    pthread_mutex_unlock(&d->send_lock);
    return idle;
}
