/* libFuzzer target: the provisioning server's HTTP request parsing
 * (provision/http.c). The input is fed as a byte stream the way the server
 * reads a connection: requests are cut one after another until the parser
 * wants more bytes or refuses the rest. For each request the Authorization
 * value goes through the credentials parser and, for Basic, the decoder.
 * Invariants: a parsed head lies inside the input and ends with its blank
 * line; path is a prefix of target; slices point into the input; every
 * error code is one of the documented ones. The input is also tried as a
 * MAC address and as a provisioning file name. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provision/http.h"
#include "provision/provision.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(struct sps_slice s, const char *buf, size_t len)
{
	if (s.p && (s.p < buf || s.p + s.l > buf + len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4 * SPS_HTTP_HEAD_MAX)
		return 0;
	/* a private copy without trailing slack, so ASan sees overreads */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	size_t off = 0;
	for (int n = 0; n < 64 && off <= size; n++) {
		struct sps_http_req r;
		const char *why = NULL;
		int rc = sps_http_parse(buf + off, size - off, &r, &why);
		if (rc == ENODATA)
			break;
		if (rc) {
			if (rc != EBADMSG && rc != EMSGSIZE && rc != EPROTONOSUPPORT)
				abort();
			if (!why)
				abort();
			break;
		}
		const char *b = buf + off;
		size_t l = size - off;
		if (r.len == 0 || r.len > l || b[r.len - 1] != '\n')
			abort();
		inside(r.method, b, r.len);
		inside(r.target, b, r.len);
		inside(r.path, b, r.len);
		inside(r.host, b, r.len);
		inside(r.authorization, b, r.len);
		if (r.path.p != r.target.p || r.path.l > r.target.l || r.minor > 1)
			abort();
		if (r.target.l > SPS_HTTP_TARGET_MAX || r.nhdrs > SPS_HTTP_HDRS_MAX)
			abort();
		if (sps_slice_isset(r.authorization)) {
			struct sps_http_cred c;
			rc = sps_http_cred_parse(r.authorization, &c);
			if (rc && rc != EBADMSG && rc != ENOTSUP)
				abort();
			if (!rc && c.basic) {
				char u[64], p[64];
				inside(c.token68, b, r.len);
				rc = sps_http_basic_decode(c.token68, u, sizeof(u), p, sizeof(p));
				if (rc && rc != EBADMSG && rc != ENOSPC)
					abort();
				if (!rc && (strlen(u) >= sizeof(u) || strlen(p) >= sizeof(p)))
					abort();
			} else if (!rc) {
				inside(c.digest.username, b, r.len);
				inside(c.digest.uri, b, r.len);
				inside(c.digest.response, b, r.len);
			}
		}
		off += r.len;
	}

	/* the input as a MAC and as a file name */
	char s[64], mac[13];
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
	memcpy(s, data, n);
	s[n] = '\0';
	if (sps_prov_mac_normalize(s, mac) == 0) {
		if (strlen(mac) != 12)
			abort();
		for (int i = 0; i < 12; i++)
			if (!strchr("0123456789abcdef", mac[i]))
				abort();
	}
	if (sps_prov_name_ok(s, strlen(s)) && (s[0] == '.' || strchr(s, '/')))
		abort();
	free(buf);
	return 0;
}
