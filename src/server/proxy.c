/* server/proxy: the stateful proxy core (RFC 3261 section 16) - requests to
 * registered users forked to every usable binding, best response chosen
 * (16.7), CANCEL passed to pending branches, double Record-Route with flow
 * tokens so that in-dialog requests come back through us and go out over the
 * connection each phone registered on (RFC 5626 5.3 style flow tokens).
 *
 * A Record-Route / Route URI of ours looks like
 *   <sip:F@ADDR:PORT;transport=tcp;lr>
 * where F is "c<conn id>" for the stream connection of the side that entry
 * faces, or "u" for UDP, followed by ".MAC" binding it to the Call-ID
 * (proxy_int.h); the entry facing a side is added with the address and
 * transport that side talks to (RFC 5658 double record-routing).
 *
 * Also here: loop detection (16.3 item 4), Timer C (16.6 item 11, 16.8),
 * merged 401/407 challenges (16.7 item 7), 3xx recursion to local targets
 * (16.5) and the feed of the calls table (calls.h). Media: an INVITE's SDP
 * offer is decided and anchored at the relay before forwarding, answers
 * and in-dialog offers are rewritten per leg, and no SDP with a=crypto
 * crosses a hop without TLS (call_media.h, issue 6). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#define SPS_LOG_MODULE "proxy"
#include "core/file.h"
#include "core/log.h"
#include "core/mem.h"
#include "registrar/registrar.h"
#include "server/call_media.h"
#include "server/calls.h"
#include "server/proxy_int.h"
#include "server/server_int.h"
#include "store/store.h"

#define MAX_BRANCHES 16
#define MAX_TARGETS 16        /* RFC 3261 16.5: the target set of one request */
#define MAX_CHALLENGES 16     /* 16.7 item 7: challenges kept for merging */
#define MAX_REDIRECT_DEPTH 3  /* 3xx followed at most this deep (16.5) */
#define CANCEL_WAIT_MS 32000  /* RFC 3261 9.1: 64*T1 for the final after a CANCEL */

struct call;

/* One forwarded copy of the request (RFC 3261 16.6). Allocated by
 * forward(), owned by its call (c->br[idx]); its address is the client
 * transaction's and the timer's callback argument, so it never moves. */
struct branch {
	struct call *call;
	unsigned idx;            /* in call->br */
	struct sps_tsx *ct;      /* client transaction (ref); holds the request
				  * sent until a final, for a CANCEL */
	struct sps_tsx_dest dest;
	unsigned status;         /* last status seen, 0 none */
	bool done;               /* a final response, or the transaction ended */
	/* INVITE: Timer C (RFC 3261 16.6 item 11), then, once we sent a
	 * CANCEL, the 64*T1 wait for the final response (9.1) */
	struct sps_timer timer;
	bool cancel_wait;        /* timer is the wait after our CANCEL */
	bool timed_out;          /* Timer C fired: its 487 counts as 408 (16.8) */
	unsigned depth;          /* 3xx recursion depth that created it */
};

/* A WWW-/Proxy-Authenticate value from a branch's 401/407 (16.7 item 7). */
struct challenge {
	unsigned br;
	const char *name;
	char *value;
};

/* A proxied request: the server transaction plus its branches. Refcounted;
 * held by each branch's client transaction callback (as udata) and by the
 * server transaction's udata.
 *
 * Memory: req is the server's parse of the request, borrowed while the
 * request is being handled; a call that stays (keep) takes the server's
 * arena that holds it. Once the final answer went upstream the request and
 * everything kept for choosing or building that answer is freed (trim):
 * an answered INVITE stays 32 s (RFC 6026 Timer L/M) for 2xx
 * retransmissions and ACK matching, which need none of it. */
struct call {
	struct call *next;       /* s->calls: the list holds one reference */
	struct sps_server *s;
	struct sps_tsx *st;      /* server transaction (ref), NULL for ACK */
	struct sps_arena *arena; /* holds req once kept (owned), else NULL */
	const struct sps_sip_msg *req; /* NULL once trimmed */
	char *track_ids;         /* trimmed and tracked: Call-ID NUL From tag */
	struct branch *br[MAX_BRANCHES]; /* owned */
	unsigned nbr;
	unsigned best;           /* best final non-2xx so far */
	char *best_resp;
	size_t best_len;
	int best_br;             /* branch that sent best_resp, -1 */
	const char *best_reason; /* a locally decided best (no best_resp): its reason */
	bool got_2xx, cancelled, answered;
	bool recurse;            /* routed by user: 3xx to local targets followed */
	bool track;              /* an initial INVITE listed in s->calltab */
	unsigned drop_routes;    /* our pre-loaded Route entries on the request */
	unsigned next_depth;     /* depth of the branches being created */
	char loop_hash[17];      /* RFC 3261 16.6 item 8 */
	char *tried[MAX_TARGETS]; /* 16.5 target set: "u:USER" or "c:CONTACT" */
	unsigned ntried;
	struct challenge *chal;  /* MAX_CHALLENGES, allocated at the first one */
	unsigned nchal;
	/* media (call_media.h): the dialog's media (ref), the side whose
	 * offer this request carries, and the rewritten SDP we forward */
	struct sps_cmedia *media;
	unsigned media_side;
	bool media_initial;      /* the INVITE that created the media session */
	bool media_re2xx;        /* an INVITE without SDP in the dialog: its 2xx offers */
	int media_br;            /* the branch whose 2xx answer the session follows, -1 */
	char *fwd_body;          /* replaces the body on every branch (holds keys) */
	size_t fwd_len;
	bool fwd_keys;           /* fwd_body has a=crypto: TLS branches only */
	bool fwd_nobody;         /* forward without the body (an SDP we cannot pass) */
};

/* What only choosing and building the final answer needs. */
static void free_answer_state(struct call *c)
{
	for (unsigned i = 0; i < c->ntried; i++)
		free(c->tried[i]);
	c->ntried = 0;
	for (unsigned i = 0; i < c->nchal; i++)
		free(c->chal[i].value);
	free(c->chal);
	c->chal = NULL;
	c->nchal = 0;
	sps__cmedia_body_free(c->fwd_body, c->fwd_len);
	c->fwd_body = NULL;
	c->fwd_len = 0;
	free(c->best_resp);
	c->best_resp = NULL;
	c->best_len = 0;
}

static void call_destroy(void *obj)
{
	struct call *c = obj;
	for (unsigned i = 0; i < c->nbr; i++) {
		sps_timer_cancel(&c->br[i]->timer);
		sps_mem_deref(c->br[i]->ct);
		free(c->br[i]);
	}
	free_answer_state(c);
	sps_mem_deref(c->st);
	sps_mem_deref(c->media);
	free(c->track_ids);
	sps_arena_free(c->arena);
}

/* The final answer went upstream: keep only what the rest of the call's
 * life needs (see struct call). Called outside the handling of c->req's
 * own message only (the request may be the server's current parse). */
static void trim(struct call *c)
{
	if (!c->answered || !c->req)
		return;
	free_answer_state(c);
	if (c->track && !c->track_ids) {
		struct sps_slice id = c->req->call_id;
		struct sps_slice tag = c->req->from ? c->req->from->tag : SPS_SLICE_NULL;
		c->track_ids = malloc(id.l + tag.l + 2);
		if (c->track_ids) {
			memcpy(c->track_ids, id.p, id.l);
			c->track_ids[id.l] = '\0';
			memcpy(c->track_ids + id.l + 1, tag.p, tag.l);
			c->track_ids[id.l + 1 + tag.l] = '\0';
		} else {
			c->track = false; /* the listing loses the call's later changes */
		}
	}
	c->req = NULL;
	sps_arena_free(c->arena);
	c->arena = NULL;
}

static const char *tp_param(enum sps_transport tp)
{
	return tp == SPS_TP_UDP ? "udp" : tp == SPS_TP_TCP ? "tcp" : "tls";
}

/* Our address as the side using transport tp sees it. */
static void our_hostport(struct sps_server *s, enum sps_transport tp, uint64_t conn_id,
			 char *buf, size_t size)
{
	struct sps_conn *c = conn_id ? sps_conntab_lookup(s->conns, conn_id) : NULL;
	const struct sps_sa *sa = c ? sps_conn_local(c) : NULL;
	struct sps_sa tmp;
	if (!sa) {
		tmp = s->local_ip;
		sps_sa_set_port(&tmp, tp == SPS_TP_TLS ? s->tls_port : sps_sa_port(sps_udp_local(s->udp)));
		sa = &tmp;
	}
	if (sps_sa_is_any(sa))
		snprintf(buf, size, "%s:%u", s->conf->domain, sps_sa_port(sa));
	else
		sps_sa_to_str(sa, buf, size);
}

