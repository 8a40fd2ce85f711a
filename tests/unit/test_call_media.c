/* Unit tests of server/call_media: the SDP each leg gets through a real
 * relay on 127.0.0.1 - relay address and ports, fresh keys per leg
 * (RFC 4568), no a=crypto towards a hop without TLS, the 488 decisions, the
 * answer and a re-offer (hold, RFC 3264 8.4). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/mem.h"
#include "sdp/sdp.h"
#include "server/call_media.h"
#include "test.h"

#define KEY_A "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e"
#define KEY_B "ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGC"

/* An offer or answer of a phone at 127.0.0.1:port; key NULL: RTP/AVP. */
static int sdp_make(char *buf, size_t size, uint16_t port, const char *key, const char *extra)
{
	return snprintf(buf, size,
			"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
			"m=audio %u %s 0\r\na=rtpmap:0 PCMU/8000\r\n%s%s%s%s",
			port, key ? "RTP/SAVP" : "RTP/AVP", key ? "a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:" : "",
			key ? key : "", key ? "\r\n" : "", extra ? extra : "") < (int)size ? 0 : ENOSPC;
}

/* What a rewritten SDP says about its first m= section. */
struct seen {
	char addr[64], key[64], proto[16];
	uint16_t port;
	unsigned tag;
	size_t ncrypto;
	enum sps_sdp_dir dir;
};

static int see(const struct sps_cmedia_res *r, struct seen *out)
{
	struct sps_sdp *sdp = malloc(sizeof(*sdp));
	const char *why;
	if (!sdp || !r->body || sps_sdp_parse((struct sps_slice){r->body, r->len}, sdp, &why)) {
		free(sdp);
		return EBADMSG;
	}
	memset(out, 0, sizeof(*out));
	const struct sps_sdp_media *m = &sdp->media[0];
	sps_slice_to_cstr(sps_sdp_media_conn(sdp, 0)->addr, out->addr, sizeof(out->addr));
	sps_slice_to_cstr(m->proto_s, out->proto, sizeof(out->proto));
	out->port = m->port;
	out->ncrypto = m->ncrypto;
	out->dir = sps_sdp_media_dir(sdp, 0);
	if (m->ncrypto) {
		sps_slice_to_cstr(m->crypto[0].key_b64, out->key, sizeof(out->key));
		out->tag = m->crypto[0].tag;
	}
	free(sdp);
	return 0;
}

static int tab_open(struct sps_loop **loop, struct sps_cmedia_tab **t)
{
	struct sps_relay_conf c = {"127.0.0.1", 0, 0, 1, 0};
	c.port_min = (uint16_t)(20000 + (getpid() % 200) * 40);
	c.port_max = (uint16_t)(c.port_min + 39);
	char err[256];
	int rc = sps_loop_new(loop);
	return rc ? rc : sps__cmedia_tab_new(t, *loop, &c, err, sizeof(err));
}

/* A test's loop, call table and call (cm), and the two sides of its calls:
 * TLS peers at 127.0.0.1:5061 (caller) and :5062 (callee), UDP ones at
 * :5060. fx_close frees what fx_open made and the call. */
struct fx {
	struct sps_loop *loop;
	struct sps_cmedia_tab *t;
	struct sps_cmedia *cm;
	struct sps_cmedia_side sides[2];
};

static void fx_side(struct fx *f, unsigned i, enum sps_srtp_mode mode, bool tls)
{
	f->sides[i].mode = mode;
	f->sides[i].tls = tls;
	sps_sa_set_str(&f->sides[i].peer, "127.0.0.1", tls ? (uint16_t)(5061 + i) : 5060);
}

static int fx_open(struct fx *f, enum sps_srtp_mode m0, bool tls0, enum sps_srtp_mode m1,
		   bool tls1)
{
	memset(f, 0, sizeof(*f));
	fx_side(f, 0, m0, tls0);
	fx_side(f, 1, m1, tls1);
	return tab_open(&f->loop, &f->t);
}

/* End the current call: its session and the test's reference. */
static void fx_end(struct fx *f)
{
	if (f->cm)
		sps__cmedia_end(f->cm);
	f->cm = sps_mem_deref(f->cm);
}

