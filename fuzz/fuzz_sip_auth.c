/* libFuzzer target: Digest credentials (auth/digest) on parsed SIP messages.
 * The input is the value of an Authorization header in a REGISTER; "@N@"
 * in it becomes a valid nonce of the server and "@O@" its opaque, so that
 * inputs get past the nonce's MAC. The credential is looked up
 * (sps_digest_find_cred), its algorithm read and checked against a fixed
 * secret and HA1, fresh and after the nonce expired. Invariants: a
 * credential whose algorithm is refused is MALFORMED; results are in range.
 * The input is also a limiter key (reported blocked once) and a realm: a
 * challenge written for it must parse back and carry that realm. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/digest.h"
#include "core/arena.h"
#include "core/mbuf.h"
#include "sip/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REALM "sip.example.com"
#define NOW 1700000000
#define MAX_IN 8192

static const uint8_t secret[32] = "fuzz-secret-fuzz-secret-fuzz-sec";
static char nonce[64], opaque[64];
static char ha1_md5[33], ha1_sha[65];

static const char pre[] = "REGISTER sip:" REALM " SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfz\r\n"
			  "Max-Forwards: 70\r\n"
			  "To: <sip:alice@" REALM ">\r\n"
			  "From: <sip:alice@" REALM ">;tag=1\r\n"
			  "Call-ID: fz@192.0.2.1\r\n"
			  "CSeq: 1 REGISTER\r\n"
			  "Authorization: ";
static const char post[] = "\r\nContent-Length: 0\r\n\r\n";

/* Copy the quoted value of name="..." in s into out. */
static void grab(const char *s, size_t l, const char *name, char *out, size_t size)
{
	const char *p = memmem(s, l, name, strlen(name));
	if (!p)
		abort();
	p += strlen(name);
	const char *q = memchr(p, '"', l - (size_t)(p - s));
	if (!q || (size_t)(q - p) >= size)
		abort();
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
}

static void init_once(void)
{
	static int done;
	struct sps_digest *d;
	struct sps_mbuf mb;

	if (done)
		return;
	done = 1;
	if (sps_digest_new(&d, secret, NULL))
		abort();
	sps_mbuf_init(&mb, 0);
	if (sps_digest_challenge(d, &mb, SPS_DIGEST_SHA256, REALM, false, NOW))
		abort();
	grab(mb.buf, mb.len, "nonce=\"", nonce, sizeof(nonce));
	grab(mb.buf, mb.len, "opaque=\"", opaque, sizeof(opaque));
	sps_mbuf_free(&mb);
	sps_digest_free(d);
	if (sps_digest_ha1(SPS_DIGEST_MD5, "alice", REALM, "pw", ha1_md5, sizeof(ha1_md5)) ||
	    sps_digest_ha1(SPS_DIGEST_SHA256, "alice", REALM, "pw", ha1_sha, sizeof(ha1_sha)))
		abort();
}

/* Parse pre + value + post from an exact-size copy; NULL when it does not parse. */
static struct sps_sip_msg *parse_with(struct sps_arena *a, const char *v, size_t vl, char **bufp)
{
	size_t n = sizeof(pre) - 1 + vl + sizeof(post) - 1;
	char *b = malloc(n);
	if (!b)
		abort();
	memcpy(b, pre, sizeof(pre) - 1);
	if (vl)
		memcpy(b + sizeof(pre) - 1, v, vl);
	memcpy(b + sizeof(pre) - 1 + vl, post, sizeof(post) - 1);
	struct sps_sip_msg *m = NULL;
	const char *why;
	if (sps_sip_msg_parse(b, n, a, &m, &why))
		m = NULL;
	*bufp = b;
	return m;
}

