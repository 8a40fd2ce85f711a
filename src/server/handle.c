/* server/handle: what the server answers before the registrar and proxy exist
 * (issue 3): OPTIONS to the server gets 200, malformed requests 400 with the
 * fault as reason phrase, Max-Forwards 0 gets 483, unsupported Require 420,
 * methods not served 405 (known) or 501 (unknown). RFC 3261 8.2, 16.3. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SPS_LOG_MODULE "sip"
#include "core/log.h"
#include "server/server_int.h"
#include "sip/salvage.h"
#include "sip/write.h"

/* The methods this server handles now; drives Allow. */
static const char allow_list[] = "OPTIONS, ACK, CANCEL";
/* Option tags we support (RFC 3261 8.2.2.3); none yet. */
static const char *const supported_tags[] = {NULL};

static void send_out(struct sps_server *s, const struct sps_origin *o, const struct sps_sip_msg *req)
{
	struct sps_slice out = sps_mbuf_slice(&s->out);
	if (o->tp != SPS_TP_UDP) {
		/* RFC 3261 18.2.2: back over the connection the request came on */
		sps_conn_send(o->conn, out.p, out.l);
		return;
	}
	/* RFC 3261 18.2.2 and RFC 3581: to the source address; to the source port
	 * when the Via has rport, else to the Via's sent-by port. */
	struct sps_sa dst = o->src;
	if (req && req->via && !req->via->rport)
		sps_sa_set_port(&dst, req->via->port ? req->via->port : 5060);
	int err = sps_udp_send(s->udp, &dst, out.p, out.l);
	if (err)
		SPS_DEBUG("udp send failed: %s", strerror(err));
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

static void respond(struct sps_server *s, const struct sps_origin *o, const struct sps_sip_msg *req,
		    unsigned code, const char *reason, const struct sps_sip_newhdr *extra,
		    size_t nextra)
{
	char tag[17];
	make_tag(req, tag);
	sps_mbuf_reset(&s->out);
	int err = sps_sip_resp_write(&s->out, req, code, reason, code == 100 ? NULL : tag, extra,
				     nextra, NULL, SPS_SLICE_NULL);
	if (err) {
		SPS_DEBUG("cannot build %u response: %s", code, strerror(err));
		return;
	}
	send_out(s, o, req);
}

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

/* Is the Request-URI this server itself (no user part, or our domain / address)? */
static bool for_us(const struct sps_server *s, const struct sps_sip_msg *m)
{
	if (!m->ruri.user.l)
		return true;
	if (sps_slice_eq_cstr_ci(m->ruri.host, s->conf->domain))
		return true;
	char ip[64];
	if (sps_sa_ip_str(&s->local_ip, ip, sizeof(ip)) == 0 &&
	    sps_slice_eq_cstr_ci(m->ruri.host, ip))
		return true;
	return false;
}

static void handle_request(struct sps_server *s, const struct sps_origin *o,
			   const struct sps_sip_msg *m)
{
	const char *why;
	unsigned code = sps_sip_msg_validate(m, &why);

	if (m->meth == SPS_METHOD_ACK)
		return; /* never answered (RFC 3261 17.2.1: absorbed hop-by-hop) */
	if (code) {
		respond(s, o, m, code, why, NULL, 0);
		return;
	}
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
	switch (m->meth) {
	case SPS_METHOD_OPTIONS:
		if (local) {
			struct sps_sip_newhdr hs[] = {
				allow,
				{"Accept", SPS_SLICE_LIT("application/sdp")},
				{"Supported", SPS_SLICE_LIT("")},
			};
			respond(s, o, m, 200, NULL, hs, 3);
		} else {
			respond(s, o, m, 403, "Relaying denied", NULL, 0);
		}
		return;
	case SPS_METHOD_CANCEL:
		/* no transaction to cancel: nothing is forwarded yet */
		respond(s, o, m, 481, NULL, NULL, 0);
		return;
	case SPS_METHOD_OTHER:
		respond(s, o, m, 501, NULL, &allow, 1);
		return;
	default:
		respond(s, o, m, 405, NULL, &allow, 1);
		return;
	}
}

void sps__server_handle(struct sps_server *s, const struct sps_origin *o, char *buf, size_t len)
{
	struct sps_sip_msg *m;
	const char *why = NULL;
	char peer[64] = "";

	sps_arena_reset(s->arena);
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
	/* responses: no client transactions yet, so nothing matches; dropped */
}
