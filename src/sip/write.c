/* sip/write: building SIP requests and responses (RFC 3261 7, 8.1.1, 8.2.6,
 * 16.6, 16.7) into a bounded struct sps_mbuf.
 *
 * Every caller-supplied piece of text is checked before anything is written:
 * a header name must be a token, and no value, reason phrase, tag or URI may
 * contain CR or LF (header injection / response splitting). A check failure
 * returns EINVAL with the mbuf untouched; otherwise the functions append to the
 * mbuf and return its sticky error (EMSGSIZE past SPS_SIP_MAX_MSG, ENOMEM). */
#include "sip/write.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* RFC 3261 25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" /
 * "+" / "`" / "'" / "~") */
static bool is_token_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-.!%*_+`'~", c) != NULL;
}

static bool is_token(struct sps_slice s)
{
	if (s.l == 0 || !s.p)
		return false;
	for (size_t i = 0; i < s.l; i++)
		if (!is_token_char((unsigned char)s.p[i]))
			return false;
	return true;
}

/* A header value, reason phrase or tag: anything but a line break. */
static bool no_crlf(struct sps_slice s)
{
	if (s.l == 0)
		return true;
	return memchr(s.p, '\r', s.l) == NULL && memchr(s.p, '\n', s.l) == NULL;
}

static bool cstr_no_crlf(const char *s)
{
	return !s || strpbrk(s, "\r\n") == NULL;
}

/* A Request-URI (RFC 3261 7.1): non-empty, no SP, no control characters. */
static bool is_ruri(struct sps_slice s)
{
	if (s.l == 0 || !s.p)
		return false;
	for (size_t i = 0; i < s.l; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c <= ' ' || c == 0x7f)
			return false;
	}
	return true;
}

static bool newhdrs_ok(const struct sps_sip_newhdr *h, size_t n)
{
	if (n && !h)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!h[i].name || !is_token(sps_slice_cstr(h[i].name)))
			return false;
		if (h[i].value.l && !h[i].value.p)
			return false;
		if (!no_crlf(h[i].value))
			return false;
	}
	return true;
}

static bool body_ok(struct sps_slice body)
{
	return body.l == 0 || body.p != NULL;
}

static void put_hdr(struct sps_mbuf *mb, const char *name, struct sps_slice value)
{
	sps_mbuf_puts(mb, name);
	sps_mbuf_write(mb, ": ", 2);
	sps_mbuf_put_slice(mb, value);
	sps_mbuf_write(mb, "\r\n", 2);
}

static void put_newhdrs(struct sps_mbuf *mb, const struct sps_sip_newhdr *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_hdr(mb, h[i].name, h[i].value);
}

/* Content-Type (only with a body), Content-Length (always), the empty line
 * and the body (RFC 3261 7.4, 18.3: Content-Length is mandatory on streams,
 * so it is always written). */
static void put_body(struct sps_mbuf *mb, const char *content_type, struct sps_slice body)
{
	if (body.l && content_type)
		put_hdr(mb, "Content-Type", sps_slice_cstr(content_type));
	sps_mbuf_printf(mb, "Content-Length: %zu\r\n\r\n", body.l);
	sps_mbuf_put_slice(mb, body);
}

/* Copy every entry of header id from req, one line each, under the canonical name. */
static void copy_all(struct sps_mbuf *mb, const struct sps_sip_msg *req, enum sps_hdr_id id)
{
	const struct sps_sip_hdr *h = NULL;
	while ((h = sps_sip_msg_hdr_next(req, id, h)) != NULL)
		put_hdr(mb, sps_sip_hdr_name(id), h->value);
}

static bool msg_values_ok(const struct sps_sip_msg *m)
{
	for (unsigned i = 0; i < m->nhdrs; i++) {
		if (!no_crlf(m->hdrs[i].value))
			return false;
		if (m->hdrs[i].id == SPS_HDR_OTHER && !is_token(m->hdrs[i].name))
			return false;
	}
	return true;
}

/* RFC 3261 8.2.6.2: the response copies Via (all, in order), From, To (with
 * the UAS tag added when the request had none), Call-ID and CSeq; 8.2.6.1:
 * a 100 (Trying) also copies Timestamp. Returns 0, EINVAL for a code outside
 * 100..699 or a CR/LF in reason, to_tag, content_type or an extra header, or
 * the mbuf's error. */
int sps_sip_resp_write(struct sps_mbuf *mb, const struct sps_sip_msg *req, unsigned code,
		       const char *reason, const char *to_tag, const struct sps_sip_newhdr *extra,
		       size_t nextra, const char *content_type, struct sps_slice body)
{
	if (mb->err)
		return mb->err;
	if (!req || code < 100 || code > 699)
		return EINVAL;
	if (!cstr_no_crlf(reason) || !newhdrs_ok(extra, nextra) || !body_ok(body))
		return EINVAL;
	if (content_type && !cstr_no_crlf(content_type))
		return EINVAL;
	/* RFC 3261 19.3: tag = token */
	if (to_tag && !is_token(sps_slice_cstr(to_tag)))
		return EINVAL;
	if (!msg_values_ok(req))
		return EINVAL;

	sps_mbuf_printf(mb, "SIP/2.0 %u %s\r\n", code, reason ? reason : sps_sip_reason_phrase(code));
	copy_all(mb, req, SPS_HDR_VIA);
	copy_all(mb, req, SPS_HDR_FROM);

	const struct sps_sip_hdr *to = sps_sip_msg_hdr_next(req, SPS_HDR_TO, NULL);
	if (to) {
		const struct sps_nameaddr *na = to->parsed;
		sps_mbuf_puts(mb, "To: ");
		sps_mbuf_put_slice(mb, to->value);
		if (to_tag && (!na || na->tag.l == 0))
			sps_mbuf_printf(mb, ";tag=%s", to_tag);
		sps_mbuf_write(mb, "\r\n", 2);
	}
	copy_all(mb, req, SPS_HDR_CALL_ID);
	copy_all(mb, req, SPS_HDR_CSEQ);
	if (code == 100)
		copy_all(mb, req, SPS_HDR_TIMESTAMP);
	put_newhdrs(mb, extra, nextra);
	put_body(mb, content_type, body);
	return sps_mbuf_err(mb);
}

/* RFC 3261 8.1.1: the caller supplies the mandatory headers in `hdrs`; this
 * only writes the Request-Line, them, and the body. Returns 0, EINVAL for a
 * method that is not a token, a Request-URI with SP or controls, or CR/LF in
 * a header or content_type, or the mbuf's error. */
int sps_sip_req_write(struct sps_mbuf *mb, const char *method, struct sps_slice ruri,
		      const struct sps_sip_newhdr *hdrs, size_t nhdrs, const char *content_type,
		      struct sps_slice body)
{
	if (mb->err)
		return mb->err;
	if (!method || !is_token(sps_slice_cstr(method)) || !is_ruri(ruri))
		return EINVAL;
	if (!newhdrs_ok(hdrs, nhdrs) || !body_ok(body))
		return EINVAL;
	if (content_type && !cstr_no_crlf(content_type))
		return EINVAL;

	sps_mbuf_printf(mb, "%s ", method);
	sps_mbuf_put_slice(mb, ruri);
	sps_mbuf_puts(mb, " SIP/2.0\r\n");
	put_newhdrs(mb, hdrs, nhdrs);
	put_body(mb, content_type, body);
	return sps_mbuf_err(mb);
}

/* Copy msg with the edits applied (RFC 3261 16.6 steps 2-8, 16.7 step 3).
 * Headers keep their order, one line per entry under the canonical long name
 * (the name as written for unknown headers); prepended headers go first,
 * appended ones last; Max-Forwards is replaced in place (the first entry;
 * further entries are dropped) or added after the copied headers; Content-Length
 * is always recomputed. A NULL edit copies unchanged. Returns 0, EINVAL for a
 * bad new header, Request-URI or content type, or a CR/LF in a parsed value,
 * or the mbuf's error. */
int sps_sip_msg_copy(struct sps_mbuf *mb, const struct sps_sip_msg *msg,
		     const struct sps_sip_edit *edit)
{
	static const struct sps_sip_edit none = {.max_forwards = -1};

	if (mb->err)
		return mb->err;
	if (!msg)
		return EINVAL;
	if (!edit)
		edit = &none;
	if (!newhdrs_ok(edit->prepend, edit->nprepend) || !newhdrs_ok(edit->append, edit->nappend))
		return EINVAL;
	if (edit->ruri && msg->is_request && !is_ruri(*edit->ruri))
		return EINVAL;
	if (edit->body && (!body_ok(*edit->body) || !cstr_no_crlf(edit->content_type)))
		return EINVAL;
	if (!msg_values_ok(msg) || !no_crlf(msg->reason))
		return EINVAL;
	if (msg->is_request && (!is_token(msg->method) || !is_ruri(msg->ruri_s)))
		return EINVAL;

	if (msg->is_request) {
		sps_mbuf_put_slice(mb, msg->method);
		sps_mbuf_write(mb, " ", 1);
		sps_mbuf_put_slice(mb, edit->ruri ? *edit->ruri : msg->ruri_s);
		sps_mbuf_puts(mb, " SIP/2.0\r\n");
	} else {
		sps_mbuf_printf(mb, "SIP/2.0 %03u ", msg->status);
		sps_mbuf_put_slice(mb, msg->reason);
		sps_mbuf_write(mb, "\r\n", 2);
	}
	put_newhdrs(mb, edit->prepend, edit->nprepend);

	unsigned vias = 0, routes = 0;
	bool mf_done = false;
	for (unsigned i = 0; i < msg->nhdrs; i++) {
		const struct sps_sip_hdr *h = &msg->hdrs[i];

		if (h->id == SPS_HDR_CONTENT_LENGTH)
			continue;
		if (h->id < 64 && (edit->drop & SPS_SIP_DROP(h->id)))
			continue;
		if (h->id == SPS_HDR_VIA && vias++ < edit->drop_top_via)
			continue;
		if (h->id == SPS_HDR_ROUTE && routes++ < edit->drop_top_route)
			continue;
		if (h->id == SPS_HDR_CONTENT_TYPE && edit->body)
			continue;
		if (h->id == SPS_HDR_MAX_FORWARDS && edit->max_forwards >= 0) {
			if (!mf_done)
				sps_mbuf_printf(mb, "Max-Forwards: %d\r\n", edit->max_forwards);
			mf_done = true;
			continue;
		}
		const char *name = sps_sip_hdr_name(h->id);
		if (name)
			put_hdr(mb, name, h->value);
		else {
			sps_mbuf_put_slice(mb, h->name);
			sps_mbuf_write(mb, ": ", 2);
			sps_mbuf_put_slice(mb, h->value);
			sps_mbuf_write(mb, "\r\n", 2);
		}
	}
	/* RFC 3261 16.6 step 3: add Max-Forwards when the request had none. */
	if (edit->max_forwards >= 0 && !mf_done)
		sps_mbuf_printf(mb, "Max-Forwards: %d\r\n", edit->max_forwards);
	put_newhdrs(mb, edit->append, edit->nappend);
	if (edit->body)
		put_body(mb, edit->content_type, *edit->body);
	else
		put_body(mb, NULL, msg->body);
	return sps_mbuf_err(mb);
}

/* RFC 3261 section 21, plus the codes later RFCs added that a server meets. */
static const struct {
	unsigned code;
	const char *phrase;
} reasons[] = {
	{100, "Trying"},
	{180, "Ringing"},
	{181, "Call Is Being Forwarded"},
	{182, "Queued"},
	{183, "Session Progress"},
	{199, "Early Dialog Terminated"},	/* RFC 6228 */
	{200, "OK"},
	{202, "Accepted"},			/* RFC 3265 */
	{204, "No Notification"},		/* RFC 5839 */
	{300, "Multiple Choices"},
	{301, "Moved Permanently"},
	{302, "Moved Temporarily"},
	{305, "Use Proxy"},
	{380, "Alternative Service"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{402, "Payment Required"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{406, "Not Acceptable"},
	{407, "Proxy Authentication Required"},
	{408, "Request Timeout"},
	{410, "Gone"},
	{413, "Request Entity Too Large"},
	{414, "Request-URI Too Long"},
	{415, "Unsupported Media Type"},
	{416, "Unsupported URI Scheme"},
	{420, "Bad Extension"},
	{421, "Extension Required"},
	{422, "Session Interval Too Small"},	/* RFC 4028 */
	{423, "Interval Too Brief"},
	{428, "Use Identity Header"},		/* RFC 4474 */
	{429, "Provide Referrer Identity"},	/* RFC 3892 */
	{439, "First Hop Lacks Outbound Support"}, /* RFC 5626 */
	{440, "Max-Breadth Exceeded"},		/* RFC 5393 */
	{470, "Consent Needed"},		/* RFC 5360 */
	{480, "Temporarily Unavailable"},
	{481, "Call/Transaction Does Not Exist"},
	{482, "Loop Detected"},
	{483, "Too Many Hops"},
	{484, "Address Incomplete"},
	{485, "Ambiguous"},
	{486, "Busy Here"},
	{487, "Request Terminated"},
	{488, "Not Acceptable Here"},
	{489, "Bad Event"},			/* RFC 6665 */
	{491, "Request Pending"},
	{493, "Undecipherable"},
	{494, "Security Agreement Required"},	/* RFC 3329 */
	{500, "Server Internal Error"},
	{501, "Not Implemented"},
	{502, "Bad Gateway"},
	{503, "Service Unavailable"},
	{504, "Server Time-out"},
	{505, "Version Not Supported"},
	{513, "Message Too Large"},
	{580, "Precondition Failure"},		/* RFC 3312 */
	{600, "Busy Everywhere"},
	{603, "Decline"},
	{604, "Does Not Exist Anywhere"},
	{606, "Not Acceptable"},
	{607, "Unwanted"},			/* RFC 8197 */
	{608, "Rejected"},			/* RFC 8688 */
};

const char *sps_sip_reason_phrase(unsigned code)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].phrase;
	return "Unknown";
}
