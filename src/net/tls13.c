/* net/tls13: the TLS 1.3 record layer after OpenSSL's handshake (see tls13.h). */
#include "net/tls13.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "core/hex.h"

#define MAX_SECRET 48 /* SHA-384 */
#define MAX_KEY 32
#define IV_LEN 12  /* every TLS 1.3 AEAD: 5.3 */
#define TAG_LEN 16 /* idem */
/* RFC 8446 5.5: AES-GCM may protect 2^24.5 full records under one key; we
 * update our write key long before. */
#define KEY_UPDATE_AT (UINT64_C(1) << 23)
#define HS_KEY_UPDATE 24 /* HandshakeType key_update (4) */

/* What the callbacks capture on one SSL while it handshakes (ex_data). */
struct capture {
	uint8_t rd[MAX_SECRET], wr[MAX_SECRET];
	size_t rd_len, wr_len;
	uint64_t rd_seq, wr_seq; /* records under the application secrets */
	bool rd_ok, wr_ok;
};

/* One direction's traffic keys (7.3). */
struct dir {
	uint8_t secret[MAX_SECRET];
	uint8_t key[MAX_KEY];
	uint8_t iv[IV_LEN];
	uint64_t seq;
};

struct sps_tls13 {
	struct dir rd, wr;
	uint8_t suite;		/* index into suites[] */
	bool key_update_due;	/* send a KeyUpdate before the next record */
};

static const struct suite {
	uint16_t id; /* RFC 8446 B.4 */
	const char *name, *cipher, *md;
	size_t keylen, hashlen;
} suites[] = {
	{0x1301, "TLS_AES_128_GCM_SHA256", "AES-128-GCM", "SHA256", 16, 32},
	{0x1302, "TLS_AES_256_GCM_SHA384", "AES-256-GCM", "SHA384", 32, 48},
	{0x1303, "TLS_CHACHA20_POLY1305_SHA256", "ChaCha20-Poly1305", "SHA256", 32, 32},
};
#define NSUITES (sizeof(suites) / sizeof(suites[0]))

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int cap_index = -1;
static EVP_CIPHER *ciphers[NSUITES]; /* fetched once, kept for the process */
/* HMAC contexts with the suite's hash set and no key, kept for the process:
 * expand_label dups one (EVP_Q_mac would look up HMAC and the digest again
 * on every call, ~2 us each in OpenSSL 3.0; 4 calls per handshake). */
static EVP_MAC_CTX *hmacs[NSUITES];

static void cap_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (ptr) {
		OPENSSL_cleanse(ptr, sizeof(struct capture));
		free(ptr);
	}
}

static void init_once(void)
{
	cap_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, cap_free);
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	for (size_t i = 0; i < NSUITES; i++) {
		ciphers[i] = EVP_CIPHER_fetch(NULL, suites[i].cipher, NULL);
		OSSL_PARAM params[2] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)suites[i].md, 0),
			OSSL_PARAM_construct_end()};
		if (mac && (hmacs[i] = EVP_MAC_CTX_new(mac)) != NULL &&
		    EVP_MAC_CTX_set_params(hmacs[i], params) != 1) {
			EVP_MAC_CTX_free(hmacs[i]);
			hmacs[i] = NULL;
		}
	}
	EVP_MAC_free(mac); /* each context holds its own reference */
	ERR_clear_error();
}

