/* registrar: flows (RFC 5626) - the connection index, closing a flow,
 * lookups for routing, and expiry. */
#define SPS_LOG_MODULE "registrar"
#include "registrar/registrar_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- connection index: conn_id -> AoRs with bindings on it ---- */

static size_t bucket_of(uint64_t id, size_t nbuckets)
{
	/* 64-bit mix (splitmix64 finaliser): connection ids are sequential */
	id ^= id >> 30;
	id *= 0xbf58476d1ce4e5b9ULL;
	id ^= id >> 27;
	id *= 0x94d049bb133111ebULL;
	id ^= id >> 31;
	return (size_t)(id & (nbuckets - 1));
}

static int grow(struct sps_registrar *r)
{
	size_t nb = r->nbuckets ? r->nbuckets * 2 : 256;
	struct sps__reg_conn **b = calloc(nb, sizeof(*b));
	if (!b)
		return ENOMEM;
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct sps__reg_conn *c = r->buckets[i], *next;
		for (; c; c = next) {
			next = c->next;
			size_t k = bucket_of(c->conn_id, nb);
			c->next = b[k];
			b[k] = c;
		}
	}
	free(r->buckets);
	r->buckets = b;
	r->nbuckets = nb;
	return 0;
}

static int insert(struct sps_registrar *r, uint64_t conn_id, const char *aor)
{
	size_t len = strlen(aor);
	struct sps__reg_conn *c = malloc(sizeof(*c) + len + 1);
	if (!c)
		return ENOMEM;
	c->conn_id = conn_id;
	memcpy(c->aor, aor, len + 1);
	size_t k = bucket_of(conn_id, r->nbuckets);
	c->next = r->buckets[k];
	r->buckets[k] = c;
	r->nconns++;
	return 0;
}

int sps__reg_conn_note(struct sps_registrar *r, uint64_t conn_id, const char *aor)
{
	if (!conn_id)
		return 0;
	if (r->nconns >= r->nbuckets * 2) {
		int rc = grow(r);
		if (rc)
			return rc;
	}
	unsigned n = 0;
	for (struct sps__reg_conn *c = r->buckets[bucket_of(conn_id, r->nbuckets)]; c;
	     c = c->next) {
		if (c->conn_id != conn_id)
			continue;
		if (!*c->aor || strcmp(c->aor, aor) == 0)
			return 0; /* known, or already "many" */
		n++;
	}
	/* a connection carrying many AoRs (a PBX trunk, an attack): stop
	 * remembering names, flow_closed scans all bindings once for it */
	return insert(r, conn_id, n >= SPS__REG_CONN_AORS ? "" : aor);
}

/* Unlink every entry of conn_id; returns them as a list. */
static struct sps__reg_conn *take(struct sps_registrar *r, uint64_t conn_id)
{
	struct sps__reg_conn *list = NULL;
	if (!r->nbuckets)
		return NULL;
	struct sps__reg_conn **pp = &r->buckets[bucket_of(conn_id, r->nbuckets)];
	while (*pp) {
		struct sps__reg_conn *c = *pp;
		if (c->conn_id == conn_id) {
			*pp = c->next;
			c->next = list;
			list = c;
			r->nconns--;
		} else {
			pp = &c->next;
		}
	}
	return list;
}

static void free_list(struct sps__reg_conn *c)
{
	while (c) {
		struct sps__reg_conn *next = c->next;
		free(c);
		c = next;
	}
}

void sps__reg_conn_free(struct sps_registrar *r)
{
	for (size_t i = 0; i < r->nbuckets; i++)
		free_list(r->buckets[i]);
	free(r->buckets);
	r->buckets = NULL;
	r->nbuckets = r->nconns = 0;
}

/* ---- flow_closed ---- */

/* Bindings to rewrite, copied out of the walk (the store's strings live
 * only during the callback). */
struct closing {
	const struct sps_registrar *r;
	uint64_t conn_id;
	struct sps_arena *a;
	struct sps_binding *v;
	size_t n, cap;
	int err;
};

static char *dup_a(struct sps_arena *a, const char *s)
{
	s = s ? s : "";
	size_t l = strlen(s);
	char *d = sps_arena_zalloc(a, l + 1);
	if (d)
		memcpy(d, s, l);
	return d;
}

