/* sip/tsx: RFC 3261 section 17 transactions with the RFC 6026 corrections.
 *
 * A transaction has two embedded timers: `rtx` (retransmission: A, E, G) and
 * `end` (B, D, F, H, I, J, K, L, M). It lives in the layer's hash table from
 * creation until it terminates. */
#include "sip/tsx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/arena.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/write.h"

#define MAGIC "z9hG4bK"
#define KEY_MAX 512

struct sps_tsx_layer {
	struct sps_loop *loop;
	struct sps_tsx_conf conf;
	sps_tsx_send_h *send_h;
	void *arg;
	struct sps_tsx **buckets; /* chained by tsx->next */
	size_t nbuckets;          /* power of two */
	size_t count;
	struct sps_arena *arena;  /* scratch: re-parsing a request to build an ACK */
};

/* Invariants: `layer` is NULL once terminated (and the tsx is out of the
 * table); msg/msg_len hold the last response sent (server) or the request
 * (client), malloc'd, while something may still need them: a server
 * transaction drops its 2xx in Accepted (RFC 6026 7.1: retransmitted
 * INVITEs are absorbed, 2xx retransmissions come from the TU), a client
 * transaction its request once a final response came (the ACK for a
 * non-2xx is built by then). Answered INVITEs stay 32 s, so this matters. */
struct sps_tsx {
	struct sps_tsx *next; /* hash chain */
	struct sps_tsx_layer *layer;
	uint32_t hash;
	bool server, invite;
	enum sps_tsx_state state;
	unsigned status;
	struct sps_tsx_dest dest;
	char *msg;
	size_t msg_len;
	char *ack; /* client INVITE: the ACK sent for a non-2xx final */
	size_t ack_len;
	struct sps_timer rtx, end;
	uint32_t rtx_ms;
	sps_tsx_resp_h *h;
	void *arg;
	void *udata;
	size_t key_len;
	char key[]; /* key_len bytes, sized to the key */
};

static const char *const state_names[] = {"Calling",   "Trying",   "Proceeding", "Completed",
					  "Confirmed", "Accepted", "Terminated"};

