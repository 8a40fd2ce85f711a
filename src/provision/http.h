/* provision/http: a small bounded HTTP/1.1 request parser (RFC 9112) for the
 * provisioning server, and the parser of Authorization credentials (RFC 9110
 * 11.6.2: Basic, RFC 7617; Digest, RFC 7616). Why our own parser and not
 * libhttp-parser: docs/http.md.
 *
 * Only what a GET-only file server needs: the request line, the headers it
 * acts on (Host, Authorization, Connection, Content-Length,
 * Transfer-Encoding) and the framing checks that keep one request from being
 * read as two. Zero-copy: every slice points into the caller's buffer. */
#ifndef SPS_PROVISION_HTTP_H
#define SPS_PROVISION_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/slice.h"
#include "sip/msg.h"

/* Upper bounds: the whole request head (request line + headers + blank
 * line), the request-target, and the number of header lines. */
#define SPS_HTTP_HEAD_MAX 8192
#define SPS_HTTP_TARGET_MAX 2048
#define SPS_HTTP_HDRS_MAX 64

struct sps_http_req {
	size_t len;                 /* bytes of the head, blank line included */
	struct sps_slice method;    /* "GET" */
	struct sps_slice target;    /* origin-form, "/prov/x.cfg?a=b" */
	struct sps_slice path;      /* target up to '?' */
	unsigned minor;             /* HTTP/1.minor */
	struct sps_slice host;      /* unset when absent */
	struct sps_slice authorization;
	bool keep_alive;            /* RFC 9112 9.3: 1.1 unless "close"; 1.0 only with keep-alive */
	bool has_body;              /* Content-Length > 0 or any Transfer-Encoding */
	unsigned nhdrs;
};

/* Parse the request head at the start of buf[0..len). Empty lines before the
 * request line are skipped (RFC 9112 2.2) and count in req->len.
 * Returns 0 with *req filled; ENODATA when the head is not complete yet (and
 * fits); EMSGSIZE when it does not end within SPS_HTTP_HEAD_MAX bytes (431),
 * or the target is too long (414); EBADMSG when malformed (400): bad request
 * line, a header without ':' or with blanks before it, obs-fold, control
 * characters, a missing or repeated Host in HTTP/1.1, repeated or invalid
 * Content-Length, repeated Authorization; EPROTONOSUPPORT for a version other
 * than HTTP/1.0 or 1.1 (505). *why (may be NULL) gets a static reason. */
int sps_http_parse(const char *buf, size_t len, struct sps_http_req *req, const char **why);

/* Credentials of an Authorization value (RFC 9110 11.4). */
struct sps_http_cred {
	bool basic;
	struct sps_slice token68;  /* Basic: the base64 user-pass */
	struct sps_auth digest;    /* Digest: auth-params as struct sps_auth keeps
				    * them (quoted values as written) */
};

/* Parse an Authorization value. Returns 0, EBADMSG (malformed, a parameter
 * given twice), ENOTSUP (a scheme other than Basic or Digest). */
int sps_http_cred_parse(struct sps_slice v, struct sps_http_cred *out);

/* Decode Basic credentials (RFC 7617 2: base64 of user-id ":" password) into
 * NUL-terminated user and password. Returns 0, EBADMSG (not base64, no ':',
 * a NUL or control character), ENOSPC (does not fit). */
int sps_http_basic_decode(struct sps_slice token68, char *user, size_t usize, char *pw,
			  size_t psize);

#endif
