/* provision/http: bounded HTTP/1.1 request-head parser and Authorization
 * credentials (see http.h; the choice of our own parser: docs/http.md). */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "provision/http.h"

#include "core/base64.h"

/* RFC 9110 5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static int fail(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return err;
}

/* The end of the line starting at p (the LF), or NULL when none before end.
 * Lines end in CRLF; a bare LF is accepted (RFC 9112 2.2). */
static const char *line_end(const char *p, const char *end)
{
	return p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
}

/* One line without its CR LF / LF. A CR anywhere else is an error (RFC 9112
 * 2.2: a bare CR must be rejected or replaced; we reject). */
static int line_slice(const char *p, const char *lf, struct sps_slice *out)
{
	const char *e = lf;
	if (e > p && e[-1] == '\r')
		e--;
	if (e > p && memchr(p, '\r', (size_t)(e - p)))
		return EBADMSG;
	*out = sps_slice_make(p, (size_t)(e - p));
	return 0;
}

/* RFC 9112 3: method SP request-target SP HTTP-version */
static int parse_request_line(struct sps_slice l, struct sps_http_req *r, const char **why)
{
	const char *p = l.p, *end = l.p + l.l, *t = p;
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	if (p == t || p == end || *p != ' ')
		return fail(why, "malformed request line", EBADMSG);
	r->method = sps_slice_make(t, (size_t)(p - t));
	t = ++p;
	while (p < end && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
		p++;
	if (p == t || p == end || *p != ' ')
		return fail(why, "malformed request line", EBADMSG);
	if ((size_t)(p - t) > SPS_HTTP_TARGET_MAX)
		return fail(why, "request-target too long", EMSGSIZE);
	r->target = sps_slice_make(t, (size_t)(p - t));
	p++;
	if (end - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' ||
	    p[5] > '9' || p[7] < '0' || p[7] > '9')
		return fail(why, "malformed HTTP version", EBADMSG);
	if (p[5] != '1' || p[7] > '1')
		return fail(why, "HTTP version not supported", EPROTONOSUPPORT);
	r->minor = (unsigned)(p[7] - '0');
	const char *q = memchr(r->target.p, '?', r->target.l);
	r->path = sps_slice_make(r->target.p, q ? (size_t)(q - r->target.p) : r->target.l);
	return 0;
}

/* Does the comma-separated list v hold the token tok (case-insensitive)? */
static bool list_has(struct sps_slice v, const char *tok)
{
	const char *p = v.p, *end = v.p + v.l;
	while (p < end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		const char *e = c ? c : end;
		if (sps_slice_eq_cstr_ci(sps_slice_trim(sps_slice_make(p, (size_t)(e - p))), tok))
			return true;
		p = c ? c + 1 : end;
	}
	return false;
}

/* RFC 9112 5: field-name ":" OWS field-value OWS. Acts on the few fields
 * the server needs. *clen is -1 until a Content-Length is seen. */
static int parse_header(struct sps_slice l, struct sps_http_req *r, long long *clen,
			unsigned *nhost, bool *conn_close, bool *conn_keep, const char **why)
{
	const char *p = l.p, *end = l.p + l.l;
	if (p < end && is_ws(*p))
		return fail(why, "obsolete line folding", EBADMSG); /* RFC 9112 5.2 */
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	if (p == l.p || p == end || *p != ':')
		return fail(why, "malformed header line", EBADMSG); /* also blank before ':' */
	struct sps_slice name = sps_slice_make(l.p, (size_t)(p - l.p));
	struct sps_slice v = sps_slice_trim(sps_slice_make(p + 1, (size_t)(end - p - 1)));
	for (size_t i = 0; i < v.l; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(why, "control character in a header", EBADMSG);
	}
	if (sps_slice_eq_cstr_ci(name, "Host")) {
		(*nhost)++;
		r->host = v;
	} else if (sps_slice_eq_cstr_ci(name, "Authorization")) {
		if (sps_slice_isset(r->authorization))
			return fail(why, "Authorization given twice", EBADMSG);
		r->authorization = v;
	} else if (sps_slice_eq_cstr_ci(name, "Connection")) {
		*conn_close |= list_has(v, "close");
		*conn_keep |= list_has(v, "keep-alive");
	} else if (sps_slice_eq_cstr_ci(name, "Content-Length")) {
		/* RFC 9112 6.3: a list or a second different value is an error */
		uint32_t n;
		if (sps_slice_to_u32(v, UINT32_MAX, &n))
			return fail(why, "invalid Content-Length", EBADMSG);
		if (*clen >= 0 && *clen != (long long)n)
			return fail(why, "conflicting Content-Length", EBADMSG);
		*clen = n;
	} else if (sps_slice_eq_cstr_ci(name, "Transfer-Encoding")) {
		r->has_body = true;
	}
	return 0;
}

int sps_http_parse(const char *buf, size_t len, struct sps_http_req *req, const char **why)
{
	struct sps_http_req r;
	memset(&r, 0, sizeof(r));
	if (!buf || !req)
		return fail(why, "no input", EINVAL);
	size_t n = len < SPS_HTTP_HEAD_MAX ? len : SPS_HTTP_HEAD_MAX;
	const char *p = buf, *end = buf + n, *lf;
	/* RFC 9112 2.2: ignore empty lines before the request line */
	while (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')))
		p += *p == '\n' ? 1 : 2;
	if (p < end && *p == '\r' && p + 1 == end)
		goto more;
	lf = line_end(p, end);
	if (!lf)
		goto more;
	struct sps_slice l;
	if (line_slice(p, lf, &l))
		return fail(why, "bare CR in the request line", EBADMSG);
	int err = parse_request_line(l, &r, why);
	if (err)
		return err;
	p = lf + 1;

	long long clen = -1;
	unsigned nhost = 0;
	bool conn_close = false, conn_keep = false;
	for (;;) {
		lf = line_end(p, end);
		if (!lf)
			goto more;
		if (line_slice(p, lf, &l))
			return fail(why, "bare CR in a header", EBADMSG);
		p = lf + 1;
		if (l.l == 0)
			break;
		if (++r.nhdrs > SPS_HTTP_HDRS_MAX)
			return fail(why, "too many header lines", EMSGSIZE);
		if ((err = parse_header(l, &r, &clen, &nhost, &conn_close, &conn_keep, why)))
			return err;
	}
	/* RFC 9112 3.2: an HTTP/1.1 request has exactly one Host */
	if ((r.minor == 1 && nhost != 1) || nhost > 1)
		return fail(why, "missing or repeated Host header", EBADMSG);
	if (clen > 0)
		r.has_body = true;
	r.keep_alive = r.minor == 1 ? !conn_close : (conn_keep && !conn_close);
	r.len = (size_t)(p - buf);
	*req = r;
	return 0;
more:
	if (len >= SPS_HTTP_HEAD_MAX)
		return fail(why, "request head too large", EMSGSIZE);
	return ENODATA;
}

/* ---- credentials ---- */

/* A quoted-string starting at p ('"'): returns the position after the
 * closing quote, or NULL. quoted-pair is '\' followed by any character
 * (RFC 9110 5.6.4). */
static const char *skip_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p == end)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

static const char *skip_ows(const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

/* RFC 9110 11.4 / 11.2: auth-param = token BWS "=" BWS ( token / quoted-string ),
 * separated by commas (empty list elements allowed, 5.6.1). */
static int parse_params(const char *p, const char *end, struct sps_auth *a)
{
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
	unsigned count = 0;
	for (;;) {
		p = skip_ows(p, end);
		while (p < end && *p == ',')
			p = skip_ows(p + 1, end);
		if (p == end)
			return count ? 0 : EBADMSG;
		if (++count > 32)
			return EBADMSG;
		const char *t = p;
		while (p < end && is_tchar((unsigned char)*p))
			p++;
		struct sps_slice name = sps_slice_make(t, (size_t)(p - t)), val;
		if (!name.l)
			return EBADMSG;
		p = skip_ows(p, end);
		if (p == end || *p != '=')
			return EBADMSG;
		p = skip_ows(p + 1, end);
		if (p < end && *p == '"') {
			const char *q = skip_quoted(p, end);
			if (!q)
				return EBADMSG;
			val = sps_slice_make(p + 1, (size_t)(q - p - 2));
			p = q;
		} else {
			t = p;
			while (p < end && is_tchar((unsigned char)*p))
				p++;
			val = sps_slice_make(t, (size_t)(p - t));
			if (!val.l)
				return EBADMSG;
		}
		p = skip_ows(p, end);
		if (p < end && *p != ',')
			return EBADMSG;
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			if (sps_slice_eq_cstr_ci(name, fields[i].n)) {
				struct sps_slice *f = (struct sps_slice *)((char *)a + fields[i].off);
				if (f->p)
					return EBADMSG; /* RFC 9110 11.2: each name once */
				*f = val;
				break;
			}
		}
	}
}

int sps_http_cred_parse(struct sps_slice v, struct sps_http_cred *out)
{
	struct sps_http_cred c;
	memset(&c, 0, sizeof(c));
	if (!out || !v.p)
		return EINVAL;
	v = sps_slice_trim(v);
	const char *p = v.p, *end = v.p + v.l;
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	struct sps_slice scheme = sps_slice_make(v.p, (size_t)(p - v.p));
	if (!scheme.l || (p < end && *p != ' '))
		return EBADMSG;
	p = skip_ows(p, end);
	if (sps_slice_eq_cstr_ci(scheme, "Basic")) {
		/* token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
		const char *t = p;
		while (p < end && (is_tchar((unsigned char)*p) || *p == '/') && *p != '=')
			p++;
		if (p == t)
			return EBADMSG;
		while (p < end && *p == '=')
			p++;
		if (p != end)
			return EBADMSG;
		c.basic = true;
		c.token68 = sps_slice_make(t, (size_t)(p - t));
	} else if (sps_slice_eq_cstr_ci(scheme, "Digest")) {
		c.digest.raw = v;
		c.digest.scheme = scheme;
		int err = parse_params(p, end, &c.digest);
		if (err)
			return err;
	} else {
		return ENOTSUP;
	}
	*out = c;
	return 0;
}

int sps_http_basic_decode(struct sps_slice t, char *user, size_t usize, char *pw, size_t psize)
{
	char buf[512];
	size_t o = 0;
	if (!user || !pw || !usize || !psize)
		return EINVAL;
	int err = sps_base64_decode(t, (uint8_t *)buf, sizeof(buf), &o, 0);
	char *colon = err ? NULL : memchr(buf, ':', o);
	if (err || !colon) {
		err = err ? err : EBADMSG;
		goto out;
	}
	for (size_t i = 0; i < o; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 || c == 0x7f) {
			err = EBADMSG; /* RFC 7617 2: no control characters */
			goto out;
		}
	}
	size_t ul = (size_t)(colon - buf), pl = o - ul - 1;
	if (ul + 1 > usize || pl + 1 > psize) {
		err = ENOSPC;
		goto out;
	}
	memcpy(user, buf, ul);
	user[ul] = '\0';
	memcpy(pw, colon + 1, pl);
	pw[pl] = '\0';
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return err;
}
