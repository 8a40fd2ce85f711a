/* Unit tests for src/pki (built-in CA) and src/net/tls_ctx (TLS contexts,
 * session tickets that survive a restart). Each test works in its own
 * mkdtemp directory under /tmp, removed afterwards. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/mbuf.h"
#include "net/tls_ctx.h"
#include "pki/pki.h"
#include "test.h"
#include "util.h"

#define DOMAIN "sip.example.test"

static const char *const test_ips[] = {"0.0.0.0", "192.0.2.10", "192.0.2.10"};
static const struct sps_pki_names test_names = {
	.domain = DOMAIN, .hostname = "pbx1", .ips = test_ips, .nips = 3};

static unsigned file_mode(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0xffffu;
}

/* X509_verify_cert of leaf against ca as the only trust anchor, TLS server purpose. */
static int verify_chain(X509 *ca, X509 *leaf)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	int ok = store && vctx && X509_STORE_add_cert(store, ca) == 1 &&
		 X509_STORE_CTX_init(vctx, store, leaf, NULL) == 1 &&
		 X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_SERVER) == 1 &&
		 X509_verify_cert(vctx) == 1;
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	return ok;
}

static int generate(const char *data)
{
	struct sps_pki_paths p;
	bool created = false;
	char group[32];

	ASSERT_INT_EQ(sps_pki_ensure(data, &test_names, &created), 0);
	ASSERT(created);
	ASSERT_INT_EQ(sps_pki_paths(data, &p), 0);

	X509 *ca = test_read_cert(p.ca_cert), *sip = test_read_cert(p.sip_cert);
	ASSERT(ca && sip);
	/* CA: CA:TRUE, keyCertSign, self-signed, SHA-256 ECDSA */
	ASSERT(X509_check_ca(ca) == 1);
	ASSERT(X509_get_extension_flags(ca) & EXFLAG_CA);
	ASSERT(X509_get_extension_flags(ca) & EXFLAG_SS);
	ASSERT_INT_EQ(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ASSERT_INT_EQ(X509_verify(ca, X509_get0_pubkey(ca)), 1);
	ASSERT_INT_EQ(X509_get_signature_nid(ca), NID_ecdsa_with_SHA256);
	ASSERT(X509_get0_subject_key_id(ca) != NULL);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(ca);
	ASSERT(ASN1_STRING_length(serial) == 16 && !(ASN1_STRING_get0_data(serial)[0] & 0x80));
	/* SIP certificate: verifies against the CA, for the right names */
	ASSERT(verify_chain(ca, sip));
	ASSERT_INT_EQ(X509_check_ca(sip), 0);
	ASSERT_INT_EQ(X509_check_host(sip, DOMAIN, 0, 0, NULL), 1);
	ASSERT_INT_EQ(X509_check_host(sip, "pbx1", 0, 0, NULL), 1);
	ASSERT_INT_EQ(X509_check_host(sip, "other.example.test", 0, 0, NULL), 0);
	ASSERT_INT_EQ(X509_check_ip_asc(sip, "127.0.0.1", 0), 1); /* from 0.0.0.0 */
	ASSERT_INT_EQ(X509_check_ip_asc(sip, "192.0.2.10", 0), 1);
	ASSERT_INT_EQ(X509_check_ip_asc(sip, "0.0.0.0", 0), 0);
	ASSERT_INT_EQ(X509_get_extended_key_usage(sip) & (XKU_SSL_SERVER | XKU_SSL_CLIENT),
		      XKU_SSL_SERVER | XKU_SSL_CLIENT);
	ASSERT_INT_EQ(X509_get_key_usage(sip), KU_DIGITAL_SIGNATURE);
	ASSERT(X509_get0_authority_key_id(sip) != NULL);
	ASSERT_INT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(sip),
					    X509_get0_subject_key_id(ca)),
		      0);
	ASSERT_INT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(sip)), EVP_PKEY_EC);
	ASSERT_INT_EQ(EVP_PKEY_get_group_name(X509_get0_pubkey(sip), group, sizeof(group), NULL),
		      1);
	ASSERT_STR_EQ(group, "prime256v1");
	/* validity: ~825 days */
	int days = 0, secs = 0;
	ASSERT(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(sip)) == 1);
	ASSERT(days >= 824 && days <= 825);
	/* file modes: keys 0600 from creation, dirs 0700, certs public */
	ASSERT_INT_EQ(file_mode(p.ca_key), 0600);
	ASSERT_INT_EQ(file_mode(p.sip_key), 0600);
	ASSERT_INT_EQ(file_mode(p.dir), 0700);
	ASSERT_INT_EQ(file_mode(data), 0700);
	ASSERT_INT_EQ(file_mode(p.ca_cert), 0644);

	/* a second start keeps everything */
	size_t l1, l2;
	char *before = sps_test_read_file(p.sip_cert, &l1);
	ASSERT_INT_EQ(sps_pki_ensure(data, &test_names, &created), 0);
	ASSERT(!created);
	char *after = sps_test_read_file(p.sip_cert, &l2);
	ASSERT(before && after && l1 == l2 && memcmp(before, after, l1) == 0);
	free(before);
	free(after);

	/* SIP key lost: a new SIP certificate from the same CA */
	ASSERT_INT_EQ(unlink(p.sip_key), 0);
	ASSERT_INT_EQ(sps_pki_ensure(data, &test_names, &created), 0);
	ASSERT(created);
	X509 *sip2 = test_read_cert(p.sip_cert), *ca2 = test_read_cert(p.ca_cert);
	ASSERT(sip2 && ca2);
	ASSERT_INT_EQ(X509_cmp(ca, ca2), 0);
	ASSERT(X509_cmp(sip, sip2) != 0);
	ASSERT(verify_chain(ca, sip2));
	ASSERT_INT_EQ(file_mode(p.sip_key), 0600);

	X509_free(sip2);
	X509_free(ca2);
	X509_free(ca);
	X509_free(sip);
	return 0;
}

