/* SPDX-License-Identifier: MIT */
/* The Sellercloud REST client: token, rate limit, and every call. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "jsonio.h"
#include "mem.h"
#include "money.h"
#include "ratelimit.h"
#include "sc_client.h"

#define SC_URL_MAX 16384
#define SC_BODY_MAX (1024 * 1024)
#define SC_SKU_MAX 255
#define SC_RESET_SNIFF_MAX 1024   /* bodies checked for the 429 shape */
#define SC_PAUSE_MAX_MS 3660000   /* a reset time is within the hour */
#define SC_REFRESH_EARLY_MAX_MS 180000
#define SC_REFRESH_RETRY_MS 5000  /* after a failed early refresh */
#define SC_TOKEN_WAIT_SLACK_MS 5000

struct sc_session {
    const struct config *cfg;  /* borrowed */
    pthread_mutex_t lock;      /* guards every field below */
    pthread_cond_t changed;    /* broadcast when a refresh ends */
    char token[SC_TOKEN_MAX];  /* secret; "" when none */
    int64_t refresh_ms;        /* monotonic: refresh from then on */
    int64_t expires_ms;        /* monotonic: unusable from then on */
    uint64_t gen;              /* bumps with each new token */
    bool refreshing;           /* one thread is fetching */
    uint64_t refresh_seq;      /* bumps when a fetch ends */
    enum scb_err last_err;     /* of the last fetch */
    int64_t wait_end_ms;       /* monotonic: its end when it was a wait */
    int64_t fetches;           /* tokens fetched */
};

struct sc_client {
    const struct config *cfg;     /* borrowed */
    struct sc_session *sess;      /* borrowed */
    struct store *st;             /* borrowed: this thread's */
    struct upstream *up;          /* owned */
    struct upstream_response resp;
    int64_t max_block_ms;
    int64_t wait_ms;              /* after SCB_EWAIT */
    char auth[SC_TOKEN_MAX + 32]; /* "Authorization: Bearer ..."; secret */
    uint64_t auth_gen;            /* the token generation in 'auth' */
    struct buf url;               /* scratch: never logged */
    struct buf body;              /* scratch: never logged */
};

static int64_t sc_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t sc_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct sc_session *sc_session_new(const struct config *cfg)
{
    struct sc_session *s = mem_calloc(1, sizeof(*s));
    pthread_condattr_t ca;

    if (!s)
        return NULL;
    s->cfg = cfg;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->changed, &ca);
    pthread_condattr_destroy(&ca);
    return s;
}

void sc_session_free(struct sc_session *sess)
{
    if (!sess)
        return;
    pthread_cond_destroy(&sess->changed);
    pthread_mutex_destroy(&sess->lock);
    mem_free_secret(sess, sizeof(*sess));
}

int64_t sc_session_token_fetches(struct sc_session *sess)
{
    int64_t n;

    pthread_mutex_lock(&sess->lock);
    n = sess->fetches;
    pthread_mutex_unlock(&sess->lock);
    return n;
}

struct sc_client *sc_client_new(const struct config *cfg,
                                struct sc_session *sess, struct store *st)
{
    struct sc_client *c = mem_calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->up = upstream_new(SC_UPSTREAM, cfg, cfg->sc_timeout_s);
    if (!c->up) {
        mem_free(c);
        return NULL;
    }
    c->cfg = cfg;
    c->sess = sess;
    c->st = st;
    c->max_block_ms = SC_DEFAULT_BLOCK_MS;
    upstream_response_init(&c->resp, 0);
    buf_init(&c->url, SC_URL_MAX);
    buf_init(&c->body, SC_BODY_MAX);
    return c;
}

void sc_client_free(struct sc_client *c)
{
    if (!c)
        return;
    buf_release(&c->body);
    buf_release(&c->url);
    upstream_response_release(&c->resp);
    upstream_free(c->up);
    mem_free_secret(c, sizeof(*c));
}

void sc_client_set_max_block_ms(struct sc_client *c, int64_t ms)
{
    c->max_block_ms = ms > 0 ? ms : 0;
}

int64_t sc_client_wait_ms(const struct sc_client *c)
{
    return c->wait_ms;
}

const struct upstream_response *sc_client_last(const struct sc_client *c)
{
    return &c->resp;
}

void sc_client_log_failure(const struct sc_client *c, const char *mod,
                           const char *job)
{
    upstream_log_failure(mod, job, c->up, &c->resp);
}

/* Marks the last answer failed with 'err' (for logs) and returns it. */
static enum scb_err sc_fail(struct sc_client *c, enum scb_err err)
{
    c->resp.err = err;
    c->resp.cls = upstream_class_of(err);
    if (c->resp.body.len > 0)
        upstream_excerpt(c->resp.body.data, c->resp.body.len,
                         c->resp.excerpt);
    return err;
}

/*
 * The reset time of a "too many requests" body, whatever the status:
 * true with *out_until_ms (Unix ms) when the body has that shape.
 */
