/* sip/msg: the message framework: start line, header lines (folding, compact
 * names, list splitting) and body (RFC 3261 sections 7, 18.3, 25). */
#include <errno.h>
#include <string.h>

#include "sip/chars.h"
#include "sip/msg_int.h"

#define SPS_LOG_MODULE "sip"

static const struct {
	const char *name;
	char compact; /* RFC 3261 7.3.3 and the IANA compact forms */
} hdr_names[SPS_HDR__COUNT] = {
	[SPS_HDR_VIA] = {"Via", 'v'},
	[SPS_HDR_FROM] = {"From", 'f'},
	[SPS_HDR_TO] = {"To", 't'},
	[SPS_HDR_CALL_ID] = {"Call-ID", 'i'},
	[SPS_HDR_CSEQ] = {"CSeq", 0},
	[SPS_HDR_CONTACT] = {"Contact", 'm'},
	[SPS_HDR_MAX_FORWARDS] = {"Max-Forwards", 0},
	[SPS_HDR_ROUTE] = {"Route", 0},
	[SPS_HDR_RECORD_ROUTE] = {"Record-Route", 0},
	[SPS_HDR_PATH] = {"Path", 0},
	[SPS_HDR_EXPIRES] = {"Expires", 0},
	[SPS_HDR_MIN_EXPIRES] = {"Min-Expires", 0},
	[SPS_HDR_CONTENT_LENGTH] = {"Content-Length", 'l'},
	[SPS_HDR_CONTENT_TYPE] = {"Content-Type", 'c'},
	[SPS_HDR_SUPPORTED] = {"Supported", 'k'},
	[SPS_HDR_REQUIRE] = {"Require", 0},
	[SPS_HDR_PROXY_REQUIRE] = {"Proxy-Require", 0},
	[SPS_HDR_UNSUPPORTED] = {"Unsupported", 0},
	[SPS_HDR_WWW_AUTHENTICATE] = {"WWW-Authenticate", 0},
	[SPS_HDR_PROXY_AUTHENTICATE] = {"Proxy-Authenticate", 0},
	[SPS_HDR_AUTHORIZATION] = {"Authorization", 0},
	[SPS_HDR_PROXY_AUTHORIZATION] = {"Proxy-Authorization", 0},
	[SPS_HDR_USER_AGENT] = {"User-Agent", 0},
	[SPS_HDR_ALLOW] = {"Allow", 0},
	[SPS_HDR_ACCEPT] = {"Accept", 0},
	[SPS_HDR_SUBJECT] = {"Subject", 's'},
	[SPS_HDR_CONTENT_ENCODING] = {"Content-Encoding", 'e'},
	[SPS_HDR_EVENT] = {"Event", 'o'},
	[SPS_HDR_REFER_TO] = {"Refer-To", 'r'},
	[SPS_HDR_REFERRED_BY] = {"Referred-By", 'b'},
	[SPS_HDR_ALLOW_EVENTS] = {"Allow-Events", 'u'},
	[SPS_HDR_SESSION_EXPIRES] = {"Session-Expires", 'x'},
	[SPS_HDR_REASON] = {"Reason", 0},
	[SPS_HDR_WARNING] = {"Warning", 0},
	[SPS_HDR_RETRY_AFTER] = {"Retry-After", 0},
	[SPS_HDR_SERVER] = {"Server", 0},
	[SPS_HDR_DATE] = {"Date", 0},
	[SPS_HDR_TIMESTAMP] = {"Timestamp", 0},
	[SPS_HDR_REPLACES] = {"Replaces", 0},
};

enum sps_hdr_id sps_sip_hdr_id(struct sps_slice name)
{
	if (name.l == 1) {
		char c = (char)(name.p[0] | 0x20);
		for (int i = 1; i < SPS_HDR__COUNT; i++)
			if (hdr_names[i].compact == c)
				return (enum sps_hdr_id)i;
		return SPS_HDR_OTHER;
	}
	for (int i = 1; i < SPS_HDR__COUNT; i++)
		if (sps_slice_eq_cstr_ci(name, hdr_names[i].name))
			return (enum sps_hdr_id)i;
	return SPS_HDR_OTHER;
}

const char *sps_sip_hdr_name(enum sps_hdr_id id)
{
	return (id > SPS_HDR_OTHER && id < SPS_HDR__COUNT) ? hdr_names[id].name : NULL;
}

