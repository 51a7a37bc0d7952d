/* SPDX-License-Identifier: MIT */
/*
 * The DDI gateway simulator: startup, options and shutdown. It serves the
 * gateway API of contracts/ddi.md and its control API on 127.0.0.1 with a
 * thread per connection (simhttp); the webhook sender has its own thread.
 * On start it prints "SIM_PORT=<n>"; SIGTERM or SIGINT stop it.
 *
 * Every option "--name value" may also come from SIM_DDI_<NAME> (dashes
 * as underscores); the command line wins.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ddisim.h"
#include "log.h"
#include "mem.h"

enum ddisim_kind { DDISIM_INT, DDISIM_U64, DDISIM_DBL, DDISIM_STR };

struct ddisim_optdef {
    const char *name;
    enum ddisim_kind kind;
    size_t off;
    double min, max;
};

#define DDISIM_OPT(n, k, f, lo, hi)                   \
    {                                                 \
        n, k, offsetof(struct ddisim_opts, f), lo, hi \
    }

static const struct ddisim_optdef ddisim_optdefs[] = {
    DDISIM_OPT("port", DDISIM_INT, port, 0, 65535),
    DDISIM_OPT("seed", DDISIM_U64, seed, 0, 1e18),
    DDISIM_OPT("api-key", DDISIM_STR, api_key, 1, 256),
    DDISIM_OPT("company", DDISIM_STR, company, 1, 64),
    DDISIM_OPT("callback-url", DDISIM_STR, callback_url, 0, 2048),
    DDISIM_OPT("items-url", DDISIM_STR, items_url, 0, 2048),
    DDISIM_OPT("secret", DDISIM_STR, secret, 0, 1024),
    DDISIM_OPT("drop-rate", DDISIM_DBL, drop_rate, 0, 1),
    DDISIM_OPT("dup-rate", DDISIM_DBL, dup_rate, 0, 1),
    DDISIM_OPT("retry-max", DDISIM_INT, retry_max, 1, 100),
    DDISIM_OPT("retry-first-ms", DDISIM_INT, retry_first_ms, 1, 3600000),
    DDISIM_OPT("retry-cap-ms", DDISIM_INT, retry_cap_ms, 1, 86400000),
    DDISIM_OPT("callback-timeout-ms", DDISIM_INT, callback_timeout_ms, 100,
               600000),
    DDISIM_OPT("commit-delay-ms", DDISIM_INT, commit_delay_ms, 0, 600000),
    DDISIM_OPT("items", DDISIM_INT, items, 0, 100000),
    DDISIM_OPT("warehouses", DDISIM_STR, warehouses, 1, 1024),
    DDISIM_OPT("customers", DDISIM_STR, customers, 0, 65536),
};

#define DDISIM_NOPTS (sizeof(ddisim_optdefs) / sizeof(ddisim_optdefs[0]))

static bool ddisim_set_opt(struct ddisim_opts *o,
                           const struct ddisim_optdef *def, const char *v)
{
    char *p = (char *)o + def->off;
    char *end = NULL;
    double x;

    if (def->kind == DDISIM_STR) {
        if (strlen(v) < def->min || strlen(v) > def->max)
            return false;
        *(const char **)(void *)p = v;
        return true;
    }
    errno = 0;
    x = strtod(v, &end);
    if (errno || end == v || *end || x < def->min || x > def->max)
        return false;
    if (def->kind != DDISIM_DBL && x != (double)(long long)x)
        return false;
    if (def->kind == DDISIM_INT)
        *(int *)(void *)p = (int)x;
    else if (def->kind == DDISIM_U64)
        *(uint64_t *)(void *)p = (uint64_t)x;
    else
        *(double *)(void *)p = x;
    return true;
}

static void ddisim_defaults(struct ddisim_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->api_key = "ddi-key";
    o->company = "01";
    o->retry_max = 5;
    o->retry_first_ms = 1000;
    o->retry_cap_ms = 60000;
    o->callback_timeout_ms = 5000;
    o->items = 20;
    o->warehouses = "MAIN,WEST";
    o->customers = "WEB,WEB-AMAZON,WEB-EBAY,WEB-WALMART,WEB-MAGENTO";
}

/* SIM_DDI_<NAME>: the option's name upper-cased, dashes as underscores. */
static bool ddisim_env(struct ddisim_opts *o)
{
    char name[64];
    const char *v;
    size_t n;

    for (size_t i = 0; i < DDISIM_NOPTS; i++) {
        n = (size_t)snprintf(name, sizeof(name), "SIM_DDI_%s",
                             ddisim_optdefs[i].name);
        for (size_t j = 8; j < n && j < sizeof(name); j++)
            name[j] = name[j] == '-' ? '_' : (char)(name[j] & ~0x20);
        v = getenv(name);
        if (v && !ddisim_set_opt(o, &ddisim_optdefs[i], v)) {
            fprintf(stderr, "sim-ddi: bad value in %s\n", name);
            return false;
        }
    }
    return true;
}

