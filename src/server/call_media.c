/* server/call_media: media anchoring and SRTP policy for proxied calls
 * (call_media.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define SPS_LOG_MODULE "media"
#include "core/log.h"
#include "core/mem.h"
#include "media/sdes.h"
#include "sdp/sdp.h"
#include "server/call_media.h"
#include "server/calls.h"

/* What sipsec knows of one leg. Keys are secret: wiped in the destructor. */
struct leg {
	bool tls;
	enum sps_offer_sec sec;  /* how SDP towards this leg expresses security */
	bool srtp;               /* the leg speaks SRTP (agreed) */
	bool have_rx;
	struct sps_srtp_key rx;  /* the phone's key (its a=crypto) */
	struct sps_srtp_key tx;  /* ours to it, generated here (RFC 4568 6.1 fresh per leg) */
	uint32_t tag;            /* a=crypto tag to answer this leg with (RFC 4568 9.1) */
	struct sps_sa rtp, rtcp; /* where its phone wants media */
	bool mux;                /* its last SDP had a=rtcp-mux (RFC 5761) */
	bool no_send;            /* its last SDP said sendonly/inactive */
	char addr[64];           /* our media address as this leg sees it */
};

/* One dialog's media. The table's list holds one reference while the
 * session lives (sess != NULL implies in the list); each proxied request
 * of the dialog holds another. */
struct sps_cmedia {
	struct sps_cmedia *next, *prev; /* t->head list */
	struct sps_cmedia *hnext;     /* t->buckets chain, by Call-ID */
	uint32_t hash;                /* of call_id */
	struct sps_cmedia_tab *tab;   /* NULL once removed from the table */
	char *call_id, *tag0;         /* the caller's From tag */
	struct sps_relay_sess *sess;  /* NULL when over */
	struct sps_media_plan plan;   /* the decision on the initial offer */
	size_t mi;                    /* the anchored m= section */
	bool answered;                /* an answer was applied: legs are final */
	struct leg leg[2];
	/* a late offer (INVITE without SDP, RFC 3261 13.2.1): the callee
	 * offers in its 2xx, the caller answers in the ACK */
	enum { LATE_NONE, LATE_WAIT_OFFER, LATE_WAIT_ANSWER, LATE_ANSWERED, LATE_REFUSED,
	       LATE_DONE } late;
	struct sps_cmedia_side side[2]; /* LATE_WAIT_OFFER: for the decision */
	const char *late_reason;      /* LATE_REFUSED: why (static) */
	int late_warn;
	char *target0;                /* the caller's Contact URI (for a BYE to it) */
	char *tag1;                   /* the callee's tag of the dialog the session follows
					 (sps__cmedia_dialog; a late offer: of the 2xx that
					 offered), NULL until known */
	char why[200];                /* a late refusal's reason, roles as the users see them */
	/* an offer in the 2xx to a re-INVITE without SDP (sps__cmedia_reoffer_2xx):
	 * the ACK of side !re_from is to carry the answer; once it did, an ACK
	 * with SDP again (a retransmitted 2xx crossed the ACK, RFC 3261
	 * 13.2.2.4) gets the same treatment until the next such offer */
	enum { RE_NONE, RE_WAIT_ANSWER, RE_ANSWERED, RE_REFUSED } re2xx;
	unsigned re_from;
	uint32_t re_cseq; /* the re-INVITE's, which its ACK repeats (RFC 3261 13.2.2.4) */
};

/* Invariant: every cmedia in the list is in exactly one bucket chain (of
 * its hash); nbuckets is a power of two, 0 before the first session. The
 * list is for walks, the buckets for finding a dialog's media per request. */
struct sps_cmedia_tab {
	struct sps_relay *relay;
	struct sps_cmedia *head;
	unsigned count;
	struct sps_cmedia **buckets;
	size_t nbuckets;
};

static uint32_t hash_callid(struct sps_slice s)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < s.l; i++)
		h = (h ^ (unsigned char)s.p[i]) * 16777619u;
	return h;
}

/* Put cm (hash set) into the table, which takes a reference. Returns 0 or
 * ENOMEM. */
static int link_cm(struct sps_cmedia_tab *t, struct sps_cmedia *cm)
{
	if (t->count >= t->nbuckets) {
		size_t nb = t->nbuckets ? t->nbuckets * 2 : 256;
		struct sps_cmedia **b = calloc(nb, sizeof(*b));
		if (!b && !t->nbuckets)
			return ENOMEM;
		if (b) { /* else longer chains, still correct */
			for (struct sps_cmedia *x = t->head; x; x = x->next) {
				x->hnext = b[x->hash & (nb - 1)];
				b[x->hash & (nb - 1)] = x;
			}
			free(t->buckets);
			t->buckets = b;
			t->nbuckets = nb;
		}
	}
	struct sps_cmedia **b = &t->buckets[cm->hash & (t->nbuckets - 1)];
	cm->hnext = *b;
	*b = cm;
	cm->tab = t;
	cm->prev = NULL;
	cm->next = t->head;
	if (t->head)
		t->head->prev = cm;
	t->head = sps_mem_ref(cm);
	t->count++;
	return 0;
}

