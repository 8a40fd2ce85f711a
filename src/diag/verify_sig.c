/* diag/verify_sig: what signalling reveals. Plaintext SIP (parsed with the
 * server's own parser, sip/msg.h) with its methods and users, the SDP in it
 * (RFC 4566 c=/m= lines for the media endpoints of each call, RFC 4568
 * a=crypto lines: counted, never copied), and TLS records (RFC 5246, RFC 8446)
 * up to the ServerHello and, for TLS 1.2 and lower, the server's Certificate. */
#include "diag/verify_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "core/arena.h"
#include "sip/frame.h"
#include "sip/msg.h"

#define MAX_HS (128 * 1024) /* handshake bytes kept per direction */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static size_t be24(const uint8_t *p) { return (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2]; }

/* ------------------------------------------------------------ recognising */

static bool is_tok(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

bool sps__looks_sip(const uint8_t *d, size_t len)
{
	if (len >= 12 && memcmp(d, "SIP/2.0 ", 8) == 0)
		return d[8] >= '1' && d[8] <= '6' && d[9] >= '0' && d[9] <= '9';
	/* Request-Line = Method SP Request-URI SP SIP-Version CRLF (RFC 3261 7.1) */
	size_t i = 0;
	while (i < len && i < 32 && is_tok(d[i]))
		i++;
	if (i == 0 || i >= len || d[i] != ' ')
		return false;
	size_t lim = len < 2048 ? len : 2048;
	for (size_t j = i + 1; j + 9 <= lim; j++) {
		if (d[j] == '\r' || d[j] == '\n')
			return false;
		if (memcmp(d + j, " SIP/2.0\r", 9) == 0)
			return true;
	}
	return false;
}

bool sps__looks_tls(const uint8_t *d, size_t len)
{
	/* ContentType 20..24, ProtocolVersion 3.x, length <= 2^14 + 2048 */
	return len >= 5 && d[0] >= 20 && d[0] <= 24 && d[1] == 3 && d[2] <= 4 &&
	       be16(d + 3) <= 16384 + 2048 && be16(d + 3) > 0;
}

/* ------------------------------------------------------------ calls */

static struct sps__call *call_get(struct sps__verify *v, struct sps_slice id)
{
	for (unsigned i = 0; i < v->ncalls; i++) {
		struct sps__call *c = v->calls[i];
		if (strlen(c->call_id) == id.l && memcmp(c->call_id, id.p, id.l) == 0)
			return c;
	}
	if (v->ncalls >= v->lim.max_calls) {
		v->calls_dropped++;
		return NULL;
	}
	struct sps__call *c = calloc(1, sizeof(*c));
	if (!c || !(c->call_id = sps__strndup(id.p, id.l))) {
		free(c);
		return NULL;
	}
	c->order = v->order++;
	v->calls[v->ncalls++] = c;
	return c;
}

/* "user@host" of a URI; NULL when it has no user part. */
static char *user_at_host(const struct sps_uri *u)
{
	if (!u || !u->user.l)
		return NULL;
	size_t l = u->user.l + 1 + u->host.l;
	char *s = malloc(l + 1);
	if (!s)
		return NULL;
	snprintf(s, l + 1, "%.*s@%.*s", SPS_SLICE_FMT(u->user), SPS_SLICE_FMT(u->host));
	return s;
}

static void add_user(struct sps__flow *f, char *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < f->nusers; i++) {
		if (strcmp(f->users[i], s) == 0) {
			free(s);
			return;
		}
	}
	if (f->nusers >= SPS__MAX_USERS) {
		f->users_more = true;
		free(s);
		return;
	}
	f->users[f->nusers++] = s;
}

static bool parse_addr(struct sps_slice s, struct sps__ep *e)
{
	char buf[64];
	if (s.l == 0 || s.l >= sizeof(buf))
		return false;
	memcpy(buf, s.p, s.l);
	buf[s.l] = '\0';
	char *slash = strchr(buf, '/'); /* multicast TTL / count (RFC 4566 5.7) */
	if (slash)
		*slash = '\0';
	memset(e->addr, 0, 16);
	if (inet_pton(AF_INET, buf, e->addr) == 1) {
		e->af = 4;
		return true;
	}
	if (inet_pton(AF_INET6, buf, e->addr) == 1) {
		e->af = 6;
		return true;
	}
	return false;
}

