/* diag/verify: the analyser's core - conversations (flows), TCP reassembly
 * bounded per direction and in total, IP fragment reassembly, and dispatch of
 * each packet to the SIP/TLS (verify_sig.c) or RTP/RTCP (verify_media.c)
 * readers. The report is verify_report.c. */
#include "diag/verify_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "sip/msg.h"

char *sps__strndup(const char *s, size_t l)
{
	char *c = malloc(l + 1);
	if (!c)
		return NULL;
	memcpy(c, s, l);
	c[l] = '\0';
	return c;
}

struct sps__verify *sps__verify_new(const struct sps_verify_limits *lim)
{
	struct sps__verify *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->lim = *lim;
	v->flows = calloc(SPS__BUCKETS, sizeof(*v->flows));
	v->streams = calloc(SPS__BUCKETS, sizeof(*v->streams));
	v->calls = calloc(lim->max_calls, sizeof(*v->calls));
	v->scratch = malloc(SPS_SIP_MAX_MSG + 1);
	if (!v->flows || !v->streams || !v->calls || !v->scratch || sps_arena_new(&v->arena, 0)) {
		sps__verify_free(v);
		return NULL;
	}
	return v;
}

static void flow_free(struct sps__flow *f)
{
	for (int i = 0; i < 2; i++) {
		free(f->d[i].buf);
		free(f->d[i].hs);
	}
	for (unsigned i = 0; i < f->nusers; i++)
		free(f->users[i]);
	free(f->cert_subject);
	free(f->sni);
	free(f);
}

void sps__verify_free(struct sps__verify *v)
{
	if (!v)
		return;
	for (unsigned b = 0; v->flows && b < SPS__BUCKETS; b++) {
		for (struct sps__flow *f = v->flows[b], *n; f; f = n) {
			n = f->hnext;
			flow_free(f);
		}
	}
	for (unsigned b = 0; v->streams && b < SPS__BUCKETS; b++) {
		for (struct sps__stream *s = v->streams[b], *n; s; s = n) {
			n = s->hnext;
			free(s);
		}
	}
	for (unsigned i = 0; i < v->ncalls; i++) {
		struct sps__call *c = v->calls[i];
		free(c->call_id);
		free(c->from);
		free(c->to);
		free(c->leak_flow);
		free(c);
	}
	for (unsigned i = 0; i < SPS__MAX_FRAGS; i++)
		free(v->frags[i].buf);
	if (v->ssl)
		SSL_free(v->ssl);
	if (v->ssl_ctx)
		SSL_CTX_free(v->ssl_ctx);
	free(v->flows);
	free(v->streams);
	free(v->calls);
	free(v->scratch);
	if (v->arena)
		sps_arena_free(v->arena);
	free(v);
}

/* ------------------------------------------------------------ flows */

static uint32_t hash_bytes(uint32_t h, const void *p, size_t l)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < l; i++)
		h = (h ^ b[i]) * 16777619u; /* FNV-1a */
	return h;
}

static uint32_t ep_hash(const struct sps__ep *e)
{
	uint32_t h = hash_bytes(2166136261u, e->addr, 16);
	return hash_bytes(h, &e->port, sizeof(e->port));
}

static bool ep_eq(const struct sps__ep *x, const struct sps__ep *y)
{
	return x->af == y->af && x->port == y->port && memcmp(x->addr, y->addr, 16) == 0;
}

static void pkt_eps(const struct sps__pkt *p, struct sps__ep *src, struct sps__ep *dst)
{
	src->af = dst->af = p->af;
	memcpy(src->addr, p->src, 16);
	memcpy(dst->addr, p->dst, 16);
	src->port = p->sport;
	dst->port = p->dport;
}

void sps__flow_name(const struct sps__flow *f, char *buf, size_t size)
{
	char a[64], b[64];
	sps__ep_fmt(a, sizeof(a), f->a.af, f->a.addr, f->a.port);
	sps__ep_fmt(b, sizeof(b), f->b.af, f->b.addr, f->b.port);
	snprintf(buf, size, "%s <-> %s", a, b);
}

/* The flow of a packet in either direction; *dir is 0 when the packet goes
 * from f->a to f->b. create: make it when absent (NULL at the limit). */
static struct sps__flow *flow_get(struct sps__verify *v, const struct sps__pkt *p, bool create,
				  int *dir)
{
	struct sps__ep s, d;
	pkt_eps(p, &s, &d);
	/* the bucket must not depend on the direction */
	uint32_t h = (ep_hash(&s) ^ ep_hash(&d) ^ p->proto) & (SPS__BUCKETS - 1);
	for (struct sps__flow *f = v->flows[h]; f; f = f->hnext) {
		if (f->proto != p->proto)
			continue;
		if (ep_eq(&f->a, &s) && ep_eq(&f->b, &d)) {
			*dir = 0;
			return f;
		}
		if (ep_eq(&f->a, &d) && ep_eq(&f->b, &s)) {
			*dir = 1;
			return f;
		}
	}
	if (!create)
		return NULL;
	if (v->nflows >= v->lim.max_flows) {
		/* a bare SYN loses nothing yet: its flow is made on its data */
		if (p->len > 0)
			v->flows_dropped++;
		return NULL;
	}
	struct sps__flow *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->proto = p->proto;
	f->a = s;
	f->b = d;
	f->order = v->order++;
	f->hnext = v->flows[h];
	v->flows[h] = f;
	v->nflows++;
	*dir = 0;
	return f;
}

