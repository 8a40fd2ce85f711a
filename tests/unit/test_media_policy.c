/* Unit tests of media/policy: SRTP modes and the table of media decisions
 * (488 refusals with their reasons, the key-leak guard). */
#include <errno.h>
#include <string.h>

#include "media/policy.h"
#include "test.h"
#include "util.h"

int test_media_policy_modes(void)
{
	static const char *const names[] = {"default", "off", "enable", "offer", "require"};
	for (int i = 0; i < 5; i++) {
		enum sps_srtp_mode m;
		ASSERT_INT_EQ(sps_srtp_mode_parse(names[i], &m), 0);
		ASSERT_INT_EQ(m, i);
		ASSERT_STR_EQ(sps_srtp_mode_name(m), names[i]);
	}
	enum sps_srtp_mode m = SPS_SRTP_OFF;
	ASSERT_INT_EQ(sps_srtp_mode_parse("Require", &m), EINVAL);
	ASSERT_INT_EQ(sps_srtp_mode_parse("", &m), EINVAL);
	ASSERT_INT_EQ(sps_srtp_mode_parse(NULL, &m), EINVAL);
	ASSERT_INT_EQ(m, SPS_SRTP_OFF);
	ASSERT_INT_EQ(sps_srtp_mode_resolve(SPS_SRTP_MODE_UNSET, SPS_SRTP_REQUIRE), SPS_SRTP_REQUIRE);
	ASSERT_INT_EQ(sps_srtp_mode_resolve(SPS_SRTP_ENABLE, SPS_SRTP_REQUIRE), SPS_SRTP_ENABLE);
	ASSERT_INT_EQ(sps_srtp_mode_resolve(SPS_SRTP_MODE_UNSET, SPS_SRTP_MODE_UNSET), SPS_SRTP_OFFER);
	return 0;
}

enum { U = SPS_SRTP_MODE_UNSET, OFF = SPS_SRTP_OFF, EN = SPS_SRTP_ENABLE, OF = SPS_SRTP_OFFER,
       REQ = SPS_SRTP_REQUIRE };
enum { PL = SPS_OFFER_PLAIN, BE = SPS_OFFER_BEST_EFFORT, SAVP = SPS_OFFER_SRTP };
enum { REF = SPS_MEDIA_REFUSE, PLAIN = SPS_MEDIA_PLAIN, PASS = SPS_MEDIA_PASSTHROUGH,
       TRANS = SPS_MEDIA_TRANSCRYPT, BRIDGE = SPS_MEDIA_BRIDGE };

static const struct {
	int caller, callee;
	bool caller_tls, callee_tls;
	int offer;
	bool suite_ok, e2e;
	int action;
	bool caller_srtp;
	int callee_offer;
	const char *why; /* part of the 488 reason */
} table[] = {
	/* two TLS phones, SRTP offered: fresh keys per leg, or end to end when allowed */
	{OF, OF, 1, 1, SAVP, 1, 0, TRANS, 1, SAVP, NULL},
	{OF, OF, 1, 1, SAVP, 1, 1, PASS, 1, SAVP, NULL},
	{U, U, 1, 1, SAVP, 1, 0, TRANS, 1, SAVP, NULL},
	{REQ, EN, 1, 1, SAVP, 1, 1, PASS, 1, SAVP, NULL},
	/* SRTP phone calling a plain gateway over UDP: bridged, or 488 when the callee requires */
	{OF, OFF, 1, 0, SAVP, 1, 0, BRIDGE, 1, PL, NULL},
	{EN, OFF, 1, 1, SAVP, 1, 0, BRIDGE, 1, PL, NULL},
	{OF, REQ, 1, 0, SAVP, 1, 0, REF, 0, PL, "hop to the callee is not TLS"},
	/* require on one side: every leg SRTP */
	{OFF, REQ, 1, 1, PL, 0, 0, REF, 0, PL, "callee's media policy is require"},
	{OF, REQ, 0, 1, PL, 0, 0, REF, 0, PL, "callee's media policy is require"},
	{REQ, OFF, 1, 1, SAVP, 1, 0, REF, 0, PL, "callee's is off"},
	{REQ, OF, 1, 1, PL, 0, 0, REF, 0, PL, "caller's media policy is require"},
	{REQ, REQ, 1, 1, BE, 1, 0, TRANS, 1, SAVP, NULL},
	{REQ, OF, 0, 1, BE, 1, 0, REF, 0, PL, "hop is not TLS"},
	{OF, REQ, 1, 1, SAVP, 1, 0, TRANS, 1, SAVP, NULL},
	/* key-leak guard: keys that came over a plain hop are not answered with keys */
	{OF, OF, 0, 1, SAVP, 1, 0, REF, 0, PL, "hop without TLS"},
	{OF, OF, 0, 1, BE, 1, 0, BRIDGE, 0, BE, NULL},
	/* and keys are not sent towards a plain hop: that leg is RTP */
	{OF, OF, 1, 0, SAVP, 1, 1, BRIDGE, 1, PL, NULL},
	{OF, EN, 0, 0, PL, 0, 0, PLAIN, 0, PL, NULL},
	/* suites */
	{OF, OF, 1, 1, SAVP, 0, 0, REF, 0, PL, "no crypto suite in common"},
	{OF, OF, 1, 1, BE, 0, 0, BRIDGE, 0, BE, NULL},
	{REQ, OF, 1, 1, BE, 0, 0, REF, 0, PL, "no crypto suite"},
	/* off means plain on that leg */
	{OFF, OF, 1, 1, SAVP, 1, 0, REF, 0, PL, "caller's media policy is off"},
	{OFF, OF, 1, 1, BE, 1, 0, BRIDGE, 0, BE, NULL},
	{OFF, OFF, 1, 1, PL, 0, 0, PLAIN, 0, PL, NULL},
	/* enable: SRTP towards the callee only when the caller has it */
	{OF, EN, 1, 1, PL, 0, 0, PLAIN, 0, PL, NULL},
	{OF, EN, 1, 1, SAVP, 1, 0, TRANS, 1, SAVP, NULL},
	{EN, OF, 0, 1, PL, 0, 0, BRIDGE, 0, BE, NULL},
	/* best effort from the caller: SRTP on its leg when it can be; no pass-through */
	{OF, OF, 1, 1, BE, 1, 1, TRANS, 1, BE, NULL},
};

