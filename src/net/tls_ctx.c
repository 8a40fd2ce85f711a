/* net/tls_ctx: OpenSSL contexts for TLS servers and clients, and session
 * ticket keys that survive restarts. */
#include "net/tls_ctx.h"

#include "core/file.h"
#include "net/tls13.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>


/* RFC 7525 4.2 / BSI TR-02102-2: forward secrecy and AEAD only for TLS 1.2.
 * TLS 1.3 suites are all AEAD: OpenSSL's default set, but AES-128-GCM first
 * as for TLS 1.2 (RFC 8446 9.1 mandatory suite): its SHA-256 transcript
 * state is smaller and every idle connection keeps it (208 bytes less per
 * connection than AES-256-GCM-SHA384 with OpenSSL 3.0). */
#define TLS12_CIPHERS                                                                   \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                   \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                   \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"
#define PATH_LEN 1024

/* ---- ticket keys ----
 * File DATADIR/tls/ticket-keys (0600): the magic "SPSTKEY1", then 1..2
 * records {name[16], hmac_key[32], aes_key[32], created (uint64 BE, unix
 * time)}, current key first, then the previous one (the format of sipsec
 * before TLS 1.3 tickets lived longer, so that an older binary still
 * starts); DATADIR/tls/ticket-keys.tls13 the same with the older keys that
 * only decrypt TLS 1.3 tickets, newest first (absent when there are none). */

#define TK_MAGIC "SPSTKEY1"
#define TK_MAGIC_LEN 8
#define TK_NAME_LEN 16 /* the key_name of the ticket callback */
#define TK_SECRET_LEN 32
#define TK_REC_LEN (TK_NAME_LEN + 2 * TK_SECRET_LEN + 8)
/* The current key and older ones that still decrypt: TLS 1.2 tickets under
 * the current and the previous key only, TLS 1.3 tickets for up to
 * SPS_TLS13_TICKET_LIFETIME (see tk_lifetime13). 16 keys cover 7 days at the
 * default 12-hour rotation. */
#define TK_MAX 16
#define TK_FILE_MAX (TK_MAGIC_LEN + TK_MAX * TK_REC_LEN)
#define TK_MAIN 2 /* keys in ticket-keys; the rest in ticket-keys.tls13 */
#define TK_OLD_SUFFIX ".tls13"

struct tk_key {
	unsigned char name[TK_NAME_LEN];
	unsigned char hmac[TK_SECRET_LEN]; /* HMAC-SHA256 key */
	unsigned char aes[TK_SECRET_LEN];  /* AES-256-CBC key */
	int64_t created;
};

/* Ticket key state of server SSL_CTXs, held in their ex_data: one context,
 * or several when a certificate reload made a new context that shares the
 * keys of the old one (sps_tls_ctx_server_reload); refs counts them and the
 * last one freed frees it. lock guards keys/n: the ticket callback may run
 * in several threads. */
struct tk_state {
	atomic_int refs;
	pthread_mutex_t lock;
	struct tk_key keys[TK_MAX]; /* keys[0] encrypts; all decrypt TLS 1.3
				       tickets, keys[0..1] TLS 1.2 ones */
	unsigned n;
	long period;   /* rotation period */
	long life13;   /* TLS 1.3 ticket lifetime: tk_lifetime13(period) */
	bool persist;
	char path[PATH_LEN];
};

static int tk_index = -1;
static pthread_once_t tk_once = PTHREAD_ONCE_INIT;
/* AES-256-CBC fetched once for the process: EVP_aes_256_cbc() would make
 * every ticket encryption and decryption look the cipher up again (OpenSSL 3
 * "implicit fetch"). NULL when the fetch failed: then the legacy one. */
static EVP_CIPHER *tk_cipher;

static void tk_state_free(struct tk_state *st)
{
	if (!st)
		return;
	pthread_mutex_destroy(&st->lock);
	OPENSSL_cleanse(st, sizeof(*st));
	free(st);
}

static void tk_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
		       void *argp)
{
	struct tk_state *st = ptr;
	if (st && atomic_fetch_sub(&st->refs, 1) == 1)
		tk_state_free(st);
}

