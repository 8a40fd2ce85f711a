/* sip/hdr: the parsers of single header values (RFC 3261 section 20, 25.1).
 * Each takes a trimmed value slice and fills a struct allocated in the arena. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sip/chars.h"
#include "sip/msg_int.h"

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && sps__is_ws(*p))
		p++;
	return p;
}

static const char *skip_token(const char *p, const char *end)
{
	while (p < end && sps__is((unsigned char)*p, SPS_C_TOKEN))
		p++;
	return p;
}

/* RFC 3261 25.1 quoted-string: qdtext and quoted-pair ("\" then any octet but CR/LF). */
const char *sps__skip_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (p + 1 >= end || p[1] == '\r' || p[1] == '\n')
				return NULL;
			p++;
		} else if (*p == '"') {
			return p + 1;
		} else if (*p == '\r' || *p == '\n') {
			return NULL;
		}
	}
	return NULL;
}

typedef int(param_h)(struct sps_slice name, struct sps_slice val, void *arg);

/* Generic header parameters (RFC 3261 25.1 generic-param): *( SEMI token
 * [ EQUAL ( token / host / quoted-string ) ] ), with SWS around ';' and '='.
 * s starts at the first ';' (or is empty). Calls cb for each; a flag
 * parameter gets a zero-length value with p set. Quoted values keep quotes. */
static int parse_gparams(struct sps_slice s, param_h *cb, void *arg)
{
	const char *p = s.p, *end = s.p + s.l;

	for (;;) {
		p = skip_ws(p, end);
		if (p == end)
			return 0;
		if (*p != ';')
			return EBADMSG;
		p = skip_ws(p + 1, end);
		const char *n = p;
		p = skip_token(p, end);
		if (p == n)
			return EBADMSG;
		struct sps_slice name = sps_slice_make(n, (size_t)(p - n));
		struct sps_slice val = sps_slice_make(p, 0);
		p = skip_ws(p, end);
		if (p < end && *p == '=') {
			p = skip_ws(p + 1, end);
			const char *v = p;
			if (p < end && *p == '"') {
				p = sps__skip_quoted(p, end);
				if (!p)
					return EBADMSG;
			} else {
				while (p < end && (sps__is((unsigned char)*p, SPS_C_TOKEN) || *p == ':' ||
						   *p == '[' || *p == ']'))
					p++;
			}
			if (p == v)
				return EBADMSG;
			val = sps_slice_make(v, (size_t)(p - v));
		}
		if (cb) {
			int err = cb(name, val, arg);
			if (err)
				return err;
		}
	}
}

/* Parameters start at the first ';', raw slice stored without it. */
static struct sps_slice params_raw(struct sps_slice s)
{
	const char *p = skip_ws(s.p, s.p + s.l);
	if (p < s.p + s.l && *p == ';')
		p++;
	return sps_slice_make(p, (size_t)(s.p + s.l - p));
}

static int u32_of(struct sps_slice v, uint32_t max, uint32_t *out)
{
	return sps_slice_to_u32(v, max, out) ? EBADMSG : 0;
}

/* ---- Via (RFC 3261 20.42, 25.1 via-parm; RFC 3581 rport) ---- */

static int via_param(struct sps_slice name, struct sps_slice val, void *arg)
{
	struct sps_via *v = arg;
	uint32_t n;

	if (sps_slice_eq_cstr_ci(name, "branch")) {
		if (!val.l)
			return EBADMSG;
		v->branch = val;
	} else if (sps_slice_eq_cstr_ci(name, "received")) {
		if (!val.l)
			return EBADMSG;
		v->received = val;
	} else if (sps_slice_eq_cstr_ci(name, "maddr")) {
		if (!val.l)
			return EBADMSG;
		v->maddr = val;
	} else if (sps_slice_eq_cstr_ci(name, "ttl")) {
		if (u32_of(val, 255, &n))
			return EBADMSG;
		v->ttl = (int)n;
	} else if (sps_slice_eq_cstr_ci(name, "rport")) {
		v->rport = true;
		if (val.l) {
			if (u32_of(val, 65535, &n) || n == 0)
				return EBADMSG;
			v->rport_val = (uint16_t)n;
		}
	}
	return 0;
}

