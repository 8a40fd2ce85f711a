/* libFuzzer target: the SDP parser (sdp/), the a=crypto parser and base64
 * on their own, and the writer: what parses must write back (unchanged and
 * with the relay's edits) into SDP that parses again the same way. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "sdp/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A slice the parser returned must lie inside the input. */
static void in_buf(struct sps_slice s, const char *buf, size_t size)
{
	if (s.l && (!s.p || s.p < buf || s.p + s.l > buf + size))
		abort();
}

static struct sps_sdp sdp, again;
static char out[SPS_SDP_MAX_SIZE * 2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	struct sps_sdp_crypto c;
	uint8_t key[SPS_SDP_KEY_MAX];
	size_t n;

	if (size > SPS_SDP_MAX_SIZE + 16)
		return 0;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	if (size)
		memcpy(buf, data, size);
	struct sps_slice s = sps_slice_make(buf, size);

	/* the input as one a=crypto value and as base64 */
	if (sps_sdp_crypto_parse(s, &c, &why) == 0) {
		in_buf(c.suite, buf, size);
		in_buf(c.key_b64, buf, size);
		in_buf(c.lifetime, buf, size);
		in_buf(c.session_params, buf, size);
		if (c.nkeys < 1 || (c.has_mki && (c.mki_len < 1 || c.mki_len > 128)))
			abort();
	} else if (!why) {
		abort();
	}
	(void)sps_base64_decode(s, key, sizeof(key), &n, SPS_B64_PAD);

	why = NULL;
	if (sps_sdp_parse(s, &sdp, &why) != 0) {
		if (!why)
			abort();
		goto out;
	}
	if (sdp.nlines > SPS_SDP_MAX_LINES || sdp.nmedia > SPS_SDP_MAX_MEDIA)
		abort();
	for (size_t i = 0; i < sdp.nlines; i++)
		in_buf(sdp.lines[i].val, buf, size);
	for (size_t i = 0; i < sdp.nmedia; i++) {
		const struct sps_sdp_media *m = &sdp.media[i];
		in_buf(m->fmts, buf, size);
		in_buf(m->proto_s, buf, size);
		if (m->ncrypto > SPS_SDP_MAX_CRYPTO || m->line >= m->end || m->end > sdp.nlines ||
		    !sps_sdp_media_conn(&sdp, i))
			abort();
		for (size_t k = 0; k < m->ncrypto; k++) {
			in_buf(m->crypto[k].key_b64, buf, size);
			(void)sps_base64_decode(m->crypto[k].key_b64, key, sizeof(key), &n, SPS_B64_PAD);
		}
		(void)sps_sdp_media_dir(&sdp, i);
	}

	/* unchanged: the same lines come back */
	size_t len;
	if (sps_sdp_write(&sdp, NULL, out, sizeof(out), &len) != 0)
		abort();
	size_t nlines = sdp.nlines, nmedia = sdp.nmedia;
	if (sps_sdp_parse(sps_slice_make(out, len), &again, &why) != 0 ||
	    again.nlines != nlines || again.nmedia != nmedia)
		abort();

	/* the relay's edits: still parses, with the new keys and ports */
	struct sps_sdp_edit e;
	memset(&e, 0, sizeof(e));
	e.addr = size & 1 ? "203.0.113.9" : "2001:db8::9";
	e.set_version = true;
	e.version = size;
	for (size_t i = 0; i < nmedia; i++) {
		e.media[i].set = true;
		e.media[i].port = (uint16_t)(30000 + 2 * i);
		e.media[i].proto = i & 1 ? SPS_SDP_RTP_AVP : SPS_SDP_RTP_SAVP;
		e.media[i].set_rtcp = true;
		e.media[i].rtcp_port = (uint16_t)(i & 2 ? 0 : 30001 + 2 * i);
		e.media[i].dir = (enum sps_sdp_dir)(i % 5);
		e.media[i].replace_crypto = true;
		e.media[i].crypto[0] = "1 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVph";
		e.media[i].ncrypto = i & 1 ? 0 : 1;
	}
	if (sps_sdp_write(&sdp, &e, out, sizeof(out), &len) == 0) {
		/* the edits add lines: a body at the bounds may grow past them */
		int rc = sps_sdp_parse(sps_slice_make(out, len), &again, &why);
		if (rc == E2BIG)
			goto out;
		if (rc != 0 || again.nmedia != nmedia)
			abort();
		for (size_t i = 0; i < nmedia; i++)
			if (again.media[i].port != 30000 + 2 * i ||
			    again.media[i].ncrypto != (i & 1 ? 0u : 1u))
				abort();
	}
out:
	free(buf);
	return 0;
}