static void tk_index_init(void)
{
	tk_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tk_ex_free);
	tk_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	ERR_clear_error();
}

static int tk_key_new(struct tk_key *k, time_t now)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_priv_bytes(k->hmac, sizeof(k->hmac)) != 1 ||
	    RAND_priv_bytes(k->aes, sizeof(k->aes)) != 1)
		return EIO;
	k->created = (int64_t)now;
	return 0;
}

/* Write len bytes to path atomically with mode 0600 from creation on:
 * O_EXCL temp file, fsync, rename, fsync of the directory. */
static int write_private_atomic(const char *path, const unsigned char *data, size_t len)
{
	char tmp[PATH_LEN + 32];
	int rc = 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	(void)unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = errno;
			break;
		}
		off += (size_t)w;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = errno;
	if (close(fd) != 0 && rc == 0)
		rc = errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = errno;
	if (rc != 0) {
		(void)unlink(tmp);
		return rc;
	}
	char dir[PATH_LEN];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	return 0;
}

static int tk_save_file(const char *path, const struct tk_key *keys, unsigned n)
{
	unsigned char buf[TK_FILE_MAX], *p = buf;
	memcpy(p, TK_MAGIC, TK_MAGIC_LEN);
	p += TK_MAGIC_LEN;
	for (unsigned i = 0; i < n; i++) {
		memcpy(p, keys[i].name, TK_NAME_LEN);
		memcpy(p + TK_NAME_LEN, keys[i].hmac, TK_SECRET_LEN);
		memcpy(p + TK_NAME_LEN + TK_SECRET_LEN, keys[i].aes, TK_SECRET_LEN);
		uint64_t c = (uint64_t)keys[i].created;
		for (int b = 0; b < 8; b++)
			p[TK_NAME_LEN + 2 * TK_SECRET_LEN + b] = (unsigned char)(c >> (56 - 8 * b));
		p += TK_REC_LEN;
	}
	int rc = write_private_atomic(path, buf, (size_t)(p - buf));
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* Save keys[0..n) of st: the current and previous key to st->path, older
 * ones to st->path.tls13 (written first: a crash in between leaves a key in
 * both files at worst, which is harmless). */
static int tk_save(const struct tk_state *st, const struct tk_key *keys, unsigned n)
{
	char old[PATH_LEN + sizeof(TK_OLD_SUFFIX)];
	snprintf(old, sizeof(old), "%s" TK_OLD_SUFFIX, st->path);
	int rc = 0;
	if (n > TK_MAIN)
		rc = tk_save_file(old, keys + TK_MAIN, n - TK_MAIN);
	else if (unlink(old) != 0 && errno != ENOENT)
		rc = errno;
	return rc ? rc : tk_save_file(st->path, keys, n < TK_MAIN ? n : TK_MAIN);
}

/* Load the key file path into keys[0..max), *n the number read. Returns 0,
 * ENOENT, EBADMSG or an errno. */
static int tk_load_file(const char *path, struct tk_key *keys, unsigned max, unsigned *n)
{
	unsigned char buf[TK_FILE_MAX + 1];
	struct stat sb;
	size_t len = 0;
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno;
	/* Anyone who reads these keys can decrypt recorded sessions' tickets. */
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) && sb.st_uid == geteuid())
		(void)fchmod(fd, 0600);
	while (len < sizeof(buf)) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = errno;
			break;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (rc == 0 && (len < TK_MAGIC_LEN + TK_REC_LEN || len > TK_FILE_MAX ||
			(len - TK_MAGIC_LEN) % TK_REC_LEN != 0 ||
			memcmp(buf, TK_MAGIC, TK_MAGIC_LEN) != 0))
		rc = EBADMSG;
	if (rc == 0) {
		*n = (unsigned)((len - TK_MAGIC_LEN) / TK_REC_LEN);
		if (*n > max)
			*n = max;
		for (unsigned i = 0; i < *n; i++) {
			const unsigned char *p = buf + TK_MAGIC_LEN + i * TK_REC_LEN;
			struct tk_key *k = &keys[i];
			uint64_t c = 0;
			memcpy(k->name, p, TK_NAME_LEN);
			memcpy(k->hmac, p + TK_NAME_LEN, TK_SECRET_LEN);
			memcpy(k->aes, p + TK_NAME_LEN + TK_SECRET_LEN, TK_SECRET_LEN);
			for (int b = 0; b < 8; b++)
				c = (c << 8) | p[TK_NAME_LEN + 2 * TK_SECRET_LEN + b];
			k->created = (int64_t)c;
		}
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* Load st's key files: ticket-keys, then ticket-keys.tls13 if there is one
 * (a missing or corrupt second file only loses TLS 1.3 resumptions). Returns
 * 0, ENOENT, EBADMSG or an errno of the first file. */
static int tk_load(struct tk_state *st)
{
	unsigned n = 0, more = 0;
	int rc = tk_load_file(st->path, st->keys, TK_MAX, &n);
	if (rc)
		return rc;
	if (n > TK_MAIN) {
		/* all keys in one file (as one development build wrote them):
		 * split now, as an older sipsec refuses such a file */
		st->n = n;
		return st->persist ? tk_save(st, st->keys, n) : 0;
	}
	char old[PATH_LEN + sizeof(TK_OLD_SUFFIX)];
	snprintf(old, sizeof(old), "%s" TK_OLD_SUFFIX, st->path);
	if (n == TK_MAIN && tk_load_file(old, st->keys + n, TK_MAX - n, &more) != 0)
		more = 0;
	st->n = n + more;
	return 0;
}

/* How long a TLS 1.3 ticket stays valid: RFC 8446 4.6.1's maximum of 7 days,
 * or less when TK_MAX keys of this period cannot cover that. Phones hold
 * their TLS connection (and the ticket of its handshake) for days; a server
 * restarted after that must still resume them, or every phone does a full
 * handshake at once. The ticket key stays with the server's private key in
 * the data dir, and TLS 1.3 resumption here is psk_dhe_ke only (RFC 8446
 * 4.2.9): a stolen ticket key alone decrypts no recorded session, so the
 * longer life costs no forward secrecy. A TLS 1.2 ticket (RFC 5077) holds
 * the master secret itself: a TLS 1.2 session lives one rotation period
 * from its full handshake, under the current and the previous key only. */
static long tk_lifetime13(long period)
{
	long cover = (long)(TK_MAX - 1) * period;
	return cover < SPS_TLS13_TICKET_LIFETIME ? cover : SPS_TLS13_TICKET_LIFETIME;
}

/* Make a new current key when the current one is at least period old, or
 * more than a period in the future (the clock was set far back: without this
 * a key could stay current for years). Caller holds st->lock. */
static int tk_rotate_locked(struct tk_state *st, time_t now, bool *rotated)
{
	struct tk_key nk[TK_MAX];
	unsigned n;
	int rc;

	if (st->n > 0) {
		int64_t age = (int64_t)now - st->keys[0].created;
		if (age < st->period && age >= -st->period) {
			*rotated = false;
			return 0;
		}
	}
	if ((rc = tk_key_new(&nk[0], now)) != 0)
		return rc;
	n = 1;
	/* A key encrypted tickets until it was replaced (at the latest a period
	 * after it was made); they live life13 from then. The previous key
	 * stays in any case (TLS 1.2 tickets under it). */
	for (unsigned i = 0; i < st->n && n < TK_MAX; i++) {
		int64_t age = (int64_t)now - st->keys[i].created;
		/* from the future (the clock was wrong when it was made, as
		 * above): gone too, or it would never age out */
		if (i == 0 || (age < st->period + st->life13 && age >= -st->period))
			nk[n++] = st->keys[i];
	}
	/* Saved before use: a ticket is never issued under a key a restart loses. */
	if (st->persist && (rc = tk_save(st, nk, n)) != 0) {
		OPENSSL_cleanse(nk, sizeof(nk));
		return rc;
	}
	memcpy(st->keys, nk, sizeof(nk));
	st->n = n;
	OPENSSL_cleanse(nk, sizeof(nk));
	*rotated = true;
	return 0;
}

/* Build the ticket key state for conf: load DATADIR/tls/ticket-keys or create
 * it, then rotate when due. */
static int tk_state_new(const struct sps_tls_conf *conf, struct tk_state **out)
{
	struct tk_state *st = calloc(1, sizeof(*st));
	bool rotated;
	int rc = 0;

	if (!st)
		return ENOMEM;
	if (pthread_mutex_init(&st->lock, NULL) != 0) {
		free(st);
		return ENOMEM;
	}
	atomic_init(&st->refs, 1);
	st->period = conf->ticket_rotate_secs ? (long)conf->ticket_rotate_secs
					      : SPS_TLS_TICKET_ROTATE_DEFAULT;
	st->life13 = tk_lifetime13(st->period);
	if (conf->datadir) {
		int n = snprintf(st->path, sizeof(st->path), "%s/tls", conf->datadir);
		if (n < 0 ||
		    (size_t)n + sizeof("/ticket-keys" TK_OLD_SUFFIX ".tmp.4294967295") > sizeof(st->path))
			rc = ENAMETOOLONG;
		if (rc == 0 && (rc = sps_file_mkdir_private(conf->datadir)) == 0 &&
		    (rc = sps_file_mkdir_private(st->path)) == 0) {
			strcat(st->path, "/ticket-keys");
			st->persist = true;
			rc = tk_load(st);
			if (rc == ENOENT)
				rc = 0; /* first start: tk_rotate_locked creates it */
		}
	}
	if (rc == 0)
		rc = tk_rotate_locked(st, time(NULL), &rotated);
	if (rc != 0) {
		tk_state_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

static int tk_mac_init(EVP_MAC_CTX *hctx, const struct tk_key *k)
{
	static char digest[] = "SHA256";
	OSSL_PARAM params[3];
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac,
						      sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/* SSL_CTX_set_tlsext_ticket_key_evp_cb callback (RFC 5077 4 recommended
 * format: key_name, IV, AES-CBC, HMAC-SHA256). Encrypt under keys[0];
 * decrypt a TLS 1.3 ticket under any key, a TLS 1.2 one under keys[0..1],
 * returning 2 ("renew the ticket") for an old key or any TLS 1.3 ticket, 0
 * for an unknown or too old key (full handshake), -1 on error.
 * TLS 1.3: OpenSSL sends a resumed client a new ticket only when told to
 * renew, and clients should use each ticket once (RFC 8446 C.4), so a
 * phone that reconnects again and again needs a fresh ticket every time.
 * The state is that of the SSL's current SSL_CTX; an SNI callback that
 * switches contexts must switch to one sharing the ticket keys. */
static int tk_callback(SSL *s, unsigned char key_name[16], unsigned char *iv,
		       EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tk_state *st = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), tk_index);
	const EVP_CIPHER *cipher = tk_cipher ? tk_cipher : EVP_aes_256_cbc();
	int ret = -1;

	if (!st)
		return -1;
	pthread_mutex_lock(&st->lock);
	if (enc) {
		const struct tk_key *k = &st->keys[0];
		if (st->n > 0 && RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) == 1 &&
		    EVP_EncryptInit_ex(cctx, cipher, NULL, k->aes, iv) == 1 &&
		    tk_mac_init(hctx, k) == 0) {
			memcpy(key_name, k->name, TK_NAME_LEN);
			ret = 1;
		}
	} else {
		ret = 0;
		for (unsigned i = 0; i < st->n; i++) {
			const struct tk_key *k = &st->keys[i];
			if (CRYPTO_memcmp(key_name, k->name, TK_NAME_LEN) != 0)
				continue;
			if (i >= TK_MAIN && SSL_version(s) < TLS1_3_VERSION)
				break; /* see tk_lifetime13 */
			if (EVP_DecryptInit_ex(cctx, cipher, NULL, k->aes, iv) == 1 &&
			    tk_mac_init(hctx, k) == 0)
				ret = i == 0 && SSL_version(s) < TLS1_3_VERSION ? 1 : 2;
			else
				ret = -1;
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return ret;
}

/* SSL_CTX_set_session_ticket_cb generation callback, before every ticket:
 * a TLS 1.3 session (a new one for each ticket, also on resumption) lives
 * life13 (tk_lifetime13); a TLS 1.2 one keeps the context's period. */
static int tk_gen(SSL *s, void *arg)
{
	const struct tk_state *st = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), tk_index);
	SSL_SESSION *sess = SSL_get0_session(s);
	if (st && sess && SSL_version(s) >= TLS1_3_VERSION &&
	    SSL_SESSION_set_timeout(sess, st->life13) != 1)
		return 0;
	return 1;
}

int sps_tls_ctx_rotate_tickets(SSL_CTX *ctx, time_t now, bool *rotated)
{
	bool r = false;
	if (!ctx || tk_index < 0)
		return EINVAL;
	struct tk_state *st = SSL_CTX_get_ex_data(ctx, tk_index);
	if (!st)
		return EINVAL;
	pthread_mutex_lock(&st->lock);
	int rc = tk_rotate_locked(st, now, &r);
	pthread_mutex_unlock(&st->lock);
	if (rc == 0 && rotated)
		*rotated = r;
	return rc;
}

/* ---- contexts ---- */

/* Settings shared by server and client contexts. */
static int ctx_common(SSL_CTX *ctx)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1)
		return EINVAL;
	/* RFC 7457 2.5 / 2.6: no renegotiation, no compression (CRIME). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* Idle connections give their buffers back: tens of thousands of phones. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

/* Info callback of server contexts, which read ahead: OpenSSL reads what
 * the socket holds with one read(2) instead of one per record header and one
 * per body (the ClientHello in one read, not two; a TLS 1.2 client's second
 * flight in one, not four to six; one per burst of records after; net/conn
 * drains what SSL_has_pending reports). Once TLS 1.3 is chosen (before
 * anything after the ClientHello is read) reading ahead stops: bytes read
 * past the client's Finished would stay inside the SSL and keep net/tls13
 * from taking the connection over. TLS 1.2 connections keep their SSL. */