static bool sc_reset_time(const struct upstream_response *r,
                          int64_t *out_until_ms)
{
    const cJSON *err_item;
    const char *reset;
    cJSON *root = NULL;
    bool found = false;

    if (r->body.len == 0 || r->body.len > SC_RESET_SNIFF_MAX ||
        !memmem(r->body.data, r->body.len, "RateLimitResetTime", 18))
        return false;
    if (jsonio_parse(r->body.data, r->body.len, SC_RESET_SNIFF_MAX, &root))
        return false;
    err_item = cJSON_GetObjectItemCaseSensitive(root, "Error");
    if (cJSON_IsString(err_item) &&
        strncasecmp(err_item->valuestring, "Too many requests", 17) == 0 &&
        !jsonio_get_str(root, "RateLimitResetTime", &reset) &&
        !sc_time_parse(reset, out_until_ms, NULL))
        found = true;
    cJSON_Delete(root);
    return found;
}

/* Pauses Sellercloud for every replica and answers SCB_EWAIT. */
static enum scb_err sc_pause(struct sc_client *c, int64_t until_ms)
{
    int64_t now = sc_wall_ms();
    enum scb_err err;

    if (until_ms > now + SC_PAUSE_MAX_MS)
        until_ms = now + SC_PAUSE_MAX_MS;
    if (until_ms < now + 1000)
        until_ms = now + 1000;
    err = ratelimit_pause(c->st, SC_UPSTREAM, until_ms);
    if (err)
        return sc_fail(c, err);
    c->wait_ms = until_ms - now;
    return sc_fail(c, SCB_EWAIT);
}

/*
 * Records in c->resp that 'req' was never sent (the rate limit said wait
 * or its Redis failed), so that no earlier answer is taken for this one.
 */
static enum scb_err sc_unsent(struct sc_client *c,
                              const struct upstream_request *req,
                              enum scb_err err)
{
    struct upstream_response *r = &c->resp;

    buf_reset(&r->body);
    r->status = 0;
    r->fail = UPSTREAM_FAIL_NONE;
    r->sent = false;
    r->wait_ms = err == SCB_EWAIT ? c->wait_ms : 0;
    r->retry_after_s = -1;
    r->content_type[0] = '\0';
    r->excerpt[0] = '\0';
    r->elapsed_s = 0;
    snprintf(r->code, sizeof(r->code), "unsent");
    snprintf(r->endpoint, sizeof(r->endpoint), "%s", req->endpoint);
    upstream_url_for_log(req->url, r->url_log, sizeof(r->url_log));
    snprintf(r->detail, sizeof(r->detail), "%s",
             err == SCB_EWAIT ? "rate limit: wait" : "rate limit failed");
    return sc_fail(c, err);
}

/*
 * One request after one rate-limit token: 'auth' adds the bearer
 * header; an empty 'body' sends none. The answer is in c->resp.
 */
static enum scb_err sc_send(struct sc_client *c, enum upstream_method m,
                            const char *endpoint, const struct buf *url,
                            const struct buf *body, bool auth)
{
    const char *headers[2] = { auth ? c->auth : NULL, NULL };
    struct upstream_request req = {
        .method = m,
        .url = url->data,
        .endpoint = endpoint,
        .headers = headers,
        .body = body->len ? body->data : NULL,
        .body_len = body->len,
    };
    int64_t wait = 0, until;
    enum scb_err err;

    c->wait_ms = 0;
    err = ratelimit_acquire(c->st, SC_UPSTREAM, c->cfg->sc_rate_per_hour,
                            c->max_block_ms, &wait);
    if (err == SCB_EWAIT)
        c->wait_ms = wait;
    if (err)
        return sc_unsent(c, &req, err);
    err = upstream_send(c->up, &req, &c->resp);
    if (sc_reset_time(&c->resp, &until))
        return sc_pause(c, until);
    if (err == SCB_EWAIT && c->resp.status == 429)
        return sc_pause(c, sc_wall_ms() + c->resp.wait_ms);
    if (err == SCB_EWAIT)
        c->wait_ms = c->resp.wait_ms;
    return err;
}

/* Parses a 2xx answer that must be a JSON document. */
static enum scb_err sc_json_answer(struct sc_client *c, cJSON **out_root)
{
    enum scb_err err;

    if (c->resp.body.len == 0 || !upstream_is_json(&c->resp))
        return sc_fail(c, SCB_EPARSE);
    err = jsonio_parse(c->resp.body.data, c->resp.body.len,
                       c->resp.body.max, out_root);
    if (err)
        return sc_fail(c, err == SCB_ENOMEM ? err : SCB_EPARSE);
    return SCB_OK;
}

/* Sets 'url' to the base URL without a trailing '/', then 'path'. */
static enum scb_err sc_url_into(const struct sc_client *c, struct buf *url,
                                const char *path)
{
    const char *base = c->cfg->sc_base_url;
    size_t len = strlen(base);
    enum scb_err err;

    while (len > 0 && base[len - 1] == '/')
        len--;
    buf_reset(url);
    err = buf_append(url, base, len);
    return err ? err : buf_puts(url, path);
}