int test_pki_generate(void)
{
	return test_with_datadir(generate);
}

static int refuse(const char *data)
{
	static const char *const bad_ip[] = {"192.0.2.300"};
	struct sps_pki_names n = {.domain = "*.example.test"};
	bool created = true;
	ASSERT_INT_EQ(sps_pki_ensure(data, &n, &created), EINVAL);
	ASSERT(created); /* untouched on error */
	n.domain = "sip.*.test";
	ASSERT_INT_EQ(sps_pki_ensure(data, &n, NULL), EINVAL);
	n.domain = "";
	ASSERT_INT_EQ(sps_pki_ensure(data, &n, NULL), EINVAL);
	n.domain = "a,DNS:evil.test"; /* no injection into the SAN config string */
	ASSERT_INT_EQ(sps_pki_ensure(data, &n, NULL), EINVAL);
	n.domain = DOMAIN;
	n.ips = bad_ip;
	n.nips = 1;
	ASSERT_INT_EQ(sps_pki_ensure(data, &n, NULL), EINVAL);
	ASSERT(access(data, F_OK) != 0); /* nothing written */

	/* CA certificate present but its key lost: no silent new CA */
	ASSERT_INT_EQ(sps_pki_ensure(data, &test_names, NULL), 0);
	struct sps_pki_paths p;
	ASSERT_INT_EQ(sps_pki_paths(data, &p), 0);
	ASSERT_INT_EQ(unlink(p.ca_key), 0);
	ASSERT_INT_EQ(sps_pki_ensure(data, &test_names, NULL), 0); /* nothing to issue */
	ASSERT_INT_EQ(unlink(p.sip_key), 0);
	ASSERT_INT_EQ(sps_pki_ensure(data, &test_names, NULL), ENOENT);
	return 0;
}

int test_pki_refuse(void)
{
	return test_with_datadir(refuse);
}