static void info_callback(const SSL *s, int where, int ret)
{
	/* Before the ClientHello is processed SSL_version says TLS 1.3 whatever
	 * the client speaks: wait for the state after it. */
	if ((where & SSL_CB_LOOP) && SSL_get_state(s) != TLS_ST_BEFORE &&
	    SSL_version(s) == TLS1_3_VERSION && SSL_get_read_ahead(s))
		SSL_set_read_ahead((SSL *)s, 0);
}

/* Accept any server name for now: one certificate serves the domain, the host
 * name and the addresses. This is where a certificate per name will be chosen. */
static int sni_callback(SSL *s, int *alert, void *arg)
{
	return SSL_TLSEXT_ERR_OK;
}

static int file_readable(const char *path)
{
	return access(path, R_OK) == 0 ? 0 : errno;
}

static int ctx_load_cert_key(SSL_CTX *ctx, const char *cert_file, const char *key_file)
{
	EVP_PKEY *key = NULL;
	int rc;

	if ((rc = file_readable(cert_file)) != 0 || (rc = file_readable(key_file)) != 0)
		return rc;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		return EBADMSG;
	FILE *f = fopen(key_file, "r");
	if (!f)
		return errno;
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!key)
		return EBADMSG;
	if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) != 1)
		rc = EKEYREJECTED;
	else if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		rc = EKEYREJECTED;
	EVP_PKEY_free(key);
	return rc;
}