/* Sets c->url to the base URL and the formatted path. */
static enum scb_err sc_url(struct sc_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum scb_err sc_url(struct sc_client *c, const char *fmt, ...)
{
    enum scb_err err;
    va_list ap;

    err = sc_url_into(c, &c->url, "");
    if (err)
        return err;
    va_start(ap, fmt);
    err = buf_vprintf(&c->url, fmt, ap);
    va_end(ap);
    return err;
}

/* Appends "?name=value" or "&name=value", the value percent-encoded. */
static enum scb_err sc_query(struct sc_client *c, const char *name,
                             const char *value)
{
    char *esc;
    enum scb_err err;

    esc = curl_easy_escape(NULL, value, (int)strlen(value));
    if (!esc)
        return SCB_ENOMEM;
    err = buf_printf(&c->url, "%c%s=%s",
                     strchr(c->url.data, '?') ? '&' : '?', name, esc);
    curl_free(esc);
    return err;
}

static enum scb_err sc_query_i64(struct sc_client *c, const char *name,
                                 int64_t v)
{
    char num[24];

    snprintf(num, sizeof(num), "%" PRId64, v);
    return sc_query(c, name, num);
}

/* ---- the token ---------------------------------------------------- */

/* Reads the token answer into the session (caller holds no lock). */
static enum scb_err sc_token_parse(struct sc_client *c, char *tok,
                                   double *out_life_s)
{
    cJSON *root = NULL;
    const cJSON *exp;
    const char *s;
    enum scb_err err;
    size_t len;

    err = sc_json_answer(c, &root);
    if (err)
        return err;
    err = SCB_EPARSE;
    exp = cJSON_GetObjectItemCaseSensitive(root, "expires_in");
    if (jsonio_get_str(root, "access_token", &s) || !cJSON_IsNumber(exp) ||
        !(exp->valuedouble > 1.0) || exp->valuedouble > 1e8)
        goto out;
    len = strlen(s);
    if (len == 0 || len >= SC_TOKEN_MAX)
        goto out;
    for (size_t i = 0; i < len; i++) {
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            goto out; /* it goes into a header line */
    }
    memcpy(tok, s, len + 1);
    *out_life_s = exp->valuedouble;
    err = SCB_OK;

out:
    cJSON_Delete(root);
    return err ? sc_fail(c, err) : err;
}

/* Wipes and frees a buffer that held the password. */
static void sc_buf_wipe(struct buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->cap);
    buf_release(b);
}

/*
 * POST /api/token; on SCB_OK 'tok' holds the token. It has its own URL
 * and body buffers: it may run in the middle of another call's retry.
 */
static enum scb_err sc_token_fetch(struct sc_client *c, char *tok,
                                   double *out_life_s)
{
    struct buf url, body;
    enum scb_err err;

    buf_init(&url, SC_URL_MAX);
    buf_init(&body, SC_BODY_MAX);
    err = sc_url_into(c, &url, "/api/token");
    if (!err)
        err = buf_puts(&body, "{\"Username\":");
    if (!err)
        err = buf_put_json_str(&body, c->cfg->sc_username);
    if (!err)
        err = buf_puts(&body, ",\"Password\":");
    if (!err)
        err = buf_put_json_str(&body, c->cfg->sc_password);
    if (!err)
        err = buf_putc(&body, '}');
    if (!err)
        err = sc_send(c, UPSTREAM_POST, "POST /api/token", &url, &body,
                      false);
    sc_buf_wipe(&body);
    buf_release(&url);
    if (!err)
        return sc_token_parse(c, tok, out_life_s);
    if ((err == SCB_EPERMANENT || err == SCB_EUPSTREAM) &&
        (c->resp.status == 400 || c->resp.status == 401))
        return sc_fail(c, SCB_EAUTH);
    if (err == SCB_EUNKNOWN)
        return sc_fail(c, SCB_EUPSTREAM); /* a token call changes nothing */
    return err;
}

/* Stores a new token; the caller holds the lock. */
static void sc_token_store(struct sc_session *s, const char *tok,
                           double life_s, int64_t asked_ms)
{
    int64_t life = (int64_t)(life_s * 1000.0);
    int64_t early = life / 4 < SC_REFRESH_EARLY_MAX_MS
                        ? life / 4
                        : SC_REFRESH_EARLY_MAX_MS;
    int64_t slack = life / 10 < 5000 ? life / 10 : 5000;

    /* Counted from when it was asked for: never later than the truth. */
    snprintf(s->token, sizeof(s->token), "%s", tok);
    s->refresh_ms = asked_ms + life - early;
    s->expires_ms = asked_ms + life - slack;
    s->gen++;
    s->fetches++;
}

