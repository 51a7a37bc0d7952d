/* SPDX-License-Identifier: MIT */
/* The Sellercloud simulator's /rest edge: rate, contract, tokens. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "jsonio.h"
#include "mem.h"
#include "scsim.h"

#define SCSIM_WHY_MAX 256

void scsim_send_json(struct simhttp_resp *resp, int status, cJSON *doc)
{
    mem_free(resp->body);
    resp->body = doc ? jsonio_print(doc) : NULL;
    resp->status = resp->body || !doc ? status : 500;
    cJSON_Delete(doc);
}

void scsim_msg(struct simhttp_resp *resp, int status, const char *msg)
{
    cJSON *doc = cJSON_CreateObject();

    if (doc)
        cJSON_AddStringToObject(doc, "Message", msg);
    scsim_send_json(resp, status, doc);
    if (!doc)
        resp->status = 500;
}

/* Counts the call in the window; false when it is over the budget. */
static bool scsim_rate_ok(struct scsim *s, int64_t now,
                          struct simhttp_resp *resp)
{
    char reset[32];
    cJSON *doc;

    if (!s->window_start_ms ||
        now >= s->window_start_ms + s->rate_window_s * 1000) {
        s->window_start_ms = now;
        s->window_calls = 0;
    }
    s->window_calls++;
    if (s->rate_budget <= 0 || s->window_calls <= s->rate_budget)
        return true;
    s->rate_limited++;
    scsim_fmt_utc(s->window_start_ms + s->rate_window_s * 1000, reset);
    doc = cJSON_CreateObject();
    if (doc) {
        cJSON_AddStringToObject(doc, "Error", "Too many requests.");
        cJSON_AddStringToObject(doc, "RateLimitResetTime", reset);
    }
    scsim_send_json(resp, 429, doc);
    return false;
}

static bool scsim_token_ok(struct scsim *s, struct MHD_Connection *conn,
                           int64_t now)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                "Authorization");

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    for (size_t i = 0; i < s->n_tokens; i++) {
        if (strcmp(s->tokens[i].value, h) == 0)
            return now < s->tokens[i].expires_ms;
    }
    return false;
}

/* Keeps live tokens only when the table is full; never revokes one. */
static bool scsim_token_room(struct scsim *s, int64_t now)
{
    size_t j = 0;

    if (!s->tokens) {
        s->tokens = mem_calloc(SCSIM_MAX_TOKENS, sizeof(*s->tokens));
        if (!s->tokens)
            return false;
    }
    if (s->n_tokens < SCSIM_MAX_TOKENS)
        return true;
    for (size_t i = 0; i < s->n_tokens; i++) {
        if (s->tokens[i].expires_ms > now)
            s->tokens[j++] = s->tokens[i];
    }
    s->n_tokens = j;
    return j < SCSIM_MAX_TOKENS;
}

static void scsim_token_create(struct scsim *s, const cJSON *body,
                               int64_t now, struct simhttp_resp *resp)
{
    struct scsim_token *t;
    char issued[32], expires[32];
    cJSON *doc;
    int64_t life_ms = (int64_t)(s->token_life_s * 1000.0);

    if (strcmp(jsonio_str_or(body, "Username", ""), s->opts.username) ||
        strcmp(jsonio_str_or(body, "Password", ""), s->opts.password)) {
        scsim_msg(resp, 401, "Invalid username or password.");
        return;
    }
    if (!scsim_token_room(s, now)) {
        scsim_msg(resp, 500, "too many tokens");
        return;
    }
    t = &s->tokens[s->n_tokens++];
    (void)snprintf(t->value, sizeof(t->value), "sim-%016llx%016llx",
                   (unsigned long long)scsim_rand(&s->rng),
                   (unsigned long long)scsim_rand(&s->rng));
    t->expires_ms = now + life_ms;
    scsim_fmt_local(now, s->opts.tz_min, issued);
    scsim_fmt_local(t->expires_ms, s->opts.tz_min, expires);
    doc = cJSON_CreateObject();
    if (doc) {
        cJSON_AddStringToObject(doc, "access_token", t->value);
        cJSON_AddStringToObject(doc, "token_type", "Bearer");
        cJSON_AddStringToObject(doc, "username", s->opts.username);
        cJSON_AddNumberToObject(doc, "expires_in", s->token_life_s);
        cJSON_AddStringToObject(doc, ".issued", issued);
        cJSON_AddStringToObject(doc, ".expires", expires);
    }
    scsim_send_json(resp, 200, doc);
}

