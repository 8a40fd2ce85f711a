/* pki: reading certificates back for `sipsec cert show` and `cert ca-export`. */
#include "pki/pki_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Read the first certificate of a PEM file. Returns 0, ENOENT or another
 * errno of fopen, EBADMSG. */
static int cert_read(const char *path, X509 **out)
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

/* RFC 4514 text of a name, e.g. "CN=sip.example.com,O=Example". */
static void put_name(struct sps_mbuf *mb, const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	if (!b || X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0 ||
	    (n = BIO_get_mem_data(b, &p)) < 0) {
		sps_mbuf_puts(mb, "?");
	} else {
		sps_mbuf_write(mb, p, (size_t)n);
	}
	BIO_free(b);
}

/* "DNS:a, IP:1.2.3.4, URI:sip:a" or "(none)". */
static void put_sans(struct sps_mbuf *mb, X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int n = gens ? sk_GENERAL_NAME_num(gens) : 0;
	if (n == 0)
		sps_mbuf_puts(mb, "(none)");
	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const char *sep = i ? ", " : "";
		char ip[INET6_ADDRSTRLEN];
		switch (g->type) {
		case GEN_DNS:
		case GEN_URI:
		case GEN_EMAIL: {
			const ASN1_IA5STRING *s = g->d.ia5;
			const char *t = g->type == GEN_DNS ? "DNS" : g->type == GEN_URI ? "URI" : "email";
			sps_mbuf_printf(mb, "%s%s:%.*s", sep, t, ASN1_STRING_length(s),
					(const char *)ASN1_STRING_get0_data(s));
			break;
		}
		case GEN_IPADD: {
			const ASN1_OCTET_STRING *s = g->d.iPAddress;
			int len = ASN1_STRING_length(s);
			int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
			if (af && inet_ntop(af, ASN1_STRING_get0_data(s), ip, sizeof(ip)))
				sps_mbuf_printf(mb, "%sIP:%s", sep, ip);
			else
				sps_mbuf_printf(mb, "%sIP:?", sep);
			break;
		}
		default:
			sps_mbuf_printf(mb, "%s(other)", sep);
		}
	}
	GENERAL_NAMES_free(gens);
}

/* "EC P-256", "RSA 2048 bits", "ED25519". */
static void put_key_type(struct sps_mbuf *mb, X509 *x)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	char group[64];
	if (!k) {
		sps_mbuf_puts(mb, "?");
		return;
	}
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(k, group, sizeof(group), NULL) == 1) {
			const char *nist = EC_curve_nid2nist(OBJ_sn2nid(group));
			sps_mbuf_printf(mb, "EC %s", nist ? nist : group);
		} else {
			sps_mbuf_puts(mb, "EC");
		}
		break;
	case EVP_PKEY_RSA:
		sps_mbuf_printf(mb, "RSA %d bits", EVP_PKEY_get_bits(k));
		break;
	default:
		sps_mbuf_printf(mb, "%s", OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
	}
}

static void put_time(struct sps_mbuf *mb, const ASN1_TIME *t)
{
	struct tm tm;
	char buf[64];
	if (ASN1_TIME_to_tm(t, &tm) == 1 && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm))
		sps_mbuf_puts(mb, buf);
	else
		sps_mbuf_puts(mb, "?");
}