/* Copies the session's token into c->auth; the caller holds the lock. */
static void sc_token_copy(struct sc_client *c)
{
    snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s",
             c->sess->token);
    c->auth_gen = c->sess->gen;
}

/* This thread fetches; called and returns with the lock held. */
static enum scb_err sc_token_refresh_locked(struct sc_client *c)
{
    struct sc_session *s = c->sess;
    char *tok = mem_malloc(SC_TOKEN_MAX);
    int64_t asked = sc_mono_ms();
    double life = 0;
    enum scb_err err;

    if (!tok)
        return SCB_ENOMEM;
    s->refreshing = true;
    pthread_mutex_unlock(&s->lock);
    err = sc_token_fetch(c, tok, &life);
    pthread_mutex_lock(&s->lock);
    if (!err)
        sc_token_store(s, tok, life, asked);
    else if (s->token[0] && sc_mono_ms() < s->expires_ms)
        s->refresh_ms = sc_mono_ms() + SC_REFRESH_RETRY_MS;
    s->refreshing = false;
    s->refresh_seq++;
    s->last_err = err;
    s->wait_end_ms = err == SCB_EWAIT ? sc_mono_ms() + c->wait_ms : 0;
    pthread_cond_broadcast(&s->changed);
    mem_free_secret(tok, SC_TOKEN_MAX);
    return err;
}

/* Waits for the refresh in flight to end; the lock is held. */
static enum scb_err sc_token_wait_locked(struct sc_client *c)
{
    struct sc_session *s = c->sess;
    uint64_t seq = s->refresh_seq;
    int64_t limit = sc_mono_ms() + c->cfg->sc_timeout_s * 1000 +
                    c->max_block_ms + SC_TOKEN_WAIT_SLACK_MS;
    struct timespec until = { .tv_sec = limit / 1000,
                              .tv_nsec = (limit % 1000) * 1000000L };

    while (s->refreshing && s->refresh_seq == seq) {
        if (pthread_cond_timedwait(&s->changed, &s->lock, &until) != 0 &&
            sc_mono_ms() >= limit)
            return SCB_ETIMEOUT;
    }
    if (s->refresh_seq == seq || !s->last_err ||
        (s->token[0] && sc_mono_ms() < s->expires_ms))
        return SCB_OK;
    /* That refresh failed: share its answer rather than pile on. */
    if (s->last_err == SCB_EWAIT)
        c->wait_ms = s->wait_end_ms > sc_mono_ms()
                         ? s->wait_end_ms - sc_mono_ms()
                         : 1;
    return s->last_err;
}

static enum scb_err sc_token_current(struct sc_client *c)
{
    struct sc_session *s = c->sess;
    enum scb_err err = SCB_OK;
    int64_t now;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        now = sc_mono_ms();
        if (s->token[0] && now < s->refresh_ms)
            break;
        if (!s->refreshing) {
            err = sc_token_refresh_locked(c);
            if (err && s->token[0] && sc_mono_ms() < s->expires_ms)
                err = SCB_OK; /* the old token still serves */
            break; /* a new token is used at once, however short-lived */
        }
        if (s->token[0] && now < s->expires_ms)
            break; /* early window: keep using it meanwhile */
        err = sc_token_wait_locked(c);
        if (err)
            break;
    }
    if (!err)
        sc_token_copy(c);
    pthread_mutex_unlock(&s->lock);
    return err;
}

/* Forgets token generation 'gen' after a 401, unless already replaced. */
static void sc_token_invalidate(struct sc_session *s, uint64_t gen)
{
    pthread_mutex_lock(&s->lock);
    if (s->gen == gen) {
        s->refresh_ms = 0;
        s->expires_ms = 0;
    }
    pthread_mutex_unlock(&s->lock);
}

enum scb_err sc_client_token(struct sc_client *c)
{
    return sc_token_current(c);
}

/*
 * A call with the bearer token: c->url and c->body are ready. A 401
 * refreshes the token once and sends the call once more.
 */
static enum scb_err sc_call(struct sc_client *c, enum upstream_method m,
                            const char *endpoint)
{
    enum scb_err err = SCB_OK;

    for (int attempt = 0; attempt < 2; attempt++) {
        err = sc_token_current(c);
        if (err)
            return err;
        err = sc_send(c, m, endpoint, &c->url, &c->body, true);
        if (c->resp.status != 401)
            break;
        sc_token_invalidate(c->sess, c->auth_gen);
    }
    return err;
}

/* A GET whose answer is a JSON document. */
static enum scb_err sc_get_json(struct sc_client *c, const char *endpoint,
                                cJSON **out_root)
{
    enum scb_err err;

    buf_reset(&c->body);
    err = sc_call(c, UPSTREAM_GET, endpoint);
    if (err)
        return err;
    return sc_json_answer(c, out_root);
}

/* ---- orders ------------------------------------------------------- */

static enum scb_err sc_get_page(struct sc_client *c,
                                struct sc_order_page *out)
{
    cJSON *root = NULL;
    enum scb_err err;

