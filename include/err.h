/* SPDX-License-Identifier: MIT */
/* Error codes shared by every module, and their text. */
#ifndef SCB_ERR_H
#define SCB_ERR_H

enum scb_err {
    SCB_OK = 0,
    SCB_ENOMEM,     /* allocation failed */
    SCB_EINVAL,     /* bad argument or malformed input */
    SCB_ENOTFOUND,  /* no such key, order, item or route */
    SCB_ETIMEOUT,   /* an outside call took too long */
    SCB_ESTORE,     /* Redis unreachable or the connection broke */
    SCB_ESTORECMD,  /* Redis answered an error to a command */
    SCB_EUPSTREAM,  /* an upstream failed: transient (5xx, conn error) */
    SCB_EPERMANENT, /* an upstream refused for good (4xx, 422) */
    SCB_EWAIT,      /* rate-limited or busy: wait, spend no attempt */
    SCB_EUNKNOWN,   /* a write was sent and its outcome is unknown */
    SCB_ETOOBIG,    /* a size limit was exceeded */
    SCB_EPARSE,     /* JSON or another format could not be parsed */
    SCB_ECONFLICT,  /* a state conflict (lock held, lease lost, 409) */
    SCB_EAUTH,      /* credentials refused */
    SCB_EIO,        /* a system call failed */
    SCB_EVERSION,   /* a schema version this build does not know */
    SCB_ERR_COUNT
};

/* Static text for an error code; never NULL. */
const char *scb_strerror(enum scb_err err);

#endif
