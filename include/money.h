/* SPDX-License-Identifier: MIT */
/*
 * Money as int64 cents, by the rules of ddi.md "Money and totals":
 * Sellercloud numbers become cents by llround(value * 100.0); DDI amounts
 * are strings with one or two decimals in answers and exactly two in what
 * scbridge sends. Pure functions, thread-safe.
 */
#ifndef SCB_MONEY_H
#define SCB_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Longest text money_format() writes, NUL included. */
#define MONEY_STR_MAX 24

/* SCB_EINVAL for NaN, infinity or |value| >= 10^13. */
enum scb_err money_from_double(double value, int64_t *out_cents);

/* Writes "-?[0-9]{1,13}.[0-9]{2}" into out (MONEY_STR_MAX bytes). */
void money_format(int64_t cents, char out[MONEY_STR_MAX]);

/*
 * Parses a DDI amount "-?[0-9]{1,13}.[0-9]{1,2}" as answers may carry
 * it ("19.9", "19.95"); any other form is SCB_EINVAL.
 */
enum scb_err money_parse(const char *s, int64_t *out_cents);

#endif
