/* pki: certificates given by the administrator (`sipsec cert import`) and the
 * checks made before one replaces the certificate in use (issue 7). */
#include "pki/pki_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define DAY_SECS 86400

static void why_set(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void why_set(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;
	if (!why || !size)
		return;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* ---- the bundle ---- */

void sps_pki_bundle_free(struct sps_pki_bundle *b)
{
	if (!b)
		return;
	sk_X509_pop_free(b->certs, X509_free);
	EVP_PKEY_free(b->key);
	free(b);
}

static int bundle_new(struct sps_pki_bundle **out)
{
	struct sps_pki_bundle *b = calloc(1, sizeof(*b));
	if (!b || !(b->certs = sk_X509_new_null())) {
		free(b);
		return ENOMEM;
	}
	*out = b;
	return 0;
}

int sps_pki_bundle_count(const struct sps_pki_bundle *b)
{
	return b ? sk_X509_num(b->certs) : 0;
}

/* Read a whole PEM file into a BIO, with the reason in why on error. */
static int file_bio(const char *path, BIO **out, char *why, size_t whysize)
{
	int rc = sps__pki_file_read(path, out);
	if (rc == EFBIG)
		why_set(why, whysize,
			"%s is larger than a PEM certificate bundle can be (%d bytes); "
			"give the PEM file",
			path, SPS_PKI_FILE_MAX);
	else if (rc == EISDIR)
		why_set(why, whysize, "%s is not a regular file; give a PEM file", path);
	else if (rc)
		why_set(why, whysize, "cannot read %s: %s", path, strerror(rc));
	return rc == EISDIR ? EBADMSG : rc;
}

static int bundle_add_bio(struct sps_pki_bundle **bp, BIO *in, const char *path, char *why,
			  size_t whysize);

static bool is_cert_block(const char *name)
{
	return strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0 ||
	       strcmp(name, PEM_STRING_X509_TRUSTED) == 0;
}

static bool is_key_block(const char *name)
{
	return strcmp(name, PEM_STRING_PKCS8INF) == 0 || strcmp(name, PEM_STRING_RSA) == 0 ||
	       strcmp(name, PEM_STRING_ECPRIVATEKEY) == 0;
}

int sps_pki_bundle_add_file(struct sps_pki_bundle **bp, const char *path, char *why, size_t whysize)
{
	BIO *in = NULL;
	int rc;

	if (!bp || !path)
		return EINVAL;
	if ((rc = file_bio(path, &in, why, whysize)) != 0)
		return rc;
	rc = bundle_add_bio(bp, in, path, why, whysize);
	BIO_free(in);
	return rc;
}

int sps_pki_bundle_add_pem(struct sps_pki_bundle **bp, const void *pem, size_t len,
			   const char *name, char *why, size_t whysize)
{
	if (!bp || !pem || !name || len > SPS_PKI_FILE_MAX)
		return EINVAL;
	BIO *in = BIO_new_mem_buf(pem, (int)len);
	if (!in)
		return ENOMEM;
	int rc = bundle_add_bio(bp, in, name, why, whysize);
	BIO_free(in);
	return rc;
}

/* Read every PEM block of in (named path in messages) into *bp. */
static int bundle_add_bio(struct sps_pki_bundle **bp, BIO *in, const char *path, char *why,
			  size_t whysize)
{
	int rc = 0, blocks = 0;
	if (!*bp && (rc = bundle_new(bp)) != 0)
		return rc;
	struct sps_pki_bundle *b = *bp;
	ERR_clear_error();
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long len = 0;
		if (PEM_read_bio(in, &name, &header, &data, &len) != 1) {
			/* the end of the input, or a damaged block */
			unsigned long e = ERR_peek_last_error();
			if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM &&
				   ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
				rc = EBADMSG;
				why_set(why, whysize,
					"%s: PEM block %d is damaged (%s); copy the "
					"file again from what your CA sent",
					path, blocks + 1,
					ERR_reason_error_string(e) ? ERR_reason_error_string(e)
								   : "bad PEM");
			}
			break;
		}
		const unsigned char *p = data;
		blocks++;
		if (is_cert_block(name)) {
			X509 *x = strcmp(name, PEM_STRING_X509_TRUSTED) == 0
				      ? d2i_X509_AUX(NULL, &p, len)
				      : d2i_X509(NULL, &p, len);
			if (!x) {
				rc = EBADMSG;
				why_set(why, whysize,
					"%s: certificate %d does not parse (%s); give "
					"it in PEM as written by openssl x509",
					path, sk_X509_num(b->certs) + 1,
					ERR_reason_error_string(ERR_peek_last_error())
					    ? ERR_reason_error_string(ERR_peek_last_error())
					    : "bad DER");
			} else if (!sk_X509_push(b->certs, x)) {
				X509_free(x);
				rc = ENOMEM;
			}
		} else if (strcmp(name, PEM_STRING_PKCS8) == 0 || strstr(header, "ENCRYPTED")) {
			rc = ENOTSUP;
			why_set(why, whysize,
				"the private key in %s is encrypted; decrypt it first "
				"('openssl pkey -in %s -out key.pem') and import that file",
				path, base_name(path));
		} else if (is_key_block(name)) {
			EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, len);
			if (!k) {
				rc = EBADMSG;
				why_set(why, whysize,
					"%s: the private key does not parse; give it "
					"in PEM (openssl pkey -in %s)",
					path, base_name(path));
			} else if (b->key) {
				EVP_PKEY_free(k);
				rc = EEXIST;
				why_set(why, whysize,
					"%s holds a second private key; give exactly "
					"one key, the one of the server certificate",
					path);
			} else {
				b->key = k;
			}
		} /* else EC PARAMETERS and the like: not ours to use */
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(data, (size_t)len);
		if (rc)
			break;
	}
	if (rc == 0 && blocks == 0) {
		rc = EBADMSG;
		why_set(why, whysize,
			"%s holds no PEM certificate or key; convert a DER file "
			"with 'openssl x509 -inform der -in %s -out cert.pem'",
			path, base_name(path));
	}
	ERR_clear_error();
	return rc;
}

