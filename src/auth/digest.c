/* auth/digest: stateless nonces, challenges and credential checks for HTTP
 * Digest in SIP (RFC 3261 22.4, RFC 7616 3.3-3.5, RFC 8760), the nonce-count
 * replay table and the per-source failure limiter. HA1 hashing is in ha1.c.
 *
 * Nothing here logs: the caller (the request handler) decides what to log,
 * and never a password, an HA1, a nonce MAC or a response. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/base64.h"
#include "auth/digest.h"

/* Nonce layout, base64url without padding (43 characters):
 *   [ timestamp: 8 bytes big-endian unix seconds | random: 8 bytes |
 *     mac: first 16 bytes of HMAC-SHA256(secret, timestamp | random) ] */
#define NONCE_TS 8
#define NONCE_RND 8
#define NONCE_MAC 16
#define NONCE_RAW (NONCE_TS + NONCE_RND + NONCE_MAC)
#define NONCE_B64 43
#define OPAQUE_RAW 16
#define OPAQUE_B64 22
/* a nonce stamped further than this in the future was not made by this clock */
#define NONCE_SKEW 5

#define MAX_HEX 64 /* SHA-256 in hex */

/* Failure limiter: FAIL_SLOTS entries, a key lives in one of FAIL_PROBE
 * consecutive slots from its hash; when all are taken the least recently
 * touched one is evicted. Keys up to FAIL_KEY bytes are stored as they are,
 * longer ones as their SHA-256 (marked by FAIL_KEY_HASHED in klen). */
#define FAIL_SLOTS 4096
#define FAIL_PROBE 8
#define FAIL_KEY 48
#define FAIL_KEY_HASHED 0x80

#define NC_SLOTS_MAX (1u << 24)

/* Highest nc seen for one nonce. An empty slot is {0, 0}, which behaves like
 * a nonce whose last nc was 0, so it needs no flag. */
struct nc_slot {
	uint64_t tag; /* 8 bytes of the nonce's MAC */
	uint32_t nc;
};

struct fail_ent {
	uint8_t key[FAIL_KEY];
	uint8_t klen;
	bool used;
	uint32_t count;        /* failures since `first` */
	int64_t first;         /* start of the current window */
	int64_t last;          /* last touched: the eviction order */
	int64_t blocked_until; /* refused while now < blocked_until */
};

/* Owns the secret (wiped on free) and both tables. One loop thread only. */
struct sps_digest {
	uint8_t secret[32];
	struct sps_digest_conf conf;
	char opaque[OPAQUE_B64 + 1];
	uint64_t fail_seed; /* keys the limiter's slot hash, so sources cannot aim at a slot */
	struct nc_slot *nc; /* conf.nc_slots entries, a power of two */
	struct fail_ent *fail; /* FAIL_SLOTS entries */
};

/* ---- encodings ---- */

#define B64URL (SPS_B64_URL | SPS_B64_NOPAD | SPS_B64_CANON)

/* base64url of n bytes without padding into out (4n/3 rounded up chars + NUL). */
static void b64url_enc(const uint8_t *in, size_t n, char *out)
{
	(void)sps_base64_encode(in, n, out, sps_base64_len(n, B64URL) + 1, B64URL);
}

/* Decode exactly n bytes from s, which must be their canonical unpadded
 * base64url form, so one value has one spelling. Returns 0 or EINVAL. */
static int b64url_dec(struct sps_slice s, uint8_t *out, size_t n)
{
	size_t got = 0;
	return sps_base64_decode(s, out, n, &got, B64URL) == 0 && got == n ? 0 : EINVAL;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* Copy n hex digits lowercased into out (n + 1 bytes). Returns false when one
 * is not a hex digit. */
static bool hex_lower(const char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		if (!is_hex(p[i]))
			return false;
		out[i] = lower(p[i]);
	}
	out[n] = '\0';
	return true;
}