static void fx_close(struct fx *f)
{
	sps_mem_deref(f->cm); /* a session still alive: the table frees it */
	sps__cmedia_tab_free(f->t);
	if (f->loop)
		sps_loop_free(f->loop);
}

/* Free the SDPs of results (their keys wiped), ready for reuse. */
static void res_free(struct sps_cmedia_res *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sps__cmedia_body_free(r[i].body, r[i].len);
		r[i].body = NULL;
	}
}

/* A test's end: free its results and fixture; 0, or 1 with what failed. */
static int fx_finish(struct fx *f, struct sps_cmedia_res *r, size_t n, int rc, const char *what)
{
	res_free(r, n);
	fx_close(f);
	if (rc)
		TEST_FAIL("%s", what);
	return 0;
}

static const struct sps_slice CID = SPS_SLICE_LIT("call-1"), TAG = SPS_SLICE_LIT("tag-a");
static const struct sps_slice TAG_B = SPS_SLICE_LIT("tag-b");

/* Content-Type check and the key detector of the key-leak guard. */
int test_call_media_is_sdp(void)
{
	struct sps_slice b = SPS_SLICE_LIT("v=0\r\n"), none = SPS_SLICE_LIT("");
	ASSERT(sps__cmedia_is_sdp(SPS_SLICE_LIT("application/sdp"), b));
	ASSERT(sps__cmedia_is_sdp(SPS_SLICE_LIT("Application/SDP;charset=x"), b));
	ASSERT(!sps__cmedia_is_sdp(SPS_SLICE_LIT("application/sdpx"), b));
	ASSERT(!sps__cmedia_is_sdp(SPS_SLICE_LIT("text/plain"), b));
	ASSERT(!sps__cmedia_is_sdp(SPS_SLICE_LIT("application/sdp"), none));
	struct sps_slice ct = SPS_SLICE_LIT("application/sdp");
	ASSERT(sps__cmedia_has_keys(ct, SPS_SLICE_LIT("v=0\r\na=crypto:1 X inline:a\r\n")));
	ASSERT(sps__cmedia_has_keys(ct, SPS_SLICE_LIT("a=crypto:1")));
	ASSERT(!sps__cmedia_has_keys(ct, SPS_SLICE_LIT("v=0\r\nx=a=crypto:1\r\n")));
	ASSERT(!sps__cmedia_has_keys(SPS_SLICE_LIT("text/plain"), SPS_SLICE_LIT("a=crypto:1")));
	return 0;
}

/* TLS caller offering SRTP to a TLS callee (both "offer"): transcrypting,
 * every SDP on the relay, each leg its own key; then a hold from the callee. */
