/* Unit tests for src/sip/uri.c: table-driven URI vectors (RFC 3261 19.1,
 * 25.1; RFC 3966), parameter lookup, unescaping and RFC 3261 19.1.4 equality.
 * Every input is copied into a malloc'd buffer of exactly its length so that
 * AddressSanitizer reports any read past the end. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sip/uri.h"
#include "test.h"

/* An exact-size heap copy of s (never NUL-terminated). */
static char *dup_exact(const char *s, size_t *len)
{
	*len = strlen(s);
	char *p = malloc(*len ? *len : 1);
	if (p && *len)
		memcpy(p, s, *len);
	return p;
}

struct uri_vec {
	const char *in;
	int ok;             /* 1: must parse, 0: must be rejected */
	enum sps_uri_scheme scheme;
	const char *user, *password, *host;
	int port;           /* -1: not checked */
	const char *params, *headers, *transport, *maddr, *user_param, *method;
	int lr;             /* -1: not checked */
};

/* NULL string fields are not checked; "" means absent/empty. */
#define BAD(s) {(s), 0, (enum sps_uri_scheme)0, NULL, NULL, NULL, -1, NULL, NULL, NULL, NULL, \
		NULL, NULL, -1}
static const struct uri_vec vecs[] = {
	/* RFC 3261 19.1.3 examples */
	{"sip:alice@atlanta.com", 1, SPS_URI_SIP, "alice", "", "atlanta.com", 0, "", "", "", "", "",
	 "", 0},
	{"sip:alice:secretword@atlanta.com;transport=tcp", 1, SPS_URI_SIP, "alice", "secretword",
	 "atlanta.com", 0, "transport=tcp", "", "tcp", NULL, NULL, NULL, 0},
	{"sips:alice@atlanta.com?subject=project%20x&priority=urgent", 1, SPS_URI_SIPS, "alice", "",
	 "atlanta.com", 0, "", "subject=project%20x&priority=urgent", "", NULL, NULL, NULL, -1},
	{"sip:+1-212-555-1212:1234@gateway.com;user=phone", 1, SPS_URI_SIP, "+1-212-555-1212", "1234",
	 "gateway.com", 0, "user=phone", "", NULL, NULL, "phone", NULL, -1},
	{"sips:1212@gateway.com", 1, SPS_URI_SIPS, "1212", "", "gateway.com", 0, NULL, NULL, NULL,
	 NULL, NULL, NULL, -1},
	{"sip:alice@192.0.2.4", 1, SPS_URI_SIP, "alice", "", "192.0.2.4", 0, NULL, NULL, NULL, NULL,
	 NULL, NULL, -1},
	{"sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", 1, SPS_URI_SIP, "", "",
	 "atlanta.com", 0, "method=REGISTER", "to=alice%40atlanta.com", NULL, NULL, NULL, "REGISTER",
	 -1},
	{"sip:alice;day=tuesday@atlanta.com", 1, SPS_URI_SIP, "alice;day=tuesday", "", "atlanta.com",
	 0, "", NULL, NULL, NULL, NULL, NULL, -1},
	/* hosts and ports */
	{"sip:[2001:db8::1]:5061;transport=tls", 1, SPS_URI_SIP, "", "", "[2001:db8::1]", 5061,
	 "transport=tls", "", "tls", NULL, NULL, NULL, 0},
	{"sips:bob@[::1]", 1, SPS_URI_SIPS, "bob", "", "[::1]", 0, NULL, NULL, NULL, NULL, NULL, NULL,
	 -1},
	{"sip:host.example.com:5060", 1, SPS_URI_SIP, "", "", "host.example.com", 5060, NULL, NULL,
	 NULL, NULL, NULL, NULL, -1},
	{"sip:h:1", 1, SPS_URI_SIP, "", "", "h", 1, NULL, NULL, NULL, NULL, NULL, NULL, -1},
	{"sip:h:65535", 1, SPS_URI_SIP, "", "", "h", 65535, NULL, NULL, NULL, NULL, NULL, NULL, -1},
	{"sip:a-b.c-d.example.", 1, SPS_URI_SIP, "", "", "a-b.c-d.example.", 0, NULL, NULL, NULL, NULL,
	 NULL, NULL, -1},
	{"SIP:Alice@Example.COM", 1, SPS_URI_SIP, "Alice", "", "Example.COM", 0, NULL, NULL, NULL,
	 NULL, NULL, NULL, -1},
	/* parameters */
	{"sip:proxy.example.com;lr", 1, SPS_URI_SIP, "", "", "proxy.example.com", 0, "lr", "", NULL,
	 NULL, NULL, NULL, 1},
	{"sip:p.example.com;lr=on;transport=TCP", 1, SPS_URI_SIP, "", "", "p.example.com", 0,
	 "lr=on;transport=TCP", NULL, "TCP", NULL, NULL, NULL, 1},
	{"sip:u@h;maddr=239.255.255.1;ttl=15", 1, SPS_URI_SIP, "u", "", "h", 0,
	 "maddr=239.255.255.1;ttl=15", NULL, NULL, "239.255.255.1", NULL, NULL, 0},
	{"sip:u@h;method=INVITE;user=ip;x", 1, SPS_URI_SIP, "u", "", "h", 0, "method=INVITE;user=ip;x",
	 NULL, NULL, NULL, "ip", "INVITE", 0},
	{"sip:u@h?subject=x&to=y", 1, SPS_URI_SIP, "u", "", "h", 0, "", "subject=x&to=y", NULL, NULL,
	 NULL, NULL, -1},
	/* escapes */
	{"sip:%61lice@atlanta.com", 1, SPS_URI_SIP, "%61lice", "", "atlanta.com", 0, NULL, NULL, NULL,
	 NULL, NULL, NULL, -1},
	{"sip:null-%00-null@example.com", 1, SPS_URI_SIP, "null-%00-null", NULL, "example.com", 0,
	 NULL, NULL, NULL, NULL, NULL, NULL, -1},
	BAD("sip:a%4@h"),
	BAD("sip:a%4"),
	BAD("sip:a@h;p=%4"),
	BAD("sip:a%zz@h"),
	BAD("sip:a%@h"),
	/* tel (RFC 3966) */
	{"tel:+1-201-555-0123", 1, SPS_URI_TEL, "+1-201-555-0123", NULL, NULL, -1, NULL, NULL, NULL,
	 NULL, NULL, NULL, -1},
	{"tel:7042;phone-context=example.com", 1, SPS_URI_TEL, "7042", NULL, NULL, -1,
	 "phone-context=example.com", NULL, NULL, NULL, NULL, NULL, -1},
	/* other schemes (RFC 3261 25.1 absoluteURI) */
	{"http://www.example.com", 1, SPS_URI_OTHER, NULL, NULL, NULL, -1, NULL, NULL, NULL, NULL,
	 NULL, NULL, -1},
	{"isbn:2983792873", 1, SPS_URI_OTHER, NULL, NULL, NULL, -1, NULL, NULL, NULL, NULL, NULL, NULL,
	 -1},
	/* invalid */
	BAD(""),
	BAD("sip"),
	BAD("sip:"),
	BAD(":alice@atlanta.com"),
	BAD("sip:alice@"),
	BAD("sip:@atlanta.com"),
	BAD("sip:us er@host"),
	BAD("sip:user@ho st"),
	BAD("sip:user@host:"),
	BAD("sip:user@host:0"),
	BAD("sip:user@host:65536"),
	BAD("sip:user@host:99999999999"),
	BAD("sip:user@host:5x"),
	BAD("sip:user@host:-1"),
	BAD("sip:[2001:db8::1"),
	BAD("sip:[2001:db8::1]x"),
	BAD("sip:[]"),
	BAD("sip:user@host\r\n"),
	BAD("sip:user@host>"),
	BAD("sip:<user@host>"),
	BAD("sip:user@host;"),
	BAD("sip:user@ex ample.com"),
	BAD("sip:user@host;transport=tls "),
};

