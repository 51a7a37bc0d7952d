/* SPDX-License-Identifier: MIT */
/*
 * Allocation wrappers. Every allocation of scbridge's own code goes through
 * them so that tests can make the Nth allocation fail (mem_fail_after()).
 * cJSON and libcurl are routed here too (mem_install_hooks()).
 */
#ifndef SCB_MEM_H
#define SCB_MEM_H

#include <stddef.h>

void *mem_malloc(size_t size);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *p, size_t size);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
void mem_free(void *p);

/* Frees 'p' after wiping 'len' bytes of it (secrets). NULL is a no-op. */
void mem_free_secret(void *p, size_t len);

/*
 * Test hook: after 'n' more successful allocations, every allocation fails
 * until mem_fail_after(-1). Thread-safe (atomic).
 */
void mem_fail_after(long n);

/* Routes cJSON's allocations through these wrappers; call before threads. */
void mem_install_hooks(void);

#endif