static void to_hex(const uint8_t *h, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- quoted values (RFC 3261 25.1 quoted-pair) ----
 * struct sps_auth keeps quoted values as written, so "\x" stands for x. A
 * backslash at the very end (which the parser cannot produce) is literal. */

/* True when the escaped value s, unescaped, equals the C string c. */
static bool esc_eq(struct sps_slice s, const char *c)
{
	size_t i = 0;
	for (; i < s.l; i++, c++) {
		if (s.p[i] == '\\' && i + 1 < s.l)
			i++;
		if (*c == '\0' || *c != s.p[i])
			return false;
	}
	return *c == '\0';
}

/* Feed the unescaped value of s to the digest. Returns 0 or -1. */
static int md_update_esc(EVP_MD_CTX *ctx, struct sps_slice s)
{
	if (!s.l)
		return 0;
	const char *p = s.p, *end = s.p + s.l, *run = p;
	while (p < end) {
		if (*p == '\\' && p + 1 < end) {
			if (p > run && EVP_DigestUpdate(ctx, run, (size_t)(p - run)) != 1)
				return -1;
			run = p + 1;
			p += 2;
		} else {
			p++;
		}
	}
	return end > run && EVP_DigestUpdate(ctx, run, (size_t)(end - run)) != 1 ? -1 : 0;
}

static int md_update_str(EVP_MD_CTX *ctx, const char *s, size_t n)
{
	return n && EVP_DigestUpdate(ctx, s, n) != 1 ? -1 : 0;
}

/* ---- object ---- */

static bool is_pow2(unsigned v)
{
	return v && !(v & (v - 1));
}

int sps_digest_new(struct sps_digest **out, const uint8_t secret[32],
		   const struct sps_digest_conf *conf)
{
	struct sps_digest_conf c = {0};
	if (conf)
		c = *conf;
	if (!c.nonce_ttl)
		c.nonce_ttl = 300;
	if (!c.nc_slots)
		c.nc_slots = 65536;
	if (!c.fail_max)
		c.fail_max = 10;
	if (!c.fail_window)
		c.fail_window = 60;
	if (!c.block_secs)
		c.block_secs = 300;
	if (!out || !secret || !is_pow2(c.nc_slots) || c.nc_slots > NC_SLOTS_MAX)
		return EINVAL;

	struct sps_digest *d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->nc = calloc(c.nc_slots, sizeof(*d->nc));
	d->fail = calloc(FAIL_SLOTS, sizeof(*d->fail));
	if (!d->nc || !d->fail) {
		sps_digest_free(d);
		return ENOMEM;
	}
	memcpy(d->secret, secret, sizeof(d->secret));
	d->conf = c;

	/* Derived values. Their HMAC inputs differ in length from the 16-byte
	 * nonce input, so none can be passed off as another. */
	static const char opaque_label[] = "sipsec digest opaque";
	static const char seed_label[] = "sipsec digest limiter";
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned ml = 0;
	if (!HMAC(EVP_sha256(), d->secret, sizeof(d->secret), (const uint8_t *)opaque_label,
		  sizeof(opaque_label) - 1, mac, &ml) || ml < OPAQUE_RAW) {
		sps_digest_free(d);
		return EIO;
	}
	b64url_enc(mac, OPAQUE_RAW, d->opaque);
	if (!HMAC(EVP_sha256(), d->secret, sizeof(d->secret), (const uint8_t *)seed_label,
		  sizeof(seed_label) - 1, mac, &ml) || ml < 8) {
		sps_digest_free(d);
		return EIO;
	}
	memcpy(&d->fail_seed, mac, 8);
	OPENSSL_cleanse(mac, sizeof(mac));
	*out = d;
	return 0;
}

void sps_digest_free(struct sps_digest *d)
{
	if (!d)
		return;
	OPENSSL_cleanse(d->secret, sizeof(d->secret));
	free(d->nc);
	free(d->fail);
	free(d);
}

/* ---- nonces ---- */

/* mac = first NONCE_MAC bytes of HMAC-SHA256(secret, ts | rnd). */
static int nonce_mac(const struct sps_digest *d, const uint8_t raw[NONCE_TS + NONCE_RND],
		     uint8_t mac[NONCE_MAC])
{
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	if (!HMAC(EVP_sha256(), d->secret, sizeof(d->secret), raw, NONCE_TS + NONCE_RND, h, &hl) ||
	    hl < NONCE_MAC)
		return EIO;
	memcpy(mac, h, NONCE_MAC);
	return 0;
}

/* A fresh nonce stamped `now`, base64url, into out (NONCE_B64 + 1 bytes). */
static int nonce_make(const struct sps_digest *d, int64_t now, char out[NONCE_B64 + 1])
{
	uint8_t raw[NONCE_RAW];
	uint64_t ts = (uint64_t)now;
	for (int i = 0; i < NONCE_TS; i++)
		raw[i] = (uint8_t)(ts >> (56 - 8 * i));
	if (RAND_bytes(raw + NONCE_TS, NONCE_RND) != 1)
		return EIO;
	if (nonce_mac(d, raw, raw + NONCE_TS + NONCE_RND))
		return EIO;
	b64url_enc(raw, NONCE_RAW, out);
	return 0;
}

/* Decode and authenticate a nonce: 0 with *ts and *tag (for the nc table)
 * set, or EINVAL when it is not one of ours. */
static int nonce_open(const struct sps_digest *d, struct sps_slice s, int64_t *ts,
		      uint64_t *tag)
{
	uint8_t raw[NONCE_RAW], mac[NONCE_MAC];
	if (b64url_dec(s, raw, sizeof(raw)) || nonce_mac(d, raw, mac) ||
	    CRYPTO_memcmp(mac, raw + NONCE_TS + NONCE_RND, NONCE_MAC) != 0)
		return EINVAL;
	uint64_t t = 0;
	for (int i = 0; i < NONCE_TS; i++)
		t = t << 8 | raw[i];
	memcpy(tag, raw + NONCE_TS + NONCE_RND + NONCE_MAC - 8, 8);
	*ts = (int64_t)t; /* we wrote it from an int64_t */
	return 0;
}

/* ---- challenges (RFC 7616 3.3, RFC 8760 2.4) ---- */

/* Write s as the inside of a quoted-string, escaping '"' and '\'. */
static void put_quoted(struct sps_mbuf *mb, const char *s)
{
	const char *run = s;
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			sps_mbuf_write(mb, run, (size_t)(s - run));
			sps_mbuf_write(mb, "\\", 1);
			run = s;
		}
	}
	sps_mbuf_write(mb, run, (size_t)(s - run));
}

