/* Unit tests for auth/digest (src/auth/digest.c, ha1.c): HA1 and response
 * vectors from RFC 2617 3.5 and RFC 7616 3.9.1, challenges, and credential
 * checks on real parsed SIP messages: a client computes the response the
 * way a phone would (checked against the RFC vectors first), the server
 * checks it. Also nc replay, stale and tampered nonces, malformed
 * credentials, realm selection and the failure limiter. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/digest.h"
#include "core/arena.h"
#include "core/mbuf.h"
#include "sip/msg.h"
#include "test.h"
#include "util.h"

static const uint8_t secret[32] = "0123456789abcdef0123456789abcdef";
#define T0 1700000000LL
#define REALM "sip.example.com"

/* ---- a parsed message with the buffer and arena it lives in ---- */

/* Parse s (util.c), saying why when it does not parse. */
static int parse(struct test_msg *p, const char *s)
{
	int rc = test_msg_parse(p, s, strlen(s));
	if (rc)
		fprintf(stderr, "    parse: %s\n", p->why ? p->why : "?");
	return rc;
}

/* ---- the client side: what a phone computes (RFC 7616 3.4.1) ---- */

static void hash_hex(enum sps_digest_alg alg, const char *in, char *out)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	EVP_Digest(in, strlen(in), h, &hl, alg == SPS_DIGEST_SHA256 ? EVP_sha256() : EVP_md5(),
		   NULL);
	for (unsigned i = 0; i < hl; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
	out[2 * hl] = '\0';
}

/* response into out (65 bytes); qop NULL for the RFC 2069 form. Values are
 * plain (unescaped). */
static void client_response(enum sps_digest_alg alg, const char *user, const char *realm,
			    const char *pass, const char *method, const char *uri,
			    const char *nonce, const char *nc, const char *cnonce,
			    const char *qop, char *out)
{
	char ha1[65], ha2[65], buf[1024];
	sps_digest_ha1(alg, user, realm, pass, ha1, sizeof(ha1));
	snprintf(buf, sizeof(buf), "%s:%s", method, uri);
	hash_hex(alg, buf, ha2);
	if (qop)
		snprintf(buf, sizeof(buf), "%s:%s:%s:%s:%s:%s", ha1, nonce, nc, cnonce, qop, ha2);
	else
		snprintf(buf, sizeof(buf), "%s:%s:%s", ha1, nonce, ha2);
	hash_hex(alg, buf, out);
}

/* An Authorization value. Every field is written as given (already
 * escaped); NULL leaves it out. */
struct spec {
	const char *user, *realm, *nonce, *uri, *response, *algorithm, *qop, *nc, *cnonce,
		*opaque, *extra;
};

static void spec_fmt(const struct spec *s, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "Digest ");
	const char *sep = "";
#define Q(name, v)                                                                     \
	if (v) {                                                                       \
		n += (size_t)snprintf(out + n, size - n, "%s" name "=\"%s\"", sep, v); \
		sep = ", ";                                                            \
	}
#define T(name, v)                                                                   \
	if (v) {                                                                     \
		n += (size_t)snprintf(out + n, size - n, "%s" name "=%s", sep, v);   \
		sep = ", ";                                                          \
	}
	Q("username", s->user)
	Q("realm", s->realm)
	Q("nonce", s->nonce)
	Q("uri", s->uri)
	Q("response", s->response)
	T("algorithm", s->algorithm)
	T("qop", s->qop)
	T("nc", s->nc)
	Q("cnonce", s->cnonce)
	Q("opaque", s->opaque)
	if (s->extra)
		snprintf(out + n, size - n, "%s%s", sep, s->extra);
#undef Q
#undef T
}

/* A REGISTER carrying these header lines (each "Name: value\r\n"). */
static void make_register(char *out, size_t size, const char *hdrs)
{
	snprintf(out, size,
		 "REGISTER sip:" REALM " SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKau1\r\n"
		 "Max-Forwards: 70\r\n"
		 "To: <sip:alice@" REALM ">\r\n"
		 "From: <sip:alice@" REALM ">;tag=a1\r\n"
		 "Call-ID: au1@192.0.2.10\r\n"
		 "CSeq: 2 REGISTER\r\n"
		 "Contact: <sip:alice@192.0.2.10:5061;transport=tls>\r\n"
		 "%s"
		 "Content-Length: 0\r\n"
		 "\r\n",
		 hdrs);
}

/* Parse a REGISTER with this Authorization value and check it the way the
 * registrar will: find the credential for `realm`, pick the HA1 of its
 * algorithm for `pass` (NULL: unknown user), check. Returns the result, or
 * -1 when the message does not parse or no credential matches, -2 when the
 * algorithm is not one we offer. */
static int check_value(struct sps_digest *d, const char *value, const char *realm,
		       const char *user, const char *pass, int64_t now)
{
	char hdr[2048], msg[4096];
	struct test_msg p;
	int res = -1;
	snprintf(hdr, sizeof(hdr), "Authorization: %s\r\n", value);
	make_register(msg, sizeof(msg), hdr);
	if (parse(&p, msg))
		goto out;
	const struct sps_auth *a = sps_digest_find_cred(p.m, false, realm);
	if (!a)
		goto out;
	enum sps_digest_alg alg;
	if (sps_digest_cred_alg(a, &alg)) {
		res = -2;
		goto out;
	}
	char ha1[65];
	if (pass && sps_digest_ha1(alg, user, realm, pass, ha1, sizeof(ha1)))
		goto out;
	res = (int)sps_digest_check(d, a, p.m->method, realm, pass ? ha1 : NULL, now);
out:
	test_msg_free(&p);
	return res;
}