    err = sc_get_json(c, "GET /api/Orders", &root);
    if (err)
        return err;
    err = sc_order_page_parse(root, out);
    cJSON_Delete(root);
    return err ? sc_fail(c, err) : err;
}

enum scb_err sc_orders_by_ids(struct sc_client *c,
                              const int64_t *company_ids, size_t n_companies,
                              const int64_t *ids, size_t n_ids,
                              struct sc_order_page *out)
{
    enum scb_err err;
    size_t i;

    if (n_ids == 0 || n_ids > SC_MAX_IDS ||
        n_companies > CONFIG_MAX_COMPANIES)
        return SCB_EINVAL;
    err = sc_url(c, "/api/Orders");
    for (i = 0; !err && i < n_companies; i++)
        err = sc_query_i64(c, "model.companyID", company_ids[i]);
    for (i = 0; !err && i < n_ids; i++)
        err = sc_query_i64(c, "model.orderIDs", ids[i]);
    if (!err)
        err = sc_query_i64(c, "model.pageSize", SC_PAGE_SIZE);
    if (!err)
        err = sc_query_i64(c, "model.pageNumber", 1);
    if (err)
        return err;
    return sc_get_page(c, out);
}

enum scb_err sc_orders_updated(struct sc_client *c, int64_t company_id,
                               int64_t from_ms, int channel,
                               int64_t page_number,
                               struct sc_order_page *out)
{
    char from[SC_TIME_QUERY_LEN];
    enum scb_err err;

    if (page_number < 1 || company_id < 1)
        return SCB_EINVAL;
    sc_time_format_query(from_ms, from);
    err = sc_url(c, "/api/Orders");
    if (!err)
        err = sc_query_i64(c, "model.companyID", company_id);
    if (!err)
        err = sc_query(c, "model.lastUpdatedFrom", from);
    if (!err)
        err = sc_query(c, "model.orderBy", "0");
    if (!err)
        err = sc_query(c, "model.isAscending", "true");
    if (!err)
        err = sc_query_i64(c, "model.pageSize", SC_PAGE_SIZE);
    if (!err)
        err = sc_query_i64(c, "model.pageNumber", page_number);
    if (!err && channel >= 0)
        err = sc_query_i64(c, "model.channel", channel);
    if (err)
        return err;
    return sc_get_page(c, out);
}

enum scb_err sc_order_get(struct sc_client *c, int64_t order_id,
                          cJSON **out_root)
{
    cJSON *root = NULL;
    enum scb_err err;

    if (order_id < 1)
        return SCB_EINVAL;
    err = sc_url(c, "/api/Orders/%" PRId64, order_id);
    if (!err)
        err = sc_get_json(c, "GET /api/Orders/{id}", &root);
    if (err)
        return err;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sc_fail(c, SCB_EPARSE);
    }
    *out_root = root;
    return SCB_OK;
}

enum scb_err sc_order_is_exported(struct sc_client *c, int64_t order_id,
                                  bool *out_exported)
{
    const cJSON *statuses;
    cJSON *root = NULL;
    bool exported;
    enum scb_err err;

    err = sc_order_get(c, order_id, &root);
    if (err)
        return err;
    statuses = cJSON_GetObjectItemCaseSensitive(root, "Statuses");
    err = jsonio_get_bool(statuses, "IsExported", &exported);
    cJSON_Delete(root);
    if (err)
        return sc_fail(c, SCB_EPARSE);
    *out_exported = exported;
    return SCB_OK;
}

static bool sc_has_id(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == id)
            return true;
    }
    return false;
}

/* Reads the SetExported answer: the ids of ours that it names. */
static enum scb_err sc_marked(const cJSON *root, const int64_t *ids,
                              size_t n_ids, int64_t *out, size_t *out_n)
{
    const cJSON *el;
    size_t n = 0;
    int64_t id;

    if (!cJSON_IsArray(root))
        return SCB_EPARSE;
    cJSON_ArrayForEach(el, root)
    {
        if (!cJSON_IsNumber(el) || el->valuedouble < 1 ||
            el->valuedouble > 2147483647.0)
            return SCB_EPARSE;
        id = (int64_t)el->valuedouble;
        if ((double)id != el->valuedouble)
            return SCB_EPARSE;
        if (sc_has_id(ids, n_ids, id) && !sc_has_id(out, n, id))
            out[n++] = id;
    }
    *out_n = n;
    return SCB_OK;
}