static const char *const method_names[] = {
	[SPS_METHOD_INVITE] = "INVITE", [SPS_METHOD_ACK] = "ACK",
	[SPS_METHOD_BYE] = "BYE", [SPS_METHOD_CANCEL] = "CANCEL",
	[SPS_METHOD_OPTIONS] = "OPTIONS", [SPS_METHOD_REGISTER] = "REGISTER",
	[SPS_METHOD_PRACK] = "PRACK", [SPS_METHOD_SUBSCRIBE] = "SUBSCRIBE",
	[SPS_METHOD_NOTIFY] = "NOTIFY", [SPS_METHOD_PUBLISH] = "PUBLISH",
	[SPS_METHOD_INFO] = "INFO", [SPS_METHOD_REFER] = "REFER",
	[SPS_METHOD_MESSAGE] = "MESSAGE", [SPS_METHOD_UPDATE] = "UPDATE",
};

/* Methods are case-sensitive (RFC 3261 7.1). */
enum sps_sip_method sps_sip_method_id(struct sps_slice name)
{
	for (size_t i = 1; i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (sps_slice_eq(name, sps_slice_cstr(method_names[i])))
			return (enum sps_sip_method)i;
	return SPS_METHOD_OTHER;
}

const char *sps_sip_method_name(enum sps_sip_method m)
{
	return (m > 0 && (size_t)m < sizeof(method_names) / sizeof(method_names[0]))
		       ? method_names[m]
		       : NULL;
}

/* Find "\r\n" in [p, end); NULL when absent. */
static char *find_crlf(char *p, const char *end)
{
	while (p < end) {
		char *cr = memchr(p, '\r', (size_t)(end - p));
		if (!cr || cr + 1 >= end)
			return NULL;
		if (cr[1] == '\n')
			return cr;
		p = cr + 1;
	}
	return NULL;
}

static bool is_version(struct sps_slice v)
{
	/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; only 2.0 is spoken here (RFC 3261 7.1) */
	return v.l == 7 && sps_slice_eq_ci(v, SPS_SLICE_LIT("SIP/2.0"));
}

/* Request-Line = Method SP Request-URI SP SIP-Version (single spaces, RFC 3261 7.1)
 * Status-Line = SIP-Version SP Status-Code SP Reason-Phrase */
static int parse_start(struct sps_sip_msg *m, struct sps_slice line, const char **why)
{
	const char *end = line.p + line.l;
	const char *sp1 = memchr(line.p, ' ', line.l);

	if (!sp1) {
		*why = "bad start line";
		return EBADMSG;
	}
	struct sps_slice first = sps_slice_make(line.p, (size_t)(sp1 - line.p));
	if (first.l >= 4 && sps_slice_eq_ci(sps_slice_make(first.p, 4), SPS_SLICE_LIT("SIP/"))) {
		if (!is_version(first)) {
			*why = "unsupported SIP version";
			return EBADMSG;
		}
		const char *c = sp1 + 1;
		if (end - c < 3 || (end - c > 3 && c[3] != ' ')) {
			*why = "bad status code";
			return EBADMSG;
		}
		uint32_t code;
		if (sps_slice_to_u32(sps_slice_make(c, 3), 699, &code) || code < 100) {
			*why = "bad status code";
			return EBADMSG;
		}
		m->status = code;
		m->reason = end - c > 3 ? sps_slice_make(c + 4, (size_t)(end - c - 4))
					: sps_slice_make(end, 0);
		for (size_t i = 0; i < m->reason.l; i++) {
			unsigned char ch = (unsigned char)m->reason.p[i];
			if (ch < ' ' && ch != '\t') {
				*why = "bad reason phrase";
				return EBADMSG;
			}
		}
		return 0;
	}
	m->is_request = true;
	for (size_t i = 0; i < first.l; i++) {
		if (!sps__is((unsigned char)first.p[i], SPS_C_TOKEN)) {
			*why = "bad method";
			return EBADMSG;
		}
	}
	if (!first.l) {
		*why = "bad request line";
		return EBADMSG;
	}
	m->method = first;
	m->meth = sps_sip_method_id(first);
	const char *u = sp1 + 1;
	const char *sp2 = memchr(u, ' ', (size_t)(end - u));
	if (!sp2 || sp2 == u) {
		*why = "bad request line";
		return EBADMSG;
	}
	struct sps_slice ver = sps_slice_make(sp2 + 1, (size_t)(end - sp2 - 1));
	if (memchr(ver.p, ' ', ver.l) || !ver.l) {
		*why = "bad request line";
		return EBADMSG;
	}
	if (!is_version(ver)) {
		*why = ver.l >= 4 && sps_slice_eq_ci(sps_slice_make(ver.p, 4), SPS_SLICE_LIT("SIP/"))
			       ? "unsupported SIP version"
			       : "bad request line";
		return EBADMSG;
	}
	m->ruri_s = sps_slice_make(u, (size_t)(sp2 - u));
	if (sps_uri_parse(m->ruri_s, &m->ruri, why))
		return EBADMSG;
	return 0;
}

/* Header entries allocated at first: enough for most messages, and a
 * power of two dividing SPS_SIP_MAX_HDRS (see add_hdr). */
#define HDRS_FIRST 32
_Static_assert(SPS_SIP_MAX_HDRS % HDRS_FIRST == 0 &&
		       ((SPS_SIP_MAX_HDRS / HDRS_FIRST) & (SPS_SIP_MAX_HDRS / HDRS_FIRST - 1)) == 0,
	       "SPS_SIP_MAX_HDRS must be HDRS_FIRST times a power of two");

/* Add one header entry; parse it. */
static int add_hdr(struct sps_sip_msg *m, enum sps_hdr_id id, struct sps_slice name,
		   struct sps_slice value, struct sps_arena *arena, const char **why)
{
	if (m->nhdrs >= SPS_SIP_MAX_HDRS) {
		*why = "too many headers";
		return EMSGSIZE;
	}
	/* the array starts at HDRS_FIRST entries and doubles when full, so its
	 * capacity is HDRS_FIRST << k: full exactly when nhdrs is a power of
	 * two >= HDRS_FIRST (most messages never grow it; nothing points into
	 * it until the parse is done) */
	if (m->nhdrs >= HDRS_FIRST && (m->nhdrs & (m->nhdrs - 1)) == 0) {
		struct sps_sip_hdr *bigger = sps_arena_zalloc(arena, 2 * m->nhdrs * sizeof(*bigger));
		if (!bigger) {
			*why = "out of memory";
			return ENOMEM;
		}
		memcpy(bigger, m->hdrs, m->nhdrs * sizeof(*bigger));
		m->hdrs = bigger;
	}
	struct sps_sip_hdr *h = &m->hdrs[m->nhdrs++];
	h->id = id;
	h->name = name;
	h->value = value;
	m->count[id]++;
	return sps__hdr_parse(m, h, arena, why);
}

/* Split a list header value at top-level commas (not inside quotes or < >). */
static int add_list(struct sps_sip_msg *m, enum sps_hdr_id id, struct sps_slice name,
		    struct sps_slice value, struct sps_arena *arena, const char **why)
{
	const char *p = value.p, *end = value.p + value.l, *start = p;
	bool angle = false;