static int check_spec(struct sps_digest *d, const struct spec *s, const char *pass, int64_t now)
{
	char v[2048];
	spec_fmt(s, v, sizeof(v));
	return check_value(d, v, REALM, "alice", pass, now);
}

/* A challenge, and its nonce and opaque as a phone reads them (the
 * challenge is parsed inside a real 401). */
struct chal {
	char text[512];
	char nonce[128];
	char opaque[128];
};

static int get_challenge(struct sps_digest *d, enum sps_digest_alg alg, const char *realm,
			 bool stale, int64_t now, struct chal *c)
{
	struct sps_mbuf mb;
	char msg[2048];
	struct test_msg p;
	int rc = EINVAL;

	memset(c, 0, sizeof(*c));
	sps_mbuf_init(&mb, 0);
	if (sps_digest_challenge(d, &mb, alg, realm, stale, now) || mb.len >= sizeof(c->text))
		goto out;
	memcpy(c->text, mb.buf, mb.len);
	snprintf(msg, sizeof(msg),
		 "SIP/2.0 401 Unauthorized\r\n"
		 "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKau1\r\n"
		 "To: <sip:alice@" REALM ">;tag=s1\r\n"
		 "From: <sip:alice@" REALM ">;tag=a1\r\n"
		 "Call-ID: au1@192.0.2.10\r\n"
		 "CSeq: 1 REGISTER\r\n"
		 "WWW-Authenticate: %s\r\n"
		 "Content-Length: 0\r\n"
		 "\r\n",
		 c->text);
	if (parse(&p, msg))
		goto out;
	const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(p.m, SPS_HDR_WWW_AUTHENTICATE, NULL);
	const struct sps_auth *a = h ? h->parsed : NULL;
	if (a && !sps_slice_to_cstr(a->nonce, c->nonce, sizeof(c->nonce)) &&
	    !sps_slice_to_cstr(a->opaque, c->opaque, sizeof(c->opaque)) && c->nonce[0])
		rc = 0;
	test_msg_free(&p);
out:
	sps_mbuf_free(&mb);
	return rc;
}

/* A complete, correct credential for alice on challenge c. */
struct client {
	char resp[65];
	struct spec s;
};

static void client_answer(struct client *cl, const struct chal *c, enum sps_digest_alg alg,
			  const char *pass, const char *nc)
{
	memset(cl, 0, sizeof(*cl));
	client_response(alg, "alice", REALM, pass, "REGISTER", "sip:" REALM, c->nonce, nc,
			"0a4f113b", "auth", cl->resp);
	cl->s = (struct spec){
		.user = "alice",
		.realm = REALM,
		.nonce = c->nonce,
		.uri = "sip:" REALM,
		.response = cl->resp,
		.algorithm = alg == SPS_DIGEST_SHA256 ? "SHA-256" : NULL,
		.qop = "auth",
		.nc = nc,
		.cnonce = "0a4f113b",
		.opaque = c->opaque,
	};
}

/* ---- tests ---- */