/* Next line of the SDP body (CRLF or LF ends it, RFC 4566 5). */
static bool next_line(const char **p, const char *end, struct sps_slice *line)
{
	if (*p >= end)
		return false;
	const char *s = *p, *e = memchr(s, '\n', (size_t)(end - s));
	const char *stop = e ? e : end;
	*p = e ? e + 1 : end;
	if (stop > s && stop[-1] == '\r')
		stop--;
	*line = sps_slice_make(s, (size_t)(stop - s));
	return true;
}

/* The n-th space-separated word of a line (0 based). */
static struct sps_slice word(struct sps_slice l, int n)
{
	size_t i = 0;
	for (;;) {
		while (i < l.l && l.p[i] == ' ')
			i++;
		size_t st = i;
		while (i < l.l && l.p[i] != ' ')
			i++;
		if (n-- == 0 || i >= l.l)
			return n < 0 ? sps_slice_make(l.p + st, i - st) : SPS_SLICE_NULL;
	}
}

/* The SDP of a call (RFC 4566, RFC 3264 offer/answer): media endpoints
 * (port of each m= line at the c= address that applies to it), profiles, and
 * whether any a=crypto line (RFC 4568 9.1) is present. The key text of an
 * a=crypto line is not read beyond its tag. */
static void sdp_scan(struct sps__flow *f, struct sps__call *c, struct sps_slice body)
{
	const char *p = body.p, *end = body.p + body.l;
	struct sps_slice line;
	struct sps__ep sess = {0};
	bool have_sess = false;
	struct {
		uint16_t port;
		struct sps__ep c;
		bool have_c;
	} m[SPS__MAX_CALL_MEDIA];
	int nm = 0;
	unsigned crypto = 0;

	while (next_line(&p, end, &line)) {
		if (line.l < 2 || line.p[1] != '=')
			continue;
		struct sps_slice val = sps_slice_make(line.p + 2, line.l - 2);
		if (line.p[0] == 'c') {
			/* c=IN IP4 192.0.2.1 */
			struct sps__ep e = {0};
			if (!parse_addr(word(val, 2), &e))
				continue;
			if (nm == 0) {
				sess = e;
				have_sess = true;
			} else {
				m[nm - 1].c = e;
				m[nm - 1].have_c = true;
			}
		} else if (line.p[0] == 'm') {
			/* m=audio 49170 RTP/SAVP 0 */
			uint32_t port;
			struct sps_slice ps = word(val, 1), proto = word(val, 2);
			for (size_t i = 0; i < ps.l; i++)
				if (ps.p[i] == '/')
					ps.l = i; /* port/count */
			if (sps_slice_to_u32(ps, 65535, &port) || nm >= SPS__MAX_CALL_MEDIA)
				continue;
			m[nm].port = (uint16_t)port;
			m[nm].have_c = false;
			nm++;
			if (proto.l >= 8 && memcmp(proto.p, "RTP/SAVP", 8) == 0)
				c->savp = true;
			else if (proto.l >= 7 && memcmp(proto.p, "RTP/AVP", 7) == 0)
				c->avp = true;
		} else if (line.p[0] == 'a' && val.l >= 7 && memcmp(val.p, "crypto:", 7) == 0) {
			crypto++;
		}
	}
	c->sdp_seen = true;
	for (int i = 0; i < nm; i++) {
		if (m[i].port == 0)
			continue; /* a rejected stream (RFC 3264 6) */
		struct sps__ep e = m[i].have_c ? m[i].c : sess;
		if (!m[i].have_c && !have_sess)
			continue;
		e.port = m[i].port;
		bool dup = false;
		for (unsigned j = 0; j < c->nmedia; j++)
			dup |= memcmp(&c->media[j], &e, sizeof(e)) == 0;
		if (!dup && c->nmedia < SPS__MAX_CALL_MEDIA)
			c->media[c->nmedia++] = e;
	}
	if (crypto) {
		c->keys_leaked++;
		f->keys_leaked++;
		if (!c->leak_flow) {
			char n[160];
			sps__flow_name(f, n, sizeof(n));
			c->leak_flow = sps__strndup(n, strlen(n));
		}
	}
}

static bool is_sdp(const struct sps_sip_msg *m)
{
	if (!m->body.l)
		return false;
	if (m->content_type.l >= 15 && strncasecmp(m->content_type.p, "application/sdp", 15) == 0)
		return true;
	return m->body.l >= 3 && memcmp(m->body.p, "v=0", 3) == 0;
}

/* The value of the first header line named name (or its compact form c),
 * from a message the parser refused. */
