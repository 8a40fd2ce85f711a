/* sip/uri: parsing SIP/SIPS/tel URIs (RFC 3261 19.1, 25.1; RFC 3966). */
#include "sip/uri.h"

#include <errno.h>
#include <string.h>

#include "sip/chars.h"

/* Validate s as 1*(chars of class cls / escaped). Returns false on a bad char or escape. */
static bool span_ok(struct sps_slice s, unsigned cls, bool allow_empty)
{
	if (s.l == 0)
		return allow_empty;
	for (size_t i = 0; i < s.l; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '%') {
			if (i + 2 >= s.l || sps__hexval((unsigned char)s.p[i + 1]) < 0 ||
			    sps__hexval((unsigned char)s.p[i + 2]) < 0)
				return false;
			i += 2;
			continue;
		}
		if (!sps__is(c, SPS_C_ALNUM | SPS_C_MARK | cls))
			return false;
	}
	return true;
}

/* RFC 3261 25.1 host: hostname / IPv4address / IPv6reference. */
static int parse_host(struct sps_slice s, bool *ipv6)
{
	if (s.l == 0)
		return EBADMSG;
	if (s.p[0] == '[') {
		if (s.l < 4 || s.p[s.l - 1] != ']')
			return EBADMSG;
		for (size_t i = 1; i + 1 < s.l; i++) {
			unsigned char c = (unsigned char)s.p[i];
			if (!(sps__is(c, SPS_C_HEX) || c == ':' || c == '.'))
				return EBADMSG;
		}
		*ipv6 = true;
		return 0;
	}
	for (size_t i = 0; i < s.l; i++)
		if (!sps__is((unsigned char)s.p[i], SPS_C_HOST))
			return EBADMSG;
	if (s.p[0] == '-' || s.p[0] == '.')
		return EBADMSG;
	*ipv6 = false;
	return 0;
}

/* uri-parameters (RFC 3261 25.1): each ";" pname ["=" pvalue], both 1*paramchar. */
#define MAX_URI_PARAMS 32

static int parse_params(struct sps_slice s, struct sps_uri *u)
{
	const char *p = s.p, *end = s.p + s.l;
	struct sps_slice seen[MAX_URI_PARAMS];
	unsigned nseen = 0;

	while (p < end) {
		const char *e = memchr(p, ';', (size_t)(end - p));
		if (!e)
			e = end;
		struct sps_slice prm = sps_slice_make(p, (size_t)(e - p));
		const char *eq = memchr(prm.p, '=', prm.l);
		struct sps_slice name = prm, val = SPS_SLICE_NULL;
		if (eq) {
			name.l = (size_t)(eq - prm.p);
			val = sps_slice_make(eq + 1, prm.l - name.l - 1);
			if (!span_ok(val, SPS_C_PARAM, false))
				return EBADMSG;
		}
		if (!span_ok(name, SPS_C_PARAM, false))
			return EBADMSG;
		/* a parameter name appears once at most (RFC 3261 19.1.1); bounded count */
		if (nseen == MAX_URI_PARAMS)
			return EBADMSG;
		for (unsigned i = 0; i < nseen; i++)
			if (sps_slice_eq_ci(seen[i], name))
				return EBADMSG;
		seen[nseen++] = name;
		if (sps_slice_eq_cstr_ci(name, "transport"))
			u->transport = val;
		else if (sps_slice_eq_cstr_ci(name, "maddr"))
			u->maddr = val;
		else if (sps_slice_eq_cstr_ci(name, "user"))
			u->user_param = val;
		else if (sps_slice_eq_cstr_ci(name, "method"))
			u->method = val;
		else if (sps_slice_eq_cstr_ci(name, "lr"))
			u->lr = true;
		p = e + 1;
		if (e == end)
			break;
		if (p == end) /* trailing ';' */
			return EBADMSG;
	}
	return 0;
}

/* headers (RFC 3261 25.1): hname "=" hvalue *("&" hname "=" hvalue). */
static int check_headers(struct sps_slice s)
{
	const char *p = s.p, *end = s.p + s.l;
	while (p <= end) {
		const char *e = memchr(p, '&', (size_t)(end - p));
		if (!e)
			e = end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		if (!eq)
			return EBADMSG;
		if (!span_ok(sps_slice_make(p, (size_t)(eq - p)), SPS_C_HNV, false) ||
		    !span_ok(sps_slice_make(eq + 1, (size_t)(e - eq - 1)), SPS_C_HNV, true))
			return EBADMSG;
		if (e == end)
			break;
		p = e + 1;
	}
	return 0;
}

