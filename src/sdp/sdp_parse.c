/* sdp/sdp_parse: the SDP line parser (RFC 8866 5), zero-copy and bounded. */
#include <errno.h>
#include <string.h>

#include "sdp/sdp.h"

#define FAIL(code, msg)                                                                  \
	do {                                                                             \
		*why = (msg);                                                            \
		return (code);                                                           \
	} while (0)

/* Split the next space-separated token off *s (RFC 8866 9: fields are
 * separated by exactly one space; we also accept runs of spaces). */
static struct sps_slice next_tok(struct sps_slice *s)
{
	size_t i = 0;
	while (i < s->l && s->p[i] == ' ')
		i++;
	size_t start = i;
	while (i < s->l && s->p[i] != ' ')
		i++;
	struct sps_slice t = sps_slice_make(s->p + start, i - start);
	*s = sps_slice_make(s->p + i, s->l - i);
	return t;
}

static bool is_token_char(unsigned char c)
{
	/* RFC 8866 9 token-char: %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E */
	return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a || c == 0x2b || c == 0x2d ||
	       c == 0x2e || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
	       (c >= 0x5e && c <= 0x7e);
}

static bool is_token(struct sps_slice s)
{
	if (!s.l)
		return false;
	for (size_t i = 0; i < s.l; i++)
		if (!is_token_char((unsigned char)s.p[i]))
			return false;
	return true;
}

/* nettype addrtype address, as in c= and the tail of o= and a=rtcp. */
static int parse_conn(struct sps_slice s, struct sps_sdp_conn *c, const char **why)
{
	c->nettype = next_tok(&s);
	c->addrtype = next_tok(&s);
	c->addr = next_tok(&s);
	if (!is_token(c->nettype) || !is_token(c->addrtype) || !c->addr.l)
		FAIL(EBADMSG, "connection data needs \"IN IP4|IP6 address\" (RFC 8866 5.7)");
	if (sps_slice_trim(s).l)
		FAIL(EBADMSG, "extra fields after the connection address (RFC 8866 5.7)");
	for (size_t i = 0; i < c->addr.l; i++)
		if (!is_token_char((unsigned char)c->addr.p[i]) && c->addr.p[i] != '/' &&
		    c->addr.p[i] != ':') /* IP6-address (RFC 8866 9) */
			FAIL(EBADMSG, "bad character in a connection address (RFC 8866 5.7)");
	return 0;
}

static int parse_origin(struct sps_slice s, struct sps_sdp_origin *o, const char **why)
{
	o->user = next_tok(&s);
	o->sess_id = next_tok(&s);
	o->sess_version = next_tok(&s);
	if (!o->user.l || !o->sess_id.l || !o->sess_version.l)
		FAIL(EBADMSG, "o= needs 6 fields: username sess-id sess-version IN IP4 address "
			      "(RFC 8866 5.2)");
	for (size_t i = 0; i < o->sess_version.l; i++)
		if (o->sess_version.p[i] < '0' || o->sess_version.p[i] > '9' || i >= 20)
			FAIL(EBADMSG, "o= sess-version is not a number (RFC 8866 5.2)");
	const char *w = NULL;
	if (parse_conn(s, &o->conn, &w))
		FAIL(EBADMSG, "o= needs 6 fields: username sess-id sess-version IN IP4 address "
			      "(RFC 8866 5.2)");
	return 0;
}

static int parse_proto(struct sps_slice s, enum sps_sdp_proto *p)
{
	static const struct {
		const char *name;
		enum sps_sdp_proto p;
	} tab[] = {{"RTP/AVP", SPS_SDP_RTP_AVP},
		   {"RTP/SAVP", SPS_SDP_RTP_SAVP},
		   {"RTP/AVPF", SPS_SDP_RTP_AVPF},
		   {"RTP/SAVPF", SPS_SDP_RTP_SAVPF}};
	*p = SPS_SDP_PROTO_OTHER;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (sps_slice_eq_cstr_ci(s, tab[i].name))
			*p = tab[i].p;
	return 0;
}