/* A server context for conf; with shared (not NULL), one that uses the
 * ticket key state shared (which gains a reference) instead of loading it. */
static int server_ctx_new(const struct sps_tls_conf *conf, struct tk_state *shared,
			  SSL_CTX **out)
{
	static const unsigned char sid_ctx[] = "sipsec";
	struct tk_state *st = NULL;
	SSL_CTX *ctx = NULL;
	int rc = EINVAL;

	if (!conf || !conf->cert_file || !conf->key_file || !out ||
	    (conf->verify_client && !conf->client_ca_file))
		return EINVAL;
	if (pthread_once(&tk_once, tk_index_init) != 0 || tk_index < 0)
		return ENOMEM;
	if (!(ctx = SSL_CTX_new(TLS_server_method()))) {
		rc = ENOMEM;
		goto out;
	}
	if ((rc = ctx_common(ctx)) != 0)
		goto out;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Send the certificate file as it is (leaf, then the chain it carries):
	 * without this OpenSSL tries to build a chain from the (empty or
	 * client-CA) trust store on every full handshake when the file holds a
	 * leaf alone, an X509_STORE_CTX and a chain search for nothing (RFC 8446
	 * 4.4.2: the root may be left out anyway). */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	if ((rc = ctx_load_cert_key(ctx, conf->cert_file, conf->key_file)) != 0)
		goto out;
	if (conf->verify_client) {
		STACK_OF(X509_NAME) *names = NULL;
		if ((rc = file_readable(conf->client_ca_file)) != 0)
			goto out;
		rc = EBADMSG;
		if (SSL_CTX_load_verify_locations(ctx, conf->client_ca_file, NULL) != 1 ||
		    !(names = SSL_load_client_CA_file(conf->client_ca_file)))
			goto out;
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	/* Needed for resumption when client certificates are verified. */
	rc = ENOMEM;
	if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1)
		goto out;
	/* Stateless resumption only: tickets, no per-session server memory. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 1);
	if (shared) {
		atomic_fetch_add(&shared->refs, 1);
		st = shared;
	} else if ((rc = tk_state_new(conf, &st)) != 0) {
		goto out;
	}
	/* The lifetime of a session (the RFC 5077 lifetime hint, RFC 8446
	 * 4.6.1 ticket_lifetime): one rotation period for TLS 1.2, counted from
	 * its full handshake (a renewed ticket keeps the session's time), so
	 * that a master secret lives no longer than before; tk_gen raises a
	 * TLS 1.3 one to life13, whose keys are kept as long. */
	SSL_CTX_set_timeout(ctx, st->period);
	rc = ENOMEM;
	if (SSL_CTX_set_ex_data(ctx, tk_index, st) != 1)
		goto out;
	st = NULL; /* freed with ctx now */
	if (SSL_CTX_set_session_ticket_cb(ctx, tk_gen, NULL, NULL) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tk_callback) != 1)
		goto out;
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_callback);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_info_callback(ctx, info_callback);
	/* After the handshake, TLS 1.3 records are ours (net/tls13.h). */
	if (sps_tls13_capture(ctx) != 0)
		goto out;
	*out = ctx;
	ctx = NULL;
	rc = 0;
