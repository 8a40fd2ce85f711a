/* libFuzzer target: the URI parser (sip/uri) plus parameter lookup,
 * unescaping and comparison on what it accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A slice the parser returned must lie inside the input. */
static void in_buf(struct sps_slice s, const char *buf, size_t size)
{
	if (s.l && (!s.p || s.p < buf || s.p + s.l > buf + size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sps_uri u, v;
	struct sps_slice val;
	const char *why = NULL;
	char out[256];
	size_t n;

	if (size > 70000)
		return 0;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	if (size)
		memcpy(buf, data, size);
	struct sps_slice s = sps_slice_make(buf, size);

	/* the fuzz input is also a parameter list and an escaped string */
	(void)sps_param_find(s, "transport", &val);
	(void)sps_param_find(s, "lr", &val);
	(void)sps_uri_unescape(s, out, sizeof(out), &n);

	if (sps_uri_parse(s, &u, &why) != 0) {
		if (!why)
			abort();
		goto out;
	}
	in_buf(u.scheme_s, buf, size);
	in_buf(u.user, buf, size);
	in_buf(u.password, buf, size);
	in_buf(u.host, buf, size);
	in_buf(u.params, buf, size);
	in_buf(u.headers, buf, size);
	in_buf(u.transport, buf, size);
	in_buf(u.maddr, buf, size);
	in_buf(u.rest, buf, size);
	if (sps_param_find(u.params, "transport", &val) == 0)
		in_buf(val, buf, size);
	(void)sps_param_find(u.params, "maddr", &val);
	(void)sps_uri_unescape(u.user, out, sizeof(out), &n);
	(void)sps_uri_unescape(u.password, out, sizeof(out), &n);
	/* RFC 3261 19.1.4 equality is reflexive and symmetric */
	if ((u.scheme == SPS_URI_SIP || u.scheme == SPS_URI_SIPS) && !sps_uri_equal(&u, &u))
		abort();
	/* compare with the input cut at its first ';' (a different or equal URI) */
	const char *semi = memchr(buf, ';', size);
	if (semi && sps_uri_parse(sps_slice_make(buf, (size_t)(semi - buf)), &v, &why) == 0 &&
	    sps_uri_equal(&u, &v) != sps_uri_equal(&v, &u))
		abort();
out:
	free(buf);
	return 0;
}