int test_call_media_transcrypt(void)
{
	struct fx f;
	struct sps_cmedia_res r[4] = {{0}}; /* offer, answer, fork, hold */
	char a[1024], b[1024];
	struct seen s1, s0, sh, sf;
	int rc = 1;
	if (fx_open(&f, SPS_SRTP_OFFER, true, SPS_SRTP_OFFER, true) ||
	    sdp_make(a, sizeof(a), 4000, KEY_A, NULL) ||
	    sps__cmedia_invite(f.t, CID, TAG, f.sides, sps_slice_cstr(a), &f.cm, &r[0]) ||
	    see(&r[0], &s1))
		goto out;
	/* the callee's offer: our address and port, SRTP with a key of ours */
	if (strcmp(s1.addr, "127.0.0.1") || strcmp(s1.proto, "RTP/SAVP") || s1.ncrypto != 1 ||
	    s1.tag != 1 || !strcmp(s1.key, KEY_A) || s1.port == 4000 || !r[0].keys ||
	    sps__cmedia_count(f.t) != 1)
		goto out;
	if (sdp_make(b, sizeof(b), 5000, KEY_B, NULL) ||
	    sps__cmedia_answer(f.cm, 0, true, sps_slice_cstr(b), &r[1]) || see(&r[1], &s0))
		goto out;
	/* the caller's answer: the tag it offered (RFC 4568 9.1), another key */
	if (strcmp(s0.proto, "RTP/SAVP") || s0.tag != 7 || !strcmp(s0.key, KEY_B) ||
	    !strcmp(s0.key, s1.key) || !strcmp(s0.key, KEY_A) || s0.port == s1.port ||
	    s0.port == 5000)
		goto out;
	/* a 2xx from a second fork: its stream rejected towards the caller */
	if (sps__cmedia_reject(f.cm, 0, sps_slice_cstr(b), &r[2]) || see(&r[2], &sf) || sf.port ||
	    sf.ncrypto || r[2].keys)
		goto out;
	unsigned side = 9;
	bool other = true;
	if (sps__cmedia_find(f.t, CID, SPS_SLICE_LIT("tag-b"), TAG, &side, &other) != f.cm ||
	    side != 1 || other)
		goto out;
	/* once the dialog is known (the first 2xx's To tag), another fork's
	 * dialog is told apart, from either side */
	sps__cmedia_dialog(f.cm, SPS_SLICE_LIT("tag-b"));
	sps__cmedia_dialog(f.cm, SPS_SLICE_LIT("tag-c")); /* the first stays */
	if (sps__cmedia_find(f.t, CID, TAG, SPS_SLICE_LIT("tag-b"), &side, &other) != f.cm ||
	    side != 0 || other ||
	    sps__cmedia_find(f.t, CID, TAG, SPS_SLICE_LIT("tag-c"), &side, &other) != f.cm ||
	    side != 0 || !other ||
	    sps__cmedia_find(f.t, CID, SPS_SLICE_LIT("tag-c"), TAG, &side, &other) != f.cm ||
	    side != 1 || !other)
		goto out;
	/* hold from the callee (RFC 3264 8.4): sendonly goes on, same leg key */
	if (sdp_make(b, sizeof(b), 5000, KEY_B, "a=sendonly\r\n") ||
	    sps__cmedia_reoffer(f.cm, 1, sps_slice_cstr(b), &r[3]) || see(&r[3], &sh))
		goto out;
	if (sh.dir != SPS_SDP_SENDONLY || sh.port != s0.port || strcmp(sh.key, s0.key))
		goto out;
	fx_end(&f);
	if (sps__cmedia_count(f.t) != 0)
		goto out;
	rc = 0;
out:
	return fx_finish(&f, r, 4, rc, "transcrypting offer/answer through the relay failed");
}

/* The key-leak guard and the refusals. */
int test_call_media_guard(void)
{
	struct fx f;
	struct sps_cmedia_res r[3] = {{0}}; /* offer, answer, refusals */
	char a[1024], b[1024];
	struct seen s1, s0;
	int rc = 1;
	if (fx_open(&f, SPS_SRTP_OFFER, true, SPS_SRTP_OFFER, false))
		goto out;
	/* callee over UDP: plain RTP offered to it, no a=crypto (bridge) */
	if (sdp_make(a, sizeof(a), 4000, KEY_A, NULL) ||
	    sps__cmedia_invite(f.t, CID, TAG, f.sides, sps_slice_cstr(a), &f.cm, &r[0]) ||
	    see(&r[0], &s1) || strcmp(s1.proto, "RTP/AVP") || s1.ncrypto || r[0].keys ||
	    memmem(r[0].body, r[0].len, "crypto", 6))
		goto out;
	if (sdp_make(b, sizeof(b), 5000, NULL, NULL) ||
	    sps__cmedia_answer(f.cm, 0, true, sps_slice_cstr(b), &r[1]) || see(&r[1], &s0) ||
	    strcmp(s0.proto, "RTP/SAVP") || s0.ncrypto != 1 || !strcmp(s0.key, KEY_A))
		goto out;
	fx_end(&f);
	/* callee require, caller plain over UDP: 488 with Warning 305 */
	fx_side(&f, 0, SPS_SRTP_OFFER, false);
	fx_side(&f, 1, SPS_SRTP_REQUIRE, true);
	if (sdp_make(a, sizeof(a), 4000, NULL, NULL) ||
	    sps__cmedia_invite(f.t, CID, TAG, f.sides, sps_slice_cstr(a), &f.cm, &r[2]) != EACCES ||
	    r[2].warn_code != 305 || !r[2].reason || r[2].body || f.cm || sps__cmedia_count(f.t) != 0)
		goto out;
	/* keys offered over UDP are not answered with keys: refused */
	f.sides[1].mode = SPS_SRTP_OFFER;
	if (sdp_make(a, sizeof(a), 4000, KEY_A, NULL) ||
	    sps__cmedia_invite(f.t, CID, TAG, f.sides, sps_slice_cstr(a), &f.cm, &r[2]) != EACCES ||
	    r[2].warn_code != 399)
		goto out;
	/* an SDP without an RTP stream */
	if (sps__cmedia_invite(f.t, CID, TAG, f.sides, SPS_SLICE_LIT("v=0\r\n"), &f.cm, &r[2]) !=
	    EBADMSG)
		goto out;
	rc = 0;
out:
	return fx_finish(&f, r, 3, rc, "key-leak guard / refusal case failed");
}

