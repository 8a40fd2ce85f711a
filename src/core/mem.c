/* core/mem: refcounted allocation. */
#include "core/mem.h"

#include <assert.h>
#include <stdlib.h>

struct mem_hdr {
	unsigned nrefs;
	sps_mem_destroy_h *dh;
	_Alignas(16) unsigned char data[];
};

static struct mem_hdr *hdr_of(const void *obj)
{
	return (struct mem_hdr *)((const unsigned char *)obj - offsetof(struct mem_hdr, data));
}

void *sps_mem_zalloc(size_t size, sps_mem_destroy_h *dh)
{
	struct mem_hdr *h = calloc(1, sizeof(*h) + size);
	if (!h)
		return NULL;
	h->nrefs = 1;
	h->dh = dh;
	return h->data;
}

void *sps_mem_ref(void *obj)
{
	if (obj)
		hdr_of(obj)->nrefs++;
	return obj;
}

void *sps_mem_deref(void *obj)
{
	if (!obj)
		return NULL;
	struct mem_hdr *h = hdr_of(obj);
	assert(h->nrefs > 0);
	if (--h->nrefs > 0)
		return NULL;
	if (h->dh)
		h->dh(obj);
	free(h);
	return NULL;
}

unsigned sps_mem_nrefs(const void *obj) { return obj ? hdr_of(obj)->nrefs : 0; }
