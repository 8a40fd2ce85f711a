/* core/mem: reference-counted objects with a destructor (libre mem_zalloc/mem_deref).
 * For long-lived objects that point at each other: connections, transactions,
 * dialogs, media sessions. Not thread-safe: an object belongs to one loop. */
#ifndef SPS_CORE_MEM_H
#define SPS_CORE_MEM_H

#include <stddef.h>

typedef void(sps_mem_destroy_h)(void *obj);

/* Zeroed object with refcount 1; dh runs when the last reference goes. */
void *sps_mem_zalloc(size_t size, sps_mem_destroy_h *dh);
/* Take a reference; returns obj (NULL-safe). */
void *sps_mem_ref(void *obj);
/* Drop a reference; always returns NULL so callers can write p = sps_mem_deref(p). */
void *sps_mem_deref(void *obj);
unsigned sps_mem_nrefs(const void *obj);

#endif