out:
	if (st && atomic_fetch_sub(&st->refs, 1) == 1)
		tk_state_free(st);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int sps_tls_ctx_server_new(const struct sps_tls_conf *conf, SSL_CTX **out)
{
	return server_ctx_new(conf, NULL, out);
}

int sps_tls_ctx_server_reload(SSL_CTX *old, const struct sps_tls_conf *conf, SSL_CTX **out)
{
	struct tk_state *st = old && tk_index >= 0 ? SSL_CTX_get_ex_data(old, tk_index) : NULL;
	if (!st)
		return EINVAL;
	return server_ctx_new(conf, st, out);
}

int sps_tls_ctx_client_new(const char *ca_file, SSL_CTX **out)
{
	return sps_tls_ctx_client_trust(ca_file, true, out);
}

int sps_tls_ctx_client_trust(const char *ca_file, bool system_store, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int rc;

	if (!out) {
		SSL_CTX_free(ctx);
		return EINVAL;
	}
	if (!ctx)
		return ENOMEM;
	if ((rc = ctx_common(ctx)) != 0)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	rc = EIO;
	if (system_store && SSL_CTX_set_default_verify_paths(ctx) != 1)
		goto out;
	rc = EINVAL;
	if (!system_store && !ca_file)
		goto out; /* nothing trusted: every connection would fail */
	if (ca_file) {
		if ((rc = file_readable(ca_file)) != 0)
			goto out;
		rc = EBADMSG;
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
			goto out;
	}
	*out = ctx;
	ctx = NULL;
	rc = 0;
out:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int sps_tls_client_set_host(SSL *ssl, const char *host)
{
	unsigned char a[16];
	if (!ssl || !host || !*host)
		return EINVAL;
	if (inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1) {
		/* RFC 6125 / RFC 5922 7.2: an address is matched against IP SANs */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1)
			return EINVAL;
		return 0;
	}
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set1_host(ssl, host) != 1 || SSL_set_tlsext_host_name(ssl, host) != 1) {
		ERR_clear_error();
		return EINVAL;
	}
	return 0;
}