int sps_pki_describe(const char *pem_path, unsigned indent, struct sps_mbuf *out)
{
	X509 *x = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int days = 0, secs = 0;
	int rc = cert_read(pem_path, &x);
	if (rc != 0)
		return rc;
	int w = (int)indent;

	sps_mbuf_printf(out, "%*ssubject:     ", w, "");
	put_name(out, X509_get_subject_name(x));
	sps_mbuf_printf(out, "\n%*sSANs:        ", w, "");
	put_sans(out, x);
	sps_mbuf_printf(out, "\n%*sissuer:      ", w, "");
	put_name(out, X509_get_issuer_name(x));
	if (X509_check_issued(x, x) == X509_V_OK)
		sps_mbuf_puts(out, " (self-signed)");
	sps_mbuf_printf(out, "\n%*skey:         ", w, "");
	put_key_type(out, x);
	sps_mbuf_printf(out, "\n%*snot before:  ", w, "");
	put_time(out, X509_get0_notBefore(x));
	sps_mbuf_printf(out, "\n%*snot after:   ", w, "");
	put_time(out, X509_get0_notAfter(x));
	sps_mbuf_printf(out, "\n%*sdays left:   ", w, "");
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1)
		sps_mbuf_puts(out, "?");
	else if (days < 0 || (days == 0 && secs < 0))
		sps_mbuf_printf(out, "EXPIRED %d days ago", -days);
	else
		sps_mbuf_printf(out, "%d", days);
	sps_mbuf_printf(out, "\n%*ssha256:      ", w, "");
	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1)
		sps_mbuf_puts(out, "?");
	for (unsigned i = 0; i < mdlen; i++)
		sps_mbuf_printf(out, "%s%02X", i ? ":" : "", md[i]);
	sps_mbuf_puts(out, "\n");
	X509_free(x);
	ERR_clear_error();
	return sps_mbuf_err(out);
}

int sps_pki_cert_pem(const char *pem_path, struct sps_mbuf *out)
{
	X509 *x = NULL;
	char *p;
	long n;
	int rc = cert_read(pem_path, &x);
	if (rc != 0)
		return rc;
	BIO *b = BIO_new(BIO_s_mem());
	rc = ENOMEM;
	if (b && PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &p)) > 0)
		rc = sps_mbuf_write(out, p, (size_t)n);
	BIO_free(b);
	X509_free(x);
	return rc;
}

/* ---- structured facts (cert show --json, import) ---- */

/* Copy the text an mbuf writer produced into buf, "?" on error. */
static void mb_take(struct sps_mbuf *mb, char *buf, size_t size)
{
	snprintf(buf, size, "%s", !sps_mbuf_err(mb) && mb->buf ? mb->buf : "?");
	sps_mbuf_free(mb);
	sps_mbuf_init(mb, 0);
}

void sps__pki_certinfo(X509 *x, time_t now, struct sps_pki_certinfo *out)
{
	struct sps_mbuf mb;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int days = 0, secs = 0;

	memset(out, 0, sizeof(*out));
	sps_mbuf_init(&mb, 0);
	put_name(&mb, X509_get_subject_name(x));
	mb_take(&mb, out->subject, sizeof(out->subject));
	put_name(&mb, X509_get_issuer_name(x));
	mb_take(&mb, out->issuer, sizeof(out->issuer));
	put_sans(&mb, x);
	mb_take(&mb, out->sans, sizeof(out->sans));
	if (strcmp(out->sans, "(none)") == 0)
		out->sans[0] = '\0';
	for (char *p = out->sans; (p = strstr(p, ", ")) != NULL;) {
		*p = '\n'; /* one name per line */
		memmove(p + 1, p + 2, strlen(p + 2) + 1);
	}
	put_key_type(&mb, x);
	mb_take(&mb, out->key, sizeof(out->key));
	put_time(&mb, X509_get0_notBefore(x));
	mb_take(&mb, out->not_before, sizeof(out->not_before));
	put_time(&mb, X509_get0_notAfter(x));
	mb_take(&mb, out->not_after, sizeof(out->not_after));
	sps_mbuf_free(&mb);
	ASN1_TIME *t0 = ASN1_TIME_set(NULL, now ? now : time(NULL));
	if (t0 && ASN1_TIME_diff(&days, &secs, t0, X509_get0_notAfter(x)) == 1)
		out->days_left = days - (days == 0 && secs < 0);
	ASN1_TIME_free(t0);
	out->self_signed = X509_check_issued(x, x) == X509_V_OK;
	out->is_ca = X509_check_ca(x) >= 1;
	if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
		for (unsigned i = 0; i < mdlen && i < 32; i++)
			snprintf(out->sha256 + (i ? 3 * i - 1 : 0), 4, "%s%02X", i ? ":" : "", md[i]);
	ERR_clear_error();
}

int sps_pki_bundle_info(const struct sps_pki_bundle *b, int i, struct sps_pki_certinfo *out)
{
	if (!b || i < 0 || i >= sk_X509_num(b->certs) || !out)
		return ENOENT;
	sps__pki_certinfo(sk_X509_value(b->certs, i), 0, out);
	return 0;
}