/* Control characters cannot be sent even escaped (RFC 3261 25.1: a
 * quoted-pair excludes CR and LF) and would split the header. */
static bool realm_ok(const char *realm)
{
	for (const unsigned char *p = (const unsigned char *)realm; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Also returns EINVAL for a NULL realm or one with control characters, and
 * EIO when no random bytes could be had; nothing is written then. */
int sps_digest_challenge(struct sps_digest *d, struct sps_mbuf *mb, enum sps_digest_alg alg,
			 const char *realm, bool stale, int64_t now)
{
	char nonce[NONCE_B64 + 1];

	if (!d || !mb || !realm || !realm_ok(realm) ||
	    (alg != SPS_DIGEST_MD5 && alg != SPS_DIGEST_SHA256))
		return EINVAL;
	if (sps_mbuf_err(mb))
		return sps_mbuf_err(mb);
	if (nonce_make(d, now, nonce))
		return EIO;
	sps_mbuf_puts(mb, "Digest realm=\"");
	put_quoted(mb, realm);
	sps_mbuf_printf(mb, "\", qop=\"auth\", algorithm=%s, nonce=\"%s\", opaque=\"%s\"%s",
			alg == SPS_DIGEST_SHA256 ? "SHA-256" : "MD5", nonce, d->opaque,
			stale ? ", stale=true" : "");
	return sps_mbuf_err(mb);
}

/* ---- credentials ---- */

int sps_digest_cred_alg(const struct sps_auth *cred, enum sps_digest_alg *alg)
{
	if (!cred || !alg)
		return EINVAL;
	if (!cred->algorithm.p || sps_slice_eq_cstr_ci(cred->algorithm, "MD5")) {
		*alg = SPS_DIGEST_MD5;
		return 0;
	}
	if (sps_slice_eq_cstr_ci(cred->algorithm, "SHA-256")) {
		*alg = SPS_DIGEST_SHA256;
		return 0;
	}
	return EINVAL;
}

int sps_digest_cred_user(const struct sps_auth *cred, char *out, size_t size)
{
	if (!cred || !cred->username.p || !out || !size)
		return EINVAL;
	struct sps_slice s = cred->username;
	size_t o = 0;
	for (size_t i = 0; i < s.l; i++) {
		if (s.p[i] == '\\' && i + 1 < s.l)
			i++;
		if (o + 1 >= size)
			return ENOSPC;
		out[o++] = s.p[i];
	}
	out[o] = '\0';
	return 0;
}

const struct sps_auth *sps_digest_find_cred(const struct sps_sip_msg *m, bool proxy,
					    const char *realm)
{
	if (!m || !realm)
		return NULL;
	enum sps_hdr_id id = proxy ? SPS_HDR_PROXY_AUTHORIZATION : SPS_HDR_AUTHORIZATION;
	for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, id, NULL); h;
	     h = sps_sip_msg_hdr_next(m, id, h)) {
		const struct sps_auth *a = h->parsed;
		if (a && sps_slice_eq_cstr_ci(a->scheme, "Digest") && a->realm.p &&
		    esc_eq(a->realm, realm))
			return a;
	}
	return NULL;
}