int sps_pki_bundle_complete(const struct sps_pki_bundle *b, char *why, size_t whysize)
{
	if (!b || sk_X509_num(b->certs) == 0) {
		why_set(why, whysize, "no certificate given; pass --cert FILE (PEM)");
		return EINVAL;
	}
	if (!b->key) {
		why_set(why, whysize, "no private key given; pass --key FILE (PEM, unencrypted)");
		return EINVAL;
	}
	return 0;
}

/* ---- the checks ---- */

static const char *const check_label[SPS_PKI_NCHECKS] = {
    [SPS_PKI_CHECK_KEY] = "key_match",       [SPS_PKI_CHECK_CHAIN] = "chain",
    [SPS_PKI_CHECK_VALIDITY] = "validity",   [SPS_PKI_CHECK_WILDCARD] = "wildcard",
    [SPS_PKI_CHECK_DOMAIN] = "domain",       [SPS_PKI_CHECK_KEY_STRENGTH] = "key_strength",
    [SPS_PKI_CHECK_SIGNATURE] = "signature", [SPS_PKI_CHECK_EKU] = "server_auth",
    [SPS_PKI_CHECK_EXPIRY] = "expiry",
};

const char *sps_pki_check_name(enum sps_pki_check_id id)
{
	return (unsigned)id < SPS_PKI_NCHECKS ? check_label[id] : "?";
}

int sps_pki_report_failed(const struct sps_pki_report *rep)
{
	for (int i = 0; i < SPS_PKI_NCHECKS; i++)
		if (rep->r[i].verdict == SPS_PKI_FAIL)
			return i;
	return -1;
}