	if (value.l == 0) {
		/* an empty Supported/Require/... is allowed; an empty Via/Contact/Route is not */
		if (id == SPS_HDR_SUPPORTED || id == SPS_HDR_ALLOW || id == SPS_HDR_UNSUPPORTED) {
			m->count[id]++;
			return 0;
		}
		*why = "empty header value";
		return EBADMSG;
	}
	for (; p <= end; p++) {
		if (p < end && *p == '"' && !angle) {
			const char *q = sps__skip_quoted(p, end);
			if (!q) {
				*why = "unterminated quoted string";
				return EBADMSG;
			}
			p = q - 1;
		} else if (p < end && *p == '<') {
			angle = true;
		} else if (p < end && *p == '>') {
			angle = false;
		} else if (p == end || (*p == ',' && !angle)) {
			struct sps_slice v = sps_slice_trim(sps_slice_make(start, (size_t)(p - start)));
			if (!v.l) {
				*why = "empty element in header list";
				return EBADMSG;
			}
			int err = add_hdr(m, id, name, v, arena, why);
			if (err)
				return err;
			start = p + 1;
		}
	}
	return 0;
}

int sps_sip_msg_parse(char *buf, size_t len, struct sps_arena *arena, struct sps_sip_msg **msgp,
		      const char **why)
{
	const char *dummy;
	char *p = buf, *end = buf + len;
	int err;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (len > SPS_SIP_MAX_MSG) {
		*why = "message too large";
		return EMSGSIZE;
	}
	/* RFC 3261 7.5: ignore CRLFs before the start line */
	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	struct sps_sip_msg *m = sps_arena_zalloc(arena, sizeof(*m));
	struct sps_sip_hdr *hdrs = sps_arena_zalloc(arena, HDRS_FIRST * sizeof(*hdrs));
	if (!m || !hdrs) {
		*why = "out of memory";
		return ENOMEM;
	}
	m->hdrs = hdrs;
	m->max_forwards = -1;
	m->expires = m->min_expires = m->content_length = -1;

	char *eol = find_crlf(p, end);
	if (!eol) {
		*why = "no end of start line";
		return EBADMSG;
	}
	if (eol - p > SPS_SIP_MAX_LINE) {
		*why = "start line too long";
		return EMSGSIZE;
	}
	err = parse_start(m, sps_slice_make(p, (size_t)(eol - p)), why);
	if (err)
		return err;
	p = eol + 2;

	/* header lines until the empty line */
	for (;;) {
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			p += 2;
			break;
		}
		char *line = p;
		eol = find_crlf(p, end);
		/* RFC 3261 7.3.1: a line starting with SP/HT continues the previous one */
		while (eol && eol + 2 < end && (eol[2] == ' ' || eol[2] == '\t')) {
			eol[0] = ' ';
			eol[1] = ' ';
			eol = find_crlf(eol + 2, end);
		}
		if (!eol) {
			*why = "no end of header section";
			return EBADMSG;
		}
		if (eol - line > SPS_SIP_MAX_LINE) {
			*why = "header line too long";
			return EMSGSIZE;
		}
		p = eol + 2;
		/* header-name HCOLON value; HCOLON = *( SP / HTAB ) ":" SWS */
		char *c = line;
		while (c < eol && sps__is((unsigned char)*c, SPS_C_TOKEN))
			c++;
		struct sps_slice name = sps_slice_make(line, (size_t)(c - line));
		while (c < eol && sps__is_ws(*c))
			c++;
		if (!name.l || c == eol || *c != ':') {
			*why = "bad header line";
			return EBADMSG;
		}
		struct sps_slice value = sps_slice_trim(sps_slice_make(c + 1, (size_t)(eol - c - 1)));
		enum sps_hdr_id id = sps_sip_hdr_id(name);
		err = sps__hdr_is_list(id) ? add_list(m, id, name, value, arena, why)
					   : add_hdr(m, id, name, value, arena, why);
		if (err)
			return err;
	}