/* "LABEL <client_random hex> <secret hex>" (the NSS key log format). */
static void keylog_cb(const SSL *ssl, const char *line)
{
	static const char srv[] = "SERVER_TRAFFIC_SECRET_0 ", cli[] = "CLIENT_TRAFFIC_SECRET_0 ";
	bool wr;
	if (!SSL_is_server(ssl))
		return;
	if (strncmp(line, srv, sizeof(srv) - 1) == 0)
		wr = true;
	else if (strncmp(line, cli, sizeof(cli) - 1) == 0)
		wr = false;
	else
		return;
	const char *p = strchr(line + sizeof(srv) - 1, ' ');
	if (!p)
		return;
	p++;
	size_t hex = strlen(p);
	if (hex % 2 || hex / 2 > MAX_SECRET || hex == 0)
		return;
	struct capture *cap = SSL_get_ex_data(ssl, cap_index);
	if (!cap) {
		cap = calloc(1, sizeof(*cap));
		if (!cap || !SSL_set_ex_data((SSL *)ssl, cap_index, cap)) {
			free(cap);
			return;
		}
	}
	uint8_t *dst = wr ? cap->wr : cap->rd;
	for (size_t i = 0; i < hex / 2; i++) {
		int hi = sps_hexval((unsigned char)p[2 * i]);
		int lo = sps_hexval((unsigned char)p[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			OPENSSL_cleanse(dst, MAX_SECRET);
			return;
		}
		dst[i] = (uint8_t)(hi << 4 | lo);
	}
	/* The key-log line comes when OpenSSL switches to the secret (the
	 * server's write secret after its Finished, the client's once it read
	 * the client's Finished): count records from here. */
	if (wr) {
		cap->wr_len = hex / 2;
		cap->wr_seq = 0;
		cap->wr_ok = true;
	} else {
		cap->rd_len = hex / 2;
		cap->rd_seq = 0;
		cap->rd_ok = true;
	}
}

/* Called once per record header read or written (SSL3_RT_HEADER). */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
		   SSL *ssl, void *arg)
{
	(void)version, (void)buf, (void)len, (void)arg;
	if (content_type != SSL3_RT_HEADER)
		return;
	struct capture *cap = SSL_get_ex_data(ssl, cap_index);
	if (!cap)
		return;
	if (write_p && cap->wr_ok)
		cap->wr_seq++;
	else if (!write_p && cap->rd_ok)
		cap->rd_seq++;
}

int sps_tls13_capture(SSL_CTX *ctx)
{
	pthread_once(&once, init_once);
	if (cap_index < 0)
		return ENOMEM;
	SSL_CTX_set_keylog_callback(ctx, keylog_cb);
	SSL_CTX_set_msg_callback(ctx, msg_cb);
	return 0;
}

/* HKDF-Expand-Label(secret, label, "", len) (7.1) for len <= Hash.length:
 * one HMAC block, T(1) = HMAC(secret, HkdfLabel || 0x01). */
static int expand_label(const struct suite *s, const uint8_t *secret, const char *label,
			uint8_t *out, size_t len)
{
	uint8_t info[2 + 1 + 6 + 16 + 1 + 1], mac[EVP_MAX_MD_SIZE];
	size_t ll = strlen(label), n = 0, maclen = 0;
	if (len > s->hashlen || ll > 16)
		return -1;
	info[n++] = (uint8_t)(len >> 8);
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0; /* empty context */
	info[n++] = 1; /* the block counter */
	EVP_MAC_CTX *h = hmacs[s - suites] ? EVP_MAC_CTX_dup(hmacs[s - suites]) : NULL;
	int ok = h && EVP_MAC_init(h, secret, s->hashlen, NULL) == 1 &&
		 EVP_MAC_update(h, info, n) == 1 &&
		 EVP_MAC_final(h, mac, &maclen, sizeof(mac)) == 1 && maclen >= len;
	EVP_MAC_CTX_free(h);
	if (ok)
		memcpy(out, mac, len);
	OPENSSL_cleanse(mac, sizeof(mac));
	return ok ? 0 : -1;
}

static int dir_keys(const struct suite *s, struct dir *d)
{
	return expand_label(s, d->secret, "key", d->key, s->keylen) ||
			       expand_label(s, d->secret, "iv", d->iv, IV_LEN)
		       ? -1
		       : 0;
}

/* 7.2: application_traffic_secret_N+1, new keys, sequence back to 0. */
static int dir_update(const struct suite *s, struct dir *d)
{
	uint8_t next[MAX_SECRET];
	if (expand_label(s, d->secret, "traffic upd", next, s->hashlen))
		return -1;
	memcpy(d->secret, next, s->hashlen);
	OPENSSL_cleanse(next, sizeof(next));
	d->seq = 0;
	return dir_keys(s, d);
}