static void verdict(struct sps_pki_report *rep, enum sps_pki_check_id id, enum sps_pki_verdict v,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void verdict(struct sps_pki_report *rep, enum sps_pki_check_id id, enum sps_pki_verdict v,
		    const char *fmt, ...)
{
	va_list ap;
	rep->r[id].verdict = v;
	va_start(ap, fmt);
	vsnprintf(rep->r[id].text, sizeof(rep->r[id].text), fmt, ap);
	va_end(ap);
}

/* The subject of x, RFC 4514 style, for messages. */
static const char *subj(X509 *x, char *buf, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	snprintf(buf, size, "?");
	if (b &&
	    X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(b, &p)) >= 0)
		snprintf(buf, size, "%.*s", (int)n, p);
	BIO_free(b);
	return buf;
}

/* The issuer name of x, RFC 4514 style. */
static const char *issuer_str(X509 *x, char *buf, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	snprintf(buf, size, "?");
	if (b &&
	    X509_NAME_print_ex(b, X509_get_issuer_name(x), 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(b, &p)) >= 0)
		snprintf(buf, size, "%.*s", (int)n, p);
	BIO_free(b);
	return buf;
}

static const char *time_str(const ASN1_TIME *t, char *buf, size_t size)
{
	struct tm tm;
	if (ASN1_TIME_to_tm(t, &tm) != 1 || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, size, "?");
	return buf;
}

/* x is signed by the key of issuer, and issuer's subject is x's issuer. */
static bool signed_by(X509 *x, X509 *issuer)
{
	EVP_PKEY *k = X509_get0_pubkey(issuer);
	bool ok = X509_check_issued(issuer, x) == X509_V_OK && k && X509_verify(x, k) == 1;
	ERR_clear_error();
	return ok;
}

static bool self_signed(X509 *x)
{
	return signed_by(x, x);
}

/* Look for an issuer of x in a trust store made of the built-in CA and (when
 * asked) the system's store. Returns true when one signed it. */
static bool trusted_issuer(X509 *x, const struct sps_pki_check_opts *o, char *anchor, size_t asize)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *issuer = NULL;
	bool ok = false;

	if (!store || !ctx)
		goto out;
	if (o->system_store)
		(void)X509_STORE_set_default_paths(store);
	if (o->ca_file && *o->ca_file)
		(void)X509_STORE_load_file(store, o->ca_file);
	ERR_clear_error();
	if (X509_STORE_CTX_init(ctx, store, x, NULL) != 1)
		goto out;
	if (X509_STORE_CTX_get1_issuer(&issuer, ctx, x) == 1 && issuer) {
		EVP_PKEY *k = X509_get0_pubkey(issuer);
		ok = k && X509_verify(x, k) == 1;
		if (ok)
			subj(issuer, anchor, asize);
	}
out:
	X509_free(issuer);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}

static void check_key(const struct sps_pki_bundle *b, struct sps_pki_report *rep)
{
	X509 *leaf = sk_X509_value(b->certs, 0);
	if (X509_check_private_key(leaf, b->key) == 1)
		verdict(rep, SPS_PKI_CHECK_KEY, SPS_PKI_PASS,
			"the private key matches the certificate");
	else
		verdict(
		    rep, SPS_PKI_CHECK_KEY, SPS_PKI_FAIL,
		    "the private key does not match the certificate (compare 'openssl x509 "
		    "-noout -pubkey' with 'openssl pkey -pubout'); give the key the certificate "
		    "was issued for");
	ERR_clear_error();
}

/* RFC 5246 7.4.2 / RFC 8446 4.4.2: each certificate certifies the one before
 * it; the chain ends at a self-signed root or below a trust anchor. */
static void check_chain(const struct sps_pki_bundle *b, const struct sps_pki_check_opts *o,
			struct sps_pki_report *rep)
{
	int n = sk_X509_num(b->certs);
	char s1[256], s2[256], anchor[256];

