/* pki: the built-in certificate authority (DESIGN.md: "built-in CA, one command
 * to export it"). It creates, under DATADIR/certs/, a CA and the SIP server
 * certificate it signs, and describes certificates for `sipsec cert show`.
 *
 * Files (PEM):  certs/ca.pem   CA certificate (public, 0644)
 *               certs/ca.key   CA private key (0600)
 *               certs/sip.pem  SIP/TLS server certificate (public, 0644)
 *               certs/sip.key  its private key (0600)
 * A key file is always written before its certificate, each atomically
 * (temp file + rename), so "the .pem exists" means "the pair is complete". */
#ifndef SPS_PKI_PKI_H
#define SPS_PKI_PKI_H

#include <stdbool.h>
#include <stddef.h>

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

/* Append to out the text `sipsec cert show` prints for the first certificate
 * in the PEM file pem_path: subject, SANs, issuer, key type, validity, days
 * left, SHA-256 fingerprint; one "label: value" line each, indented by indent
 * spaces. Returns 0, ENOENT (no such file), EBADMSG (no certificate in it),
 * ENOMEM or the error of out. */
int sps_pki_describe(const char *pem_path, unsigned indent, struct sps_mbuf *out);

/* Append to out the first certificate of pem_path re-encoded as PEM (so that
 * nothing but the certificate is exported). Returns 0, ENOENT, EBADMSG,
 * ENOMEM or the error of out. */
int sps_pki_cert_pem(const char *pem_path, struct sps_mbuf *out);

#endif