int test_media_policy_table(void)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct sps_media_in in = {
			(enum sps_srtp_mode)table[i].caller, (enum sps_srtp_mode)table[i].callee,
			table[i].caller_tls, table[i].callee_tls, (enum sps_offer_sec)table[i].offer,
			table[i].suite_ok, table[i].e2e};
		struct sps_media_plan p;
		enum sps_media_action a = sps_media_decide(&in, &p);
		if ((int)a != table[i].action || (int)p.action != table[i].action)
			TEST_FAIL("row %zu: action %s, expected %s (%s)", i, sps_media_action_name(a),
				  sps_media_action_name((enum sps_media_action)table[i].action),
				  p.reason ? p.reason : "");
		ASSERT(p.reason);
		if (a == SPS_MEDIA_REFUSE) {
			if (!strstr(p.reason, table[i].why))
				TEST_FAIL("row %zu: reason \"%s\", expected \"%s\"", i, p.reason,
					  table[i].why);
			ASSERT(p.warn_code == 305 || p.warn_code == 399);
			continue;
		}
		if (p.caller_srtp != table[i].caller_srtp || (int)p.callee_offer != table[i].callee_offer)
			TEST_FAIL("row %zu: caller_srtp %d callee_offer %d, expected %d %d", i,
				  p.caller_srtp, p.callee_offer, table[i].caller_srtp,
				  table[i].callee_offer);
		/* the key-leak guard holds in every plan */
		ASSERT(!p.caller_srtp || in.caller_tls);
		ASSERT(p.callee_offer == SPS_OFFER_PLAIN || in.callee_tls);
	}
	return 0;
}

/* Every combination: never keys over a plain hop, require always honoured. */
int test_media_policy_exhaustive(void)
{
	unsigned n = 0;
	for (int caller = OFF; caller <= REQ; caller++)
	for (int callee = OFF; callee <= REQ; callee++)
	for (int ct = 0; ct < 2; ct++)
	for (int et = 0; et < 2; et++)
	for (int offer = PL; offer <= SAVP; offer++)
	for (int ok = 0; ok < 2; ok++)
	for (int e2e = 0; e2e < 2; e2e++) {
		struct sps_media_in in = {(enum sps_srtp_mode)caller, (enum sps_srtp_mode)callee,
					  ct, et, (enum sps_offer_sec)offer, ok, e2e};
		struct sps_media_plan p;
		enum sps_media_action a = sps_media_decide(&in, &p);
		n++;
		ASSERT(p.reason);
		if (a == SPS_MEDIA_REFUSE)
			continue;
		ASSERT(!p.caller_srtp || ct);
		ASSERT(p.callee_offer == SPS_OFFER_PLAIN || et);
		ASSERT(!p.caller_srtp || offer != PL);
		ASSERT(!(p.caller_srtp && offer != PL) || ok);
		if (caller == REQ || callee == REQ)
			ASSERT(p.caller_srtp && p.callee_offer == SPS_OFFER_SRTP);
		if (caller == OFF)
			ASSERT(!p.caller_srtp);
		if (callee == OFF)
			ASSERT(p.callee_offer == SPS_OFFER_PLAIN);
		ASSERT(offer != SAVP || p.caller_srtp); /* RTP/SAVP is answered with SRTP or refused */
		ASSERT(a != SPS_MEDIA_PASSTHROUGH || (e2e && ct && et));
	}
	ASSERT_INT_EQ(n, 4 * 4 * 2 * 2 * 3 * 2 * 2);
	return 0;
}