	for (int i = 0; i + 1 < n; i++) {
		X509 *x = sk_X509_value(b->certs, i), *next = sk_X509_value(b->certs, i + 1);
		if (signed_by(x, next)) {
			if (X509_check_ca(next) < 1) {
				verdict(rep, SPS_PKI_CHECK_CHAIN, SPS_PKI_FAIL,
					"chain certificate %d (%s) is not a CA certificate "
					"(basicConstraints); give the intermediate CA certificates "
					"of your CA",
					i + 2, subj(next, s1, sizeof(s1)));
				return;
			}
			continue;
		}
		/* Which one is out of place: is x's issuer elsewhere in the chain? */
		for (int j = 0; j < n; j++) {
			X509 *y = sk_X509_value(b->certs, j);
			if (j != i && j != i + 1 && signed_by(x, y)) {
				verdict(
				    rep, SPS_PKI_CHECK_CHAIN, SPS_PKI_FAIL,
				    "the chain is out of order: certificate %d (%s) is followed "
				    "by %s, not by its issuer (certificate %d); list the server "
				    "certificate first, then each issuer after what it signed",
				    i + 1, subj(x, s1, sizeof(s1)), subj(next, s2, sizeof(s2)),
				    j + 1);
				return;
			}
		}
		char iss[256];
		verdict(
		    rep, SPS_PKI_CHECK_CHAIN, SPS_PKI_FAIL,
		    "the chain is incomplete: certificate %d (%s) is followed by %s, which did "
		    "not sign it; its issuer %s is missing - give the whole chain your CA sent, "
		    "server certificate first",
		    i + 1, subj(x, s1, sizeof(s1)), subj(next, s2, sizeof(s2)),
		    issuer_str(x, iss, sizeof(iss)));
		return;
	}
	X509 *last = sk_X509_value(b->certs, n - 1);
	if (self_signed(last)) {
		verdict(rep, SPS_PKI_CHECK_CHAIN, SPS_PKI_PASS,
			n == 1 ? "self-signed certificate"
			       : "complete: %d certificates up to the "
				 "root %s",
			n, subj(last, s1, sizeof(s1)));
		return;
	}
	if (trusted_issuer(last, o, anchor, sizeof(anchor))) {
		verdict(rep, SPS_PKI_CHECK_CHAIN, SPS_PKI_PASS,
			"complete: %d certificate%s up to the trusted CA %s", n, n == 1 ? "" : "s",
			anchor);
		return;
	}
	char iss[256];
	issuer_str(last, iss, sizeof(iss));
	verdict(rep, SPS_PKI_CHECK_CHAIN, SPS_PKI_FAIL,
		"the chain is incomplete: the issuer of %s (%s) is neither in the chain nor a "
		"trusted CA; add the intermediate certificates with --chain FILE",
		subj(last, s1, sizeof(s1)), iss);
}

static void check_validity(const struct sps_pki_bundle *b, time_t now, struct sps_pki_report *rep)
{
	char s[256], t[40];
	for (int i = 0; i < sk_X509_num(b->certs); i++) {
		X509 *x = sk_X509_value(b->certs, i);
		const char *what = i == 0 ? "the certificate" : "chain certificate";
		if (X509_cmp_time(X509_get0_notAfter(x), &now) <= 0) {
			verdict(rep, SPS_PKI_CHECK_VALIDITY, SPS_PKI_FAIL,
				"%s %s expired on %s; get a new one from your CA", what,
				subj(x, s, sizeof(s)),
				time_str(X509_get0_notAfter(x), t, sizeof(t)));
			return;
		}
		if (X509_cmp_time(X509_get0_notBefore(x), &now) >= 0) {
			verdict(
			    rep, SPS_PKI_CHECK_VALIDITY, SPS_PKI_FAIL,
			    "%s %s is not valid before %s; check this machine's clock, or import "
			    "it once it is valid",
			    what, subj(x, s, sizeof(s)),
			    time_str(X509_get0_notBefore(x), t, sizeof(t)));
			return;
		}
	}
	verdict(rep, SPS_PKI_CHECK_VALIDITY, SPS_PKI_PASS, "every certificate is valid now");
}