/* The flow token for the side reached through d, bound to the dialog's
 * Call-ID by a MAC (proxy_int.h): only a Route we issued routes. */
static void flow_token(const struct sps_server *s, const struct sps_sip_msg *m,
		       const struct sps_tsx_dest *d, char *buf, size_t size)
{
	char flow[48];
	if (d->tp == SPS_TP_UDP)
		sps__proxy_udp_flow(&d->addr, flow, sizeof(flow));
	else
		snprintf(flow, sizeof(flow), "c%llu", (unsigned long long)d->conn_id);
	if (!s->route_mac || sps__proxy_token_make(s->route_mac, flow, m->call_id, buf, size) != 0)
		snprintf(buf, size, "%s", flow); /* refused when it comes back */
}

/* ---- responses upstream (RFC 3261 16.7) ---- */

/* The calls listing follows what the caller is told (calls.h). */
static void track(struct call *c, const struct branch *b, unsigned code,
		  const struct sps_sip_msg *resp)
{
	if (!c->track)
		return;
	struct sps_slice call_id, from_tag;
	if (c->req) {
		call_id = c->req->call_id;
		from_tag = c->req->from ? c->req->from->tag : SPS_SLICE_NULL;
	} else {
		call_id = sps_slice_cstr(c->track_ids);
		from_tag = sps_slice_cstr(c->track_ids + call_id.l + 1);
	}
	struct sps_call_leg leg;
	if (b)
		leg = (struct sps_call_leg){.tp = b->dest.tp, .addr = b->dest.addr};
	sps__calls_progress(c->s->calltab, call_id, from_tag, code,
			    resp && resp->to ? resp->to->tag : SPS_SLICE_NULL, b ? &leg : NULL,
			    (int64_t)time(NULL));
}

static void send_upstream(struct call *c, unsigned code, const char *buf, size_t len)
{
	if (code >= 300)
		track(c, NULL, code, NULL);
	/* the INVITE failed (or was cancelled): its media session goes too */
	if (code >= 300 && c->media_initial && !c->got_2xx)
		sps__cmedia_end(c->media);
	if (!c->st)
		return;
	int err = sps_tsx_respond(c->st, code, buf, len);
	if (err && err != EALREADY)
		SPS_DEBUG("cannot forward %u upstream: %s", code, strerror(err));
}

/* The body of a forwarded response: the SDP rewritten for the relay in
 * mr (held by nb), or none at all. */
static void set_body(struct sps_sip_edit *e, struct sps_slice *nb, const struct sps_cmedia_res *mr)
{
	static const struct sps_slice nobody = {"", 0};
	if (mr->body) {
		*nb = (struct sps_slice){mr->body, mr->len};
		e->body = nb;
		e->content_type = "application/sdp";
	} else {
		e->body = &nobody;
		e->content_type = NULL;
	}
}

/* Forward resp upstream without our Via (16.7 step 9). A response with
 * the SDP answer to the offer this request carried (RFC 3264 6) goes up
 * with the answer rewritten for the offerer's leg (call_media.h). */
static void forward_resp(struct call *c, const struct branch *b, const struct sps_sip_msg *resp)
{
	struct sps_server *s = c->s;
	struct sps_sip_edit e = {.drop_top_via = 1, .max_forwards = -1};
	static const struct sps_slice nobody = {"", 0};
	struct sps_cmedia_res mr = {0};
	struct sps_slice nb;
	if (c->media && c->media_re2xx && resp->status > 100 && resp->status < 300 &&
	    sps__cmedia_is_sdp(resp->content_type, resp->body)) {
		/* the offer to a re-INVITE without SDP (RFC 3264 8): rewritten for
		 * the re-INVITE's sender with its relay port and its own key; an
		 * SDP in a 18x is not passed on (the 2xx carries the offer) */
		int err = 0;
		if (resp->status >= 200)
			err = sps__cmedia_reoffer_2xx(c->media, 1 - c->media_side, resp->cseq.num,
						      resp->body, &mr);
		if (err)
			SPS_WARN("%.*s: %u to a re-INVITE without SDP: %s", (int)resp->call_id.l,
				 resp->call_id.p, resp->status, mr.reason ? mr.reason : strerror(err));
		/* without mr.body: no SDP, never the other side's own */
		set_body(&e, &nb, &mr);
	} else if (c->media && c->media_initial && sps__cmedia_late_pending(c->media) &&
	    resp->status > 100 && resp->status < 300 &&
	    sps__cmedia_is_sdp(resp->content_type, resp->body)) {
		/* the callee's offer to an INVITE without SDP (RFC 3261 13.2.1) */
		int br = (int)b->idx, err = 0;
		if (resp->status < 200) {
			/* an SDP in a 18x is not anchored here (a reliable one, RFC
			 * 3262, would be the offer): it goes up without its SDP, so
			 * that no media bypasses the relay; the 2xx carries the offer */
			SPS_DEBUG("%.*s: SDP of a %u to an INVITE without SDP not passed on",
				  (int)resp->call_id.l, resp->call_id.p, resp->status);
		} else if (c->media_br >= 0 && br != c->media_br) {
			err = sps__cmedia_reject(c->media, 0, resp->body, &mr);
		} else {
			err = sps__cmedia_late_offer(c->media,
						     resp->to ? resp->to->tag : SPS_SLICE_NULL,
						     resp->body, &mr);
			c->media_br = br;
		}
		if (err && err != EACCES)
			SPS_WARN("%.*s: %u from the callee: %s: %s", (int)resp->call_id.l,
				 resp->call_id.p, resp->status, mr.reason ? mr.reason : "media",
				 strerror(err));
		/* without mr.body never the callee's own SDP: media would bypass
		 * the relay and its keys could cross a hop without TLS; a
		 * refused call is ended after the caller's ACK (late_end) */
		set_body(&e, &nb, &mr);
	} else if (c->media && resp->status > 100 && resp->status < 300 &&
	    sps__cmedia_is_sdp(resp->content_type, resp->body)) {
		int br = (int)b->idx, err;
		if (c->media_initial && c->media_br >= 0 && br != c->media_br) {
			/* another fork answered 2xx too: one relay session, one callee */
			err = sps__cmedia_reject(c->media, c->media_side, resp->body, &mr);
		} else {
			err = sps__cmedia_answer(c->media, c->media_side, c->media_initial,
						 resp->body, &mr);
			if (resp->status >= 200 && c->media_initial) {
				c->media_br = br;
				sps__cmedia_dialog(c->media,
						   resp->to ? resp->to->tag : SPS_SLICE_NULL);
			}
		}
		if (err && err != EACCES)
			SPS_WARN("%.*s: %u from the %s: %s: %s", (int)resp->call_id.l,
				 resp->call_id.p, resp->status, c->media_side ? "caller" : "callee",
				 mr.reason ? mr.reason : "media", strerror(err));
		if (!mr.body && resp->status < 200)
			return; /* an early answer we cannot anchor: not passed on */
		/* a 2xx must reach the caller (RFC 3261 13.3.1.4); without an
		 * SDP the offer stays unanswered and the caller hangs up */
		set_body(&e, &nb, &mr);
	}
	/* the key-leak guard (RFC 4568 8.3): for SDP we rewrote, whose keys
	 * the policy never puts towards a hop without TLS (a last check: a
	 * leg's transport was fixed at call setup, an in-dialog request may
	 * come another way), and for SDP we did not anchor */
	const struct sps_tsx_dest *up = c->st ? sps_tsx_dest(c->st) : NULL;
	if (mr.body && mr.keys && (!up || up->tp != SPS_TP_TLS)) {
		SPS_WARN("%.*s: SDP with SRTP keys in a %u not sent without TLS",
			 (int)resp->call_id.l, resp->call_id.p, resp->status);
		e.body = &nobody;
		e.content_type = NULL;
	} else if (!e.body && up && up->tp != SPS_TP_TLS &&
		   sps__cmedia_has_keys(resp->content_type, resp->body)) {
		SPS_WARN("%.*s: SDP with SRTP keys in a %u not passed on over %s (no TLS)",
			 (int)resp->call_id.l, resp->call_id.p, resp->status,
			 up->tp == SPS_TP_UDP ? "UDP" : "TCP");
		e.body = &nobody;
		e.content_type = NULL;
	}
	sps_mbuf_reset(&s->out);
	if (sps_sip_msg_copy(&s->out, resp, &e) == 0)
		send_upstream(c, resp->status, s->out.buf, s->out.len);
	sps__cmedia_body_free(mr.body, mr.len);
}

