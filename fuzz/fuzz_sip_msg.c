/* libFuzzer target: the SIP message parser (sip/msg), semantic checks
 * (sps_sip_msg_validate) and the writers (sip/write). A message that parses
 * is answered and copied with proxy edits; the copy must parse again (only a
 * size limit may stop it, since the copy can be longer than the original). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/mbuf.h"
#include "sip/msg.h"
#include "sip/write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Re-parse what a writer produced; a rejection other than a limit is a bug
 * in the writer or in the parser (they disagree about the grammar). */
static void reparse(struct sps_mbuf *mb, const char *what)
{
	struct sps_arena *a;
	struct sps_sip_msg *m;
	const char *why = NULL;

	if (sps_mbuf_err(mb) || sps_arena_new(&a, 0))
		return;
	char *b = malloc(mb->len ? mb->len : 1);
	if (!b)
		abort();
	memcpy(b, mb->buf, mb->len);
	int rc = sps_sip_msg_parse(b, mb->len, a, &m, &why);
	if (rc && rc != EMSGSIZE && rc != ENOMEM) {
		fprintf(stderr, "%s does not parse back (%d: %s):\n%.*s\n", what, rc,
			why ? why : "-", (int)mb->len, mb->buf);
		abort();
	}
	sps_arena_free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sps_arena *a;
	struct sps_sip_msg *m = NULL;
	const char *why = NULL;

	if (size > 70000 || sps_arena_new(&a, 0))
		return 0;
	/* exactly `size` bytes, so that ASan sees any read past the end */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	if (size)
		memcpy(buf, data, size);

	int rc = sps_sip_msg_parse(buf, size, a, &m, &why);
	if (rc) {
		if (!why)
			abort(); /* every rejection carries a reason */
		goto out;
	}
	const char *vwhy = NULL;
	unsigned st = sps_sip_msg_validate(m, &vwhy);
	if (st && (st < 100 || st > 699 || !vwhy))
		abort();
	for (int id = 0; id < SPS_HDR__COUNT; id++)
		for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, (enum sps_hdr_id)id, NULL);
		     h; h = sps_sip_msg_hdr_next(m, (enum sps_hdr_id)id, h))
			if (h->id != (enum sps_hdr_id)id)
				abort();

	struct sps_mbuf mb;
	sps_mbuf_init(&mb, 0);
	if (m->is_request) {
		struct sps_sip_newhdr extra = {"Server", SPS_SLICE_LIT("sipsec")};
		if (sps_sip_resp_write(&mb, m, st ? st : 200, NULL, "fz1", &extra, 1, "text/plain",
				       sps_slice_make("x", 1)) == 0)
			reparse(&mb, "response");
	}
	sps_mbuf_reset(&mb);
	struct sps_sip_newhdr pre = {"Via",
				      SPS_SLICE_LIT("SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKfz")};
	struct sps_slice body = SPS_SLICE_LIT("v=0\r\n");
	struct sps_sip_edit e = {
		.prepend = &pre,
		.nprepend = 1,
		.drop_top_route = 1,
		.drop = SPS_SIP_DROP(SPS_HDR_USER_AGENT),
		.max_forwards = m->max_forwards > 0 ? m->max_forwards - 1 : 70,
		.body = (size & 1) ? &body : NULL,
		.content_type = "application/sdp",
	};
	if (!m->is_request) {
		e.prepend = NULL;
		e.nprepend = 0;
		e.drop_top_via = 1;
		e.max_forwards = -1;
	}
	if (sps_sip_msg_copy(&mb, m, &e) == 0)
		reparse(&mb, "copy");
	sps_mbuf_free(&mb);
out:
	sps_arena_free(a);
	free(buf);
	return 0;
}