static void dir_drop(struct sps__verify *v, struct sps__dir *d);

/* Unlink and free a flow (only flows that will not be reported). */
static void flow_remove(struct sps__verify *v, struct sps__flow *f)
{
	uint32_t b = (ep_hash(&f->a) ^ ep_hash(&f->b) ^ f->proto) & (SPS__BUCKETS - 1);
	for (struct sps__flow **pp = &v->flows[b]; *pp; pp = &(*pp)->hnext) {
		if (*pp == f) {
			*pp = f->hnext;
			break;
		}
	}
	dir_drop(v, &f->d[0]);
	dir_drop(v, &f->d[1]);
	v->nflows--;
	flow_free(f);
}

/* ------------------------------------------------------------ TCP */

static void dir_drop(struct sps__verify *v, struct sps__dir *d)
{
	v->reasm_bytes -= d->cap;
	free(d->buf);
	d->buf = NULL;
	d->len = d->cap = 0;
}

/* Append to a direction's buffer within the per-direction and total limits.
 * Returns false when they do not allow it. */
static bool dir_append(struct sps__verify *v, struct sps__dir *d, const uint8_t *p, size_t l)
{
	if (d->len + l > v->lim.max_reasm)
		return false;
	if (d->len + l > d->cap) {
		size_t nc = d->cap ? d->cap : 4096;
		while (nc < d->len + l)
			nc *= 2;
		if (nc > v->lim.max_reasm)
			nc = v->lim.max_reasm;
		if (v->reasm_bytes - d->cap + nc > v->lim.max_reasm_total)
			return false;
		uint8_t *nb = realloc(d->buf, nc);
		if (!nb)
			return false;
		v->reasm_bytes = v->reasm_bytes - d->cap + nc;
		d->buf = nb;
		d->cap = nc;
	}
	memcpy(d->buf + d->len, p, l);
	d->len += l;
	return true;
}

/* What a TCP flow carries, from a segment of either direction: a TLS record
 * header or a SIP start line at its start. A flow joined mid-stream (no SYN
 * seen) may start inside a message: then also look inside the segment for a
 * record header whose length leads to the next header or to the segment's
 * end, or for a start line after a line end. Returns the kind (K_UNKNOWN when
 * none) and sets *at to where it starts. */
static enum sps__kind classify(const uint8_t *d, size_t l, bool scan, size_t *at)
{
	*at = 0;
	if (sps__looks_tls(d, l))
		return K_TLS;
	if (sps__looks_sip(d, l))
		return K_SIP;
	for (size_t i = 1; scan && i + 5 <= l; i++) {
		if (sps__looks_tls(d + i, l - i)) {
			size_t nx = i + 5 + (size_t)(d[i + 3] << 8 | d[i + 4]);
			if (nx == l || (nx + 5 <= l && sps__looks_tls(d + nx, l - nx))) {
				*at = i;
				return K_TLS;
			}
		}
		if (d[i - 1] == '\n' && sps__looks_sip(d + i, l - i)) {
			*at = i;
			return K_SIP;
		}
	}
	return K_UNKNOWN;
}