const char *sps_tsx_state_name(enum sps_tsx_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

static bool reliable(const struct sps_tsx *t) { return t->dest.tp != SPS_TP_UDP; }

static uint32_t fnv(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

/* ---- keys (RFC 3261 17.1.3, 17.2.3) ---- */

static void key_put(char *k, size_t *n, struct sps_slice s, bool lower)
{
	for (size_t i = 0; i < s.l && *n < KEY_MAX - 1; i++) {
		char c = s.p[i];
		if (lower && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		k[(*n)++] = c;
	}
	if (*n < KEY_MAX - 1)
		k[(*n)++] = '\n';
}

static bool rfc3261_branch(struct sps_slice branch)
{
	return branch.l > sizeof(MAGIC) - 1 && memcmp(branch.p, MAGIC, sizeof(MAGIC) - 1) == 0;
}

static void key_method(char *k, size_t *n, enum sps_sip_method meth, struct sps_slice method)
{
	if (meth == SPS_METHOD_ACK)
		meth = SPS_METHOD_INVITE;
	if (meth != SPS_METHOD_OTHER)
		key_put(k, n, sps_slice_cstr(sps_sip_method_name(meth)), false);
	else
		key_put(k, n, method, false);
}

/* Client key: 'C', branch, CSeq method (RFC 3261 17.1.3). 0 when the
 * branch is not an RFC 3261 one. */
static size_t client_key(char k[KEY_MAX], struct sps_slice branch, enum sps_sip_method meth,
			 struct sps_slice method)
{
	if (!rfc3261_branch(branch))
		return 0;
	size_t n = 0;
	k[n++] = 'C';
	key_put(k, &n, branch, false);
	key_method(k, &n, meth, method);
	return n;
}

/* Server key: 'S', branch, sent-by host and port, method (ACK counts as
 * INVITE, RFC 3261 17.2.3). Client key: see client_key. Returns the
 * length, 0 when the message has no RFC 3261 branch. */
static size_t make_key(char k[KEY_MAX], bool server, const struct sps_sip_msg *m,
		       enum sps_sip_method meth, struct sps_slice method)
{
	const struct sps_via *v = m->via;
	if (!v)
		return 0;
	if (!server)
		return client_key(k, v->branch, meth, method);
	if (!rfc3261_branch(v->branch))
		return 0;
	size_t n = 0;
	k[n++] = 'S';
	key_put(k, &n, v->branch, false);
	char port[8];
	int pl = snprintf(port, sizeof(port), "%u", v->port ? v->port : 0);
	key_put(k, &n, v->host, true);
	key_put(k, &n, sps_slice_make(port, (size_t)pl), false);
	key_method(k, &n, meth, method);
	return n;
}

/* ---- table ---- */

static struct sps_tsx *table_find(struct sps_tsx_layer *l, const char *k, size_t n)
{
	uint32_t h = fnv(k, n);
	for (struct sps_tsx *t = l->buckets[h & (l->nbuckets - 1)]; t; t = t->next)
		if (t->hash == h && t->key_len == n && memcmp(t->key, k, n) == 0)
			return t;
	return NULL;
}

static int table_grow(struct sps_tsx_layer *l)
{
	size_t nb = l->nbuckets * 2;
	struct sps_tsx **b = calloc(nb, sizeof(*b));
	if (!b)
		return ENOMEM;
	for (size_t i = 0; i < l->nbuckets; i++) {
		struct sps_tsx *t = l->buckets[i];
		while (t) {
			struct sps_tsx *next = t->next;
			t->next = b[t->hash & (nb - 1)];
			b[t->hash & (nb - 1)] = t;
			t = next;
		}
	}
	free(l->buckets);
	l->buckets = b;
	l->nbuckets = nb;
	return 0;
}

static int table_add(struct sps_tsx_layer *l, struct sps_tsx *t)
{
	if (l->count >= l->nbuckets && table_grow(l) != 0 && l->count >= 4 * l->nbuckets)
		return ENOMEM;
	struct sps_tsx **b = &l->buckets[t->hash & (l->nbuckets - 1)];
	t->next = *b;
	*b = t;
	l->count++;
	return 0;
}

static void table_del(struct sps_tsx_layer *l, struct sps_tsx *t)
{
	for (struct sps_tsx **pp = &l->buckets[t->hash & (l->nbuckets - 1)]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			t->next = NULL;
			l->count--;
			return;
		}
	}
}

/* ---- life cycle ---- */

static void tsx_destroy(void *obj)
{
	struct sps_tsx *t = obj;
	sps_timer_cancel(&t->rtx);
	sps_timer_cancel(&t->end);
	free(t->msg);
	free(t->ack);
}

/* Leave the table and drop the layer's reference. The caller must hold its
 * own reference when it still uses t afterwards. */
static void terminate(struct sps_tsx *t)
{
	if (!t->layer)
		return;
	sps_timer_cancel(&t->rtx);
	sps_timer_cancel(&t->end);
	t->state = SPS_TSX_TERMINATED;
	table_del(t->layer, t);
	t->layer = NULL;
	sps_mem_deref(t);
}

static void tell(struct sps_tsx *t, unsigned code, const struct sps_sip_msg *resp)
{
	if (!t->h)
		return;
	sps_mem_ref(t);
	t->h(t, code, resp, t->arg);
	sps_mem_deref(t);
}

/* A send failed: a client tells its user 503 (RFC 3261 17.1.4, 8.1.3.1), a
 * server transaction tells of it too (17.2.4); both terminate. */
static void transport_error(struct sps_tsx *t)
{
	sps_mem_ref(t);
	terminate(t);
	tell(t, 503, NULL);
	sps_mem_deref(t);
}

static int send_bytes(struct sps_tsx *t, const char *buf, size_t len)
{
	if (!t->layer)
		return ESHUTDOWN;
	return t->layer->send_h(&t->dest, buf, len, t->layer->arg);
}

static void start(struct sps_tsx *t, struct sps_timer *tm, uint64_t ms, sps_timer_h *h)
{
	/* ENOMEM here would leave a transaction without its timer: terminate
	 * rather than leak it in the table */
	if (sps_timer_start(t->layer->loop, tm, ms, h, t) != 0)
		terminate(t);
}

static void end_fired(void *arg)
{
	struct sps_tsx *t = arg;
	sps_mem_ref(t);
	enum sps_tsx_state s = t->state;
	terminate(t);
	/* Timer B/F: no final response in time (17.1.1.2, 17.1.2.2) -> 408.
	 * Timer H: the ACK never came (17.2.1) -> the TU hears 408. */
	if ((!t->server && (s == SPS_TSX_CALLING || s == SPS_TSX_TRYING ||
			    (s == SPS_TSX_PROCEEDING && !t->invite))) ||
	    (t->server && t->invite && s == SPS_TSX_COMPLETED))
		tell(t, 408, NULL);
	sps_mem_deref(t);
}

/* Timers A, E (client request) and G (server response): resend what we
 * hold and double the interval (capped at T2 except for Timer A). */
static void rtx_fired(void *arg)
{
	struct sps_tsx *t = arg;
	if (send_bytes(t, t->msg, t->msg_len) != 0) {
		transport_error(t);
		return;
	}
	const struct sps_tsx_conf *c = &t->layer->conf;
	uint32_t next = t->rtx_ms * 2;
	if (!(t->invite && !t->server) && next > c->t2)
		next = c->t2; /* 17.1.2.2 Timer E, 17.2.1 Timer G: min(2T, T2) */
	if (!t->server && !t->invite && t->state == SPS_TSX_PROCEEDING)
		next = c->t2; /* 17.1.2.2: in Proceeding, every T2 */
	t->rtx_ms = next;
	start(t, &t->rtx, next, rtx_fired);
}

static struct sps_tsx *tsx_alloc(struct sps_tsx_layer *l, const char *key, size_t klen,
				 const struct sps_tsx_dest *dest)
{
	struct sps_tsx *t = sps_mem_zalloc(sizeof(*t) + klen, tsx_destroy);
	if (!t)
		return NULL;
	sps_timer_init(&t->rtx);
	sps_timer_init(&t->end);
	memcpy(t->key, key, klen);
	t->key_len = klen;
	t->hash = fnv(key, klen);
	t->dest = *dest;
	t->layer = l;
	return t;
}

/* The bytes in t->msg are needed no more (see struct sps_tsx). */
static void drop_msg(struct sps_tsx *t)
{
	free(t->msg);
	t->msg = NULL;
	t->msg_len = 0;
}

static int keep(char **dst, size_t *dlen, const char *buf, size_t len)
{
	char *p = malloc(len ? len : 1);
	if (!p)
		return ENOMEM;
	memcpy(p, buf, len);
	free(*dst);
	*dst = p;
	*dlen = len;
	return 0;
}

/* ---- layer ---- */

int sps_tsx_layer_new(struct sps_tsx_layer **out, struct sps_loop *loop,
		      const struct sps_tsx_conf *conf, sps_tsx_send_h *send_h, void *arg)
{
	if (!out || !loop || !send_h)
		return EINVAL;
	struct sps_tsx_layer *l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	l->loop = loop;
	l->send_h = send_h;
	l->arg = arg;
	l->conf.t1 = conf && conf->t1 ? conf->t1 : 500;
	l->conf.t2 = conf && conf->t2 ? conf->t2 : 4000;
	l->conf.t4 = conf && conf->t4 ? conf->t4 : 5000;
	l->nbuckets = 256;
	l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
	if (!l->buckets || sps_arena_new(&l->arena, 2 * SPS_SIP_MAX_MSG) != 0) {
		free(l->buckets);
		free(l);
		return ENOMEM;
	}
	*out = l;
	return 0;
}

void sps_tsx_layer_free(struct sps_tsx_layer *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nbuckets; i++)
		while (l->buckets[i])
			terminate(l->buckets[i]);
	free(l->buckets);
	sps_arena_free(l->arena);
	free(l);
}

size_t sps_tsx_layer_count(const struct sps_tsx_layer *l) { return l ? l->count : 0; }

void sps_tsx_branch(char out[32])
{
	static const char alphabet[] =
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	uint8_t rnd[22];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* getrandom on Linux >= 3.17 does not fail for 22 bytes once the
		 * pool is initialised; fall back to something unique anyway */
		static uint64_t counter;
		counter++;
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (uint8_t)(counter >> (8 * (i % 8))) ^ (uint8_t)(i * 37);
	}
	memcpy(out, MAGIC, sizeof(MAGIC) - 1);
	for (size_t i = 0; i < sizeof(rnd); i++)
		out[sizeof(MAGIC) - 1 + i] = alphabet[rnd[i] % 62];
	out[sizeof(MAGIC) - 1 + sizeof(rnd)] = '\0';
}

