/* SPDX-License-Identifier: MIT */
/*
 * Sellercloud sales channels: the OrderSource enumeration of the 2022
 * Swagger (74 values), the names settings use for them (contracts/
 * operations.md, "Channel names") and the DDI channel of a POS order.
 * Pure lookups over a constant table; thread-safe.
 */
#ifndef SCB_CHANNEL_H
#define SCB_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>

/* Values of the OrderSource enumeration. */
#define CHANNEL_COUNT 74

/* Longest name channel_resolve() looks at; longer names are unknown. */
#define CHANNEL_NAME_MAX 32

/* The enumeration name of 'value' ("Amazon" for 4), or NULL if unknown. */
const char *channel_enum_name(int value);

/* True when 'value' is one of the enumeration's integers. */
bool channel_is_known(int value);

/*
 * The value at position 'i' (0 to CHANNEL_COUNT - 1) in the Swagger's
 * order, for walking every channel; -1 past the end.
 */
int channel_value_at(size_t i);

/*
 * Resolves a channel name of a setting: an enumeration name matched
 * without regard to case, the decimal integer of a known value, or an
 * alias, "eBay" = {1, 2} and "Walmart" = {42, 50}. As a setting name
 * "Walmart" is always the alias; "42" names that channel alone. On
 * success out_channels[0 .. *out_n - 1] hold the integers (one or two)
 * and true is answered; an unknown or NULL name answers false and leaves
 * the outputs alone.
 */
bool channel_resolve(const char *name, int out_channels[2], int *out_n);

/*
 * The DDI `channel` of a POS order from channel 'value': the alias where
 * one covers it ("eBay" for 1 and 2, "Walmart" for 42 and 50), else the
 * enumeration name. NULL for an unknown value.
 */
const char *channel_ddi_name(int value);

#endif
