/* pki: the built-in certificate authority (DESIGN.md: "built-in CA, one command
 * to export it"). It creates, under DATADIR/certs/, a CA and the SIP server
 * certificate it signs, and describes certificates for `sipsec cert show`.
 *
 * Files (PEM):  certs/ca.pem   CA certificate (public, 0644)
 *               certs/ca.key   CA private key (0600)
 *               certs/sip.pem  SIP/TLS server certificate (public, 0644)
 *               certs/sip.key  its private key (0600)
 *               certs/sip.prev.pem, certs/sip.prev.key  the pair in use before
 *                              the last import, renewal or rollback (for
 *                              `sipsec cert rollback`)
 * sip.pem holds the server certificate followed by its chain (an imported
 * certificate's intermediates). A key file is always written before its
 * certificate, each atomically (temp file + rename); imported and renewed
 * files are written 0600. A running server notices a changed pair by its
 * stamp (sps_pki_stamp_read) and reloads it for new TLS connections. */
#ifndef SPS_PKI_PKI_H
#define SPS_PKI_PKI_H

#include <stdbool.h>
#include <stddef.h>

#include <time.h>

#include "core/mbuf.h"

/* The names the SIP certificate is issued for. Only borrowed for the call. */
struct sps_pki_names {
	const char *domain;	   /* SIP domain: CN, DNS SAN and sip: URI SAN; no '*' */
	const char *hostname;	   /* added as DNS SAN when not empty and != domain; may be NULL */
	const char *const *ips;	   /* listen addresses (IPv4/IPv6 literals) */
	size_t nips;		   /* 0 means "all addresses", like a wildcard: the SANs
				      then get IP:127.0.0.1, for local clients */
};

#define SPS_PKI_PATH_MAX 1024

/* The paths of the PKI files of one data directory. */
struct sps_pki_paths {
	char dir[SPS_PKI_PATH_MAX];	/* DATADIR/certs */
	char ca_cert[SPS_PKI_PATH_MAX];
	char ca_key[SPS_PKI_PATH_MAX];
	char sip_cert[SPS_PKI_PATH_MAX];
	char sip_key[SPS_PKI_PATH_MAX];
	char prev_cert[SPS_PKI_PATH_MAX];
	char prev_key[SPS_PKI_PATH_MAX];
};

/* Fill *out with the PKI paths under datadir. Returns 0, EINVAL for an empty
 * datadir, ENAMETOOLONG. */
int sps_pki_paths(const char *datadir, struct sps_pki_paths *out);

/* Make sure DATADIR/certs holds a CA and a SIP certificate issued by it,
 * creating DATADIR and DATADIR/certs (0700) when missing.
 * - No certs/ca.pem: a new CA (ECDSA P-256, 10 years) and a new SIP
 *   certificate (ECDSA P-256, 825 days) for names.
 * - CA present, certs/sip.pem or certs/sip.key missing: a new SIP certificate
 *   from the existing CA.
 * - SIP pair present (say imported) but no certs/ca.pem: a new CA only; the
 *   SIP pair is kept.
 * - Everything present: nothing is touched (certificates are never silently
 *   replaced; renewal is an explicit command).
 * *created (may be NULL) is set on success: true when something was written.
 * All names are checked before anything is written. A hostname that is not a
 * valid DNS name (gethostname() may return "my_box") is left out of the SANs.
 * Returns 0; EINVAL for a domain that is empty, contains '*' (Polycom phones
 * reject wildcard certificates), is longer than 64 characters (the X.520 CN
 * limit) or is neither a host name nor an IP literal, or for a listen address
 * that is not an IP literal; ENOENT when the SIP certificate must be issued but certs/ca.key
 * is missing; EBADMSG for an unreadable CA file or a CA key that does not
 * match the CA certificate; or an errno of the file system. */
int sps_pki_ensure(const char *datadir, const struct sps_pki_names *names, bool *created);