/* ---- server transactions ---- */

bool sps_tsx_server_absorb(struct sps_tsx_layer *l, const struct sps_sip_msg *req)
{
	char k[KEY_MAX];
	size_t n = make_key(k, true, req, req->meth, req->method);
	if (!n)
		return false;
	struct sps_tsx *t = table_find(l, k, n);
	if (!t)
		return false;

	if (req->meth == SPS_METHOD_ACK) {
		/* 17.2.1: an ACK in Completed confirms the non-2xx final; later
		 * ones are absorbed. With RFC 6026 an ACK matching an Accepted
		 * transaction is for the 2xx: pass it on. */
		if (!t->invite || t->state == SPS_TSX_ACCEPTED)
			return false;
		if (t->state == SPS_TSX_COMPLETED) {
			t->state = SPS_TSX_CONFIRMED;
			sps_timer_cancel(&t->rtx); /* stop Timer G */
			start(t, &t->end, reliable(t) ? 0 : l->conf.t4, end_fired); /* Timer I */
		}
		return true;
	}
	/* A retransmitted request: answer it with the last response, if any
	 * (17.2.1 Proceeding/Completed, 17.2.2); in Trying there is nothing to
	 * send yet; in Accepted/Confirmed it is absorbed (RFC 6026 7.1). */
	if (t->msg && (t->state == SPS_TSX_PROCEEDING ||
		       (t->state == SPS_TSX_COMPLETED))) {
		sps_mem_ref(t);
		if (send_bytes(t, t->msg, t->msg_len) != 0)
			transport_error(t);
		sps_mem_deref(t);
	}
	return true;
}