int test_auth_digest_vectors(void)
{
	char ha1[65], resp[65];

	/* RFC 2617 3.5 */
	ASSERT_INT_EQ(sps_digest_ha1(SPS_DIGEST_MD5, "Mufasa", "testrealm@host.com",
				     "Circle Of Life", ha1, sizeof(ha1)),
		      0);
	ASSERT_STR_EQ(ha1, "939e7578ed9e3c518a452acee763bce9");
	client_response(SPS_DIGEST_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life", "GET",
			"/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001",
			"0a4f113b", "auth", resp);
	ASSERT_STR_EQ(resp, "6629fae49393a05397450978507c4ef1");
	/* the RFC 2069 form on the same inputs (no qop; RFC 2069's own printed
	 * value is a known erratum) */
	client_response(SPS_DIGEST_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life", "GET",
			"/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093", NULL, NULL, NULL,
			resp);
	ASSERT_STR_EQ(resp, "670fd8c2df070c60b045671b8b24ff02");

	/* RFC 7616 3.9.1 */
	static const char n7616[] = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
	static const char c7616[] = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
	client_response(SPS_DIGEST_MD5, "Mufasa", "http-auth@example.org", "Circle of Life",
			"GET", "/dir/index.html", n7616, "00000001", c7616, "auth", resp);
	ASSERT_STR_EQ(resp, "8ca523f5e9506fed4657c9700eebdbec");
	client_response(SPS_DIGEST_SHA256, "Mufasa", "http-auth@example.org", "Circle of Life",
			"GET", "/dir/index.html", n7616, "00000001", c7616, "auth", resp);
	ASSERT_STR_EQ(resp, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
	ASSERT_INT_EQ(strlen(resp), 64);

	/* sizes */
	ASSERT_INT_EQ(sps_digest_ha1(SPS_DIGEST_SHA256, "a", "b", "c", ha1, 64), EINVAL);
	ASSERT_INT_EQ(sps_digest_ha1(SPS_DIGEST_MD5, "a", "b", "c", ha1, 33), 0);
	ASSERT_INT_EQ(strlen(ha1), 32);

	/* The RFC 7616 credential, parsed: a nonce that is not ours is BAD,
	 * its algorithm is read, and its user unescaped. */
	struct sps_digest *d;
	ASSERT_INT_EQ(sps_digest_new(&d, secret, NULL), 0);
	char msg[4096];
	make_register(msg, sizeof(msg),
		      "Authorization: Digest username=\"Mufasa\",\r\n"
		      "  realm=\"http-auth@example.org\", uri=\"/dir/index.html\",\r\n"
		      "  algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
		      "  nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n"
		      "  qop=auth, response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n"
		      "  opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"\r\n");
	struct test_msg p;
	ASSERT_INT_EQ(parse(&p, msg), 0);
	const struct sps_auth *a = sps_digest_find_cred(p.m, false, "http-auth@example.org");
	ASSERT(a != NULL);
	enum sps_digest_alg alg = SPS_DIGEST_MD5;
	ASSERT_INT_EQ(sps_digest_cred_alg(a, &alg), 0);
	ASSERT_INT_EQ(alg, SPS_DIGEST_SHA256);
	char user[16];
	ASSERT_INT_EQ(sps_digest_cred_user(a, user, sizeof(user)), 0);
	ASSERT_STR_EQ(user, "Mufasa");
	ASSERT_INT_EQ(sps_digest_cred_user(a, user, 6), ENOSPC);
	sps_digest_ha1(SPS_DIGEST_SHA256, "Mufasa", "http-auth@example.org", "Circle of Life",
		       ha1, sizeof(ha1));
	ASSERT_INT_EQ(sps_digest_check(d, a, SPS_SLICE_LIT("GET"), "http-auth@example.org", ha1,
				       T0),
		      SPS_DIGEST_BAD);
	test_msg_free(&p);
	sps_digest_free(d);
	return 0;
}

int test_auth_digest_challenge(void)
{
	struct sps_digest *d;
	struct sps_mbuf mb;
	struct chal c, c2;

	ASSERT_INT_EQ(sps_digest_new(&d, secret, NULL), 0);
	ASSERT_INT_EQ(get_challenge(d, SPS_DIGEST_SHA256, REALM, false, T0, &c), 0);
	ASSERT(strncmp(c.text, "Digest realm=\"" REALM "\", qop=\"auth\", algorithm=SHA-256, nonce=\"",
		       strlen("Digest realm=\"" REALM "\", qop=\"auth\", algorithm=SHA-256, nonce=\"")) == 0);
	ASSERT(strstr(c.text, ", opaque=\"") != NULL);
	ASSERT(strstr(c.text, "stale") == NULL);
	ASSERT_INT_EQ(strlen(c.nonce), 43); /* 32 bytes in base64url */
	ASSERT(strspn(c.nonce, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);

	/* MD5 and stale; fresh random part, same opaque */
	ASSERT_INT_EQ(get_challenge(d, SPS_DIGEST_MD5, REALM, true, T0, &c2), 0);
	ASSERT(strstr(c2.text, "algorithm=MD5, nonce=\"") != NULL);
	size_t tl = strlen(c2.text);
	ASSERT(tl > 12 && strcmp(c2.text + tl - 12, ", stale=true") == 0);
	ASSERT(strcmp(c.nonce, c2.nonce) != 0);
	ASSERT_STR_EQ(c.opaque, c2.opaque);

	/* realm escaping, and control characters refused */
	sps_mbuf_init(&mb, 0);
	ASSERT_INT_EQ(sps_digest_challenge(d, &mb, SPS_DIGEST_MD5, "a\"b\\c", false, T0), 0);
	ASSERT(mb.len > 22 && memcmp(mb.buf, "Digest realm=\"a\\\"b\\\\c\", ", 22) == 0);
	sps_mbuf_reset(&mb);
	ASSERT_INT_EQ(sps_digest_challenge(d, &mb, SPS_DIGEST_MD5, "a\r\nX: y", false, T0),
		      EINVAL);
	ASSERT_INT_EQ(mb.len, 0);
	ASSERT_INT_EQ(sps_digest_challenge(d, &mb, SPS_DIGEST_MD5, NULL, false, T0), EINVAL);
	sps_mbuf_free(&mb);
	/* a full mbuf is reported */
	sps_mbuf_init(&mb, 40);
	ASSERT(sps_digest_challenge(d, &mb, SPS_DIGEST_SHA256, REALM, false, T0) != 0);
	sps_mbuf_free(&mb);

	/* the escaped realm round-trips through a parsed challenge and credential */
	ASSERT_INT_EQ(get_challenge(d, SPS_DIGEST_MD5, "a\"b\\c", false, T0, &c), 0);
	char resp[65], v[1024];
	client_response(SPS_DIGEST_MD5, "alice", "a\"b\\c", "pw", "REGISTER", "sip:" REALM,
			c.nonce, "00000001", "x", "auth", resp);
	struct spec s = {.user = "alice", .realm = "a\\\"b\\\\c", .nonce = c.nonce,
			 .uri = "sip:" REALM, .response = resp, .qop = "auth",
			 .nc = "00000001", .cnonce = "x", .opaque = c.opaque};
	spec_fmt(&s, v, sizeof(v));
	ASSERT_INT_EQ(check_value(d, v, "a\"b\\c", "alice", "pw", T0), SPS_DIGEST_OK);

	/* conf: nc_slots must be a power of two */
	struct sps_digest *d2 = NULL;
	struct sps_digest_conf conf = {.nc_slots = 1000};
	ASSERT_INT_EQ(sps_digest_new(&d2, secret, &conf), EINVAL);
	conf.nc_slots = 1024;
	ASSERT_INT_EQ(sps_digest_new(&d2, secret, &conf), 0);
	/* same secret, same opaque; another secret, another opaque */
	ASSERT_INT_EQ(get_challenge(d2, SPS_DIGEST_MD5, REALM, false, T0, &c2), 0);
	ASSERT_STR_EQ(c.opaque, c2.opaque);
	sps_digest_free(d2);
	uint8_t other[32] = {1};
	ASSERT_INT_EQ(sps_digest_new(&d2, other, NULL), 0);
	ASSERT_INT_EQ(get_challenge(d2, SPS_DIGEST_MD5, REALM, false, T0, &c2), 0);
	ASSERT(strcmp(c.opaque, c2.opaque) != 0);
	sps_digest_free(d2);
	sps_digest_free(d);
	return 0;
}

int test_auth_digest_roundtrip(void)
{
	struct sps_digest *d, *d2;
	struct chal c;
	struct client cl;

	ASSERT_INT_EQ(sps_digest_new(&d, secret, NULL), 0);
	for (int i = 0; i < 2; i++) {
		enum sps_digest_alg alg = i ? SPS_DIGEST_MD5 : SPS_DIGEST_SHA256;
		ASSERT_INT_EQ(get_challenge(d, alg, REALM, false, T0, &c), 0);
		client_answer(&cl, &c, alg, "secret pw", "00000001");
		ASSERT_INT_EQ(check_spec(d, &cl.s, "secret pw", T0 + 10), SPS_DIGEST_OK);
		/* wrong password, unknown user */
		client_answer(&cl, &c, alg, "secret pX", "00000002");
		ASSERT_INT_EQ(check_spec(d, &cl.s, "secret pw", T0 + 10), SPS_DIGEST_BAD);
		ASSERT_INT_EQ(check_spec(d, &cl.s, NULL, T0 + 10), SPS_DIGEST_BAD);
		client_answer(&cl, &c, alg, "secret pw", "00000002");
		ASSERT_INT_EQ(check_spec(d, &cl.s, NULL, T0 + 10), SPS_DIGEST_BAD);
		/* upper-case hex in response and nc is accepted */
		client_answer(&cl, &c, alg, "secret pw", "0000000a");
		for (char *p = cl.resp; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 32);
		cl.s.nc = "0000000A";
		ASSERT_INT_EQ(check_spec(d, &cl.s, "secret pw", T0 + 10), SPS_DIGEST_BAD);
		/* (the client hashed "0000000a" but sent "0000000A": BAD, as it should) */
		client_response(alg, "alice", REALM, "secret pw", "REGISTER", "sip:" REALM,
				c.nonce, "0000000B", "0a4f113b", "auth", cl.resp);
		for (char *p = cl.resp; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 32);
		cl.s.nc = "0000000B";
		ASSERT_INT_EQ(check_spec(d, &cl.s, "secret pw", T0 + 10), SPS_DIGEST_OK);
		/* opaque may be left out; a wrong one is BAD */
		client_answer(&cl, &c, alg, "secret pw", "00000010");
		cl.s.opaque = NULL;
		ASSERT_INT_EQ(check_spec(d, &cl.s, "secret pw", T0 + 10), SPS_DIGEST_OK);
		client_answer(&cl, &c, alg, "secret pw", "00000011");
		cl.s.opaque = "AAAAAAAAAAAAAAAAAAAAAA";
		ASSERT_INT_EQ(check_spec(d, &cl.s, "secret pw", T0 + 10), SPS_DIGEST_BAD);
		/* a response made for another method */
		client_response(alg, "alice", REALM, "secret pw", "INVITE", "sip:" REALM, c.nonce,
				"00000012", "0a4f113b", "auth", cl.resp);
		cl.s.opaque = c.opaque;
		cl.s.nc = "00000012";
		ASSERT_INT_EQ(check_spec(d, &cl.s, "secret pw", T0 + 10), SPS_DIGEST_BAD);
	}

	/* the RFC 2069 form (no qop, nc, cnonce) */
	ASSERT_INT_EQ(get_challenge(d, SPS_DIGEST_MD5, REALM, false, T0, &c), 0);
	char resp[65];
	client_response(SPS_DIGEST_MD5, "alice", REALM, "pw", "REGISTER", "sip:" REALM, c.nonce,
			NULL, NULL, NULL, resp);
	struct spec s = {.user = "alice", .realm = REALM, .nonce = c.nonce, .uri = "sip:" REALM,
			 .response = resp, .opaque = c.opaque};
	ASSERT_INT_EQ(check_spec(d, &s, "pw", T0), SPS_DIGEST_OK);
	ASSERT_INT_EQ(check_spec(d, &s, "pX", T0), SPS_DIGEST_BAD);

	/* escaped quoted values are hashed unescaped: uri and cnonce with
	 * quoted-pairs, username too (the HA1 is the caller's) */
	client_response(SPS_DIGEST_SHA256, "al\"ice", REALM, "pw", "REGISTER",
			"sip:a\"b@" REALM, c.nonce, "00000001", "c\\n\"x", "auth", resp);
	struct spec e = {.user = "al\\\"ice", .realm = REALM, .nonce = c.nonce,
			 .uri = "sip:a\\\"b@" REALM, .response = resp, .algorithm = "SHA-256",
			 .qop = "auth", .nc = "00000001", .cnonce = "c\\\\n\\\"x"};
	char v[1024];
	spec_fmt(&e, v, sizeof(v));
	ASSERT_INT_EQ(check_value(d, v, REALM, "al\"ice", "pw", T0), SPS_DIGEST_OK);

	/* another server secret does not accept our nonces */
	uint8_t other[32] = {7};
	ASSERT_INT_EQ(sps_digest_new(&d2, other, NULL), 0);
	ASSERT_INT_EQ(get_challenge(d, SPS_DIGEST_MD5, REALM, false, T0, &c), 0);
	client_answer(&cl, &c, SPS_DIGEST_MD5, "pw", "00000001");
	cl.s.opaque = NULL;
	ASSERT_INT_EQ(check_spec(d2, &cl.s, "pw", T0), SPS_DIGEST_BAD);
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0), SPS_DIGEST_OK);
	sps_digest_free(d2);
	sps_digest_free(d);
	return 0;
}

int test_auth_digest_stale(void)
{
	struct sps_digest *d;
	struct sps_digest_conf conf = {.nonce_ttl = 60};
	struct chal c;
	struct client cl;

	ASSERT_INT_EQ(sps_digest_new(&d, secret, &conf), 0);
	ASSERT_INT_EQ(get_challenge(d, SPS_DIGEST_SHA256, REALM, false, T0, &c), 0);
	client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000001");
	/* right password, expired nonce: STALE, and nc is not consumed */
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0 + 61), SPS_DIGEST_STALE);
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0 + 60), SPS_DIGEST_OK);
	/* wrong password, expired nonce: BAD, never STALE */
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pX", T0 + 61), SPS_DIGEST_BAD);
	/* clock skew: a nonce up to 5 s in the future is ours, beyond is not */
	client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000002");
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0 - 5), SPS_DIGEST_OK);
	client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000003");
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0 - 6), SPS_DIGEST_BAD);
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0 + 2000000000), SPS_DIGEST_STALE);
	sps_digest_free(d);
	return 0;
}

