/* SPDX-License-Identifier: MIT */
/* Text for the error codes of enum scb_err. */
#include "err.h"

static const char *const err_text[SCB_ERR_COUNT] = {
    [SCB_OK] = "ok",
    [SCB_ENOMEM] = "out of memory",
    [SCB_EINVAL] = "invalid argument",
    [SCB_ENOTFOUND] = "not found",
    [SCB_ETIMEOUT] = "timed out",
    [SCB_ESTORE] = "redis unavailable",
    [SCB_ESTORECMD] = "redis command failed",
    [SCB_EUPSTREAM] = "upstream failed",
    [SCB_EPERMANENT] = "upstream refused",
    [SCB_EWAIT] = "upstream busy, wait",
    [SCB_EUNKNOWN] = "outcome unknown",
    [SCB_ETOOBIG] = "too large",
    [SCB_EPARSE] = "parse error",
    [SCB_ECONFLICT] = "conflict",
    [SCB_EAUTH] = "not authorized",
    [SCB_EIO] = "i/o error",
    [SCB_EVERSION] = "unknown schema version",
};

const char *scb_strerror(enum scb_err err)
{
    if ((int)err < 0 || err >= SCB_ERR_COUNT || !err_text[err])
        return "unknown error";
    return err_text[err];
}
