/* server/handle: what the server answers before the registrar and proxy exist
 * (issue 3): OPTIONS to the server gets 200, malformed requests 400 with the
 * fault as reason phrase, Max-Forwards 0 gets 483, unsupported Require 420,
 * methods not served 405 (known) or 501 (unknown). RFC 3261 8.2, 16.3. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SPS_LOG_MODULE "sip"
#include "core/log.h"
#include "core/mem.h"
#include "server/server_int.h"
#include "sip/salvage.h"
#include "sip/write.h"
#include "store/store.h"

/* The methods this server handles now; drives Allow. */
static const char allow_list[] =
	"INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, REFER, NOTIFY, MESSAGE, PRACK";
/* Option tags we support (RFC 3261 8.2.2.3): Path (RFC 3327), outbound (RFC 5626). */
static const char *const supported_tags[] = {"path", "outbound", NULL};

/* Where responses to req go (RFC 3261 18.2.2, RFC 3581 4): over the
 * connection it came on; for UDP to the source address, and to the source
 * port when the Via asked for rport, else the Via's sent-by port. */
static void response_dest(const struct sps_origin *o, const struct sps_sip_msg *req,
			  struct sps_tsx_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->tp = o->tp;
	d->addr = o->src;
	d->conn_id = o->conn ? sps_conn_id(o->conn) : 0;
	if (o->tp == SPS_TP_UDP && req && req->via && !req->via->rport)
		sps_sa_set_port(&d->addr, req->via->port ? req->via->port : 5060);
}

/* Send what is in s->out statelessly (no transaction: a malformed request). */
static void send_out(struct sps_server *s, const struct sps_origin *o, const struct sps_sip_msg *req)
{
	struct sps_slice out = sps_mbuf_slice(&s->out);
	struct sps_tsx_dest d;
	response_dest(o, req, &d);
	int err = sps__server_send(&d, out.p, out.l, s);
	if (err)
		SPS_DEBUG("send failed: %s", strerror(err));
}

/* A stable To tag for a stateless answer: the same request retransmitted gets
 * the same tag (RFC 3261 8.2.6.2). */
static void make_tag(const struct sps_sip_msg *m, char tag[17])
{
	uint64_t h = 1469598103934665603ull;
	const struct sps_slice parts[] = {m->call_id, m->from ? m->from->tag : SPS_SLICE_NULL,
					  m->via ? m->via->branch : SPS_SLICE_NULL};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		for (size_t j = 0; j < parts[i].l; j++)
			h = (h ^ (unsigned char)parts[i].p[j]) * 1099511628211ull;
	h ^= m->cseq.num;
	snprintf(tag, 17, "%016llx", (unsigned long long)h);
}

int sps__server_build(struct sps_server *s, const struct sps_sip_msg *req, unsigned code,
		      const char *reason, const struct sps_sip_newhdr *extra, size_t nextra)
{
	char tag[17];
	make_tag(req, tag);
	sps_mbuf_reset(&s->out);
	return sps_sip_resp_write(&s->out, req, code, reason, code == 100 ? NULL : tag, extra,
				  nextra, NULL, SPS_SLICE_NULL);
}

/* Answer req with code: through its server transaction t when there is one
 * (kept for retransmissions), else statelessly. */
void sps__server_respond(struct sps_server *s, const struct sps_origin *o,
			 const struct sps_sip_msg *req, struct sps_tsx *t, unsigned code,
			 const char *reason, const struct sps_sip_newhdr *extra, size_t nextra)
{
	int err = sps__server_build(s, req, code, reason, extra, nextra);
	if (err) {
		SPS_DEBUG("cannot build %u response: %s", code, strerror(err));
		return;
	}
	if (!t) {
		send_out(s, o, req);
		return;
	}
	struct sps_slice out = sps_mbuf_slice(&s->out);
	err = sps_tsx_respond(t, code, out.p, out.l);
	if (err)
		SPS_DEBUG("cannot send %u response: %s", code, strerror(err));
}