/* hex (hexlen digits + NUL) = H(HA2) then H(response) per RFC 7616 3.4.1:
 *   HA2 = H(method ":" uri)
 *   qop=auth:  H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)
 *   no qop:    H(HA1 ":" nonce ":" HA2)   (RFC 2069, kept by RFC 2617 / 3261)
 * Quoted values are hashed unescaped. Returns 0 or EIO. */
static int response_hex(enum sps_digest_alg alg, const char *ha1, const struct sps_auth *c,
			struct sps_slice method, char *hex)
{
	const EVP_MD *md = alg == SPS_DIGEST_SHA256 ? EVP_sha256() : EVP_md5();
	uint8_t h[EVP_MAX_MD_SIZE];
	char ha2[MAX_HEX + 1];
	unsigned hl = 0;
	int err = EIO;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return EIO;
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1 || md_update_str(ctx, method.p, method.l) ||
	    md_update_str(ctx, ":", 1) || md_update_esc(ctx, c->uri) ||
	    EVP_DigestFinal_ex(ctx, h, &hl) != 1 || hl * 2 > MAX_HEX)
		goto out;
	to_hex(h, hl, ha2);
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1 || md_update_str(ctx, ha1, strlen(ha1)) ||
	    md_update_str(ctx, ":", 1) || md_update_esc(ctx, c->nonce) ||
	    md_update_str(ctx, ":", 1))
		goto out;
	if (c->qop.p &&
	    (md_update_str(ctx, c->nc.p, c->nc.l) || md_update_str(ctx, ":", 1) ||
	     md_update_esc(ctx, c->cnonce) || md_update_str(ctx, ":", 1) ||
	     md_update_esc(ctx, c->qop) || md_update_str(ctx, ":", 1)))
		goto out;
	if (md_update_str(ctx, ha2, strlen(ha2)) || EVP_DigestFinal_ex(ctx, h, &hl) != 1 ||
	    hl * 2 > MAX_HEX)
		goto out;
	to_hex(h, hl, hex);
	err = 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(h, sizeof(h));
	return err;
}

/* RFC 7616 3.4: nc-value = 8LHEX (upper case accepted, as clients send it). */
static bool nc_parse(struct sps_slice s, uint32_t *nc)
{
	uint32_t v = 0;
	if (s.l != 8)
		return false;
	for (size_t i = 0; i < 8; i++) {
		char c = lower(s.p[i]);
		if (c >= '0' && c <= '9')
			v = v << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint32_t)(c - 'a' + 10);
		else
			return false;
	}
	*nc = v;
	return true;
}

/* The order of the checks matters:
 *  - every syntax check comes first (MALFORMED), so a broken request never
 *    reaches the hashes;
 *  - an unknown user (ha1_hex NULL or not a valid HA1 of this algorithm) is
 *    hashed against a dummy HA1 and answered BAD, costing the same work as a
 *    wrong password;
 *  - STALE is returned only when the response is right (RFC 7616 3.3:
 *    stale=true means the credentials were good), so an expired nonce never
 *    tells a guesser anything;
 *  - the nc table is read and written only after the response is verified,
 *    so only a holder of the password can move a nonce's nc.
 * Without qop (RFC 2069 form) there is no nc: such a response can be
 * replayed until its nonce expires (nonce_ttl); RFC 3261 22.4 still allows
 * it and we accept it for old phones.
 * The nc table is direct-mapped by the nonce's MAC: a slot taken by a newer
 * nonce forgets the older nonce's nc, so that nonce's old requests become
 * replayable until it expires. With 65536 slots this needs thousands of
 * authenticated nonces in one nonce_ttl; only authenticated requests write
 * slots. The caller compares cred->uri with the Request-URI if it wants to
 * (RFC 3261 22.4 leaves it to the server). */
