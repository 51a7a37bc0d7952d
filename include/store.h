/* SPDX-License-Identifier: MIT */
/*
 * Redis access through hiredis. A struct store is one connection and is
 * NOT thread-safe: each thread owns one, or borrows one from a
 * store_pool. A transport failure (hiredis NULL reply) drops the
 * connection; the next call reconnects. A Redis error reply is
 * SCB_ESTORECMD and keeps the connection.
 *
 * Keys: every key scbridge writes is "<SCBRIDGE_REDIS_PREFIX>v1:<rest>";
 * build them with store_key().
 */
#ifndef SCB_STORE_H
#define SCB_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "config.h"
#include "err.h"

#define STORE_SCHEMA "v1"

struct store;

/* A Lua script run by EVALSHA, loaded again on NOSCRIPT. */
struct store_script {
    const char *name; /* for logs */
    const char *lua;
};

/*
 * New connection handle for 'cfg' (borrowed; must outlive it). Does not
 * connect: the first command does. NULL only on OOM.
 */
struct store *store_new(const struct config *cfg);
void store_free(struct store *st);

/*
 * Connects if not connected: AUTH, SELECT, then the start-up checks of
 * operations.md ("Redis"): refuses a server older than 6.2
 * (SCB_EVERSION); sets scbridge_redis_config_warning{check} from
 * CONFIG GET where allowed. SCB_ESTORE when unreachable.
 */
enum scb_err store_connect(struct store *st);

/* True when connected and the last command did not break the link. */
bool store_connected(const struct store *st);

/* PING; SCB_OK when Redis answered PONG. */
enum scb_err store_ping(struct store *st);

/*
 * Runs one command (hiredis format). On SCB_OK *out_reply is new (free
 * with freeReplyObject()); an error reply is SCB_ESTORECMD (text in
 * store_errstr()); a broken link SCB_ESTORE.
 */
enum scb_err store_cmd(struct store *st, redisReply **out_reply,
                       const char *fmt, ...);

/* The same with an argument vector (binary-safe). */
enum scb_err store_cmd_argv(struct store *st, redisReply **out_reply,
                            int argc, const char **argv,
                            const size_t *argvlen);

/*
 * Runs 'script' with 'nkeys' keys followed by the other arguments in
 * argv (argc in all). Same reply rules as store_cmd().
 */
enum scb_err store_eval(struct store *st, const struct store_script *script,
                        redisReply **out_reply, int nkeys, int argc,
                        const char **argv, const size_t *argvlen);

/*
 * Reply timeout of the next commands, in ms (blocking reads need more
 * than their BLOCK time). 0 restores the default.
 */
void store_set_timeout_ms(struct store *st, int ms);

/* Detail of the last failure (never a secret); "" when none. */
const char *store_errstr(const struct store *st);

/* Appends "<prefix>v1:" and then the formatted rest to 'out'. */
enum scb_err store_key(const struct store *st, struct buf *out,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The full key prefix, "<prefix>v1:". */
const char *store_prefix(const struct store *st);

/*
 * A locked pool of connections for threads that do not own one (HTTP
 * handlers). store_pool_get() never blocks: it reuses an idle handle or
 * makes a new one (NULL on OOM); store_pool_put() returns it.
 */
struct store_pool;
struct store_pool *store_pool_new(const struct config *cfg);
void store_pool_free(struct store_pool *pool);
struct store *store_pool_get(struct store_pool *pool);
void store_pool_put(struct store_pool *pool, struct store *st);

#endif
