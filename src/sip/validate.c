/* sip/validate: the checks a proxy applies to a parsed message before acting
 * on it (RFC 3261 8.2, 16.3; RFC 4475 3.1.2 and 3.3). */
#include "sip/msg.h"

/* Headers that must appear once and only once in every request and response
 * (RFC 3261 8.1.1; Max-Forwards is added by a proxy when absent, 16.6). */
static const struct {
	enum sps_hdr_id id;
	const char *missing, *multiple;
} required[] = {
	{SPS_HDR_TO, "Missing To header", "Multiple To headers"},
	{SPS_HDR_FROM, "Missing From header", "Multiple From headers"},
	{SPS_HDR_CALL_ID, "Missing Call-ID header", "Multiple Call-ID headers"},
	{SPS_HDR_CSEQ, "Missing CSeq header", "Multiple CSeq headers"},
};

static const struct {
	enum sps_hdr_id id;
	const char *multiple;
} single[] = {
	{SPS_HDR_MAX_FORWARDS, "Multiple Max-Forwards headers"},
	{SPS_HDR_CONTENT_LENGTH, "Multiple Content-Length headers"},
	{SPS_HDR_CONTENT_TYPE, "Multiple Content-Type headers"},
	{SPS_HDR_EXPIRES, "Multiple Expires headers"},
};

unsigned sps_sip_msg_validate(const struct sps_sip_msg *m, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	*why = NULL;

	if (!m->count[SPS_HDR_VIA]) {
		*why = "Missing Via header";
		return 400;
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (m->count[required[i].id] == 0) {
			*why = required[i].missing;
			return 400;
		}
		if (m->count[required[i].id] > 1) {
			*why = required[i].multiple;
			return 400;
		}
	}
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		if (m->count[single[i].id] > 1) {
			*why = single[i].multiple;
			return 400;
		}
	}
	if (!m->is_request)
		return 0;
	/* RFC 3261 8.1.1.5: the CSeq method matches the request method */
	if (!sps_slice_eq(m->cseq.method, m->method)) {
		*why = "CSeq method does not match the request method";
		return 400;
	}
	/* RFC 3261 8.2.2.1 / 16.3: a scheme we do not serve gets 416 */
	if (m->ruri.scheme == SPS_URI_OTHER) {
		*why = "Unsupported URI Scheme";
		return 416;
	}
	/* RFC 3261 19.1.1: headers are not allowed in a Request-URI (RFC 4475 3.1.2.11) */
	if (m->ruri.headers.p) {
		*why = "Request-URI must not contain headers";
		return 400;
	}
	return 0;
}