static void cm_destroy(void *obj)
{
	struct sps_cmedia *cm = obj;
	/* a live session is in the table, which holds a reference: not here */
	free(cm->call_id);
	free(cm->tag0);
	free(cm->target0);
	free(cm->tag1);
	OPENSSL_cleanse(cm->leg, sizeof(cm->leg));
}

static void unlink_cm(struct sps_cmedia *cm)
{
	struct sps_cmedia_tab *t = cm->tab;
	if (!t)
		return;
	for (struct sps_cmedia **pp = &t->buckets[cm->hash & (t->nbuckets - 1)]; *pp;
	     pp = &(*pp)->hnext)
		if (*pp == cm) {
			*pp = cm->hnext;
			break;
		}
	if (cm->prev)
		cm->prev->next = cm->next;
	else
		t->head = cm->next;
	if (cm->next)
		cm->next->prev = cm->prev;
	t->count--;
	cm->tab = NULL;
	cm->next = cm->prev = cm->hnext = NULL;
	sps_mem_deref(cm); /* the list's reference */
}

int sps__cmedia_tab_new(struct sps_cmedia_tab **out, struct sps_loop *loop,
			const struct sps_relay_conf *conf, char *err, size_t errsize)
{
	struct sps_cmedia_tab *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errsize, "out of memory for the media relay");
		return ENOMEM;
	}
	int rc = sps_relay_new(&t->relay, conf, loop);
	if (rc) {
		snprintf(err, errsize,
			 "cannot start the media relay on %s ports %u-%u: %s; choose another "
			 "--listen or --media-port-min/--media-port-max",
			 conf->addr ? conf->addr : "0.0.0.0", conf->port_min, conf->port_max,
			 strerror(rc));
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void sps__cmedia_tab_free(struct sps_cmedia_tab *t)
{
	if (!t)
		return;
	/* the relay frees the sessions itself */
	for (struct sps_cmedia *cm = t->head; cm; cm = cm->next)
		cm->sess = NULL;
	sps_relay_free(t->relay);
	while (t->head)
		unlink_cm(t->head);
	free(t->buckets);
	free(t);
}

unsigned sps__cmedia_count(const struct sps_cmedia_tab *t)
{
	return t ? t->count : 0;
}

void sps__cmedia_body_free(char *body, size_t len)
{
	if (body)
		OPENSSL_cleanse(body, len);
	free(body);
}

bool sps__cmedia_is_sdp(struct sps_slice ct, struct sps_slice body)
{
	static const char sdp[] = "application/sdp";
	return body.l > 0 && ct.l >= sizeof(sdp) - 1 && strncasecmp(ct.p, sdp, sizeof(sdp) - 1) == 0 &&
	       (ct.l == sizeof(sdp) - 1 || ct.p[sizeof(sdp) - 1] == ';' ||
		ct.p[sizeof(sdp) - 1] == ' ');
}

bool sps__cmedia_has_keys(struct sps_slice ct, struct sps_slice body)
{
	/* conservative: any "a=crypto:" at a line start, parsed or not */
	if (!sps__cmedia_is_sdp(ct, body))
		return false;
	for (size_t i = 0; i + 9 <= body.l; i++)
		if ((i == 0 || body.p[i - 1] == '\n') && memcmp(body.p + i, "a=crypto:", 9) == 0)
			return true;
	return false;
}

/* The relay ended the session (no media for --media-timeout). */
static void on_sess_end(struct sps_relay_sess *s, int reason, void *arg)
{
	struct sps_cmedia *cm = arg;
	(void)s;
	SPS_INFO("call %s: media session ended: %s", cm->call_id, strerror(reason));
	cm->sess = NULL;
	unlink_cm(cm);
}

void sps__cmedia_end(struct sps_cmedia *cm)
{
	if (!cm || !cm->sess)
		return;
	sps_relay_sess_end(cm->sess);
	cm->sess = NULL;
	unlink_cm(cm);
}

static char *dupslice(struct sps_slice s)
{
	char *p = malloc(s.l + 1);
	if (p) {
		memcpy(p, s.p, s.l);
		p[s.l] = '\0';
	}
	return p;
}

struct sps_cmedia *sps__cmedia_find(struct sps_cmedia_tab *t, struct sps_slice call_id,
				    struct sps_slice from, struct sps_slice to, unsigned *side,
				    bool *other)
{
	if (other)
		*other = false;
	if (!t || !t->nbuckets)
		return NULL;
	uint32_t h = hash_callid(call_id);
	for (struct sps_cmedia *cm = t->buckets[h & (t->nbuckets - 1)]; cm; cm = cm->hnext) {
		if (cm->hash != h || !sps_slice_eq(call_id, sps_slice_cstr(cm->call_id)))
			continue;
		struct sps_slice callee;
		if (sps_slice_eq(from, sps_slice_cstr(cm->tag0))) {
			*side = 0;
			callee = to;
		} else if (sps_slice_eq(to, sps_slice_cstr(cm->tag0))) {
			*side = 1;
			callee = from;
		} else {
			continue;
		}
		if (other && cm->tag1 && !sps_slice_eq(callee, sps_slice_cstr(cm->tag1)))
			*other = true;
		return cm;
	}
	return NULL;
}

void sps__cmedia_dialog(struct sps_cmedia *cm, struct sps_slice to_tag)
{
	if (cm && !cm->tag1 && to_tag.l)
		cm->tag1 = dupslice(to_tag);
}

/* The address of ours a peer at `peer` reaches: the relay's own when it is
 * bound to one, else the one the routing table picks towards the peer (a
 * connected UDP socket's name; nothing is sent). */
static void media_addr(const struct sps_cmedia_tab *t, const struct sps_sa *peer, char *buf,
		       size_t size)
{
	const char *ra = sps_relay_addr(t->relay);
	struct sps_sa a;
	if (sps_sa_set_str(&a, ra, 0) == 0 && !sps_sa_is_any(&a)) {
		snprintf(buf, size, "%s", ra);
		return;
	}
	snprintf(buf, size, "%s", sps_sa_family(peer) == AF_INET6 ? "::1" : "127.0.0.1");
	int fd = socket(sps_sa_family(peer), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (connect(fd, sps_sa_addr(peer), peer->len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    sps_sa_set(&a, (struct sockaddr *)&ss, sl) == 0)
		sps_sa_ip_str(&a, buf, size);
	close(fd);
}

/* The first m= section we can anchor: RTP-family with a port (RFC 3264 6:
 * port 0 is a rejected stream). SIZE_MAX when none. */
static size_t anchored(const struct sps_sdp *sdp)
{
	for (size_t i = 0; i < sdp->nmedia; i++)
		if (sdp->media[i].proto != SPS_SDP_PROTO_OTHER && sdp->media[i].port)
			return i;
	return SIZE_MAX;
}

static int parse(struct sps_slice body, struct sps_sdp **out, const char **why)
{
	struct sps_sdp *sdp = malloc(sizeof(*sdp));
	if (!sdp)
		return ENOMEM;
	int err = sps_sdp_parse(body, sdp, why);
	if (err) {
		free(sdp);
		return EBADMSG;
	}
	*out = sdp;
	return 0;
}

/* Fill leg l from section i of its own SDP: where it wants media, rtcp-mux,
 * direction (sendonly/inactive: it does not want to receive, RFC 3264 8.4). */
static int leg_from_sdp(struct leg *l, const struct sps_sdp *sdp, size_t i)
{
	if (sps_sdes_remote(sdp, i, &l->rtp, &l->rtcp))
		return EBADMSG;
	l->mux = sdp->media[i].rtcp_mux;
	enum sps_sdp_dir d = sps_sdp_media_dir(sdp, i);
	l->no_send = d == SPS_SDP_SENDONLY || d == SPS_SDP_INACTIVE;
	return 0;
}

/* Write sdp towards leg `to`: the anchored section on the relay port of
 * that leg with its security, every other RTP-family section disabled
 * (disable_others, in an offer) and the connection address ours. */
static int write_for(struct sps_cmedia *cm, const struct sps_sdp *sdp, struct sps_slice in,
		     unsigned to, enum sps_offer_sec sec, uint32_t tag, bool reject,
		     bool disable_others, struct sps_cmedia_res *res)
{
	struct leg *l = &cm->leg[to];
	struct sps_sdp_edit e;
	memset(&e, 0, sizeof(e));
	e.addr = l->addr;
	char line[SPS_SDP_CRYPTO_LINE_MAX];
	uint16_t port = reject || !cm->sess ? 0 : sps_relay_sess_port(cm->sess, (int)to);
	int err = sps_sdes_edit_media(&e, cm->mi, &sdp->media[cm->mi], port,
				      reject ? SPS_OFFER_PLAIN : sec, &l->tx, tag, line,
				      sizeof(line));
	for (size_t i = 0; !err && disable_others && i < sdp->nmedia && i < SPS_SDP_MAX_MEDIA; i++)
		if (i != cm->mi && sdp->media[i].port) {
			e.media[i].set = true;
			e.media[i].port = 0;
		}
	size_t size = in.l * 2 + 2048, len = 0;
	char *buf = err ? NULL : malloc(size);
	if (!err && !buf)
		err = ENOMEM;
	if (!err)
		err = sps_sdp_write(sdp, &e, buf, size, &len);
	OPENSSL_cleanse(line, sizeof(line));
	if (err) {
		sps__cmedia_body_free(buf, size);
		res->reason = "cannot rewrite the SDP for the media relay";
		return err;
	}
	res->body = buf;
	res->len = len;
	res->keys = !reject && sec != SPS_OFFER_PLAIN;
	return 0;
}

static const char *profile_of(const struct leg *l)
{
	return l->srtp ? "SRTP" : "RTP";
}

/* Push both legs to the relay (RFC 3711 keys per direction). */
static int update(struct sps_cmedia *cm)
{
	if (!cm->sess)
		return ESHUTDOWN;
	struct sps_relay_spec spec;
	memset(&spec, 0, sizeof(spec));
	bool mux = cm->leg[0].mux && cm->leg[1].mux; /* RFC 5761 5.1.1: agreed by both */
	for (int i = 0; i < 2; i++) {
		const struct leg *l = &cm->leg[i];
		struct sps_relay_leg *rl = &spec.leg[i];
		rl->srtp = l->srtp;
		if (l->srtp) {
			rl->rx = l->rx;
			rl->tx = l->tx;
		}
		rl->rtp = l->rtp;
		rl->rtcp = l->rtcp;
		rl->rtcp_mux = mux;
		rl->no_send = l->no_send;
	}
	int err = sps_relay_sess_update(cm->sess, &spec);
	OPENSSL_cleanse(&spec, sizeof(spec));
	return err;
}

/* The initial offer `body` from side o (0: the caller's INVITE; 1: the
 * callee's 2xx to an INVITE without SDP) to side a = 1 - o: decide with
 * both policies (the offerer in the policy's caller role), fill both legs
 * and write the offer for side a into res. cm is linked and has its relay
 * session. Returns 0, EACCES (refused: res->warn_code, res->reason),
 * EBADMSG or an errno (res->reason). */
static int first_offer(struct sps_cmedia *cm, const struct sps_cmedia_side sides[2], unsigned o,
		       struct sps_slice body, struct sps_cmedia_res *res)
{
	unsigned a = 1 - o;
	struct sps_sdp *sdp = NULL;
	const char *why = NULL;
	int err = parse(body, &sdp, &why);
	if (err) {
		res->reason = err == EBADMSG ? "the SDP offer cannot be parsed" : "out of memory";
		return err;
	}
	cm->mi = anchored(sdp);
	struct sps_srtp_key key;
	memset(&key, 0, sizeof(key));
	if (cm->mi == SIZE_MAX) {
		err = EBADMSG;
		res->reason = "the SDP offer has no RTP stream";
		goto out;
	}
	const struct sps_sdp_media *m = &sdp->media[cm->mi];
	struct leg *lo = &cm->leg[o], *la = &cm->leg[a];
	uint32_t tag = 0;
	bool suite_ok = sps_sdes_pick(m, &key, &tag) == 0;
	struct sps_media_in in = {
		.caller = sides[o].mode,
		.callee = sides[a].mode,
		.caller_tls = sides[o].tls,
		.callee_tls = sides[a].tls,
		.offer = sps_sdes_sec(m),
		.offer_suite_ok = suite_ok,
		.e2e_keys = false, /* every leg gets its own keys (issue 6 item 3) */
	};
	struct sps_media_plan *p = &cm->plan;
	/* the decision is logged once, here; keys never are */
	if (sps_media_decide(&in, p) == SPS_MEDIA_REFUSE) {
		res->warn_code = p->warn_code;
		res->reason = p->reason;
		if (o) {
			/* the policy speaks of the offerer as "caller": swap the
			 * words (same length) so that the reason names the users */
			snprintf(cm->why, sizeof(cm->why), "%s", p->reason);
			for (char *w = cm->why; (w = strstr(w, "calle")) != NULL; w += 6)
				if (w[5] == 'r' || w[5] == 'e')
					w[5] = w[5] == 'r' ? 'e' : 'r';
			res->reason = cm->why;
		}
		SPS_INFO("call %s: media refused%s: %s", cm->call_id,
			 o ? " (late offer in the 2xx)" : " (488)", res->reason);
		err = EACCES;
		goto out;
	}
	lo->tls = sides[o].tls;
	la->tls = sides[a].tls;
	lo->sec = in.offer;
	lo->srtp = p->caller_srtp;
	la->sec = p->callee_offer;
	if (lo->srtp) {
		lo->rx = key;
		lo->have_rx = true;
		lo->tag = tag;
		/* RFC 4568 6.1: the answerer's own key, of the suite it chose */
		if ((err = sps_srtp_keygen(&lo->tx, key.suite)))
			goto fail;
	}
	if (la->sec != SPS_OFFER_PLAIN &&
	    (err = sps_srtp_keygen(&la->tx, lo->srtp ? key.suite
						     : SPS_SRTP_AES_CM_128_HMAC_SHA1_80)))
		goto fail;
	if ((err = leg_from_sdp(lo, sdp, cm->mi))) {
		res->reason = "the SDP offer has a connection address that is not an IP address";
		goto out;
	}
	/* RFC 3264 6: our offer to side a; its a=crypto tag is 1 */
	if ((err = write_for(cm, sdp, body, a, la->sec, 1, false, true, res)))
		goto out;
	SPS_INFO("call %s: media %s (%s %s over %s, %s %s over %s; ports %u/%u)", cm->call_id,
		 sps_media_action_name(p->action), o ? "offering callee" : "caller",
		 sps_srtp_mode_name(in.caller), in.caller_tls ? "TLS" : "no TLS",
		 o ? "caller" : "callee", sps_srtp_mode_name(in.callee),
		 in.callee_tls ? "TLS" : "no TLS", sps_relay_sess_port(cm->sess, 0),
		 sps_relay_sess_port(cm->sess, 1));
	goto out;
fail:
	res->reason = "the media relay cannot set up the call";
	SPS_WARN("call %s: %s: %s", cm->call_id, res->reason, strerror(err));
out:
	sps_srtp_key_wipe(&key);
	free(sdp);
	return err;
}

/* A new cm for the dialog, linked, with its relay session. */
static int cm_new(struct sps_cmedia_tab *t, struct sps_slice call_id, struct sps_slice from_tag,
		  const struct sps_cmedia_side sides[2], struct sps_cmedia **out,
		  struct sps_cmedia_res *res)
{
	int err;
	struct sps_cmedia *cm = sps_mem_zalloc(sizeof(*cm), cm_destroy);
	if (!cm || !(cm->call_id = dupslice(call_id)) || !(cm->tag0 = dupslice(from_tag))) {
		sps_mem_deref(cm);
		res->reason = "out of memory";
		return ENOMEM;
	}
	media_addr(t, &sides[0].peer, cm->leg[0].addr, sizeof(cm->leg[0].addr));
	media_addr(t, &sides[1].peer, cm->leg[1].addr, sizeof(cm->leg[1].addr));
	if ((err = sps_relay_sess_new(t->relay, &cm->sess, on_sess_end, cm)))
		goto fail;
	cm->hash = hash_callid(call_id);
	if ((err = link_cm(t, cm))) {
		sps_relay_sess_end(cm->sess);
		cm->sess = NULL;
		goto fail;
	}
	*out = cm;
	return 0;
fail:
	res->reason = err == EADDRINUSE ? "the media relay's port range is full"
					: "the media relay cannot set up the call";
	SPS_WARN("call %s: %s: %s", cm->call_id, res->reason, strerror(err));
	sps_mem_deref(cm);
	return err;
}

int sps__cmedia_invite(struct sps_cmedia_tab *t, struct sps_slice call_id,
		       struct sps_slice from_tag, const struct sps_cmedia_side sides[2],
		       struct sps_slice body, struct sps_cmedia **out, struct sps_cmedia_res *res)
{
	memset(res, 0, sizeof(*res));
	struct sps_cmedia *cm = NULL;
	int err = cm_new(t, call_id, from_tag, sides, &cm, res);
	if (err)
		return err;
	if ((err = first_offer(cm, sides, 0, body, res))) {
		sps__cmedia_end(cm);
		sps_mem_deref(cm);
		return err;
	}
	*out = cm;
	return 0;
}

int sps__cmedia_late(struct sps_cmedia_tab *t, struct sps_slice call_id,
		     struct sps_slice from_tag, const struct sps_cmedia_side sides[2],
		     struct sps_slice caller_target, struct sps_cmedia **out,
		     struct sps_cmedia_res *res)
{
	memset(res, 0, sizeof(*res));
	struct sps_cmedia *cm = NULL;
	int err = cm_new(t, call_id, from_tag, sides, &cm, res);
	if (err)
		return err;
	if (caller_target.l && !(cm->target0 = dupslice(caller_target))) {
		sps__cmedia_end(cm);
		sps_mem_deref(cm);
		res->reason = "out of memory";
		return ENOMEM;
	}
	cm->side[0] = sides[0];
	cm->side[1] = sides[1];
	cm->late = LATE_WAIT_OFFER;
	*out = cm;
	return 0;
}

bool sps__cmedia_late_pending(const struct sps_cmedia *cm)
{
	return cm && cm->sess && cm->late != LATE_NONE && cm->late != LATE_DONE;
}

const char *sps__cmedia_late_target(const struct sps_cmedia *cm)
{
	return cm ? cm->target0 : NULL;
}

/* Write sdp (an offer of side !to) towards side `to` with the stream
 * disabled (port 0, no keys): RFC 3264 5.1/6, nothing flows. */
static int write_disabled(struct sps_cmedia *cm, struct sps_slice body, unsigned to,
			  struct sps_cmedia_res *res)
{
	struct sps_sdp *sdp = NULL;
	const char *why;
	if (parse(body, &sdp, &why))
		return EBADMSG;
	int err = EBADMSG;
	/* a refused first offer: the section it would have anchored (once
	 * answered the session's section stays) */
	if (!cm->answered && (cm->mi == SIZE_MAX || cm->mi >= sdp->nmedia))
		cm->mi = anchored(sdp);
	if (cm->mi != SIZE_MAX && cm->mi < sdp->nmedia) {
		const char *r = res->reason;
		int w = res->warn_code;
		err = write_for(cm, sdp, body, to, SPS_OFFER_PLAIN, 0, true, true, res);
		res->reason = r;
		res->warn_code = w;
	}
	free(sdp);
	return err;
}

/* Write sdp (an answer of side !to) towards side `to` with the stream
 * rejected (port 0, no keys, RFC 3264 6); res->body stays NULL when the SDP
 * is unusable. */
static void write_rejected(struct sps_cmedia *cm, struct sps_slice body, unsigned to,
			   struct sps_cmedia_res *res)
{
	struct sps_sdp *sdp = NULL;
	const char *why;
	if (parse(body, &sdp, &why) != 0)
		return;
	if (cm->mi != SIZE_MAX && cm->mi < sdp->nmedia)
		write_for(cm, sdp, body, to, SPS_OFFER_PLAIN, 0, true, false, res);
	free(sdp);
}

int sps__cmedia_late_offer(struct sps_cmedia *cm, struct sps_slice to_tag, struct sps_slice body,
			   struct sps_cmedia_res *res)
{
	memset(res, 0, sizeof(*res));
	if (cm->late == LATE_WAIT_OFFER) {
		free(cm->tag1);
		cm->tag1 = dupslice(to_tag); /* NULL: any ACK of the call counts */
		if (!cm->sess) {
			cm->late_reason = "the call's media session is over";
			cm->late_warn = 399;
			cm->late = LATE_REFUSED;
		} else {
			int err = first_offer(cm, cm->side, 1, body, res);
			if (!err) {
				cm->late = LATE_WAIT_ANSWER;
				return 0;
			}
			sps__cmedia_body_free(res->body, res->len);
			res->body = NULL;
			cm->late_reason = res->reason ? res->reason : strerror(err);
			cm->late_warn = err == EACCES && res->warn_code ? res->warn_code : 399;
			cm->late = LATE_REFUSED;
		}
	} else if (cm->late == LATE_WAIT_ANSWER || cm->late == LATE_ANSWERED) {
		/* the same 2xx again (retransmitted until the ACK, RFC 3261
		 * 13.3.1.4, also when our ACK to the callee was lost): the same
		 * offer, keys and ports as the first time */
		struct sps_sdp *sdp = NULL;
		const char *why;
		int err = parse(body, &sdp, &why);
		if (!err) {
			err = anchored(sdp) == cm->mi
				      ? write_for(cm, sdp, body, 0, cm->leg[0].sec, 1, false, true, res)
				      : EBADMSG;
			free(sdp);
		}
		if (!err)
			return 0;
		res->reason = "the retransmitted offer differs";
		return err;
	} else if (cm->late != LATE_REFUSED) {
		res->reason = "no late offer is expected";
		return EALREADY;
	}
	/* refused: the 2xx still goes to the caller (the dialog exists), its
	 * offer disabled so that no media flows and no key leaks */
	res->reason = cm->late_reason;
	res->warn_code = cm->late_warn;
	write_disabled(cm, body, 0, res);
	return EACCES;
}

int sps__cmedia_late_answer(struct sps_cmedia *cm, struct sps_slice to_tag, struct sps_slice ct,
			    struct sps_slice body, struct sps_cmedia_res *res)
{
	memset(res, 0, sizeof(*res));
	if (cm->tag1 && !sps_slice_eq(to_tag, sps_slice_cstr(cm->tag1))) {
		/* the ACK of another fork's 2xx (its offer went to the caller
		 * disabled, sps__cmedia_reject): not the dialog anchored here */
		res->reason = "not the dialog of the late offer";
		return EALREADY;
	}
	if (cm->late == LATE_WAIT_OFFER) {
		/* the 2xx had no SDP: the caller got no offer. Without an SDP in
		 * the ACK either the dialog has no media at all: nothing to
		 * anchor or to protect (ENOENT, the session is ended). An SDP in
		 * the ACK would be media past the relay: the call is ended. */
		cm->late = LATE_DONE;
		if (!sps__cmedia_is_sdp(ct, body))
			return ENOENT;
		res->warn_code = 399;
		res->reason = "the 2xx to an INVITE without SDP carried no offer";
		return EACCES;
	}
	if (cm->late == LATE_REFUSED) {
		cm->late = LATE_DONE;
		res->warn_code = cm->late_warn;
		res->reason = cm->late_reason;
		/* the answer to the callee rejects the stream (RFC 3264 6) */
		if (sps__cmedia_is_sdp(ct, body)) {
			write_rejected(cm, body, 1, res);
			res->warn_code = cm->late_warn;
			res->reason = cm->late_reason;
		}
		return EACCES;
	}
	if (cm->late == LATE_ANSWERED) {
		/* the ACK again (the caller saw the 2xx again): the same answer
		 * rewritten the same way; an ACK without SDP belongs to a later
		 * transaction of the dialog (a re-INVITE's ACK) */
		if (!sps__cmedia_is_sdp(ct, body)) {
			res->reason = "no late offer is pending";
			return EALREADY;
		}
		return sps__cmedia_answer(cm, 1, true, body, res);
	}
	if (cm->late != LATE_WAIT_ANSWER) {
		res->reason = "no late offer is pending";
		return EALREADY;
	}
	cm->late = LATE_DONE;
	if (!sps__cmedia_is_sdp(ct, body)) {
		/* RFC 3261 13.2.1 / 13.3.1.4: the ACK must carry the answer */
		SPS_INFO("call %s: the ACK carries no answer to the late offer", cm->call_id);
		res->warn_code = 399;
		res->reason = "the ACK carries no SDP answer to the offer in the 2xx";
		return EACCES;
	}
	int err = sps__cmedia_answer(cm, 1, true, body, res);
	if (err && !res->warn_code)
		res->warn_code = 399;
	if (!err)
		cm->late = LATE_ANSWERED;
	return err;
}

int sps__cmedia_reoffer(struct sps_cmedia *cm, unsigned from, struct sps_slice body,
			struct sps_cmedia_res *res)
{
	memset(res, 0, sizeof(*res));
	if (!cm->sess) {
		res->reason = "the call's media session is over";
		return ESHUTDOWN;
	}
	struct sps_sdp *sdp = NULL;
	const char *why;
	int err = parse(body, &sdp, &why);
	if (err) {
		res->reason = "the SDP offer cannot be parsed";
		return err;
	}
	struct leg *x = &cm->leg[from], *y = &cm->leg[1 - from], saved;
	bool changed = false;
	struct sps_srtp_key key;
	uint32_t tag = 0;
	memset(&key, 0, sizeof(key));
	if (anchored(sdp) != cm->mi) {
		err = EACCES;
		res->warn_code = 304;
		res->reason = "the new offer moves the media stream to another m= line";
		goto out;
	}
	const struct sps_sdp_media *m = &sdp->media[cm->mi];
	enum sps_offer_sec sec = sps_sdes_sec(m);
	bool have = sps_sdes_pick(m, &key, &tag) == 0;
	/* RFC 3264 8: a new offer may change keys, address, direction - not
	 * downgrade a leg sipsec secured, nor upgrade one the policy left plain */
	if (x->srtp && !have) {
		err = EACCES;
		res->warn_code = 305;
		res->reason = "the new offer drops SRTP on a leg that uses it";
		goto out;
	}
	if (!x->srtp && sec == SPS_OFFER_SRTP) {
		err = EACCES;
		res->warn_code = 305;
		res->reason = "the new offer asks for SRTP on a leg that is plain RTP";
		goto out;
	}
	/* from here the leg changes: as it was again on any failure, so that a
	 * refused offer leaves the session as it was */
	saved = *x;
	changed = true;
	if ((err = leg_from_sdp(x, sdp, cm->mi))) {
		res->reason = "the SDP offer has a connection address that is not an IP address";
		goto out;
	}
	if (x->srtp) {
		if (x->tx.suite != key.suite && (err = sps_srtp_keygen(&x->tx, key.suite)))
			goto out;
		x->rx = key; /* new keys (RFC 4568 7.1.4) take effect now */
		x->tag = tag;
		x->sec = sec;
	}
	if ((err = update(cm)) ||
	    (err = write_for(cm, sdp, body, 1 - from, y->srtp ? y->sec : SPS_OFFER_PLAIN, 1, false,
			     true, res)))
		goto out;
	SPS_DEBUG("call %s: new offer from the %s", cm->call_id, from ? "callee" : "caller");
out:
	if (err && changed) {
		*x = saved;
		if (update(cm))
			SPS_WARN("call %s: the relay keeps the refused offer's leg", cm->call_id);
	}
	OPENSSL_cleanse(&saved, sizeof(saved));
	if (err && err != EACCES && !res->reason)
		res->reason = "the media relay cannot update the call";
	sps_srtp_key_wipe(&key);
	free(sdp);
	return err;
}

int sps__cmedia_reoffer_2xx(struct sps_cmedia *cm, unsigned from, uint32_t cseq,
			    struct sps_slice body, struct sps_cmedia_res *res)
{
	int err = sps__cmedia_reoffer(cm, from, body, res);
	cm->re_from = from;
	cm->re_cseq = cseq;
	if (!err) {
		cm->re2xx = RE_WAIT_ANSWER;
		return 0;
	}
	/* the 2xx goes on with the stream disabled; the relay keeps the legs
	 * as they were, the answer in the ACK is replaced by a rejection */
	SPS_INFO("call %s: offer in the %s's 2xx to a re-INVITE without SDP refused: %s",
		 cm->call_id, from ? "callee" : "caller", res->reason ? res->reason : "media");
	sps__cmedia_body_free(res->body, res->len);
	res->body = NULL;
	cm->re2xx = RE_REFUSED;
	if (write_disabled(cm, body, 1 - from, res) && !res->reason)
		res->reason = "the SDP offer cannot be parsed";
	return err == EBADMSG ? EBADMSG : EACCES;
}

bool sps__cmedia_ack_answer_pending(const struct sps_cmedia *cm, unsigned side, uint32_t cseq)
{
	return cm && cm->sess && cm->re2xx != RE_NONE && side == 1 - cm->re_from &&
	       cseq == cm->re_cseq;
}

int sps__cmedia_ack_answer(struct sps_cmedia *cm, struct sps_slice ct, struct sps_slice body,
			   struct sps_cmedia_res *res)
{
	memset(res, 0, sizeof(*res));
	if (!sps__cmedia_is_sdp(ct, body)) {
		/* RE_ANSWERED: the ACK of a later transaction of the dialog */
		if (cm->re2xx == RE_WAIT_ANSWER)
			cm->re2xx = RE_NONE;
		res->reason = "the ACK carries no SDP answer to the offer in the 2xx";
		return ENOENT;
	}
	if (cm->re2xx != RE_REFUSED) {
		cm->re2xx = RE_ANSWERED;
		return sps__cmedia_answer(cm, cm->re_from, false, body, res);
	}
	/* the answer to the offerer rejects the stream (RFC 3264 6) */
	write_rejected(cm, body, cm->re_from, res);
	res->warn_code = 305;
	res->reason = "the offer in the 2xx was refused";
	return EACCES;
}

int sps__cmedia_answer(struct sps_cmedia *cm, unsigned offerer, bool initial,
		       struct sps_slice body, struct sps_cmedia_res *res)
{
	memset(res, 0, sizeof(*res));
	if (!cm->sess) {
		res->reason = "the call's media session is over";
		return ESHUTDOWN;
	}
	struct sps_sdp *sdp = NULL;
	const char *why;
	int err = parse(body, &sdp, &why);
	if (err) {
		res->reason = "the SDP answer cannot be parsed";
		return err;
	}
	struct leg *x = &cm->leg[offerer], *y = &cm->leg[1 - offerer];
	struct sps_srtp_key key;
	uint32_t tag = 0;
	memset(&key, 0, sizeof(key));
	if (cm->mi >= sdp->nmedia || sdp->media[cm->mi].proto == SPS_SDP_PROTO_OTHER) {
		err = EBADMSG;
		res->reason = "the SDP answer does not match the offer";
		goto out;
	}
	const struct sps_sdp_media *m = &sdp->media[cm->mi];
	/* keys in an answer to a plain offer do not count (RFC 3264 6) */
	bool have = y->sec != SPS_OFFER_PLAIN && sps_sdes_pick(m, &key, &tag) == 0;
	const char *refuse = NULL;
	if (initial && !cm->answered) {
		enum sps_media_action a = sps_media_decide_answer(&cm->plan, have, &refuse);
		if (refuse && offerer) /* a late offer: the caller answered */
			refuse = "the caller answered plain RTP to an RTP/SAVP offer";
		if (a != SPS_MEDIA_REFUSE) {
			y->srtp = a == SPS_MEDIA_TRANSCRYPT || (a == SPS_MEDIA_BRIDGE && !x->srtp);
			/* logged when the answer changed the decision logged on the offer */
			if (a != cm->plan.action)
				SPS_INFO("call %s: media %s on answer (caller %s, callee %s)", cm->call_id,
					 sps_media_action_name(a), profile_of(&cm->leg[0]),
					 profile_of(&cm->leg[1]));
		}
	} else if (y->srtp && !have) {
		refuse = "the answer drops SRTP on a leg that uses it";
	}
	bool reject = refuse != NULL || m->port == 0;
	if (refuse) {
		SPS_INFO("call %s: media stream rejected: %s", cm->call_id, refuse);
		memset(&y->rtp, 0, sizeof(y->rtp));
		memset(&y->rtcp, 0, sizeof(y->rtcp));
	} else {
		if ((err = leg_from_sdp(y, sdp, cm->mi))) {
			res->reason = "the SDP answer has a connection address that is not an IP address";
			goto out;
		}
		if (y->srtp) {
			y->rx = key;
			y->have_rx = true;
		}
		/* rtcp-mux holds only when both the offer and the answer have it
		 * (RFC 5761 5.1.1): the offerer's flag as the answer decides */
		x->mux = x->mux && y->mux;
		cm->answered = true;
	}
	if (!refuse && (err = update(cm)))
		goto out;
	/* RFC 4568 7.1.2 / 9.1: the answer to the offerer names the tag it chose */
	err = write_for(cm, sdp, body, offerer, x->srtp ? x->sec : SPS_OFFER_PLAIN, x->tag, reject,
			false, res);
	if (!err && refuse) {
		err = EACCES;
		res->warn_code = 305;
		res->reason = refuse;
	}
out:
	if (err && err != EACCES && !res->reason)
		res->reason = "the media relay cannot update the call";
	sps_srtp_key_wipe(&key);
	free(sdp);
	return err;
}

int sps__cmedia_reject(struct sps_cmedia *cm, unsigned offerer, struct sps_slice body,
		       struct sps_cmedia_res *res)
{
	memset(res, 0, sizeof(*res));
	struct sps_sdp *sdp = NULL;
	const char *why;
	int err = parse(body, &sdp, &why);
	if (err) {
		res->reason = "the SDP answer cannot be parsed";
		return err;
	}
	if (cm->mi >= sdp->nmedia || sdp->media[cm->mi].proto == SPS_SDP_PROTO_OTHER) {
		res->reason = "the SDP answer does not match the offer";
		err = EBADMSG;
	} else {
		err = write_for(cm, sdp, body, offerer, SPS_OFFER_PLAIN, 0, true, false, res);
	}
	free(sdp);
	return err;
}

void sps__cmedia_report(struct sps_cmedia_tab *t, struct sps_calls *calls)
{
	if (!t || !calls)
		return;
	for (struct sps_cmedia *cm = t->head; cm; cm = cm->next) {
		if (!cm->sess || !cm->answered)
			continue;
		struct sps_relay_leg_stats st[2];
		sps_relay_sess_stats(cm->sess, 0, &st[0]);
		sps_relay_sess_stats(cm->sess, 1, &st[1]);
		for (unsigned i = 0; i < 2; i++) {
			const struct leg *l = &cm->leg[i];
			char prof[32];
			if (l->srtp)
				snprintf(prof, sizeof(prof), "SRTP %s", sps_srtp_suite_name(l->tx.suite));
			else
				snprintf(prof, sizeof(prof), "RTP");
			/* in: what its phone sent us; out: what we relayed to it */
			sps__calls_media(calls, sps_slice_cstr(cm->call_id), sps_slice_cstr(cm->tag0),
					 i, prof, st[i].rx, st[1 - i].relayed);
			sps__calls_media_auth_failed(calls, sps_slice_cstr(cm->call_id),
						     sps_slice_cstr(cm->tag0), i, st[i].auth_failed);
		}
	}
}