/* A locally generated final answer to the original request. */
/* RFC 3261 26.2.2: a sips: request found the callee only behind hops
 * without TLS. The reason phrase is this pointer, so that the answer can
 * say why in a Reason header (RFC 3326) wherever it is decided. */
static const char no_tls_phrase[] = "No TLS Contact";
static const char no_tls_reason[] =
	"SIP;cause=480;text=\"sips: request and no contact of the callee reachable over TLS "
	"(RFC 3261 26.2.2)\"";

static void answer(struct call *c, unsigned code, const char *reason)
{
	if (!c->req || c->answered)
		return;
	c->answered = true;
	struct sps_sip_newhdr why = {"Reason", SPS_SLICE_LIT(no_tls_reason)};
	bool no_tls = reason == no_tls_phrase;
	if (sps__server_build(c->s, c->req, code, reason, no_tls ? &why : NULL, no_tls) == 0)
		send_upstream(c, code, c->s->out.buf, c->s->out.len);
}

/* 16.7 step 6: the ranking used to pick the best final response. */
static int rank(unsigned code)
{
	return sps__proxy_rank(code);
}

/* A final answer decided here rather than received (a failed recursion, a
 * forwarding loop): it wins only when no branch sent anything better. */
static void record_local(struct call *c, unsigned code, const char *reason)
{
	if (!c->best_resp && (!c->best || rank(code) < rank(c->best))) {
		c->best = code;
		c->best_reason = reason;
	}
}

static void cancel_branch(struct call *c, struct branch *b);

/* 16.7 item 7: a 401/407 chosen as the best response carries the challenges
 * of every branch's 401/407, so that the caller can answer all of them. */
static void send_best(struct call *c)
{
	struct sps_server *s = c->s;
	c->answered = true;
	struct sps_sip_newhdr app[MAX_CHALLENGES];
	size_t napp = 0;
	if (c->best == 401 || c->best == 407)
		for (unsigned i = 0; i < c->nchal; i++)
			if ((int)c->chal[i].br != c->best_br)
				app[napp++] = (struct sps_sip_newhdr){c->chal[i].name,
								      sps_slice_cstr(c->chal[i].value)};
	if (napp) {
		char *scratch = malloc(c->best_len);
		struct sps_arena *a = NULL;
		struct sps_sip_msg *m;
		const char *why;
		if (scratch && sps_arena_new(&a, 0) == 0) {
			memcpy(scratch, c->best_resp, c->best_len);
			struct sps_sip_edit e = {.append = app, .nappend = napp, .max_forwards = -1};
			sps_mbuf_reset(&s->out);
			if (sps_sip_msg_parse(scratch, c->best_len, a, &m, &why) == 0 &&
			    sps_sip_msg_copy(&s->out, m, &e) == 0) {
				send_upstream(c, c->best, s->out.buf, s->out.len);
				free(scratch);
				sps_arena_free(a);
				return;
			}
		}
		free(scratch);
		sps_arena_free(a);
	}
	send_upstream(c, c->best, c->best_resp, c->best_len);
}

static void all_done_check(struct call *c)
{
	for (unsigned i = 0; i < c->nbr; i++)
		if (!c->br[i]->done)
			return;
	if (c->got_2xx || c->answered)
		return;
	if (c->best_resp && c->best == 503)
		answer(c, 500, "Downstream Unavailable"); /* 16.7 item 6: a 503 is not passed up */
	else if (c->best_resp)
		send_best(c);
	else if (c->best_reason)
		answer(c, c->best, c->best_reason);
	else /* only transaction failures: no branch answered (16.7 step 6) */
		answer(c, c->best == 503 ? 480 : 408, c->best == 503 ? "Unreachable" : "No Answer");
}

/* Keep the challenges of a 401/407 for merging (16.7 item 7). */
static void collect_challenges(struct call *c, const struct branch *b,
			       const struct sps_sip_msg *resp)
{
	static const enum sps_hdr_id ids[] = {SPS_HDR_WWW_AUTHENTICATE, SPS_HDR_PROXY_AUTHENTICATE};
	for (size_t k = 0; k < 2; k++)
		for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(resp, ids[k], NULL);
		     h && c->nchal < MAX_CHALLENGES; h = sps_sip_msg_hdr_next(resp, ids[k], h)) {
			if (!c->chal && !(c->chal = malloc(MAX_CHALLENGES * sizeof(*c->chal))))
				return;
			char *v = malloc(h->value.l + 1);
			if (!v)
				return;
			memcpy(v, h->value.p, h->value.l);
			v[h->value.l] = '\0';
			c->chal[c->nchal++] = (struct challenge){b->idx,
								 sps_sip_hdr_name(ids[k]), v};
		}
}

static bool recurse_3xx(struct call *c, struct branch *b, const struct sps_sip_msg *resp);
static void on_branch_timer(void *arg);

static void on_branch_resp(struct sps_tsx *t, unsigned code, const struct sps_sip_msg *resp,
			   void *arg)
{
	struct branch *b = arg;
	struct call *c = b->call;
	/* after a final only 2xx still count (retransmissions and other forks
	 * downstream, RFC 6026 8.4); an abandoned branch hears nothing more */
	if (b->done && !(resp && code >= 200 && code < 300))
		return;
	sps_mem_ref(c);
	if (b->timed_out && code == 487)
		resp = NULL, code = 408; /* 16.8: our Timer C CANCEL, not the caller's */
	b->status = code;
	if (code < 200) {
		/* 16.7 step 2: a provisional other than 100 restarts Timer C */
		if (code > 100 && sps_timer_pending(&b->timer) && !b->cancel_wait)
			sps_timer_start(c->s->loop, &b->timer, (uint64_t)c->s->conf->timer_c * 1000,
					on_branch_timer, b);
		if (code > 100 && resp && !c->answered) {
			forward_resp(c, b, resp); /* 16.7 step 5: provisionals go up */
			track(c, b, code, resp);
		}
	} else if (code < 300) {
		b->done = true;
		sps_timer_cancel(&b->timer);
		if (resp) {
			forward_resp(c, b, resp); /* every 2xx goes up (16.7 step 5) */
			track(c, b, code, resp);
			c->got_2xx = true;
			c->answered = true;
		}
		/* 16.7 step 10: a 2xx cancels the other branches */
		for (unsigned i = 0; i < c->nbr; i++)
			if (c->br[i] != b && !c->br[i]->done)
				cancel_branch(c, c->br[i]);
	} else {
		b->done = true;
		sps_timer_cancel(&b->timer);
		/* 16.7 step 4: a 3xx whose Contacts are ours is followed, not passed up */
		if (code < 400 && resp && c->recurse && !c->cancelled && !c->got_2xx &&
		    !c->answered && recurse_3xx(c, b, resp)) {
			all_done_check(c);
			goto out;
		}
		if (resp && (code == 401 || code == 407) && !c->answered)
			collect_challenges(c, b, resp);
		if (resp && !c->answered &&
		    (!c->best_resp || rank(code) < rank(c->best))) {
			struct sps_server *s = c->s;
			struct sps_sip_edit e = {.drop_top_via = 1, .max_forwards = -1};
			sps_mbuf_reset(&s->out);
			if (sps_sip_msg_copy(&s->out, resp, &e) == 0) {
				char *p = malloc(s->out.len);
				if (p) {
					memcpy(p, s->out.buf, s->out.len);
					free(c->best_resp);
					c->best_resp = p;
					c->best_len = s->out.len;
					c->best = code;
					c->best_br = (int)b->idx;
				}
			}
		} else if (!resp && !c->best_resp && (!c->best || rank(code) < rank(c->best))) {
			c->best = code; /* 408 / 503 from the transaction itself */
			c->best_reason = NULL;
		}
		if (code >= 600) /* 16.7 step 5/10: a 6xx ends the search */
			for (unsigned i = 0; i < c->nbr; i++)
				if (!c->br[i]->done)
					cancel_branch(c, c->br[i]);
		all_done_check(c);
	}
out:
	trim(c);
	sps_mem_deref(c);
}