static struct sps_slice crude_header(const char *d, size_t len, const char *name, char c)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i + 2 < len; i++) {
		if (i && d[i - 1] != '\n')
			continue;
		if (d[i] == '\r' || d[i] == '\n')
			break; /* the end of the header section */
		size_t n = 0;
		if (i + nl < len && strncasecmp(d + i, name, nl) == 0)
			n = nl;
		else if ((d[i] | 0x20) == c)
			n = 1;
		size_t j = i + n;
		while (n && j < len && (d[j] == ' ' || d[j] == '\t'))
			j++;
		if (!n || j >= len || d[j] != ':')
			continue;
		j++;
		const char *e = memchr(d + j, '\r', len - j);
		size_t vl = (e ? (size_t)(e - d) : len) - j;
		return sps_slice_trim(sps_slice_make(d + j, vl > 256 ? 256 : vl));
	}
	return SPS_SLICE_NULL;
}

/* "user@host" of the first sip:/sips: URI in a header value the parser
 * refused (a repeated URI parameter, say), or NULL. Visible ASCII only. */
static char *crude_user(struct sps_slice h)
{
	for (size_t i = 0; i + 4 < h.l; i++) {
		size_t k = i + 4;
		if (strncasecmp(h.p + i, "sip:", 4) != 0) {
			if (strncasecmp(h.p + i, "sips:", 5) != 0)
				continue;
			k = i + 5;
		}
		size_t at = 0, e = k;
		for (; e < h.l && h.p[e] > 0x20 && h.p[e] < 0x7f && !strchr(">;?,", h.p[e]); e++) {
			if (h.p[e] == ':' && at)
				break; /* the port */
			if (h.p[e] == '@' && !at)
				at = e;
		}
		if (!at || at == k || at + 1 == e)
			return NULL;
		return sps__strndup(h.p + k, e - k);
	}
	return NULL;
}

/* A message the strict parser refused may still carry an SDP with keys: the
 * leak must not go unreported because of an odd header. Scan what follows
 * the blank line, under the Call-ID found by a plain search. */
static void unparsed_sdp(struct sps__verify *v, struct sps__flow *f, const char *d, size_t len)
{
	const char *b = memmem(d, len, "\r\n\r\n", 4);
	if (!b || !memmem(b, len - (size_t)(b - d), "\na=crypto:", 10))
		return;
	size_t hl = (size_t)(b - d) + 2;
	struct sps_slice id = crude_header(d, hl, "Call-ID", 'i');
	if (!id.l)
		id = SPS_SLICE_LIT("(no Call-ID)");
	struct sps__call *c = call_get(v, id);
	if (!c)
		return;
	if (!c->from)
		c->from = crude_user(crude_header(d, hl, "From", 'f'));
	if (!c->to)
		c->to = crude_user(crude_header(d, hl, "To", 't'));
	add_user(f, crude_user(crude_header(d, hl, "From", 'f')));
	add_user(f, crude_user(crude_header(d, hl, "To", 't')));
	sdp_scan(f, c, sps_slice_make(b + 4, len - (size_t)(b - d) - 4));
}

void sps__sip_message(struct sps__verify *v, struct sps__flow *f, const uint8_t *d, size_t len)
{
	if (len >= 8 && memcmp(d, "SIP/2.0 ", 8) == 0)
		f->sip_responses++;
	else
		f->sip_requests++;
	if (len > SPS_SIP_MAX_MSG)
		return;
	memcpy(v->scratch, d, len);
	v->scratch[len] = '\0';

	struct sps_arena *a = v->arena;
	sps_arena_reset(a);
	struct sps_sip_msg *m;
	const char *why;
	if (sps_sip_msg_parse(v->scratch, len, a, &m, &why) != 0) {
		/* still plaintext SIP (counted above); the method if readable */
		if (!(len >= 8 && memcmp(d, "SIP/2.0 ", 8) == 0)) {
			size_t i = 0;
			while (i < len && i < 32 && is_tok(d[i]))
				i++;
			f->methods |= 1u << sps_sip_method_id(sps_slice_make((const char *)d, i));
		}
		unparsed_sdp(v, f, (const char *)d, len);
		return;
	}
	if (m->is_request)
		f->methods |= 1u << m->meth;
	else if (m->has_cseq)
		f->methods |= 1u << m->cseq.meth;
	if (m->is_request)
		add_user(f, user_at_host(&m->ruri));
	if (m->from)
		add_user(f, user_at_host(&m->from->uri));
	if (m->to)
		add_user(f, user_at_host(&m->to->uri));
	for (const struct sps_sip_hdr *h = NULL;
	     (h = sps_sip_msg_hdr_next(m, SPS_HDR_AUTHORIZATION, h));) {
		const struct sps_auth *au = h->parsed;
		if (au && au->username.l)
			add_user(f, sps__strndup(au->username.p, au->username.l));
	}
	for (const struct sps_sip_hdr *h = NULL;
	     (h = sps_sip_msg_hdr_next(m, SPS_HDR_PROXY_AUTHORIZATION, h));) {
		const struct sps_auth *au = h->parsed;
		if (au && au->username.l)
			add_user(f, sps__strndup(au->username.p, au->username.l));
	}
	bool sdp = is_sdp(m);
	if (m->call_id.l && ((m->has_cseq && m->cseq.meth == SPS_METHOD_INVITE) || sdp)) {
		struct sps__call *c = call_get(v, m->call_id);
		if (c) {
			if (!c->from && m->from)
				c->from = user_at_host(&m->from->uri);
			if (!c->to && m->to)
				c->to = user_at_host(&m->to->uri);
			if (sdp)
				sdp_scan(f, c, m->body);
		}
	}
}