/* The DNS names of x's subjectAltName, ", "-separated, into buf. */
static void dns_sans(X509 *x, char *buf, size_t size, bool *wild, char *wname, size_t wsize)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t off = 0;
	buf[0] = '\0';
	*wild = false;
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const char *t = g->type == GEN_DNS ? "DNS" : g->type == GEN_URI ? "URI" : NULL;
		char ip[INET6_ADDRSTRLEN];
		int n;
		if (t) {
			const char *v = (const char *)ASN1_STRING_get0_data(g->d.ia5);
			int vl = ASN1_STRING_length(g->d.ia5);
			if (g->type == GEN_DNS && memchr(v, '*', (size_t)vl) && !*wild) {
				*wild = true;
				snprintf(wname, wsize, "%.*s", vl, v);
			}
			n = snprintf(buf + off, size - off, "%s%s:%.*s", off ? ", " : "", t, vl, v);
		} else if (g->type == GEN_IPADD &&
			   (ASN1_STRING_length(g->d.iPAddress) == 4 ||
			    ASN1_STRING_length(g->d.iPAddress) == 16) &&
			   inet_ntop(ASN1_STRING_length(g->d.iPAddress) == 16 ? AF_INET6 : AF_INET,
				     ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof(ip))) {
			n = snprintf(buf + off, size - off, "%sIP:%s", off ? ", " : "", ip);
		} else {
			continue;
		}
		if (n < 0 || (size_t)n >= size - off)
			break;
		off += (size_t)n;
	}
	GENERAL_NAMES_free(gens);
}

static bool is_ip(const char *s)
{
	unsigned char a[16];
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* A sip: URI subjectAltName naming domain (RFC 5922 7.1). */
static bool uri_san_matches(X509 *x, const char *domain)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool ok = false;
	for (int i = 0; gens && !ok && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_URI)
			continue;
		const char *v = (const char *)ASN1_STRING_get0_data(g->d.ia5);
		size_t vl = (size_t)ASN1_STRING_length(g->d.ia5), dl = strlen(domain);
		ok = vl == dl + 4 && strncasecmp(v, "sip:", 4) == 0 &&
		     strncasecmp(v + 4, domain, dl) == 0;
	}
	GENERAL_NAMES_free(gens);
	return ok;
}

static void check_names(const struct sps_pki_bundle *b, const struct sps_pki_check_opts *o,
			struct sps_pki_report *rep)
{
	X509 *leaf = sk_X509_value(b->certs, 0);
	char sans[1024], wname[256] = "";
	bool wild;
	dns_sans(leaf, sans, sizeof(sans), &wild, wname, sizeof(wname));
	if (!wild) {
		/* RFC 6125 6.4.4: the CN is only looked at without DNS SANs */
		int cn =
		    X509_NAME_get_index_by_NID(X509_get_subject_name(leaf), NID_commonName, -1);
		const ASN1_STRING *d = cn >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(
						     X509_get_subject_name(leaf), cn))
					       : NULL;
		if (d && !sans[0] &&
		    memchr(ASN1_STRING_get0_data(d), '*', (size_t)ASN1_STRING_length(d))) {
			wild = true;
			snprintf(wname, sizeof(wname), "%.*s", ASN1_STRING_length(d),
				 (const char *)ASN1_STRING_get0_data(d));
		}
	}
	if (!wild)
		verdict(rep, SPS_PKI_CHECK_WILDCARD, SPS_PKI_PASS, "no wildcard name");
	else if (o->allow_wildcard)
		verdict(rep, SPS_PKI_CHECK_WILDCARD, SPS_PKI_WARN,
			"a wildcard certificate (%s), accepted by --allow-wildcard; Polycom phones "
			"will reject it",
			wname);
	else
		verdict(
		    rep, SPS_PKI_CHECK_WILDCARD, SPS_PKI_FAIL,
		    "the certificate is a wildcard certificate (%s); Polycom phones reject "
		    "wildcard certificates - import one issued for %s, or pass --allow-wildcard "
		    "if no Polycom phone uses this server",
		    wname, o->domain ? o->domain : "the domain");

	const char *dom = o->domain;
	bool ok;
	if (!dom || !*dom)
		ok = false;
	else if (is_ip(dom))
		ok = X509_check_ip_asc(leaf, dom, 0) == 1;
	else
		/* CN alone is not enough: the SIP domain must be a subjectAltName
		 * (RFC 5922 7.1: a sip: URI or, without one, a DNS name) */
		ok = uri_san_matches(leaf, dom) ||
		     X509_check_host(leaf, dom, 0,
				     X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
					 (o->allow_wildcard ? X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
							    : X509_CHECK_FLAG_NO_WILDCARDS),
				     NULL) == 1;
	ERR_clear_error();
	if (ok)
		verdict(rep, SPS_PKI_CHECK_DOMAIN, SPS_PKI_PASS,
			"the SIP domain %s is a subjectAltName", dom);
	else
		verdict(
		    rep, SPS_PKI_CHECK_DOMAIN, SPS_PKI_FAIL,
		    "the SIP domain %s is not among the certificate's subjectAltNames (%s); the "
		    "CN alone is not enough - get one with %s:%s in subjectAltName, or give the "
		    "right --domain",
		    dom && *dom ? dom : "(unknown)", sans[0] ? sans : "none",
		    dom && is_ip(dom) ? "IP" : "DNS", dom && *dom ? dom : "DOMAIN");
}