/* Timer C (RFC 3261 16.8) and the wait after our CANCEL (9.1). */
static void on_branch_timer(void *arg)
{
	struct branch *b = arg;
	struct call *c = b->call;
	if (b->done)
		return;
	sps_mem_ref(c);
	b->timed_out = true;
	if (!b->cancel_wait && b->status >= 100) {
		/* a provisional came: CANCEL the branch; its 487 counts as 408 */
		cancel_branch(c, b);
	} else {
		/* no provisional, or no final in 64*T1 after the CANCEL: the
		 * branch is given up as if it had answered 408 */
		sps_tsx_abandon(b->ct);
		if (c->cancelled) { /* the caller's CANCEL: that is the answer */
			b->done = true;
			b->status = 487;
			record_local(c, 487, "Request Terminated");
			all_done_check(c);
		} else {
			on_branch_resp(b->ct, 408, NULL, b);
		}
	}
	trim(c);
	sps_mem_deref(c);
}

/* RFC 3261 9.1: CANCEL with the branch's Request-URI, Via, From, To,
 * Call-ID, CSeq number and Route. Sent in its own client transaction. */
static void cancel_branch(struct call *c, struct branch *b)
{
	size_t req_len = 0;
	const char *req = b->ct ? sps_tsx_request(b->ct, &req_len) : NULL;
	if (b->done || !req || b->status == 0)
		return; /* 9.1: no CANCEL before a provisional; the timer ends it */
	struct sps_server *s = c->s;
	char *scratch = malloc(req_len);
	struct sps_arena *a = NULL;
	if (!scratch || sps_arena_new(&a, 0)) {
		free(scratch);
		return;
	}
	memcpy(scratch, req, req_len);
	struct sps_sip_msg *m;
	const char *why;
	if (sps_sip_msg_parse(scratch, req_len, a, &m, &why) == 0) {
		struct sps_sip_newhdr hs[40];
		size_t n = 0;
		const struct sps_sip_hdr *h;
		char cseq[32];
		snprintf(cseq, sizeof(cseq), "%u CANCEL", m->cseq.num);
		if ((h = sps_sip_msg_hdr_next(m, SPS_HDR_VIA, NULL)))
			hs[n++] = (struct sps_sip_newhdr){"Via", h->value};
		hs[n++] = (struct sps_sip_newhdr){"Max-Forwards", SPS_SLICE_LIT("70")};
		if ((h = sps_sip_msg_hdr_next(m, SPS_HDR_FROM, NULL)))
			hs[n++] = (struct sps_sip_newhdr){"From", h->value};
		if ((h = sps_sip_msg_hdr_next(m, SPS_HDR_TO, NULL)))
			hs[n++] = (struct sps_sip_newhdr){"To", h->value};
		hs[n++] = (struct sps_sip_newhdr){"Call-ID", m->call_id};
		hs[n++] = (struct sps_sip_newhdr){"CSeq", sps_slice_cstr(cseq)};
		for (h = sps_sip_msg_hdr_next(m, SPS_HDR_ROUTE, NULL); h && n < 40;
		     h = sps_sip_msg_hdr_next(m, SPS_HDR_ROUTE, h))
			hs[n++] = (struct sps_sip_newhdr){"Route", h->value};
		struct sps_mbuf mb;
		sps_mbuf_init(&mb, 0);
		if (sps_sip_req_write(&mb, "CANCEL", m->ruri_s, hs, n, NULL, SPS_SLICE_NULL) == 0 &&
		    sps_tsx_client_new(NULL, s->tsx, &b->dest, mb.buf, mb.len, NULL, NULL) == 0 &&
		    !b->cancel_wait) {
			b->cancel_wait = true;
			sps_timer_start(s->loop, &b->timer, CANCEL_WAIT_MS, on_branch_timer, b);
		}
		sps_mbuf_free(&mb);
	}
	free(scratch);
	sps_arena_free(a);
}

/* ---- forwarding (RFC 3261 16.6) ---- */

/* Send one copy of c->req to dest with Request-URI ruri; routes are the
 * Route values to put first (a binding's Path), record-route adds our two
 * entries. Returns 0 or an errno. */
static int forward(struct call *c, const struct sps_tsx_dest *dest, struct sps_slice ruri,
		   const char *path, bool record_route, unsigned drop_routes)
{
	struct sps_server *s = c->s;
	const struct sps_sip_msg *m = c->req;
	if (c->nbr == MAX_BRANCHES)
		return ENOSPC;
	/* the key-leak guard (RFC 4568 8.3): a=crypto only over TLS */
	if (dest->tp != SPS_TP_TLS && !c->fwd_nobody &&
	    (c->fwd_body ? c->fwd_keys : sps__cmedia_has_keys(m->content_type, m->body)))
		return EPERM;
	struct branch *b = NULL;
	if (m->meth != SPS_METHOD_ACK && !(b = calloc(1, sizeof(*b))))
		return ENOMEM;
	struct branch ack_branch = {0}; /* an ACK has no transaction to outlive this */
	if (!b)
		b = &ack_branch;
	b->call = c;
	b->idx = c->nbr;
	b->dest = *dest;
	b->depth = c->next_depth;
	sps_timer_init(&b->timer);

	/* hp: a domain of up to 255 bytes and a port (conf.domain) */
	char branch[56], via[400], hp_out[272], hp_in[272], rr_out[560], rr_in[560], ftok_in[80],
		ftok_out[80];
	sps_tsx_branch(branch);
	/* RFC 3261 16.6 item 8: unique part, then the loop-detection hash */
	size_t bl = strlen(branch);
	snprintf(branch + bl, sizeof(branch) - bl, ".%s", c->loop_hash);
	our_hostport(s, dest->tp, dest->conn_id, hp_out, sizeof(hp_out));
	snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=%s;rport",
		 dest->tp == SPS_TP_UDP ? "UDP" : dest->tp == SPS_TP_TCP ? "TCP" : "TLS", hp_out,
		 branch);
	struct sps_sip_newhdr pre[4];
	size_t npre = 0;
	pre[npre++] = (struct sps_sip_newhdr){"Via", sps_slice_cstr(via)};
	if (record_route) {
		/* RFC 5658: top entry faces the callee, the next the caller */
		const struct sps_tsx_dest *up = sps_tsx_dest(c->st);
		flow_token(s, m, dest, ftok_out, sizeof(ftok_out));
		flow_token(s, m, up, ftok_in, sizeof(ftok_in));
		our_hostport(s, up->tp, up->conn_id, hp_in, sizeof(hp_in));
		snprintf(rr_out, sizeof(rr_out), "<sip:%s@%s;transport=%s;lr>", ftok_out, hp_out,
			 tp_param(dest->tp));
		snprintf(rr_in, sizeof(rr_in), "<sip:%s@%s;transport=%s;lr>", ftok_in, hp_in,
			 tp_param(up->tp));
		pre[npre++] = (struct sps_sip_newhdr){"Record-Route", sps_slice_cstr(rr_out)};
		pre[npre++] = (struct sps_sip_newhdr){"Record-Route", sps_slice_cstr(rr_in)};
	}
	struct sps_sip_newhdr app[1];
	size_t napp = 0;
	char routebuf[1024];
	if (path && *path) {
		/* RFC 3327 5.3: the stored Path becomes the route set */
		snprintf(routebuf, sizeof(routebuf), "%s", path);
		app[napp++] = (struct sps_sip_newhdr){"Route", sps_slice_cstr(routebuf)};
	}
	struct sps_slice body = {c->fwd_body ? c->fwd_body : "", c->fwd_len};
	struct sps_sip_edit e = {
		.ruri = &ruri,
		.body = c->fwd_body || c->fwd_nobody ? &body : NULL,
		.content_type = c->fwd_body ? "application/sdp" : NULL,
		.prepend = pre,
		.nprepend = npre,
		.append = app,
		.nappend = napp,
		.drop = SPS_SIP_DROP(SPS_HDR_PROXY_AUTHORIZATION),
		.drop_top_route = drop_routes,
		.max_forwards = m->max_forwards >= 0 ? m->max_forwards - 1 : 69,
	};
	struct sps_mbuf mb;
	sps_mbuf_init(&mb, 0);
	int err = sps_sip_msg_copy(&mb, m, &e);
	if (err)
		goto out;
	if (m->meth == SPS_METHOD_ACK) {
		err = sps__server_send(dest, mb.buf, mb.len, s); /* ACK for 2xx: stateless */
		goto out;
	}
	err = sps_tsx_client_send(&b->ct, s->tsx, dest, mb.buf, mb.len, m->meth, m->method,
				  sps_slice_cstr(branch), on_branch_resp, b);
	if (!err) {
		c->br[c->nbr++] = b;
		/* RFC 3261 16.6 item 11: Timer C for every forwarded INVITE */
		if (m->meth == SPS_METHOD_INVITE)
			sps_timer_start(s->loop, &b->timer, (uint64_t)s->conf->timer_c * 1000,
					on_branch_timer, b);
		b = NULL; /* the call's now */
	}
