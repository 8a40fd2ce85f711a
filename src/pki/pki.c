/* pki: creation of the built-in CA and of the SIP server certificate.
 * Profile follows RFC 5280 (X.509 v3) and RFC 5922 (SIP domain certificates);
 * ECDSA P-256 keys and SHA-256 signatures (DESIGN.md: cheap handshakes). */
#define SPS_LOG_MODULE "pki"
#include "pki/pki_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/file.h"
#include "core/log.h"

#define CA_DAYS 3650
/* 825 days: the longest lifetime Apple platforms (and browsers) accept for a
 * TLS server certificate, so softphones on them do not refuse it. */
#define SIP_DAYS 825
/* notBefore is back-dated so phones whose clock is a little behind accept it. */
#define BACKDATE_SECS 3600
#define CN_MAX 64 /* RFC 5280 appendix A: ub-common-name */

static int path_join(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= size ? ENAMETOOLONG : 0;
}

int sps_pki_paths(const char *datadir, struct sps_pki_paths *out)
{
	struct sps_pki_paths p;
	int rc;
	if (!datadir || !*datadir || !out)
		return EINVAL;
	if ((rc = path_join(p.dir, sizeof(p.dir), datadir, "certs")) != 0 ||
	    (rc = path_join(p.ca_cert, sizeof(p.ca_cert), p.dir, "ca.pem")) != 0 ||
	    (rc = path_join(p.ca_key, sizeof(p.ca_key), p.dir, "ca.key")) != 0 ||
	    (rc = path_join(p.sip_cert, sizeof(p.sip_cert), p.dir, "sip.pem")) != 0 ||
	    (rc = path_join(p.sip_key, sizeof(p.sip_key), p.dir, "sip.key")) != 0 ||
	    (rc = path_join(p.prev_cert, sizeof(p.prev_cert), p.dir, "sip.prev.pem")) != 0 ||
	    (rc = path_join(p.prev_key, sizeof(p.prev_key), p.dir, "sip.prev.key")) != 0)
		return rc;
	*out = p;
	return 0;
}

/* ---- names ---- */

/* A DNS host name (RFC 1123 2.1): dot-separated labels of letters, digits and
 * inner hyphens, each 1..63 characters. No wildcard, no trailing dot. */
static bool is_hostname(const char *s)
{
	size_t label = 0, n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && label > 0))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

/* Parse an IPv4/IPv6 literal into its canonical text. Returns 0 or EINVAL;
 * *wildcard tells 0.0.0.0 / :: apart. */
static int ip_canon(const char *s, char *buf, size_t size, bool *v6, bool *wildcard)
{
	unsigned char a[16];
	static const unsigned char zero[16];
	if (inet_pton(AF_INET, s, a) == 1) {
		*v6 = false;
		*wildcard = memcmp(a, zero, 4) == 0;
		return inet_ntop(AF_INET, a, buf, (socklen_t)size) ? 0 : EINVAL;
	}
	if (inet_pton(AF_INET6, s, a) == 1) {
		*v6 = true;
		*wildcard = memcmp(a, zero, 16) == 0;
		return inet_ntop(AF_INET6, a, buf, (socklen_t)size) ? 0 : EINVAL;
	}
	return EINVAL;
}

/* Append ",TYPE:value," unless already present. san starts with ','. */
static void san_add(struct sps_mbuf *san, const char *type, const char *value)
{
	char needle[INET6_ADDRSTRLEN + 300];
	snprintf(needle, sizeof(needle), ",%s:%s,", type, value);
	if (san->buf && strstr(san->buf, needle))
		return;
	sps_mbuf_printf(san, "%s:%s,", type, value);
}

/* Build the subjectAltName value (X509V3 config syntax) for names into san,
 * after a leading ','.
 * Returns 0, EINVAL (see sps_pki_ensure) or the error of san. */