/* m=<media> <port>[/<number of ports>] <proto> <fmt> ... (RFC 8866 5.14) */
static int parse_mline(struct sps_slice s, struct sps_sdp_media *m, const char **why)
{
	uint32_t v;
	m->type = next_tok(&s);
	struct sps_slice port = next_tok(&s);
	m->proto_s = next_tok(&s);
	m->fmts = sps_slice_trim(s);
	if (!is_token(m->type) || !port.l || !m->proto_s.l || !m->fmts.l)
		FAIL(EBADMSG, "m= needs \"media port proto fmt...\" (RFC 8866 5.14)");
	const char *slash = memchr(port.p, '/', port.l);
	struct sps_slice num = port;
	if (slash) {
		num.l = (size_t)(slash - port.p);
		struct sps_slice np = sps_slice_make(slash + 1, port.l - num.l - 1);
		if (sps_slice_to_u32(np, 65535, &v) || v == 0)
			FAIL(EBADMSG, "m= number of ports is not 1..65535 (RFC 8866 5.14)");
		m->nports = (uint16_t)v;
	}
	if (sps_slice_to_u32(num, 65535, &v))
		FAIL(EBADMSG, "m= port is not a number 0..65535 (RFC 8866 5.14)");
	m->port = (uint16_t)v;
	for (size_t i = 0; i < m->proto_s.l; i++)
		if (!is_token_char((unsigned char)m->proto_s.p[i]) && m->proto_s.p[i] != '/')
			FAIL(EBADMSG, "m= proto has a bad character (RFC 8866 5.14)");
	parse_proto(m->proto_s, &m->proto);
	return 0;
}

/* a=rtcp:<port> [<nettype> <addrtype> <connection-address>] (RFC 3605 2.1) */
static int parse_rtcp(struct sps_slice s, struct sps_sdp_media *m, const char **why)
{
	uint32_t v;
	struct sps_slice port = next_tok(&s);
	if (sps_slice_to_u32(port, 65535, &v))
		FAIL(EBADMSG, "a=rtcp port is not a number 0..65535 (RFC 3605 2.1)");
	m->rtcp_port = (uint16_t)v;
	m->has_rtcp = true;
	if (sps_slice_trim(s).l && parse_conn(s, &m->rtcp_conn, why))
		FAIL(EBADMSG, "a=rtcp address needs \"IN IP4|IP6 address\" (RFC 3605 2.1)");
	return 0;
}

static enum sps_sdp_dir dir_of(struct sps_slice name)
{
	if (sps_slice_eq(name, SPS_SLICE_LIT("sendrecv")))
		return SPS_SDP_SENDRECV;
	if (sps_slice_eq(name, SPS_SLICE_LIT("sendonly")))
		return SPS_SDP_SENDONLY;
	if (sps_slice_eq(name, SPS_SLICE_LIT("recvonly")))
		return SPS_SDP_RECVONLY;
	if (sps_slice_eq(name, SPS_SLICE_LIT("inactive")))
		return SPS_SDP_INACTIVE;
	return SPS_SDP_DIR_NONE;
}

