/* store/store_cache: the in-memory copy of users and of each AoR's
 * bindings behind sps_store_cache() (see store_int.h for the contract).
 *
 * One chained hash table keyed by (kind, name). A binding list is handed
 * out "held" (a walker count) so that an entry dropped while a caller walks
 * its rows - the caller's callback wrote to the store - is freed only when
 * the last walker lets go. Nothing here knows SQLite: store_sqlite.c
 * decides when entries are filled and dropped. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* Past this many entries the whole cache is cleared (bounded memory; a
 * busy server refills what it uses within a few calls). */
#define CACHE_MAX_ENTRIES 65536
/* An AoR with more rows than this is not cached (read from the database). */
#define CACHE_MAX_ROWS 64

enum kind { CE_USER = 1, CE_AOR = 2 };

/* The string members of struct sps_binding, copied into an entry's pool. */
static const size_t str_fields[] = {
	offsetof(struct sps_binding, aor),	   offsetof(struct sps_binding, user),
	offsetof(struct sps_binding, contact),	   offsetof(struct sps_binding, contact_hdr),
	offsetof(struct sps_binding, instance),	   offsetof(struct sps_binding, call_id),
	offsetof(struct sps_binding, path),	   offsetof(struct sps_binding, transport),
	offsetof(struct sps_binding, source),	   offsetof(struct sps_binding, local),
	offsetof(struct sps_binding, user_agent), offsetof(struct sps_binding, boot_id),
};
#define NSTR (sizeof(str_fields) / sizeof(str_fields[0]))
#define FIELD(b, i) (*(const char **)((char *)(b) + str_fields[i]))

/* Invariant: an entry is in the table exactly while !dead; a dead entry
 * still exists only because walkers > 0. CE_AOR rows point into pool. */
struct sps__cache_entry {
	struct sps__cache_entry *next; /* bucket chain */
	uint32_t hash;
	enum kind kind;
	unsigned walkers;
	bool dead;
	struct sps_user user;      /* CE_USER */
	struct sps_binding *rows;  /* CE_AOR: n rows in query order */
	size_t n;
	char *pool;
	char key[];
};

struct sps__cache {
	struct sps__cache_entry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
};

/* Rows being collected for one AoR (sps__cache_aor_begin .. _end). Strings
 * are kept as offsets into pool until the pool stops moving. */
struct sps__cache_fill {
	char *aor;
	struct sps_binding *rows;
	size_t (*offs)[NSTR];
	size_t n, cap;
	char *pool;
	size_t plen, pcap;
	bool failed;
};

static uint32_t hash_key(enum kind k, const char *key)
{
	uint32_t h = 2166136261u ^ (uint32_t)k;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

int sps__cache_new(struct sps__cache **out)
{
	struct sps__cache *c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->nbuckets = 256;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return ENOMEM;
	}
	*out = c;
	return 0;
}

static void entry_free(struct sps__cache_entry *e)
{
	/* the user row holds HA1s, which are password equivalents */
	if (e->kind == CE_USER)
		memset(&e->user, 0, sizeof(e->user));
	free(e->rows);
	free(e->pool);
	free(e);
}

/* Take e out of the table; free it unless someone walks it. */
static void unlink_entry(struct sps__cache *c, struct sps__cache_entry **pp)
{
	struct sps__cache_entry *e = *pp;
	*pp = e->next;
	e->next = NULL;
	c->count--;
	if (e->walkers)
		e->dead = true;
	else
		entry_free(e);
}

/* Drop every entry of kind k (0: all). */
static void clear_kind(struct sps__cache *c, enum kind k)
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct sps__cache_entry **pp = &c->buckets[i];
		while (*pp) {
			if (!k || (*pp)->kind == k)
				unlink_entry(c, pp);
			else
				pp = &(*pp)->next;
		}
	}
}

void sps__cache_clear(struct sps__cache *c)
{
	if (c)
		clear_kind(c, 0);
}

void sps__cache_clear_aors(struct sps__cache *c)
{
	if (c)
		clear_kind(c, CE_AOR);
}

void sps__cache_free(struct sps__cache *c)
{
	if (!c)
		return;
	clear_kind(c, 0);
	free(c->buckets);
	free(c);
}