static int parse_sip(struct sps_slice rest, struct sps_uri *u, const char **why)
{
	const char *p = rest.p, *end = rest.p + rest.l;

	/* userinfo: '@' cannot appear unescaped anywhere else in a SIP URI */
	const char *at = memchr(p, '@', rest.l);
	if (at) {
		struct sps_slice ui = sps_slice_make(p, (size_t)(at - p));
		const char *colon = memchr(ui.p, ':', ui.l);
		u->user = ui;
		if (colon) {
			u->user.l = (size_t)(colon - ui.p);
			u->password = sps_slice_make(colon + 1, ui.l - u->user.l - 1);
			if (!span_ok(u->password, SPS_C_PASSWD, true)) {
				*why = "bad password in URI";
				return EBADMSG;
			}
		}
		if (!span_ok(u->user, SPS_C_USER, false)) {
			*why = "bad user part in URI";
			return EBADMSG;
		}
		p = at + 1;
	}
	/* hostport ends at ';' or '?' */
	const char *hp_end = p;
	if (hp_end < end && *hp_end == '[') {
		const char *rb = memchr(hp_end, ']', (size_t)(end - hp_end));
		if (!rb) {
			*why = "unterminated IPv6 reference in URI";
			return EBADMSG;
		}
		hp_end = rb + 1;
	}
	while (hp_end < end && *hp_end != ';' && *hp_end != '?')
		hp_end++;
	struct sps_slice host = sps_slice_make(p, (size_t)(hp_end - p));
	const char *colon = NULL;
	if (host.l && host.p[0] == '[') {
		const char *rb = memchr(host.p, ']', host.l);
		if (rb && rb + 1 < host.p + host.l) {
			if (rb[1] != ':') {
				*why = "bad host in URI";
				return EBADMSG;
			}
			colon = rb + 1;
		}
	} else {
		colon = memchr(host.p, ':', host.l);
	}
	if (colon) {
		struct sps_slice port = sps_slice_make(colon + 1, (size_t)(host.p + host.l - colon - 1));
		uint32_t v;
		if (sps_slice_to_u32(port, 65535, &v) || v == 0) {
			*why = "bad port in URI";
			return EBADMSG;
		}
		u->port = (uint16_t)v;
		host.l = (size_t)(colon - host.p);
	}
	if (parse_host(host, &u->host_ipv6)) {
		*why = "bad host in URI";
		return EBADMSG;
	}
	u->host = host;
	p = hp_end;
	if (p < end && *p == ';') {
		const char *q = memchr(p, '?', (size_t)(end - p));
		u->params = sps_slice_make(p + 1, (size_t)((q ? q : end) - p - 1));
		if (!u->params.l || parse_params(u->params, u)) {
			*why = "bad URI parameter";
			return EBADMSG;
		}
		p = q ? q : end;
	}
	if (p < end && *p == '?') {
		u->headers = sps_slice_make(p + 1, (size_t)(end - p - 1));
		if (check_headers(u->headers)) {
			*why = "bad URI headers";
			return EBADMSG;
		}
	}
	return 0;
}

/* RFC 3966: tel URIs; the subscriber part is kept in user, params validated. */
static int parse_tel(struct sps_slice rest, struct sps_uri *u, const char **why)
{
	const char *semi = memchr(rest.p, ';', rest.l);
	u->user = sps_slice_make(rest.p, semi ? (size_t)(semi - rest.p) : rest.l);
	if (u->user.l == 0) {
		*why = "empty tel number";
		return EBADMSG;
	}
	for (size_t i = 0; i < u->user.l; i++) {
		if (!sps__is((unsigned char)u->user.p[i], SPS_C_TELCHAR)) {
			*why = "bad character in tel number";
			return EBADMSG;
		}
	}
	if (semi) {
		u->params = sps_slice_make(semi + 1, rest.l - u->user.l - 1);
		if (parse_params(u->params, u)) {
			*why = "bad tel URI parameter";
			return EBADMSG;
		}
	}
	return 0;
}