/* a=<attribute-name>[:<attribute-value>] (RFC 8866 5.13) */
static int parse_attr(struct sps_sdp *sdp, struct sps_sdp_media *m, struct sps_slice s,
		      uint16_t line, const char **why)
{
	const char *colon = memchr(s.p, ':', s.l);
	struct sps_slice name = s, val = SPS_SLICE_NULL;
	if (colon) {
		name.l = (size_t)(colon - s.p);
		val = sps_slice_make(colon + 1, s.l - name.l - 1);
	}
	if (!is_token(name))
		FAIL(EBADMSG, "a= attribute name is not a token (RFC 8866 5.13)");
	enum sps_sdp_dir d = colon ? SPS_SDP_DIR_NONE : dir_of(name);
	if (d != SPS_SDP_DIR_NONE) {
		if (m)
			m->dir = d;
		else
			sdp->dir = d;
		return 0;
	}
	if (!m) /* the rest are media-level attributes */
		return 0;
	if (sps_slice_eq(name, SPS_SLICE_LIT("rtcp-mux"))) {
		m->rtcp_mux = true;
	} else if (sps_slice_eq(name, SPS_SLICE_LIT("rtcp")) && colon) {
		return parse_rtcp(val, m, why);
	} else if (sps_slice_eq(name, SPS_SLICE_LIT("crypto")) && colon) {
		if (m->ncrypto >= SPS_SDP_MAX_CRYPTO)
			FAIL(E2BIG, "more a=crypto lines in one m= section than allowed");
		struct sps_sdp_crypto *c = &m->crypto[m->ncrypto];
		int err = sps_sdp_crypto_parse(val, c, why);
		if (err)
			return err;
		for (size_t i = 0; i < m->ncrypto; i++)
			if (m->crypto[i].tag == c->tag)
				FAIL(EBADMSG, "two a=crypto lines with the same tag (RFC 4568 9.1)");
		c->line = line;
		m->ncrypto++;
	}
	return 0;
}

/* Split off the next line of *rest into *line; lines end in CRLF or LF
 * (RFC 8866 5: parsers should accept LF). A last line without an end is
 * accepted. Returns false for a CR not followed by LF. */
static bool next_line(struct sps_slice *rest, struct sps_slice *line, bool *crlf)
{
	const char *nl = memchr(rest->p, '\n', rest->l);
	size_t n = nl ? (size_t)(nl - rest->p) : rest->l;
	size_t skip = nl ? n + 1 : n;
	*line = sps_slice_make(rest->p, n);
	*crlf = false;
	if (n && rest->p[n - 1] == '\r') {
		line->l--;
		*crlf = true;
	}
	*rest = sps_slice_make(rest->p + skip, rest->l - skip);
	return !memchr(line->p, '\r', line->l);
}