static int parse_via(struct sps_slice s, struct sps_via *v)
{
	const char *p = s.p, *end = s.p + s.l, *t;
	struct sps_slice parts[3];

	v->raw = s;
	v->ttl = -1;
	/* sent-protocol = protocol-name SLASH protocol-version SLASH transport, SLASH = SWS "/" SWS */
	for (int i = 0; i < 3; i++) {
		p = skip_ws(p, end);
		t = p;
		p = skip_token(p, end);
		if (p == t)
			return EBADMSG;
		parts[i] = sps_slice_make(t, (size_t)(p - t));
		p = skip_ws(p, end);
		if (i < 2) {
			if (p == end || *p != '/')
				return EBADMSG;
			p++;
		}
	}
	if (!sps_slice_eq_cstr_ci(parts[0], "SIP"))
		return EBADMSG;
	v->proto = sps_slice_make(parts[0].p, (size_t)(parts[1].p + parts[1].l - parts[0].p));
	v->transport = parts[2];
	/* LWS sent-by */
	if (p == parts[2].p + parts[2].l)
		return EBADMSG; /* transport must be followed by white space */
	t = p;
	if (p < end && *p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (!rb)
			return EBADMSG;
		p = rb + 1;
	} else {
		while (p < end && sps__is((unsigned char)*p, SPS_C_HOST))
			p++;
	}
	v->host = sps_slice_make(t, (size_t)(p - t));
	if (!v->host.l)
		return EBADMSG;
	p = skip_ws(p, end);
	if (p < end && *p == ':') {
		p = skip_ws(p + 1, end);
		t = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		uint32_t port;
		if (u32_of(sps_slice_make(t, (size_t)(p - t)), 65535, &port) || port == 0)
			return EBADMSG;
		v->port = (uint16_t)port;
	}
	struct sps_slice rest = sps_slice_make(p, (size_t)(end - p));
	v->params = params_raw(rest);
	return parse_gparams(rest, via_param, v);
}

/* ---- name-addr / addr-spec (RFC 3261 20.10, 20.20, 20.39, 25.1) ---- */

struct na_ctx {
	struct sps_nameaddr *na;
	struct sps_contact *ct; /* Contact only */
};

static int na_param(struct sps_slice name, struct sps_slice val, void *arg)
{
	struct na_ctx *c = arg;
	uint32_t n;

	if (sps_slice_eq_cstr_ci(name, "tag")) {
		if (!val.l)
			return EBADMSG;
		c->na->tag = val;
	}
	if (!c->ct)
		return 0;
	if (sps_slice_eq_cstr_ci(name, "expires")) {
		if (u32_of(val, UINT32_MAX, &n))
			return EBADMSG;
		c->ct->expires = n;
	} else if (sps_slice_eq_cstr_ci(name, "q")) {
		/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
		if (val.l == 0 || val.l > 5 || (val.p[0] != '0' && val.p[0] != '1') ||
		    (val.l > 1 && val.p[1] != '.'))
			return EBADMSG;
		int q = (val.p[0] - '0') * 1000, scale = 100;
		for (size_t i = 2; i < val.l; i++, scale /= 10) {
			if (val.p[i] < '0' || val.p[i] > '9')
				return EBADMSG;
			q += (val.p[i] - '0') * scale;
		}
		if (q > 1000)
			return EBADMSG;
		c->ct->q = q;
	} else if (sps_slice_eq_cstr_ci(name, "+sip.instance")) {
		c->ct->instance = val;
	} else if (sps_slice_eq_cstr_ci(name, "reg-id")) {
		if (u32_of(val, UINT32_MAX, &n))
			return EBADMSG;
		c->ct->reg_id = val;
	}
	return 0;
}

