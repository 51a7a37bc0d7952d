/* SPDX-License-Identifier: MIT */
/*
 * The Sellercloud simulator: a libmicrohttpd server (thread per
 * connection, every request serialised on one state lock) that answers
 * the part of the Sellercloud REST API the service speaks, under /rest,
 * and a control API for tests under /_sim/.
 *
 * usage: sim-sc [--port N] [--seed N] [--username U] [--password P]
 *   [--token-life S] [--rate-budget N] [--rate-window S] [--tz Z]
 *   [--broken-share F] [--swagger PATH] [--relay-url URL]
 *   [--relay-secret S] [--relay-drop F] [--relay-dup F]
 *   [--companies 163,164] [--generate N]
 * Each option may come from the environment instead (SIM_PORT, SIM_SEED,
 * SIM_SC_USERNAME, SIM_SC_PASSWORD, SIM_TOKEN_LIFE_S, SIM_RATE_BUDGET,
 * SIM_RATE_WINDOW_S, SIM_TZ, SIM_BROKEN_SHARE, SIM_SWAGGER,
 * SIM_RELAY_URL, SIM_RELAY_SECRET, SIM_RELAY_DROP, SIM_RELAY_DUP,
 * SIM_COMPANIES, SIM_GENERATE); the command line wins. Prints
 * "SIM_PORT=<n>" on stdout once it serves; stops on SIGINT or SIGTERM.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "mem.h"
#include "scsim.h"

#define SCSIM_SWAGGER_NAME "shared/contracts/sellercloud-swagger-2022.json"

enum scsim_kind { SCSIM_K_INT, SCSIM_K_DBL, SCSIM_K_SHARE, SCSIM_K_STR,
                  SCSIM_K_TZ, SCSIM_K_LIST };

struct scsim_optdef {
    const char *flag;
    const char *env;
    enum scsim_kind kind;
    long long min, max;
    size_t off;
};

#define SCSIM_OFF(f) offsetof(struct scsim_opts, f)

static const struct scsim_optdef scsim_optdefs[] = {
    { "port", "SIM_PORT", SCSIM_K_INT, 0, 65535, SCSIM_OFF(port) },
    { "seed", "SIM_SEED", SCSIM_K_INT, 0, LLONG_MAX, SCSIM_OFF(seed) },
    { "username", "SIM_SC_USERNAME", SCSIM_K_STR, 0, 0,
      SCSIM_OFF(username) },
    { "password", "SIM_SC_PASSWORD", SCSIM_K_STR, 0, 0,
      SCSIM_OFF(password) },
    { "token-life", "SIM_TOKEN_LIFE_S", SCSIM_K_DBL, 0, 864000,
      SCSIM_OFF(token_life_s) },
    { "rate-budget", "SIM_RATE_BUDGET", SCSIM_K_INT, 0, 100000000,
      SCSIM_OFF(rate_budget) },
    { "rate-window", "SIM_RATE_WINDOW_S", SCSIM_K_INT, 1, 864000,
      SCSIM_OFF(rate_window_s) },
    { "tz", "SIM_TZ", SCSIM_K_TZ, 0, 0, SCSIM_OFF(tz_min) },
    { "broken-share", "SIM_BROKEN_SHARE", SCSIM_K_SHARE, 0, 1,
      SCSIM_OFF(broken_share) },
    { "swagger", "SIM_SWAGGER", SCSIM_K_STR, 0, 0, SCSIM_OFF(swagger_path) },
    { "relay-url", "SIM_RELAY_URL", SCSIM_K_STR, 0, 0,
      SCSIM_OFF(relay_url) },
    { "relay-secret", "SIM_RELAY_SECRET", SCSIM_K_STR, 0, 0,
      SCSIM_OFF(relay_secret) },
    { "relay-drop", "SIM_RELAY_DROP", SCSIM_K_SHARE, 0, 1,
      SCSIM_OFF(relay_drop) },
    { "relay-dup", "SIM_RELAY_DUP", SCSIM_K_SHARE, 0, 1,
      SCSIM_OFF(relay_dup) },
    { "companies", "SIM_COMPANIES", SCSIM_K_LIST, 1, INT32_MAX,
      SCSIM_OFF(companies) },
    { "generate", "SIM_GENERATE", SCSIM_K_INT, 0, 100000,
      SCSIM_OFF(generate) },
};

#define SCSIM_N_OPTS (sizeof(scsim_optdefs) / sizeof(scsim_optdefs[0]))

static bool scsim_parse_ll(const char *v, long long min, long long max,
                           long long *out)
{
    char *end;
    long long n;

    errno = 0;
    n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < min || n > max)
        return false;
    *out = n;
    return true;
}

static bool scsim_parse_list(struct scsim_opts *o, const char *v)
{
    char item[24];

    o->n_companies = 0;
    while (*v) {
        size_t n = strcspn(v, ",");
        long long id;

        if (n == 0 || n >= sizeof(item) ||
            o->n_companies == SCSIM_MAX_COMPANIES)
            return false;
        memcpy(item, v, n);
        item[n] = '\0';
        if (!scsim_parse_ll(item, 1, INT32_MAX, &id))
            return false;
        o->companies[o->n_companies++] = (long)id;
        v += n + (v[n] == ',');
    }
    return o->n_companies > 0;
}

static bool scsim_set_opt(struct scsim_opts *o, const struct scsim_optdef *d,
                          const char *v)
{
    char *base = (char *)o + d->off;
    long long n;
    char *end;
    double x;

    switch (d->kind) {
    case SCSIM_K_INT:
        if (!scsim_parse_ll(v, d->min, d->max, &n))
            return false;
        if (d->off == SCSIM_OFF(port))
            o->port = (int)n;
        else if (d->off == SCSIM_OFF(seed))
            o->seed = (uint64_t)n;
        else
            *(long *)(void *)base = (long)n;
        return true;
    case SCSIM_K_DBL:
    case SCSIM_K_SHARE:
        x = strtod(v, &end);
        if (!*v || *end || !(x >= (double)d->min) || x > (double)d->max)
            return false;
        *(double *)(void *)base = x;
        return true;
    case SCSIM_K_STR:
        *(const char **)(void *)base = v;
        return strlen(v) < 4096;
    case SCSIM_K_TZ:
        return scsim_parse_tz(v, &o->tz_min);
    case SCSIM_K_LIST:
        return scsim_parse_list(o, v);
    }
    return false;
}

static const struct scsim_optdef *scsim_find_opt(const char *flag, size_t n)
{
    for (size_t i = 0; i < SCSIM_N_OPTS; i++) {
        if (strlen(scsim_optdefs[i].flag) == n &&
            strncmp(scsim_optdefs[i].flag, flag, n) == 0)
            return &scsim_optdefs[i];
    }
    return NULL;
}

static bool scsim_parse_args(struct scsim_opts *o, int argc, char **argv)
{
    for (size_t i = 0; i < SCSIM_N_OPTS; i++) {
        const char *v = getenv(scsim_optdefs[i].env);

        if (v && !scsim_set_opt(o, &scsim_optdefs[i], v)) {
            fprintf(stderr, "sim-sc: bad value for %s\n",
                    scsim_optdefs[i].env);
            return false;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq;
        const struct scsim_optdef *d;
        const char *v;

        if (strncmp(a, "--", 2) == 0) {
            a += 2;
            eq = strchr(a, '=');
            d = scsim_find_opt(a, eq ? (size_t)(eq - a) : strlen(a));
            v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (d && v && scsim_set_opt(o, d, v))
                continue;
        }
        fprintf(stderr, "sim-sc: bad argument %s\n", argv[i]);
        return false;
    }
    return true;
}

static void scsim_defaults(struct scsim_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->username = "scbridge";
    o->password = "sc-password";
    o->token_life_s = 3600;
    o->rate_budget = 10800;
    o->rate_window_s = 3600;
    o->broken_share = 0.05;
    o->relay_drop = 0;
    o->companies[0] = 163;
    o->n_companies = 1;
}

/* The Swagger beside the repository: ../shared from the root, found
 * from the working directory or by walking up from the binary. */
