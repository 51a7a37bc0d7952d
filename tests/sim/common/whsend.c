/* SPDX-License-Identifier: MIT */
/* Standard Webhooks sender of the simulators: queue, thread, retries. */
#include "whsend.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "mem.h"

#define WHSEND_URL_MAX 2048
#define WHSEND_BODY_MAX (16u * 1024u * 1024u)

struct whsend_msg {
    struct whsend_msg *next;
    char *url;
    char *id;
    char *body;
    int delivery; /* 1, or 2 for the duplicate */
    int attempt;  /* attempts made in this delivery */
    bool picked;  /* drop and duplicate already decided */
    bool dropped;
    bool dup_pending; /* deliver once more when this delivery ends */
    int64_t due_ms;   /* monotonic time of the next attempt */
};

struct whsend {
    pthread_mutex_t lock;     /* guards the fields down to 'busy' */
    pthread_cond_t cond;      /* signalled on post and on stop */
    struct whsend_msg *queue; /* unordered; the earliest due goes first */
    size_t queued;
    uint64_t rng;
    unsigned long next_id;
    bool busy; /* a message is out of the queue */
    atomic_bool stop;
    char *url;
    unsigned char *key;
    size_t key_len;
    struct whsend_opts opts; /* url and secret not kept here */
    pthread_t thread;
};

static int64_t whsend_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: deterministic from the seed, good enough for shares. */
static double whsend_rand(struct whsend *ws)
{
    uint64_t x = ws->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ws->rng = x;
    return (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

enum scb_err whsend_secret_decode(const char *secret, unsigned char **out_key,
                                  size_t *out_len)
{
    const char *b64 = secret;
    size_t len;
    unsigned char *key;
    int n;

    if (strncmp(b64, "whsec_", 6) == 0)
        b64 += 6;
    len = strlen(b64);
    if (len == 0 || len % 4 != 0 || len > 4096)
        return SCB_EINVAL;
    key = mem_malloc(len / 4 * 3 + 1);
    if (!key)
        return SCB_ENOMEM;
    n = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)len);
    if (n < 0) {
        mem_free(key);
        return SCB_EINVAL;
    }
    /* EVP_DecodeBlock counts the bytes of '=' padding as zeros. */
    for (size_t i = len; i > 0 && b64[i - 1] == '='; i--)
        n--;
    if (n <= 0) {
        mem_free_secret(key, len / 4 * 3 + 1);
        return SCB_EINVAL;
    }
    *out_key = key;
    *out_len = (size_t)n;
    return SCB_OK;
}

/* HMAC-SHA256 of head then body into mac; false on a library failure. */
static bool whsend_hmac(const unsigned char *key, size_t key_len,
                        const char *head, size_t head_len, const char *body,
                        size_t body_len, unsigned char mac[32])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
    size_t out_len = 0;
    bool ok;

    ok = ctx && EVP_MAC_init(ctx, key, key_len, params) &&
         EVP_MAC_update(ctx, (const unsigned char *)head, head_len) &&
         EVP_MAC_update(ctx, (const unsigned char *)body, body_len) &&
         EVP_MAC_final(ctx, mac, &out_len, 32) && out_len == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(alg);
    return ok;
}

void whsend_sign(const unsigned char *key, size_t key_len, const char *id,
                 long long ts, const char *body, size_t body_len,
                 char out[WHSEND_SIG_MAX])
{
    unsigned char mac[32];
    char head[WHSEND_ID_MAX + 32];
    int head_len;

    head_len = snprintf(head, sizeof(head), "%s.%lld.", id, ts);
    if (head_len < 0 || (size_t)head_len >= sizeof(head))
        head_len = 0;
    memcpy(out, "v1,", 4);
    /* A failed HMAC leaves "v1," alone, which no receiver accepts. */
    if (whsend_hmac(key, key_len, head, (size_t)head_len, body, body_len, mac))
        EVP_EncodeBlock((unsigned char *)out + 3, mac, 32);
}