/* Keys at least as strong as RSA 2048 / P-256 (NIST SP 800-57: 112 bits). */
static bool key_weak(EVP_PKEY *k, char *desc, size_t size)
{
	int id = EVP_PKEY_get_base_id(k), bits = EVP_PKEY_get_bits(k);
	switch (id) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		snprintf(desc, size, "an RSA %d-bit", bits);
		return bits < 2048;
	case EVP_PKEY_EC:
		snprintf(desc, size, "an EC %d-bit", bits);
		return bits < 256;
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
		snprintf(desc, size, "an %s", OBJ_nid2sn(id));
		return false;
	default:
		snprintf(desc, size, "a %s %d-bit", OBJ_nid2sn(id), bits);
		return true; /* DSA and the like: phones do not take them */
	}
}

static void check_keys(const struct sps_pki_bundle *b, struct sps_pki_report *rep)
{
	char desc[64], s[256];
	for (int i = 0; i < sk_X509_num(b->certs); i++) {
		X509 *x = sk_X509_value(b->certs, i);
		EVP_PKEY *k = X509_get0_pubkey(x);
		if (!k || key_weak(k, desc, sizeof(desc))) {
			verdict(
			    rep, SPS_PKI_CHECK_KEY_STRENGTH, SPS_PKI_FAIL,
			    "%s %s has %s key, weaker than RSA 2048 or EC P-256; have it issued "
			    "with a stronger key (openssl req -newkey ec -pkeyopt "
			    "ec_paramgen_curve:P-256)",
			    i ? "chain certificate" : "the certificate", subj(x, s, sizeof(s)),
			    k ? desc : "an unreadable");
			ERR_clear_error();
			return;
		}
	}
	verdict(rep, SPS_PKI_CHECK_KEY_STRENGTH, SPS_PKI_PASS, "keys at least RSA 2048 / EC P-256");
	ERR_clear_error();
}

/* SHA-1 and MD5 signatures are forgeable (RFC 6151, SHAttered); a root's own
 * signature is not checked by anyone and does not count. */