static int ip_domain(const char *data)
{
	static const char *const ips[] = {"::", "2001:db8::5"};
	struct sps_pki_names n = {.domain = "192.0.2.7", .hostname = "my_box", .ips = ips, .nips = 2};
	struct sps_pki_paths p;
	ASSERT_INT_EQ(sps_pki_ensure(data, &n, NULL), 0);
	ASSERT_INT_EQ(sps_pki_paths(data, &p), 0);
	X509 *sip = test_read_cert(p.sip_cert);
	ASSERT(sip);
	ASSERT_INT_EQ(X509_check_ip_asc(sip, "192.0.2.7", 0), 1);
	ASSERT_INT_EQ(X509_check_ip_asc(sip, "2001:db8::5", 0), 1);
	ASSERT_INT_EQ(X509_check_ip_asc(sip, "127.0.0.1", 0), 1);
	X509_free(sip);

	struct sps_mbuf mb;
	sps_mbuf_init(&mb, 0);
	ASSERT_INT_EQ(sps_pki_describe(p.sip_cert, 0, &mb), 0);
	ASSERT(strstr(mb.buf, "SANs:        IP:192.0.2.7, URI:sip:192.0.2.7, IP:2001:db8::5, "
			      "IP:127.0.0.1\n"));
	ASSERT(!strstr(mb.buf, "my_box")); /* not a DNS name: left out */
	sps_mbuf_free(&mb);
	return 0;
}

int test_pki_ip_domain(void)
{
	return test_with_datadir(ip_domain);
}

