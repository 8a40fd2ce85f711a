/* registrar: REGISTER processing (RFC 3261 10.3 steps 4-8, RFC 3327 5.3,
 * RFC 5626 6) over the store's bindings.
 *
 * One request is handled in three phases so that a refused request writes
 * nothing: check everything (To, Contact, expiry, outbound rules), compare
 * with the stored bindings of the AoR (Call-ID/CSeq order, contact limit),
 * then write and build the 200 from what the store holds afterwards. */
#define SPS_LOG_MODULE "registrar"
#include "registrar/registrar_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small arena helpers ---- */

static char *a_strndup(struct sps_arena *a, const char *p, size_t l)
{
	char *s = sps_arena_zalloc(a, l + 1);
	if (s && l)
		memcpy(s, p, l);
	return s;
}

static char *a_slice(struct sps_arena *a, struct sps_slice s)
{
	return a_strndup(a, s.p ? s.p : "", s.p ? s.l : 0);
}

static char *a_str(struct sps_arena *a, const char *s)
{
	return a_strndup(a, s ? s : "", s ? strlen(s) : 0);
}

static char *a_printf(struct sps_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static char *a_printf(struct sps_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *s = sps_arena_zalloc(a, (size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* ---- lifetime ---- */

int sps_registrar_new(struct sps_registrar **out, struct sps_store *st,
		      const struct sps_registrar_conf *conf)
{
	if (!out || !st || !conf || !conf->domain || !*conf->domain)
		return EINVAL;
	if (conf->min_expires < 1 || conf->min_expires > conf->default_expires ||
	    conf->default_expires > conf->max_expires || conf->max_contacts < 1)
		return EINVAL;
	struct sps_registrar *r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	r->st = st;
	r->domain = strdup(conf->domain);
	r->boot_id = strdup(nz(conf->boot_id));
	if (!r->domain || !r->boot_id) {
		sps_registrar_free(r);
		return ENOMEM;
	}
	/* RFC 3261 19.1.4: the host part compares case-insensitively; the AoR
	 * is kept in one canonical form */
	for (char *p = r->domain; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	r->min_expires = conf->min_expires;
	r->default_expires = conf->default_expires;
	r->max_expires = conf->max_expires;
	r->max_contacts = conf->max_contacts;
	*out = r;
	return 0;
}

void sps_registrar_free(struct sps_registrar *r)
{
	if (!r)
		return;
	sps__reg_conn_free(r);
	free(r->domain);
	free(r->boot_id);
	free(r);
}

int sps_registrar_aor(const struct sps_registrar *r, const char *user, char *buf, size_t size)
{
	int n = snprintf(buf, size, "sip:%s@%s", user, r->domain);
	return n < 0 || (size_t)n >= size ? ENOSPC : 0;
}

bool sps__reg_is_stream(const struct sps_binding *b)
{
	return b->transport && *b->transport && strcmp(b->transport, "udp") != 0;
}

/* ---- the Contact values of a 200 ---- */

/* Past the quoted string starting at p ('"'), honouring backslash escapes. */
static const char *skip_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return end;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

char *sps__reg_contact_expires(struct sps_arena *a, const char *hdr, int64_t secs)
{
	const char *p = hdr, *end = hdr + strlen(hdr), *params = end;

	/* RFC 3261 20.10: header parameters follow the '>' of a name-addr, or
	 * the first ';' of an addr-spec (whose ';' parameters are header
	 * parameters, not URI parameters) */
	while (p < end) {
		if (*p == '"') {
			p = skip_quoted(p, end);
			continue;
		}
		if (*p == '<') {
			const char *gt = memchr(p, '>', (size_t)(end - p));
			params = gt ? gt + 1 : end;
			break;
		}
		if (*p == ';') {
			params = p;
			break;
		}
		p++;
	}
	size_t cap = (size_t)(end - hdr) + 32;
	char *out = sps_arena_zalloc(a, cap);
	if (!out)
		return NULL;
	size_t n = (size_t)(params - hdr);
	memcpy(out, hdr, n);
	while (n && is_ws(out[n - 1]))
		n--;
	/* copy every parameter but expires (quoted values may hold ';') */
	p = params;
	while (p < end) {
		while (p < end && (*p == ';' || is_ws(*p)))
			p++;
		const char *s = p;
		while (p < end && *p != ';') {
			if (*p == '"')
				p = skip_quoted(p, end);
			else
				p++;
		}
		struct sps_slice prm = sps_slice_trim(sps_slice_make(s, (size_t)(p - s)));
		if (!prm.l)
			continue;
		const char *eq = memchr(prm.p, '=', prm.l);
		struct sps_slice name =
			sps_slice_trim(sps_slice_make(prm.p, eq ? (size_t)(eq - prm.p) : prm.l));
		if (sps_slice_eq_cstr_ci(name, "expires"))
			continue;
		out[n++] = ';';
		memcpy(out + n, prm.p, prm.l);
		n += prm.l;
	}
	snprintf(out + n, cap - n, ";expires=%lld", (long long)(secs > 0 ? secs : 0));
	return out;
}

/* RFC 3261 20.17: Date in RFC 1123 form, always GMT (no locale). */
static char *http_date(struct sps_arena *a, int64_t now)
{
	static const char wd[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	time_t t = (time_t)now;
	if (!gmtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11)
		return NULL;
	return a_printf(a, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
			mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- REGISTER processing ---- */

/* A stored binding of the AoR, copied into the arena. */
struct existing {
	struct sps_binding b;
	struct sps_uri uri;
	bool uri_ok;
	bool live;  /* expires_at > now */
	int claim;  /* the request contact that updates or removes it, or -1 */
};

/* A Contact of the request. */
struct newc {
	const struct sps_contact *c;
	char *uri;            /* the URI exactly as written */
	uint32_t expires;     /* after the max_expires cap; 0 removes */
	const char *instance; /* +sip.instance without quotes and < >, or "" */
	uint32_t reg_id;      /* 0 unless an RFC 5626 (instance, reg-id) key */
	bool dropped;         /* a later Contact of the request has the same key */
};

struct reg_ctx {
	struct sps_registrar *r;
	const struct sps_sip_msg *req;
	const char *user;
	const struct sps_reg_origin *o;
	int64_t now;
	struct sps_arena *a;
	struct sps_reg_reply *reply;

	char *aor;
	struct newc *nc;
	size_t nnc;
	struct existing *ex;
	size_t nex, capex;
	bool sup_outbound, require_outbound;
	char *path;           /* Path values joined by ", ", or "" */
	size_t npath;
	int err;              /* copy callback failure */
};

#define MAX_ROWS_PER_AOR 4096

static int copy_existing(const struct sps_binding *b, void *arg)
{
	struct reg_ctx *x = arg;
	struct sps_arena *a = x->a;
	if (x->nex == x->capex) {
		size_t cap = x->capex ? x->capex * 2 : 8;
		if (cap > MAX_ROWS_PER_AOR) {
			x->err = EOVERFLOW;
			return 1;
		}
		struct existing *v = sps_arena_zalloc(a, cap * sizeof(*v));
		if (!v) {
			x->err = ENOMEM;
			return 1;
		}
		if (x->nex)
			memcpy(v, x->ex, x->nex * sizeof(*v));
		x->ex = v;
		x->capex = cap;
	}
	struct existing *e = &x->ex[x->nex];
	memset(e, 0, sizeof(*e));
	e->b = *b;
	e->b.aor = a_str(a, b->aor);
	e->b.user = a_str(a, b->user);
	e->b.contact = a_str(a, b->contact);
	e->b.contact_hdr = a_str(a, b->contact_hdr);
	e->b.instance = a_str(a, b->instance);
	e->b.call_id = a_str(a, b->call_id);
	e->b.path = a_str(a, b->path);
	e->b.transport = a_str(a, b->transport);
	e->b.source = a_str(a, b->source);
	e->b.local = a_str(a, b->local);
	e->b.user_agent = a_str(a, b->user_agent);
	e->b.boot_id = a_str(a, b->boot_id);
	if (!e->b.aor || !e->b.user || !e->b.contact || !e->b.contact_hdr || !e->b.instance ||
	    !e->b.call_id || !e->b.path || !e->b.transport || !e->b.source || !e->b.local ||
	    !e->b.user_agent || !e->b.boot_id) {
		x->err = ENOMEM;
		return 1;
	}
	const char *why;
	e->uri_ok = sps_uri_parse(sps_slice_cstr(e->b.contact), &e->uri, &why) == 0;
	e->live = e->b.expires_at > x->now;
	e->claim = -1;
	x->nex++;
	return 0;
}

static bool contact_uri_equal(const struct existing *e, const struct newc *n)
{
	if (e->uri_ok)
		return sps_uri_equal(&e->uri, &n->c->na.uri);
	return strcmp(e->b.contact, n->uri) == 0;
}

/* RFC 3261 10.3 step 7 with RFC 5626 6: a Contact with an (instance,
 * reg-id) key updates the binding with that key; one without updates the
 * bindings whose contact URI is equal (19.1.4). A keyed Contact also takes
 * over a plain binding of the same URI, so that one phone is not listed twice. */
static bool matches(const struct existing *e, const struct newc *n)
{
	if (*n->instance) {
		if (strcmp(e->b.instance, n->instance) == 0 && e->b.reg_id == n->reg_id)
			return true;
		return !*e->b.instance && contact_uri_equal(e, n);
	}
	return contact_uri_equal(e, n);
}

/* The store replaces a row by key (store.h: (aor, contact) without instance,
 * (aor, instance, reg_id) with one): does putting n overwrite e itself? */
static bool same_store_key(const struct existing *e, const struct newc *n)
{
	if (*n->instance)
		return strcmp(e->b.instance, n->instance) == 0 && e->b.reg_id == n->reg_id;
	return !*e->b.instance && strcmp(e->b.contact, n->uri) == 0;
}

/* Two Contacts of one request naming the same binding. */
static bool same_newc(const struct newc *a, const struct newc *b)
{
	if (*a->instance || *b->instance)
		return *a->instance && *b->instance && strcmp(a->instance, b->instance) == 0 &&
		       a->reg_id == b->reg_id;
	return sps_uri_equal(&a->c->na.uri, &b->c->na.uri);
}

static void set_reply(struct sps_reg_reply *reply, unsigned code, const char *reason)
{
	reply->code = code;
	reply->reason = reason;
}

static int add_hdr(struct sps_reg_reply *reply, const char *name, const char *value)
{
	if (!value)
		return ENOMEM;
	if (reply->nhdrs >= SPS_REG_MAX_HDRS - 4)
		return ENOSPC;
	reply->hdrs[reply->nhdrs].name = name;
	reply->hdrs[reply->nhdrs].value = sps_slice_cstr(value);
	reply->nhdrs++;
	return 0;
}

/* "<urn:uuid:...>" or "urn:uuid:..." as written in +sip.instance (RFC 5626
 * 4.1), reduced to the URN. */
static char *instance_of(struct sps_arena *a, struct sps_slice v)
{
	if (v.l >= 2 && v.p[0] == '"' && v.p[v.l - 1] == '"') {
		v.p++;
		v.l -= 2;
	}
	if (v.l >= 2 && v.p[0] == '<' && v.p[v.l - 1] == '>') {
		v.p++;
		v.l -= 2;
	}
	return a_strndup(a, v.p ? v.p : "", v.p ? v.l : 0);
}

/* Supported option tags and the Path vector of the request. */
static int scan_request(struct reg_ctx *x)
{
	const struct sps_sip_msg *m = x->req;
	const struct sps_sip_hdr *h = NULL;
	while ((h = sps_sip_msg_hdr_next(m, SPS_HDR_SUPPORTED, h))) {
		if (sps_slice_eq_cstr_ci(h->value, "outbound"))
			x->sup_outbound = true;
	}
	/* RFC 3327 5.3: the path vector, in the order of the Path values. A
	 * Path without "Supported: path" from the UA is accepted (the RFC's
	 * MAY): sipsec's own edge nodes add Path for phones that never heard
	 * of it, and refusing with 420 would lock those phones out. */
	size_t len = 0;
	for (h = NULL; (h = sps_sip_msg_hdr_next(m, SPS_HDR_PATH, h));) {
		len += h->value.l + 2;
		x->npath++;
	}
	x->path = sps_arena_zalloc(x->a, len + 1);
	if (!x->path)
		return ENOMEM;
	size_t n = 0;
	for (h = NULL; (h = sps_sip_msg_hdr_next(m, SPS_HDR_PATH, h));) {
		if (n) {
			memcpy(x->path + n, ", ", 2);
			n += 2;
		}
		if (h->value.l)
			memcpy(x->path + n, h->value.p, h->value.l);
		n += h->value.l;
	}
	return 0;
}

/* RFC 5626 6: outbound processing applies when we are the first hop (one
 * Via) or the first Path URI carries ;ob (an outbound edge proxy). */
static bool outbound_possible(const struct sps_sip_msg *m)
{
	if (m->count[SPS_HDR_VIA] == 1)
		return true;
	const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, SPS_HDR_PATH, NULL);
	const struct sps_nameaddr *na = h ? h->parsed : NULL;
	struct sps_slice v;
	return na && sps_param_find(na->uri.params, "ob", &v) == 0;
}

/* Phase 1: the Contacts of the request (RFC 3261 10.3 steps 6 and 7). Fills
 * x->nc and returns 0 to go on, or 1 with the refusal in the reply. */
static int check_contacts(struct reg_ctx *x, bool *star)
{
	struct sps_registrar *r = x->r;
	const struct sps_sip_msg *m = x->req;
	unsigned count = m->count[SPS_HDR_CONTACT];
	const struct sps_sip_hdr *h = NULL;
	unsigned nonzero = 0, nonzero_regid = 0;
	bool ob_ok = outbound_possible(m);

	*star = false;
	if (!count)
		return 0;
	x->nc = sps_arena_zalloc(x->a, count * sizeof(*x->nc));
	if (!x->nc) {
		x->err = ENOMEM;
		return 1;
	}
	while ((h = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, h))) {
		const struct sps_contact *c = h->parsed;
		if (!c) {
			set_reply(x->reply, 400, "Bad Contact");
			return 1;
		}
		/* RFC 3261 10.3 step 6: "*" only alone and with Expires: 0 */
		if (c->star) {
			if (count != 1 || m->expires != 0) {
				set_reply(x->reply, 400,
					  "Contact * needs Expires: 0 and no other Contact");
				return 1;
			}
			*star = true;
			return 0;
		}
		struct newc *n = &x->nc[x->nnc];
		n->c = c;
		n->uri = a_slice(x->a, c->na.uri_s);
		/* RFC 3261 10.2.1.1 / 10.3 step 7: the contact's expires parameter,
		 * else the Expires header, else our default */
		int64_t e = c->expires >= 0 ? c->expires
			    : m->expires >= 0 ? m->expires
					      : (int64_t)r->default_expires;
		/* RFC 3261 10.3 step 7: nonzero and below our minimum -> 423 */
		if (e > 0 && e < (int64_t)r->min_expires) {
			set_reply(x->reply, 423, NULL);
			if (add_hdr(x->reply, "Min-Expires",
				    a_printf(x->a, "%u", (unsigned)r->min_expires)))
				x->err = ENOMEM;
			return 1;
		}
		/* ... and above the maximum it MAY be shortened */
		if (e > (int64_t)r->max_expires)
			e = r->max_expires;
		n->expires = (uint32_t)e;
		n->instance = instance_of(x->a, c->instance);
		if (!n->uri || !n->instance) {
			x->err = ENOMEM;
			return 1;
		}
		if (sps_slice_isset(c->reg_id)) {
			uint32_t rid;
			/* RFC 5626 10: reg-id is 1 to 2^31 - 1 */
			if (sps_slice_to_u32(c->reg_id, 0x7fffffffu, &rid) || rid == 0) {
				set_reply(x->reply, 400, "Bad reg-id");
				return 1;
			}
			if (!*n->instance) {
				/* RFC 5626 6: reg-id without instance-id is ignored */
			} else if (!ob_ok) {
				/* RFC 5626 6: not the first hop and no ;ob Path */
				if (x->sup_outbound) {
					set_reply(x->reply, 439, NULL);
					return 1;
				}
			} else {
				n->reg_id = rid;
			}
		}
		if (n->expires) {
			nonzero++;
			if (n->reg_id)
				nonzero_regid++;
		}
		/* RFC 5626 6: Require: outbound when a reg-id was honoured and the
		 * UA supports outbound */
		if (n->reg_id && x->sup_outbound)
			x->require_outbound = true;
		x->nnc++;
	}
	/* RFC 5626 6: a reg-id registers one flow; with other nonzero contacts
	 * the request SHOULD be refused */
	if (nonzero > 1 && nonzero_regid) {
		set_reply(x->reply, 400, "Only one Contact may register when reg-id is used");
		return 1;
	}
	/* the last of several Contacts for one binding wins */
	for (size_t i = 0; i < x->nnc; i++)
		for (size_t j = 0; j < i; j++)
			if (!x->nc[j].dropped && same_newc(&x->nc[j], &x->nc[i]))
				x->nc[j].dropped = true;
	return 0;
}

/* RFC 3261 10.3 step 7: same Call-ID and a CSeq not higher than stored ->
 * abort the update (out of order or a replay). */
static bool out_of_order(const struct reg_ctx *x, const struct existing *e)
{
	return sps_slice_eq(x->req->call_id, sps_slice_cstr(e->b.call_id)) &&
	       x->req->cseq.num <= e->b.cseq;
}

static int begin(struct reg_ctx *x)
{
	if (!x->reply->stored) {
		int rc = sps_store_begin(x->r->st);
		if (rc)
			return rc;
		x->reply->stored = true;
	}
	return 0;
}

/* Take binding e out of the live set. The store deletes by (aor, contact);
 * when another row shares that contact text (RFC 5626 flows of one UA often
 * do) only e must go, so it is rewritten as expired instead (lookups skip
 * it and expire() deletes it). */
static int remove_binding(struct reg_ctx *x, struct existing *e)
{
	bool shared = false;
	for (size_t i = 0; i < x->nex; i++)
		if (&x->ex[i] != e && strcmp(x->ex[i].b.contact, e->b.contact) == 0)
			shared = true;
	int rc = begin(x);
	if (rc)
		return rc;
	if (!shared) {
		rc = sps_store_binding_del(x->r->st, x->aor, e->b.contact);
		return rc == ENOENT ? 0 : rc;
	}
	struct sps_binding b = e->b;
	b.expires_at = x->now;
	b.updated = x->now;
	return sps_store_binding_put(x->r->st, &b);
}

static int put_binding(struct reg_ctx *x, const struct newc *n)
{
	struct sps_registrar *r = x->r;
	const struct sps_reg_origin *o = x->o;
	const struct sps_sip_msg *m = x->req;
	bool stream = strcmp(o->transport, "udp") != 0;
	struct sps_binding b = {
		.aor = x->aor,
		.user = x->user,
		.contact = n->uri,
		.contact_hdr = a_slice(x->a, n->c->na.raw),
		.instance = n->instance,
		.reg_id = n->reg_id,
		.call_id = a_slice(x->a, m->call_id),
		.cseq = m->cseq.num,
		.expires_at = x->now + n->expires,
		.q = n->c->q,
		.path = x->path, /* RFC 3327 5.3: stored with the binding */
		.transport = o->transport,
		.source = nz(o->source),
		.local = nz(o->local),
		.user_agent = a_slice(x->a, m->user_agent),
		/* RFC 5626 6: enough to find the flow again; also plain
		 * connection reuse for UAs without outbound */
		.boot_id = stream ? r->boot_id : "",
		.conn_id = stream ? o->conn_id : 0,
		.outbound = n->reg_id && x->sup_outbound,
		.updated = x->now,
	};
	if (!b.contact_hdr || !b.call_id || !b.user_agent)
		return ENOMEM;
	int rc = begin(x);
	if (!rc)
		rc = sps_store_binding_put(r->st, &b);
	if (rc)
		return rc;
	if (b.conn_id) {
		if (n->expires > x->reply->flow_expires)
			x->reply->flow_expires = n->expires;
		rc = sps__reg_conn_note(r, b.conn_id, x->aor);
	}
	return rc;
}

/* Phase 3 writes: removals first (a delete by contact must not hit a row
 * put by this request), then the new and refreshed bindings. */
static int apply(struct reg_ctx *x)
{
	int rc;
	for (size_t i = 0; i < x->nex; i++) {
		struct existing *e = &x->ex[i];
		if (!e->live || e->claim < 0)
			continue;
		const struct newc *n = &x->nc[e->claim];
		if (n->expires == 0 || !same_store_key(e, n)) {
			if ((rc = remove_binding(x, e)))
				return rc;
		}
	}
	for (size_t i = 0; i < x->nnc; i++) {
		const struct newc *n = &x->nc[i];
		if (n->dropped || n->expires == 0)
			continue;
		if ((rc = put_binding(x, n)))
			return rc;
	}
	return 0;
}

/* Collected Contact values of the 200. */
struct contacts {
	struct reg_ctx *x;
	char **v;
	size_t n, cap;
	int err;
};

static int collect_contact(const struct sps_binding *b, void *arg)
{
	struct contacts *c = arg;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		char **v = sps_arena_zalloc(c->x->a, cap * sizeof(*v));
		if (!v) {
			c->err = ENOMEM;
			return 1;
		}
		if (c->n)
			memcpy(v, c->v, c->n * sizeof(*v));
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n] = sps__reg_contact_expires(c->x->a, nz(b->contact_hdr),
					      b->expires_at - c->x->now);
	if (!c->v[c->n]) {
		c->err = ENOMEM;
		return 1;
	}
	c->n++;
	return 0;
}

/* RFC 3261 10.3 step 8: 200 with every current binding of the AoR, each
 * Contact with its remaining expiry, and a Date. */
static int build_ok(struct reg_ctx *x)
{
	struct sps_reg_reply *reply = x->reply;
	struct contacts c = {.x = x};
	int rc = sps_store_binding_each(x->r->st, x->aor, x->now, collect_contact, &c);
	if (c.err)
		return c.err;
	if (rc)
		return rc;
	set_reply(reply, 200, NULL);
	/* room for Date, Require, Supported and Path; any further bindings go
	 * comma-separated into the last Contact line (RFC 3261 7.3.1) */
	const size_t slots = SPS_REG_MAX_HDRS - 4 - 4;
	for (size_t i = 0; i < c.n; i++) {
		if (i + 1 < slots || c.n <= slots) {
			if ((rc = add_hdr(reply, "Contact", c.v[i])))
				return rc;
			continue;
		}
		size_t len = 0;
		for (size_t j = i; j < c.n; j++)
			len += strlen(c.v[j]) + 2;
		char *s = sps_arena_zalloc(x->a, len + 1);
		if (!s)
			return ENOMEM;
		for (size_t j = i; j < c.n; j++) {
			if (j > i)
				strcat(s, ", ");
			strcat(s, c.v[j]);
		}
		if ((rc = add_hdr(reply, "Contact", s)))
			return rc;
		break;
	}
	if ((rc = add_hdr(reply, "Date", http_date(x->a, x->now))))
		return rc;
	/* RFC 5626 6: the outbound option-tag in Require when a reg-id was used
	 * and the UA supports outbound */
	if (x->require_outbound && (rc = add_hdr(reply, "Require", "outbound")))
		return rc;
	/* RFC 3327 5.3: the Path values are copied into the 200 */
	if (x->npath && (rc = add_hdr(reply, "Path", x->path)))
		return rc;
	const char *sup = x->require_outbound && x->npath ? "outbound, path"
			  : x->require_outbound		 ? "outbound"
			  : x->npath			 ? "path"
							 : NULL;
	if (sup && (rc = add_hdr(reply, "Supported", sup)))
		return rc;
	return 0;
}

int sps_registrar_register(struct sps_registrar *r, const struct sps_sip_msg *req,
			   const char *user, const struct sps_reg_origin *o, int64_t now,
			   struct sps_arena *arena, struct sps_reg_reply *reply)
{
	if (!reply)
		return EINVAL;
	memset(reply, 0, sizeof(*reply));
	reply->code = 500;
	if (!r || !req || !user || !*user || !o || !o->transport || !arena)
		return EINVAL;

	struct reg_ctx x = {.r = r, .req = req, .user = user, .o = o, .now = now, .a = arena,
			    .reply = reply};
	int rc = 0;
	bool star = false;

	if (!req->to || !req->call_id.l || !req->has_cseq) {
		set_reply(reply, 400, "Missing To, Call-ID or CSeq");
		return 0;
	}
	/* RFC 3261 10.3 step 5: the To names an AoR of our domain */
	const struct sps_uri *tu = &req->to->uri;
	if ((tu->scheme != SPS_URI_SIP && tu->scheme != SPS_URI_SIPS) ||
	    !sps_slice_eq_cstr_ci(tu->host, r->domain)) {
		set_reply(reply, 404, NULL);
		return 0;
	}
	/* RFC 3261 10.3 step 4: the authenticated user may change only its own
	 * AoR (no third-party registration) */
	char ubuf[256];
	size_t ulen;
	if (sps_uri_unescape(tu->user, ubuf, sizeof(ubuf), &ulen) || ulen != strlen(user) ||
	    memcmp(ubuf, user, ulen) != 0) {
		set_reply(reply, 403, NULL);
		return 0;
	}
	x.aor = a_printf(arena, "sip:%s@%s", user, r->domain);
	if (!x.aor || (rc = scan_request(&x)))
		goto fail;

	/* phase 1: the request on its own */
	if (check_contacts(&x, &star)) {
		if (x.err) {
			rc = x.err;
			goto fail;
		}
		return 0;
	}

	/* phase 2: against the stored bindings of the AoR (expired ones too,
	 * to know every row that shares a contact text) */
	rc = sps_store_binding_each(r->st, x.aor, 0, copy_existing, &x);
	if (x.err)
		rc = x.err;
	if (rc)
		goto fail;

	if (star) {
		/* RFC 3261 10.3 step 6: remove every binding, but only where the
		 * Call-ID differs or the CSeq is higher; otherwise abort */
		for (size_t i = 0; i < x.nex; i++) {
			if (x.ex[i].live && out_of_order(&x, &x.ex[i])) {
				set_reply(reply, 500, "Out of order");
				return 0;
			}
		}
		if ((rc = begin(&x)) || (rc = sps_store_binding_del_aor(r->st, x.aor)))
			goto fail;
	} else if (x.nnc) {
		size_t nlive = 0, after = 0;
		for (size_t i = 0; i < x.nex; i++) {
			struct existing *e = &x.ex[i];
			if (!e->live)
				continue;
			nlive++;
			for (size_t j = 0; j < x.nnc; j++)
				if (!x.nc[j].dropped && matches(e, &x.nc[j]))
					e->claim = (int)j;
			if (e->claim >= 0 && out_of_order(&x, e)) {
				set_reply(reply, 500, "Out of order");
				return 0;
			}
			if (e->claim < 0)
				after++;
		}
		for (size_t j = 0; j < x.nnc; j++)
			if (!x.nc[j].dropped && x.nc[j].expires)
				after++;
		/* a request that does not add to an AoR already over the limit
		 * (max_contacts lowered) may still refresh or remove */
		if (after > r->max_contacts && after > nlive) {
			set_reply(reply, 403, "Too many contacts");
			return 0;
		}
		if ((rc = apply(&x)))
			goto fail;
	}

	/* phase 3: the 200 from what the store now holds (the batch is read
	 * back on the same connection, uncommitted writes included) */
	if ((rc = build_ok(&x)))
		goto fail;
	return 0;
fail:
	{
		bool stored = reply->stored;
		memset(reply, 0, sizeof(*reply));
		reply->code = 500;
		reply->stored = stored;
	}
	return rc ? rc : ENOMEM;
}