struct sps_tls13 *sps_tls13_take(SSL *ssl)
{
	pthread_once(&once, init_once);
	if (cap_index < 0 || !SSL_is_server(ssl) || SSL_version(ssl) != TLS1_3_VERSION ||
	    !SSL_is_init_finished(ssl) || SSL_has_pending(ssl) || SSL_want(ssl) != SSL_NOTHING)
		return NULL;
	struct capture *cap = SSL_get_ex_data(ssl, cap_index);
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	if (!cap || !cap->rd_ok || !cap->wr_ok || !c)
		return NULL;
	uint16_t id = SSL_CIPHER_get_protocol_id(c);
	size_t i = 0;
	while (i < NSUITES && suites[i].id != id)
		i++;
	if (i == NSUITES || !ciphers[i] || cap->rd_len != suites[i].hashlen ||
	    cap->wr_len != suites[i].hashlen)
		return NULL;
	struct sps_tls13 *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->suite = (uint8_t)i;
	memcpy(t->rd.secret, cap->rd, cap->rd_len);
	memcpy(t->wr.secret, cap->wr, cap->wr_len);
	t->rd.seq = cap->rd_seq;
	t->wr.seq = cap->wr_seq;
	if (dir_keys(&suites[i], &t->rd) || dir_keys(&suites[i], &t->wr)) {
		sps_tls13_free(t);
		return NULL;
	}
	return t;
}