/* A callee that answers plain RTP to an RTP/SAVP offer: the stream is
 * rejected towards the caller (port 0, no keys), never left unprotected. */
int test_call_media_answer_refused(void)
{
	struct fx f;
	struct sps_cmedia_res r[2] = {{0}}; /* offer, answer */
	char a[1024], b[1024];
	struct seen s0;
	int rc = 1;
	if (fx_open(&f, SPS_SRTP_REQUIRE, true, SPS_SRTP_OFFER, true) ||
	    sdp_make(a, sizeof(a), 4000, KEY_A, NULL) ||
	    sps__cmedia_invite(f.t, CID, TAG, f.sides, sps_slice_cstr(a), &f.cm, &r[0]) ||
	    sdp_make(b, sizeof(b), 5000, NULL, NULL) ||
	    sps__cmedia_answer(f.cm, 0, true, sps_slice_cstr(b), &r[1]) != EACCES ||
	    see(&r[1], &s0) || s0.port != 0 || s0.ncrypto || r[1].keys)
		goto out;
	rc = 0;
out:
	return fx_finish(&f, r, 2, rc, "a plain answer to an RTP/SAVP offer was not rejected");
}

/* Finding a dialog's media among many (the table's Call-ID buckets, grown
 * past their first size), from either side, and after others ended. */
static int find_many(struct sps_cmedia_tab *t, struct sps_cmedia **cms, int n)
{
	char a[1024], cid[32], tag[32];
	struct sps_cmedia_side sides[2] = {{.mode = SPS_SRTP_OFFER, .tls = true},
					   {.mode = SPS_SRTP_OFFER, .tls = true}};
	sps_sa_set_str(&sides[0].peer, "127.0.0.1", 5061);
	sps_sa_set_str(&sides[1].peer, "127.0.0.1", 5062);
	ASSERT_INT_EQ(sdp_make(a, sizeof(a), 4000, KEY_A, NULL), 0);
	for (int i = 0; i < n; i++) {
		struct sps_cmedia_res r = {0};
		snprintf(cid, sizeof(cid), "call-%d", i);
		snprintf(tag, sizeof(tag), "tag-%d", i);
		int err = sps__cmedia_invite(t, sps_slice_cstr(cid), sps_slice_cstr(tag), sides,
					     sps_slice_cstr(a), &cms[i], &r);
		sps__cmedia_body_free(r.body, r.len);
		ASSERT_INT_EQ(err, 0);
	}
	ASSERT_INT_EQ(sps__cmedia_count(t), n);
	for (int i = 0; i < n; i++) {
		unsigned side = 9;
		snprintf(cid, sizeof(cid), "call-%d", i);
		snprintf(tag, sizeof(tag), "tag-%d", i);
		ASSERT(sps__cmedia_find(t, sps_slice_cstr(cid), sps_slice_cstr(tag),
					SPS_SLICE_LIT("b"), &side, NULL) == cms[i]);
		ASSERT_INT_EQ(side, 0);
		ASSERT(sps__cmedia_find(t, sps_slice_cstr(cid), SPS_SLICE_LIT("b"),
					sps_slice_cstr(tag), &side, NULL) == cms[i]);
		ASSERT_INT_EQ(side, 1);
		/* the tag of another call under this Call-ID: not this dialog */
		snprintf(tag, sizeof(tag), "tag-%d", (i + 1) % n);
		ASSERT(!sps__cmedia_find(t, sps_slice_cstr(cid), sps_slice_cstr(tag),
					 SPS_SLICE_LIT("b"), &side, NULL));
	}
	for (int i = 0; i < n; i += 2)
		sps__cmedia_end(cms[i]);
	ASSERT_INT_EQ(sps__cmedia_count(t), n / 2);
	for (int i = 0; i < n; i++) {
		unsigned side;
		snprintf(cid, sizeof(cid), "call-%d", i);
		snprintf(tag, sizeof(tag), "tag-%d", i);
		struct sps_cmedia *f =
			sps__cmedia_find(t, sps_slice_cstr(cid), sps_slice_cstr(tag),
					 SPS_SLICE_LIT("b"), &side, NULL);
		ASSERT(f == (i % 2 ? cms[i] : NULL));
	}
	for (int i = 1; i < n; i += 2)
		sps__cmedia_end(cms[i]);
	ASSERT_INT_EQ(sps__cmedia_count(t), 0);
	return 0;
}

