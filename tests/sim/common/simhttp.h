/* SPDX-License-Identifier: MIT */
/*
 * The HTTP core shared by the simulators: a libmicrohttpd server on
 * loopback that collects each request (body included, up to 64 MiB),
 * applies the injected faults, and hands the request to the simulator's
 * handler. Fault rules are set at run time through the control route
 * POST /_sim/faults, which every simulator serves:
 *
 *   {"seed": 7, "rules": [{"method": "GET", "path_prefix": "/rest/api/Orders",
 *     "error_rate": 0.1, "error_status": 503, "retry_after_s": 1,
 *     "latency_ms": 50, "timeout_rate": 0.0, "drop_rate": 0.0}]}
 *
 * ("method" and "path_prefix" optional; an empty "rules" clears them.
 * An optional "error_body" (a string of at most 1023 bytes, JSON text
 * usually) replaces the default body {"Message":"injected fault"} of an
 * injected error, e.g. to inject a 429 in a service's own shape.)
 * The first rule whose method and path prefix match decides; one draw
 * per request picks drop, timeout or error by their rates; latency
 * applies first, to every matching request. "seed" (optional) restarts
 * the fault generator, so a run of requests sees the same faults again.
 * Control routes (/_sim/...) never suffer faults.
 * GET /_sim/faults answers {"seed", "rules": [rule + "fired": {"matched",
 * "error", "latency", "timeout", "drop"}]}: how often each fault fired.
 * A timeout holds the request unanswered until the client gives up or
 * the server stops; a drop closes the connection without an answer.
 */
#ifndef SIM_SIMHTTP_H
#define SIM_SIMHTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

struct simhttp;

struct simhttp_req {
    const char *method;
    const char *path;          /* without the query, percent-decoded */
    struct MHD_Connection *conn; /* for MHD_lookup_connection_value()
                                    and MHD_get_connection_values() */
    const char *body;          /* NUL-terminated; "" when none */
    size_t body_len;
};

struct simhttp_resp {
    int status;                /* 200 unless set */
    char *body;                /* mem_malloc'd or NULL (empty body) */
    const char *content_type;  /* default "application/json" */
    char retry_after[16];      /* sent as Retry-After when not empty */
};

/* Fills 'resp'; runs on the server's threads (must be thread-safe). */
typedef void (*simhttp_handler_fn)(void *ctx, const struct simhttp_req *req,
                                   struct simhttp_resp *resp);

/*
 * Starts serving on 127.0.0.1:port (0: a free port), thread per
 * connection. On success *out_port is the port. NULL on failure.
 */
struct simhttp *simhttp_start(int port, simhttp_handler_fn handler,
                              void *ctx, int *out_port);
void simhttp_stop(struct simhttp *srv);

/* Sets resp->body to a copy of 'json' and resp->status to 'status'. */
void simhttp_reply(struct simhttp_resp *resp, int status, const char *json);

/* Sleeps 'ms' milliseconds, EINTR included. */
void simhttp_sleep_ms(long ms);

/* True when the client closed its side of the connection. */
bool simhttp_peer_gone(struct MHD_Connection *conn);

#endif