int test_media_policy_answer(void)
{
	struct sps_media_plan p;
	const char *why;
	/* best effort to the callee: its answer decides bridge or plain */
	struct sps_media_in in = {SPS_SRTP_OFF, SPS_SRTP_OFFER, 1, 1, SPS_OFFER_PLAIN, 0, 0};
	ASSERT_INT_EQ(sps_media_decide(&in, &p), SPS_MEDIA_BRIDGE);
	ASSERT_INT_EQ(p.callee_offer, SPS_OFFER_BEST_EFFORT);
	ASSERT_INT_EQ(sps_media_decide_answer(&p, true, &why), SPS_MEDIA_BRIDGE);
	ASSERT_INT_EQ(sps_media_decide_answer(&p, false, &why), SPS_MEDIA_PLAIN);
	in.caller = SPS_SRTP_OFFER;
	in.offer = SPS_OFFER_BEST_EFFORT;
	in.offer_suite_ok = true;
	ASSERT_INT_EQ(sps_media_decide(&in, &p), SPS_MEDIA_TRANSCRYPT);
	ASSERT_INT_EQ(sps_media_decide_answer(&p, true, &why), SPS_MEDIA_TRANSCRYPT);
	ASSERT_INT_EQ(sps_media_decide_answer(&p, false, &why), SPS_MEDIA_BRIDGE);
	/* RTP/SAVP to the callee must be answered with keys */
	in.offer = SPS_OFFER_SRTP;
	ASSERT_INT_EQ(sps_media_decide(&in, &p), SPS_MEDIA_TRANSCRYPT);
	ASSERT_INT_EQ(p.callee_offer, SPS_OFFER_SRTP);
	ASSERT_INT_EQ(sps_media_decide_answer(&p, true, &why), SPS_MEDIA_TRANSCRYPT);
	ASSERT_INT_EQ(sps_media_decide_answer(&p, false, &why), SPS_MEDIA_REFUSE);
	ASSERT(why && strstr(why, "plain RTP to an RTP/SAVP offer"));
	/* a plain offer: keys in the answer are ignored */
	in.callee = SPS_SRTP_OFF;
	ASSERT_INT_EQ(sps_media_decide(&in, &p), SPS_MEDIA_BRIDGE);
	ASSERT_INT_EQ(sps_media_decide_answer(&p, true, NULL), SPS_MEDIA_BRIDGE);
	return 0;
}

/* ---- the users.srtp column (store migration 3) ---- */

#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

static int collect_srtp(const struct sps_user *u, void *arg)
{
	char *out = arg;
	strcat(out, u->name);
	strcat(out, "=");
	strcat(out, u->srtp[0] ? u->srtp : "(default)");
	strcat(out, " ");
	return 0;
}

static int store_srtp(const char *dir)
{
	struct sps_store *st = NULL;
	struct sps_user u, got;
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "alice");
	snprintf(u.realm, sizeof(u.realm), "sip.example.test");
	memset(u.ha1_md5, 'a', SPS_HA1_MD5_HEX);
	ASSERT_INT_EQ(sps_store_user_add(st, &u), 0); /* srtp "": the system default */
	snprintf(u.name, sizeof(u.name), "bob");
	snprintf(u.srtp, sizeof(u.srtp), "require");
	ASSERT_INT_EQ(sps_store_user_add(st, &u), 0);
	ASSERT_INT_EQ(sps_store_user_get(st, "alice", &got), 0);
	ASSERT_STR_EQ(got.srtp, "");
	ASSERT_INT_EQ(sps_store_user_get(st, "bob", &got), 0);
	ASSERT_STR_EQ(got.srtp, "require");
	enum sps_srtp_mode m;
	ASSERT_INT_EQ(sps_srtp_mode_parse(got.srtp, &m), 0);
	ASSERT_INT_EQ(m, SPS_SRTP_REQUIRE);
	/* update keeps or changes it with the rest of the row */
	snprintf(got.srtp, sizeof(got.srtp), "off");
	ASSERT_INT_EQ(sps_store_user_update(st, &got), 0);
	char list[256] = "";
	ASSERT_INT_EQ(sps_store_user_each(st, collect_srtp, list), 0);
	ASSERT_STR_EQ(list, "alice=(default) bob=off ");
	/* anything else is refused, by the store and by the schema's CHECK */
	snprintf(got.srtp, sizeof(got.srtp), "maybe");
	ASSERT_INT_EQ(sps_store_user_update(st, &got), EINVAL);
	memcpy(got.srtp, "requireX", sizeof(got.srtp)); /* not NUL-terminated */
	ASSERT_INT_EQ(sps_store_user_update(st, &got), EINVAL);
	sps_store_close(st);
	return 0;
}

int test_media_policy_store(void)
{
	return test_with_datadir(store_srtp);
}
