/* diag/verify_report: the report of the analyser as JSON - one object per
 * signalling flow, call and media stream, and the verdict with its reasons
 * (SECURE / INSECURE / INCONCLUSIVE, issue 9 item 4). */
#include "diag/verify_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/msg.h"

/* ------------------------------------------------------------ report */

static const char *tls_name(uint16_t ver)
{
	switch (ver) {
	case 0x0300:
		return "SSL 3.0";
	case 0x0301:
		return "TLS 1.0";
	case 0x0302:
		return "TLS 1.1";
	case 0x0303:
		return "TLS 1.2";
	case 0x0304:
		return "TLS 1.3";
	default:
		return NULL;
	}
}

/* The IANA name of a cipher suite (RFC 8446 B.4, RFC 5246 A.5), through
 * OpenSSL's table; the hex code when OpenSSL does not know it. */
static json_t *cipher_json(struct sps__verify *v, uint16_t cs)
{
	char hex[16];
	if (!v->ssl_ctx) {
		v->ssl_ctx = SSL_CTX_new(TLS_method());
		v->ssl = v->ssl_ctx ? SSL_new(v->ssl_ctx) : NULL;
	}
	if (v->ssl) {
		unsigned char b[2] = {(unsigned char)(cs >> 8), (unsigned char)cs};
		const SSL_CIPHER *c = SSL_CIPHER_find(v->ssl, b);
		const char *n = c ? SSL_CIPHER_standard_name(c) : NULL;
		if (n)
			return json_string(n);
	}
	snprintf(hex, sizeof(hex), "0x%04X", cs);
	return json_string(hex);
}

/* A JSON string of captured text: bytes outside printable ASCII become '?'
 * (captured headers can hold anything, and this must stay valid UTF-8). */
json_t *sps__jtext(const char *s)
{
	if (!s)
		return json_null();
	size_t l = strlen(s);
	char *c = malloc(l + 1);
	if (!c)
		return NULL;
	for (size_t i = 0; i <= l; i++)
		c[i] = i < l && ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) ? '?'
										  : s[i];
	json_t *j = json_string(c);
	free(c);
	return j;
}

static json_t *ep_json(const struct sps__ep *e)
{
	char b[64];
	sps__ep_fmt(b, sizeof(b), e->af, e->addr, e->port);
	return json_string(b);
}

/* Items in creation order (the hash order would change from run to run of
 * different captures and make the report hard to compare). */
static int cmp_flow(const void *x, const void *y)
{
	const struct sps__flow *a = *(struct sps__flow *const *)x, *b = *(struct sps__flow *const *)y;
	return a->order < b->order ? -1 : a->order > b->order;
}
static int cmp_stream(const void *x, const void *y)
{
	const struct sps__stream *a = *(struct sps__stream *const *)x,
				 *b = *(struct sps__stream *const *)y;
	return a->order < b->order ? -1 : a->order > b->order;
}

struct reasons {
	json_t *insecure, *inconclusive;
	bool oom;
};

