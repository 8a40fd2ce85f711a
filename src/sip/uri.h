/* sip/uri: SIP, SIPS and tel URIs (RFC 3261 19.1, 25.1; RFC 3966), zero-copy.
 * Every slice points into the caller's buffer and is still %-escaped. */
#ifndef SPS_SIP_URI_H
#define SPS_SIP_URI_H

#include <stdbool.h>
#include <stdint.h>

#include "core/slice.h"

enum sps_uri_scheme {
	SPS_URI_SIP = 1,
	SPS_URI_SIPS,
	SPS_URI_TEL,
	SPS_URI_OTHER, /* any other absoluteURI (RFC 3261 25.1): scheme and opaque rest only */
};

struct sps_uri {
	enum sps_uri_scheme scheme;
	struct sps_slice scheme_s; /* as written, e.g. "SIP" */
	struct sps_slice user;     /* sip/sips userinfo user part; tel: the number */
	struct sps_slice password;
	struct sps_slice host;     /* IPv6 references keep their [ ] */
	uint16_t port;             /* 0 when absent */
	bool host_ipv6;
	struct sps_slice params;   /* ";a=b;lr" without the first ';' (raw, may be empty) */
	struct sps_slice headers;  /* "?a=b&c=d" without the '?' */
	/* frequently used parameters, found while parsing */
	struct sps_slice transport; /* transport=tls */
	struct sps_slice maddr;
	struct sps_slice user_param; /* user=phone */
	struct sps_slice method;
	bool lr;
	struct sps_slice rest;       /* SPS_URI_OTHER: everything after "scheme:" */
};

/* Parse a whole URI (no surrounding < >, no trailing spaces).
 * Returns 0, or EBADMSG with *why set to a static reason. `out` is set only on success. */
int sps_uri_parse(struct sps_slice s, struct sps_uri *out, const char **why);

/* Find parameter `name` (case-insensitive) in a ";"-separated parameter list
 * such as uri->params. Sets *val to its value (empty slice with non-NULL p
 * for a flag parameter). Returns 0 or ENOENT. */
int sps_param_find(struct sps_slice params, const char *name, struct sps_slice *val);

/* Decode %XX escapes into buf (NUL-terminated). Returns 0, EBADMSG for a bad
 * escape, ENOSPC when buf is too small. *outlen excludes the NUL (escaped NULs
 * are kept, so use the length). */
int sps_uri_unescape(struct sps_slice s, char *buf, size_t size, size_t *outlen);

/* URI equality per RFC 3261 19.1.4 (sip/sips): scheme, user and password
 * case-sensitive after unescaping, host case-insensitive, port, and the
 * transport/user/ttl/method/maddr parameters. */
bool sps_uri_equal(const struct sps_uri *a, const struct sps_uri *b);

#endif