static int parse_nameaddr(struct sps_slice s, struct sps_nameaddr *na, struct sps_contact *ct)
{
	const char *p = s.p, *end = s.p + s.l, *uri_end, *after;
	struct na_ctx c = {na, ct};

	na->raw = s;
	if (p < end && *p == '"') {
		const char *q = sps__skip_quoted(p, end);
		if (!q)
			return EBADMSG;
		na->dname = sps_slice_make(p, (size_t)(q - p));
		p = skip_ws(q, end);
		if (p == end || *p != '<')
			return EBADMSG;
	} else {
		/* *(token LWS) then '<', or an addr-spec */
		const char *t = p;
		while (t < end && (sps__is((unsigned char)*t, SPS_C_TOKEN) || sps__is_ws(*t)))
			t++;
		if (t < end && *t == '<') {
			na->dname = sps_slice_trim(sps_slice_make(p, (size_t)(t - p)));
			p = t;
		}
	}
	if (p < end && *p == '<') {
		na->angle = true;
		p++;
		uri_end = memchr(p, '>', (size_t)(end - p));
		if (!uri_end)
			return EBADMSG;
		after = uri_end + 1;
	} else {
		/* addr-spec: a URI with ',', '?' or ';' must be in < > (RFC 3261 20) */
		uri_end = memchr(p, ';', (size_t)(end - p));
		if (!uri_end)
			uri_end = end;
		while (uri_end > p && sps__is_ws(uri_end[-1]))
			uri_end--;
		if (memchr(p, '?', (size_t)(uri_end - p)))
			return EBADMSG;
		after = uri_end;
	}
	na->uri_s = sps_slice_make(p, (size_t)(uri_end - p));
	/* no white space inside the URI, in or out of < > */
	for (size_t i = 0; i < na->uri_s.l; i++)
		if ((unsigned char)na->uri_s.p[i] <= ' ')
			return EBADMSG;
	const char *why;
	if (sps_uri_parse(na->uri_s, &na->uri, &why))
		return EBADMSG;
	struct sps_slice rest = sps_slice_make(after, (size_t)(end - after));
	na->params = params_raw(rest);
	return parse_gparams(rest, na_param, &c);
}

static int parse_contact(struct sps_slice s, struct sps_contact *ct)
{
	ct->expires = -1;
	ct->q = -1;
	if (s.l == 1 && s.p[0] == '*') {
		ct->star = true;
		ct->na.raw = s;
		return 0;
	}
	return parse_nameaddr(s, &ct->na, ct);
}

/* ---- credentials and challenges (RFC 3261 25.1, RFC 7616) ---- */

static int parse_auth(struct sps_slice s, struct sps_auth *a)
{
	const char *p = s.p, *end = s.p + s.l, *t;

	a->raw = s;
	p = skip_token(p, end);
	a->scheme = sps_slice_make(s.p, (size_t)(p - s.p));
	if (!a->scheme.l)
		return EBADMSG;
	if (p < end && !sps__is_ws(*p))
		return EBADMSG;
	for (bool first = true;; first = false) {
		p = skip_ws(p, end);
		if (p == end)
			return first && !sps_slice_eq_cstr_ci(a->scheme, "Digest") ? 0 : (first ? EBADMSG : 0);
		if (!first) {
			if (*p != ',')
				return EBADMSG;
			p = skip_ws(p + 1, end);
		}
		t = p;
		p = skip_token(p, end);
		struct sps_slice name = sps_slice_make(t, (size_t)(p - t)), val;
		if (!name.l)
			return EBADMSG;
		p = skip_ws(p, end);
		if (p == end || *p != '=')
			return EBADMSG;
		p = skip_ws(p + 1, end);
		if (p < end && *p == '"') {
			const char *q = sps__skip_quoted(p, end);
			if (!q)
				return EBADMSG;
			val = sps_slice_make(p + 1, (size_t)(q - p - 2));
			p = q;
		} else {
			t = p;
			p = skip_token(p, end);
			val = sps_slice_make(t, (size_t)(p - t));
			if (!val.l)
				return EBADMSG;
		}
		static const struct {
			const char *n;
			size_t off;
		} fields[] = {
			{"username", offsetof(struct sps_auth, username)},
			{"realm", offsetof(struct sps_auth, realm)},
			{"nonce", offsetof(struct sps_auth, nonce)},
			{"uri", offsetof(struct sps_auth, uri)},
			{"response", offsetof(struct sps_auth, response)},
			{"algorithm", offsetof(struct sps_auth, algorithm)},
			{"cnonce", offsetof(struct sps_auth, cnonce)},
			{"opaque", offsetof(struct sps_auth, opaque)},
			{"qop", offsetof(struct sps_auth, qop)},
			{"nc", offsetof(struct sps_auth, nc)},
			{"stale", offsetof(struct sps_auth, stale)},
			{"domain", offsetof(struct sps_auth, domain)},
			{"userhash", offsetof(struct sps_auth, userhash)},
		};
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			if (sps_slice_eq_cstr_ci(name, fields[i].n)) {
				struct sps_slice *f = (struct sps_slice *)((char *)a + fields[i].off);
				if (f->p)
					return EBADMSG; /* a parameter given twice */
				*f = val;
				break;
			}
		}
	}
}