int sps_tsx_server_new(struct sps_tsx **out, struct sps_tsx_layer *l,
		       const struct sps_sip_msg *req, const struct sps_tsx_dest *dest,
		       sps_tsx_resp_h *h, void *arg)
{
	if (!l || !req || !req->is_request || req->meth == SPS_METHOD_ACK || !dest)
		return EINVAL;
	char k[KEY_MAX];
	size_t n = make_key(k, true, req, req->meth, req->method);
	if (!n)
		return EINVAL;
	if (table_find(l, k, n))
		return EEXIST;
	struct sps_tsx *t = tsx_alloc(l, k, n, dest);
	if (!t)
		return ENOMEM;
	t->server = true;
	t->invite = req->meth == SPS_METHOD_INVITE;
	t->state = t->invite ? SPS_TSX_PROCEEDING : SPS_TSX_TRYING;
	t->h = h;
	t->arg = arg;
	int err = table_add(l, t);
	if (err) {
		t->layer = NULL;
		sps_mem_deref(t);
		return err;
	}
	if (out)
		*out = sps_mem_ref(t);

	if (t->invite) {
		/* 17.2.1: the transaction sends 100 Trying unless the TU answers
		 * within 200 ms; sending it at once is simpler and allowed. */
		struct sps_mbuf mb;
		sps_mbuf_init(&mb, 0);
		err = sps_sip_resp_write(&mb, req, 100, NULL, NULL, NULL, 0, NULL, SPS_SLICE_NULL);
		if (!err)
			err = sps_tsx_respond(t, 100, mb.buf, mb.len);
		sps_mbuf_free(&mb);
		if (err == ENOMEM)
			return 0; /* the final response may still make it */
	}
	return 0;
}