int test_call_media_find(void)
{
	enum { N = 300 };
	struct sps_loop *loop = NULL;
	struct sps_cmedia_tab *t = NULL;
	struct sps_cmedia *cms[N] = {0};
	/* 4 ports a session; a range of our own (ports taken by others are
	 * skipped by the relay) */
	struct sps_relay_conf c = {"127.0.0.1", 0, 0, 1, 0};
	c.port_min = (uint16_t)(40000 + (getpid() % 16) * 1300);
	c.port_max = (uint16_t)(c.port_min + 1299);
	char err[256];
	int rc = 1;
	enum sps_log_level lvl = sps_log_threshold;
	sps_log_set_level(SPS_LOG_WARN); /* not a line per call */
	if (sps_loop_new(&loop) == 0 && sps__cmedia_tab_new(&t, loop, &c, err, sizeof(err)) == 0)
		rc = find_many(t, cms, N);
	sps_log_set_level(lvl);
	for (int i = 0; i < N; i++)
		sps_mem_deref(cms[i]);
	sps__cmedia_tab_free(t);
	if (loop)
		sps_loop_free(loop);
	ASSERT_INT_EQ(rc, 0);
	return 0;
}

/* A late offer (INVITE without SDP, RFC 3261 13.2.1): the callee's offer in
 * the 2xx goes to the caller on the relay with keys of ours, a
 * retransmitted 2xx gets the same, the ACK's answer goes to the callee on
 * the relay with another key; a TLS callee and a UDP caller: bridged, no
 * a=crypto towards the caller (RFC 4568 8.3). */
