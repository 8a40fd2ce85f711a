/* core/arena: bump allocator over a list of chunks. */
#include "core/arena.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_DEFAULT 4096

struct chunk {
	struct chunk *next;
	size_t size; /* usable bytes in data[] */
	size_t used;
	_Alignas(16) unsigned char data[];
};

/* Invariant: head is the chunk being filled; total counts every chunk's size. */
struct sps_arena {
	struct chunk *head;
	size_t total;
	size_t limit;
	size_t used;
};

static struct chunk *chunk_new(size_t size)
{
	struct chunk *c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

int sps_arena_new(struct sps_arena **ap, size_t limit)
{
	struct sps_arena *a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	a->limit = limit ? limit : (1u << 20);
	a->head = chunk_new(CHUNK_DEFAULT);
	if (!a->head) {
		free(a);
		return ENOMEM;
	}
	a->total = CHUNK_DEFAULT;
	*ap = a;
	return 0;
}

void *sps_arena_zalloc(struct sps_arena *a, size_t size)
{
	size_t need = (size + 15) & ~(size_t)15;
	struct chunk *c = a->head;

	if (need < size || a->used + need > a->limit)
		return NULL;
	if (c->size - c->used < need) {
		size_t csize = need > CHUNK_DEFAULT ? need : CHUNK_DEFAULT;
		struct chunk *n = chunk_new(csize);
		if (!n)
			return NULL;
		n->next = c;
		a->head = n;
		a->total += csize;
		c = n;
	}
	void *p = c->data + c->used;
	c->used += need;
	a->used += need;
	memset(p, 0, size);
	return p;
}

void sps_arena_reset(struct sps_arena *a)
{
	struct chunk *c = a->head;
	/* keep the oldest chunk (the default-sized first one) */
	while (c->next) {
		struct chunk *n = c->next;
		a->total -= c->size;
		free(c);
		c = n;
	}
	c->used = 0;
	a->head = c;
	a->used = 0;
}

void sps_arena_free(struct sps_arena *a)
{
	if (!a)
		return;
	struct chunk *c = a->head;
	while (c) {
		struct chunk *n = c->next;
		free(c);
		c = n;
	}
	free(a);
}

size_t sps_arena_used(const struct sps_arena *a) { return a->used; }