out:
	if (b != &ack_branch)
		free(b);
	sps_mbuf_free(&mb);
	return err;
}

static struct call *call_new(struct sps_server *s, const struct sps_origin *o,
			     const struct sps_sip_msg *m, struct sps_tsx *t)
{
	struct call *c = sps_mem_zalloc(sizeof(*c), call_destroy);
	if (!c)
		return NULL;
	c->s = s;
	c->st = t ? sps_tsx_ref(t) : NULL;
	/* the server's parse, borrowed: keep() takes the arena that holds it
	 * when the call outlives this message (with the received/rport edit
	 * of the top Via, so that responses carry it) */
	c->req = m;
	if (m->meth != SPS_METHOD_ACK && sps__server_arena_reserve(s) != 0) {
		sps_mem_deref(c);
		return NULL;
	}
	c->best_br = -1;
	c->media_br = -1;
	sps__proxy_loop_hash(c->req, c->loop_hash);
	return c;
}

/* ---- lifetime ----
 * Client transactions call back with a pointer into the call, and the
 * server transaction's udata points at it: the call lives in s->calls until
 * every one of its transactions has terminated (swept once a second). */

static bool finished(const struct call *c)
{
	if (c->st && sps_tsx_state(c->st) != SPS_TSX_TERMINATED)
		return false;
	for (unsigned i = 0; i < c->nbr; i++)
		if (c->br[i]->ct && sps_tsx_state(c->br[i]->ct) != SPS_TSX_TERMINATED)
			return false;
	return true;
}

/* At the end of handling c's request: take over the caller's reference,
 * or drop it when nothing is pending. A call that stays keeps its request
 * (the server's arena) until it has its final answer. */
static void keep(struct sps_server *s, struct call *c)
{
	if (finished(c)) {
		sps_mem_deref(c);
		return;
	}
	if (c->answered) {
		trim(c); /* the request is the server's: only forget it */
	} else if (c->req && !c->arena) {
		c->arena = sps__server_take_arena(s); /* reserved by call_new */
		if (!c->arena) {
			/* cannot happen after the reservation; never keep a
			 * pointer into the server's arena */
			answer(c, 500, "Out Of Memory");
			trim(c);
		}
	}
	c->next = s->calls;
	s->calls = c;
	s->ncalls++;
}

static void sweep(void *arg)
{
	struct sps_server *s = arg;
	for (struct call **pp = (struct call **)&s->calls; *pp;) {
		struct call *c = *pp;
		if (finished(c)) {
			*pp = c->next;
			s->ncalls--;
			sps_mem_deref(c);
		} else {
			pp = &c->next;
		}
	}
	if (s->calltab)
		sps__calls_sweep(s->calltab, (int64_t)time(NULL));
	sps_timer_start(s->loop, &s->sweep_timer, 1000, sweep, s);
}

void sps__server_proxy_init(struct sps_server *s)
{
	/* the Record-Route MAC key survives restarts, so that calls set up
	 * before one can still be hung up through us */
	char path[SPS_PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/route.key", s->conf->data);
	int err = sps_file_secret(path, s->route_key, sizeof(s->route_key));
	if (err) {
		SPS_WARN("cannot keep the Record-Route key in %s: %s; using one for this run only",
			 path, strerror(err));
		if (RAND_bytes(s->route_key, sizeof(s->route_key)) != 1)
			SPS_ERROR("no random bytes for the Record-Route key");
	}
	if (sps__proxy_mac_new(&s->route_mac, s->route_key) != 0)
		SPS_ERROR("cannot set up the Record-Route MAC: in-dialog requests get 403");
	sps_timer_init(&s->sweep_timer);
	sps_timer_start(s->loop, &s->sweep_timer, 1000, sweep, s);
	if (sps__calls_new(&s->calltab) != 0)
		SPS_WARN("out of memory for the calls table: 'sipsec calls' will list none");
}

void sps__server_proxy_fini(struct sps_server *s)
{
	sps_timer_cancel(&s->sweep_timer);
	while (s->calls) {
		struct call *c = s->calls;
		s->calls = c->next;
		sps_mem_deref(c);
	}
	s->ncalls = 0;
	sps__proxy_mac_free(s->route_mac);
	s->route_mac = NULL;
	sps__calls_free(s->calltab);
	s->calltab = NULL;
}

/* ---- targets ---- */

struct targets {
	struct sps_server *s;
	struct call *c;
	unsigned found, sent;
	unsigned not_tls; /* bindings skipped because the request is sips: */
	bool sips;
	unsigned drop_routes; /* our own pre-loaded Route entries */
	const struct sps_uri *only; /* a 3xx Contact: just the binding with this contact */
};

/* The reason of the 480 when no binding was usable. */
static const char *no_target_phrase(const struct targets *tg)
{
	if (!tg->found)
		return "Not Registered";
	return tg->not_tls && tg->not_tls == tg->found ? no_tls_phrase : "No Usable Contact";
}

static int on_binding(const struct sps_binding *b, void *arg)
{
	struct targets *tg = arg;
	struct sps_server *s = tg->s;
	if (tg->only) {
		struct sps_uri bu;
		const char *why;
		if (sps_uri_parse(sps_slice_cstr(b->contact), &bu, &why) != 0 ||
		    !sps_uri_equal(&bu, tg->only))
			return 0;
	}
	tg->found++;
	struct sps_tsx_dest d = {0};
	if (strcmp(b->transport, "udp") == 0) {
		d.tp = SPS_TP_UDP;
		if (sps_sa_from_str(&d.addr, b->source) != 0)
			return 0;
		/* RFC 3261 16.5 sends to the contact; behind NAT (contact address
		 * is not where the REGISTER came from) to the source instead */
		struct sps_uri cu;
		const char *why;
		char host[64];
		struct sps_sa ca;
		if (sps_uri_parse(sps_slice_cstr(b->contact), &cu, &why) == 0 &&
		    sps_slice_to_cstr(cu.host, host, sizeof(host)) == 0 &&
		    sps_sa_set_str(&ca, host, cu.port ? cu.port : 5060) == 0 &&
		    sps_sa_eq_ip(&ca, &d.addr))
			d.addr = ca;
	} else {
		d.tp = strcmp(b->transport, "tls") == 0 ? SPS_TP_TLS : SPS_TP_TCP;
		d.conn_id = b->conn_id;
		struct sps_conn *conn = sps_conntab_lookup(s->conns, d.conn_id);
		if (!conn)
			return 0; /* the flow is gone (RFC 5626 7): not usable */
		d.addr = *sps_conn_peer(conn);
	}
	/* a sips: request never leaves over a hop that is not TLS (RFC 3261 26.2.2) */
	if (tg->sips && d.tp != SPS_TP_TLS) {
		tg->not_tls++;
		return 0;
	}
	if (forward(tg->c, &d, sps_slice_cstr(b->contact), b->path, true, tg->drop_routes) == 0)
		tg->sent++;
	return 0;
}

/* on_binding's filter only: count the bindings a 3xx Contact matches. */
static int on_binding_count(const struct sps_binding *b, void *arg)
{
	struct targets *tg = arg;
	struct sps_uri bu;
	const char *why;
	if (sps_uri_parse(sps_slice_cstr(b->contact), &bu, &why) == 0 &&
	    sps_uri_equal(&bu, tg->only))
		tg->found++;
	return 0;
}

/* ---- media (call_media.h) ---- */

/* A request whose media cannot be set up: 488 with a Warning (RFC 3261
 * 20.43, 21.4.26) when the policy refuses, 400 for an SDP we cannot use,
 * else 500 - never forwarded with the keys it carries. */
static void media_refuse(struct sps_server *s, const struct sps_origin *o,
			 const struct sps_sip_msg *m, struct sps_tsx *t, int err,
			 const struct sps_cmedia_res *mr)
{
	char warn[512];
	const char *why = mr->reason ? mr->reason : strerror(err);
	snprintf(warn, sizeof(warn), "%d %s \"%s\"", err == EACCES && mr->warn_code ? mr->warn_code : 399,
		 s->conf->domain, why);
	struct sps_sip_newhdr h = {"Warning", sps_slice_cstr(warn)};
	if (m->meth == SPS_METHOD_ACK)
		return;
	if (err == EACCES)
		sps__server_respond(s, o, m, t, 488, NULL, &h, 1);
	else if (err == EBADMSG)
		sps__server_respond(s, o, m, t, 400, "Unusable SDP", &h, 1);
	else
		sps__server_respond(s, o, m, t, 500, "Media Relay Failure", &h, 1);
}

/* A user's SRTP mode, UNSET resolved with --srtp-default (policy.h). */
static enum sps_srtp_mode srtp_mode(const struct sps_server *s, const char *user_srtp)
{
	enum sps_srtp_mode u = SPS_SRTP_MODE_UNSET, sys = SPS_SRTP_MODE_UNSET;
	if (user_srtp && user_srtp[0] && sps_srtp_mode_parse(user_srtp, &u) != 0)
		u = SPS_SRTP_MODE_UNSET;
	if (s->conf->srtp_default[0] && sps_srtp_mode_parse(s->conf->srtp_default, &sys) != 0)
		sys = SPS_SRTP_MODE_UNSET;
	return sps_srtp_mode_resolve(u, sys);
}

/* The callee's usable bindings: are they all TLS flows (the hop keys may
 * cross, RFC 4568 8.3), and the address of one (our media address). */
struct probe_tls {
	struct sps_server *s;
	unsigned n, ntls;
	struct sps_sa peer;
};

static int on_binding_tls(const struct sps_binding *b, void *arg)
{
	struct probe_tls *p = arg;
	struct sps_sa a;
	if (strcmp(b->transport, "udp") == 0) {
		if (sps_sa_from_str(&a, b->source) != 0)
			return 0;
	} else {
		struct sps_conn *conn = sps_conntab_lookup(p->s->conns, b->conn_id);
		if (!conn)
			return 0;
		a = *sps_conn_peer(conn);
		if (strcmp(b->transport, "tls") == 0)
			p->ntls++;
	}
	if (!p->n++)
		p->peer = a;
	return 0;
}

/* An initial INVITE with an SDP offer: decide and anchor its media before
 * it is forwarded. Returns 0 (c->media and c->fwd_body set) or non-zero
 * after answering the request. */
static int media_invite(struct sps_server *s, const struct sps_origin *o, struct call *c,
			struct sps_tsx *t, const char *caller_user, const char *callee,
			const struct sps_user *cu)
{
	const struct sps_sip_msg *m = c->req;
	struct probe_tls p = {.s = s};
	sps_registrar_lookup(s->reg, callee, (int64_t)time(NULL), on_binding_tls, &p);
	if (!p.n)
		return 0; /* no binding: 480 follows, nothing to anchor */
	struct sps_user caller;
	bool have_caller = caller_user && sps_store_user_get(s->store, caller_user, &caller) == 0;
	struct sps_cmedia_side sides[2] = {
		{.mode = srtp_mode(s, have_caller ? caller.srtp : NULL),
		 .tls = o->tp == SPS_TP_TLS,
		 .peer = o->src},
		{.mode = srtp_mode(s, cu->srtp), .tls = p.ntls == p.n, .peer = p.peer},
	};
	struct sps_cmedia_res mr;
	int err;
	if (!m->body.l) {
		/* a late offer (RFC 3261 13.2.1): the session is set up now, the
		 * decision waits for the callee's offer in its 2xx (forward_resp) */
		const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, NULL);
		const struct sps_contact *ct = h ? h->parsed : NULL;
		err = sps__cmedia_late(s->media, m->call_id, m->from->tag, sides,
				       ct && !ct->star ? ct->na.uri_s : SPS_SLICE_NULL, &c->media,
				       &mr);
		if (err) {
			media_refuse(s, o, m, t, err, &mr);
			c->answered = true;
			return err;
		}
		c->media_side = 0;
		c->media_initial = true;
		return 0;
	}
	err = sps__cmedia_invite(s->media, m->call_id, m->from->tag, sides, m->body, &c->media,
				 &mr);
	if (err) {
		media_refuse(s, o, m, t, err, &mr);
		c->answered = true;
		return err;
	}
	c->media_side = 0;
	c->media_initial = true;
	c->fwd_body = mr.body;
	c->fwd_len = mr.len;
	c->fwd_keys = mr.keys;
	return 0;
}