static bool scsim_find_swagger(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len;

    (void)snprintf(out, n, "../%s", SCSIM_SWAGGER_NAME);
    if (access(out, R_OK) == 0)
        return true;
    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0)
        return false;
    exe[len] = '\0';
    for (int up = 0; up < 6; up++) {
        char *slash = strrchr(exe, '/');

        if (!slash)
            return false;
        *slash = '\0';
        (void)snprintf(out, n, "%s/../%s", exe, SCSIM_SWAGGER_NAME);
        if (access(out, R_OK) == 0)
            return true;
    }
    return false;
}

static void scsim_handler(void *ctx, const struct simhttp_req *req,
                          struct simhttp_resp *resp)
{
    struct scsim *s = ctx;

    if (strncmp(req->path, "/_sim/", 6) == 0)
        scsim_ctl_handle(s, req, resp);
    else
        scsim_api_handle(s, req, resp);
}

static bool scsim_init(struct scsim *s)
{
    char path[PATH_MAX + 64];
    const char *sw = s->opts.swagger_path;
    enum scb_err err;

    if (!sw && scsim_find_swagger(path, sizeof(path)))
        sw = path;
    if (!sw) {
        fprintf(stderr, "sim-sc: cannot find the Swagger file\n");
        return false;
    }
    err = scsim_swagger_load(sw, &s->sw);
    if (err) {
        fprintf(stderr, "sim-sc: cannot load %s: %s\n", sw,
                scb_strerror(err));
        return false;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->rate_budget = s->opts.rate_budget;
    s->rate_window_s = s->opts.rate_window_s;
    s->token_life_s = s->opts.token_life_s;
    s->rng = s->opts.seed * 0x2545f4914f6cdd1dULL + 1;
    s->next_order_id = 5012001;
    s->next_line_id = 7001;
    s->next_pkg_id = 9001;
    s->next_payment_id = 3001;
    return true;
}

static void scsim_release(struct scsim *s)
{
    scsim_reset(s);
    for (size_t i = 0; s->log && i < SCSIM_LOG_MAX; i++) {
        mem_free(s->log[i].path);
        mem_free(s->log[i].query);
        mem_free(s->log[i].body);
    }
    mem_free(s->log);
    mem_free(s->breaches);
    mem_free(s->tokens);
    scsim_swagger_free(s->sw);
    pthread_mutex_destroy(&s->lock);
}

static bool scsim_generate_at_start(struct scsim *s)
{
    cJSON *params = cJSON_CreateObject();
    cJSON *ids = cJSON_CreateArray();
    char why[128];
    bool ok;

    if (!params || !ids) {
        cJSON_Delete(params);
        cJSON_Delete(ids);
        return false;
    }
    cJSON_AddNumberToObject(params, "count", (double)s->opts.generate);
    ok = !scsim_seed_generate(s, params, ids, why, sizeof(why));
    if (!ok)
        fprintf(stderr, "sim-sc: %s\n", why);
    cJSON_Delete(params);
    cJSON_Delete(ids);
    return ok;
}

static int scsim_serve(struct scsim *s)
{
    struct simhttp *srv;
    sigset_t set;
    int port = 0, sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (scsim_relay_start(s)) {
        fprintf(stderr, "sim-sc: cannot start the relay\n");
        return 1;
    }
    srv = simhttp_start(s->opts.port, scsim_handler, s, &port);
    if (!srv) {
        fprintf(stderr, "sim-sc: cannot listen on port %d\n", s->opts.port);
        scsim_relay_stop(s);
        return 1;
    }
    printf("SIM_PORT=%d\n", port);
    fflush(stdout);
    (void)sigwait(&set, &sig);
    simhttp_stop(srv);
    scsim_relay_stop(s);
    return 0;
}

int main(int argc, char **argv)
{
    static struct scsim sim;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    mem_install_hooks();
    scsim_defaults(&sim.opts);
    if (!scsim_parse_args(&sim.opts, argc, argv))
        return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    if (!scsim_init(&sim)) {
        curl_global_cleanup();
        return 1;
    }
    if (sim.opts.generate && !scsim_generate_at_start(&sim)) {
        fprintf(stderr, "sim-sc: cannot generate orders\n");
        rc = 1;
    } else {
        rc = scsim_serve(&sim);
    }
    scsim_release(&sim);
    curl_global_cleanup();
    return rc;
}