enum scb_err sc_orders_set_exported(struct sc_client *c, const int64_t *ids,
                                    size_t n_ids, int64_t *out_marked,
                                    size_t *out_n_marked)
{
    cJSON *root = NULL;
    enum scb_err err;

    if (n_ids == 0 || n_ids > SC_MAX_EXPORT)
        return SCB_EINVAL;
    err = sc_url(c, "/api/Orders/SetExported");
    buf_reset(&c->body);
    if (!err)
        err = buf_puts(&c->body, "{\"Orders\":[");
    for (size_t i = 0; !err && i < n_ids; i++)
        err = buf_printf(&c->body, "%s%" PRId64, i ? "," : "", ids[i]);
    if (!err)
        err = buf_puts(&c->body, "],\"Exported\":true}");
    if (!err)
        err = sc_call(c, UPSTREAM_PUT, "PUT /api/Orders/SetExported");
    if (!err)
        err = sc_json_answer(c, &root);
    if (err)
        return err;
    err = sc_marked(root, ids, n_ids, out_marked, out_n_marked);
    cJSON_Delete(root);
    return err ? sc_fail(c, err) : err;
}

/* ---- packages and tracking ---------------------------------------- */

static int sc_package_cmp(const void *a, const void *b)
{
    const struct sc_package *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

/* Adds one page's Results to out[*n]; *out_count: entries on the page. */
static enum scb_err sc_packages_page(const cJSON *root, struct sc_package *out,
                                     size_t cap, size_t *n,
                                     size_t *out_count, int64_t *out_total)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "Results");
    const cJSON *el;
    const char *tn;
    int64_t id;

    if (!cJSON_IsArray(arr) ||
        jsonio_get_i64(root, "TotalResults", 0, INT32_MAX, out_total))
        return SCB_EPARSE;
    *out_count = (size_t)cJSON_GetArraySize(arr);
    cJSON_ArrayForEach(el, arr)
    {
        if (jsonio_get_i64(el, "ID", 1, INT32_MAX, &id))
            return SCB_EPARSE;
        if (*n >= cap || *n >= SC_MAX_PACKAGES)
            return SCB_ETOOBIG;
        tn = jsonio_str_or(el, "TrackingNumber", "");
        if (strlen(tn) >= SC_ORDER_TRACK_MAX)
            return SCB_EPARSE;
        out[*n].id = id;
        snprintf(out[*n].tracking_number, SC_ORDER_TRACK_MAX, "%s", tn);
        (*n)++;
    }
    return SCB_OK;
}

static enum scb_err sc_packages_get(struct sc_client *c, int64_t order_id,
                                    int64_t page, cJSON **out_root)
{
    enum scb_err err;

    err = sc_url(c, "/api/Orders/Packages");
    if (!err)
        err = sc_query_i64(c, "id", order_id);
    if (!err)
        err = sc_query_i64(c, "pageNumber", page);
    if (!err)
        err = sc_query_i64(c, "pageSize", SC_PAGE_SIZE);
    if (!err)
        err = sc_get_json(c, "GET /api/Orders/Packages", out_root);
    return err;
}

enum scb_err sc_order_packages(struct sc_client *c, int64_t order_id,
                               struct sc_package *out, size_t cap,
                               size_t *out_n)
{
    cJSON *root = NULL;
    size_t n = 0, count = 0;
    int64_t total = 0;
    enum scb_err err;

    if (order_id < 1)
        return SCB_EINVAL;
    for (int64_t page = 1;; page++) {
        err = sc_packages_get(c, order_id, page, &root);
        if (err)
            return err;
        err = sc_packages_page(root, out, cap, &n, &count, &total);
        cJSON_Delete(root);
        if (err)
            return sc_fail(c, err);
        if (count < SC_PAGE_SIZE || page * SC_PAGE_SIZE >= total)
            break;
    }
    qsort(out, n, sizeof(*out), sc_package_cmp);
    *out_n = n;
    return SCB_OK;
}

/* Appends ',"key":' and a JSON string. */
static enum scb_err sc_put_str(struct buf *b, const char *key,
                               const char *v)
{
    enum scb_err err = buf_printf(b, "%s\"%s\":",
                                  b->len > 1 ? "," : "", key);

    return err ? err : buf_put_json_str(b, v);
}

static enum scb_err sc_put_int(struct buf *b, const char *key, int64_t v)
{
    return buf_printf(b, "%s\"%s\":%" PRId64, b->len > 1 ? "," : "", key,
                      v);
}

enum scb_err sc_json_put_money(struct buf *out, const char *key,
                               int64_t cents)
{
    char amount[MONEY_STR_MAX];

    /* Integer digits, '.', two digits: the text never meets a double. */
    money_format(cents, amount);
    return buf_printf(out, "\"%s\":%s", key, amount);
}

/* Appends ',' and the amount: never the first field of a body. */
static enum scb_err sc_put_money(struct buf *b, const char *key,
                                 int64_t cents)
{
    enum scb_err err = buf_putc(b, ',');

    return err ? err : sc_json_put_money(b, key, cents);
}

static bool sc_tracking_ok(const struct sc_tracking *t)
{
    return t->order_id >= 1 && t->order_id <= INT32_MAX && t->carrier &&
           t->service && t->tracking_number && t->tracking_number[0] &&
           t->ship_date_ms > 0;
}

enum scb_err sc_order_ship(struct sc_client *c, const struct sc_tracking *t)
{
    char date[SC_TIME_BODY_LEN];
    enum scb_err err;