/* Send a BYE for the dialog of ack (from the caller) to dest: towards the
 * callee (to_callee, as the caller would, RFC 3261 15.1.1: its
 * Request-URI, route set after our entries, CSeq one above) or towards the
 * caller (as the callee would: From and To swapped, the caller's Contact).
 * Its responses end a client transaction nobody listens to. */
static void send_bye(struct sps_server *s, const struct sps_sip_msg *ack,
		     const struct sps_tsx_dest *dest, bool to_callee, unsigned popped,
		     struct sps_slice ruri, const char *reason)
{
	const struct sps_sip_hdr *from = sps_sip_msg_hdr_next(ack, SPS_HDR_FROM, NULL);
	const struct sps_sip_hdr *to = sps_sip_msg_hdr_next(ack, SPS_HDR_TO, NULL);
	if (!from || !to || !ruri.l)
		return;
	char branch[40], hp[272], via[400], cseq[32];
	sps_tsx_branch(branch);
	our_hostport(s, dest->tp, dest->conn_id, hp, sizeof(hp));
	snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=%s;rport",
		 dest->tp == SPS_TP_UDP ? "UDP" : dest->tp == SPS_TP_TCP ? "TCP" : "TLS", hp, branch);
	snprintf(cseq, sizeof(cseq), "%u BYE", ack->cseq.num + 1);
	struct sps_sip_newhdr hs[24];
	size_t n = 0;
	hs[n++] = (struct sps_sip_newhdr){"Via", sps_slice_cstr(via)};
	hs[n++] = (struct sps_sip_newhdr){"Max-Forwards", SPS_SLICE_LIT("70")};
	hs[n++] = (struct sps_sip_newhdr){"From", to_callee ? from->value : to->value};
	hs[n++] = (struct sps_sip_newhdr){"To", to_callee ? to->value : from->value};
	hs[n++] = (struct sps_sip_newhdr){"Call-ID", ack->call_id};
	hs[n++] = (struct sps_sip_newhdr){"CSeq", sps_slice_cstr(cseq)};
	hs[n++] = (struct sps_sip_newhdr){"Reason", sps_slice_cstr(reason)};
	unsigned k = 0;
	for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(ack, SPS_HDR_ROUTE, NULL);
	     to_callee && h && n < 24; h = sps_sip_msg_hdr_next(ack, SPS_HDR_ROUTE, h))
		if (k++ >= popped)
			hs[n++] = (struct sps_sip_newhdr){"Route", h->value};
	struct sps_mbuf mb;
	sps_mbuf_init(&mb, 0);
	int err = sps_sip_req_write(&mb, "BYE", ruri, hs, n, NULL, SPS_SLICE_NULL);
	if (!err)
		err = sps_tsx_client_new(NULL, s->tsx, dest, mb.buf, mb.len, NULL, NULL);
	if (err)
		SPS_WARN("%.*s: cannot send the BYE to the %s: %s", (int)ack->call_id.l,
			 ack->call_id.p, to_callee ? "callee" : "caller", strerror(err));
	sps_mbuf_free(&mb);
}

/* A call set up with a late offer (INVITE without SDP, RFC 3261 13.2.1)
 * whose media cannot be satisfied: the 2xx was answered already, so a 488
 * is no longer possible (RFC 3261 13.3.1.4, 15). The 2xx went to the caller
 * with the stream disabled (port 0, no keys, RFC 3264 5.1/6), the ACK goes
 * to the callee with the stream rejected (or without the missing answer),
 * and here both legs get a BYE (RFC 3261 15.1.1) whose Reason header (RFC
 * 3326) names the policy: no media flows unanchored or unprotected, no key
 * crosses a hop without TLS, and nothing is silently downgraded. */
static void late_bye(struct sps_server *s, const struct sps_origin *o,
		     const struct sps_sip_msg *ack, const struct sps_tsx_dest *callee,
		     unsigned popped, const struct sps_cmedia *cm, const char *why)
{
	char text[200], reason[256];
	snprintf(text, sizeof(text), "%s", why ? why : "media not acceptable");
	for (char *p = text; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '\'';
	snprintf(reason, sizeof(reason), "SIP;cause=488;text=\"%s\"", text);
	SPS_INFO("%.*s: late offer call ended with BYE to both sides: %s", (int)ack->call_id.l,
		 ack->call_id.p, text);
	send_bye(s, ack, callee, true, popped, ack->ruri_s, reason);
	struct sps_tsx_dest up = {.tp = o->tp, .addr = o->src,
				  .conn_id = o->conn ? sps_conn_id(o->conn) : 0};
	const char *target = sps__cmedia_late_target(cm);
	struct sps_slice ruri = target ? sps_slice_cstr(target)
				       : ack->from ? ack->from->uri_s : SPS_SLICE_NULL;
	send_bye(s, ack, &up, false, popped, ruri, reason);
}

/* ---- in-dialog requests (RFC 3261 16.12, 16.4) ---- */

/* Is this Route entry one of ours? */
static bool route_is_us(struct sps_server *s, const struct sps_nameaddr *na)
{
	if (!na || !sps__server_is_us(s, na->uri.host))
		return false;
	uint16_t port = na->uri.port;
	if (!port)
		return true;
	return port == sps_sa_port(sps_udp_local(s->udp)) || port == s->tls_port;
}

/* How many Route entries at the top are ours. */
static unsigned our_routes(struct sps_server *s, const struct sps_sip_msg *m)
{
	unsigned n = 0;
	for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, SPS_HDR_ROUTE, NULL);
	     h && route_is_us(s, h->parsed); h = sps_sip_msg_hdr_next(m, SPS_HDR_ROUTE, h))
		n++;
	return n;
}