int sps_uri_parse(struct sps_slice s, struct sps_uri *out, const char **why)
{
	struct sps_uri u;
	const char *dummy;
	size_t i;

	if (!why)
		why = &dummy;
	memset(&u, 0, sizeof(u));
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	for (i = 0; i < s.l && s.p[i] != ':'; i++) {
		unsigned char c = (unsigned char)s.p[i];
		bool alpha = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
		if (!(alpha || (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')))) {
			*why = "bad URI scheme";
			return EBADMSG;
		}
	}
	if (i == 0 || i == s.l || i + 1 == s.l) {
		*why = "not a URI";
		return EBADMSG;
	}
	u.scheme_s = sps_slice_make(s.p, i);
	struct sps_slice rest = sps_slice_make(s.p + i + 1, s.l - i - 1);
	int err;
	if (sps_slice_eq_cstr_ci(u.scheme_s, "sip")) {
		u.scheme = SPS_URI_SIP;
		err = parse_sip(rest, &u, why);
	} else if (sps_slice_eq_cstr_ci(u.scheme_s, "sips")) {
		u.scheme = SPS_URI_SIPS;
		err = parse_sip(rest, &u, why);
	} else if (sps_slice_eq_cstr_ci(u.scheme_s, "tel")) {
		u.scheme = SPS_URI_TEL;
		err = parse_tel(rest, &u, why);
	} else {
		/* absoluteURI (RFC 3261 25.1): any visible characters but the delimiters */
		u.scheme = SPS_URI_OTHER;
		u.rest = rest;
		err = 0;
		for (i = 0; i < rest.l; i++) {
			unsigned char c = (unsigned char)rest.p[i];
			if (c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"') {
				*why = "bad character in URI";
				err = EBADMSG;
				break;
			}
		}
	}
	if (err)
		return err;
	*out = u;
	return 0;
}

int sps_param_find(struct sps_slice params, const char *name, struct sps_slice *val)
{
	if (!params.p)
		return ENOENT;
	const char *p = params.p, *end = params.p + params.l;
	struct sps_slice want = sps_slice_cstr(name);

	while (p && p < end) {
		/* find the end of this parameter: ';' outside quotes */
		const char *e = p;
		bool q = false;
		for (; e < end; e++) {
			if (q && *e == '\\' && e + 1 < end)
				e++;
			else if (*e == '"')
				q = !q;
			else if (!q && *e == ';')
				break;
		}
		struct sps_slice prm = sps_slice_make(p, (size_t)(e - p));
		const char *eq = memchr(prm.p, '=', prm.l);
		struct sps_slice n = sps_slice_trim(eq ? sps_slice_make(prm.p, (size_t)(eq - prm.p)) : prm);
		if (sps_slice_eq_ci(n, want)) {
			if (eq)
				*val = sps_slice_trim(sps_slice_make(eq + 1, (size_t)(prm.p + prm.l - eq - 1)));
			else
				*val = sps_slice_make(prm.p + prm.l, 0);
			return 0;
		}
		p = e < end ? e + 1 : NULL;
	}
	return ENOENT;
}

int sps_uri_unescape(struct sps_slice s, char *buf, size_t size, size_t *outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < s.l; i++) {
		char c = s.p[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= s.l)
				return EBADMSG;
			hi = sps__hexval((unsigned char)s.p[i + 1]);
			lo = sps__hexval((unsigned char)s.p[i + 2]);
			if (hi < 0 || lo < 0)
				return EBADMSG;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (n + 1 >= size)
			return ENOSPC;
		buf[n++] = c;
	}
	if (size == 0)
		return ENOSPC;
	buf[n] = '\0';
	*outlen = n;
	return 0;
}

/* Compare two escaped strings after unescaping, case-sensitively or not. */
static bool esc_equal(struct sps_slice a, struct sps_slice b, bool ci)
{
	size_t i = 0, j = 0;
	while (i < a.l && j < b.l) {
		int ca = (unsigned char)a.p[i], cb = (unsigned char)b.p[j];
		if (ca == '%' && i + 2 < a.l) {
			ca = sps__hexval((unsigned char)a.p[i + 1]) * 16 + sps__hexval((unsigned char)a.p[i + 2]);
			i += 2;
		}
		if (cb == '%' && j + 2 < b.l) {
			cb = sps__hexval((unsigned char)b.p[j + 1]) * 16 + sps__hexval((unsigned char)b.p[j + 2]);
			j += 2;
		}
		if (ci) {
			if (ca >= 'A' && ca <= 'Z')
				ca += 32;
			if (cb >= 'A' && cb <= 'Z')
				cb += 32;
		}
		if (ca != cb)
			return false;
		i++;
		j++;
	}
	return i == a.l && j == b.l;
}

/* Every "name=value" of a ('&'-separated) appears in b with an equal value. */
static bool headers_subset(struct sps_slice a, struct sps_slice b)
{
	if (!a.p)
		return true;
	if (!b.p)
		return a.l == 0;
	const char *p = a.p, *end = a.p + a.l;
	while (p && p < end) {
		const char *e = memchr(p, '&', (size_t)(end - p));
		if (!e)
			e = end;
		struct sps_slice h = sps_slice_make(p, (size_t)(e - p));
		const char *eq = memchr(h.p, '=', h.l);
		struct sps_slice hn = sps_slice_make(h.p, eq ? (size_t)(eq - h.p) : h.l);
		struct sps_slice hv = eq ? sps_slice_make(eq + 1, (size_t)(e - eq - 1)) : SPS_SLICE_NULL;
		bool found = false;
		const char *q = b.p, *bend = b.p + b.l;
		while (!found && q && q < bend) {
			const char *f = memchr(q, '&', (size_t)(bend - q));
			if (!f)
				f = bend;
			const char *beq = memchr(q, '=', (size_t)(f - q));
			struct sps_slice bn = sps_slice_make(q, beq ? (size_t)(beq - q) : (size_t)(f - q));
			struct sps_slice bv = beq ? sps_slice_make(beq + 1, (size_t)(f - beq - 1))
						  : SPS_SLICE_NULL;
			found = esc_equal(hn, bn, true) && esc_equal(hv, bv, false);
			q = f < bend ? f + 1 : NULL;
		}
		if (!found)
			return false;
		p = e < end ? e + 1 : NULL;
	}
	return true;
}

/* RFC 3261 19.1.4: a parameter that appears in one URI and not the other is
 * ignored, except user, ttl, method, maddr and transport, which must match. */
static bool param_match(const struct sps_uri *a, const struct sps_uri *b, const char *name)
{
	struct sps_slice va, vb;
	bool ha = sps_param_find(a->params, name, &va) == 0;
	bool hb = sps_param_find(b->params, name, &vb) == 0;
	if (ha != hb)
		return false;
	return !ha || esc_equal(va, vb, true);
}

bool sps_uri_equal(const struct sps_uri *a, const struct sps_uri *b)
{
	if (a->scheme != b->scheme)
		return false;
	if (a->scheme == SPS_URI_OTHER)
		return sps_slice_eq_ci(a->scheme_s, b->scheme_s) && sps_slice_eq(a->rest, b->rest);
	if (!esc_equal(a->user, b->user, false) || !esc_equal(a->password, b->password, false))
		return false;
	if (a->scheme == SPS_URI_TEL)
		return true;
	if (!esc_equal(a->host, b->host, true) || a->port != b->port)
		return false;
	static const char *const must[] = {"user", "ttl", "method", "maddr", "transport"};
	for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
		if (!param_match(a, b, must[i]))
			return false;
	/* other parameters present in both must be equal */
	const char *p = a->params.p, *end = p ? p + a->params.l : NULL;
	while (p && p < end) {
		const char *e = memchr(p, ';', (size_t)(end - p));
		if (!e)
			e = end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		char name[64];
		struct sps_slice n = sps_slice_make(p, (size_t)((eq ? eq : e) - p)), vb;
		if (sps_slice_to_cstr(n, name, sizeof(name)) == 0 &&
		    sps_param_find(b->params, name, &vb) == 0) {
			struct sps_slice va = eq ? sps_slice_make(eq + 1, (size_t)(e - eq - 1))
						 : sps_slice_make(e, 0);
			if (!esc_equal(va, vb, true))
				return false;
		}
		p = e < end ? e + 1 : NULL;
	}
	/* headers: the same set, in any order (RFC 3261 19.1.4) */
	return headers_subset(a->headers, b->headers) && headers_subset(b->headers, a->headers);
}