static int describe(const char *data)
{
	struct sps_pki_paths p;
	struct sps_mbuf mb;
	ASSERT_INT_EQ(sps_pki_ensure(data, &test_names, NULL), 0);
	ASSERT_INT_EQ(sps_pki_paths(data, &p), 0);
	sps_mbuf_init(&mb, 0);
	ASSERT_INT_EQ(sps_pki_describe(p.sip_cert, 2, &mb), 0);
	ASSERT(strstr(mb.buf, "  subject:     CN=" DOMAIN "\n"));
	ASSERT(strstr(mb.buf, "  SANs:        DNS:" DOMAIN ", URI:sip:" DOMAIN
			      ", DNS:pbx1, IP:192.0.2.10, IP:127.0.0.1\n"));
	ASSERT(strstr(mb.buf, "  issuer:      CN=sipsec CA " DOMAIN "\n"));
	ASSERT(strstr(mb.buf, "  key:         EC P-256\n"));
	ASSERT(strstr(mb.buf, "  days left:   82"));
	const char *fp = strstr(mb.buf, "  sha256:      ");
	ASSERT(fp && strlen(fp + 15) == 32 * 3); /* 32 hex pairs, ':' between, '\n' */
	sps_mbuf_reset(&mb);
	ASSERT_INT_EQ(sps_pki_describe(p.ca_cert, 0, &mb), 0);
	ASSERT(strstr(mb.buf, "(self-signed)"));
	ASSERT(strstr(mb.buf, "SANs:        (none)\n"));
	sps_mbuf_reset(&mb);
	ASSERT_INT_EQ(sps_pki_cert_pem(p.ca_cert, &mb), 0);
	ASSERT(strncmp(mb.buf, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	sps_mbuf_free(&mb);
	sps_mbuf_init(&mb, 0);
	ASSERT_INT_EQ(sps_pki_describe(p.ca_key, 0, &mb), EBADMSG);
	ASSERT_INT_EQ(sps_pki_describe("/nonexistent/ca.pem", 0, &mb), ENOENT);
	sps_mbuf_free(&mb);
	return 0;
}

int test_pki_describe(void)
{
	return test_with_datadir(describe);
}

/* ---- TLS over a socketpair ---- */

struct conn {
	int fds[2];
	SSL *c, *s;
};

/* Close both ends. SSL_shutdown first: OpenSSL marks the session of an SSL
 * freed without sending close_notify as not resumable. */
static void conn_free(struct conn *k)
{
	if (k->c && SSL_is_init_finished(k->c))
		SSL_shutdown(k->c);
	if (k->s && SSL_is_init_finished(k->s))
		SSL_shutdown(k->s);
	SSL_free(k->c);
	SSL_free(k->s);
	if (k->fds[0] >= 0)
		close(k->fds[0]);
	if (k->fds[1] >= 0)
		close(k->fds[1]);
	memset(k, 0, sizeof(*k));
	k->fds[0] = k->fds[1] = -1;
}

/* One step of a non-blocking handshake: 1 done, 0 again, -1 failed. */
static int hs_step(SSL *ssl, bool *done)
{
	if (*done)
		return 1;
	int r = SSL_do_handshake(ssl);
	if (r == 1) {
		*done = true;
		return 1;
	}
	int e = SSL_get_error(ssl, r);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* Connect a client (host verified, optional session to resume) to a server
 * over a non-blocking socketpair. Returns 0 when both handshakes complete and
 * the client read one byte the server wrote (which makes it process the
 * TLS 1.3 NewSessionTicket), -1 when the handshake failed. */
static int conn_run(struct conn *k, SSL_CTX *sctx, SSL_CTX *cctx, const char *host,
		    SSL_SESSION *sess)
{
	bool cd = false, sd = false;
	k->fds[0] = k->fds[1] = -1;
	k->c = k->s = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, k->fds) != 0)
		return -1;
	k->c = SSL_new(cctx);
	k->s = SSL_new(sctx);
	if (!k->c || !k->s || SSL_set_fd(k->c, k->fds[0]) != 1 || SSL_set_fd(k->s, k->fds[1]) != 1)
		return -1;
	SSL_set_connect_state(k->c);
	SSL_set_accept_state(k->s);
	if (host && sps_tls_client_set_host(k->c, host) != 0)
		return -1;
	if (sess && SSL_set_session(k->c, sess) != 1)
		return -1;
	for (int i = 0; i < 1000 && !(cd && sd); i++) {
		if (hs_step(k->c, &cd) < 0 || hs_step(k->s, &sd) < 0)
			return -1;
	}
	if (!(cd && sd) || SSL_write(k->s, "x", 1) != 1)
		return -1;
	char b;
	for (int i = 0; i < 1000; i++) {
		int r = SSL_read(k->c, &b, 1);
		if (r == 1)
			return b == 'x' ? 0 : -1;
		if (SSL_get_error(k->c, r) != SSL_ERROR_WANT_READ)
			return -1;
	}
	return -1;
}

/* Connect with sess: 1 when the session was resumed, 0 when it was a full
 * handshake, -1 when the connection failed. */
static int resumed(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *sess)
{
	struct conn k;
	int r = conn_run(&k, sctx, cctx, DOMAIN, sess) == 0 ? SSL_session_reused(k.c) : -1;
	conn_free(&k);
	return r;
}

static int server_ctx(const char *data, SSL_CTX **out)
{
	struct sps_pki_paths p;
	int rc = sps_pki_paths(data, &p);
	if (rc)
		return rc;
	struct sps_tls_conf conf = {.cert_file = p.sip_cert, .key_file = p.sip_key, .datadir = data};
	return sps_tls_ctx_server_new(&conf, out);
}

static int tls_resume(const char *data)
{
	struct sps_pki_paths p;
	SSL_CTX *sctx = NULL, *cctx = NULL, *c12 = NULL;
	SSL_SESSION *sess = NULL, *sess12 = NULL;
	struct conn k;
	bool rotated = true;

	ASSERT_INT_EQ(sps_pki_ensure(data, &test_names, NULL), 0);
	ASSERT_INT_EQ(sps_pki_paths(data, &p), 0);
	ASSERT_INT_EQ(server_ctx(data, &sctx), 0);
	ASSERT_INT_EQ(sps_tls_ctx_client_new(p.ca_cert, &cctx), 0);

	/* full handshake, TLS 1.3, certificate and host verified */
	ASSERT_INT_EQ(conn_run(&k, sctx, cctx, DOMAIN, NULL), 0);
	ASSERT_INT_EQ(SSL_version(k.c), TLS1_3_VERSION);
	ASSERT_INT_EQ(SSL_get_verify_result(k.c), X509_V_OK);
	ASSERT_STR_EQ(SSL_get0_peername(k.c), DOMAIN);
	ASSERT_INT_EQ(SSL_session_reused(k.c), 0);
	ASSERT((sess = SSL_get1_session(k.c)) != NULL);
	ASSERT(SSL_SESSION_is_resumable(sess));
	conn_free(&k);
	ASSERT_INT_EQ(file_mode(p.dir), 0700);
	char tk[1100];
	snprintf(tk, sizeof(tk), "%s/tls/ticket-keys", data);
	ASSERT_INT_EQ(file_mode(tk), 0600);

	/* restart: a new server context from the same data dir resumes */
	SSL_CTX_free(sctx);
	ASSERT_INT_EQ(server_ctx(data, &sctx), 0);
	ASSERT_INT_EQ(resumed(sctx, cctx, sess), 1);

	/* a TLS 1.2 client's ticket (RFC 5077) as well */
	ASSERT_INT_EQ(sps_tls_ctx_client_new(p.ca_cert, &c12), 0);
	ASSERT(SSL_CTX_set_max_proto_version(c12, TLS1_2_VERSION) == 1);
	ASSERT_INT_EQ(conn_run(&k, sctx, c12, DOMAIN, NULL), 0);
	ASSERT_INT_EQ(SSL_version(k.c), TLS1_2_VERSION);
	ASSERT((sess12 = SSL_get1_session(k.c)) != NULL);
	conn_free(&k);
	/* the lifetimes the server gave the tickets: 7 days for TLS 1.3 (RFC
	 * 8446 4.6.1's longest), one rotation period for TLS 1.2 (its ticket
	 * carries the master secret) */
	ASSERT_INT_EQ((long)SSL_SESSION_get_ticket_lifetime_hint(sess), 7 * 24 * 3600);
	ASSERT_INT_EQ((long)SSL_SESSION_get_ticket_lifetime_hint(sess12),
		      SPS_TLS_TICKET_ROTATE_DEFAULT);

	/* not due yet: no rotation */
	time_t now = time(NULL);
	const long period = SPS_TLS_TICKET_ROTATE_DEFAULT;
	ASSERT_INT_EQ(sps_tls_ctx_rotate_tickets(sctx, now, &rotated), 0);
	ASSERT(!rotated);
	/* rotated once: the old key still decrypts (and the ticket is renewed) */
	ASSERT_INT_EQ(sps_tls_ctx_rotate_tickets(sctx, now + period, &rotated), 0);
	ASSERT(rotated);
	struct stat st;
	ASSERT(stat(tk, &st) == 0 && st.st_size == 8 + 2 * 88);
	ASSERT_INT_EQ(resumed(sctx, cctx, sess), 1);
	ASSERT_INT_EQ(resumed(sctx, c12, sess12), 1);
	/* the rotated keys survive a restart too */
	SSL_CTX_free(sctx);
	ASSERT_INT_EQ(server_ctx(data, &sctx), 0);
	ASSERT_INT_EQ(resumed(sctx, cctx, sess), 1);
	/* rotated twice: a TLS 1.2 ticket (it carries the master secret) is
	 * refused, a TLS 1.3 one still resumes: phones hold theirs for days */
	ASSERT_INT_EQ(sps_tls_ctx_rotate_tickets(sctx, now + 2 * period, &rotated), 0);
	ASSERT(rotated);
	ASSERT_INT_EQ(resumed(sctx, c12, sess12), 0);
	ASSERT_INT_EQ(resumed(sctx, cctx, sess), 1);
	/* 7 days of rotations (RFC 8446 4.6.1's longest ticket life): it still
	 * resumes */
	for (int r = 3; r <= 14; r++) {
		ASSERT_INT_EQ(sps_tls_ctx_rotate_tickets(sctx, now + r * period, &rotated), 0);
		ASSERT(rotated);
	}
	/* the current and the previous key in ticket-keys (the format an older
	 * sipsec reads), the 13 older ones apart */
	char tk13[1110];
	snprintf(tk13, sizeof(tk13), "%s.tls13", tk);
	ASSERT(stat(tk, &st) == 0);
	ASSERT_INT_EQ((int)st.st_size, 8 + 2 * 88);
	ASSERT(stat(tk13, &st) == 0);
	ASSERT_INT_EQ((int)st.st_size, 8 + 13 * 88);
	ASSERT_INT_EQ(file_mode(tk13), 0600);
	ASSERT_INT_EQ(resumed(sctx, cctx, sess), 1);
	/* a restart reads the older keys back; to it the simulated ones are
	 * from the future (a clock that was wrong): a new current key, the old
	 * current one as previous, and of the others those more than a period
	 * ahead dropped - left in ticket-keys.tls13 the one from now + period
	 * and the first one */
	SSL_CTX_free(sctx);
	ASSERT_INT_EQ(server_ctx(data, &sctx), 0);
	ASSERT(stat(tk13, &st) == 0);
	ASSERT_INT_EQ((int)st.st_size, 8 + 2 * 88);
	ASSERT_INT_EQ(resumed(sctx, cctx, sess), 1);
	/* 15 periods on: the first key is older than a ticket may live, and
	 * dropped */
	ASSERT_INT_EQ(sps_tls_ctx_rotate_tickets(sctx, now + 15 * period, &rotated), 0);
	ASSERT(rotated);
	ASSERT_INT_EQ(resumed(sctx, cctx, sess), 0);

	SSL_SESSION_free(sess12);
	SSL_CTX_free(c12);
	SSL_SESSION_free(sess);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return 0;
}

int test_pki_tls_resume(void)
{
	return test_with_datadir(tls_resume);
}

static int tls_refuse(const char *data)
{
	struct sps_pki_paths p;
	SSL_CTX *sctx = NULL, *cctx = NULL, *old = NULL;
	struct conn k;

	ASSERT_INT_EQ(sps_pki_ensure(data, &test_names, NULL), 0);
	ASSERT_INT_EQ(sps_pki_paths(data, &p), 0);
	ASSERT_INT_EQ(server_ctx(data, &sctx), 0);

	/* a certificate for another name is refused by the client */
	ASSERT_INT_EQ(sps_tls_ctx_client_new(p.ca_cert, &cctx), 0);
	ASSERT_INT_EQ(conn_run(&k, sctx, cctx, "other.example.test", NULL), -1);
	ASSERT_INT_EQ(SSL_get_verify_result(k.c), X509_V_ERR_HOSTNAME_MISMATCH);
	conn_free(&k);
	/* the address of a wildcard listener is in the certificate */
	ASSERT_INT_EQ(conn_run(&k, sctx, cctx, "127.0.0.1", NULL), 0);
	conn_free(&k);

	/* a TLS 1.1 client gets no connection */
	ASSERT((old = SSL_CTX_new(TLS_client_method())) != NULL);
	SSL_CTX_set_security_level(old, 0);
	ASSERT(SSL_CTX_set_cipher_list(old, "DEFAULT:@SECLEVEL=0") == 1);
	ASSERT(SSL_CTX_set_min_proto_version(old, TLS1_1_VERSION) == 1);
	ASSERT(SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION) == 1);
	ASSERT_INT_EQ(conn_run(&k, sctx, old, NULL, NULL), -1);
	conn_free(&k);

	/* a key that does not match the certificate is rejected */
	SSL_CTX *bad = NULL;
	struct sps_tls_conf conf = {.cert_file = p.sip_cert, .key_file = p.ca_key};
	ASSERT_INT_EQ(sps_tls_ctx_server_new(&conf, &bad), EKEYREJECTED);
	conf.key_file = "/nonexistent/sip.key";
	ASSERT_INT_EQ(sps_tls_ctx_server_new(&conf, &bad), ENOENT);
	conf.key_file = p.ca_cert;
	ASSERT_INT_EQ(sps_tls_ctx_server_new(&conf, &bad), EBADMSG);
	ASSERT(bad == NULL);

	SSL_CTX_free(old);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return 0;
}

