/* SPDX-License-Identifier: MIT */
/* Sellercloud's OrderSource channels, their setting names and DDI names. */
#include <string.h>
#include <strings.h>

#include "channel.h"

struct channel_def {
    int value;
    const char *name;
};

/*
 * The OrderSource enumeration, copied from the `enum` and `x-enumNames`
 * of contracts/sellercloud-swagger-2022.json (the same 74 values wherever
 * the Swagger uses it), in its order.
 */
static const struct channel_def channel_defs[CHANNEL_COUNT] = {
    { 0, "Local_Store" },
    { 1, "eBayOrder" },
    { 2, "eBaySingleItem" },
    { 3, "Yahoo" },
    { 4, "Amazon" },
    { 5, "PriceGrabber" },
    { 6, "Website" },
    { 7, "Buy" },
    { 12, "NewEggMall" },
    { 15, "Magento" },
    { 16, "QuickBooks" },
    { 17, "RMS" },
    { 18, "Cart32" },
    { 19, "Sears" },
    { 20, "FBA" },
    { 21, "Wholesale" },
    { 22, "Overstock" },
    { 23, "NewEggdotcom" },
    { 24, "Etsy" },
    { 25, "Bonanza" },
    { 26, "PriceFalls" },
    { 27, "Wayfair" },
    { 28, "UnbeatableSale" },
    { 29, "VendorCentral" },
    { 30, "Hayneedle" },
    { 31, "SmartBargains" },
    { 32, "uBid" },
    { 33, "ATGStores" },
    { 34, "StacksAndStacks" },
    { 35, "Sharkstores" },
    { 36, "BestBuy" },
    { 37, "Kohls" },
    { 38, "Staples" },
    { 39, "OneStopPlus" },
    { 40, "Meijer" },
    { 41, "Sonsi" },
    { 42, "Walmart" },
    { 43, "HSN" },
    { 44, "NewEgg_Business" },
    { 45, "KMart" },
    { 46, "Wish" },
    { 47, "SPRichards" },
    { 48, "FingerHut" },
    { 49, "Groupon" },
    { 50, "Walmart_Marketplace" },
    { 51, "ShopHQ" },
    { 52, "PriceMinister" },
    { 53, "GS" },
    { 54, "DrugStore" },
    { 55, "MercadoLibre" },
    { 56, "JET" },
    { 57, "ElevenMain" },
    { 58, "SearsVendor" },
    { 59, "Choxi" },
    { 60, "TradeMe" },
    { 61, "Tanga" },
    { 62, "Target" },
    { 63, "GrouponMarketplace" },
    { 64, "Reverb" },
    { 65, "BedBathAndBeyond" },
    { 66, "Dropship_Central" },
    { 67, "DSW" },
    { 68, "Houzz" },
    { 69, "Gilt" },
    { 70, "BestBuyDS" },
    { 71, "TopHatter" },
    { 72, "HomeDepot" },
    { 73, "MassGenie" },
    { 74, "Cdiscount" },
    { 75, "GrouponGateway" },
    { 76, "SBN" },
    { 77, "GoogleExpress" },
    { 78, "Target_Plus" },
    { 79, "WFS" },
};

/* Names that cover two channels; they win over an enumeration name. */
static const struct {
    const char *name;
    int channels[2];
} channel_aliases[] = {
    { "eBay", { 1, 2 } },
    { "Walmart", { 42, 50 } },
};

#define CHANNEL_NALIASES (sizeof(channel_aliases) / sizeof(channel_aliases[0]))

const char *channel_enum_name(int value)
{
    for (size_t i = 0; i < CHANNEL_COUNT; i++) {
        if (channel_defs[i].value == value)
            return channel_defs[i].name;
    }
    return NULL;
}

bool channel_is_known(int value)
{
    return channel_enum_name(value) != NULL;
}

int channel_value_at(size_t i)
{
    return i < CHANNEL_COUNT ? channel_defs[i].value : -1;
}

/* A name of 1 to 9 decimal digits, no sign; -1 for anything else. */
static int channel_parse_int(const char *name)
{
    int v = 0;
    size_t n = 0;

    for (; name[n] != '\0'; n++) {
        if (name[n] < '0' || name[n] > '9' || n >= 9)
            return -1;
        v = v * 10 + (name[n] - '0');
    }
    return n ? v : -1;
}

static bool channel_resolve_one(const char *name, int *out_value)
{
    int v = channel_parse_int(name);

    if (v >= 0 && channel_is_known(v)) {
        *out_value = v;
        return true;
    }
    for (size_t i = 0; i < CHANNEL_COUNT; i++) {
        if (strcasecmp(name, channel_defs[i].name) == 0) {
            *out_value = channel_defs[i].value;
            return true;
        }
    }
    return false;
}

bool channel_resolve(const char *name, int out_channels[2], int *out_n)
{
    int v;

    if (!name || strnlen(name, CHANNEL_NAME_MAX + 1) > CHANNEL_NAME_MAX)
        return false;
    for (size_t i = 0; i < CHANNEL_NALIASES; i++) {
        if (strcasecmp(name, channel_aliases[i].name) == 0) {
            out_channels[0] = channel_aliases[i].channels[0];
            out_channels[1] = channel_aliases[i].channels[1];
            *out_n = 2;
            return true;
        }
    }
    if (!channel_resolve_one(name, &v))
        return false;
    out_channels[0] = v;
    *out_n = 1;
    return true;
}

const char *channel_ddi_name(int value)
{
    for (size_t i = 0; i < CHANNEL_NALIASES; i++) {
        if (channel_aliases[i].channels[0] == value ||
            channel_aliases[i].channels[1] == value)
            return channel_aliases[i].name;
    }
    return channel_enum_name(value);
}