    if (!sc_tracking_ok(t))
        return SCB_EINVAL;
    sc_time_format_body(t->ship_date_ms, date);
    err = sc_url(c, "/api/Orders/ShippingStatus");
    buf_reset(&c->body);
    if (!err)
        err = buf_putc(&c->body, '{');
    if (!err)
        err = sc_put_int(&c->body, "OrderID", t->order_id);
    if (!err)
        err = sc_put_str(&c->body, "ShippingCarrier", t->carrier);
    if (!err)
        err = sc_put_str(&c->body, "ShippingService", t->service);
    if (!err)
        err = sc_put_str(&c->body, "ShipDate", date);
    if (!err)
        err = sc_put_str(&c->body, "TrackingNumber", t->tracking_number);
    if (!err)
        err = buf_putc(&c->body, '}');
    if (!err)
        err = sc_call(c, UPSTREAM_PUT, "PUT /api/Orders/ShippingStatus");
    return err;
}

enum scb_err sc_order_ship_package(struct sc_client *c,
                                   const struct sc_tracking *t)
{
    char date[SC_TIME_BODY_LEN];
    enum scb_err err;

    /* Without a PackageID Sellercloud would overwrite package 1. */
    if (!sc_tracking_ok(t) || t->package_id < 1 ||
        t->package_id > INT32_MAX)
        return SCB_EINVAL;
    sc_time_format_body(t->ship_date_ms, date);
    err = sc_url(c, "/api/Orders/ShippingStatus/SinglePackage");
    buf_reset(&c->body);
    if (!err)
        err = buf_putc(&c->body, '{');
    if (!err)
        err = sc_put_int(&c->body, "OrderID", t->order_id);
    if (!err)
        err = sc_put_int(&c->body, "PackageID", t->package_id);
    if (!err)
        err = sc_put_str(&c->body, "TrackingNumber", t->tracking_number);
    if (!err)
        err = sc_put_str(&c->body, "CarrierName", t->carrier);
    if (!err)
        err = sc_put_str(&c->body, "ShippingMethod", t->service);
    if (!err)
        err = sc_put_str(&c->body, "ShipDate", date);
    if (!err)
        err = buf_putc(&c->body, '}');
    if (!err)
        err = sc_call(c, UPSTREAM_PUT,
                      "PUT /api/Orders/ShippingStatus/SinglePackage");
    return err;
}

enum scb_err sc_order_add_note(struct sc_client *c, int64_t order_id,
                               const char *message, int category)
{
    enum scb_err err;

    if (order_id < 1 || order_id > INT32_MAX || !message || !*message ||
        category < 0 || category > 2)
        return SCB_EINVAL;
    err = sc_url(c, "/api/Orders/%" PRId64 "/Notes", order_id);
    buf_reset(&c->body);
    if (!err)
        err = buf_putc(&c->body, '{');
    if (!err)
        err = sc_put_str(&c->body, "Message", message);
    if (!err)
        err = sc_put_int(&c->body, "Category", category);
    if (!err)
        err = buf_putc(&c->body, '}');
    if (!err)
        err = sc_call(c, UPSTREAM_POST, "POST /api/Orders/{orderID}/Notes");
    return err;
}

/* ---- products and inventory --------------------------------------- */

static bool sc_sku_ok(const char *sku)
{
    return sku && *sku && strlen(sku) <= SC_SKU_MAX;
}

/* Detaches the item whose ID is 'sku' exactly. */
static enum scb_err sc_catalog_find(cJSON *root, const char *sku,
                                    cJSON **out_item)
{
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "Items");
    cJSON *el;

    if (!cJSON_IsArray(arr))
        return SCB_EPARSE;
    cJSON_ArrayForEach(el, arr)
    {
        const char *id = jsonio_str_or(el, "ID", NULL);

        if (id && strcmp(id, sku) == 0) {
            *out_item = cJSON_DetachItemViaPointer(arr, el);
            return SCB_OK;
        }
    }
    return SCB_ENOTFOUND;
}

enum scb_err sc_catalog_get(struct sc_client *c, const char *sku,
                            cJSON **out_item)
{
    cJSON *root = NULL;
    enum scb_err err;

    if (!sc_sku_ok(sku))
        return SCB_EINVAL;
    err = sc_url(c, "/api/Catalog");
    if (!err)
        err = sc_query(c, "model.sKU", sku);
    if (!err)
        err = sc_query(c, "model.pageNumber", "1");
    if (!err)
        err = sc_query_i64(c, "model.pageSize", SC_PAGE_SIZE);
    if (!err)
        err = sc_get_json(c, "GET /api/Catalog", &root);
    if (err)
        return err;
    err = sc_catalog_find(root, sku, out_item);
    cJSON_Delete(root);
    return err == SCB_EPARSE ? sc_fail(c, err) : err;
}