/* ---- scalars ---- */

static int parse_delta(struct sps_slice v, int64_t *out)
{
	uint32_t n;
	if (u32_of(v, UINT32_MAX, &n))
		return EBADMSG;
	*out = n;
	return 0;
}

static int parse_cseq(struct sps_slice v, struct sps_cseq *c)
{
	const char *p = v.p, *end = v.p + v.l, *t = p;
	uint32_t n;

	while (p < end && *p >= '0' && *p <= '9')
		p++;
	/* RFC 3261 8.1.1.5: the sequence number MUST be less than 2**31 */
	if (u32_of(sps_slice_make(t, (size_t)(p - t)), 0x7fffffffu, &n))
		return EBADMSG;
	if (p == end || !sps__is_ws(*p))
		return EBADMSG;
	p = skip_ws(p, end);
	t = p;
	p = skip_token(p, end);
	if (p == t || p != end)
		return EBADMSG;
	c->num = n;
	c->method = sps_slice_make(t, (size_t)(p - t));
	c->meth = sps_sip_method_id(c->method);
	return 0;
}

/* RFC 3261 25.1 SIP-date = rfc1123-date: wkday "," SP date1 SP time SP "GMT". */
static int check_date(struct sps_slice v)
{
	static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	/* "Sat, 15 Oct 2005 04:44:56 GMT" */
	static const char shape[] = "www, dd mmm yyyy dd:dd:dd GMT";
	if (v.l != sizeof(shape) - 1)
		return EBADMSG;
	bool ok = false;
	for (int i = 0; i < 7; i++)
		ok |= memcmp(v.p, days[i], 3) == 0;
	if (!ok)
		return EBADMSG;
	ok = false;
	for (int i = 0; i < 12; i++)
		ok |= memcmp(v.p + 8, mons[i], 3) == 0;
	if (!ok)
		return EBADMSG;
	for (size_t i = 0; i < v.l; i++) {
		char s = shape[i];
		if (s == 'd' || s == 'y') {
			if (v.p[i] < '0' || v.p[i] > '9')
				return EBADMSG;
		} else if (s != 'w' && s != 'm' && v.p[i] != s) {
			return EBADMSG;
		}
	}
	return 0;
}

/* Warning = warn-code SP warn-agent SP warn-text, warn-code = 3DIGIT (RFC 3261 20.43). */
static int check_warning(struct sps_slice v)
{
	if (v.l < 5 || v.p[3] != ' ')
		return EBADMSG;
	for (int i = 0; i < 3; i++)
		if (v.p[i] < '0' || v.p[i] > '9')
			return EBADMSG;
	return 0;
}

/* Retry-After = delta-seconds [ comment ] *( SEMI retry-param ) (RFC 3261 20.33). */
static int check_retry_after(struct sps_slice v)
{
	size_t i = 0;
	int64_t d;
	while (i < v.l && v.p[i] >= '0' && v.p[i] <= '9')
		i++;
	return parse_delta(sps_slice_make(v.p, i), &d);
}

bool sps__hdr_is_list(enum sps_hdr_id id)
{
	switch (id) {
	case SPS_HDR_VIA:
	case SPS_HDR_CONTACT:
	case SPS_HDR_ROUTE:
	case SPS_HDR_RECORD_ROUTE:
	case SPS_HDR_PATH:
	case SPS_HDR_SUPPORTED:
	case SPS_HDR_REQUIRE:
	case SPS_HDR_PROXY_REQUIRE:
	case SPS_HDR_UNSUPPORTED:
	case SPS_HDR_ALLOW:
		return true;
	default:
		return false;
	}
}