/* ------------------------------------------------------------ TCP streams */

static void consume(struct sps__dir *d, size_t n)
{
	if (n >= d->len) {
		d->len = 0;
		return;
	}
	memmove(d->buf, d->buf + n, d->len - n);
	d->len -= n;
}

/* After a gap: the offset of the next SIP start line, or of the last bytes
 * that may still begin one. */
static size_t resync_sip(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((i == 0 || b[i - 1] == '\n') && sps__looks_sip(b + i, len - i))
			return i;
	}
	return len > 2048 ? len - 2048 : 0;
}

static void sip_stream(struct sps__verify *v, struct sps__flow *f, struct sps__dir *d)
{
	size_t off = 0;
	while (off < d->len) {
		if (d->lost) {
			size_t s = off + resync_sip(d->buf + off, d->len - off);
			off = s;
			if (s >= d->len || !sps__looks_sip(d->buf + s, d->len - s))
				break;
			d->lost = false;
		}
		struct sps_frame fr;
		const char *why;
		int rc = sps_sip_frame((const char *)d->buf + off, d->len - off, &fr, &why);
		if (rc == ENODATA)
			break;
		if (rc) { /* broken framing: look for the next start line */
			d->lost = true;
			off++;
			continue;
		}
		if (fr.kind == SPS_FRAME_MSG)
			sps__sip_message(v, f, d->buf + off, fr.len);
		off += fr.len;
	}
	consume(d, off);
}

/* The ServerHello (RFC 8446 4.1.3; RFC 5246 7.4.1.3): version, with the
 * supported_versions extension (RFC 8446 4.2.1) for TLS 1.3, and cipher suite. */
static void server_hello(struct sps__flow *f, const uint8_t *b, size_t l)
{
	if (l < 38)
		return;
	uint16_t ver = be16(b);
	size_t o = 34;
	size_t sid = b[o++];
	if (o + sid + 3 > l)
		return;
	o += sid;
	uint16_t cs = be16(b + o);
	o += 3; /* cipher suite, compression method */
	if (o + 2 <= l) {
		size_t el = be16(b + o);
		o += 2;
		size_t end = o + el <= l ? o + el : l;
		while (o + 4 <= end) {
			uint16_t et = be16(b + o), len = be16(b + o + 2);
			o += 4;
			if (o + len > end)
				break;
			if (et == 43 && len == 2)
				ver = be16(b + o);
			o += len;
		}
	}
	f->hello_seen = true;
	f->tls_version = ver;
	f->cipher = cs;
}

/* server_name (RFC 6066 3) from a ClientHello (RFC 8446 4.1.2). */
static void client_hello(struct sps__flow *f, const uint8_t *b, size_t l)
{
	size_t o = 34;
	if (l < o + 1 || f->sni)
		return;
	o += 1 + b[o]; /* session id */
	if (o + 2 > l)
		return;
	o += 2 + be16(b + o); /* cipher suites */
	if (o + 1 > l)
		return;
	o += 1 + b[o]; /* compression methods */
	if (o + 2 > l)
		return;
	size_t end = o + 2 + be16(b + o);
	o += 2;
	if (end > l)
		end = l;
	while (o + 4 <= end) {
		uint16_t et = be16(b + o), len = be16(b + o + 2);
		o += 4;
		if (o + len > end)
			return;
		/* server_name_list length (2), name type 0 (1), host name length (2) */
		if (et == 0 && len >= 5 && b[o + 2] == 0) {
			size_t nl = be16(b + o + 3);
			if (5 + nl <= len)
				f->sni = sps__strndup((const char *)b + o + 5, nl);
			return;
		}
		o += len;
	}
}

