/* SPDX-License-Identifier: MIT */
/* Bounded JSON parsing and typed getters over cJSON. */
#include <math.h>
#include <string.h>

#include "jsonio.h"
#include "mem.h"
#include "money.h"

enum scb_err jsonio_parse(const char *text, size_t len, size_t max,
                          cJSON **out_root)
{
    char *copy;
    const char *end = NULL;
    cJSON *root;

    if (len > max)
        return SCB_ETOOBIG;
    /* cJSON needs a terminated string; bodies arrive without one. */
    copy = mem_strndup(text, len);
    if (!copy)
        return SCB_ENOMEM;
    if (strlen(copy) != len) {
        mem_free(copy);
        return SCB_EPARSE; /* an embedded NUL */
    }
    root = cJSON_ParseWithOpts(copy, &end, 1);
    mem_free(copy);
    if (!root)
        return SCB_EPARSE;
    *out_root = root;
    return SCB_OK;
}

enum scb_err jsonio_get_str(const cJSON *obj, const char *key,
                            const char **out_s)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsString(v) || !v->valuestring)
        return SCB_EINVAL;
    *out_s = v->valuestring;
    return SCB_OK;
}

static bool jsonio_integral(const cJSON *v, int64_t min, int64_t max)
{
    double d;

    if (!cJSON_IsNumber(v))
        return false;
    d = v->valuedouble;
    return isfinite(d) && d == floor(d) && d >= (double)min &&
           d <= (double)max && fabs(d) < 9007199254740992.0;
}

enum scb_err jsonio_get_i64(const cJSON *obj, const char *key, int64_t min,
                            int64_t max, int64_t *out_v)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!jsonio_integral(v, min, max))
        return SCB_EINVAL;
    *out_v = (int64_t)v->valuedouble;
    return SCB_OK;
}

enum scb_err jsonio_get_bool(const cJSON *obj, const char *key, bool *out_v)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsBool(v))
        return SCB_EINVAL;
    *out_v = cJSON_IsTrue(v);
    return SCB_OK;
}

enum scb_err jsonio_get_cents(const cJSON *obj, const char *key,
                              int64_t *out_cents)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsNumber(v))
        return SCB_EINVAL;
    return money_from_double(v->valuedouble, out_cents);
}

const char *jsonio_str_or(const cJSON *obj, const char *key,
                          const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) && v->valuestring ? v->valuestring : dflt;
}

int64_t jsonio_i64_or(const cJSON *obj, const char *key, int64_t dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!jsonio_integral(v, INT64_MIN, INT64_MAX))
        return dflt;
    return (int64_t)v->valuedouble;
}

char *jsonio_print(const cJSON *item)
{
    return cJSON_PrintUnformatted(item);
}