void sps_tls13_free(struct sps_tls13 *t)
{
	if (!t)
		return;
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

const char *sps_tls13_suite(const struct sps_tls13 *t) { return suites[t->suite].name; }

long sps_tls13_record_len(const uint8_t *buf, size_t len)
{
	if (len < SPS_TLS13_HDR)
		return 0;
	size_t body = (size_t)buf[3] << 8 | buf[4];
	/* 5.2: every protected record says application_data outside; the
	 * version is legacy and ignored; at most 2^14 + 256 bytes. */
	if (buf[0] != SPS_TLS13_APPDATA || body > SPS_TLS13_MAX_RECORD - SPS_TLS13_HDR)
		return -1;
	return (long)(SPS_TLS13_HDR + body);
}

/* 5.3: the per-record nonce, the IV XORed with the 64-bit sequence number. */
static void nonce(const struct dir *d, uint8_t out[IV_LEN])
{
	memcpy(out, d->iv, IV_LEN);
	for (int i = 0; i < 8; i++)
		out[IV_LEN - 1 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

int sps_tls13_open(struct sps_tls13 *t, EVP_CIPHER_CTX *cx, uint8_t *rec, size_t len,
		   uint8_t *type, size_t *plen)
{
	uint8_t iv[IV_LEN];
	int n = 0, m = 0;
	if (len < SPS_TLS13_HDR + 1 + TAG_LEN || len > SPS_TLS13_MAX_RECORD ||
	    sps_tls13_record_len(rec, len) != (long)len)
		return EPROTO;
	if (t->rd.seq == UINT64_MAX)
		return EPROTO; /* 5.3: never wraps */
	size_t clen = len - SPS_TLS13_HDR - TAG_LEN;
	uint8_t *body = rec + SPS_TLS13_HDR;
	nonce(&t->rd, iv);
	if (EVP_CipherInit_ex2(cx, ciphers[t->suite], t->rd.key, iv, 0, NULL) != 1 ||
	    EVP_CipherUpdate(cx, NULL, &n, rec, SPS_TLS13_HDR) != 1 || /* AAD: the header */
	    EVP_CipherUpdate(cx, body, &n, body, (int)clen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, body + clen) != 1) {
		OPENSSL_cleanse(iv, sizeof(iv));
		return ENOMEM;
	}
	int ok = EVP_CipherFinal_ex(cx, body + n, &m);
	OPENSSL_cleanse(iv, sizeof(iv));
	if (ok != 1)
		return EBADMSG;
	t->rd.seq++;
	/* 5.4: the content type is the last non-zero byte; zeros are padding */
	size_t i = clen;
	while (i > 0 && body[i - 1] == 0)
		i--;
	if (i == 0)
		return EPROTO;
	*type = body[i - 1];
	*plen = i - 1;
	if (*plen > SPS_TLS13_MAX_PLAIN)
		return EPROTO; /* record_overflow */
	return 0;
}

size_t sps_tls13_sealed_max(size_t len)
{
	size_t recs = len ? (len + SPS_TLS13_MAX_PLAIN - 1) / SPS_TLS13_MAX_PLAIN : 1;
	/* plus one KeyUpdate record (4-byte header + 1) */
	return len + (recs + 1) * SPS_TLS13_OVERHEAD + 5;
}

static int seal_one(struct sps_tls13 *t, EVP_CIPHER_CTX *cx, uint8_t type, const uint8_t *in,
		    size_t len, uint8_t *out)
{
	uint8_t iv[IV_LEN];
	size_t body = len + 1 + TAG_LEN;
	int n = 0, m = 0;
	out[0] = SPS_TLS13_APPDATA;
	out[1] = 3;
	out[2] = 3; /* legacy_record_version 0x0303 */
	out[3] = (uint8_t)(body >> 8);
	out[4] = (uint8_t)body;
	nonce(&t->wr, iv);
	int ok = EVP_CipherInit_ex2(cx, ciphers[t->suite], t->wr.key, iv, 1, NULL) == 1 &&
		 EVP_CipherUpdate(cx, NULL, &n, out, SPS_TLS13_HDR) == 1 &&
		 (len == 0 || EVP_CipherUpdate(cx, out + SPS_TLS13_HDR, &n, in, (int)len) == 1) &&
		 EVP_CipherUpdate(cx, out + SPS_TLS13_HDR + len, &n, &type, 1) == 1 &&
		 EVP_CipherFinal_ex(cx, out + SPS_TLS13_HDR + len + 1, &m) == 1 &&
		 EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN,
				     out + SPS_TLS13_HDR + len + 1) == 1;
	OPENSSL_cleanse(iv, sizeof(iv));
	if (!ok)
		return ENOMEM;
	t->wr.seq++;
	return 0;
}

int sps_tls13_seal(struct sps_tls13 *t, EVP_CIPHER_CTX *cx, uint8_t type, const void *in,
		   size_t len, uint8_t *out, size_t *olen)
{
	const struct suite *s = &suites[t->suite];
	const uint8_t *p = in;
	size_t off = 0;
	*olen = 0;
	do {
		if (t->key_update_due || t->wr.seq >= KEY_UPDATE_AT) {
			/* 4.6.3: KeyUpdate(update_not_requested) under the old
			 * key, then the next write secret. */
			static const uint8_t ku[] = {HS_KEY_UPDATE, 0, 0, 1, 0};
			if (seal_one(t, cx, SPS_TLS13_HANDSHAKE, ku, sizeof(ku), out + off))
				return ENOMEM;
			off += SPS_TLS13_OVERHEAD + sizeof(ku);
			if (dir_update(s, &t->wr))
				return ENOMEM;
			t->key_update_due = false;
		}
		size_t n = len > SPS_TLS13_MAX_PLAIN ? SPS_TLS13_MAX_PLAIN : len;
		if (seal_one(t, cx, type, p, n, out + off))
			return ENOMEM;
		off += SPS_TLS13_OVERHEAD + n;
		p += n;
		len -= n;
	} while (len > 0);
	*olen = off;
	return 0;
}

int sps_tls13_handshake(struct sps_tls13 *t, const uint8_t *msg, size_t len)
{
	/* struct { HandshakeType msg_type; uint24 length; KeyUpdateRequest } */
	if (len != 5 || msg[0] != HS_KEY_UPDATE || msg[1] || msg[2] || msg[3] != 1 || msg[4] > 1)
		return EPROTO;
	if (dir_update(&suites[t->suite], &t->rd))
		return EPROTO;
	if (msg[4] == 1) /* update_requested */
		t->key_update_due = true;
	return 0;
}
