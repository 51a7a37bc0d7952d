/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the unit tests that need the suite's real Redis: a
 * fixture holding a hand-made struct config and one store connection on
 * SCB_TEST_REDIS_URL, its database flushed.
 */
#ifndef SCB_TESTS_CHECK_H
#define SCB_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "store.h"

struct check_redis {
    struct config cfg;
    struct store *st;
};

/*
 * New fixture with keys under 'prefix' (and a 30-day retention), or NULL
 * with a message when SCB_TEST_REDIS_URL is missing or Redis refuses.
 * Callers may set more cfg fields afterwards.
 */
static inline struct check_redis *check_redis_new(const char *prefix)
{
    const char *url = getenv("SCB_TEST_REDIS_URL");
    struct check_redis *f = calloc(1, sizeof(*f));
    redisReply *r = NULL;

    if (!url || !f ||
        sscanf(url, "redis://%255[^:]:%d/%d", f->cfg.redis_host,
               &f->cfg.redis_port, &f->cfg.redis_db) != 3) {
        fprintf(stderr, "SCB_TEST_REDIS_URL is not set or malformed\n");
        free(f);
        return NULL;
    }
    snprintf(f->cfg.redis_prefix, sizeof(f->cfg.redis_prefix), "%s",
             prefix);
    f->cfg.order_retention_s = 30 * 24 * 3600;
    f->st = store_new(&f->cfg);
    if (!f->st || store_cmd(f->st, &r, "FLUSHDB") != SCB_OK) {
        fprintf(stderr, "redis at SCB_TEST_REDIS_URL refused: %s\n",
                f->st ? store_errstr(f->st) : "out of memory");
        store_free(f->st);
        free(f);
        return NULL;
    }
    freeReplyObject(r);
    return f;
}

static inline void check_redis_free(struct check_redis *f)
{
    if (!f)
        return;
    store_free(f->st);
    free(f);
}

#endif
