/* SPDX-License-Identifier: MIT */
/*
 * items-worker: runs the SKU sync's job handlers (job_items.h) and the
 * reservation calls (reserve.h) for end-to-end tests, configured from
 * the SCBRIDGE_* environment like the service, until the service wires
 * them into its own worker pool.
 *
 * usage: items-worker COMMAND [ARG...]
 *   run                       a worker pool with item.sync and poll.items
 *                             until SIGTERM or SIGINT; then prints this
 *                             process's metrics text on stdout
 *   poll                      enqueues one poll.items job
 *   hint PRODUCT_NO...        enqueues item.sync jobs as the webhook route
 *                             does (source "webhook")
 *   reserve-add COMPANY ORDER_ID     reads the order from Sellercloud and
 *   reserve-remove COMPANY ORDER_ID  reserves it, or drops its reservation
 *   reserve-qty SKU           prints {"qty": I}
 * Logs go to stdout (run) or stderr (the others). Exit 0 on success, 1
 * when the command failed, 2 for a bad command line or configuration.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <pthread.h>

#include "config.h"
#include "job_items.h"
#include "jobs.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "reserve.h"
#include "sc_client.h"
#include "store.h"
#include "worker.h"

#define IW_DRAIN_MS 10000

static const char *iw_getenv(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static int iw_usage(void)
{
    fprintf(stderr, "usage: items-worker run | poll | hint PNO... | "
                    "reserve-add COMPANY ID | reserve-remove COMPANY ID | "
                    "reserve-qty SKU\n");
    return 2;
}

static bool iw_num(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);

    if (end == s || *end || v < 1)
        return false;
    *out = (int64_t)v;
    return true;
}

static void iw_print_metrics(void)
{
    struct buf text;

    buf_init(&text, 1 << 22);
    if (metrics_render(&text) == SCB_OK && text.data)
        fputs(text.data, stdout);
    fflush(stdout);
    buf_release(&text);
}

static int iw_run(const struct config *cfg)
{
    struct jobs *j = jobs_new(cfg);
    struct worker_pool *wp = worker_pool_new(cfg);
    sigset_t set;
    int sig = 0, rc = 1;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (!j || !wp || pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        goto out;
    j->pool = wp; /* as jobs_register() does: delayed jobs run on time */
    if (job_items_register(j, wp) != SCB_OK ||
        worker_pool_start(wp) != SCB_OK)
        goto out;
    log_info("items-worker", "started");
    while (sigwait(&set, &sig) != 0)
        ;
    rc = 0;
    if (!worker_pool_drain(wp, IW_DRAIN_MS)) {
        log_warn("items-worker", "drain timed out");
        iw_print_metrics();
        return 0; /* threads still run: leave the pool alone */
    }
    iw_print_metrics();

out:
    worker_pool_free(wp);
    jobs_free(j);
    return rc;
}

/* Reads one order and reserves it, or drops its reservation. */
static int iw_reserve(const struct config *cfg, struct store *st,
                      bool add, int64_t company, int64_t id)
{
    struct sc_session *sess = sc_session_new(cfg);
    struct sc_client *c = sess ? sc_client_new(cfg, sess, st) : NULL;
    struct sc_order_page page;
    enum scb_err err = c ? SCB_OK : SCB_ENOMEM;

    memset(&page, 0, sizeof(page));
    if (!err)
        err = sc_orders_by_ids(c, &company, 1, &id, 1, &page);
    if (!err && (page.n_orders != 1 || page.orders[0].id != id))
        err = SCB_ENOTFOUND;
    if (!err)
        err = add ? reserve_add(st, id, &page.orders[0])
                  : reserve_remove(st, id, &page.orders[0]);
    printf("{\"err\":\"%s\"}\n", scb_strerror(err));
    sc_order_page_release(&page);
    sc_client_free(c);
    sc_session_free(sess);
    return err ? 1 : 0;
}

static int iw_command(const struct config *cfg, struct store *st,
                      const char *cmd, int n, char **args)
{
    int64_t company = 0, id = 0, qty = 0;
    enum scb_err err;

    if (strcmp(cmd, "poll") == 0 && n == 0) {
        err = job_items_enqueue_poll(st);
    } else if (strcmp(cmd, "hint") == 0 && n > 0) {
        err = job_items_enqueue_sync(st, (const char *const *)args,
                                     (size_t)n, "webhook");
    } else if (strcmp(cmd, "reserve-qty") == 0 && n == 1) {
        err = reserve_qty(st, args[0], &qty);
        printf("{\"err\":\"%s\",\"qty\":%" PRId64 "}\n", scb_strerror(err),
               qty);
        return err ? 1 : 0;
    } else if ((strcmp(cmd, "reserve-add") == 0 ||
                strcmp(cmd, "reserve-remove") == 0) &&
               n == 2 && iw_num(args[0], &company) &&
               iw_num(args[1], &id)) {
        return iw_reserve(cfg, st, strcmp(cmd, "reserve-add") == 0,
                          company, id);
    } else {
        return iw_usage();
    }
    printf("{\"err\":\"%s\"}\n", scb_strerror(err));
    return err ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct buf problems;
    struct store *st = NULL;
    int rc;

    if (argc < 2)
        return iw_usage();
    mem_install_hooks();
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, mem_malloc, mem_free,
                             mem_realloc, mem_strdup, mem_calloc) != 0)
        return 1;
    buf_init(&problems, 1 << 16);
    if (config_load(&cfg, iw_getenv, NULL, &problems) != SCB_OK) {
        fputs(problems.data ? problems.data : "config failed\n", stderr);
        buf_release(&problems);
        curl_global_cleanup();
        return 2;
    }
    buf_release(&problems);
    log_init(cfg.log_level, strcmp(argv[1], "run") == 0 ? 1 : 2);
    if (strcmp(argv[1], "run") == 0 && argc == 2) {
        rc = iw_run(&cfg);
    } else {
        st = store_new(&cfg);
        rc = st ? iw_command(&cfg, st, argv[1], argc - 2, argv + 2) : 1;
        store_free(st);
    }
    metrics_reset();
    config_release(&cfg);
    curl_global_cleanup();
    return rc;
}