#define respond(s, o, m, code, reason, extra, n) \
	sps__server_respond(s, o, m, t, code, reason, extra, n)

/* RFC 3261 8.2.2.3: the first Require/Proxy-Require option tag we lack. */
static const struct sps_sip_hdr *unsupported_tag(const struct sps_sip_msg *m)
{
	static const enum sps_hdr_id ids[] = {SPS_HDR_REQUIRE, SPS_HDR_PROXY_REQUIRE};
	for (size_t k = 0; k < 2; k++) {
		for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, ids[k], NULL); h;
		     h = sps_sip_msg_hdr_next(m, ids[k], h)) {
			bool known = false;
			for (size_t i = 0; supported_tags[i]; i++)
				known |= sps_slice_eq_cstr_ci(h->value, supported_tags[i]);
			if (!known)
				return h;
		}
	}
	return NULL;
}

bool sps__server_is_us(const struct sps_server *s, struct sps_slice host)
{
	if (sps_slice_eq_cstr_ci(host, s->conf->domain))
		return true;
	char ip[64];
	return sps_sa_ip_str(&s->local_ip, ip, sizeof(ip)) == 0 && sps_slice_eq_cstr_ci(host, ip);
}

/* Is the Request-URI this server itself (no user part, or our domain / address)? */
static bool for_us(const struct sps_server *s, const struct sps_sip_msg *m)
{
	return !m->ruri.user.l || sps__server_is_us(s, m->ruri.host);
}

static void handle_request(struct sps_server *s, const struct sps_origin *o,
			   struct sps_sip_msg *m)
{
	const char *why;
	struct sps_tsx *t = NULL;
	unsigned code = sps_sip_msg_validate(m, &why);

	if (code) {
		if (m->meth != SPS_METHOD_ACK)
			respond(s, o, m, code, why, NULL, 0); /* stateless */
		return;
	}
	/* RFC 3261 18.2.1, RFC 3581 4: note where it really came from */
	char ip[64];
	if (sps_sa_ip_str(&o->src, ip, sizeof(ip)) == 0)
		sps_sip_msg_via_received(m, ip, sps_sa_port(&o->src), s->arena);
	/* RFC 3261 17.2.3: retransmissions and ACKs for non-2xx end here */
	if (sps_tsx_server_absorb(s->tsx, m))
		return;
	if (m->meth == SPS_METHOD_ACK) {
		sps__server_proxy(s, o, m, NULL); /* an ACK for a 2xx: end to end */
		return;
	}
	struct sps_tsx_dest d;
	response_dest(o, m, &d);
	int err = sps_tsx_server_new(&t, s->tsx, m, &d, NULL, NULL);
	if (err && err != EINVAL) {
		SPS_DEBUG("no transaction for %.*s: %s", SPS_SLICE_FMT(m->method), strerror(err));
		return;
	}
	/* EINVAL: no RFC 3261 branch (an RFC 2543 peer): answered statelessly */
	sps__server_dispatch(s, o, m, t);
	sps_mem_deref(t);
}