static void reason(json_t *arr, bool *oom, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reason(json_t *arr, bool *oom, const char *fmt, ...)
{
	char buf[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_t *s = sps__jtext(buf);
	if (!s || json_array_append_new(arr, s))
		*oom = true;
}

static json_t *flow_json(struct sps__verify *v, const struct sps__flow *f, struct reasons *r)
{
	char name[160];
	json_t *o = json_object();
	json_t *users = json_array(), *methods = json_array();
	if (!o || !users || !methods)
		goto oom;
	sps__flow_name(f, name, sizeof(name));
	json_object_set_new(o, "client", ep_json(&f->a));
	json_object_set_new(o, "server", ep_json(&f->b));
	if (f->kind == K_SIP) {
		json_object_set_new(o, "protocol", json_string("sip"));
		json_object_set_new(o, "transport", json_string(f->proto == 6 ? "tcp" : "udp"));
		json_object_set_new(o, "encrypted", json_false());
		json_object_set_new(o, "requests", json_integer(f->sip_requests));
		json_object_set_new(o, "responses", json_integer(f->sip_responses));
		for (int m = 0; m < 32; m++) {
			if (!(f->methods & (1u << m)))
				continue;
			const char *mn = m ? sps_sip_method_name((enum sps_sip_method)m) : NULL;
			json_array_append_new(methods, json_string(mn ? mn : "other"));
		}
		for (unsigned i = 0; i < f->nusers; i++)
			json_array_append_new(users, sps__jtext(f->users[i]));
		json_object_set_new(o, "methods", methods);
		json_object_set_new(o, "users", users);
		methods = users = NULL;
		json_object_set_new(o, "users_truncated", json_boolean(f->users_more));
		json_object_set_new(o, "sdes_keys_seen", json_integer(f->keys_leaked));
		reason(r->insecure, &r->oom,
		       "plaintext SIP over %s on %s: %u request(s) and %u response(s) readable by "
		       "anyone on the path",
		       f->proto == 6 ? "TCP" : "UDP", name, f->sip_requests, f->sip_responses);
	} else {
		const char *vn = tls_name(f->tls_version);
		json_object_set_new(o, "protocol", json_string("tls"));
		json_object_set_new(o, "transport", json_string("tcp"));
		json_object_set_new(o, "encrypted", json_true());
		json_object_set_new(o, "records", json_integer(f->tls_records));
		json_object_set_new(o, "handshake_seen", json_boolean(f->hello_seen));
		json_object_set_new(o, "tls_version", vn ? json_string(vn) : json_null());
		json_object_set_new(o, "cipher_suite",
				    f->hello_seen ? cipher_json(v, f->cipher) : json_null());
		json_object_set_new(o, "certificate_subject", sps__jtext(f->cert_subject));
		json_object_set_new(o, "server_name", sps__jtext(f->sni));
		/* without the handshake the record layer still tells TLS 1.0/1.1
		 * (record version = negotiated) from 1.2+ (0x0303) */
		uint16_t low = f->hello_seen ? f->tls_version : f->rec_min;
		const char *rn = tls_name(f->rec_max);
		json_object_set_new(o, "record_version", rn ? json_string(rn) : json_null());
		bool legacy = low && low < 0x0303;
		json_object_set_new(o, "below_tls12", json_boolean(legacy));
		if (legacy)
			reason(r->insecure, &r->oom,
			       "%s on %s: versions below TLS 1.2 have known weaknesses (RFC 8996 "
			       "deprecates them)",
			       tls_name(low) ? tls_name(low) : "an old SSL/TLS version", name);
		if (!f->hello_seen && !low)
			reason(r->inconclusive, &r->oom,
			       "TLS flow %s: no handshake and no application data seen, the version "
			       "is unknown",
			       name);
	}
	if (f->gave_up || f->gaps)
		json_object_set_new(o, "incomplete", json_true());
	json_decref(users); /* unused (TLS) */
	json_decref(methods);
	return o;
oom:
	json_decref(o);
	json_decref(users);
	json_decref(methods);
	r->oom = true;
	return NULL;
}

static json_t *call_json(const struct sps__call *c, struct reasons *r)
{
	json_t *o = json_object();
	if (!o) {
		r->oom = true;
		return NULL;
	}
	json_object_set_new(o, "call_id", sps__jtext(c->call_id));
	json_object_set_new(o, "from", sps__jtext(c->from));
	json_object_set_new(o, "to", sps__jtext(c->to));
	json_object_set_new(o, "sdp_seen", json_boolean(c->sdp_seen));
	json_t *prof = json_array();
	if (prof && c->savp)
		json_array_append_new(prof, json_string("RTP/SAVP"));
	if (prof && c->avp)
		json_array_append_new(prof, json_string("RTP/AVP"));
	json_object_set_new(o, "media_profiles", prof ? prof : json_null());
	json_object_set_new(o, "sdes_keys_leaked", json_boolean(c->keys_leaked > 0));
	if (c->keys_leaked) {
		/* the key text itself is never copied out of the packet */
		reason(r->insecure, &r->oom,
		       "SRTP keys leaked: call %s -> %s (Call-ID %s) carried SDES keys (a=crypto) "
		       "in plaintext SDP on %s; anyone with this capture can decrypt its media",
		       c->from ? c->from : "?", c->to ? c->to : "?", c->call_id,
		       c->leak_flow ? c->leak_flow : "?");
	}
	return o;
}

json_t *sps__verify_report(struct sps__verify *v, json_t *capture)
{
	struct reasons r = {json_array(), json_array(), false};
	json_t *rep = json_object();
	json_t *sig = json_array(), *calls = json_array(), *media = json_array();
	json_t *warn = json_object_get(capture, "warnings");
	struct sps__flow **fl = calloc(v->nflows + 1, sizeof(*fl));
	struct sps__stream **st = calloc(v->nstreams + 1, sizeof(*st));
	unsigned nf = 0, ns = 0;
	unsigned n_sig = 0, n_tls = 0, n_media = 0, n_enc = 0, n_plain = 0, n_unknown = 0;

	if (!r.insecure || !r.inconclusive || !rep || !sig || !calls || !media || !fl || !st)
		goto oom;
	if (json_object_set(rep, "capture", capture))
		goto oom;

	/* calls first: the leaked keys are the most serious finding */
	for (unsigned i = 0; i < v->ncalls; i++) {
		json_t *c = call_json(v->calls[i], &r);
		if (!c || json_array_append_new(calls, c))
			goto oom;
	}
	for (unsigned b = 0; b < SPS__BUCKETS; b++)
		for (struct sps__flow *f = v->flows[b]; f; f = f->hnext)
			if (f->kind == K_SIP || f->kind == K_TLS)
				fl[nf++] = f;
	qsort(fl, nf, sizeof(*fl), cmp_flow);
	for (unsigned i = 0; i < nf; i++) {
		json_t *o = flow_json(v, fl[i], &r);
		if (!o || json_array_append_new(sig, o))
			goto oom;
		n_sig++;
		n_tls += fl[i]->kind == K_TLS;
	}
	for (unsigned b = 0; b < SPS__BUCKETS; b++)
		for (struct sps__stream *s = v->streams[b]; s; s = s->hnext)
			st[ns++] = s;
	qsort(st, ns, sizeof(*st), cmp_stream);
	for (unsigned i = 0; i < ns; i++) {
		int j = J_IGNORE;
		json_t *o = sps__stream_json(v, st[i], &j);
		if (j == J_IGNORE) {
			json_decref(o);
			continue;
		}
		if (!o || json_array_append_new(media, o))
			goto oom;
		n_media++;
		if (j == J_ENCRYPTED) {
			n_enc++;
		} else if (j == J_PLAIN) {
			n_plain++;
			const struct sps__stream *s = st[i];
			char a[64], d[64];
			sps__ep_fmt(a, sizeof(a), s->src.af, s->src.addr, s->src.port);
			sps__ep_fmt(d, sizeof(d), s->dst.af, s->dst.addr, s->dst.port);
			if (s->rtcp)
				reason(r.insecure, &r.oom,
				       "unencrypted RTCP %s -> %s: %u of %u packet(s) readable "
				       "(reports, SDES items such as the CNAME, BYE)",
				       a, d, s->rtcp_plain + s->srtcp_clear, s->packets);
			else
				reason(r.insecure, &r.oom,
				       "unencrypted RTP %s -> %s (SSRC 0x%08x, payload type %u): the "
				       "audio can be played back from this capture",
				       a, d, s->ssrc, s->pt);
		} else {
			n_unknown++;
		}
	}

	if (n_sig == 0)
		reason(r.inconclusive, &r.oom,
		       "no SIP signalling in the capture (neither plaintext SIP nor TLS): capture "
		       "the phone's or the server's SIP port too");
	if (n_media == 0)
		reason(r.inconclusive, &r.oom,
		       "no RTP media in the capture: capture during a call (with its audio "
		       "flowing), on the interface the media uses");
	if (n_unknown)
		reason(r.inconclusive, &r.oom,
		       "%u media stream(s) too short to judge: capture at least a few seconds of "
		       "each call",
		       n_unknown);
	if (v->flows_dropped || v->streams_dropped || v->calls_dropped || v->reasm_giveups) {
		char w[600];
		int n = snprintf(w, sizeof(w), "limits reached, part of the capture was not analysed:");
		const char *sep = "";
#define PART(cond, ...)                                                                 \
	do {                                                                            \
		if ((cond) && n > 0 && (size_t)n < sizeof(w)) {                         \
			n += snprintf(w + n, sizeof(w) - (size_t)n, "%s", sep);         \
			n += snprintf(w + n, sizeof(w) - (size_t)n, __VA_ARGS__);       \
			sep = ",";                                                      \
		}                                                                       \
	} while (0)
		PART(v->flows_dropped, " %u packet(s) of flows beyond the first %u", v->flows_dropped,
		     v->lim.max_flows);
		PART(v->streams_dropped, " %u packet(s) of media streams beyond the first %u",
		     v->streams_dropped, v->lim.max_streams);
		PART(v->calls_dropped, " %u SIP message(s) of calls beyond the first %u",
		     v->calls_dropped, v->lim.max_calls);
		PART(v->reasm_giveups, " %u TCP flow(s) given up (more than %zu bytes to buffer)",
		     v->reasm_giveups, v->lim.max_reasm);
#undef PART
		if (warn)
			json_array_append_new(warn, json_string(w));
		reason(r.inconclusive, &r.oom, "%s", w);
	}
	if (v->frags_dropped && warn) {
		char w[200];
		snprintf(w, sizeof(w),
			 "%u fragmented IP datagram(s) could not be put together (fragments missing "
			 "from the capture)",
			 v->frags_dropped);
		json_array_append_new(warn, json_string(w));
	}
	/* a long list helps nobody: the first ones, then how many more */
	for (json_t *arr = r.insecure; arr; arr = arr == r.insecure ? r.inconclusive : NULL) {
		size_t total = json_array_size(arr);
		if (total <= 12)
			continue;
		while (json_array_size(arr) > 10)
			json_array_remove(arr, 10);
		reason(arr, &r.oom, "... and %zu more like these (all are listed below)", total - 10);
	}

	const char *verdict = json_array_size(r.insecure)       ? "INSECURE"
			      : json_array_size(r.inconclusive) ? "INCONCLUSIVE"
								: "SECURE";
	json_t *reasons = strcmp(verdict, "INSECURE") == 0 ? r.insecure
			  : strcmp(verdict, "INCONCLUSIVE") == 0 ? r.inconclusive
								 : json_array();
	if (!reasons || r.oom)
		goto oom;
	json_t *summary = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "signalling_flows", n_sig,
				    "tls_flows", n_tls, "calls", (int)v->ncalls, "media_streams",
				    n_media, "encrypted_streams", n_enc, "plaintext_streams",
				    n_plain, "undetermined_streams", n_unknown);
	if (!summary) {
		if (reasons != r.insecure && reasons != r.inconclusive)
			json_decref(reasons);
		goto oom;
	}
	if (json_object_set_new(rep, "verdict", json_string(verdict)) ||
	    json_object_set(rep, "reasons", reasons) ||
	    json_object_set_new(rep, "summary", summary) ||
	    json_object_set_new(rep, "signalling", sig) ||
	    json_object_set_new(rep, "calls", calls) || json_object_set_new(rep, "media", media)) {
		if (reasons != r.insecure && reasons != r.inconclusive)
			json_decref(reasons);
		sig = calls = media = NULL;
		goto oom;
	}
	/* the other list stays useful: what would make it inconclusive */
	if (strcmp(verdict, "INSECURE") == 0)
		json_object_set(rep, "notes", r.inconclusive);
	if (reasons != r.insecure && reasons != r.inconclusive)
		json_decref(reasons);
	json_decref(r.insecure);
	json_decref(r.inconclusive);
	json_decref(capture);
	free(fl);
	free(st);
	return rep;
oom:
	json_decref(r.insecure);
	json_decref(r.inconclusive);
	json_decref(rep);
	json_decref(sig);
	json_decref(calls);
	json_decref(media);
	json_decref(capture);
	free(fl);
	free(st);
	return NULL;
}

enum sps_verdict sps_verify_verdict(const json_t *report)
{
	const char *s = json_string_value(json_object_get(report, "verdict"));
	if (s && strcmp(s, "SECURE") == 0)
		return SPS_VERDICT_SECURE;
	if (s && strcmp(s, "INCONCLUSIVE") == 0)
		return SPS_VERDICT_INCONCLUSIVE;
	return SPS_VERDICT_INSECURE;
}