enum sps_digest_result sps_digest_check(struct sps_digest *d, const struct sps_auth *cred,
					struct sps_slice method, const char *realm,
					const char *ha1_hex, int64_t now)
{
	enum sps_digest_alg alg;
	uint32_t nc = 0;
	char resp[MAX_HEX + 1], ha1[MAX_HEX + 1], want[MAX_HEX + 1];

	if (!d || !realm)
		return SPS_DIGEST_BAD;
	if (!cred || !sps_slice_eq_cstr_ci(cred->scheme, "Digest") || !cred->username.p ||
	    !cred->realm.p || !cred->nonce.p || !cred->uri.p || !cred->response.p)
		return SPS_DIGEST_MALFORMED;
	/* we never offer userhash (RFC 7616 3.4.4), so a hashed username is an error */
	if (cred->userhash.p && !sps_slice_eq_cstr_ci(cred->userhash, "false"))
		return SPS_DIGEST_MALFORMED;
	if (sps_digest_cred_alg(cred, &alg))
		return SPS_DIGEST_MALFORMED;
	size_t hexlen = alg == SPS_DIGEST_SHA256 ? 64 : 32;
	if (cred->response.l != hexlen || !hex_lower(cred->response.p, hexlen, resp))
		return SPS_DIGEST_MALFORMED;
	if (cred->qop.p) {
		/* we offer only qop=auth; auth-int would need the body hashed */
		if (!sps_slice_eq_cstr_ci(cred->qop, "auth") || !cred->nc.p ||
		    !nc_parse(cred->nc, &nc) || !cred->cnonce.p)
			return SPS_DIGEST_MALFORMED;
	}

	bool known = ha1_hex && strlen(ha1_hex) == hexlen && hex_lower(ha1_hex, hexlen, ha1);
	if (!known) {
		memset(ha1, '0', hexlen);
		ha1[hexlen] = '\0';
	}
	enum sps_digest_result res = SPS_DIGEST_BAD;
	/* our nonces are plain base64url, so the escaped text is decoded as it
	 * is: a nonce a client escaped needlessly is not ours (BAD) */
	int64_t ts;
	uint64_t tag;
	if (!esc_eq(cred->realm, realm) || (cred->opaque.p && !esc_eq(cred->opaque, d->opaque)) ||
	    nonce_open(d, cred->nonce, &ts, &tag))
		goto out;
	/* compared as unsigned differences: ts and now may be far apart */
	if (ts > now && (uint64_t)ts - (uint64_t)now > NONCE_SKEW)
		goto out;
	if (response_hex(alg, ha1, cred, method, want))
		goto out;
	if (CRYPTO_memcmp(want, resp, hexlen) != 0 || !known)
		goto out;
	if (now > ts && (uint64_t)now - (uint64_t)ts > d->conf.nonce_ttl) {
		res = SPS_DIGEST_STALE;
		goto out;
	}
	if (cred->qop.p) {
		struct nc_slot *s = &d->nc[tag & (d->conf.nc_slots - 1)];
		if (nc <= (s->tag == tag ? s->nc : 0)) {
			res = SPS_DIGEST_REPLAY;
			goto out;
		}
		s->tag = tag;
		s->nc = nc;
	}
	res = SPS_DIGEST_OK;
out:
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return res;
}

/* ---- failure limiter ---- */

/* Normalized key: the address bytes, or their SHA-256 when longer than
 * FAIL_KEY. Returns false when addr is unusable. */
static bool fail_key(const void *addr, size_t len, uint8_t key[FAIL_KEY], uint8_t *klen)
{
	if (!addr && len)
		return false;
	if (len <= FAIL_KEY) {
		if (len)
			memcpy(key, addr, len);
		*klen = (uint8_t)len;
		return true;
	}
	unsigned hl = 0;
	if (EVP_Digest(addr, len, key, &hl, EVP_sha256(), NULL) != 1 || hl != 32)
		return false;
	*klen = FAIL_KEY_HASHED | 32;
	return true;
}