/* The server certificate (RFC 5246 7.4.2): the first of the list. */
static void certificate(struct sps__flow *f, const uint8_t *b, size_t l)
{
	if (l < 6 || f->cert_subject)
		return;
	size_t cl = be24(b + 3);
	if (cl == 0 || 6 + cl > l)
		return;
	const unsigned char *p = b + 6;
	X509 *x = d2i_X509(NULL, &p, (long)cl);
	if (!x)
		return;
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio && X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
		char *s;
		long n = BIO_get_mem_data(bio, &s);
		if (n > 0)
			f->cert_subject = sps__strndup(s, n > 1024 ? 1024 : (size_t)n);
	}
	BIO_free(bio);
	X509_free(x);
}

static void handshake(struct sps__flow *f, struct sps__dir *d, const uint8_t *frag, size_t l)
{
	if (d->hs_dead)
		return;
	if (d->hslen + l > MAX_HS) {
		d->hs_dead = true;
		free(d->hs);
		d->hs = NULL;
		d->hslen = 0;
		return;
	}
	uint8_t *n = realloc(d->hs, d->hslen + l);
	if (!n)
		return;
	d->hs = n;
	memcpy(d->hs + d->hslen, frag, l);
	d->hslen += l;
	size_t o = 0;
	while (!d->hs_dead && d->hslen - o >= 4) {
		uint8_t mt = d->hs[o];
		size_t ml = be24(d->hs + o + 1);
		if (d->hslen - o - 4 < ml)
			break;
		const uint8_t *b = d->hs + o + 4;
		if (mt == 1)
			client_hello(f, b, ml);
		else if (mt == 2) {
			server_hello(f, b, ml);
			if (f->tls_version >= 0x0304)
				d->hs_dead = true; /* the rest is encrypted (RFC 8446 2) */
		} else if (mt == 11 && f->hello_seen && f->tls_version < 0x0304)
			certificate(f, b, ml);
		o += 4 + ml;
	}
	if (o) {
		memmove(d->hs, d->hs + o, d->hslen - o);
		d->hslen -= o;
	}
	if (d->hs_dead) {
		free(d->hs);
		d->hs = NULL;
		d->hslen = 0;
	}
}

static void tls_record(struct sps__flow *f, struct sps__dir *d, const uint8_t *r)
{
	uint8_t type = r[0];
	uint16_t ver = be16(r + 1);
	size_t l = be16(r + 3);
	f->tls_records++;
	if (type == 23) {
		if (!f->rec_min || ver < f->rec_min)
			f->rec_min = ver;
		if (ver > f->rec_max)
			f->rec_max = ver;
	} else if (type == 20) {
		/* ChangeCipherSpec: what follows from this side is encrypted */
		d->hs_dead = true;
		free(d->hs);
		d->hs = NULL;
		d->hslen = 0;
	} else if (type == 22) {
		handshake(f, d, r + 5, l);
	}
}

static void tls_stream(struct sps__flow *f, struct sps__dir *d)
{
	size_t off = 0;
	while (d->len - off >= 5) {
		if (d->lost) {
			/* a record header whose length leads exactly to another header
			 * or to the end of what we have */
			for (; off + 5 <= d->len; off++) {
				if (!sps__looks_tls(d->buf + off, d->len - off))
					continue;
				size_t nx = off + 5 + be16(d->buf + off + 3);
				if (nx == d->len || (nx + 5 <= d->len && sps__looks_tls(d->buf + nx, 5)))
					break;
			}
			if (off + 5 > d->len) {
				/* keep the tail: a header may be completed by the next segment */
				off = d->len > 20000 ? d->len - 20000 : 0;
				break;
			}
			d->lost = false;
			/* a handshake message may have been cut */
			d->hs_dead = true;
			free(d->hs);
			d->hs = NULL;
			d->hslen = 0;
		}
		if (!sps__looks_tls(d->buf + off, d->len - off)) {
			d->lost = true;
			off++;
			continue;
		}
		size_t rl = be16(d->buf + off + 3);
		if (d->len - off - 5 < rl)
			break;
		tls_record(f, d, d->buf + off);
		off += 5 + rl;
	}
	consume(d, off);
}

void sps__stream_parse(struct sps__verify *v, struct sps__flow *f, int dir)
{
	struct sps__dir *d = &f->d[dir];
	if (f->kind == K_SIP)
		sip_stream(v, f, d);
	else if (f->kind == K_TLS)
		tls_stream(f, d);
}
