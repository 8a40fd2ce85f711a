/* libFuzzer target: the TLS 1.3 record layer of accepted connections
 * (net/tls13.c), which reads what phones send once OpenSSL's handshake is
 * over. Every input starts with a real handshake between an OpenSSL client
 * and a server context with the capture callbacks (memory BIO pair, a
 * throw-away P-256 certificate), so the record state is a true one. Then:
 *
 *   byte 0 bits 0-1: the cipher suite; bit 2 clear: the rest of the input is
 *   raw bytes from the network (headers, lengths, records that do not
 *   authenticate); bit 2 set: the rest is a script of operations whose
 *   records are real - the client writes a chunk, asks for a KeyUpdate, the
 *   server seals a chunk that the client must read back, or a written
 *   record gets one bit flipped (it must then fail authentication). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/tls13.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
				     "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"};

static SSL_CTX *server_ctx, *client_ctx;
static EVP_CIPHER_CTX *cx;
static uint8_t buf[4 * SPS_TLS13_MAX_RECORD];

static void init(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	if (!key || !x)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"fuzz.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	if (!X509_sign(x, key, EVP_sha256()))
		abort();
	server_ctx = SSL_CTX_new(TLS_server_method());
	client_ctx = SSL_CTX_new(TLS_client_method());
	cx = EVP_CIPHER_CTX_new();
	if (!server_ctx || !client_ctx || !cx || SSL_CTX_use_certificate(server_ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(server_ctx, key) != 1 || sps_tls13_capture(server_ctx) != 0)
		abort();
	SSL_CTX_set_min_proto_version(server_ctx, TLS1_3_VERSION);
	SSL_CTX_set_num_tickets(server_ctx, 0); /* nothing pending for the client to read */
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* One session: the client's SSL, the server's record state, and the server
 * end of the BIO pair that carries the client's records to us. */
struct session {
	SSL *cli;
	BIO *srv_bio;
	struct sps_tls13 *t;
};

static int session_open(struct session *s, const char *suite)
{
	BIO *cb = NULL, *sb = NULL;
	memset(s, 0, sizeof(*s));
	SSL *srv = SSL_new(server_ctx);
	s->cli = SSL_new(client_ctx);
	if (!srv || !s->cli || SSL_set_ciphersuites(s->cli, suite) != 1 ||
	    BIO_new_bio_pair(&cb, 0, &sb, 0) != 1) {
		SSL_free(srv);
		return -1;
	}
	SSL_set_bio(s->cli, cb, cb);
	SSL_set_bio(srv, sb, sb);
	BIO_up_ref(sb); /* stays ours after SSL_free(srv) */
	s->srv_bio = sb;
	SSL_set_connect_state(s->cli);
	SSL_set_accept_state(srv);
	int done_c = 0, done_s = 0;
	for (int i = 0; i < 16 && !(done_c && done_s); i++) {
		if (!done_c)
			done_c = SSL_do_handshake(s->cli) == 1;
		if (!done_s)
			done_s = SSL_do_handshake(srv) == 1;
	}
	if (done_c && done_s)
		s->t = sps_tls13_take(srv);
	SSL_free(srv);
	return s->t ? 0 : -1;
}

static void session_close(struct session *s)
{
	sps_tls13_free(s->t);
	SSL_free(s->cli);
	BIO_free(s->srv_bio);
}

/* Open every whole record of buf[0..len) as the connection layer does;
 * returns the number opened, or -1 at the first error (the connection would
 * be closed). */
static int open_all(struct sps_tls13 *t, uint8_t *b, size_t len)
{
	size_t off = 0;
	int n = 0;
	while (off < len) {
		long rl = sps_tls13_record_len(b + off, len - off);
		if (rl < 0)
			return -1;
		if (rl == 0 || (size_t)rl > len - off)
			break; /* more bytes needed */
		uint8_t type = 0;
		size_t plen = 0;
		if (sps_tls13_open(t, cx, b + off, (size_t)rl, &type, &plen) != 0)
			return -1;
		if (plen > SPS_TLS13_MAX_PLAIN)
			abort();
		const uint8_t *pt = b + off + SPS_TLS13_HDR;
		if (type == SPS_TLS13_HANDSHAKE && sps_tls13_handshake(t, pt, plen) != 0)
			return -1;
		off += (size_t)rl;
		n++;
	}
	return n;
}

/* The client's records waiting for the server. */
static size_t take_client_records(struct session *s)
{
	int n = BIO_read(s->srv_bio, buf, (int)sizeof(buf));
	return n > 0 ? (size_t)n : 0;
}

static void script(struct session *s, const uint8_t *d, size_t size)
{
	static uint8_t sealed[SPS_TLS13_OVERHEAD * 4 + 4 * 256];
	uint8_t back[256];
	size_t i = 0;
	while (i + 2 <= size) {
		unsigned op = d[i] & 3, len = d[i + 1];
		i += 2;
		if (len > size - i)
			len = (unsigned)(size - i);
		const uint8_t *chunk = d + i;
		i += len;
		if (op == 1 && SSL_key_update(s->cli, SSL_KEY_UPDATE_REQUESTED) != 1)
			return;
		if (op == 0 || op == 1 || op == 3) {
			if (len && SSL_write(s->cli, chunk, (int)len) != (int)len)
				return;
			size_t n = take_client_records(s);
			long rl = n ? sps_tls13_record_len(buf, n) : 0;
			if (op == 3 && rl > SPS_TLS13_HDR && (size_t)rl <= n) {
				/* inside the first record, after its header */
				size_t at = (size_t)(len ? chunk[0] : 0) % ((size_t)rl - SPS_TLS13_HDR);
				buf[SPS_TLS13_HDR + at] ^= 0x40;
				if (open_all(s->t, buf, n) >= 0)
					abort(); /* a flipped bit authenticated */
				return;	 /* the connection is closed */
			}
			if (open_all(s->t, buf, n) < 0)
				abort(); /* a real record was refused */
		} else {
			size_t n = 0;
			if (sps_tls13_sealed_max(len) > sizeof(sealed) ||
			    sps_tls13_seal(s->t, cx, SPS_TLS13_APPDATA, chunk, len, sealed, &n) != 0)
				abort();
			if (BIO_write(s->srv_bio, sealed, (int)n) != (int)n)
				return;
			int got = len ? SSL_read(s->cli, back, (int)sizeof(back)) : 0;
			if (got != (int)len || memcmp(back, chunk, len) != 0)
				abort(); /* the client did not read what we sealed */
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 1 || size > sizeof(buf))
		return 0;
	struct session s;
	if (session_open(&s, suites[data[0] & 3]) != 0)
		abort();
	if (data[0] & 4) {
		script(&s, data + 1, size - 1);
	} else {
		memcpy(buf, data + 1, size - 1);
		(void)open_all(s.t, buf, size - 1);
	}
	session_close(&s);
	ERR_clear_error();
	return 0;
}