static int san_build(const struct sps_pki_names *nm, struct sps_mbuf *san)
{
	char ip[INET6_ADDRSTRLEN];
	bool v6, wild, any_wild = nm->nips == 0;

	sps_mbuf_puts(san, ",");
	if (ip_canon(nm->domain, ip, sizeof(ip), &v6, &wild) == 0) {
		/* A domain that is an address (small sites without DNS). */
		if (wild)
			return EINVAL;
		san_add(san, "IP", ip);
		char uri[INET6_ADDRSTRLEN + 8];
		snprintf(uri, sizeof(uri), v6 ? "sip:[%s]" : "sip:%s", ip);
		san_add(san, "URI", uri);
	} else {
		san_add(san, "DNS", nm->domain);
		/* RFC 5922 7.1: the SIP domain as a sip: URI in subjectAltName. */
		char uri[300];
		snprintf(uri, sizeof(uri), "sip:%s", nm->domain);
		san_add(san, "URI", uri);
	}
	/* A host name that is not a valid DNS name (e.g. with '_') is left out
	 * rather than failing: it comes from gethostname(), not from the admin. */
	if (nm->hostname && *nm->hostname && strcasecmp(nm->hostname, nm->domain) != 0 &&
	    is_hostname(nm->hostname) && ip_canon(nm->hostname, ip, sizeof(ip), &v6, &wild) != 0)
		san_add(san, "DNS", nm->hostname);
	for (size_t i = 0; i < nm->nips; i++) {
		if (!nm->ips[i] || ip_canon(nm->ips[i], ip, sizeof(ip), &v6, &wild) != 0)
			return EINVAL;
		if (wild)
			any_wild = true;
		else
			san_add(san, "IP", ip);
	}
	/* Listening on all addresses: local clients connect to 127.0.0.1. */
	if (any_wild)
		san_add(san, "IP", "127.0.0.1");
	if (sps_mbuf_err(san))
		return sps_mbuf_err(san);
	san->buf[--san->len] = '\0'; /* the trailing ',' */
	return 0;
}

/* Validate names: returns 0 or EINVAL. */
static int names_check(const struct sps_pki_names *nm)
{
	if (!nm || !nm->domain || (nm->nips && !nm->ips))
		return EINVAL;
	if (strchr(nm->domain, '*'))
		return EINVAL; /* Polycom phones reject wildcard certificates */
	if (strlen(nm->domain) > CN_MAX || !is_hostname(nm->domain)) {
		char ip[INET6_ADDRSTRLEN];
		bool v6, wild;
		if (strlen(nm->domain) > CN_MAX ||
		    ip_canon(nm->domain, ip, sizeof(ip), &v6, &wild) != 0)
			return EINVAL;
	}
	return 0;
}

/* ---- files ---- */

static int file_exists(const char *path, bool *yes)
{
	struct stat st;
	if (stat(path, &st) == 0) {
		*yes = true;
		return 0;
	}
	if (errno != ENOENT)
		return errno;
	*yes = false;
	return 0;
}