static int check_vec(const struct uri_vec *v)
{
	size_t len;
	char *buf = dup_exact(v->in, &len);
	struct sps_uri u;
	const char *why = NULL;
	int rc, ret = 1;

	ASSERT(buf);
	memset(&u, 0, sizeof(u));
	rc = sps_uri_parse(sps_slice_make(buf, len), &u, &why);
	if (!v->ok) {
		if (rc == 0) {
			fprintf(stderr, "    \"%s\": accepted, must be rejected\n", v->in);
			goto out;
		}
		if (rc != EBADMSG || !why) {
			fprintf(stderr, "    \"%s\": rc %d why %s\n", v->in, rc, why ? why : "NULL");
			goto out;
		}
		ret = 0;
		goto out;
	}
	if (rc) {
		fprintf(stderr, "    \"%s\": rejected (%d: %s)\n", v->in, rc, why ? why : "NULL");
		goto out;
	}
#define CHK(field, want)                                                                    \
	if ((want) && !sps_slice_eq(u.field, sps_slice_cstr(want))) {                       \
		fprintf(stderr, "    \"%s\": " #field " is \"%.*s\", expected \"%s\"\n", v->in, \
			SPS_SLICE_FMT(u.field), (want));                                    \
		goto out;                                                                   \
	}
	if (u.scheme != v->scheme) {
		fprintf(stderr, "    \"%s\": scheme %d, expected %d\n", v->in, (int)u.scheme,
			(int)v->scheme);
		goto out;
	}
	CHK(user, v->user)
	CHK(password, v->password)
	CHK(host, v->host)
	CHK(params, v->params)
	CHK(headers, v->headers)
	CHK(transport, v->transport)
	CHK(maddr, v->maddr)
	CHK(user_param, v->user_param)
	CHK(method, v->method)
#undef CHK
	if (v->port >= 0 && u.port != v->port) {
		fprintf(stderr, "    \"%s\": port %u, expected %d\n", v->in, u.port, v->port);
		goto out;
	}
	if (v->lr >= 0 && u.lr != (v->lr != 0)) {
		fprintf(stderr, "    \"%s\": lr %d, expected %d\n", v->in, u.lr, v->lr);
		goto out;
	}
	if (v->host && v->host[0] == '[' && !u.host_ipv6) {
		fprintf(stderr, "    \"%s\": host_ipv6 not set\n", v->in);
		goto out;
	}
	if (v->host && v->host[0] != '[' && u.host_ipv6) {
		fprintf(stderr, "    \"%s\": host_ipv6 set\n", v->in);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

int test_sip_uri_vectors(void)
{
	int bad = 0;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		bad += check_vec(&vecs[i]);
	if (bad)
		TEST_FAIL("%d URI vectors failed (listed above)", bad);

	/* scheme_s is as written; rest for other schemes */
	struct sps_uri u;
	const char *why;
	ASSERT_INT_EQ(sps_uri_parse(SPS_SLICE_LIT("SIPS:h"), &u, &why), 0);
	ASSERT_INT_EQ(u.scheme, SPS_URI_SIPS);
	ASSERT_SLICE_EQ(u.scheme_s, "SIPS");
	ASSERT_INT_EQ(sps_uri_parse(SPS_SLICE_LIT("http://www.example.com/a?b"), &u, &why), 0);
	ASSERT_SLICE_EQ(u.scheme_s, "http");
	ASSERT_SLICE_EQ(u.rest, "//www.example.com/a?b");

	/* out is set only on success */
	memset(&u, 0, sizeof(u));
	u.port = 4242;
	ASSERT(sps_uri_parse(SPS_SLICE_LIT("sip:a@b:0"), &u, &why) != 0);
	ASSERT_INT_EQ(u.port, 4242);
	return 0;
}

int test_sip_uri_param_find(void)
{
	struct sps_slice v;
	struct sps_slice p = SPS_SLICE_LIT("transport=tls;lr;maddr=1.2.3.4;lrx=1;Method=INVITE");

	ASSERT_INT_EQ(sps_param_find(p, "TRANSPORT", &v), 0);
	ASSERT_SLICE_EQ(v, "tls");
	ASSERT_INT_EQ(sps_param_find(p, "lr", &v), 0);
	ASSERT(v.p != NULL);
	ASSERT_INT_EQ(v.l, 0);
	ASSERT_INT_EQ(sps_param_find(p, "maddr", &v), 0);
	ASSERT_SLICE_EQ(v, "1.2.3.4");
	ASSERT_INT_EQ(sps_param_find(p, "method", &v), 0);
	ASSERT_SLICE_EQ(v, "INVITE");
	ASSERT_INT_EQ(sps_param_find(p, "lrx", &v), 0);
	ASSERT_SLICE_EQ(v, "1");
	ASSERT_INT_EQ(sps_param_find(p, "tr", &v), ENOENT);      /* no prefix match */
	ASSERT_INT_EQ(sps_param_find(p, "transport=", &v), ENOENT);
	ASSERT_INT_EQ(sps_param_find(p, "x", &v), ENOENT);
	ASSERT_INT_EQ(sps_param_find(SPS_SLICE_NULL, "lr", &v), ENOENT);
	ASSERT_INT_EQ(sps_param_find(SPS_SLICE_LIT(""), "lr", &v), ENOENT);

	/* exact-size buffer, flag at the very end */
	size_t len;
	char *b = dup_exact("a=1;lr", &len);
	ASSERT(b);
	int rc = sps_param_find(sps_slice_make(b, len), "lr", &v);
	int ok = rc == 0 && v.p && v.l == 0;
	rc = sps_param_find(sps_slice_make(b, len), "a", &v);
	ok = ok && rc == 0 && v.l == 1 && v.p[0] == '1';
	free(b);
	ASSERT(ok);

	/* value with spaces around '=' as in header params (RFC 3261 25.1 EQUAL) */
	ASSERT_INT_EQ(sps_param_find(SPS_SLICE_LIT("tag=abc;q=0.5"), "q", &v), 0);
	ASSERT_SLICE_EQ(v, "0.5");
	return 0;
}

int test_sip_uri_unescape(void)
{
	char buf[32];
	size_t n = 99;

	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT("%61b%63"), buf, sizeof(buf), &n), 0);
	ASSERT_INT_EQ(n, 3);
	ASSERT_STR_EQ(buf, "abc");
	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT("%4A%4a"), buf, sizeof(buf), &n), 0);
	ASSERT_STR_EQ(buf, "JJ");
	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT("null-%00-null"), buf, sizeof(buf), &n), 0);
	ASSERT_INT_EQ(n, 11);
	ASSERT(memcmp(buf, "null-\0-null", 12) == 0);
	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT(""), buf, sizeof(buf), &n), 0);
	ASSERT_INT_EQ(n, 0);
	ASSERT_INT_EQ(buf[0], 0);
	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT("%4"), buf, sizeof(buf), &n), EBADMSG);
	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT("a%"), buf, sizeof(buf), &n), EBADMSG);
	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT("%zz"), buf, sizeof(buf), &n), EBADMSG);
	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT("%g0"), buf, sizeof(buf), &n), EBADMSG);
	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT("abc"), buf, 3, &n), ENOSPC);
	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT("abc"), buf, 4, &n), 0);
	ASSERT_STR_EQ(buf, "abc");
	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT("%41%42%43"), buf, 4, &n), 0);
	ASSERT_STR_EQ(buf, "ABC");
	ASSERT_INT_EQ(sps_uri_unescape(SPS_SLICE_LIT("a"), buf, 0, &n), ENOSPC);

	/* a truncated escape at the very end of an exact-size buffer */
	size_t len;
	char *b = dup_exact("ab%4", &len);
	ASSERT(b);
	int rc = sps_uri_unescape(sps_slice_make(b, len), buf, sizeof(buf), &n);
	free(b);
	ASSERT_INT_EQ(rc, EBADMSG);
	return 0;
}