/* Rebuilds the query string for the log, from MHD's decoded values. */
static enum MHD_Result scsim_qlog(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
    struct buf *b = cls;

    (void)kind;
    if (b->len)
        (void)buf_putc(b, '&');
    (void)buf_puts(b, key);
    if (value) {
        (void)buf_putc(b, '=');
        (void)buf_puts(b, value);
    }
    return MHD_YES;
}

static void scsim_log(struct scsim *s, const struct simhttp_req *req,
                      const char *endpoint, int status)
{
    struct buf q;
    char key[320];

    if (!endpoint) {
        (void)snprintf(key, sizeof(key), "%s %.256s", req->method,
                       req->path);
        endpoint = key;
    }
    buf_init(&q, 65536);
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, scsim_qlog,
                              &q);
    scsim_log_request(s, req->method, req->path, q.data ? q.data : "",
                      req->body, endpoint, status);
    buf_release(&q);
}

/* The contract checks; false when the request was answered 400. */
static bool scsim_contract_ok(struct scsim *s, const struct simhttp_req *req,
                              const struct scsim_op *op, cJSON **out_body,
                              struct simhttp_resp *resp)
{
    char why[SCSIM_WHY_MAX];

    if (!scsim_swagger_check_query(s->sw, op, req->conn, why, sizeof(why)) ||
        !scsim_swagger_check_body(s->sw, op, req->body, req->body_len,
                                  out_body, why, sizeof(why))) {
        scsim_breach(s, req->method, req->path, why);
        scsim_msg(resp, 400, why);
        return false;
    }
    if (op->obsolete)
        scsim_breach(s, req->method, req->path, "obsolete operation");
    return true;
}

static void scsim_route(struct scsim *s, const struct scsim_op *op,
                        const struct simhttp_req *req, const cJSON *body,
                        int64_t now, struct simhttp_resp *resp)
{
    if (strcmp(op->key, "POST /api/token") == 0) {
        scsim_token_create(s, body, now, resp);
        return;
    }
    if (!scsim_token_ok(s, req->conn, now)) {
        s->unauthorized++;
        scsim_msg(resp, 401, "Authorization has been denied for this "
                  "request.");
        return;
    }
    if (scsim_orders_route(s, op, req, body, resp) ||
        scsim_products_route(s, op, req, body, resp))
        return;
    scsim_msg(resp, 501, "operation not simulated");
}

void scsim_api_handle(struct scsim *s, const struct simhttp_req *req,
                      struct simhttp_resp *resp)
{
    const struct scsim_op *op = NULL;
    cJSON *body = NULL;
    char why[SCSIM_WHY_MAX];
    int64_t now;

    pthread_mutex_lock(&s->lock);
    now = scsim_now_ms(s);
    s->calls_total++;
    if (!scsim_rate_ok(s, now, resp))
        goto done;
    if (strncmp(req->path, "/rest/", 6) == 0)
        op = scsim_swagger_match(s->sw, req->method, req->path + 5, why,
                                 sizeof(why));
    else
        (void)snprintf(why, sizeof(why), "unknown path");
    if (!op) {
        scsim_breach(s, req->method, req->path, why);
        scsim_msg(resp, 400, why);
        goto done;
    }
    if (scsim_contract_ok(s, req, op, &body, resp))
        scsim_route(s, op, req, body, now, resp);
done:
    scsim_log(s, req, op ? op->key : NULL, resp->status);
    pthread_mutex_unlock(&s->lock);
    cJSON_Delete(body);
}