int sps_tsx_respond(struct sps_tsx *t, unsigned code, const char *buf, size_t len)
{
	if (!t || !t->server || code < 100 || code > 699 || !buf)
		return EINVAL;
	struct sps_tsx_layer *l = t->layer;
	if (!l)
		return ESHUTDOWN;
	bool final = code >= 200;
	if (t->state == SPS_TSX_COMPLETED || t->state == SPS_TSX_CONFIRMED)
		return EALREADY;
	if (t->state == SPS_TSX_ACCEPTED && !(code >= 200 && code < 300))
		return EALREADY; /* RFC 6026 7.1: only further 2xx pass */

	/* an INVITE's 2xx is not kept: nothing resends it from here (Accepted,
	 * RFC 6026 7.1), and answered INVITEs linger 32 s */
	bool accepted = t->invite && final && code < 300;
	int err = 0;
	if (accepted)
		drop_msg(t);
	else if ((err = keep(&t->msg, &t->msg_len, buf, len)) != 0)
		return err;
	t->status = code;
	sps_mem_ref(t);
	err = accepted ? send_bytes(t, buf, len) : send_bytes(t, t->msg, t->msg_len);
	if (err) {
		transport_error(t);
		sps_mem_deref(t);
		return err;
	}
	if (!final) {
		if (t->state == SPS_TSX_TRYING)
			t->state = SPS_TSX_PROCEEDING;
	} else if (t->invite && code < 300) {
		if (t->state != SPS_TSX_ACCEPTED) {
			t->state = SPS_TSX_ACCEPTED; /* RFC 6026 7.1, Timer L */
			start(t, &t->end, 64ull * l->conf.t1, end_fired);
		}
	} else if (t->invite) {
		t->state = SPS_TSX_COMPLETED;
		if (!reliable(t)) {
			t->rtx_ms = l->conf.t1; /* Timer G */
			start(t, &t->rtx, t->rtx_ms, rtx_fired);
		}
		if (t->layer)
			start(t, &t->end, 64ull * l->conf.t1, end_fired); /* Timer H */
	} else {
		t->state = SPS_TSX_COMPLETED; /* 17.2.2, Timer J */
		start(t, &t->end, reliable(t) ? 0 : 64ull * l->conf.t1, end_fired);
	}
	sps_mem_deref(t);
	return 0;
}

struct sps_tsx *sps_tsx_server_find_invite(struct sps_tsx_layer *l,
					   const struct sps_sip_msg *cancel)
{
	char k[KEY_MAX];
	size_t n = make_key(k, true, cancel, SPS_METHOD_INVITE, SPS_SLICE_NULL);
	if (!n)
		return NULL;
	return table_find(l, k, n);
}

/* ---- client transactions ---- */

/* Start a client transaction for buf whose key is k[0..n). */
static int client_start(struct sps_tsx **out, struct sps_tsx_layer *l,
			const struct sps_tsx_dest *dest, const char *buf, size_t len, bool invite,
			const char *k, size_t n, sps_tsx_resp_h *h, void *arg)
{
	if (table_find(l, k, n))
		return EEXIST;
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return ENOMEM;
	memcpy(copy, buf, len);
	struct sps_tsx *t = tsx_alloc(l, k, n, dest);
	if (!t) {
		free(copy);
		return ENOMEM;
	}
	t->msg = copy;
	t->msg_len = len;
	t->invite = invite;
	t->state = invite ? SPS_TSX_CALLING : SPS_TSX_TRYING;
	t->h = h;
	t->arg = arg;
	int err = send_bytes(t, t->msg, t->msg_len);
	if (!err)
		err = table_add(l, t);
	if (err) {
		t->layer = NULL;
		sps_mem_deref(t);
		return err;
	}
	/* 17.1.1.2 Timer A (UDP) and B; 17.1.2.2 Timer E (UDP) and F */
	sps_mem_ref(t);
	if (!reliable(t)) {
		t->rtx_ms = l->conf.t1;
		start(t, &t->rtx, t->rtx_ms, rtx_fired);
	}
	if (t->layer)
		start(t, &t->end, 64ull * l->conf.t1, end_fired);
	err = t->layer ? 0 : ENOMEM;
	if (out && !err)
		*out = t; /* the reference taken above */
	else
		sps_mem_deref(t);
	return err;
}