/* Route by the Route set: pop our entries, take the flow from the last of
 * them, send to the next hop. Returns true when handled. */
static bool route_in_dialog(struct sps_server *s, const struct sps_origin *o,
			    const struct sps_sip_msg *m, struct sps_tsx *t)
{
	const struct sps_sip_hdr *h = NULL;
	const struct sps_nameaddr *last = NULL;
	unsigned popped = 0;
	while ((h = sps_sip_msg_hdr_next(m, SPS_HDR_ROUTE, h)) != NULL) {
		if (!route_is_us(s, h->parsed))
			break;
		last = h->parsed;
		popped++;
	}
	if (!popped)
		return false;
	/* only a flow token we issued for this dialog routes (no open relay
	 * through a forged Route). Without one, an initial request with a
	 * pre-loaded Route to us (an outbound proxy setting, RFC 3261 8.1.2) is
	 * routed by its Request-URI like any new request; an in-dialog one is
	 * refused. */
	char flow[48];
	if (!s->route_mac ||
	    sps__proxy_token_check(s->route_mac, last->uri.user, m->call_id, flow, sizeof(flow))) {
		if (!(m->to && m->to->tag.l))
			return false;
		if (m->meth != SPS_METHOD_ACK)
			sps__server_respond(s, o, m, t, 403, "Route Not Issued Here", NULL, 0);
		return true;
	}
	/* the next hop is the flow the token names, also when another proxy's
	 * Route follows ours: that proxy is where the side's messages came from */
	struct sps_tsx_dest d = {0};
	if (flow[0] == 'c') {
		uint64_t cid = strtoull(flow + 1, NULL, 10);
		struct sps_conn *conn = cid ? sps_conntab_lookup(s->conns, cid) : NULL;
		if (!conn) {
			if (m->meth != SPS_METHOD_ACK)
				sps__server_respond(s, o, m, t, 430, "Flow Failed", NULL, 0);
			return true;
		}
		d.tp = sps_conn_transport(conn);
		d.conn_id = cid;
		d.addr = *sps_conn_peer(conn);
	} else {
		/* UDP side: the address the flow token names */
		if (sps__proxy_udp_flow_addr(flow, &d.addr)) {
			if (m->meth != SPS_METHOD_ACK)
				sps__server_respond(s, o, m, t, 403, "Route Not Issued Here", NULL, 0);
			return true;
		}
		d.tp = SPS_TP_UDP;
	}
	struct call *c = call_new(s, o, m, t);
	if (!c) {
		if (m->meth != SPS_METHOD_ACK)
			sps__server_respond(s, o, m, t, 500, NULL, NULL, 0);
		return true;
	}
	if (t)
		sps_tsx_set_udata(t, c);
	if (m->meth == SPS_METHOD_BYE && s->calltab && m->from && m->to)
		sps__calls_end(s->calltab, m->call_id, m->from->tag, m->to->tag);
	unsigned side = 0;
	bool other = false;
	struct sps_cmedia *cm = m->from && m->to ? sps__cmedia_find(s->media, m->call_id,
								    m->from->tag, m->to->tag, &side,
								    &other)
						 : NULL;
	bool late_end = false;
	struct sps_cmedia_res lr = {0};
	if (cm && other) {
		/* a second fork's dialog (its stream was rejected, RFC 3261 16.7
		 * step 5): never the session's, and no media of its own */
		cm = NULL;
		if (sps__cmedia_is_sdp(m->content_type, m->body)) {
			if (m->meth == SPS_METHOD_INVITE || m->meth == SPS_METHOD_UPDATE ||
			    m->meth == SPS_METHOD_PRACK) {
				struct sps_cmedia_res rr = {.warn_code = 305,
							    .reason = "the media of this dialog of "
								      "a forked call is not relayed"};
				c->answered = true;
				media_refuse(s, o, m, t, EACCES, &rr);
				keep(s, c);
				return true;
			}
			c->fwd_nobody = true; /* an ACK's: never past the relay */
		}
	}
	if (cm && m->meth == SPS_METHOD_BYE) {
		sps__cmedia_end(cm); /* the call is over */
	} else if (cm && m->meth == SPS_METHOD_ACK &&
		   sps__cmedia_ack_answer_pending(cm, side, m->cseq.num)) {
		/* the answer to an offer in a 2xx to a re-INVITE without SDP */
		int aerr = sps__cmedia_ack_answer(cm, m->content_type, m->body, &lr);
		if (aerr && aerr != ENOENT)
			SPS_WARN("%.*s: ACK: %s: %s", (int)m->call_id.l, m->call_id.p,
				 lr.reason ? lr.reason : "media", strerror(aerr));
		if (aerr != ENOENT) {
			c->fwd_body = lr.body; /* the call's now (freed with it) */
			c->fwd_len = lr.len;
			c->fwd_keys = lr.keys;
			c->fwd_nobody = !lr.body;
			lr.body = NULL;
		}
	} else if (cm && m->meth == SPS_METHOD_ACK && side == 0 && sps__cmedia_late_pending(cm)) {
		/* the answer to the callee's offer in the 2xx (RFC 3264 4) */
		int lerr = sps__cmedia_late_answer(cm, m->to->tag, m->content_type, m->body, &lr);
		if (lerr && lerr != EACCES && lerr != EALREADY && lerr != ENOENT)
			SPS_WARN("%.*s: ACK: %s: %s", (int)m->call_id.l, m->call_id.p,
				 lr.reason ? lr.reason : "media", strerror(lerr));
		if (lerr == ENOENT)
			sps__cmedia_end(cm); /* no SDP in the 2xx nor the ACK: no media */
		late_end = lerr && lerr != ENOENT && lerr != EALREADY;
		if (lerr != EALREADY && lerr != ENOENT) {
			c->fwd_body = lr.body; /* the call's now (freed with it) */
			c->fwd_len = lr.len;
			c->fwd_keys = lr.keys;
			c->fwd_nobody = !lr.body && m->body.l;
			lr.body = NULL;
		}
	} else if (cm &&
		   (m->meth == SPS_METHOD_INVITE || m->meth == SPS_METHOD_UPDATE ||
		    m->meth == SPS_METHOD_PRACK) &&
		   sps__cmedia_is_sdp(m->content_type, m->body)) {
		/* RFC 3264 8: a new offer in the dialog (hold, resume, new keys;
		 * in a PRACK, RFC 3262 5) */
		struct sps_cmedia_res mr;
		int merr = sps__cmedia_reoffer(cm, side, c->req->body, &mr);
		if (merr) {
			c->answered = true;
			media_refuse(s, o, m, t, merr, &mr);
			keep(s, c);
			return true;
		}
		c->media = sps_mem_ref(cm);
		c->media_side = side;
		c->fwd_body = mr.body;
		c->fwd_len = mr.len;
		c->fwd_keys = mr.keys;
	} else if (cm && m->meth == SPS_METHOD_INVITE && m->to->tag.l && !m->body.l) {
		/* RFC 3264 8 / RFC 3261 14.1: the other side offers in its 2xx */
		c->media = sps_mem_ref(cm);
		c->media_side = side;
		c->media_re2xx = true;
	} else if (cm && m->meth == SPS_METHOD_ACK && sps__cmedia_is_sdp(m->content_type, m->body)) {
		/* an answer no offer of ours expects: never past the relay as it is */
		SPS_INFO("%.*s: SDP in an in-dialog ACK not passed on (no offer pending)",
			 (int)m->call_id.l, m->call_id.p);
		c->fwd_nobody = true;
	}
	int err = forward(c, &d, c->req->ruri_s, NULL, false, popped);
	if (err && m->meth != SPS_METHOD_ACK)
		answer(c, 503, "Cannot Forward");
	if (late_end) {
		late_bye(s, o, m, &d, popped, cm, lr.reason);
		sps__cmedia_end(cm);
		if (s->calltab && m->from && m->to)
			sps__calls_end(s->calltab, m->call_id, m->from->tag, m->to->tag);
	}
	keep(s, c);
	return true;
}