static void check_one(struct sps_digest *d, const struct sps_sip_msg *m, const struct sps_auth *c)
{
	enum sps_digest_alg alg = SPS_DIGEST_MD5;
	bool known = sps_digest_cred_alg(c, &alg) == 0;
	const char *ha1 = alg == SPS_DIGEST_SHA256 ? ha1_sha : ha1_md5;
	static const int64_t nows[] = {NOW, NOW + 100000, NOW - 100};
	for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
		enum sps_digest_result r = sps_digest_check(d, c, m->method, REALM, ha1, nows[i]);
		if ((unsigned)r > SPS_DIGEST_MALFORMED)
			abort();
		if (!known && r != SPS_DIGEST_MALFORMED)
			abort();
		r = sps_digest_check(d, c, m->method, REALM, NULL, nows[i]);
		if (r == SPS_DIGEST_OK || r == SPS_DIGEST_STALE || r == SPS_DIGEST_REPLAY)
			abort(); /* no HA1, no success */
	}
	char user[64];
	int rc = sps_digest_cred_user(c, user, sizeof(user));
	if (rc == 0 && strlen(user) >= sizeof(user))
		abort();
}

/* A challenge for the input as realm must come back as that realm. */
static void challenge_realm(struct sps_digest *d, const uint8_t *data, size_t size)
{
	char realm[1024];
	size_t n = 0;
	while (n < size && n < sizeof(realm) - 1 && data[n])
		n++;
	memcpy(realm, data, n);
	realm[n] = '\0';

	struct sps_mbuf mb;
	sps_mbuf_init(&mb, 0);
	if (sps_digest_challenge(d, &mb, (size & 1) ? SPS_DIGEST_MD5 : SPS_DIGEST_SHA256, realm,
				 size & 2, NOW) == 0) {
		struct sps_arena *a;
		char *b = NULL;
		if (sps_arena_new(&a, 0))
			abort();
		/* same grammar as credentials (RFC 3261 25.1 auth-param) */
		struct sps_sip_msg *m = parse_with(a, mb.buf, mb.len, &b);
		if (!m || !sps_digest_find_cred(m, false, realm)) {
			fprintf(stderr, "challenge does not parse back: %.*s\n", (int)mb.len, mb.buf);
			abort();
		}
		sps_arena_free(a);
		free(b);
	}
	sps_mbuf_free(&mb);
}

/* The limiter is long-lived, like the server's: each input runs on its own
 * stretch of the clock, so earlier inputs' blocks have expired. */
static void limiter(struct sps_digest *d, const uint8_t *data, size_t size)
{
	static int64_t t = NOW;
	int reported = 0;

	t += 100000;
	for (int i = 0; i < 25; i++)
		reported += sps_digest_fail(d, data, size, t + i);
	/* fail_max 10, block_secs 300: blocked by the 10th, reported once */
	if (reported != 1 || !sps_digest_blocked(d, data, size, t + 30))
		abort();
	sps_digest_success(d, data, size);
	if (!sps_digest_blocked(d, data, size, t + 31) || sps_digest_blocked(d, data, size, t + 400))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sps_digest *d; /* long-lived, as in the server */
	struct sps_digest_conf conf = {.nc_slots = 64};
	struct sps_arena *a;
	char *b = NULL;

	if (size > MAX_IN)
		return 0;
	init_once();
	if ((!d && sps_digest_new(&d, secret, &conf)) || sps_arena_new(&a, 0))
		abort();

	/* expand the placeholders */
	char *v = malloc(size * 15 + 1);
	size_t vl = 0;
	if (!v)
		abort();
	for (size_t i = 0; i < size;) {
		if (i + 3 <= size && data[i] == '@' && data[i + 2] == '@' &&
		    (data[i + 1] == 'N' || data[i + 1] == 'O')) {
			const char *s = data[i + 1] == 'N' ? nonce : opaque;
			memcpy(v + vl, s, strlen(s));
			vl += strlen(s);
			i += 3;
		} else {
			v[vl++] = (char)data[i++];
		}
	}

	struct sps_sip_msg *m = parse_with(a, v, vl, &b);
	if (m) {
		const struct sps_auth *c = sps_digest_find_cred(m, false, REALM);
		if (c)
			check_one(d, m, c);
		/* every credential, whatever its realm, as a caller might misuse it */
		for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, SPS_HDR_AUTHORIZATION, NULL);
		     h; h = sps_sip_msg_hdr_next(m, SPS_HDR_AUTHORIZATION, h))
			if (h->parsed)
				check_one(d, m, h->parsed);
		c = sps_digest_find_cred(m, true, REALM); /* when the input made one */
		if (c)
			check_one(d, m, c);
	}
	limiter(d, data, size);
	challenge_realm(d, data, size);

	free(v);
	free(b);
	sps_arena_free(a);
	return 0;
}
