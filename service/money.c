/* SPDX-License-Identifier: MIT */
/* Money conversions between Sellercloud numbers, cents and DDI strings. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "money.h"

#define MONEY_LIMIT 1e13

enum scb_err money_from_double(double value, int64_t *out_cents)
{
    if (!isfinite(value) || fabs(value) >= MONEY_LIMIT)
        return SCB_EINVAL;
    *out_cents = (int64_t)llround(value * 100.0);
    return SCB_OK;
}

void money_format(int64_t cents, char out[MONEY_STR_MAX])
{
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents
                             : (uint64_t)cents;

    snprintf(out, MONEY_STR_MAX, "%s%" PRIu64 ".%02" PRIu64,
             cents < 0 ? "-" : "", mag / 100, mag % 100);
}

enum scb_err money_parse(const char *s, int64_t *out_cents)
{
    const char *p = s;
    int64_t whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    int neg = 0;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++digits > 13)
            return SCB_EINVAL;
        whole = whole * 10 + (*p - '0');
    }
    if (digits == 0)
        return SCB_EINVAL;
    if (*p != '.')
        return SCB_EINVAL; /* answers carry one or two decimals */
    {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++fdigits > 2)
                return SCB_EINVAL;
            frac = frac * 10 + (*p - '0');
        }
        if (fdigits == 0)
            return SCB_EINVAL;
        if (fdigits == 1)
            frac *= 10;
    }
    if (*p != '\0')
        return SCB_EINVAL;
    *out_cents = (neg ? -1 : 1) * (whole * 100 + frac);
    return SCB_OK;
}
