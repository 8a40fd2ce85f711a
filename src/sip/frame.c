/* sip/frame: stream framing for TCP/TLS (RFC 3261 18.3: Content-Length is
 * mandatory on streams) and keep-alives (RFC 5626 4.4.1). */
#include "sip/frame.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sip/msg.h"

static bool ci_eq(const char *p, size_t l, const char *s)
{
	if (strlen(s) != l)
		return false;
	for (size_t i = 0; i < l; i++)
		if ((p[i] | 0x20) != (s[i] | 0x20))
			return false;
	return true;
}

/* Parse a Content-Length value between p and end (white space and folding
 * allowed around the digits). Returns 0 or EBADMSG. */
static int cl_value(const char *p, const char *end, uint32_t *out)
{
	uint64_t v = 0;
	int digits = 0;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	while (p < end && *p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return EBADMSG;
		p++;
		digits++;
	}
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	if (!digits || p != end)
		return EBADMSG;
	*out = (uint32_t)v;
	return 0;
}

int sps_sip_frame(const char *buf, size_t len, struct sps_frame *f, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	if (len == 0)
		return ENODATA;
	/* keep-alives: CRLFCRLF is a ping, a lone CRLF a pong (RFC 5626 4.4.1) */
	if (buf[0] == '\r') {
		if (len < 2)
			return ENODATA;
		if (buf[1] != '\n') {
			*why = "stray CR in stream";
			return EBADMSG;
		}
		if (len >= 4 && memcmp(buf, "\r\n\r\n", 4) == 0) {
			f->kind = SPS_FRAME_PING;
			f->len = 4;
			return 0;
		}
		if (len == 2 || (len == 3 && buf[2] == '\r'))
			return ENODATA;
		f->kind = SPS_FRAME_PONG;
		f->len = 2;
		return 0;
	}
	if (buf[0] == '\n') {
		f->kind = SPS_FRAME_PONG; /* a bare LF keep-alive some phones send */
		f->len = 1;
		return 0;
	}

	/* walk the header lines as far as the buffer goes */
	size_t lim = len < SPS_SIP_MAX_MSG ? len : SPS_SIP_MAX_MSG;
	const char *p = buf, *end = buf + lim;
	bool have_cl = false;
	uint32_t cl = 0;
	unsigned lines = 0;
	for (;;) {
		const char *line = p;
		const char *eol = NULL;
		/* a logical line ends at a CRLF not followed by SP/HT */
		for (const char *q = p; q + 1 < end; q++) {
			q = memchr(q, '\r', (size_t)(end - q));
			if (!q || q + 1 >= end)
				break;
			if (q[1] != '\n')
				continue;
			if (q + 2 < end && (q[2] == ' ' || q[2] == '\t') && q != line)
				continue; /* folding */
			if (q + 2 >= end && q != line)
				break; /* cannot tell folding yet */
			eol = q;
			break;
		}
		if (!eol) {
			if ((size_t)(end - line) > SPS_SIP_MAX_LINE) {
				*why = "header line too long";
				return EBADMSG;
			}
			if (len >= SPS_SIP_MAX_MSG) {
				*why = "header section too large";
				return EMSGSIZE;
			}
			return ENODATA;
		}
		if ((size_t)(eol - line) > SPS_SIP_MAX_LINE) {
			*why = "header line too long";
			return EBADMSG;
		}
		p = eol + 2;
		if (eol == line)
			break; /* empty line: end of headers */
		if (++lines > SPS_SIP_MAX_HDRS + 1) {
			*why = "too many header lines";
			return EBADMSG;
		}
		if (lines == 1)
			continue; /* start line */
		const char *colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon)
			continue; /* the parser will reject it */
		size_t nl = (size_t)(colon - line);
		while (nl && (line[nl - 1] == ' ' || line[nl - 1] == '\t'))
			nl--;
		if (ci_eq(line, nl, "content-length") || ci_eq(line, nl, "l")) {
			uint32_t v;
			if (cl_value(colon + 1, eol, &v)) {
				*why = "bad Content-Length";
				return EBADMSG;
			}
			if (have_cl && v != cl) {
				*why = "conflicting Content-Length headers";
				return EBADMSG;
			}
			have_cl = true;
			cl = v;
		}
	}
	if (!have_cl) {
		*why = "no Content-Length on a stream transport";
		return EBADMSG;
	}
	size_t total = (size_t)(p - buf) + cl;
	if (total > SPS_SIP_MAX_MSG) {
		*why = "message too large";
		return EMSGSIZE;
	}
	if (total > len)
		return ENODATA;
	f->kind = SPS_FRAME_MSG;
	f->len = total;
	return 0;
}