int sps_sdp_parse(struct sps_slice s, struct sps_sdp *out, const char **why)
{
	static const char *unused;
	static struct sps_sdp zero;
	if (!why)
		why = &unused;
	if (s.l > SPS_SDP_MAX_SIZE)
		FAIL(E2BIG, "SDP body larger than 16384 bytes");
	if (!s.l || !s.p)
		FAIL(EBADMSG, "empty SDP body");
	if (memchr(s.p, '\0', s.l))
		FAIL(EBADMSG, "NUL byte in the SDP body");

	struct sps_sdp *sdp = out;
	*sdp = zero;
	struct sps_slice rest = s, line;
	bool crlf, have_o = false, have_s = false;
	int err;
	while (rest.l) {
		if (!next_line(&rest, &line, &crlf))
			FAIL(EBADMSG, "CR without LF inside a line (RFC 8866 5)");
		if (sdp->nlines == 0)
			sdp->crlf = crlf;
		if (!line.l && !rest.l) /* trailing empty line after the last CRLF */
			break;
		if (line.l < 2 || line.p[1] != '=' || line.p[0] < 'a' || line.p[0] > 'z')
			FAIL(EBADMSG, "a line is not \"<letter>=<value>\" (RFC 8866 5)");
		if (sdp->nlines >= SPS_SDP_MAX_LINES)
			FAIL(E2BIG, "more than 256 lines in the SDP body");
		char type = line.p[0];
		struct sps_slice val = sps_slice_make(line.p + 2, line.l - 2);
		uint16_t idx = (uint16_t)sdp->nlines;
		if (idx == 0 && !(type == 'v' && sps_slice_eq(val, SPS_SLICE_LIT("0"))))
			FAIL(EBADMSG, "the SDP body does not start with v=0 (RFC 8866 5.1)");
		if (idx > 0 && type == 'v')
			FAIL(EBADMSG, "a second v= line (RFC 8866 5)");

		struct sps_sdp_media *m = sdp->nmedia ? &sdp->media[sdp->nmedia - 1] : NULL;
		if (type == 'm') {
			if (sdp->nmedia >= SPS_SDP_MAX_MEDIA)
				FAIL(E2BIG, "more than 8 m= sections in the SDP body");
			if (m)
				m->end = idx;
			m = &sdp->media[sdp->nmedia++];
			if ((err = parse_mline(val, m, why)))
				return err;
			m->line = idx;
		}
		sdp->lines[idx].type = type;
		sdp->lines[idx].val = val;
		sdp->lines[idx].media = (int8_t)(m ? (int)(m - sdp->media) : -1);
		sdp->nlines++;

		switch (type) {
		case 'o':
			if (m || have_o)
				FAIL(EBADMSG, "o= must appear once, before the first m= (RFC 8866 5.2)");
			if ((err = parse_origin(val, &sdp->origin, why)))
				return err;
			have_o = true;
			break;
		case 's':
			if (m || have_s)
				FAIL(EBADMSG, "s= must appear once, before the first m= (RFC 8866 5.3)");
			sdp->name = val;
			have_s = true;
			break;
		case 'c': {
			struct sps_sdp_conn *c = m ? &m->conn : &sdp->conn;
			bool *has = m ? &m->has_conn : &sdp->has_conn;
			if (*has)
				FAIL(EBADMSG, "two c= lines at one level (RFC 8866 5.7)");
			if ((err = parse_conn(val, c, why)))
				return err;
			*has = true;
			break;
		}
		case 'a':
			if ((err = parse_attr(sdp, m, val, idx, why)))
				return err;
			break;
		default: /* other lines (t=, b=, k=, i=, ...) are kept as they are */
			break;
		}
	}
	if (!have_o)
		FAIL(EBADMSG, "no o= line (RFC 8866 5.2)");
	if (!have_s)
		FAIL(EBADMSG, "no s= line (RFC 8866 5.3)");
	if (sdp->nmedia)
		sdp->media[sdp->nmedia - 1].end = (uint16_t)sdp->nlines;
	for (size_t i = 0; i < sdp->nmedia; i++)
		if (!sdp->has_conn && !sdp->media[i].has_conn)
			FAIL(EBADMSG, "an m= section has no c= line and the session has none "
				      "(RFC 8866 5.7)");
	return 0;
}

enum sps_sdp_dir sps_sdp_media_dir(const struct sps_sdp *sdp, size_t i)
{
	if (i < sdp->nmedia && sdp->media[i].dir != SPS_SDP_DIR_NONE)
		return sdp->media[i].dir;
	return sdp->dir != SPS_SDP_DIR_NONE ? sdp->dir : SPS_SDP_SENDRECV;
}

const struct sps_sdp_conn *sps_sdp_media_conn(const struct sps_sdp *sdp, size_t i)
{
	if (i < sdp->nmedia && sdp->media[i].has_conn)
		return &sdp->media[i].conn;
	return sdp->has_conn ? &sdp->conn : NULL;
}

const char *sps_sdp_proto_name(enum sps_sdp_proto p)
{
	switch (p) {
	case SPS_SDP_RTP_AVP:
		return "RTP/AVP";
	case SPS_SDP_RTP_SAVP:
		return "RTP/SAVP";
	case SPS_SDP_RTP_AVPF:
		return "RTP/AVPF";
	case SPS_SDP_RTP_SAVPF:
		return "RTP/SAVPF";
	default:
		return NULL;
	}
}

const char *sps_sdp_dir_name(enum sps_sdp_dir d)
{
	switch (d) {
	case SPS_SDP_SENDRECV:
		return "sendrecv";
	case SPS_SDP_SENDONLY:
		return "sendonly";
	case SPS_SDP_RECVONLY:
		return "recvonly";
	case SPS_SDP_INACTIVE:
		return "inactive";
	default:
		return NULL;
	}
}
