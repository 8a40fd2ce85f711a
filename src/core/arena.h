/* core/arena: per-message memory, freed all at once (nginx pools).
 * Objects allocated here must not outlive the arena and have no destructors. */
#ifndef SPS_CORE_ARENA_H
#define SPS_CORE_ARENA_H

#include <stddef.h>

struct sps_arena;

/* Create an arena whose total allocations may not exceed `limit` bytes
 * (0 = 1 MiB). Returns 0 or ENOMEM. */
int sps_arena_new(struct sps_arena **ap, size_t limit);
/* Zeroed, 16-byte aligned memory, or NULL when the limit is reached. */
void *sps_arena_zalloc(struct sps_arena *a, size_t size);
/* Forget everything allocated, keep the first chunk for reuse. */
void sps_arena_reset(struct sps_arena *a);
void sps_arena_free(struct sps_arena *a);
size_t sps_arena_used(const struct sps_arena *a);

#endif