static bool whsend_id_ok(const char *id)
{
    size_t len = strlen(id);

    if (len == 0 || len > WHSEND_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (id[i] < 0x21 || id[i] > 0x7e)
            return false;
    }
    return true;
}

static void whsend_msg_free(struct whsend_msg *m)
{
    if (!m)
        return;
    mem_free(m->url);
    mem_free(m->id);
    mem_free(m->body);
    mem_free(m);
}

static size_t whsend_discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * n;
}

/* Ends a transfer early once whsend_free() asked the thread to stop. */
static int whsend_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c,
                           curl_off_t d)
{
    struct whsend *ws = ud;

    (void)a;
    (void)b;
    (void)c;
    (void)d;
    return atomic_load(&ws->stop) ? 1 : 0;
}

static struct curl_slist *whsend_headers(struct whsend *ws,
                                         const struct whsend_msg *m)
{
    char id_line[WHSEND_ID_MAX + 16];
    char ts_line[48];
    char sig_line[WHSEND_SIG_MAX + 24];
    char sig[WHSEND_SIG_MAX];
    long long ts = (long long)time(NULL);
    const char *lines[] = { "Content-Type: application/json",
                            "Expect:", id_line, ts_line, sig_line };
    struct curl_slist *h = NULL;
    struct curl_slist *t;

    /* Each attempt is signed afresh: the id stays, the time moves on. */
    whsend_sign(ws->key, ws->key_len, m->id, ts, m->body, strlen(m->body), sig);
    snprintf(id_line, sizeof(id_line), "webhook-id: %s", m->id);
    snprintf(ts_line, sizeof(ts_line), "webhook-timestamp: %lld", ts);
    snprintf(sig_line, sizeof(sig_line), "webhook-signature: %s", sig);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        t = curl_slist_append(h, lines[i]);
        if (!t) {
            curl_slist_free_all(h);
            return NULL;
        }
        h = t;
    }
    return h;
}

/* One attempt: the HTTP status, or 0 when no answer came. */
static int whsend_attempt(struct whsend *ws, const struct whsend_msg *m)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = whsend_headers(ws, m);
    long status = 0;

    if (!c || !h)
        goto out;
    curl_easy_setopt(c, CURLOPT_URL, m->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, m->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(m->body));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ws->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ws->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, whsend_discard);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, whsend_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, ws);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
out:
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return (int)status;
}

static void whsend_report(struct whsend *ws, const struct whsend_msg *m,
                          int status, bool final)
{
    struct whsend_event ev = {
        .msg_id = m->id,
        .url = m->url,
        .delivery = m->delivery,
        .attempt = m->dropped ? 0 : m->attempt,
        .status = status,
        .dropped = m->dropped,
        .final = final,
        .delivered = final && status >= 200 && status < 300,
    };

    if (ws->opts.on_event)
        ws->opts.on_event(ws->opts.event_ctx, &ev);
}

static int64_t whsend_delay_ms(const struct whsend *ws, int attempt)
{
    int64_t d = ws->opts.first_delay_ms;

    for (int i = 1; i < attempt && d < ws->opts.max_delay_ms; i++)
        d *= 2;
    return d < ws->opts.max_delay_ms ? d : ws->opts.max_delay_ms;
}

/* Takes the earliest message from the queue, or NULL (lock held). */
static struct whsend_msg *whsend_take_due(struct whsend *ws,
                                          int64_t *out_wait_ms)
{
    struct whsend_msg **best = NULL;
    int64_t now = whsend_now_ms();
    struct whsend_msg *m;

    for (struct whsend_msg **p = &ws->queue; *p; p = &(*p)->next) {
        if (!best || (*p)->due_ms <= (*best)->due_ms)
            best = p;
    }
    *out_wait_ms = -1;
    if (!best)
        return NULL;
    if ((*best)->due_ms > now) {
        *out_wait_ms = (*best)->due_ms - now;
        return NULL;
    }
    m = *best;
    *best = m->next;
    m->next = NULL;
    ws->queued--;
    return m;
}