int test_auth_digest_bad_nonce(void)
{
	struct sps_digest *d;
	struct chal c;
	struct client cl;
	char nonce[200], resp[65];

	ASSERT_INT_EQ(sps_digest_new(&d, secret, NULL), 0);
	ASSERT_INT_EQ(get_challenge(d, SPS_DIGEST_MD5, REALM, false, T0, &c), 0);
	/* flip each character of the nonce in turn; the client hashes the
	 * tampered nonce, so only the nonce's own MAC can refuse it */
	for (size_t i = 0; i < strlen(c.nonce); i++) {
		strcpy(nonce, c.nonce);
		nonce[i] = nonce[i] == 'A' ? 'B' : 'A';
		client_response(SPS_DIGEST_MD5, "alice", REALM, "pw", "REGISTER", "sip:" REALM,
				nonce, "00000001", "x", "auth", resp);
		struct spec s = {.user = "alice", .realm = REALM, .nonce = nonce,
				 .uri = "sip:" REALM, .response = resp, .qop = "auth",
				 .nc = "00000001", .cnonce = "x"};
		ASSERT_INT_EQ(check_spec(d, &s, "pw", T0), SPS_DIGEST_BAD);
	}
	/* truncated, extended, non-base64, empty, foreign */
	static const char *const bad[] = {"", "abc", "dcd98b7102dd2f0e8b11d0f600bfb0c093",
					  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 3; i++) {
		if (i < sizeof(bad) / sizeof(bad[0])) {
			strcpy(nonce, bad[i]);
		} else if (i == sizeof(bad) / sizeof(bad[0])) {
			strcpy(nonce, c.nonce);
			nonce[42] = '\0';
		} else if (i == sizeof(bad) / sizeof(bad[0]) + 1) {
			snprintf(nonce, sizeof(nonce), "%sA", c.nonce);
		} else {
			strcpy(nonce, c.nonce);
			nonce[10] = '+';
		}
		client_response(SPS_DIGEST_MD5, "alice", REALM, "pw", "REGISTER", "sip:" REALM,
				nonce, "00000001", "x", "auth", resp);
		struct spec s = {.user = "alice", .realm = REALM, .nonce = nonce,
				 .uri = "sip:" REALM, .response = resp, .qop = "auth",
				 .nc = "00000001", .cnonce = "x"};
		ASSERT_INT_EQ(check_spec(d, &s, "pw", T0), SPS_DIGEST_BAD);
	}
	/* a non-canonical spelling of our nonce: the last character carries 2
	 * unused bits, which must be zero */
	strcpy(nonce, c.nonce);
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	nonce[42] = b64[(strchr(b64, nonce[42]) - b64) | 1];
	client_response(SPS_DIGEST_MD5, "alice", REALM, "pw", "REGISTER", "sip:" REALM, nonce,
			"00000001", "x", "auth", resp);
	struct spec s = {.user = "alice", .realm = REALM, .nonce = nonce, .uri = "sip:" REALM,
			 .response = resp, .qop = "auth", .nc = "00000001", .cnonce = "x"};
	ASSERT_INT_EQ(check_spec(d, &s, "pw", T0), SPS_DIGEST_BAD);

	/* realm other than ours: the credential is not found for our realm,
	 * and checked against ours directly it is BAD */
	client_answer(&cl, &c, SPS_DIGEST_MD5, "pw", "00000001");
	cl.s.realm = "other.example.com";
	char v[1024];
	spec_fmt(&cl.s, v, sizeof(v));
	ASSERT_INT_EQ(check_value(d, v, REALM, "alice", "pw", T0), -1);
	struct test_msg p;
	char hdr[1200], msg[4096];
	snprintf(hdr, sizeof(hdr), "Authorization: %s\r\n", v);
	make_register(msg, sizeof(msg), hdr);
	ASSERT_INT_EQ(parse(&p, msg), 0);
	const struct sps_auth *a = sps_digest_find_cred(p.m, false, "other.example.com");
	ASSERT(a != NULL);
	char ha1[65];
	sps_digest_ha1(SPS_DIGEST_MD5, "alice", REALM, "pw", ha1, sizeof(ha1));
	ASSERT_INT_EQ(sps_digest_check(d, a, p.m->method, REALM, ha1, T0), SPS_DIGEST_BAD);
	test_msg_free(&p);
	sps_digest_free(d);
	return 0;
}