static struct sps__cache_entry **find(struct sps__cache *c, enum kind k, const char *key)
{
	uint32_t h = hash_key(k, key);
	struct sps__cache_entry **pp = &c->buckets[h & (c->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->kind == k && strcmp((*pp)->key, key) == 0)
			return pp;
	return NULL;
}

static void drop(struct sps__cache *c, enum kind k, const char *key)
{
	struct sps__cache_entry **pp = find(c, k, key);
	if (pp)
		unlink_entry(c, pp);
}

/* Put e (kind, key and payload set) into the table, replacing an entry
 * with the same key. */
static void insert(struct sps__cache *c, struct sps__cache_entry *e)
{
	drop(c, e->kind, e->key);
	if (c->count >= CACHE_MAX_ENTRIES)
		clear_kind(c, 0);
	if (c->count >= c->nbuckets) {
		size_t nb = c->nbuckets * 2;
		struct sps__cache_entry **b = calloc(nb, sizeof(*b));
		if (b) { /* else longer chains, still correct */
			for (size_t i = 0; i < c->nbuckets; i++)
				for (struct sps__cache_entry *x = c->buckets[i], *n; x; x = n) {
					n = x->next;
					x->next = b[x->hash & (nb - 1)];
					b[x->hash & (nb - 1)] = x;
				}
			free(c->buckets);
			c->buckets = b;
			c->nbuckets = nb;
		}
	}
	e->hash = hash_key(e->kind, e->key);
	struct sps__cache_entry **b = &c->buckets[e->hash & (c->nbuckets - 1)];
	e->next = *b;
	*b = e;
	c->count++;
}

static struct sps__cache_entry *entry_new(enum kind k, const char *key)
{
	size_t kl = strlen(key);
	struct sps__cache_entry *e = calloc(1, sizeof(*e) + kl + 1);
	if (e) {
		e->kind = k;
		memcpy(e->key, key, kl + 1);
	}
	return e;
}

/* ---- users ---- */

bool sps__cache_user_get(struct sps__cache *c, const char *name, struct sps_user *out)
{
	struct sps__cache_entry **pp = find(c, CE_USER, name);
	if (!pp)
		return false;
	*out = (*pp)->user;
	return true;
}

void sps__cache_user_put(struct sps__cache *c, const struct sps_user *u)
{
	struct sps__cache_entry *e = entry_new(CE_USER, u->name);
	if (!e) {
		drop(c, CE_USER, u->name); /* never leave an older copy */
		return;
	}
	e->user = *u;
	insert(c, e);
}

void sps__cache_user_drop(struct sps__cache *c, const char *name)
{
	drop(c, CE_USER, name);
}

/* ---- binding lists ---- */

struct sps__cache_entry *sps__cache_aor_get(struct sps__cache *c, const char *aor)
{
	struct sps__cache_entry **pp = find(c, CE_AOR, aor);
	if (!pp)
		return NULL;
	(*pp)->walkers++;
	return *pp;
}

const struct sps_binding *sps__cache_aor_rows(const struct sps__cache_entry *e, size_t *n)
{
	*n = e->n;
	return e->rows;
}

void sps__cache_aor_release(struct sps__cache_entry *e)
{
	if (e && --e->walkers == 0 && e->dead)
		entry_free(e);
}

void sps__cache_aor_drop(struct sps__cache *c, const char *aor)
{
	drop(c, CE_AOR, aor);
}

struct sps__cache_fill *sps__cache_aor_begin(const char *aor)
{
	struct sps__cache_fill *f = calloc(1, sizeof(*f));
	if (f && !(f->aor = strdup(aor))) {
		free(f);
		f = NULL;
	}
	return f;
}

static bool pool_put(struct sps__cache_fill *f, const char *s, size_t *off)
{
	size_t l = strlen(s ? s : "") + 1;
	if (f->plen + l > f->pcap) {
		size_t cap = f->pcap ? f->pcap * 2 : 512;
		while (cap < f->plen + l)
			cap *= 2;
		char *p = realloc(f->pool, cap);
		if (!p)
			return false;
		f->pool = p;
		f->pcap = cap;
	}
	memcpy(f->pool + f->plen, s ? s : "", l);
	*off = f->plen;
	f->plen += l;
	return true;
}

void sps__cache_aor_add(struct sps__cache_fill *f, const struct sps_binding *b)
{
	if (f->failed)
		return;
	if (f->n == CACHE_MAX_ROWS) {
		f->failed = true;
		return;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 2;
		struct sps_binding *r = realloc(f->rows, cap * sizeof(*r));
		if (r)
			f->rows = r;
		size_t(*o)[NSTR] = r ? realloc(f->offs, cap * sizeof(*o)) : NULL;
		if (!r || !o) {
			f->failed = true;
			return;
		}
		f->offs = o;
		f->cap = cap;
	}
	f->rows[f->n] = *b;
	for (size_t i = 0; i < NSTR; i++)
		if (!pool_put(f, FIELD(b, i), &f->offs[f->n][i])) {
			f->failed = true;
			return;
		}
	f->n++;
}

struct sps__cache_entry *sps__cache_aor_end(struct sps__cache *c, struct sps__cache_fill *f,
					  bool ok)
{
	struct sps__cache_entry *e = NULL;
	if (ok && !f->failed && (e = entry_new(CE_AOR, f->aor)) != NULL) {
		for (size_t r = 0; r < f->n; r++)
			for (size_t i = 0; i < NSTR; i++)
				FIELD(&f->rows[r], i) = f->pool + f->offs[r][i];
		e->rows = f->rows;
		e->n = f->n;
		e->pool = f->pool;
		f->rows = NULL;
		f->pool = NULL;
		insert(c, e);
		e->walkers = 1;
	} else if (ok) {
		drop(c, CE_AOR, f->aor); /* never leave an older copy */
	}
	free(f->rows);
	free(f->offs);
	free(f->pool);
	free(f->aor);
	free(f);
	return e;
}