int test_pki_tls_refuse(void)
{
	return test_with_datadir(tls_refuse);
}

/* Certificate reload (issue 7): a context made by sps_tls_ctx_server_reload
 * serves the new certificate and resumes sessions of the old context, even
 * with in-memory ticket keys (they are shared, not re-read); the old context
 * keeps working for its connections and may be freed first. A client that
 * trusts only a bundle without our CA refuses the server. */
static int tls_reload(const char *data)
{
	struct sps_pki_paths p;
	SSL_CTX *sctx = NULL, *nctx = NULL, *cctx = NULL, *other = NULL;
	SSL_SESSION *sess = NULL;
	struct conn k;

	ASSERT_INT_EQ(sps_pki_ensure(data, &test_names, NULL), 0);
	ASSERT_INT_EQ(sps_pki_paths(data, &p), 0);
	struct sps_tls_conf conf = {.cert_file = p.sip_cert, .key_file = p.sip_key};
	ASSERT_INT_EQ(sps_tls_ctx_server_new(&conf, &sctx), 0);
	ASSERT_INT_EQ(sps_tls_ctx_client_trust(p.ca_cert, false, &cctx), 0);
	ASSERT_INT_EQ(conn_run(&k, sctx, cctx, DOMAIN, NULL), 0);
	ASSERT((sess = SSL_get1_session(k.c)) != NULL);
	X509 *before = SSL_get1_peer_certificate(k.c);
	conn_free(&k);

	ASSERT_INT_EQ(sps_pki_renew(data), 0);
	ASSERT_INT_EQ(sps_tls_ctx_server_reload(NULL, &conf, &nctx), EINVAL);
	ASSERT_INT_EQ(sps_tls_ctx_server_reload(sctx, &conf, &nctx), 0);
	/* a new handshake gets the renewed certificate */
	ASSERT_INT_EQ(conn_run(&k, nctx, cctx, DOMAIN, NULL), 0);
	X509 *after = SSL_get1_peer_certificate(k.c);
	ASSERT(before && after && X509_cmp(before, after) != 0);
	X509 *renewed = test_read_cert(p.sip_cert);
	ASSERT(renewed && X509_cmp(after, renewed) == 0);
	conn_free(&k);
	/* the old session resumes on the new context */
	ASSERT_INT_EQ(resumed(nctx, cctx, sess), 1);
	/* the old context still works; freeing it leaves the keys to the new one */
	ASSERT_INT_EQ(conn_run(&k, sctx, cctx, DOMAIN, NULL), 0);
	conn_free(&k);
	SSL_CTX_free(sctx);
	bool rotated = false;
	ASSERT_INT_EQ(sps_tls_ctx_rotate_tickets(nctx, time(NULL) + SPS_TLS_TICKET_ROTATE_DEFAULT,
						 &rotated),
		      0);
	ASSERT(rotated);
	ASSERT_INT_EQ(resumed(nctx, cctx, sess), 1);

	/* outgoing trust: a bundle without our CA, no system store: refused */
	ASSERT_INT_EQ(sps_tls_ctx_client_trust(NULL, false, &other), EINVAL);
	ASSERT_INT_EQ(sps_tls_ctx_client_trust(p.prev_cert, false, &other), 0);
	ASSERT_INT_EQ(conn_run(&k, nctx, other, DOMAIN, NULL), -1);
	ASSERT_INT_EQ(SSL_get_verify_result(k.c), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	conn_free(&k);

	X509_free(before);
	X509_free(after);
	X509_free(renewed);
	SSL_SESSION_free(sess);
	SSL_CTX_free(nctx);
	SSL_CTX_free(cctx);
	SSL_CTX_free(other);
	return 0;
}

int test_pki_tls_reload(void)
{
	return test_with_datadir(tls_reload);
}
