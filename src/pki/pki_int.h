/* pki internals shared by its files (tests may include it). */
#ifndef SPS_PKI_INT_H
#define SPS_PKI_INT_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/pki.h"

/* Invariant: certs is never NULL; key is NULL until a key was read. Both are
 * owned by the bundle. */
struct sps_pki_bundle {
	STACK_OF(X509) *certs; /* [0] the server certificate, then its chain */
	EVP_PKEY *key;
};

/* The whole content of path (a regular file of at most SPS_PKI_FILE_MAX
 * bytes) into a new secure-heap BIO, *out the caller's. Returns 0, an errno
 * of fopen, EISDIR (not a regular file), EFBIG, EIO or ENOMEM (pki.c). */
int sps__pki_file_read(const char *path, BIO **out);

/* Describe x into *out (pki_show.c). */
void sps__pki_certinfo(X509 *x, time_t now, struct sps_pki_certinfo *out);

#endif
