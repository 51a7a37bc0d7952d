/* SPDX-License-Identifier: MIT */
/*
 * The background part of the service: the job handlers, the worker
 * threads and the poll scheduler, started and drained as one
 * main_parts[] entry (app.h).
 */
#ifndef SCB_RUNTIME_H
#define SCB_RUNTIME_H

#include <stdint.h>

#include "app.h"
#include "err.h"

struct runtime;

/* Starts workers and the scheduler; sets app->runtime. */
enum scb_err runtime_start(struct app *app);

/*
 * Stops taking jobs and polls, lets running jobs finish until
 * CLOCK_MONOTONIC 'deadline_ms'; unfinished jobs stay unacknowledged
 * for another replica.
 */
void runtime_stop(struct app *app, int64_t deadline_ms);

#endif