/* Puts 'm' back for its next attempt or delivery, or frees it. */
static void whsend_settle(struct whsend *ws, struct whsend_msg *m, bool ok)
{
    bool ended = ok || m->attempt >= ws->opts.max_attempts || m->dropped;

    if (ended && !m->dup_pending) {
        whsend_msg_free(m);
        return;
    }
    if (ended) {
        m->dup_pending = false;
        m->delivery = 2;
        m->attempt = 0;
        m->due_ms = whsend_now_ms();
    } else {
        m->due_ms = whsend_now_ms() + whsend_delay_ms(ws, m->attempt);
    }
    m->next = ws->queue;
    ws->queue = m;
    ws->queued++;
}

static void whsend_wait(struct whsend *ws, int64_t wait_ms)
{
    struct timespec ts;

    if (wait_ms < 0) {
        pthread_cond_wait(&ws->cond, &ws->lock);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    (void)pthread_cond_timedwait(&ws->cond, &ws->lock, &ts);
}

/* Decides once per message whether it is dropped or duplicated. */
static void whsend_pick(struct whsend *ws, struct whsend_msg *m)
{
    if (m->picked)
        return;
    m->picked = true;
    m->dropped = whsend_rand(ws) < ws->opts.drop_rate;
    m->dup_pending = !m->dropped && whsend_rand(ws) < ws->opts.dup_rate;
}

static void *whsend_run(void *arg)
{
    struct whsend *ws = arg;
    struct whsend_msg *m;
    int64_t wait_ms;
    int status;

    pthread_mutex_lock(&ws->lock);
    while (!atomic_load(&ws->stop)) {
        status = 0;
        m = whsend_take_due(ws, &wait_ms);
        if (!m) {
            whsend_wait(ws, wait_ms);
            continue;
        }
        whsend_pick(ws, m);
        ws->busy = true;
        pthread_mutex_unlock(&ws->lock);

        if (!m->dropped) {
            m->attempt++;
            status = whsend_attempt(ws, m);
        }
        whsend_report(ws, m, status,
                      m->dropped || status / 100 == 2 ||
                          m->attempt >= ws->opts.max_attempts);

        pthread_mutex_lock(&ws->lock);
        whsend_settle(ws, m, status / 100 == 2);
        ws->busy = false;
    }
    pthread_mutex_unlock(&ws->lock);
    return NULL;
}

static enum scb_err whsend_check_opts(const struct whsend_opts *o)
{
    if (!o->secret || o->max_attempts < 0 || o->first_delay_ms < 0 ||
        o->max_delay_ms < 0 || o->timeout_ms < 0)
        return SCB_EINVAL;
    if (!(o->drop_rate >= 0.0 && o->drop_rate <= 1.0) ||
        !(o->dup_rate >= 0.0 && o->dup_rate <= 1.0))
        return SCB_EINVAL;
    if (o->url && strlen(o->url) > WHSEND_URL_MAX)
        return SCB_EINVAL;
    return SCB_OK;
}

static void whsend_defaults(struct whsend_opts *o)
{
    o->url = NULL;
    o->secret = NULL;
    if (o->max_attempts == 0)
        o->max_attempts = 5;
    if (o->first_delay_ms == 0)
        o->first_delay_ms = 1000;
    if (o->max_delay_ms == 0)
        o->max_delay_ms = 60000;
    if (o->timeout_ms == 0)
        o->timeout_ms = 5000;
    if (o->queue_max == 0)
        o->queue_max = 10000;
}

static enum scb_err whsend_sync_init(struct whsend *ws)
{
    pthread_condattr_t attr;
    int rc;

    if (pthread_condattr_init(&attr))
        return SCB_EIO;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!rc)
        rc = pthread_cond_init(&ws->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc)
        return SCB_EIO;
    if (pthread_mutex_init(&ws->lock, NULL)) {
        pthread_cond_destroy(&ws->cond);
        return SCB_EIO;
    }
    return SCB_OK;
}