static void check_signatures(const struct sps_pki_bundle *b, struct sps_pki_report *rep)
{
	char s[256];
	for (int i = 0; i < sk_X509_num(b->certs); i++) {
		X509 *x = sk_X509_value(b->certs, i);
		int md = NID_undef, pk = NID_undef, bits = 0;
		uint32_t flags = 0;
		if (i > 0 && self_signed(x))
			continue;
		if (X509_get_signature_info(x, &md, &pk, &bits, &flags) != 1)
			md = NID_undef;
		ERR_clear_error();
		if (md == NID_sha1 || md == NID_md5 || md == NID_md5_sha1 || md == NID_md4 ||
		    md == NID_md2) {
			verdict(rep, SPS_PKI_CHECK_SIGNATURE, SPS_PKI_FAIL,
				"%s %s is signed with %s (%s); phones reject SHA-1 and MD5 "
				"signatures - have it re-issued with SHA-256",
				i ? "chain certificate" : "the certificate", subj(x, s, sizeof(s)),
				OBJ_nid2sn(md), OBJ_nid2ln(X509_get_signature_nid(x)));
			return;
		}
	}
	verdict(rep, SPS_PKI_CHECK_SIGNATURE, SPS_PKI_PASS, "no SHA-1 or MD5 signature");
}

/* RFC 5280 4.2.1.12: with extendedKeyUsage present, the certificate is only
 * for the purposes it lists. */
static void check_eku(const struct sps_pki_bundle *b, struct sps_pki_report *rep)
{
	X509 *leaf = sk_X509_value(b->certs, 0);
	uint32_t flags = X509_get_extension_flags(leaf);
	if (!(flags & EXFLAG_XKUSAGE))
		verdict(rep, SPS_PKI_CHECK_EKU, SPS_PKI_PASS, "no extendedKeyUsage (any purpose)");
	else if (X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER)
		verdict(rep, SPS_PKI_CHECK_EKU, SPS_PKI_PASS, "extendedKeyUsage has serverAuth");
	else
		verdict(
		    rep, SPS_PKI_CHECK_EKU, SPS_PKI_FAIL,
		    "the certificate's extendedKeyUsage lacks serverAuth, so TLS clients refuse "
		    "it as a server certificate; have it issued with serverAuth "
		    "(TLS Web Server Authentication)");
	ERR_clear_error();
}

static void check_expiry(const struct sps_pki_bundle *b, time_t now, struct sps_pki_report *rep)
{
	char t[40];
	int days = 0, secs = 0, min_days = -1, which = 0;
	ASN1_TIME *t0 = ASN1_TIME_set(NULL, now);
	for (int i = 0; t0 && i < sk_X509_num(b->certs); i++) {
		if (ASN1_TIME_diff(&days, &secs, t0,
				   X509_get0_notAfter(sk_X509_value(b->certs, i))) != 1)
			continue;
		if (days < 0)
			days = 0;
		if (min_days < 0 || days < min_days) {
			min_days = days;
			which = i;
		}
	}
	ASN1_TIME_free(t0);
	ERR_clear_error();
	X509 *x = sk_X509_value(b->certs, which);
	time_str(X509_get0_notAfter(x), t, sizeof(t));
	if (min_days >= 0 && min_days < SPS_PKI_RENEW_DAYS)
		verdict(rep, SPS_PKI_CHECK_EXPIRY, SPS_PKI_WARN,
			"%s expires in %d day%s (%s); renew it soon",
			which ? "a chain certificate" : "the certificate", min_days,
			min_days == 1 ? "" : "s", t);
	else
		verdict(rep, SPS_PKI_CHECK_EXPIRY, SPS_PKI_PASS, "expires %s", t);
}

int sps_pki_check(const struct sps_pki_bundle *b, const struct sps_pki_check_opts *o,
		  struct sps_pki_report *rep)
{
	if (!b || !o || !rep || sk_X509_num(b->certs) == 0 || !b->key)
		return EINVAL;
	time_t now = o->now ? o->now : time(NULL);
	memset(rep, 0, sizeof(*rep));
	check_key(b, rep);
	check_chain(b, o, rep);
	check_validity(b, now, rep);
	check_names(b, o, rep);
	check_keys(b, rep);
	check_signatures(b, rep);
	check_eku(b, rep);
	check_expiry(b, now, rep);
	return 0;
}