/* fsync the directory holding path, so a rename into it is durable. */
static void sync_parent(const char *path)
{
	char dir[SPS_PKI_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		*slash = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Write the content of bio to path atomically: a temp file created with
 * O_EXCL and the final mode (so a key is never readable by others, not even
 * for a moment), fsync, rename over path. Returns 0 or an errno. */
static int write_atomic(const char *path, mode_t mode, BIO *bio)
{
	char tmp[SPS_PKI_PATH_MAX + 32];
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	int rc = 0;

	if (len < 0)
		return EINVAL;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	(void)unlink(tmp); /* left over by a crash of a process with our pid */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return errno;
	if (fchmod(fd, mode) != 0) /* the umask may have taken bits of a public cert */
		rc = errno;
	for (long off = 0; rc == 0 && off < len;) {
		ssize_t w = write(fd, data + off, (size_t)(len - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = errno;
		else
			off += w;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = errno;
	if (close(fd) != 0 && rc == 0)
		rc = errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = errno;
	if (rc != 0)
		(void)unlink(tmp);
	else
		sync_parent(path);
	return rc;
}

static int write_key(const char *path, EVP_PKEY *key)
{
	/* secure-heap memory BIO: cleared when freed */
	BIO *b = BIO_new(BIO_s_secmem());
	int rc = ENOMEM;
	if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1)
		rc = write_atomic(path, 0600, b);
	BIO_free(b);
	return rc;
}

static int write_cert(const char *path, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	int rc = ENOMEM;
	if (b && PEM_write_bio_X509(b, x) == 1)
		rc = write_atomic(path, 0644, b);
	BIO_free(b);
	return rc;
}

/* ---- certificates ---- */

struct ext {
	int nid;
	const char *value; /* X509V3 config syntax */
};

/* Random positive serial of 16 bytes (RFC 5280 4.1.2.2: positive, at most
 * 20 octets; CA/B BR: at least 64 bits of randomness). */
static int set_serial(X509 *x)
{
	unsigned char r[16];
	int rc = ENOMEM;
	if (RAND_bytes(r, sizeof(r)) != 1)
		return EIO;
	r[0] &= 0x7f; /* positive */
	r[0] |= 0x40; /* and always 16 bytes long */
	BIGNUM *bn = BN_bin2bn(r, sizeof(r), NULL);
	ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	if (ai && X509_set_serialNumber(x, ai) == 1)
		rc = 0;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

/* Build and sign a certificate for key with subject CN=cn (or a copy of
 * subject when not NULL), valid for days, with exts and a copy of extra (may
 * be NULL). issuer NULL means self-signed (signed with key). *out is the
 * caller's on success. Returns 0 or ENOMEM/EINVAL/EIO. */
static int cert_make(EVP_PKEY *key, const char *cn, const X509_NAME *subject, X509 *issuer,
		     EVP_PKEY *issuer_key, long days, const struct ext *exts, size_t nexts,
		     X509_EXTENSION *extra, X509 **out)
{
	X509 *x = X509_new();
	X509_NAME *name = subject ? X509_NAME_dup(subject) : X509_NAME_new();
	X509V3_CTX v3;
	int rc = ENOMEM;

	if (!x || !name)
		goto out;
	if ((rc = set_serial(x)) != 0)
		goto out;
	rc = EINVAL;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECS) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ||
	    (!subject && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
						    (const unsigned char *)cn, -1, -1, 0) != 1) ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	for (size_t i = 0; i < nexts; i++) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid, exts[i].value);
		int ok = e && X509_add_ext(x, e, -1) == 1;
		X509_EXTENSION_free(e);
		if (!ok)
			goto out;
	}
	if (extra && X509_add_ext(x, extra, -1) != 1)
		goto out;
	if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
		goto out;
	*out = x;
	x = NULL;
	rc = 0;
out:
	X509_NAME_free(name);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

static EVP_PKEY *key_new(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* Create the CA and write certs/ca.key then certs/ca.pem. On success *cert
 * and *key are the caller's. */
static int ca_create(const struct sps_pki_paths *p, const char *domain, X509 **cert,
		     EVP_PKEY **key)
{
	static const struct ext exts[] = {
		/* RFC 5280 4.2.1.9 and 4.2.1.3: a CA, critical both */
		{NID_basic_constraints, "critical,CA:TRUE"},
		{NID_key_usage, "critical,keyCertSign,cRLSign"},
		{NID_subject_key_identifier, "hash"},
	};
	char cn[CN_MAX + 1];
	X509 *x = NULL;
	int rc;

	snprintf(cn, sizeof(cn), "sipsec CA %.*s", CN_MAX - 10, domain);
	EVP_PKEY *k = key_new();
	if (!k)
		return ENOMEM;
	rc = cert_make(k, cn, NULL, NULL, NULL, CA_DAYS, exts, sizeof(exts) / sizeof(exts[0]), NULL,
		       &x);
	if (rc == 0)
		rc = write_key(p->ca_key, k);
	if (rc == 0)
		rc = write_cert(p->ca_cert, x);
	if (rc != 0) {
		X509_free(x);
		EVP_PKEY_free(k);
		return rc;
	}
	SPS_INFO("created the CA \"%s\" in %s", cn, p->ca_cert);
	*cert = x;
	*key = k;
	return 0;
}

/* Issue the SIP server certificate for domain with subjectAltName san (from
 * san_build) from the CA, and write certs/sip.key then certs/sip.pem. */
static int sip_issue(const struct sps_pki_paths *p, const char *domain, const char *san,
		     X509 *ca, EVP_PKEY *ca_key)
{
	const struct ext exts[] = {
		{NID_basic_constraints, "critical,CA:FALSE"},
		{NID_key_usage, "critical,digitalSignature"},
		/* clientAuth too: the same certificate authenticates sipsec when it
		 * opens TLS connections to other servers (RFC 5923 connection reuse). */
		{NID_ext_key_usage, "serverAuth,clientAuth"},
		{NID_subject_key_identifier, "hash"},
		{NID_authority_key_identifier, "keyid:always"},
		{NID_subject_alt_name, san},
	};
	X509 *x = NULL;
	EVP_PKEY *k = key_new();
	int rc;

	if (!k)
		return ENOMEM;
	rc = cert_make(k, domain, NULL, ca, ca_key, SIP_DAYS, exts, sizeof(exts) / sizeof(exts[0]),
		       NULL, &x);
	if (rc == 0)
		rc = write_key(p->sip_key, k);
	if (rc == 0)
		rc = write_cert(p->sip_cert, x);
	if (rc == 0)
		SPS_INFO("issued the SIP certificate for %s (%s) in %s", domain, san, p->sip_cert);
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

/* Load the CA certificate and key; the key must match. */
static int ca_load(const struct sps_pki_paths *p, X509 **cert, EVP_PKEY **key)
{
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int rc = 0;
	FILE *f = fopen(p->ca_cert, "r");
	if (!f)
		return errno;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x) {
		rc = EBADMSG;
		goto out;
	}
	if (!(f = fopen(p->ca_key, "r"))) {
		rc = errno;
		goto out;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k || X509_check_private_key(x, k) != 1) {
		rc = EBADMSG;
		goto out;
	}
	*cert = x;
	*key = k;
	x = NULL;
	k = NULL;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return rc;
}

int sps_pki_ensure(const char *datadir, const struct sps_pki_names *names, bool *created)
{
	struct sps_pki_paths p;
	struct sps_mbuf san;
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	bool have_ca = false, have_sip = false, have_sip_key = false;
	int rc;

	if ((rc = names_check(names)) != 0 || (rc = sps_pki_paths(datadir, &p)) != 0)
		return rc;
	/* All names are checked before anything is written. */
	sps_mbuf_init(&san, 0);
	if ((rc = san_build(names, &san)) != 0)
		goto out;
	if ((rc = sps_file_mkdir_private(datadir)) != 0 || (rc = sps_file_mkdir_private(p.dir)) != 0)
		goto out;
	if ((rc = file_exists(p.ca_cert, &have_ca)) != 0 ||
	    (rc = file_exists(p.sip_cert, &have_sip)) != 0 ||
	    (rc = file_exists(p.sip_key, &have_sip_key)) != 0)
		goto out;
	if (have_sip && have_sip_key) {
		/* A SIP pair without a CA (imported into a fresh data dir) is
		 * kept: only the CA is made, for export and client certificates. */
		if (!have_ca && (rc = ca_create(&p, names->domain, &ca, &ca_key)) != 0)
			goto out;
		if (created)
			*created = !have_ca;
		goto out;
	}
	/* The certificate is written after its key: remove it first so that a
	 * crash from here on leaves "sip.pem missing", which the next start
	 * repairs, and never a certificate next to a key of another pair. */
	if (have_sip && unlink(p.sip_cert) != 0 && errno != ENOENT) {
		rc = errno;
		goto out;
	}
	rc = have_ca ? ca_load(&p, &ca, &ca_key) : ca_create(&p, names->domain, &ca, &ca_key);
	if (rc == 0)
		rc = sip_issue(&p, names->domain, san.buf + 1 /* the leading ',' */, ca, ca_key);
	if (rc == 0 && created)
		*created = true;
out:
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	sps_mbuf_free(&san);
	return rc;
}

/* ---- import, renewal, rollback ---- */

int sps__pki_file_read(const char *path, BIO **out)
{
	struct stat st;
	char buf[4096];
	size_t n, total = 0;
	int rc = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
		rc = EISDIR;
	else if (st.st_size > SPS_PKI_FILE_MAX)
		rc = EFBIG;
	BIO *b = rc ? NULL : BIO_new(BIO_s_secmem()); /* may hold a key: cleared when freed */
	if (!rc && !b)
		rc = ENOMEM;
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		total += n;
		if (total > SPS_PKI_FILE_MAX)
			rc = EFBIG;
		else if (BIO_write(b, buf, (int)n) != (int)n)
			rc = ENOMEM;
	}
	if (rc == 0 && ferror(f))
		rc = EIO;
	OPENSSL_cleanse(buf, sizeof(buf));
	fclose(f);
	if (rc) {
		BIO_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

/* Copy the SIP pair in use to certs/sip.prev.* (nothing when there is none). */
static int keep_previous(const struct sps_pki_paths *p)
{
	BIO *key = NULL, *cert = NULL;
	int rc = sps__pki_file_read(p->sip_key, &key);
	if (rc == 0)
		rc = sps__pki_file_read(p->sip_cert, &cert);
	if (rc == ENOENT) {
		rc = 0;
		goto out;
	}
	if (rc == 0)
		rc = write_atomic(p->prev_key, 0600, key);
	if (rc == 0)
		rc = write_atomic(p->prev_cert, 0600, cert);
out:
	BIO_free(key);
	BIO_free(cert);
	return rc;
}

/* Write key then certificates (certificate first, then its chain), 0600. */
static int write_pair(const struct sps_pki_paths *p, EVP_PKEY *key, STACK_OF(X509) *certs)
{
	BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
	int rc = ENOMEM;
	if (!kb || !cb || PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (PEM_write_bio_X509(cb, sk_X509_value(certs, i)) != 1)
			goto out;
	if ((rc = write_atomic(p->sip_key, 0600, kb)) == 0)
		rc = write_atomic(p->sip_cert, 0600, cb);
out:
	BIO_free(kb);
	BIO_free(cb);
	ERR_clear_error();
	return rc;
}

int sps_pki_install(const char *datadir, const struct sps_pki_bundle *b)
{
	struct sps_pki_paths p;
	int rc;
	if (!b || !b->key || sk_X509_num(b->certs) == 0)
		return EBADMSG;
	if ((rc = sps_pki_paths(datadir, &p)) != 0 || (rc = sps_file_mkdir_private(datadir)) != 0 ||
	    (rc = sps_file_mkdir_private(p.dir)) != 0)
		return rc;
	if ((rc = keep_previous(&p)) != 0 || (rc = write_pair(&p, b->key, b->certs)) != 0)
		return rc;
	sync_parent(p.sip_cert);
	return 0;
}

/* Is x issued and signed by ca? */
static bool issued_by(X509 *x, X509 *ca)
{
	EVP_PKEY *k = X509_get0_pubkey(ca);
	bool ok = X509_check_issued(ca, x) == X509_V_OK && k && X509_verify(x, k) == 1;
	ERR_clear_error();
	return ok;
}

static int first_cert(const char *path, X509 **out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return errno;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (!x)
		return EBADMSG;
	*out = x;
	return 0;
}

int sps_pki_renew(const char *datadir)
{
	static const struct ext exts[] = {
		{NID_basic_constraints, "critical,CA:FALSE"},
		{NID_key_usage, "critical,digitalSignature"},
		{NID_ext_key_usage, "serverAuth,clientAuth"},
		{NID_subject_key_identifier, "hash"},
		{NID_authority_key_identifier, "keyid:always"},
	};
	struct sps_pki_paths p;
	X509 *ca = NULL, *old = NULL, *x = NULL;
	EVP_PKEY *ca_key = NULL, *k = NULL;
	STACK_OF(X509) *certs = NULL;
	int rc;

	if ((rc = sps_pki_paths(datadir, &p)) != 0)
		return rc;
	if ((rc = first_cert(p.sip_cert, &old)) != 0 || (rc = ca_load(&p, &ca, &ca_key)) != 0)
		goto out;
	if (!issued_by(old, ca)) {
		rc = EPERM; /* an imported certificate: only its CA can renew it */
		goto out;
	}
	/* Same names: the subject and the subjectAltName extension as they were. */
	int at = X509_get_ext_by_NID(old, NID_subject_alt_name, -1);
	X509_EXTENSION *san = at >= 0 ? X509_get_ext(old, at) : NULL;
	rc = ENOMEM;
	if (!(k = key_new()) || !(certs = sk_X509_new_null()))
		goto out;
	if ((rc = cert_make(k, NULL, X509_get_subject_name(old), ca, ca_key, SIP_DAYS, exts,
			    sizeof(exts) / sizeof(exts[0]), san, &x)) != 0)
		goto out;
	rc = ENOMEM;
	if (!sk_X509_push(certs, x))
		goto out;
	x = NULL;
	if ((rc = keep_previous(&p)) != 0 || (rc = write_pair(&p, k, certs)) != 0)
		goto out;
	sync_parent(p.sip_cert);
out:
	sk_X509_pop_free(certs, X509_free);
	X509_free(x);
	X509_free(old);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return rc;
}

int sps_pki_rollback(const char *datadir)
{
	struct sps_pki_paths p;
	BIO *ck = NULL, *cc = NULL, *pk = NULL, *pc = NULL;
	int rc;

	if ((rc = sps_pki_paths(datadir, &p)) != 0)
		return rc;
	if ((rc = sps__pki_file_read(p.prev_key, &pk)) != 0 ||
	    (rc = sps__pki_file_read(p.prev_cert, &pc)) != 0 ||
	    (rc = sps__pki_file_read(p.sip_key, &ck)) != 0 ||
	    (rc = sps__pki_file_read(p.sip_cert, &cc)) != 0)
		goto out;
	/* the pair goes back (key first), then what was in use becomes previous */
	if ((rc = write_atomic(p.sip_key, 0600, pk)) != 0 ||
	    (rc = write_atomic(p.sip_cert, 0600, pc)) != 0 ||
	    (rc = write_atomic(p.prev_key, 0600, ck)) != 0 ||
	    (rc = write_atomic(p.prev_cert, 0600, cc)) != 0)
		goto out;
out:
	BIO_free(ck);
	BIO_free(cc);
	BIO_free(pk);
	BIO_free(pc);
	return rc;
}

int sps_pki_stamp_read(const struct sps_pki_paths *p, struct sps_pki_stamp *out)
{
	struct stat a, b;
	if (stat(p->sip_cert, &a) != 0 || stat(p->sip_key, &b) != 0)
		return errno;
	const struct stat *st[2] = {&a, &b};
	for (int i = 0; i < 2; i++) {
		out->v[4 * i] = (unsigned long long)st[i]->st_dev;
		out->v[4 * i + 1] = (unsigned long long)st[i]->st_ino;
		out->v[4 * i + 2] = (unsigned long long)st[i]->st_size;
		out->v[4 * i + 3] = (unsigned long long)st[i]->st_mtim.tv_sec * 1000000000ull +
				    (unsigned long long)st[i]->st_mtim.tv_nsec;
	}
	return 0;
}

bool sps_pki_stamp_eq(const struct sps_pki_stamp *a, const struct sps_pki_stamp *b)
{
	return memcmp(a->v, b->v, sizeof(a->v)) == 0;
}

static long days_until(const ASN1_TIME *t)
{
	int days = 0, secs = 0;
	if (ASN1_TIME_diff(&days, &secs, NULL, t) != 1)
		return 0;
	return days - (days == 0 && secs < 0);
}

int sps_pki_expiry_read(const char *datadir, struct sps_pki_expiry *out)
{
	struct sps_pki_paths p;
	X509 *sip = NULL, *ca = NULL;
	int rc;
	if ((rc = sps_pki_paths(datadir, &p)) != 0)
		return rc;
	if ((rc = first_cert(p.sip_cert, &sip)) == 0 && (rc = first_cert(p.ca_cert, &ca)) == 0) {
		out->sip_days_left = days_until(X509_get0_notAfter(sip));
		out->ca_days_left = days_until(X509_get0_notAfter(ca));
		out->sip_from_builtin_ca = issued_by(sip, ca);
	}
	X509_free(sip);
	X509_free(ca);
	ERR_clear_error();
	return rc;
}

int sps_pki_bundle_current(const struct sps_pki_paths *p, struct sps_pki_bundle **out)
{
	struct sps_pki_bundle *b = NULL;
	char why[SPS_PKI_WHY_MAX];
	int rc = sps_pki_bundle_add_file(&b, p->sip_cert, why, sizeof(why));
	if (rc == 0)
		rc = sps_pki_bundle_add_file(&b, p->sip_key, why, sizeof(why));
	if (rc == 0 && sps_pki_bundle_complete(b, why, sizeof(why)) != 0)
		rc = EBADMSG;
	if (rc != 0) {
		sps_pki_bundle_free(b);
		return rc == ENOENT ? ENOENT : rc == ENOMEM ? ENOMEM : EBADMSG;
	}
	*out = b;
	return 0;
}