/* First slot of the key's probe window: FNV-1a seeded from the secret, then
 * a final mix so that the low bits depend on every byte. */
static size_t fail_home(const struct sps_digest *d, const uint8_t *key, uint8_t klen)
{
	uint64_t h = 0xcbf29ce484222325ull ^ d->fail_seed;
	size_t n = klen & FAIL_KEY_HASHED ? (size_t)(klen & ~FAIL_KEY_HASHED) : klen;
	for (size_t i = 0; i < n; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	h ^= klen;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (size_t)(h & (FAIL_SLOTS - 1));
}

static bool fail_match(const struct fail_ent *e, const uint8_t *key, uint8_t klen)
{
	size_t n = klen & FAIL_KEY_HASHED ? (size_t)(klen & ~FAIL_KEY_HASHED) : klen;
	return e->used && e->klen == klen && (n == 0 || memcmp(e->key, key, n) == 0);
}

/* The entry for addr, or NULL. With `create`, a missing entry takes a free
 * slot of the window, else the least recently touched one (its history is
 * lost: a source flooding from many addresses can make the limiter forget
 * others, which the fixed size accepts). */
static struct fail_ent *fail_find(struct sps_digest *d, const void *addr, size_t len,
				  bool create)
{
	uint8_t key[FAIL_KEY];
	uint8_t klen;
	if (!d || !fail_key(addr, len, key, &klen))
		return NULL;
	size_t home = fail_home(d, key, klen);
	struct fail_ent *free_e = NULL, *old = NULL;
	/* scan the whole window: freed slots may sit before the entry */
	for (size_t i = 0; i < FAIL_PROBE; i++) {
		struct fail_ent *e = &d->fail[(home + i) & (FAIL_SLOTS - 1)];
		if (fail_match(e, key, klen))
			return e;
		if (!e->used) {
			if (!free_e)
				free_e = e;
		} else if (!old || e->last < old->last) {
			old = e;
		}
	}
	if (!create)
		return NULL;
	struct fail_ent *e = free_e ? free_e : old;
	memset(e, 0, sizeof(*e));
	size_t n = klen & FAIL_KEY_HASHED ? (size_t)(klen & ~FAIL_KEY_HASHED) : klen;
	if (n)
		memcpy(e->key, key, n);
	e->klen = klen;
	e->used = true;
	return e;
}

static int64_t add_sat(int64_t a, uint32_t b)
{
	return a > INT64_MAX - (int64_t)b ? INT64_MAX : a + (int64_t)b;
}

/* Failures are counted in a fixed window opened by the first one; the
 * fail_max-th failure inside it blocks the address for block_secs and is the
 * only call that returns true. Failures while blocked change nothing. */
bool sps_digest_fail(struct sps_digest *d, const void *addr, size_t len, int64_t now)
{
	struct fail_ent *e = fail_find(d, addr, len, true);
	if (!e)
		return false;
	e->last = now;
	if (now < e->blocked_until)
		return false;
	if (e->count == 0 || now < e->first ||
	    (uint64_t)now - (uint64_t)e->first >= d->conf.fail_window) {
		e->count = 0;
		e->first = now;
	}
	if (++e->count < d->conf.fail_max)
		return false;
	e->count = 0;
	e->blocked_until = add_sat(now, d->conf.block_secs);
	return true;
}

bool sps_digest_blocked(struct sps_digest *d, const void *addr, size_t len, int64_t now)
{
	const struct fail_ent *e = fail_find(d, addr, len, false);
	return e && now < e->blocked_until;
}

/* Forgets the failures counted so far; a block in force stays (the caller
 * refuses blocked sources before checking, and a NAT shared with a guesser
 * must not lift the guesser's block). */
void sps_digest_success(struct sps_digest *d, const void *addr, size_t len)
{
	struct fail_ent *e = fail_find(d, addr, len, false);
	if (!e)
		return;
	if (e->blocked_until)
		e->count = 0;
	else
		memset(e, 0, sizeof(*e));
}
