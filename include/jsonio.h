/* SPDX-License-Identifier: MIT */
/*
 * Bounded JSON parsing and typed getters over cJSON. Getters answer
 * SCB_EINVAL when a key is missing or of the wrong type, and set their
 * output only on success. Strings they return are borrowed from the cJSON
 * tree and live as long as it does.
 */
#ifndef SCB_JSONIO_H
#define SCB_JSONIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"

/*
 * Parses exactly 'len' bytes (no NUL needed). SCB_ETOOBIG if len > max,
 * SCB_EPARSE if not one complete JSON value, SCB_ENOMEM. On SCB_OK
 * *out_root is new; free it with cJSON_Delete().
 */
enum scb_err jsonio_parse(const char *text, size_t len, size_t max,
                          cJSON **out_root);

enum scb_err jsonio_get_str(const cJSON *obj, const char *key,
                            const char **out_s);

/* An integral number within [min, max]. */
enum scb_err jsonio_get_i64(const cJSON *obj, const char *key, int64_t min,
                            int64_t max, int64_t *out_v);

enum scb_err jsonio_get_bool(const cJSON *obj, const char *key,
                             bool *out_v);

/* A JSON number turned into cents by the rule of ddi.md (llround). */
enum scb_err jsonio_get_cents(const cJSON *obj, const char *key,
                              int64_t *out_cents);

/* The string under 'key', or 'dflt' when absent, null or not a string. */
const char *jsonio_str_or(const cJSON *obj, const char *key,
                          const char *dflt);

/* The integer under 'key', or 'dflt' when absent or not integral. */
int64_t jsonio_i64_or(const cJSON *obj, const char *key, int64_t dflt);

/* Prints 'item' unformatted into a new string (free with mem_free()). */
char *jsonio_print(const cJSON *item);

#endif