#define NEW(type) ((type *)sps_arena_zalloc(arena, sizeof(type)))

int sps__hdr_parse(struct sps_sip_msg *m, struct sps_sip_hdr *h, struct sps_arena *arena,
		   const char **why)
{
	struct sps_slice v = h->value;
	int err = 0;
	uint32_t n;

	switch (h->id) {
	case SPS_HDR_VIA: {
		struct sps_via *via = NEW(struct sps_via);
		if (!via)
			return ENOMEM;
		if (parse_via(v, via)) {
			*why = "bad Via header";
			return EBADMSG;
		}
		h->parsed = via;
		if (!m->via)
			m->via = via;
		break;
	}
	case SPS_HDR_FROM:
	case SPS_HDR_TO:
	case SPS_HDR_ROUTE:
	case SPS_HDR_RECORD_ROUTE:
	case SPS_HDR_PATH:
	case SPS_HDR_REFER_TO: {
		struct sps_nameaddr *na = NEW(struct sps_nameaddr);
		if (!na)
			return ENOMEM;
		if (parse_nameaddr(v, na, NULL)) {
			*why = h->id == SPS_HDR_FROM ? "bad From header"
			       : h->id == SPS_HDR_TO ? "bad To header"
						     : "bad name-addr header";
			return EBADMSG;
		}
		h->parsed = na;
		if (h->id == SPS_HDR_FROM && !m->from)
			m->from = na;
		else if (h->id == SPS_HDR_TO && !m->to)
			m->to = na;
		break;
	}
	case SPS_HDR_CONTACT: {
		struct sps_contact *ct = NEW(struct sps_contact);
		if (!ct)
			return ENOMEM;
		if (parse_contact(v, ct)) {
			*why = "bad Contact header";
			return EBADMSG;
		}
		h->parsed = ct;
		break;
	}
	case SPS_HDR_WWW_AUTHENTICATE:
	case SPS_HDR_PROXY_AUTHENTICATE:
	case SPS_HDR_AUTHORIZATION:
	case SPS_HDR_PROXY_AUTHORIZATION: {
		struct sps_auth *a = NEW(struct sps_auth);
		if (!a)
			return ENOMEM;
		if (parse_auth(v, a)) {
			*why = "bad authentication header";
			return EBADMSG;
		}
		h->parsed = a;
		break;
	}
	case SPS_HDR_CALL_ID:
		/* callid = word [ "@" word ] */
		for (size_t i = 0; i < v.l; i++)
			if (!sps__is((unsigned char)v.p[i], SPS_C_WORD) && v.p[i] != '@')
				err = EBADMSG;
		if (err || !v.l) {
			*why = "bad Call-ID header";
			return EBADMSG;
		}
		if (!m->call_id.p)
			m->call_id = v;
		break;
	case SPS_HDR_CSEQ:
		if (parse_cseq(v, &m->cseq)) {
			*why = "bad CSeq header";
			return EBADMSG;
		}
		m->has_cseq = true;
		break;
	case SPS_HDR_MAX_FORWARDS:
		if (u32_of(v, 255, &n)) {
			*why = "bad Max-Forwards header";
			return EBADMSG;
		}
		if (m->max_forwards < 0)
			m->max_forwards = (int)n;
		break;
	case SPS_HDR_EXPIRES:
		if (parse_delta(v, m->expires < 0 ? &m->expires : &(int64_t){0})) {
			*why = "bad Expires header";
			return EBADMSG;
		}
		break;
	case SPS_HDR_MIN_EXPIRES:
		if (parse_delta(v, m->min_expires < 0 ? &m->min_expires : &(int64_t){0})) {
			*why = "bad Min-Expires header";
			return EBADMSG;
		}
		break;
	case SPS_HDR_CONTENT_LENGTH:
		if (u32_of(v, UINT32_MAX, &n)) {
			*why = "bad Content-Length header";
			return EBADMSG;
		}
		/* more than one is refused by sps_sip_msg_validate (RFC 4475 3.3.9) */
		if (m->content_length < 0)
			m->content_length = n;
		break;
	case SPS_HDR_CONTENT_TYPE:
		if (!m->content_type.p)
			m->content_type = v;
		break;
	case SPS_HDR_USER_AGENT:
		if (!m->user_agent.p)
			m->user_agent = v;
		break;
	case SPS_HDR_SUPPORTED:
	case SPS_HDR_REQUIRE:
	case SPS_HDR_PROXY_REQUIRE:
	case SPS_HDR_UNSUPPORTED:
	case SPS_HDR_ALLOW:
		if (skip_token(v.p, v.p + v.l) != v.p + v.l || !v.l) {
			*why = "bad option tag";
			return EBADMSG;
		}
		break;
	case SPS_HDR_DATE:
		if (check_date(v)) {
			*why = "bad Date header";
			return EBADMSG;
		}
		break;
	case SPS_HDR_WARNING:
		if (check_warning(v)) {
			*why = "bad Warning header";
			return EBADMSG;
		}
		break;
	case SPS_HDR_RETRY_AFTER:
		if (check_retry_after(v)) {
			*why = "bad Retry-After header";
			return EBADMSG;
		}
		break;
	default:
		break;
	}
	return 0;
}