int sps_tsx_client_new(struct sps_tsx **out, struct sps_tsx_layer *l,
		       const struct sps_tsx_dest *dest, const char *buf, size_t len,
		       sps_tsx_resp_h *h, void *arg)
{
	if (!l || !dest || !buf || len > SPS_SIP_MAX_MSG)
		return EINVAL;
	/* parse a scratch copy (the parser folds in place) for the key */
	char *scratch = malloc(len ? len : 1);
	if (!scratch)
		return ENOMEM;
	memcpy(scratch, buf, len);
	struct sps_sip_msg *m;
	const char *why;
	sps_arena_reset(l->arena);
	char k[KEY_MAX];
	size_t n = 0;
	int err = sps_sip_msg_parse(scratch, len, l->arena, &m, &why);
	if (!err && m->is_request && m->meth != SPS_METHOD_ACK)
		n = make_key(k, false, m, m->meth, m->method);
	bool invite = !err && m->meth == SPS_METHOD_INVITE;
	free(scratch);
	if (!n)
		return EBADMSG;
	return client_start(out, l, dest, buf, len, invite, k, n, h, arg);
}

int sps_tsx_client_send(struct sps_tsx **out, struct sps_tsx_layer *l,
			const struct sps_tsx_dest *dest, const char *buf, size_t len,
			enum sps_sip_method meth, struct sps_slice method,
			struct sps_slice branch, sps_tsx_resp_h *h, void *arg)
{
	if (!l || !dest || !buf || len > SPS_SIP_MAX_MSG || meth == SPS_METHOD_ACK)
		return EINVAL;
	char k[KEY_MAX];
	size_t n = client_key(k, branch, meth, method);
	if (!n)
		return EBADMSG;
	return client_start(out, l, dest, buf, len, meth == SPS_METHOD_INVITE, k, n, h, arg);
}

const char *sps_tsx_request(const struct sps_tsx *t, size_t *len)
{
	if (!t || t->server || !t->msg)
		return NULL;
	*len = t->msg_len;
	return t->msg;
}

/* 17.1.1.3: the ACK for a non-2xx final response: Request-URI, Call-ID,
 * From, CSeq number and the one Via of the request, To of the response, and
 * the request's Route headers. */
static int build_ack(struct sps_tsx *t, const struct sps_sip_msg *resp)
{
	struct sps_tsx_layer *l = t->layer;
	char *scratch = malloc(t->msg_len ? t->msg_len : 1);
	if (!scratch)
		return ENOMEM;
	memcpy(scratch, t->msg, t->msg_len);
	struct sps_sip_msg *req;
	const char *why;
	/* the response lives in another arena: only the request goes here */
	sps_arena_reset(l->arena);
	int err = sps_sip_msg_parse(scratch, t->msg_len, l->arena, &req, &why);
	if (err) {
		free(scratch);
		return err;
	}
	struct sps_sip_newhdr hs[8 + 32];
	size_t nh = 0;
	const struct sps_sip_hdr *via = sps_sip_msg_hdr_next(req, SPS_HDR_VIA, NULL);
	const struct sps_sip_hdr *from = sps_sip_msg_hdr_next(req, SPS_HDR_FROM, NULL);
	const struct sps_sip_hdr *to = sps_sip_msg_hdr_next(resp, SPS_HDR_TO, NULL);
	if (!via || !from || !to) {
		free(scratch);
		return EBADMSG;
	}
	char cseq[32];
	int cl = snprintf(cseq, sizeof(cseq), "%u ACK", req->cseq.num);
	hs[nh++] = (struct sps_sip_newhdr){"Via", via->value};
	hs[nh++] = (struct sps_sip_newhdr){"Max-Forwards", SPS_SLICE_LIT("70")};
	hs[nh++] = (struct sps_sip_newhdr){"From", from->value};
	hs[nh++] = (struct sps_sip_newhdr){"To", to->value};
	hs[nh++] = (struct sps_sip_newhdr){"Call-ID", req->call_id};
	hs[nh++] = (struct sps_sip_newhdr){"CSeq", sps_slice_make(cseq, (size_t)cl)};
	for (const struct sps_sip_hdr *r = sps_sip_msg_hdr_next(req, SPS_HDR_ROUTE, NULL);
	     r && nh < sizeof(hs) / sizeof(hs[0]); r = sps_sip_msg_hdr_next(req, SPS_HDR_ROUTE, r))
		hs[nh++] = (struct sps_sip_newhdr){"Route", r->value};
	struct sps_mbuf mb;
	sps_mbuf_init(&mb, 0);
	err = sps_sip_req_write(&mb, "ACK", req->ruri_s, hs, nh, NULL, SPS_SLICE_NULL);
	if (!err)
		err = keep(&t->ack, &t->ack_len, mb.buf, mb.len);
	sps_mbuf_free(&mb);
	free(scratch);
	return err;
}