static const struct ddisim_optdef *ddisim_find_opt(const char *arg)
{
    for (size_t i = 0; i < DDISIM_NOPTS; i++) {
        if (strcmp(arg, ddisim_optdefs[i].name) == 0)
            return &ddisim_optdefs[i];
    }
    return NULL;
}

static bool ddisim_args(struct ddisim_opts *o, int argc, char **argv)
{
    const struct ddisim_optdef *def;

    for (int i = 1; i < argc; i += 2) {
        def = strncmp(argv[i], "--", 2) == 0 ? ddisim_find_opt(argv[i] + 2)
                                             : NULL;
        if (!def || i + 1 >= argc) {
            fprintf(stderr, "sim-ddi: unknown option or no value: %s\n",
                    argv[i]);
            return false;
        }
        if (!ddisim_set_opt(o, def, argv[i + 1])) {
            fprintf(stderr, "sim-ddi: bad value for %s\n", argv[i]);
            return false;
        }
    }
    return true;
}

static void ddisim_handle(void *ctx, const struct simhttp_req *req,
                          struct simhttp_resp *resp)
{
    struct ddisim *d = ctx;

    if (strncmp(req->path, "/v1/", 4) == 0)
        ddisim_api(d, req, resp);
    else if (strncmp(req->path, "/_sim/", 6) == 0)
        ddisim_ctl(d, req, resp);
    else
        ddisim_reply_error(resp, 404, "NOT_FOUND", NULL, "no such route");
    log_info("sim-ddi", "request", LOG_STR("method", req->method),
             LOG_STR("path", req->path), LOG_INT("status", resp->status));
}

/* Serves until SIGTERM or SIGINT; answers the exit status. */
static int ddisim_serve(struct ddisim *d, const sigset_t *stop_set)
{
    struct simhttp *srv;
    int port = 0;
    int sig = 0;

    srv = simhttp_start(d->opts->port, ddisim_handle, d, &port);
    if (!srv) {
        fprintf(stderr, "sim-ddi: cannot listen on port %d\n", d->opts->port);
        return 1;
    }
    printf("SIM_PORT=%d\n", port);
    fflush(stdout);
    log_info("sim-ddi", "listening", LOG_INT("port", port));
    while (sig != SIGTERM && sig != SIGINT) {
        if (sigwait(stop_set, &sig))
            break;
    }
    atomic_store(&d->stopping, true);
    simhttp_stop(srv);
    return 0;
}

int main(int argc, char **argv)
{
    struct ddisim_opts opts;
    struct ddisim d;
    sigset_t stop_set;
    int rc = 1;

    ddisim_defaults(&opts);
    if (!ddisim_env(&opts) || !ddisim_args(&opts, argc, argv))
        return 2;
    log_init(LOG_INFO, 1);
    mem_install_hooks();
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    if (ddisim_init(&d, &opts)) {
        fprintf(stderr, "sim-ddi: cannot set up the tables\n");
        goto out_curl;
    }
    if (ddisim_send_start(&d)) {
        fprintf(stderr, "sim-ddi: bad webhook secret or settings\n");
        goto out_state;
    }
    rc = ddisim_serve(&d, &stop_set);
    ddisim_send_stop(&d);
out_state:
    ddisim_release(&d);
out_curl:
    curl_global_cleanup();
    return rc;
}