int test_call_media_late(void)
{
	struct fx f;
	enum { R0, OFF, OFF2, ANS, AGAIN, NRES };
	struct sps_cmedia_res r[NRES] = {{0}};
	char a[1024], b[1024];
	struct seen s0, s0b, s1;
	int rc = 1;
	const struct sps_slice ct = SPS_SLICE_LIT("application/sdp");
	if (fx_open(&f, SPS_SRTP_OFFER, true, SPS_SRTP_OFFER, true) ||
	    sps__cmedia_late(f.t, CID, TAG, f.sides, SPS_SLICE_LIT("sip:a@127.0.0.1:5061"), &f.cm,
			     &r[R0]) ||
	    !sps__cmedia_late_pending(f.cm) || sps__cmedia_count(f.t) != 1 ||
	    strcmp(sps__cmedia_late_target(f.cm), "sip:a@127.0.0.1:5061"))
		goto out;
	/* the callee's offer, rewritten for the caller: relay, fresh key, tag 1 */
	if (sdp_make(b, sizeof(b), 5000, KEY_B, NULL) ||
	    sps__cmedia_late_offer(f.cm, TAG_B, sps_slice_cstr(b), &r[OFF]) || see(&r[OFF], &s0) ||
	    strcmp(s0.addr, "127.0.0.1") || strcmp(s0.proto, "RTP/SAVP") || s0.ncrypto != 1 ||
	    s0.tag != 1 || !strcmp(s0.key, KEY_B) || s0.port == 5000 || !s0.port || !r[OFF].keys)
		goto out;
	/* the 2xx retransmitted: the same offer */
	if (sps__cmedia_late_offer(f.cm, TAG_B, sps_slice_cstr(b), &r[OFF2]) ||
	    see(&r[OFF2], &s0b) || s0b.port != s0.port || strcmp(s0b.key, s0.key))
		goto out;
	/* the ACK of another fork's dialog is not the answer */
	if (sps__cmedia_late_answer(f.cm, SPS_SLICE_LIT("tag-c"), ct, SPS_SLICE_LIT("v=0\r\n"),
				    &r[AGAIN]) != EALREADY ||
	    r[AGAIN].body || !sps__cmedia_late_pending(f.cm))
		goto out;
	/* the caller's answer in the ACK, rewritten for the callee */
	if (sdp_make(a, sizeof(a), 4000, KEY_A, NULL) ||
	    sps__cmedia_late_answer(f.cm, TAG_B, ct, sps_slice_cstr(a), &r[ANS]) ||
	    see(&r[ANS], &s1) || strcmp(s1.addr, "127.0.0.1") || strcmp(s1.proto, "RTP/SAVP") ||
	    s1.ncrypto != 1 || s1.tag != 7 || !strcmp(s1.key, KEY_A) || !strcmp(s1.key, KEY_B) ||
	    !strcmp(s1.key, s0.key) || s1.port == s0.port || s1.port == 4000 ||
	    !sps__cmedia_late_pending(f.cm))
		goto out;
	/* the ACK retransmitted (the 2xx was seen again): the same rewrite;
	 * a later ACK without SDP (a re-INVITE's) is not a late answer */
	if (sps__cmedia_late_answer(f.cm, TAG_B, ct, sps_slice_cstr(a), &r[AGAIN]) ||
	    see(&r[AGAIN], &s0b) || s0b.port != s1.port || strcmp(s0b.key, s1.key))
		goto out;
	res_free(&r[AGAIN], 1);
	if (sps__cmedia_late_answer(f.cm, TAG_B, SPS_SLICE_NULL, SPS_SLICE_NULL, &r[AGAIN]) !=
		    EALREADY ||
	    r[AGAIN].body)
		goto out;
	/* and the 2xx retransmitted after the ACK: still the same offer */
	res_free(&r[OFF2], 1);
	if (sps__cmedia_late_offer(f.cm, TAG_B, sps_slice_cstr(b), &r[OFF2]) ||
	    see(&r[OFF2], &s0b) || s0b.port != s0.port || strcmp(s0b.key, s0.key))
		goto out;
	fx_end(&f);
	res_free(r, NRES);
	/* caller over UDP: the callee's keys stay on the TLS leg (bridge) */
	fx_side(&f, 0, SPS_SRTP_OFFER, false);
	if (sps__cmedia_late(f.t, CID, TAG, f.sides, SPS_SLICE_NULL, &f.cm, &r[R0]) ||
	    sps__cmedia_late_offer(f.cm, TAG_B, sps_slice_cstr(b), &r[OFF]) || see(&r[OFF], &s0) ||
	    strcmp(s0.proto, "RTP/AVP") || s0.ncrypto || r[OFF].keys ||
	    memmem(r[OFF].body, r[OFF].len, "crypto", 6) || !s0.port)
		goto out;
	if (sdp_make(a, sizeof(a), 4000, NULL, NULL) ||
	    sps__cmedia_late_answer(f.cm, TAG_B, ct, sps_slice_cstr(a), &r[ANS]) ||
	    see(&r[ANS], &s1) || strcmp(s1.proto, "RTP/SAVP") || s1.ncrypto != 1 || !r[ANS].keys ||
	    !strcmp(s1.key, KEY_B) || !s1.port)
		goto out;
	rc = 0;
out:
	return fx_finish(&f, r, NRES, rc, "late offer through the relay failed");
}

/* Late offers that cannot be satisfied: the 2xx still goes to the caller
 * with the stream disabled (port 0, no keys), the ACK's answer to the
 * callee is rejected too, and the proxy is told to end the call (EACCES);
 * an ACK without the answer ends it as well. Never a silent downgrade. */