/* Requests with a transaction (t may be NULL: stateless). */
void sps__server_dispatch(struct sps_server *s, const struct sps_origin *o,
			  struct sps_sip_msg *m, struct sps_tsx *t)
{
	bool local = for_us(s, m);
	/* RFC 3261 16.3 step 3: a request to forward with Max-Forwards 0 gets 483;
	 * a request for the server itself is processed (RFC 4475 3.3.11) */
	if (m->max_forwards == 0 && !local) {
		respond(s, o, m, 483, NULL, NULL, 0);
		return;
	}
	if (m->meth != SPS_METHOD_CANCEL) {
		const struct sps_sip_hdr *bad = unsupported_tag(m);
		if (bad) {
			struct sps_sip_newhdr h = {"Unsupported", bad->value};
			respond(s, o, m, 420, NULL, &h, 1);
			return;
		}
	}
	struct sps_sip_newhdr allow = {"Allow", SPS_SLICE_LIT(allow_list)};
	/* to a user, or along a Route: the proxy's (RFC 3261 16) */
	bool to_server = !m->ruri.user.l && !sps_sip_msg_hdr_next(m, SPS_HDR_ROUTE, NULL);
	if (!to_server && m->meth != SPS_METHOD_REGISTER && m->meth != SPS_METHOD_CANCEL) {
		sps__server_proxy(s, o, m, t);
		return;
	}
	switch (m->meth) {
	case SPS_METHOD_OPTIONS:
		if (local) {
			struct sps_sip_newhdr hs[] = {
				allow,
				{"Accept", SPS_SLICE_LIT("application/sdp")},
				{"Supported", SPS_SLICE_LIT("path, outbound")},
			};
			respond(s, o, m, 200, NULL, hs, 3);
		} else {
			respond(s, o, m, 403, "Relaying denied", NULL, 0);
		}
		return;
	case SPS_METHOD_REGISTER:
		sps__server_register(s, o, m, t);
		return;
	case SPS_METHOD_CANCEL: {
		/* RFC 3261 9.2: 200 when the INVITE is known (a UAS that already
		 * answered it finally has nothing more to do), else 481 */
		struct sps_tsx *inv = sps_tsx_server_find_invite(s->tsx, m);
		respond(s, o, m, inv ? 200 : 481, NULL, NULL, 0);
		if (inv)
			sps__server_proxy_cancel(s, inv); /* RFC 3261 16.10 */
		return;
	}
	case SPS_METHOD_OTHER:
		respond(s, o, m, 501, NULL, &allow, 1);
		return;
	default:
		respond(s, o, m, 405, NULL, &allow, 1);
		return;
	}
}

struct sps_arena *sps__server_take_arena(struct sps_server *s)
{
	if (!s->spare_arena && sps_arena_new(&s->spare_arena, 0) != 0)
		return NULL;
	struct sps_arena *a = s->arena;
	s->arena = s->spare_arena;
	s->spare_arena = NULL;
	return a;
}

int sps__server_arena_reserve(struct sps_server *s)
{
	return s->spare_arena ? 0 : sps_arena_new(&s->spare_arena, 0);
}

/* One message in buf (in s->arena, writable: the parser folds in place). */
static void handle_parsed(struct sps_server *s, const struct sps_origin *o, char *buf, size_t len)
{
	struct sps_sip_msg *m;
	const char *why = NULL;
	char peer[64] = "";
	int err = sps_sip_msg_parse(buf, len, s->arena, &m, &why);
	if (err) {
		sps_sa_to_str(&o->src, peer, sizeof(peer));
		SPS_DEBUG("dropped a malformed message from %s: %s", peer, why ? why : "?");
		/* answer 400 when enough of it can be read (RFC 3261 16.3) */
		sps_mbuf_reset(&s->out);
		if (sps_sip_salvage_400(&s->out, buf, len, why ? why : "Bad Request") == 0)
			send_out(s, o, NULL);
		return;
	}
	if (m->is_request)
		handle_request(s, o, m);
	else if (!sps_tsx_client_absorb(s->tsx, m))
		SPS_DEBUG("dropped a response that matches no transaction");
}

void sps__server_handle(struct sps_server *s, const struct sps_origin *o, const char *data,
			size_t len)
{
	sps_arena_reset(s->arena);
	/* the message lives in the arena with its parse (the parser folds lines
	 * in place), so that the proxy can keep both by taking the arena */
	char *buf = sps_arena_zalloc(s->arena, len ? len : 1);
	if (!buf) {
		SPS_DEBUG("dropped a message of %zu bytes: out of memory", len);
		return;
	}
	memcpy(buf, data, len);
	/* the message sees every change committed before it, with one check
	 * for the lookups it makes (store.h) */
	if (s->store)
		sps_store_cache_pin(s->store);
	handle_parsed(s, o, buf, len);
	if (s->store)
		sps_store_cache_unpin(s->store);
}
