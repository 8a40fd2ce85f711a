/* sdp/sdp_write: write a parsed SDP back with the edits a media relay makes
 * (RFC 3264 offer/answer through an anchor): addresses of o= and c=, m= port
 * and profile, a=rtcp, direction, and the a=crypto lines. Every other line
 * is copied as it was, in its place. Lines end in CRLF (RFC 8866 5). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sdp/sdp.h"

struct wbuf {
	char *p;
	size_t size, len;
	bool full;
};

static void put(struct wbuf *w, const char *s, size_t n)
{
	if (w->full || n > w->size - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void puts_(struct wbuf *w, const char *s) { put(w, s, strlen(s)); }
static void put_slice(struct wbuf *w, struct sps_slice s) { put(w, s.p, s.l); }

static void __attribute__((format(printf, 2, 3))) putf(struct wbuf *w, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		w->full = true;
		return;
	}
	put(w, tmp, (size_t)n);
}

static void eol(struct wbuf *w) { put(w, "\r\n", 2); }

/* An IPv4 or IPv6 literal: hex digits, '.', ':' only. Returns "IP4", "IP6" or NULL. */
static const char *addr_type(const char *a)
{
	size_t n = strlen(a);
	if (!n || n > 45)
		return NULL;
	bool colon = false;
	for (size_t i = 0; i < n; i++) {
		char c = a[i];
		if (c == ':')
			colon = true;
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			   (c >= 'A' && c <= 'F') || c == '.'))
			return NULL;
	}
	return colon ? "IP6" : "IP4";
}