static int collect_closing(const struct sps_binding *b, void *arg)
{
	struct closing *c = arg;
	if (b->conn_id != c->conn_id || !sps__reg_is_stream(b) ||
	    strcmp(b->boot_id ? b->boot_id : "", c->r->boot_id) != 0)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct sps_binding *v = sps_arena_zalloc(c->a, cap * sizeof(*v));
		if (!v) {
			c->err = ENOMEM;
			return 1;
		}
		if (c->n)
			memcpy(v, c->v, c->n * sizeof(*v));
		c->v = v;
		c->cap = cap;
	}
	struct sps_binding *d = &c->v[c->n];
	*d = *b;
	d->aor = dup_a(c->a, b->aor);
	d->user = dup_a(c->a, b->user);
	d->contact = dup_a(c->a, b->contact);
	d->contact_hdr = dup_a(c->a, b->contact_hdr);
	d->instance = dup_a(c->a, b->instance);
	d->call_id = dup_a(c->a, b->call_id);
	d->path = dup_a(c->a, b->path);
	d->transport = dup_a(c->a, b->transport);
	d->source = dup_a(c->a, b->source);
	d->local = dup_a(c->a, b->local);
	d->user_agent = dup_a(c->a, b->user_agent);
	d->boot_id = dup_a(c->a, b->boot_id);
	if (!d->aor || !d->user || !d->contact || !d->contact_hdr || !d->instance ||
	    !d->call_id || !d->path || !d->transport || !d->source || !d->local ||
	    !d->user_agent || !d->boot_id) {
		c->err = ENOMEM;
		return 1;
	}
	c->n++;
	return 0;
}

/* RFC 5626 7: a closed flow invalidates the bindings that use it. */
int sps_registrar_flow_closed(struct sps_registrar *r, uint64_t conn_id)
{
	if (!r || !conn_id)
		return r ? 0 : EINVAL;
	struct sps__reg_conn *list = take(r, conn_id);
	if (!list)
		return 0;
	struct closing c = {.r = r, .conn_id = conn_id};
	int rc = sps_arena_new(&c.a, 0);
	if (rc) {
		free_list(list);
		return rc;
	}
	bool many = false;
	for (struct sps__reg_conn *e = list; e; e = e->next)
		many |= !*e->aor;
	if (many) {
		rc = sps_store_binding_each(r->st, NULL, 0, collect_closing, &c);
	} else {
		for (struct sps__reg_conn *e = list; e && !rc && !c.err; e = e->next)
			rc = sps_store_binding_each(r->st, e->aor, 0, collect_closing, &c);
	}
	if (c.err)
		rc = c.err;
	if (!rc && c.n)
		rc = sps_store_begin(r->st);
	for (size_t i = 0; i < c.n && !rc; i++) {
		/* keep boot_id: "closed" is conn_id 0, whichever run it was */
		c.v[i].conn_id = 0;
		rc = sps_store_binding_put(r->st, &c.v[i]);
	}
	sps_arena_free(c.a);
	free_list(list);
	return rc;
}

/* ---- expiry and lookup ---- */

int sps_registrar_expire(struct sps_registrar *r, int64_t now, unsigned *n)
{
	if (n)
		*n = 0;
	if (!r)
		return EINVAL;
	int rc = sps_store_begin(r->st);
	return rc ? rc : sps_store_binding_expire(r->st, now, n);
}

struct lookup_ctx {
	const struct sps_registrar *r;
	sps_store_binding_h *h;
	void *arg;
};

/* RFC 5626 7 / issue 4: a TCP/TLS binding reached directly (no Path) is
 * usable only over its own connection, and only while that is open in this
 * run: phones behind NAT cannot accept a new one. With a Path the first hop
 * is the proxy in it, whatever became of our connection to it. */
static int lookup_filter(const struct sps_binding *b, void *arg)
{
	struct lookup_ctx *l = arg;
	if (sps__reg_is_stream(b) && !(b->path && *b->path) &&
	    (b->conn_id == 0 || strcmp(b->boot_id ? b->boot_id : "", l->r->boot_id) != 0))
		return 0;
	return l->h(b, l->arg);
}

int sps_registrar_lookup(struct sps_registrar *r, const char *user, int64_t now,
			 sps_store_binding_h *h, void *arg)
{
	char aor[512];
	if (!r || !user || !h)
		return EINVAL;
	if (sps_registrar_aor(r, user, aor, sizeof(aor)))
		return ENOENT; /* no AoR that long was ever stored */
	struct lookup_ctx l = {r, h, arg};
	return sps_store_binding_each(r->st, aor, now, lookup_filter, &l);
}