bool sps_tsx_client_absorb(struct sps_tsx_layer *l, const struct sps_sip_msg *resp)
{
	if (!l || !resp || resp->is_request || !resp->has_cseq)
		return false;
	char k[KEY_MAX];
	size_t n = make_key(k, false, resp, resp->cseq.meth, resp->cseq.method);
	if (!n)
		return false;
	struct sps_tsx *t = table_find(l, k, n);
	if (!t)
		return false;
	unsigned code = resp->status;
	sps_mem_ref(t);

	switch (t->state) {
	case SPS_TSX_CALLING:
	case SPS_TSX_TRYING:
	case SPS_TSX_PROCEEDING:
		t->status = code;
		if (code < 200) {
			if (t->state != SPS_TSX_PROCEEDING) {
				t->state = SPS_TSX_PROCEEDING;
				if (t->invite)
					sps_timer_cancel(&t->rtx); /* 17.1.1.2: stop Timer A */
				else if (sps_timer_pending(&t->rtx))
					start(t, &t->rtx, l->conf.t2, rtx_fired);
				if (t->invite)
					sps_timer_cancel(&t->end); /* Timer B only in Calling */
			}
			tell(t, code, resp);
			break;
		}
		sps_timer_cancel(&t->rtx);
		if (t->invite && code < 300) {
			/* RFC 6026 8.4: Accepted, Timer M; 2xx retransmissions pass */
			t->state = SPS_TSX_ACCEPTED;
			start(t, &t->end, 64ull * l->conf.t1, end_fired);
		} else if (t->invite) {
			t->state = SPS_TSX_COMPLETED;
			if (build_ack(t, resp) == 0 && send_bytes(t, t->ack, t->ack_len) != 0) {
				transport_error(t);
				break;
			}
			/* Timer D: 32 s for UDP (at least), 0 for reliable */
			start(t, &t->end, reliable(t) ? 0 : 32000, end_fired);
		} else {
			t->state = SPS_TSX_COMPLETED; /* Timer K */
			start(t, &t->end, reliable(t) ? 0 : l->conf.t4, end_fired);
		}
		drop_msg(t); /* no retransmission, no CANCEL after a final */
		tell(t, code, resp);
		break;
	case SPS_TSX_ACCEPTED:
		if (code >= 200 && code < 300)
			tell(t, code, resp); /* RFC 6026 8.4: to the TU */
		break;
	case SPS_TSX_COMPLETED:
		/* 17.1.1.2: a retransmitted final gets the ACK again */
		if (t->invite && t->ack && send_bytes(t, t->ack, t->ack_len) != 0)
			transport_error(t);
		break;
	default:
		break;
	}
	sps_mem_deref(t);
	return true;
}

void sps_tsx_abandon(struct sps_tsx *t)
{
	if (t)
		terminate(t);
}

/* ---- accessors ---- */

struct sps_tsx *sps_tsx_ref(struct sps_tsx *t) { return sps_mem_ref(t); }
enum sps_tsx_state sps_tsx_state(const struct sps_tsx *t) { return t->state; }
bool sps_tsx_is_invite(const struct sps_tsx *t) { return t->invite; }
bool sps_tsx_is_server(const struct sps_tsx *t) { return t->server; }
unsigned sps_tsx_status(const struct sps_tsx *t) { return t->status; }
const struct sps_tsx_dest *sps_tsx_dest(const struct sps_tsx *t) { return &t->dest; }
void sps_tsx_set_udata(struct sps_tsx *t, void *udata) { t->udata = udata; }
void *sps_tsx_udata(const struct sps_tsx *t) { return t->udata; }