/* A value we put on a line must not end it. */
static bool one_line(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

static bool is_dir_attr(struct sps_slice v)
{
	return sps_slice_eq(v, SPS_SLICE_LIT("sendrecv")) ||
	       sps_slice_eq(v, SPS_SLICE_LIT("sendonly")) ||
	       sps_slice_eq(v, SPS_SLICE_LIT("recvonly")) ||
	       sps_slice_eq(v, SPS_SLICE_LIT("inactive"));
}

static bool is_rtcp_attr(struct sps_slice v)
{
	return v.l > 5 && memcmp(v.p, "rtcp:", 5) == 0;
}

static bool is_crypto_line(const struct sps_sdp_media *m, size_t line)
{
	for (size_t i = 0; i < m->ncrypto; i++)
		if (m->crypto[i].line == line)
			return true;
	return false;
}

static void put_crypto(struct wbuf *w, const struct sps_sdp_media_edit *me)
{
	for (size_t i = 0; i < me->ncrypto; i++) {
		puts_(w, "a=crypto:");
		puts_(w, me->crypto[i]);
		eol(w);
	}
}

static int check_edit(const struct sps_sdp *sdp, const struct sps_sdp_edit *e)
{
	if (e->addr && !addr_type(e->addr))
		return EINVAL;
	for (size_t i = 0; i < SPS_SDP_MAX_MEDIA; i++) {
		const struct sps_sdp_media_edit *me = &e->media[i];
		if (!me->set)
			continue;
		if (i >= sdp->nmedia || me->ncrypto > SPS_SDP_MAX_CRYPTO)
			return EINVAL;
		for (size_t k = 0; k < me->ncrypto; k++)
			if (!one_line(me->crypto[k]))
				return EINVAL;
	}
	return 0;
}

int sps_sdp_write(const struct sps_sdp *sdp, const struct sps_sdp_edit *edit, char *buf,
		  size_t size, size_t *len)
{
	static const struct sps_sdp_edit none;
	const struct sps_sdp_edit *e = edit ? edit : &none;
	struct wbuf w = {buf, size, 0, false};
	bool crypto_done[SPS_SDP_MAX_MEDIA] = {false}, dir_done[SPS_SDP_MAX_MEDIA] = {false};
	int err = check_edit(sdp, e);
	if (err)
		return err;
	const char *atype = e->addr ? addr_type(e->addr) : NULL;

	for (size_t i = 0; i < sdp->nlines; i++) {
		const struct sps_sdp_line *ln = &sdp->lines[i];
		int mi = ln->media;
		const struct sps_sdp_media *m = mi >= 0 ? &sdp->media[mi] : NULL;
		const struct sps_sdp_media_edit *me = m && e->media[mi].set ? &e->media[mi] : NULL;

		if (ln->type == 'o' && (e->addr || e->set_version)) {
			const struct sps_sdp_origin *o = &sdp->origin;
			put(&w, "o=", 2);
			put_slice(&w, o->user);
			put(&w, " ", 1);
			put_slice(&w, o->sess_id);
			if (e->set_version)
				putf(&w, " %llu ", (unsigned long long)e->version);
			else {
				put(&w, " ", 1);
				put_slice(&w, o->sess_version);
				put(&w, " ", 1);
			}
			put_slice(&w, o->conn.nettype);
			put(&w, " ", 1);
			if (e->addr)
				putf(&w, "%s %s", atype, e->addr);
			else {
				put_slice(&w, o->conn.addrtype);
				put(&w, " ", 1);
				put_slice(&w, o->conn.addr);
			}
			eol(&w);
		} else if (ln->type == 'c' && e->addr) {
			putf(&w, "c=IN %s %s", atype, e->addr);
			eol(&w);
		} else if (ln->type == 'm' && me) {
			put(&w, "m=", 2);
			put_slice(&w, m->type);
			putf(&w, " %u", me->port);
			if (m->nports)
				putf(&w, "/%u", m->nports);
			put(&w, " ", 1);
			if (me->proto != SPS_SDP_PROTO_OTHER)
				puts_(&w, sps_sdp_proto_name(me->proto));
			else
				put_slice(&w, m->proto_s);
			put(&w, " ", 1);
			put_slice(&w, m->fmts);
			eol(&w);
		} else if (ln->type == 'a' && me && me->replace_crypto && is_crypto_line(m, i)) {
			if (!crypto_done[mi])
				put_crypto(&w, me);
			crypto_done[mi] = true;
		} else if (ln->type == 'a' && me && me->set_rtcp && is_rtcp_attr(ln->val)) {
			if (me->rtcp_port) {
				putf(&w, "a=rtcp:%u", me->rtcp_port);
				if (m->rtcp_conn.addr.l && e->addr)
					putf(&w, " IN %s %s", atype, e->addr);
				else if (m->rtcp_conn.addr.l) {
					put(&w, " ", 1);
					put_slice(&w, m->rtcp_conn.nettype);
					put(&w, " ", 1);
					put_slice(&w, m->rtcp_conn.addrtype);
					put(&w, " ", 1);
					put_slice(&w, m->rtcp_conn.addr);
				}
				eol(&w);
			}
		} else if (ln->type == 'a' && me && me->dir != SPS_SDP_DIR_NONE &&
			   is_dir_attr(ln->val)) {
			if (!dir_done[mi]) {
				putf(&w, "a=%s", sps_sdp_dir_name(me->dir));
				eol(&w);
			}
			dir_done[mi] = true;
		} else {
			put(&w, &ln->type, 1);
			put(&w, "=", 1);
			put_slice(&w, ln->val);
			eol(&w);
		}
		/* the end of a section: what it did not have yet */
		if (me && i + 1 == m->end) {
			if (me->replace_crypto && !crypto_done[mi])
				put_crypto(&w, me);
			crypto_done[mi] = true;
			if (me->dir != SPS_SDP_DIR_NONE && !dir_done[mi]) {
				putf(&w, "a=%s", sps_sdp_dir_name(me->dir));
				eol(&w);
			}
			dir_done[mi] = true;
			if (me->set_rtcp && me->rtcp_port && !m->has_rtcp) {
				putf(&w, "a=rtcp:%u", me->rtcp_port);
				eol(&w);
			}
		}
	}
	if (w.full)
		return ENOSPC;
	*len = w.len;
	return 0;
}
