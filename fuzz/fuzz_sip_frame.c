/* libFuzzer target: the stream framer (sip/frame). The input is a TCP byte
 * stream: frame it repeatedly, consuming what the framer says; every frame
 * must make progress and lie inside the data, and every MSG frame is handed
 * to the parser, which must accept or reject it cleanly. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "sip/frame.h"
#include "sip/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sps_arena *a;

	if (size > 200000 || sps_arena_new(&a, 0))
		return 0;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	if (size)
		memcpy(buf, data, size);

	size_t off = 0;
	while (off <= size) {
		struct sps_frame f;
		const char *why = NULL;
		size_t rest = size - off;
		int rc = sps_sip_frame(buf + off, rest, &f, &why);
		if (rc == ENODATA)
			break;
		if (rc) {
			if ((rc != EBADMSG && rc != EMSGSIZE) || !why)
				abort();
			break;
		}
		if (f.len == 0 || f.len > rest)
			abort(); /* no progress, or past the data */
		if (f.kind == SPS_FRAME_MSG) {
			if (f.len > SPS_SIP_MAX_MSG)
				abort();
			/* the same frame is found when the data ends right after it */
			char *msg = malloc(f.len);
			if (!msg)
				abort();
			memcpy(msg, buf + off, f.len);
			struct sps_frame g;
			if (sps_sip_frame(msg, f.len, &g, &why) != 0 || g.kind != SPS_FRAME_MSG ||
			    g.len != f.len)
				abort();
			struct sps_sip_msg *m;
			why = NULL;
			sps_arena_reset(a);
			rc = sps_sip_msg_parse(msg, f.len, a, &m, &why);
			if (rc && !why)
				abort();
			free(msg);
		} else if (f.kind != SPS_FRAME_PING && f.kind != SPS_FRAME_PONG) {
			abort();
		}
		off += f.len;
	}
	sps_arena_free(a);
	free(buf);
	return 0;
}