enum scb_err whsend_new(const struct whsend_opts *opts, struct whsend **out_ws)
{
    struct whsend *ws;
    enum scb_err err = whsend_check_opts(opts);

    if (err)
        return err;
    ws = mem_calloc(1, sizeof(*ws));
    if (!ws)
        return SCB_ENOMEM;
    ws->opts = *opts;
    whsend_defaults(&ws->opts);
    ws->rng = opts->seed ? opts->seed : 0x9e3779b97f4a7c15ull;
    atomic_init(&ws->stop, false);
    err = whsend_secret_decode(opts->secret, &ws->key, &ws->key_len);
    if (err)
        goto out_free;
    if (opts->url) {
        ws->url = mem_strdup(opts->url);
        if (!ws->url) {
            err = SCB_ENOMEM;
            goto out_free;
        }
    }
    err = whsend_sync_init(ws);
    if (err)
        goto out_free;
    if (pthread_create(&ws->thread, NULL, whsend_run, ws)) {
        pthread_cond_destroy(&ws->cond);
        pthread_mutex_destroy(&ws->lock);
        err = SCB_EIO;
        goto out_free;
    }
    *out_ws = ws;
    return SCB_OK;

out_free:
    mem_free_secret(ws->key, ws->key_len);
    mem_free(ws->url);
    mem_free(ws);
    return err;
}

void whsend_free(struct whsend *ws)
{
    struct whsend_msg *m;

    if (!ws)
        return;
    pthread_mutex_lock(&ws->lock);
    atomic_store(&ws->stop, true);
    pthread_cond_broadcast(&ws->cond);
    pthread_mutex_unlock(&ws->lock);
    pthread_join(ws->thread, NULL);
    while (ws->queue) {
        m = ws->queue;
        ws->queue = m->next;
        whsend_msg_free(m);
    }
    pthread_cond_destroy(&ws->cond);
    pthread_mutex_destroy(&ws->lock);
    mem_free_secret(ws->key, ws->key_len);
    mem_free(ws->url);
    mem_free(ws);
}

static struct whsend_msg *whsend_msg_new(const char *url, const char *id,
                                         const char *body)
{
    struct whsend_msg *m = mem_calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    m->url = mem_strdup(url);
    m->id = mem_strdup(id);
    m->body = mem_strdup(body);
    if (!m->url || !m->id || !m->body) {
        whsend_msg_free(m);
        return NULL;
    }
    m->delivery = 1;
    m->due_ms = whsend_now_ms();
    return m;
}

enum scb_err whsend_post(struct whsend *ws, const char *url, const char *msg_id,
                         const char *body)
{
    char gen[64];
    struct whsend_msg *m;
    enum scb_err err = SCB_OK;

    if (!url)
        url = ws->url;
    if (!url || strlen(url) > WHSEND_URL_MAX)
        return SCB_EINVAL;
    if (msg_id && !whsend_id_ok(msg_id))
        return SCB_EINVAL;
    if (strlen(body) > WHSEND_BODY_MAX)
        return SCB_ETOOBIG;
    pthread_mutex_lock(&ws->lock);
    if (!msg_id) {
        snprintf(gen, sizeof(gen), "msg_%" PRIx64 "_%lu", ws->opts.seed,
                 ++ws->next_id);
        msg_id = gen;
    }
    if (ws->queued >= ws->opts.queue_max) {
        err = SCB_ETOOBIG;
        goto out;
    }
    m = whsend_msg_new(url, msg_id, body);
    if (!m) {
        err = SCB_ENOMEM;
        goto out;
    }
    m->next = ws->queue;
    ws->queue = m;
    ws->queued++;
    pthread_cond_signal(&ws->cond);
out:
    pthread_mutex_unlock(&ws->lock);
    return err;
}

bool whsend_idle(struct whsend *ws)
{
    bool idle;

    pthread_mutex_lock(&ws->lock);
    idle = !ws->queue && !ws->busy;
    pthread_mutex_unlock(&ws->lock);
    return idle;
}
