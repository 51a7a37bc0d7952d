/* SPDX-License-Identifier: MIT */
/* Allocation wrappers with a failure-injection hook for tests. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mem.h"

/* Allocations left before failures start; negative: never fail. */
static atomic_long mem_budget = -1;

static int mem_should_fail(void)
{
    long left = atomic_load(&mem_budget);

    while (left >= 0) {
        if (left == 0)
            return 1;
        if (atomic_compare_exchange_weak(&mem_budget, &left, left - 1))
            return 0;
    }
    return 0;
}

void mem_fail_after(long n)
{
    atomic_store(&mem_budget, n);
}

void *mem_malloc(size_t size)
{
    if (mem_should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *mem_calloc(size_t n, size_t size)
{
    if (mem_should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *mem_realloc(void *p, size_t size)
{
    if (mem_should_fail())
        return NULL;
    return realloc(p, size ? size : 1);
}

char *mem_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = mem_malloc(len + 1);

    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *mem_strdup(const char *s)
{
    return mem_strndup(s, strlen(s));
}

void mem_free(void *p)
{
    free(p);
}

void mem_free_secret(void *p, size_t len)
{
    if (!p)
        return;
    explicit_bzero(p, len);
    free(p);
}

static void *mem_cjson_malloc(size_t size)
{
    return mem_malloc(size);
}

void mem_install_hooks(void)
{
    cJSON_Hooks hooks = { mem_cjson_malloc, mem_free };

    cJSON_InitHooks(&hooks);
}