/* RFC 3261 19.1.4 examples. */
static const struct {
	const char *a, *b;
	int equal;
} eq_vecs[] = {
	{"sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp", 1},
	{"sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", 1},
	{"sip:carol@chicago.com", "sip:carol@chicago.com;security=on", 1},
	{"sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on", 1},
	{"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
	 "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com", 1},
	{"sip:alice@atlanta.com?subject=project%20x&priority=urgent",
	 "sip:alice@atlanta.com?priority=urgent&subject=project%20x", 1},
	{"SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:ALICE@atlanta.com;transport=UDP", 1},
	{"sip:alice@atlanta.com", "sip:alice@atlanta.com", 1},
	{"sip:alice:pw@atlanta.com", "sip:alice:%70w@atlanta.com", 1},
	/* not equal */
	{"SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP", 0},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", 0},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", 0},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp", 0},
	{"sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting", 0},
	{"sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4", 0},
	{"sip:alice@atlanta.com", "sips:alice@atlanta.com", 0},
	{"sip:alice@atlanta.com", "sip:atlanta.com", 0},
	{"sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com", 0},
	{"sip:alice@atlanta.com;user=phone", "sip:alice@atlanta.com", 0},
	{"sip:alice@atlanta.com;maddr=1.2.3.4", "sip:alice@atlanta.com", 0},
	{"sip:alice@atlanta.com;ttl=1", "sip:alice@atlanta.com;ttl=2", 0},
	{"sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off", 0},
};

int test_sip_uri_equal(void)
{
	int bad = 0;
	for (size_t i = 0; i < sizeof(eq_vecs) / sizeof(eq_vecs[0]); i++) {
		struct sps_uri a, b;
		const char *why;
		if (sps_uri_parse(sps_slice_cstr(eq_vecs[i].a), &a, &why) ||
		    sps_uri_parse(sps_slice_cstr(eq_vecs[i].b), &b, &why)) {
			fprintf(stderr, "    %s / %s: does not parse\n", eq_vecs[i].a, eq_vecs[i].b);
			bad++;
			continue;
		}
		bool ab = sps_uri_equal(&a, &b), ba = sps_uri_equal(&b, &a);
		if (ab != (eq_vecs[i].equal != 0) || ba != ab) {
			fprintf(stderr, "    %s %s %s (reverse: %s)\n", eq_vecs[i].a,
				ab ? "==" : "!=", eq_vecs[i].b, ba ? "==" : "!=");
			bad++;
		}
	}
	if (bad)
		TEST_FAIL("%d URI comparisons wrong (listed above)", bad);
	return 0;
}