int test_call_media_late_refused(void)
{
	struct fx f;
	enum { R0, OFF, ANS, NRES };
	struct sps_cmedia_res r[NRES] = {{0}};
	char a[1024], b[1024];
	struct seen s0, s1;
	int rc = 1;
	const struct sps_slice ct = SPS_SLICE_LIT("application/sdp");
	/* callee require over TLS, caller off over UDP: refused */
	if (fx_open(&f, SPS_SRTP_OFF, false, SPS_SRTP_REQUIRE, true) ||
	    sps__cmedia_late(f.t, CID, TAG, f.sides, SPS_SLICE_NULL, &f.cm, &r[R0]) ||
	    sdp_make(b, sizeof(b), 5000, KEY_B, NULL) ||
	    sps__cmedia_late_offer(f.cm, TAG_B, sps_slice_cstr(b), &r[OFF]) != EACCES ||
	    !r[OFF].reason || !r[OFF].warn_code || see(&r[OFF], &s0) || s0.port || s0.ncrypto ||
	    r[OFF].keys || memmem(r[OFF].body, r[OFF].len, KEY_B, strlen(KEY_B)) ||
	    !sps__cmedia_late_pending(f.cm))
		goto out;
	if (sdp_make(a, sizeof(a), 0, NULL, NULL) ||
	    sps__cmedia_late_answer(f.cm, TAG_B, ct, sps_slice_cstr(a), &r[ANS]) != EACCES ||
	    !r[ANS].reason || see(&r[ANS], &s1) || s1.port || s1.ncrypto || r[ANS].keys ||
	    sps__cmedia_late_pending(f.cm))
		goto out;
	fx_end(&f);
	res_free(r, NRES);
	/* both off over UDP, plain RTP: fine until the ACK comes without SDP */
	fx_side(&f, 1, SPS_SRTP_OFF, false);
	if (sps__cmedia_late(f.t, CID, TAG, f.sides, SPS_SLICE_NULL, &f.cm, &r[R0]) ||
	    sdp_make(b, sizeof(b), 5000, NULL, NULL) ||
	    sps__cmedia_late_offer(f.cm, TAG_B, sps_slice_cstr(b), &r[OFF]) || see(&r[OFF], &s0) ||
	    !s0.port || strcmp(s0.proto, "RTP/AVP") ||
	    sps__cmedia_late_answer(f.cm, TAG_B, SPS_SLICE_NULL, SPS_SLICE_NULL, &r[ANS]) != EACCES ||
	    r[ANS].body || !r[ANS].reason)
		goto out;
	fx_end(&f);
	/* no SDP in the 2xx nor the ACK: a dialog without media (ENOENT) */
	if (sps__cmedia_late(f.t, CID, TAG, f.sides, SPS_SLICE_NULL, &f.cm, &r[R0]) ||
	    sps__cmedia_late_answer(f.cm, TAG_B, SPS_SLICE_NULL, SPS_SLICE_NULL, &r[ANS]) != ENOENT ||
	    r[ANS].body || sps__cmedia_late_pending(f.cm))
		goto out;
	fx_end(&f);
	/* no SDP in the 2xx but one in the ACK: media past the relay, ended */
	if (sps__cmedia_late(f.t, CID, TAG, f.sides, SPS_SLICE_NULL, &f.cm, &r[R0]) ||
	    sps__cmedia_late_answer(f.cm, TAG_B, ct, sps_slice_cstr(a), &r[ANS]) != EACCES ||
	    r[ANS].body)
		goto out;
	rc = 0;
out:
	return fx_finish(&f, r, NRES, rc, "a late offer that cannot be satisfied was not refused safely");
}

/* A re-INVITE without SDP (RFC 3264 8): the other side offers in its 2xx,
 * the sender answers in its ACK. A good offer is anchored like any
 * re-offer; one that drops SRTP on a leg that uses it still reaches the
 * sender (RFC 3261 13.3.1.4) with the stream disabled, and the ACK's answer
 * reaches the offerer rejecting it - nothing flows in the clear. */