int test_auth_digest_replay(void)
{
	struct sps_digest *d;
	struct sps_digest_conf conf = {.nc_slots = 4};
	struct chal c, c2;
	struct client cl;

	ASSERT_INT_EQ(sps_digest_new(&d, secret, &conf), 0);
	ASSERT_INT_EQ(get_challenge(d, SPS_DIGEST_SHA256, REALM, false, T0, &c), 0);
	client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000001");
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0), SPS_DIGEST_OK);
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0), SPS_DIGEST_REPLAY);
	client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000002");
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0 + 1), SPS_DIGEST_OK);
	client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000005");
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0 + 1), SPS_DIGEST_OK);
	client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000003");
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0 + 1), SPS_DIGEST_REPLAY);
	/* a forged response does not move nc */
	client_answer(&cl, &c, SPS_DIGEST_SHA256, "pX", "ffffffff");
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0 + 1), SPS_DIGEST_BAD);
	client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000006");
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0 + 1), SPS_DIGEST_OK);
	/* nc 0 is never above what was seen */
	ASSERT_INT_EQ(get_challenge(d, SPS_DIGEST_SHA256, REALM, false, T0, &c2), 0);
	client_answer(&cl, &c2, SPS_DIGEST_SHA256, "pw", "00000000");
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0), SPS_DIGEST_REPLAY);
	/* nonces are independent */
	client_answer(&cl, &c2, SPS_DIGEST_SHA256, "pw", "00000001");
	ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0), SPS_DIGEST_OK);
	client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000006");
	/* (unless c2 took c's slot, c's nc 6 is a replay) */
	int r = check_spec(d, &cl.s, "pw", T0);
	ASSERT(r == SPS_DIGEST_REPLAY || r == SPS_DIGEST_OK);
	/* many nonces through 4 slots: the latest one of each slot is protected */
	for (int i = 0; i < 16; i++) {
		ASSERT_INT_EQ(get_challenge(d, SPS_DIGEST_MD5, REALM, false, T0, &c2), 0);
		client_answer(&cl, &c2, SPS_DIGEST_MD5, "pw", "00000001");
		ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0), SPS_DIGEST_OK);
		ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0), SPS_DIGEST_REPLAY);
	}
	sps_digest_free(d);
	return 0;
}