	/* RFC 3261 18.3: with Content-Length, octets past the body are discarded;
	 * a Content-Length larger than the data is an error. */
	size_t avail = (size_t)(end - p);
	if (m->content_length >= 0) {
		if ((uint64_t)m->content_length > avail) {
			*why = "Content-Length larger than the message";
			return EBADMSG;
		}
		m->body = sps_slice_make(p, (size_t)m->content_length);
	} else {
		m->body = sps_slice_make(p, avail);
	}
	m->buf = sps_slice_make(buf, (size_t)(m->body.p + m->body.l - buf));
	*msgp = m;
	return 0;
}

const struct sps_sip_hdr *sps_sip_msg_hdr_next(const struct sps_sip_msg *m, enum sps_hdr_id id,
					       const struct sps_sip_hdr *prev)
{
	unsigned i = prev ? (unsigned)(prev - m->hdrs) + 1 : 0;
	for (; i < m->nhdrs; i++)
		if (m->hdrs[i].id == id)
			return &m->hdrs[i];
	return NULL;
}

const struct sps_sip_hdr *sps_sip_msg_hdr_by_name(const struct sps_sip_msg *m, const char *name)
{
	struct sps_slice n = sps_slice_cstr(name);
	enum sps_hdr_id id = sps_sip_hdr_id(n);
	for (unsigned i = 0; i < m->nhdrs; i++) {
		if (id != SPS_HDR_OTHER ? m->hdrs[i].id == id : sps_slice_eq_ci(m->hdrs[i].name, n))
			return &m->hdrs[i];
	}
	return NULL;
}