/* Is this Via one we put on a request (our address and one of our ports)? */
static bool via_is_ours(const struct sps_via *v, void *arg)
{
	struct sps_server *s = arg;
	if (!sps__server_is_us(s, v->host))
		return false;
	return v->port == sps_sa_port(sps_udp_local(s->udp)) || v->port == s->tls_port;
}

/* Add key to the target set; false when it is there already or full. */
static bool target_add(struct call *c, const char *kind, const char *val)
{
	size_t n = strlen(kind) + strlen(val) + 1;
	for (unsigned i = 0; i < c->ntried; i++)
		if (strncmp(c->tried[i], kind, strlen(kind)) == 0 &&
		    strcmp(c->tried[i] + strlen(kind), val) == 0)
			return false;
	if (c->ntried == MAX_TARGETS)
		return false;
	char *k = malloc(n);
	if (!k)
		return false;
	snprintf(k, n, "%s%s", kind, val);
	c->tried[c->ntried++] = k;
	return true;
}

/* RFC 3261 16.5 / 16.7 step 4: follow a 3xx. A Contact that names a user
 * of ours (our host and port) gets that user's bindings as new branches; a
 * Contact equal to a current binding's contact gets that binding. Targets
 * already tried are not added again (16.5), recursion stops at
 * MAX_REDIRECT_DEPTH. Returns true when every Contact was local, so the 3xx
 * is consumed; false when some Contact points elsewhere: the 3xx then
 * competes for the best response and the caller may follow it. */
static bool recurse_3xx(struct call *c, struct branch *b, const struct sps_sip_msg *resp)
{
	struct sps_server *s = c->s;
	bool any = false, all_local = true, dup = false;
	unsigned before = c->nbr;
	for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(resp, SPS_HDR_CONTACT, NULL); h;
	     h = sps_sip_msg_hdr_next(resp, SPS_HDR_CONTACT, h)) {
		const struct sps_contact *ct = h->parsed;
		if (!ct || ct->star)
			continue;
		any = true;
		const struct sps_uri *u = &ct->na.uri;
		char user[65], uri[512];
		if ((u->scheme != SPS_URI_SIP && u->scheme != SPS_URI_SIPS) ||
		    sps_slice_to_cstr(u->user, user, sizeof(user)) || !user[0] ||
		    sps_slice_to_cstr(ct->na.uri_s, uri, sizeof(uri))) {
			all_local = false;
			continue;
		}
		bool ours = sps__server_is_us(s, u->host) &&
			    (!u->port || u->port == sps_sa_port(sps_udp_local(s->udp)) ||
			     u->port == s->tls_port);
		struct sps_user su;
		if (sps_store_user_get(s->store, user, &su) != 0) {
			if (ours)
				record_local(c, 404, "Redirect Target Not Found");
			else
				all_local = false;
			continue;
		}
		struct targets tg = {.s = s, .c = c, .sips = c->req->ruri.scheme == SPS_URI_SIPS,
				     .drop_routes = c->drop_routes, .only = ours ? NULL : u};
		if (!ours) {
			/* a binding's own contact? (counted, not yet forwarded) */
			struct targets probe = tg;
			sps_registrar_lookup(s->reg, user, (int64_t)time(NULL), on_binding_count,
					     &probe);
			if (!probe.found) {
				all_local = false;
				continue;
			}
		}
		if (b->depth + 1 > MAX_REDIRECT_DEPTH) {
			record_local(c, 482, "Too Many Redirections");
			continue;
		}
		if (!target_add(c, ours ? "u:" : "c:", ours ? user : uri)) {
			dup = true; /* 16.5: already in the target set (a forwarding loop) */
			continue;
		}
		c->next_depth = b->depth + 1;
		sps_registrar_lookup(s->reg, user, (int64_t)time(NULL), on_binding, &tg);
		if (!tg.sent)
			record_local(c, 480, no_target_phrase(&tg));
	}
	if (!any)
		return false; /* a 3xx without a Contact: nothing to follow */
	if (all_local && dup && c->nbr == before)
		record_local(c, 482, "Forwarding Loop");
	return all_local;
}

void sps__server_proxy(struct sps_server *s, const struct sps_origin *o, struct sps_sip_msg *m,
		       struct sps_tsx *t)
{
	/* RFC 3261 16.3 item 4, RFC 5393 4.2: a request we forwarded before
	 * that comes back unchanged is looping */
	if (m->meth != SPS_METHOD_ACK &&
	    sps__proxy_loop_check(m, via_is_ours, s) == SPS_LOOP_LOOP) {
		sps__server_respond(s, o, m, t, 482, NULL, NULL, 0);
		return;
	}
	/* in-dialog (To tag) or pre-loaded Route to us: route by the Route set */
	if (sps_sip_msg_hdr_next(m, SPS_HDR_ROUTE, NULL) && route_in_dialog(s, o, m, t))
		return;
	if (m->meth == SPS_METHOD_ACK)
		return; /* ACK without a route through us: not ours */
	if (m->to && m->to->tag.l) {
		sps__server_respond(s, o, m, t, 481, NULL, NULL, 0);
		return;
	}
	bool from_local = m->from && sps__server_is_us(s, m->from->uri.host);
	bool to_local = sps__server_is_us(s, m->ruri.host);
	char user[65];
	if (from_local) {
		if (sps__server_authenticate(s, o, m, t, true, user))
			return;
		if (!sps_slice_eq_cstr_ci(m->from->uri.user, user)) {
			sps__server_respond(s, o, m, t, 403, "From Does Not Match The User", NULL,
					    0);
			return;
		}
	}
	if (!to_local) {
		sps__server_respond(s, o, m, t, 403, "Relaying Denied", NULL, 0);
		return;
	}
	char callee[65];
	if (sps_slice_to_cstr(m->ruri.user, callee, sizeof(callee)) || !callee[0]) {
		sps__server_respond(s, o, m, t, 404, NULL, NULL, 0);
		return;
	}
	struct sps_user u;
	if (sps_store_user_get(s->store, callee, &u) != 0) {
		sps__server_respond(s, o, m, t, 404, NULL, NULL, 0);
		return;
	}
	struct call *c = call_new(s, o, m, t);
	if (!c) {
		sps__server_respond(s, o, m, t, 500, NULL, NULL, 0);
		return;
	}
	if (t)
		sps_tsx_set_udata(t, c);
	if (m->meth == SPS_METHOD_INVITE && s->media && m->from &&
	    (sps__cmedia_is_sdp(m->content_type, m->body) || !m->body.l) &&
	    media_invite(s, o, c, t, from_local ? user : NULL, callee, &u)) {
		keep(s, c);
		return;
	}
	c->recurse = true;
	c->drop_routes = our_routes(s, m);
	target_add(c, "u:", callee);
	if (m->meth == SPS_METHOD_INVITE && s->calltab && m->from && m->to) {
		struct sps_call_leg leg = {.tp = o->tp, .addr = o->src};
		c->track = sps__calls_begin(s->calltab, m->call_id, m->from->tag, m->from->uri_s,
					    m->to->uri_s, &leg, (int64_t)time(NULL)) == 0;
	}
	struct targets tg = {.s = s, .c = c, .sips = m->ruri.scheme == SPS_URI_SIPS,
			     .drop_routes = c->drop_routes};
	sps_registrar_lookup(s->reg, callee, (int64_t)time(NULL), on_binding, &tg);
	if (!tg.sent)
		answer(c, 480, no_target_phrase(&tg));
	keep(s, c);
}

/* CANCEL for an INVITE we proxied: 200 to the CANCEL (done by the caller),
 * then CANCEL every pending branch; the 487s come back and the best goes up. */
void sps__server_proxy_cancel(struct sps_server *s, struct sps_tsx *invite)
{
	struct call *c = sps_tsx_udata(invite);
	if (!c || c->cancelled)
		return;
	c->cancelled = true;
	for (unsigned i = 0; i < c->nbr; i++)
		cancel_branch(c, c->br[i]);
	/* branches without a provisional yet: answer 487 now (RFC 3261 16.10) */
	bool pending = false;
	for (unsigned i = 0; i < c->nbr; i++)
		pending |= !c->br[i]->done && c->br[i]->status >= 100;
	if (!pending)
		answer(c, 487, NULL);
	trim(c);
}