/* Append to out a text description of the first certificate in the PEM
 * file pem_path (`cert show` now builds its own from sps_pki_certinfo): subject, SANs, issuer, key type, validity, days
 * left, SHA-256 fingerprint; one "label: value" line each, indented by indent
 * spaces. Returns 0, ENOENT (no such file), EBADMSG (no certificate in it),
 * ENOMEM or the error of out. */
int sps_pki_describe(const char *pem_path, unsigned indent, struct sps_mbuf *out);

/* Append to out the first certificate of pem_path re-encoded as PEM (so that
 * nothing but the certificate is exported). Returns 0, ENOENT, EBADMSG,
 * ENOMEM or the error of out. */
int sps_pki_cert_pem(const char *pem_path, struct sps_mbuf *out);

/* ---- import, renewal, rollback (pki.c, pki_check.c) ---- */

/* A certificate with its chain and private key as given by the administrator
 * (`sipsec cert import`), or as read back from certs/sip.pem + sip.key.
 * Opaque; see pki_int.h. */
struct sps_pki_bundle;

#define SPS_PKI_WHY_MAX 512
#define SPS_PKI_FILE_MAX (1024 * 1024) /* a PEM file larger than this is refused */
#define SPS_PKI_RENEW_DAYS 30	       /* the SIP certificate is renewed this long before expiry */
#define SPS_PKI_CA_WARN_DAYS 90	       /* the CA is warned about this long before */

/* Add the PEM certificates and private key of file path to the bundle *b
 * (created when *b is NULL): certificates in file order (the first one of the
 * first file is the server certificate, the rest its chain), at most one
 * private key over all files. Encrypted keys are refused (no passphrase
 * prompt). Returns 0, or an errno with a one-line reason in why: ENOENT /
 * EACCES (cannot read), EFBIG (over SPS_PKI_FILE_MAX), EBADMSG (no PEM block,
 * or a block that does not parse), EEXIST (a second private key), ENOTSUP (an
 * encrypted key). On error *b keeps what was added before (free it). */
int sps_pki_bundle_add_file(struct sps_pki_bundle **b, const char *path, char *why,
			    size_t whysize);
/* Read certs/sip.pem (every certificate) and certs/sip.key of paths into a
 * new bundle. Returns 0, ENOENT, EBADMSG, ENOMEM. */
int sps_pki_bundle_current(const struct sps_pki_paths *p, struct sps_pki_bundle **out);
/* The same for PEM text in memory (len <= SPS_PKI_FILE_MAX); name stands for
 * the file in messages. */
int sps_pki_bundle_add_pem(struct sps_pki_bundle **b, const void *pem, size_t len,
			   const char *name, char *why, size_t whysize);
/* Returns 0 when the bundle has a certificate and a key, else EINVAL with the
 * reason in why. */
int sps_pki_bundle_complete(const struct sps_pki_bundle *b, char *why, size_t whysize);
void sps_pki_bundle_free(struct sps_pki_bundle *b);
/* Number of certificates (server certificate + chain). */
int sps_pki_bundle_count(const struct sps_pki_bundle *b);

/* The checks `sipsec cert import` makes and `sipsec cert show` reports, in
 * the order they are made. */
enum sps_pki_check_id {
	SPS_PKI_CHECK_KEY,	/* the private key matches the certificate */
	SPS_PKI_CHECK_CHAIN,	/* each certificate signed by the next; ends at a
				   self-signed or trusted CA */
	SPS_PKI_CHECK_VALIDITY, /* no certificate expired or not yet valid */
	SPS_PKI_CHECK_WILDCARD, /* no wildcard name (Polycom phones reject them) */
	SPS_PKI_CHECK_DOMAIN,	/* the SIP domain in subjectAltName (RFC 5922 7.1) */
	SPS_PKI_CHECK_KEY_STRENGTH, /* RSA >= 2048 bits, EC >= P-256 */
	SPS_PKI_CHECK_SIGNATURE,    /* no SHA-1 / MD5 signature (below a root) */
	SPS_PKI_CHECK_EKU,	    /* extendedKeyUsage, when present, has serverAuth */
	SPS_PKI_CHECK_EXPIRY,	    /* warns when expiring within 30 days */
	SPS_PKI_NCHECKS
};

