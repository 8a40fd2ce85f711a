/* Unit tests for the certificate import checks, renewal, rollback and the
 * reload stamp (src/pki, issue 7). Certificates are made here with the
 * OpenSSL API, signed by the built-in CA of a temp data dir. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki/pki_int.h"
#include "test.h"
#include "util.h"

#define DOMAIN "sip.example.test"

static const struct sps_pki_names names = {.domain = DOMAIN, .hostname = "pbx1"};

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	return k;
}

static unsigned file_mode(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0xffffu;
}

/* A leaf for key signed by ca/ca_key with md, valid [now-1h, now+days],
 * with subjectAltName san and extendedKeyUsage eku (NULL: none). */
static X509 *mk_leaf(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const EVP_MD *md, long days,
		     const char *san, const char *eku)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	if (!x)
		return NULL;
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffffff) + 2);
	X509_set_version(x, X509_VERSION_3);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)DOMAIN, -1, -1,
				   0);
	X509_set_issuer_name(x, X509_get_subject_name(ca));
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
	const char *vals[2] = {san, eku};
	const int nids[2] = {NID_subject_alt_name, NID_ext_key_usage};
	for (int i = 0; i < 2; i++) {
		if (!vals[i])
			continue;
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nids[i], vals[i]);
		if (!e || X509_add_ext(x, e, -1) != 1) {
			X509_EXTENSION_free(e);
			X509_free(x);
			return NULL;
		}
		X509_EXTENSION_free(e);
	}
	if (X509_sign(x, ca_key, md) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* A bundle of x (taken) and key (referenced). */
static struct sps_pki_bundle *bundle_of(X509 *x, EVP_PKEY *key)
{
	struct sps_pki_bundle *b = calloc(1, sizeof(*b));
	if (!b || !(b->certs = sk_X509_new_null()) || !sk_X509_push(b->certs, x)) {
		free(b);
		return NULL;
	}
	EVP_PKEY_up_ref(key);
	b->key = key;
	return b;
}

struct fixture {
	struct sps_pki_paths p;
	X509 *ca;
	EVP_PKEY *ca_key, *key;
	struct sps_pki_check_opts o;
};

static int fixture_init(const char *data, struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	ASSERT_INT_EQ(sps_pki_ensure(data, &names, NULL), 0);
	ASSERT_INT_EQ(sps_pki_paths(data, &f->p), 0);
	ASSERT((f->ca = test_read_cert(f->p.ca_cert)) != NULL);
	ASSERT((f->ca_key = read_key(f->p.ca_key)) != NULL);
	ASSERT((f->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) != NULL);
	f->o = (struct sps_pki_check_opts){.domain = DOMAIN, .ca_file = f->p.ca_cert};
	return 0;
}

static void fixture_free(struct fixture *f)
{
	X509_free(f->ca);
	EVP_PKEY_free(f->ca_key);
	EVP_PKEY_free(f->key);
}

/* Check a leaf made with these parameters; *verdicts gets the report. */
static int check_leaf(struct fixture *f, EVP_PKEY *key, const EVP_MD *md, long days,
		      const char *san, const char *eku, struct sps_pki_report *rep)
{
	X509 *x = mk_leaf(f->ca, f->ca_key, key, md, days, san, eku);
	ASSERT(x != NULL);
	struct sps_pki_bundle *b = bundle_of(x, key);
	ASSERT(b != NULL);
	int rc = sps_pki_check(b, &f->o, rep);
	sps_pki_bundle_free(b);
	ASSERT_INT_EQ(rc, 0);
	return 0;
}

#define SAN_OK "DNS:" DOMAIN ",IP:127.0.0.1"

static int checks(const char *data)
{
	struct fixture f;
	struct sps_pki_report rep;
	struct sps_pki_bundle *b = NULL;
	char why[SPS_PKI_WHY_MAX];

	if (fixture_init(data, &f))
		return 1;
	/* the built-in certificate passes everything */
	ASSERT_INT_EQ(sps_pki_bundle_current(&f.p, &b), 0);
	ASSERT_INT_EQ(sps_pki_check(b, &f.o, &rep), 0);
	ASSERT_INT_EQ(sps_pki_report_failed(&rep), -1);
	for (int i = 0; i < SPS_PKI_NCHECKS; i++)
		ASSERT_INT_EQ(rep.r[i].verdict, SPS_PKI_PASS);
	/* without the built-in CA as anchor the chain is incomplete */
	struct sps_pki_check_opts o2 = {.domain = DOMAIN};
	ASSERT_INT_EQ(sps_pki_check(b, &o2, &rep), 0);
	ASSERT_INT_EQ(sps_pki_report_failed(&rep), SPS_PKI_CHECK_CHAIN);
	ASSERT(strstr(rep.r[SPS_PKI_CHECK_CHAIN].text, "the chain is incomplete") != NULL);
	/* a clock 900 days ahead: expired; 810 days ahead: expires within 30 days */
	o2 = f.o;
	o2.now = time(NULL) + 900L * 86400;
	ASSERT_INT_EQ(sps_pki_check(b, &o2, &rep), 0);
	ASSERT_INT_EQ(sps_pki_report_failed(&rep), SPS_PKI_CHECK_VALIDITY);
	ASSERT(strstr(rep.r[SPS_PKI_CHECK_VALIDITY].text, "expired on") != NULL);
	o2.now = time(NULL) + 810L * 86400;
	ASSERT_INT_EQ(sps_pki_check(b, &o2, &rep), 0);
	ASSERT_INT_EQ(sps_pki_report_failed(&rep), -1);
	ASSERT_INT_EQ(rep.r[SPS_PKI_CHECK_EXPIRY].verdict, SPS_PKI_WARN);
	/* a clock before notBefore: not yet valid */
	o2.now = time(NULL) - 86400;
	ASSERT_INT_EQ(sps_pki_check(b, &o2, &rep), 0);
	ASSERT(strstr(rep.r[SPS_PKI_CHECK_VALIDITY].text, "is not valid before") != NULL);
	/* another domain */
	o2 = f.o;
	o2.domain = "other.example.test";
	ASSERT_INT_EQ(sps_pki_check(b, &o2, &rep), 0);
	ASSERT_INT_EQ(sps_pki_report_failed(&rep), SPS_PKI_CHECK_DOMAIN);
	/* the CA's key with the SIP certificate: mismatch */
	EVP_PKEY_free(b->key);
	EVP_PKEY_up_ref(f.ca_key);
	b->key = f.ca_key;
	ASSERT_INT_EQ(sps_pki_check(b, &f.o, &rep), 0);
	ASSERT_INT_EQ(sps_pki_report_failed(&rep), SPS_PKI_CHECK_KEY);
	sps_pki_bundle_free(b);

	/* table: one defect each */
	EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *p224 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-224");
	ASSERT(rsa1024 && rsa2048 && p224);
	const struct {
		EVP_PKEY *key;
		const EVP_MD *md;
		long days;
		const char *san, *eku;
		bool allow_wildcard;
		int failed;
		enum sps_pki_verdict wild;
	} t[] = {
	    {f.key, EVP_sha256(), 400, SAN_OK, "serverAuth", false, -1, SPS_PKI_PASS},
	    {rsa2048, EVP_sha256(), 400, SAN_OK, NULL, false, -1, SPS_PKI_PASS},
	    {f.key, EVP_sha256(), 400, "URI:sip:" DOMAIN, NULL, false, -1, SPS_PKI_PASS},
	    {rsa1024, EVP_sha256(), 400, SAN_OK, NULL, false, SPS_PKI_CHECK_KEY_STRENGTH, 0},
	    {p224, EVP_sha256(), 400, SAN_OK, NULL, false, SPS_PKI_CHECK_KEY_STRENGTH, 0},
	    {f.key, EVP_sha1(), 400, SAN_OK, NULL, false, SPS_PKI_CHECK_SIGNATURE, 0},
	    {f.key, EVP_sha256(), 400, SAN_OK, "clientAuth", false, SPS_PKI_CHECK_EKU, 0},
	    {f.key, EVP_sha256(), 400, "DNS:other.example.test", NULL, false, SPS_PKI_CHECK_DOMAIN,
	     0},
	    {f.key, EVP_sha256(), 400, NULL, NULL, false, SPS_PKI_CHECK_DOMAIN, 0}, /* CN only */
	    {f.key, EVP_sha256(), 400, "DNS:*.example.test", NULL, false, SPS_PKI_CHECK_WILDCARD,
	     SPS_PKI_FAIL},
	    {f.key, EVP_sha256(), 400, "DNS:*.example.test", NULL, true, -1, SPS_PKI_WARN},
	    {f.key, EVP_sha256(), 400, "DNS:*.other.test", NULL, true, SPS_PKI_CHECK_DOMAIN,
	     SPS_PKI_WARN},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		f.o.allow_wildcard = t[i].allow_wildcard;
		if (check_leaf(&f, t[i].key, t[i].md, t[i].days, t[i].san, t[i].eku, &rep))
			TEST_FAIL("case %zu", i);
		if (sps_pki_report_failed(&rep) != t[i].failed)
			TEST_FAIL("case %zu: failed %d, expected %d (%s)", i,
				  sps_pki_report_failed(&rep), t[i].failed,
				  sps_pki_report_failed(&rep) >= 0
				      ? rep.r[sps_pki_report_failed(&rep)].text
				      : "");
		if (t[i].wild && rep.r[SPS_PKI_CHECK_WILDCARD].verdict != t[i].wild)
			TEST_FAIL("case %zu: wildcard verdict %d", i,
				  rep.r[SPS_PKI_CHECK_WILDCARD].verdict);
		for (int c = 0; c < SPS_PKI_NCHECKS; c++)
			if (strchr(rep.r[c].text, '\n') || !rep.r[c].text[0])
				TEST_FAIL("case %zu: check %d text '%s'", i, c, rep.r[c].text);
	}
	f.o.allow_wildcard = false;
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(p224);

	/* PEM parsing: two keys, an encrypted key, no PEM, a damaged block */
	static const char enc[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n"
				  "-----END ENCRYPTED PRIVATE KEY-----\n";
	static const char junk[] = "hello\n";
	static const char damaged[] = "-----BEGIN CERTIFICATE-----\nMII!!\n"
				      "-----END CERTIFICATE-----\n";
	b = NULL;
	ASSERT_INT_EQ(sps_pki_bundle_add_pem(&b, enc, sizeof(enc) - 1, "k.pem", why, sizeof(why)),
		      ENOTSUP);
	ASSERT(strstr(why, "encrypted") != NULL);
	ASSERT_INT_EQ(sps_pki_bundle_add_pem(&b, junk, sizeof(junk) - 1, "j.pem", why, sizeof(why)),
		      EBADMSG);
	ASSERT_INT_EQ(
	    sps_pki_bundle_add_pem(&b, damaged, sizeof(damaged) - 1, "d.pem", why, sizeof(why)),
	    EBADMSG);
	ASSERT_INT_EQ(sps_pki_bundle_complete(b, why, sizeof(why)), EINVAL);
	ASSERT_INT_EQ(sps_pki_bundle_add_file(&b, f.p.sip_key, why, sizeof(why)), 0);
	ASSERT_INT_EQ(sps_pki_bundle_add_file(&b, f.p.ca_key, why, sizeof(why)), EEXIST);
	ASSERT_INT_EQ(sps_pki_bundle_complete(b, why, sizeof(why)), EINVAL); /* no certificate */
	ASSERT_INT_EQ(sps_pki_bundle_add_file(&b, "/nonexistent.pem", why, sizeof(why)), ENOENT);
	sps_pki_bundle_free(b);

	/* a chain: leaf, intermediate (from the built-in CA); out of order too */
	EVP_PKEY *ik = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *inter = mk_leaf(f.ca, f.ca_key, ik, EVP_sha256(), 400, NULL, NULL);
	ASSERT(ik && inter);
	/* make it a CA: basicConstraints + its own subject */
	X509_NAME *in = X509_NAME_new();
	X509_NAME_add_entry_by_txt(in, "CN", MBSTRING_UTF8, (const unsigned char *)"Inter", -1, -1,
				   0);
	X509_set_subject_name(inter, in);
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, f.ca, inter, NULL, NULL, 0);
	X509_EXTENSION *bc =
	    X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	ASSERT(bc && X509_add_ext(inter, bc, -1) == 1);
	X509_EXTENSION_free(bc);
	ASSERT(X509_sign(inter, f.ca_key, EVP_sha256()) > 0);
	X509 *leaf = mk_leaf(inter, ik, f.key, EVP_sha256(), 300, SAN_OK, NULL);
	ASSERT(leaf != NULL);
	b = bundle_of(leaf, f.key);
	ASSERT(b && X509_up_ref(inter) == 1 && sk_X509_push(b->certs, inter));
	ASSERT_INT_EQ(sps_pki_check(b, &f.o, &rep), 0);
	ASSERT_INT_EQ(sps_pki_report_failed(&rep), -1);
	ASSERT(strstr(rep.r[SPS_PKI_CHECK_CHAIN].text, "2 certificates up to the trusted CA") !=
	       NULL);
	/* leaf, CA, intermediate: out of order */
	X509 *ca2 = test_read_cert(f.p.ca_cert);
	ASSERT(ca2 && sk_X509_insert(b->certs, ca2, 1));
	ASSERT_INT_EQ(sps_pki_check(b, &f.o, &rep), 0);
	ASSERT_INT_EQ(sps_pki_report_failed(&rep), SPS_PKI_CHECK_CHAIN);
	ASSERT(strstr(rep.r[SPS_PKI_CHECK_CHAIN].text, "out of order") != NULL);
	/* the intermediate alone (without the leaf's issuer in between) */
	X509_free(sk_X509_delete(b->certs, 2));
	ASSERT_INT_EQ(sps_pki_check(b, &f.o, &rep), 0);
	ASSERT(strstr(rep.r[SPS_PKI_CHECK_CHAIN].text, "is missing") != NULL);
	sps_pki_bundle_free(b);
	X509_free(inter);
	X509_NAME_free(in);
	EVP_PKEY_free(ik);
	fixture_free(&f);
	return 0;
}

int test_pki_import_checks(void)
{
	return test_with_datadir(checks);
}

static int files_equal(const char *a, const char *b)
{
	size_t la, lb;
	char *x = sps_test_read_file(a, &la), *y = sps_test_read_file(b, &lb);
	int eq = x && y && la == lb && memcmp(x, y, la) == 0;
	free(x);
	free(y);
	return eq;
}

static int install_renew_rollback(const char *data)
{
	struct fixture f;
	struct sps_pki_stamp s0, s1, s2;
	struct sps_pki_expiry e;
	char builtin[1100], tmp[2300];

	if (fixture_init(data, &f))
		return 1;
	snprintf(builtin, sizeof(builtin), "%s/builtin.pem", data);
	snprintf(tmp, sizeof(tmp), "cp %s %s", f.p.sip_cert, builtin);
	ASSERT(system(tmp) == 0);
	ASSERT_INT_EQ(sps_pki_stamp_read(&f.p, &s0), 0);
	ASSERT_INT_EQ(sps_pki_expiry_read(data, &e), 0);
	ASSERT(e.sip_from_builtin_ca && e.sip_days_left >= 824 && e.ca_days_left >= 3649);
	/* no previous pair yet */
	ASSERT_INT_EQ(sps_pki_rollback(data), ENOENT);

	/* renew: same subject and names, new key, 0600, previous kept */
	X509 *old = test_read_cert(f.p.sip_cert);
	ASSERT_INT_EQ(sps_pki_renew(data), 0);
	X509 *renewed = test_read_cert(f.p.sip_cert);
	ASSERT(old && renewed);
	ASSERT_INT_EQ(X509_NAME_cmp(X509_get_subject_name(old), X509_get_subject_name(renewed)), 0);
	int i1 = X509_get_ext_by_NID(old, NID_subject_alt_name, -1);
	int i2 = X509_get_ext_by_NID(renewed, NID_subject_alt_name, -1);
	ASSERT(i1 >= 0 && i2 >= 0);
	ASSERT_INT_EQ(ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(X509_get_ext(old, i1)),
					    X509_EXTENSION_get_data(X509_get_ext(renewed, i2))),
		      0);
	ASSERT_INT_EQ(EVP_PKEY_eq(X509_get0_pubkey(old), X509_get0_pubkey(renewed)), 0);
	ASSERT_INT_EQ(
	    ASN1_INTEGER_cmp(X509_get0_serialNumber(old), X509_get0_serialNumber(renewed)) != 0, 1);
	ASSERT(files_equal(f.p.prev_cert, builtin));
	ASSERT_INT_EQ(file_mode(f.p.sip_key), 0600);
	ASSERT_INT_EQ(file_mode(f.p.prev_key), 0600);
	ASSERT_INT_EQ(sps_pki_stamp_read(&f.p, &s1), 0);
	ASSERT(!sps_pki_stamp_eq(&s0, &s1));
	struct sps_pki_bundle *b = NULL;
	struct sps_pki_report rep;
	ASSERT_INT_EQ(sps_pki_bundle_current(&f.p, &b), 0);
	ASSERT_INT_EQ(sps_pki_check(b, &f.o, &rep), 0);
	ASSERT_INT_EQ(sps_pki_report_failed(&rep), -1);
	sps_pki_bundle_free(b);

	/* rollback swaps, a second rollback swaps back */
	ASSERT_INT_EQ(sps_pki_rollback(data), 0);
	ASSERT(files_equal(f.p.sip_cert, builtin));
	ASSERT_INT_EQ(sps_pki_rollback(data), 0);
	ASSERT(files_equal(f.p.prev_cert, builtin));

	/* install a certificate of another issuer: renew then refuses */
	EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *self = mk_leaf(renewed, k2, k2, EVP_sha256(), 100, "DNS:" DOMAIN, NULL);
	ASSERT(k2 && self);
	X509_set_issuer_name(self, X509_get_subject_name(self));
	ASSERT(X509_sign(self, k2, EVP_sha256()) > 0);
	b = bundle_of(X509_dup(self), k2);
	ASSERT(b != NULL);
	ASSERT_INT_EQ(sps_pki_install(data, b), 0);
	sps_pki_bundle_free(b);
	ASSERT_INT_EQ(file_mode(f.p.sip_cert), 0600);
	ASSERT_INT_EQ(sps_pki_stamp_read(&f.p, &s2), 0);
	ASSERT(!sps_pki_stamp_eq(&s1, &s2));
	ASSERT_INT_EQ(sps_pki_expiry_read(data, &e), 0);
	ASSERT(!e.sip_from_builtin_ca && e.sip_days_left >= 99 && e.sip_days_left <= 100);
	ASSERT_INT_EQ(sps_pki_renew(data), EPERM);
	ASSERT_INT_EQ(sps_pki_rollback(data), 0);
	ASSERT_INT_EQ(sps_pki_renew(data), 0);

	/* imported into a data dir without a CA: the first start keeps it */
	char data2[1100];
	bool created = false;
	snprintf(data2, sizeof(data2), "%s2", data);
	b = bundle_of(X509_dup(self), k2);
	ASSERT(b != NULL);
	ASSERT_INT_EQ(sps_pki_install(data2, b), 0);
	sps_pki_bundle_free(b);
	struct sps_pki_paths p2;
	ASSERT_INT_EQ(sps_pki_paths(data2, &p2), 0);
	ASSERT_INT_EQ(sps_pki_ensure(data2, &names, &created), 0);
	ASSERT(created);
	X509 *kept = test_read_cert(p2.sip_cert);
	ASSERT(kept && X509_cmp(kept, self) == 0);
	ASSERT(access(p2.ca_cert, F_OK) == 0 && access(p2.ca_key, F_OK) == 0);
	X509_free(kept);

	X509_free(self);
	EVP_PKEY_free(k2);
	X509_free(old);
	X509_free(renewed);
	fixture_free(&f);
	return 0;
}

int test_pki_import_install(void)
{
	return test_with_datadir(install_renew_rollback);
}