static void tcp_packet(struct sps__verify *v, const struct sps__pkt *p)
{
	int dir;
	/* a flow is created on its SYN or on its first data */
	bool create = (p->tcp_flags & SPS__TCP_SYN) || p->len > 0;
	struct sps__flow *f = flow_get(v, p, create, &dir);
	if (!f)
		return;
	struct sps__dir *d = &f->d[dir];
	if (p->tcp_flags & SPS__TCP_SYN) {
		f->syn_seen = true;
		d->have_next = true;
		d->next = p->seq + 1;
		return;
	}
	if ((f->kind == K_OTHER || (f->kind == K_UNKNOWN && p->len == 0)) &&
	    (p->tcp_flags & (SPS__TCP_FIN | SPS__TCP_RST))) {
		flow_remove(v, f); /* not SIP or TLS: nothing to report, free its slot */
		return;
	}
	if (p->len == 0 || f->kind == K_OTHER || f->gave_up)
		return;
	const uint8_t *data = p->pl;
	size_t len = p->len;
	uint32_t seq = p->seq;
	if (d->have_next) {
		int32_t off = (int32_t)(seq - d->next);
		if (off < 0) { /* a retransmission, or an overlap */
			if ((size_t)-(int64_t)off >= len)
				return;
			data += -(int64_t)off;
			len -= (size_t)-(int64_t)off;
			seq = d->next;
		} else if (off > 0) { /* bytes we did not see */
			f->gaps++;
			dir_drop(v, d);
			d->lost = true;
		}
	} else if (f->kind != K_UNKNOWN) {
		d->lost = true; /* the other direction started the flow mid-stream */
	}
	d->have_next = !p->cut;
	d->next = seq + (uint32_t)len;
	if (p->cut) {
		f->gaps++;
		d->lost = true;
	}
	if (f->kind == K_UNKNOWN) {
		size_t at;
		f->kind = classify(data, len, !f->syn_seen, &at);
		if (f->kind == K_UNKNOWN) {
			/* not SIP, not TLS at its start (or, joined mid-stream, in its
			 * first few segments): ignore the flow */
			if (f->syn_seen || ++f->tries >= 4)
				f->kind = K_OTHER;
			return;
		}
		data += at; /* the tail of a message we did not see */
		len -= at;
	}
	if (!dir_append(v, d, data, len)) {
		/* a message larger than any SIP message or TLS record, or too much
		 * buffered overall: stop reading this flow (named in the report) */
		f->gave_up = true;
		v->reasm_giveups++;
		dir_drop(v, &f->d[0]);
		dir_drop(v, &f->d[1]);
		return;
	}
	sps__stream_parse(v, f, dir);
	/* give memory back when a direction is drained */
	if (d->len == 0 && d->cap > 16384)
		dir_drop(v, d);
}

/* ------------------------------------------------------------ UDP */

static void udp_packet(struct sps__verify *v, const struct sps__pkt *p)
{
	if (p->len == 0)
		return;
	if (sps__looks_sip(p->pl, p->len)) {
		int dir;
		struct sps__flow *f = flow_get(v, p, true, &dir);
		if (!f)
			return;
		f->kind = K_SIP;
		sps__sip_message(v, f, p->pl, p->len);
		return;
	}
	sps__media_packet(v, p);
}

/* ------------------------------------------------------------ IP fragments */

#define FRAG_MAX_AGE 4096 /* fragments seen since a datagram started */

static void frag_drop(struct sps__frag *e)
{
	free(e->buf);
	memset(e, 0, sizeof(*e));
}

static bool frag_complete(const struct sps__frag *e)
{
	if (!e->total)
		return false;
	for (size_t u = 0; u < (e->total + 7) / 8; u++)
		if (!(e->seen[u / 8] & (1u << (u % 8))))
			return false;
	return true;
}

void sps__verify_fragment(struct sps__verify *v, const struct sps__pkt *p)
{
	struct sps__frag *e = NULL, *free_e = NULL, *oldest = NULL;
	uint64_t now = ++v->frag_clock;
	for (unsigned i = 0; i < SPS__MAX_FRAGS; i++) {
		struct sps__frag *x = &v->frags[i];
		if (x->used && now - x->born > FRAG_MAX_AGE) {
			frag_drop(x); /* its other fragments were not captured */
			v->frags_dropped++;
		}
		if (!x->used) {
			if (!free_e)
				free_e = x;
			continue;
		}
		if (x->af == p->af && x->proto == p->proto && x->id == p->frag_id &&
		    memcmp(x->src, p->src, 16) == 0 && memcmp(x->dst, p->dst, 16) == 0)
			e = x;
		else if (!oldest || x->born < oldest->born)
			oldest = x;
	}
	if (!e) {
		if (!free_e) {
			frag_drop(oldest);
			v->frags_dropped++;
			free_e = oldest;
		}
		e = free_e;
		e->buf = malloc(SPS__FRAG_MAX);
		if (!e->buf)
			return;
		e->used = true;
		e->af = p->af;
		e->proto = p->proto;
		e->id = p->frag_id;
		memcpy(e->src, p->src, 16);
		memcpy(e->dst, p->dst, 16);
		e->born = now;
	}
	if (p->cut || p->frag_off + p->len > SPS__FRAG_MAX ||
	    (p->frag_more && (p->len % 8 != 0 || p->len == 0))) {
		frag_drop(e); /* cut by the snap length, or not a valid fragment */
		v->frags_dropped++;
		return;
	}
	memcpy(e->buf + p->frag_off, p->pl, p->len);
	for (size_t u = p->frag_off / 8; u < (p->frag_off + p->len + 7) / 8; u++)
		e->seen[u / 8] |= (uint8_t)(1u << (u % 8));
	if (!p->frag_more)
		e->total = p->frag_off + p->len;
	if (!frag_complete(e))
		return;
	struct sps__pkt q = *p;
	if (sps__pkt_transport(e->proto, e->buf, e->total, &q) == 0)
		sps__verify_packet(v, &q);
	frag_drop(e);
}

void sps__verify_packet(struct sps__verify *v, const struct sps__pkt *p)
{
	if (p->proto == 6)
		tcp_packet(v, p);
	else if (p->proto == 17)
		udp_packet(v, p);
}