enum sps_pki_verdict { SPS_PKI_PASS = 0, SPS_PKI_WARN, SPS_PKI_FAIL };

struct sps_pki_report {
	struct {
		enum sps_pki_verdict verdict;
		char text[SPS_PKI_WHY_MAX]; /* one line: what was found, and the fix */
	} r[SPS_PKI_NCHECKS];
};

/* What the checks compare against. Strings are borrowed for the call. */
struct sps_pki_check_opts {
	const char *domain;   /* the SIP domain (host name or IP literal) */
	bool allow_wildcard;  /* a wildcard is a warning, not a failure */
	const char *ca_file;  /* the built-in CA: trusted as a chain end; may be NULL */
	bool system_store;    /* the system's trust store too */
	time_t now;	      /* 0: time(NULL) */
};

/* Run every check on b into *rep. Returns 0 (the verdicts are in rep) or
 * ENOMEM/EINVAL. */
int sps_pki_check(const struct sps_pki_bundle *b, const struct sps_pki_check_opts *o,
		  struct sps_pki_report *rep);
/* The first failed check, or -1 when none failed. */
int sps_pki_report_failed(const struct sps_pki_report *rep);
/* Stable name of a check for --json ("key_match", "chain", ...). */
const char *sps_pki_check_name(enum sps_pki_check_id id);

/* Install b as the SIP certificate of datadir: the pair in use is copied to
 * certs/sip.prev.*, then b's key and certificates are written (0600). The
 * caller has checked b. Returns 0 or an errno (EBADMSG: b is incomplete). */
int sps_pki_install(const char *datadir, const struct sps_pki_bundle *b);

/* Re-issue the SIP certificate from the built-in CA with the same subject and
 * subjectAltNames and a new ECDSA P-256 key, valid 825 days; the old pair
 * becomes certs/sip.prev.*. Returns 0; ENOENT (no CA / no SIP certificate);
 * EPERM when the certificate in use was not issued by the built-in CA (an
 * imported one: renew it at its CA); EBADMSG (unreadable files); or an errno. */
int sps_pki_renew(const char *datadir);

/* Swap certs/sip.* and certs/sip.prev.* (a second rollback undoes the first).
 * Returns 0, ENOENT (no previous certificate) or an errno. */
int sps_pki_rollback(const char *datadir);

/* Identity of the files of the SIP pair (device, inode, size, mtime of
 * sip.pem and sip.key): a rename or rewrite of either changes it. */
struct sps_pki_stamp {
	unsigned long long v[8];
};
/* Returns 0 or the errno of stat (ENOENT while a file is missing). */
int sps_pki_stamp_read(const struct sps_pki_paths *p, struct sps_pki_stamp *out);
bool sps_pki_stamp_eq(const struct sps_pki_stamp *a, const struct sps_pki_stamp *b);

/* Facts about one certificate, for `cert show` (text and --json). */
struct sps_pki_certinfo {
	char subject[512];
	char issuer[512];
	char sans[2048];     /* "DNS:a\nIP:1.2.3.4\nURI:sip:a" one per line, "" for none */
	char key[48];	     /* "EC P-256", "RSA 2048 bits" */
	char not_before[32]; /* "2026-01-02 03:04:05 UTC" */
	char not_after[32];
	long days_left;	     /* negative once expired */
	bool self_signed;
	bool is_ca;
	char sha256[3 * 32]; /* "AB:CD:..." */
};

/* Describe certificate i (0 = server certificate) of b. Returns 0 or ENOENT
 * (no such index). */
int sps_pki_bundle_info(const struct sps_pki_bundle *b, int i, struct sps_pki_certinfo *out);

/* Expiry facts of a data dir for the server's renewal timer. */
struct sps_pki_expiry {
	long sip_days_left;
	bool sip_from_builtin_ca; /* issued (and signed) by certs/ca.pem */
	long ca_days_left;
};
/* Returns 0, ENOENT or EBADMSG. */
int sps_pki_expiry_read(const char *datadir, struct sps_pki_expiry *out);

#endif