int test_call_media_reinvite_no_sdp(void)
{
	struct fx f;
	enum { OFF, ANS, O2, A2, O3, A3, NRES };
	struct sps_cmedia_res r[NRES] = {{0}};
	char a[1024], b[1024];
	struct seen s1, s0, so2, sa2, so3, sa3;
	int rc = 1, err;
	const struct sps_slice ct = SPS_SLICE_LIT("application/sdp");
	if (fx_open(&f, SPS_SRTP_OFFER, true, SPS_SRTP_OFFER, true) ||
	    sdp_make(a, sizeof(a), 4000, KEY_A, NULL) ||
	    sps__cmedia_invite(f.t, CID, TAG, f.sides, sps_slice_cstr(a), &f.cm, &r[OFF]) ||
	    see(&r[OFF], &s1) || sdp_make(b, sizeof(b), 5000, KEY_B, NULL) ||
	    sps__cmedia_answer(f.cm, 0, true, sps_slice_cstr(b), &r[ANS]) || see(&r[ANS], &s0))
		goto out;
	/* the caller re-INVITEs without SDP: the callee (side 1) offers */
	if (sps__cmedia_ack_answer_pending(f.cm, 0, 3) || sdp_make(b, sizeof(b), 5010, KEY_A, NULL) ||
	    sps__cmedia_reoffer_2xx(f.cm, 1, 3, sps_slice_cstr(b), &r[O2]) || see(&r[O2], &so2))
		goto out;
	/* for the caller: its relay port, its leg's key, not the callee's */
	if (so2.port != s0.port || strcmp(so2.key, s0.key) || !strcmp(so2.key, KEY_A) ||
	    strcmp(so2.proto, "RTP/SAVP") || !r[O2].keys)
		goto out;
	/* only the re-INVITE's ACK (its CSeq number) from the caller answers */
	if (!sps__cmedia_ack_answer_pending(f.cm, 0, 3) || sps__cmedia_ack_answer_pending(f.cm, 1, 3) ||
	    sps__cmedia_ack_answer_pending(f.cm, 0, 2) ||
	    sdp_make(a, sizeof(a), 4010, KEY_B, NULL) ||
	    sps__cmedia_ack_answer(f.cm, ct, sps_slice_cstr(a), &r[A2]) || see(&r[A2], &sa2))
		goto out;
	/* for the callee: its relay port, the tag it offered, sipsec's key */
	if (sa2.port != s1.port || sa2.tag != 7 || strcmp(sa2.key, s1.key) ||
	    !strcmp(sa2.key, KEY_B))
		goto out;
	/* the same ACK again (a retransmitted 2xx crossed it): the same
	 * rewrite, never the caller's own SDP; an ACK without SDP goes as is */
	res_free(&r[A2], 1);
	if (!sps__cmedia_ack_answer_pending(f.cm, 0, 3) ||
	    sps__cmedia_ack_answer(f.cm, ct, sps_slice_cstr(a), &r[A2]) || see(&r[A2], &sa2) ||
	    sa2.port != s1.port || strcmp(sa2.key, s1.key) ||
	    sps__cmedia_ack_answer(f.cm, SPS_SLICE_NULL, SPS_SLICE_NULL, &r[O3]) != ENOENT ||
	    r[O3].body)
		goto out;
	/* again, the callee now offering plain RTP on its SRTP leg: refused */
	sdp_make(b, sizeof(b), 5020, NULL, NULL);
	err = sps__cmedia_reoffer_2xx(f.cm, 1, 4, sps_slice_cstr(b), &r[O3]);
	if (err != EACCES || !r[O3].reason || see(&r[O3], &so3) || so3.port || so3.ncrypto ||
	    r[O3].keys)
		goto out;
	sdp_make(a, sizeof(a), 4020, NULL, NULL);
	err = sps__cmedia_ack_answer(f.cm, ct, sps_slice_cstr(a), &r[A3]);
	if (err != EACCES || see(&r[A3], &sa3) || sa3.port || sa3.ncrypto)
		goto out;
	rc = 0;
out:
	return fx_finish(&f, r, NRES, rc, "offer in the 2xx to a re-INVITE without SDP not anchored or not refused");
}