/* ---- RFC 3261 18.2.1 / RFC 3581 4: received and rport on the top Via ---- */

static bool param_named(struct sps_slice piece, const char *name)
{
	size_t n = 0;
	while (n < piece.l && piece.p[n] != '=' && piece.p[n] != ' ' && piece.p[n] != '\t')
		n++;
	return sps_slice_eq_cstr_ci(sps_slice_make(piece.p, n), name);
}

int sps_sip_msg_via_received(struct sps_sip_msg *m, const char *ip, uint16_t port,
			     struct sps_arena *arena)
{
	struct sps_sip_hdr *h = NULL;
	for (unsigned i = 0; i < m->nhdrs; i++) {
		if (m->hdrs[i].id == SPS_HDR_VIA) {
			h = &m->hdrs[i];
			break;
		}
	}
	if (!h || !h->parsed || !ip)
		return EINVAL;
	struct sps_via *v = h->parsed;
	bool add_received = v->rport || !sps_slice_eq_cstr_ci(v->host, ip);
	if (!add_received && !v->rport)
		return 0;

	const char *vend = h->value.p + h->value.l;
	const char *pend = v->params.l ? v->params.p - 1 : vend; /* the first ';' */
	struct sps_slice prefix = sps_slice_trim(sps_slice_make(h->value.p, (size_t)(pend - h->value.p)));
	size_t cap = h->value.l + strlen(ip) + 32;
	char *out = sps_arena_zalloc(arena, cap);
	if (!out)
		return ENOMEM;
	size_t n = 0;
	memcpy(out, prefix.p, prefix.l);
	n = prefix.l;
	/* keep every parameter but received and rport, verbatim */
	const char *p = v->params.l ? v->params.p : vend;
	while (p < vend) {
		const char *s = p;
		while (p < vend && *p != ';') {
			if (*p == '"') {
				const char *q = sps__skip_quoted(p, vend);
				p = q ? q : vend;
			} else {
				p++;
			}
		}
		struct sps_slice piece = sps_slice_trim(sps_slice_make(s, (size_t)(p - s)));
		if (p < vend)
			p++; /* ';' */
		if (!piece.l || param_named(piece, "received") || param_named(piece, "rport"))
			continue;
		out[n++] = ';';
		memcpy(out + n, piece.p, piece.l);
		n += piece.l;
	}
	const char *recv = out + n + strlen(";received=");
	if (add_received)
		n += (size_t)snprintf(out + n, cap - n, ";received=%s", ip);
	size_t rlen = strlen(ip);
	if (v->rport)
		n += (size_t)snprintf(out + n, cap - n, ";rport=%u", (unsigned)port);
	h->value = sps_slice_make(out, n);
	v->raw = h->value;
	if (add_received)
		v->received = sps_slice_make(recv, rlen);
	if (v->rport)
		v->rport_val = port;
	return 0;
}