enum scb_err sc_product_create(struct sc_client *c,
                               const struct sc_product_new *p)
{
    enum scb_err err;

    if (!sc_sku_ok(p->sku) || !p->name || !p->type_name ||
        p->company_id < 1 || p->company_id > INT32_MAX)
        return SCB_EINVAL;
    err = sc_url(c, "/api/Products");
    buf_reset(&c->body);
    if (!err)
        err = buf_putc(&c->body, '{');
    if (!err)
        err = sc_put_int(&c->body, "CompanyId", p->company_id);
    if (!err)
        err = sc_put_str(&c->body, "ProductSKU", p->sku);
    if (!err)
        err = sc_put_str(&c->body, "ProductName", p->name);
    if (!err)
        err = sc_put_str(&c->body, "ProductTypeName", p->type_name);
    if (!err && p->has_price)
        err = sc_put_money(&c->body, "DefaultPrice", p->price_cents);
    if (!err && p->upc)
        err = sc_put_str(&c->body, "UPC", p->upc);
    if (!err)
        err = buf_putc(&c->body, '}');
    if (!err)
        err = sc_call(c, UPSTREAM_POST, "POST /api/Products");
    return err;
}

enum scb_err sc_product_basic_info(struct sc_client *c,
                                   const struct sc_basic_info *b)
{
    const char *keys[] = { "ProductName", "LongDescription",
                           "ManufacturerSKU", "UPC" };
    const char *vals[] = { b->name, b->long_description,
                           b->manufacturer_sku, b->upc };
    enum scb_err err;

    if (!sc_sku_ok(b->sku))
        return SCB_EINVAL;
    err = sc_url(c, "/api/Catalog/BasicInfo");
    buf_reset(&c->body);
    if (!err)
        err = buf_putc(&c->body, '{');
    if (!err)
        err = sc_put_str(&c->body, "ProductID", b->sku);
    for (size_t i = 0; !err && i < 4; i++) {
        if (vals[i])
            err = sc_put_str(&c->body, keys[i], vals[i]);
    }
    if (!err && b->has_price)
        err = sc_put_money(&c->body, "SitePrice", b->price_cents);
    if (!err)
        err = buf_putc(&c->body, '}');
    if (!err)
        err = sc_call(c, UPSTREAM_PUT, "PUT /api/Catalog/BasicInfo");
    return err;
}

static enum scb_err sc_put_columns(struct buf *b,
                                   const struct sc_custom_column *cols,
                                   size_t n)
{
    enum scb_err err = buf_puts(b, ",\"CustomColumns\":[");

    for (size_t i = 0; !err && i < n; i++) {
        err = buf_puts(b, i ? ",{\"ColumnName\":" : "{\"ColumnName\":");
        if (!err)
            err = buf_put_json_str(b, cols[i].name);
        if (!err)
            err = buf_puts(b, ",\"Value\":");
        if (!err)
            err = buf_put_json_str(b, cols[i].value);
        if (!err)
            err = buf_putc(b, '}');
    }
    return err ? err : buf_putc(b, ']');
}

enum scb_err sc_product_custom_columns(struct sc_client *c, const char *sku,
                                       const struct sc_custom_column *cols,
                                       size_t n_cols)
{
    enum scb_err err;

    if (!sc_sku_ok(sku) || n_cols == 0 || n_cols > SC_MAX_COLUMNS)
        return SCB_EINVAL;
    for (size_t i = 0; i < n_cols; i++) {
        if (!cols[i].name || !*cols[i].name || !cols[i].value)
            return SCB_EINVAL;
    }
    err = sc_url(c, "/api/Products/CustomColumns");
    buf_reset(&c->body);
    if (!err)
        err = buf_putc(&c->body, '{');
    if (!err)
        err = sc_put_str(&c->body, "ProductID", sku);
    if (!err)
        err = sc_put_columns(&c->body, cols, n_cols);
    if (!err)
        err = buf_putc(&c->body, '}');
    if (!err)
        err = sc_call(c, UPSTREAM_PUT, "PUT /api/Products/CustomColumns");
    return err;
}

enum scb_err sc_inventory_set_physical(struct sc_client *c, const char *sku,
                                       int64_t warehouse_id, int64_t qty)
{
    enum scb_err err;

    if (!sc_sku_ok(sku) || warehouse_id < 1 || warehouse_id > INT32_MAX ||
        qty < 0 || qty > INT32_MAX)
        return SCB_EINVAL;
    err = sc_url(c, "/api/Inventory/SetPhysicalInventory");
    buf_reset(&c->body);
    if (!err)
        err = buf_putc(&c->body, '{');
    if (!err)
        err = sc_put_str(&c->body, "ProductID", sku);
    if (!err)
        err = sc_put_int(&c->body, "WarehouseID", warehouse_id);
    if (!err)
        err = sc_put_int(&c->body, "PhysicalQty", qty);
    if (!err)
        err = buf_putc(&c->body, '}');
    if (!err)
        err = sc_call(c, UPSTREAM_PUT,
                      "PUT /api/Inventory/SetPhysicalInventory");
    return err;
}