int test_auth_digest_malformed(void)
{
	struct sps_digest *d;
	struct chal c;
	struct client cl;

	ASSERT_INT_EQ(sps_digest_new(&d, secret, NULL), 0);
	ASSERT_INT_EQ(get_challenge(d, SPS_DIGEST_SHA256, REALM, false, T0, &c), 0);
	/* each required field left out in turn (realm: found directly below) */
	for (int f = 0; f < 7; f++) {
		client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000001");
		switch (f) {
		case 0: cl.s.user = NULL; break;
		case 1: cl.s.nonce = NULL; break;
		case 2: cl.s.uri = NULL; break;
		case 3: cl.s.response = NULL; break;
		case 4: cl.s.nc = NULL; break;
		case 5: cl.s.cnonce = NULL; break;
		default: cl.s.qop = "auth-int"; break;
		}
		if (check_spec(d, &cl.s, "pw", T0) != SPS_DIGEST_MALFORMED)
			TEST_FAIL("case %d: not MALFORMED", f);
	}
	/* bad values */
	static const struct {
		const char *nc, *response, *extra;
	} cases[] = {
		{"0000001", NULL, NULL},
		{"000000001", NULL, NULL},
		{"0000000g", NULL, NULL},
		{"+0000001", NULL, NULL},
		{NULL, "abc", NULL},
		{NULL, "8ca523f5e9506fed4657c9700eebdbec", NULL}, /* an MD5 size for SHA-256 */
		{NULL, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6cz", NULL},
		{NULL, NULL, "userhash=true"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000001");
		if (cases[i].nc)
			cl.s.nc = cases[i].nc;
		if (cases[i].response)
			cl.s.response = cases[i].response;
		cl.s.extra = cases[i].extra;
		if (check_spec(d, &cl.s, "pw", T0) != SPS_DIGEST_MALFORMED)
			TEST_FAIL("case %zu: not MALFORMED", i);
	}
	/* algorithms we do not offer: cred_alg refuses, check says MALFORMED */
	static const char *const algs[] = {"MD5-sess", "SHA-256-sess", "SHA-512-256", "SHA256"};
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		client_answer(&cl, &c, SPS_DIGEST_SHA256, "pw", "00000001");
		cl.s.algorithm = algs[i];
		ASSERT_INT_EQ(check_spec(d, &cl.s, "pw", T0), -2);
	}
	char msg[2048];
	struct test_msg p;
	make_register(msg, sizeof(msg),
		      "Authorization: Digest realm=\"" REALM "\", username=\"a\", nonce=\"n\","
		      " uri=\"sip:x\", response=\"00\", algorithm=md5-sess\r\n"
		      "Proxy-Authorization: Digest username=\"a\", nonce=\"n\", uri=\"sip:x\","
		      " response=\"00000000000000000000000000000000\"\r\n");
	ASSERT_INT_EQ(parse(&p, msg), 0);
	const struct sps_auth *a = sps_digest_find_cred(p.m, false, REALM);
	enum sps_digest_alg alg = SPS_DIGEST_SHA256;
	ASSERT(a != NULL);
	ASSERT_INT_EQ(sps_digest_cred_alg(a, &alg), EINVAL);
	ASSERT_INT_EQ(alg, SPS_DIGEST_SHA256); /* untouched on failure */
	ASSERT_INT_EQ(sps_digest_check(d, a, p.m->method, REALM, NULL, T0), SPS_DIGEST_MALFORMED);
	/* no realm at all: not found by realm; checked directly, MALFORMED */
	ASSERT(sps_digest_find_cred(p.m, true, REALM) == NULL);
	const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(p.m, SPS_HDR_PROXY_AUTHORIZATION, NULL);
	ASSERT(h && h->parsed);
	ASSERT_INT_EQ(sps_digest_check(d, h->parsed, p.m->method, REALM, NULL, T0),
		      SPS_DIGEST_MALFORMED);
	ASSERT_INT_EQ(sps_digest_check(d, NULL, p.m->method, REALM, NULL, T0),
		      SPS_DIGEST_MALFORMED);
	char user[8];
	ASSERT_INT_EQ(sps_digest_cred_user(NULL, user, sizeof(user)), EINVAL);
	test_msg_free(&p);
	sps_digest_free(d);
	return 0;
}

int test_auth_digest_find_cred(void)
{
	char msg[4096];
	struct test_msg p;

	make_register(msg, sizeof(msg),
		      "Authorization: Foo username=\"u0\", realm=\"sip.example.com\"\r\n"
		      "Authorization: Digest username=\"u1\", realm=\"other.example.com\","
		      " nonce=\"n\", uri=\"sip:x\", response=\"0\"\r\n"
		      "Authorization: Digest username=\"u2\", realm=\"sip.example.com\","
		      " nonce=\"n\", uri=\"sip:x\", response=\"0\"\r\n"
		      "Authorization: digest username=\"u3\", realm=\"sip.example.com\","
		      " nonce=\"n\", uri=\"sip:x\", response=\"0\"\r\n"
		      "Authorization: Digest username=\"u4\", realm=\"q\\\"uote\","
		      " nonce=\"n\", uri=\"sip:x\", response=\"0\"\r\n"
		      "Proxy-Authorization: DIGEST username=\"p\\\\1\", realm=\"sip.example.com\","
		      " nonce=\"n\", uri=\"sip:x\", response=\"0\"\r\n");
	ASSERT_INT_EQ(parse(&p, msg), 0);
	char user[16];
	const struct sps_auth *a = sps_digest_find_cred(p.m, false, REALM);
	ASSERT(a != NULL);
	ASSERT_INT_EQ(sps_digest_cred_user(a, user, sizeof(user)), 0);
	ASSERT_STR_EQ(user, "u2");
	a = sps_digest_find_cred(p.m, false, "other.example.com");
	ASSERT(a && sps_digest_cred_user(a, user, sizeof(user)) == 0);
	ASSERT_STR_EQ(user, "u1");
	a = sps_digest_find_cred(p.m, false, "q\"uote");
	ASSERT(a && sps_digest_cred_user(a, user, sizeof(user)) == 0);
	ASSERT_STR_EQ(user, "u4");
	ASSERT(sps_digest_find_cred(p.m, false, "q\\\"uote") == NULL);
	ASSERT(sps_digest_find_cred(p.m, false, "SIP.example.com") == NULL); /* case-sensitive */
	ASSERT(sps_digest_find_cred(p.m, false, "sip.example.co") == NULL);
	ASSERT(sps_digest_find_cred(p.m, false, "") == NULL);
	a = sps_digest_find_cred(p.m, true, REALM);
	ASSERT(a && sps_digest_cred_user(a, user, sizeof(user)) == 0);
	ASSERT_STR_EQ(user, "p\\1");
	ASSERT(sps_digest_find_cred(p.m, true, "other.example.com") == NULL);
	ASSERT(sps_digest_find_cred(NULL, false, REALM) == NULL);
	ASSERT(sps_digest_find_cred(p.m, false, NULL) == NULL);
	test_msg_free(&p);

	/* no Authorization at all */
	make_register(msg, sizeof(msg), "");
	ASSERT_INT_EQ(parse(&p, msg), 0);
	ASSERT(sps_digest_find_cred(p.m, false, REALM) == NULL);
	ASSERT(sps_digest_find_cred(p.m, true, REALM) == NULL);
	test_msg_free(&p);
	return 0;
}

int test_auth_digest_limiter(void)
{
	struct sps_digest *d;
	struct sps_digest_conf conf = {.fail_max = 3, .fail_window = 60, .block_secs = 100};
	static const char ip[] = "192.0.2.7", ip2[] = "2001:db8::7";

	ASSERT_INT_EQ(sps_digest_new(&d, secret, &conf), 0);
	ASSERT(!sps_digest_blocked(d, ip, strlen(ip), T0));
	ASSERT(!sps_digest_fail(d, ip, strlen(ip), T0));
	ASSERT(!sps_digest_fail(d, ip, strlen(ip), T0 + 1));
	ASSERT(!sps_digest_blocked(d, ip, strlen(ip), T0 + 1));
	ASSERT(sps_digest_fail(d, ip, strlen(ip), T0 + 2)); /* the third: blocked, reported */
	ASSERT(sps_digest_blocked(d, ip, strlen(ip), T0 + 2));
	for (int i = 0; i < 10; i++) /* reported once */
		ASSERT(!sps_digest_fail(d, ip, strlen(ip), T0 + 3 + i));
	ASSERT(!sps_digest_blocked(d, ip2, strlen(ip2), T0 + 3)); /* others unaffected */
	ASSERT(!sps_digest_blocked(d, ip, strlen(ip) - 1, T0 + 3)); /* a prefix is another key */
	ASSERT(sps_digest_blocked(d, ip, strlen(ip), T0 + 101));
	ASSERT(!sps_digest_blocked(d, ip, strlen(ip), T0 + 102)); /* block_secs later */
	/* success during a block does not lift it */
	ASSERT(!sps_digest_fail(d, ip2, strlen(ip2), T0));
	ASSERT(!sps_digest_fail(d, ip2, strlen(ip2), T0));
	ASSERT(sps_digest_fail(d, ip2, strlen(ip2), T0));
	sps_digest_success(d, ip2, strlen(ip2));
	ASSERT(sps_digest_blocked(d, ip2, strlen(ip2), T0 + 1));

	/* after the block, counting starts again and can block again */
	ASSERT(!sps_digest_fail(d, ip, strlen(ip), T0 + 200));
	ASSERT(!sps_digest_fail(d, ip, strlen(ip), T0 + 201));
	/* success forgets the failures */
	sps_digest_success(d, ip, strlen(ip));
	ASSERT(!sps_digest_fail(d, ip, strlen(ip), T0 + 202));
	ASSERT(!sps_digest_fail(d, ip, strlen(ip), T0 + 203));
	ASSERT(sps_digest_fail(d, ip, strlen(ip), T0 + 204));
	ASSERT(sps_digest_blocked(d, ip, strlen(ip), T0 + 205));

	/* failures spread wider than fail_window do not block */
	static const uint8_t v4[4] = {198, 51, 100, 1};
	for (int i = 0; i < 10; i++)
		ASSERT(!sps_digest_fail(d, v4, sizeof(v4), T0 + 1000 + 30 * i));
	ASSERT(!sps_digest_blocked(d, v4, sizeof(v4), T0 + 1300));

	/* an address longer than the stored key size still works */
	char longaddr[100];
	memset(longaddr, 'x', sizeof(longaddr));
	ASSERT(!sps_digest_fail(d, longaddr, sizeof(longaddr), T0));
	ASSERT(!sps_digest_fail(d, longaddr, sizeof(longaddr), T0));
	ASSERT(!sps_digest_blocked(d, longaddr, sizeof(longaddr), T0));
	ASSERT(sps_digest_fail(d, longaddr, sizeof(longaddr), T0));
	ASSERT(sps_digest_blocked(d, longaddr, sizeof(longaddr), T0));
	longaddr[99] = 'y';
	ASSERT(!sps_digest_blocked(d, longaddr, sizeof(longaddr), T0));

	/* a flood of addresses keeps the table bounded; the oldest are evicted
	 * and the flood's latest entries are still counted */
	char a[32];
	for (int i = 0; i < 50000; i++) {
		int n = snprintf(a, sizeof(a), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255,
				 i & 255);
		sps_digest_fail(d, a, (size_t)n, T0 + 2000 + i / 1000);
	}
	int n = snprintf(a, sizeof(a), "10.0.0.1");
	ASSERT(!sps_digest_fail(d, a, (size_t)n, T0 + 2100));
	ASSERT(!sps_digest_fail(d, a, (size_t)n, T0 + 2100));
	ASSERT(sps_digest_fail(d, a, (size_t)n, T0 + 2100));
	ASSERT(!sps_digest_fail(d, NULL, 3, T0));
	ASSERT(!sps_digest_blocked(d, NULL, 3, T0));
	sps_digest_free(d);
	return 0;
}
