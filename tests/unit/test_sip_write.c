/* Unit tests for src/sip/write.c: responses (RFC 3261 8.2.6), requests,
 * proxy copies with edits (16.6, 16.7), the CR/LF injection guard and the
 * 65535-byte bound. Everything written is parsed back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/mbuf.h"
#include "sip/msg.h"
#include "sip/write.h"
#include "test.h"
#include "util.h"

/* Test state freed by one label on every path. */
struct wctx {
	struct test_msg req, out;
	struct sps_mbuf mb;
};

static void wctx_free(struct wctx *c)
{
	test_msg_free(&c->req);
	test_msg_free(&c->out);
	sps_mbuf_free(&c->mb);
}

#define W_FAIL(c, ...)                                                                  \
	do {                                                                            \
		if ((c)->mb.buf)                                                        \
			fprintf(stderr, "    written:\n%s\n", (c)->mb.buf);             \
		wctx_free(c);                                                           \
		TEST_FAIL(__VA_ARGS__);                                                 \
	} while (0)
#define W_CHECK(c, cond)                                                                \
	do {                                                                            \
		if (!(cond))                                                            \
			W_FAIL(c, "assertion failed: %s", #cond);                       \
	} while (0)
#define W_INT(c, a, b)                                                                  \
	do {                                                                            \
		long long a_ = (long long)(a), b_ = (long long)(b);                     \
		if (a_ != b_)                                                           \
			W_FAIL(c, "%s == %lld, expected %lld", #a, a_, b_);             \
	} while (0)
#define W_SLICE(c, s, str)                                                              \
	do {                                                                            \
		struct sps_slice s_ = (s);                                              \
		if (!sps_slice_eq(s_, sps_slice_cstr(str)))                             \
			W_FAIL(c, "%s == \"%.*s\", expected \"%s\"", #s, SPS_SLICE_FMT(s_), \
			       (str));                                                  \
	} while (0)
/* Parse what the mbuf holds into c->out. */
#define W_PARSE_OUT(c)                                                                  \
	do {                                                                            \
		test_msg_free(&(c)->out);                                                   \
		int rc_ = test_msg_parse(&(c)->out, (c)->mb.buf, (c)->mb.len);              \
		if (rc_)                                                                \
			W_FAIL(c, "written message does not parse (%d): %s", rc_,       \
			       (c)->out.why ? (c)->out.why : "-");                      \
	} while (0)

static const char invite[] =
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
	"v: SIP/2.0/UDP proxy.atlanta.example.com;branch=z9hG4bK2d4790.1, "
	"SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9;received=192.0.2.101\r\n"
	"Max-Forwards: 69\r\n"
	"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
	"To: Bob <sip:bob@biloxi.example.com>\r\n"
	"f: \"Alice, A\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	"i: 3848276298220188511@atlanta.example.com\r\n"
	"CSeq: 2 INVITE\r\n"
	"Contact: <sip:alice@client.atlanta.example.com;transport=tcp>\r\n"
	"User-Agent: softphone/1.0\r\n"
	"X-Custom: folded\r\n"
	" value\r\n"
	"Timestamp: 54\r\n"
	"c: application/sdp\r\n"
	"l: 4\r\n"
	"\r\n"
	"v=0\n";

static const char *via_branch(const struct sps_sip_msg *m, int idx)
{
	const struct sps_sip_hdr *h = NULL;
	for (int i = 0; i <= idx; i++)
		if (!(h = sps_sip_msg_hdr_next(m, SPS_HDR_VIA, h)))
			return NULL;
	const struct sps_via *v = h->parsed;
	return v ? v->branch.p : NULL;
}

int test_sip_write_response(void)
{
	struct wctx c;
	memset(&c, 0, sizeof(c));
	sps_mbuf_init(&c.mb, 0);

	int rc = test_msg_parse(&c.req, invite, strlen(invite));
	if (rc)
		W_FAIL(&c, "request does not parse (%d): %s", rc, c.req.why ? c.req.why : "-");

	struct sps_sip_newhdr extra[] = {
		{"Contact", SPS_SLICE_LIT("<sip:bob@192.0.2.4>")},
		{"Server", SPS_SLICE_LIT("sipsec")},
	};
	W_INT(&c, sps_sip_resp_write(&c.mb, c.req.m, 180, NULL, "8321234356", extra, 2, NULL,
				     SPS_SLICE_NULL), 0);
	W_PARSE_OUT(&c);
	struct sps_sip_msg *m = c.out.m;
	W_CHECK(&c, !m->is_request);
	W_INT(&c, m->status, 180);
	W_SLICE(&c, m->reason, "Ringing");
	W_INT(&c, m->count[SPS_HDR_VIA], 2);
	W_CHECK(&c, via_branch(m, 0) && strncmp(via_branch(m, 0), "z9hG4bK2d4790.1", 15) == 0);
	W_CHECK(&c, via_branch(m, 1) && strncmp(via_branch(m, 1), "z9hG4bK74bf9", 12) == 0);
	W_SLICE(&c, m->via->host, "proxy.atlanta.example.com");
	W_CHECK(&c, m->from && m->to);
	W_SLICE(&c, m->from->tag, "9fxced76sl");
	W_SLICE(&c, m->from->dname, "\"Alice, A\"");
	W_SLICE(&c, m->to->tag, "8321234356");
	W_SLICE(&c, m->to->uri.user, "bob");
	W_SLICE(&c, m->call_id, "3848276298220188511@atlanta.example.com");
	W_INT(&c, m->cseq.num, 2);
	W_INT(&c, m->cseq.meth, SPS_METHOD_INVITE);
	W_INT(&c, m->content_length, 0);
	W_INT(&c, m->count[SPS_HDR_CONTACT], 1);
	W_INT(&c, m->count[SPS_HDR_ROUTE], 0);
	W_INT(&c, m->count[SPS_HDR_TIMESTAMP], 0);
	W_INT(&c, m->count[SPS_HDR_CONTENT_TYPE], 0);
	W_CHECK(&c, sps_sip_msg_hdr_by_name(m, "Server") != NULL);
	W_INT(&c, sps_sip_msg_validate(m, &c.out.why), 0);
	/* the long names are written */
	W_CHECK(&c, strstr(c.mb.buf, "\r\nVia: ") && strstr(c.mb.buf, "\r\nFrom: ") &&
			    strstr(c.mb.buf, "\r\nCall-ID: "));
	W_CHECK(&c, strncmp(c.mb.buf, "SIP/2.0 180 Ringing\r\n", 21) == 0);

	/* a 100 Trying copies Timestamp (RFC 3261 8.2.6.1); no to_tag, none added */
	sps_mbuf_reset(&c.mb);
	W_INT(&c, sps_sip_resp_write(&c.mb, c.req.m, 100, NULL, NULL, NULL, 0, NULL,
				     SPS_SLICE_NULL), 0);
	W_PARSE_OUT(&c);
	W_INT(&c, c.out.m->count[SPS_HDR_TIMESTAMP], 1);
	W_INT(&c, c.out.m->to->tag.l, 0);

	/* a body with Content-Type and a custom reason */
	sps_mbuf_reset(&c.mb);
	W_INT(&c, sps_sip_resp_write(&c.mb, c.req.m, 200, "Fine Thanks", "t1", NULL, 0,
				     "application/sdp", SPS_SLICE_LIT("v=0\r\n")), 0);
	W_PARSE_OUT(&c);
	m = c.out.m;
	W_SLICE(&c, m->reason, "Fine Thanks");
	W_SLICE(&c, m->content_type, "application/sdp");
	W_INT(&c, m->content_length, 5);
	W_SLICE(&c, m->body, "v=0\r\n");
	test_msg_free(&c.req);

	/* To that already has a tag keeps it (no second tag) */
	const char *bye = "BYE sip:alice@client.atlanta.example.com SIP/2.0\r\n"
			  "Via: SIP/2.0/TCP 192.0.2.4;branch=z9hG4bKnashds10\r\n"
			  "Max-Forwards: 70\r\n"
			  "From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
			  "To: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
			  "Call-ID: a84b4c76e66710\r\n"
			  "CSeq: 231 BYE\r\n"
			  "Content-Length: 0\r\n\r\n";
	rc = test_msg_parse(&c.req, bye, strlen(bye));
	if (rc)
		W_FAIL(&c, "BYE does not parse (%d)", rc);
	sps_mbuf_reset(&c.mb);
	W_INT(&c, sps_sip_resp_write(&c.mb, c.req.m, 200, NULL, "other", NULL, 0, NULL,
				     SPS_SLICE_NULL), 0);
	W_PARSE_OUT(&c);
	W_SLICE(&c, c.out.m->to->tag, "1928301774");
	W_CHECK(&c, strstr(c.mb.buf, "other") == NULL);

	/* bad codes */
	sps_mbuf_reset(&c.mb);
	W_INT(&c, sps_sip_resp_write(&c.mb, c.req.m, 99, NULL, NULL, NULL, 0, NULL,
				     SPS_SLICE_NULL), EINVAL);
	W_INT(&c, sps_sip_resp_write(&c.mb, c.req.m, 700, NULL, NULL, NULL, 0, NULL,
				     SPS_SLICE_NULL), EINVAL);
	W_INT(&c, c.mb.len, 0);
	wctx_free(&c);
	return 0;
}

int test_sip_write_request(void)
{
	struct wctx c;
	memset(&c, 0, sizeof(c));
	sps_mbuf_init(&c.mb, 0);
	struct sps_sip_newhdr h[] = {
		{"Via", SPS_SLICE_LIT("SIP/2.0/TLS 192.0.2.9:5061;branch=z9hG4bKreq1")},
		{"Max-Forwards", SPS_SLICE_LIT("70")},
		{"From", SPS_SLICE_LIT("<sip:sipsec@example.com>;tag=xy")},
		{"To", SPS_SLICE_LIT("<sip:alice@example.com>")},
		{"Call-ID", SPS_SLICE_LIT("req-1@example.com")},
		{"CSeq", SPS_SLICE_LIT("1 MESSAGE")},
	};
	W_INT(&c, sps_sip_req_write(&c.mb, "MESSAGE", SPS_SLICE_LIT("sip:alice@192.0.2.5:5061"), h,
				    6, "text/plain", SPS_SLICE_LIT("hi there")), 0);
	W_PARSE_OUT(&c);
	struct sps_sip_msg *m = c.out.m;
	W_CHECK(&c, m->is_request);
	W_INT(&c, m->meth, SPS_METHOD_MESSAGE);
	W_SLICE(&c, m->ruri.host, "192.0.2.5");
	W_INT(&c, m->ruri.port, 5061);
	W_SLICE(&c, m->via->branch, "z9hG4bKreq1");
	W_INT(&c, m->max_forwards, 70);
	W_SLICE(&c, m->content_type, "text/plain");
	W_INT(&c, m->content_length, 8);
	W_SLICE(&c, m->body, "hi there");
	W_INT(&c, sps_sip_msg_validate(m, &c.out.why), 0);

	/* an empty body: Content-Length 0, no Content-Type */
	sps_mbuf_reset(&c.mb);
	W_INT(&c, sps_sip_req_write(&c.mb, "OPTIONS", SPS_SLICE_LIT("sip:example.com"), h, 6,
				    "text/plain", SPS_SLICE_NULL), 0);
	W_PARSE_OUT(&c);
	W_INT(&c, c.out.m->content_length, 0);
	W_INT(&c, c.out.m->count[SPS_HDR_CONTENT_TYPE], 0);

	/* bad method / Request-URI */
	sps_mbuf_reset(&c.mb);
	W_INT(&c, sps_sip_req_write(&c.mb, "INV ITE", SPS_SLICE_LIT("sip:a@b"), h, 6, NULL,
				    SPS_SLICE_NULL), EINVAL);
	W_INT(&c, sps_sip_req_write(&c.mb, "", SPS_SLICE_LIT("sip:a@b"), h, 6, NULL,
				    SPS_SLICE_NULL), EINVAL);
	W_INT(&c, sps_sip_req_write(&c.mb, "INVITE", SPS_SLICE_LIT("sip:a@b SIP/2.0\r\nX: y"), h,
				    6, NULL, SPS_SLICE_NULL), EINVAL);
	W_INT(&c, sps_sip_req_write(&c.mb, "INVITE", SPS_SLICE_LIT(""), h, 6, NULL,
				    SPS_SLICE_NULL), EINVAL);
	W_INT(&c, c.mb.len, 0);
	W_INT(&c, sps_mbuf_err(&c.mb), 0);
	wctx_free(&c);
	return 0;
}

int test_sip_write_copy(void)
{
	struct wctx c;
	memset(&c, 0, sizeof(c));
	sps_mbuf_init(&c.mb, 0);
	int rc = test_msg_parse(&c.req, invite, strlen(invite));
	if (rc)
		W_FAIL(&c, "request does not parse (%d): %s", rc, c.req.why ? c.req.why : "-");

	/* a plain copy parses back to the same message */
	W_INT(&c, sps_sip_msg_copy(&c.mb, c.req.m, NULL), 0);
	W_PARSE_OUT(&c);
	struct sps_sip_msg *m = c.out.m;
	W_INT(&c, m->nhdrs, c.req.m->nhdrs);
	W_INT(&c, m->count[SPS_HDR_VIA], 2);
	W_INT(&c, m->max_forwards, 69);
	W_SLICE(&c, m->body, "v=0\n");
	W_SLICE(&c, m->content_type, "application/sdp");
	W_SLICE(&c, sps_sip_msg_hdr_by_name(m, "x-custom")->value, "folded   value");
	W_CHECK(&c, strstr(c.mb.buf, "\r\nVia: SIP/2.0/UDP proxy.atlanta") != NULL);
	W_CHECK(&c, strstr(c.mb.buf, "\r\nContent-Length: 4\r\n\r\nv=0\n") != NULL);

	/* a proxy forwarding it (RFC 3261 16.6): own Via on top, top Route
	 * removed (loose routing, 16.4), Max-Forwards decremented, Record-Route
	 * added, new Request-URI; the body replaced */
	struct sps_sip_newhdr pre[] = {
		{"Via", SPS_SLICE_LIT("SIP/2.0/TLS 192.0.2.200:5061;branch=z9hG4bKsps1")},
		{"Record-Route", SPS_SLICE_LIT("<sip:192.0.2.200:5061;transport=tls;lr>")},
	};
	struct sps_sip_newhdr app[] = {{"X-Sipsec", SPS_SLICE_LIT("1")}};
	struct sps_slice ruri = SPS_SLICE_LIT("sip:bob@192.0.2.4:5060");
	struct sps_slice body = SPS_SLICE_LIT("v=0\r\no=- 1 1 IN IP4 192.0.2.200\r\n");
	struct sps_sip_edit e = {
		.ruri = &ruri,
		.prepend = pre,
		.nprepend = 2,
		.append = app,
		.nappend = 1,
		.drop = SPS_SIP_DROP(SPS_HDR_USER_AGENT),
		.drop_top_route = 1,
		.max_forwards = c.req.m->max_forwards - 1,
		.body = &body,
		.content_type = "application/sdp",
	};
	sps_mbuf_reset(&c.mb);
	W_INT(&c, sps_sip_msg_copy(&c.mb, c.req.m, &e), 0);
	W_PARSE_OUT(&c);
	m = c.out.m;
	W_SLICE(&c, m->ruri_s, "sip:bob@192.0.2.4:5060");
	W_INT(&c, m->count[SPS_HDR_VIA], 3);
	W_SLICE(&c, m->via->branch, "z9hG4bKsps1");
	W_SLICE(&c, m->via->transport, "TLS");
	W_CHECK(&c, via_branch(m, 1) && strncmp(via_branch(m, 1), "z9hG4bK2d4790.1", 15) == 0);
	W_INT(&c, m->count[SPS_HDR_ROUTE], 1);
	const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, SPS_HDR_ROUTE, NULL);
	const struct sps_nameaddr *na = h ? h->parsed : NULL;
	W_CHECK(&c, na != NULL);
	W_SLICE(&c, na->uri.host, "p2.example.com");
	W_INT(&c, m->count[SPS_HDR_RECORD_ROUTE], 1);
	W_INT(&c, m->max_forwards, 68);
	W_INT(&c, m->count[SPS_HDR_MAX_FORWARDS], 1);
	W_INT(&c, m->count[SPS_HDR_USER_AGENT], 0);
	W_INT(&c, m->count[SPS_HDR_CONTENT_TYPE], 1);
	W_INT(&c, m->count[SPS_HDR_CONTENT_LENGTH], 1);
	W_INT(&c, m->content_length, (long long)body.l);
	W_SLICE(&c, m->body, "v=0\r\no=- 1 1 IN IP4 192.0.2.200\r\n");
	W_SLICE(&c, m->call_id, "3848276298220188511@atlanta.example.com");
	W_SLICE(&c, m->from->tag, "9fxced76sl");
	W_CHECK(&c, sps_sip_msg_hdr_by_name(m, "X-Custom") != NULL);
	W_CHECK(&c, m->hdrs[m->nhdrs - 1].id == SPS_HDR_CONTENT_LENGTH);
	W_CHECK(&c, strstr(c.mb.buf, "\r\nX-Sipsec: 1\r\nContent-Type: application/sdp\r\n"
				     "Content-Length: ") != NULL);
	W_CHECK(&c, strncmp(c.mb.buf, "INVITE sip:bob@192.0.2.4:5060 SIP/2.0\r\nVia: SIP/2.0/TLS",
			    55) == 0);
	W_INT(&c, sps_sip_msg_validate(m, &c.out.why), 0);

	/* body removed: no Content-Type, Content-Length 0; Max-Forwards added
	 * when absent (16.6 step 3) */
	struct sps_slice empty = SPS_SLICE_NULL;
	struct sps_sip_edit e2 = {
		.drop = SPS_SIP_DROP(SPS_HDR_MAX_FORWARDS),
		.max_forwards = 70,
		.body = &empty,
	};
	sps_mbuf_reset(&c.mb);
	W_INT(&c, sps_sip_msg_copy(&c.mb, c.req.m, &e2), 0);
	W_PARSE_OUT(&c);
	W_INT(&c, c.out.m->max_forwards, 70);
	W_INT(&c, c.out.m->count[SPS_HDR_MAX_FORWARDS], 1);
	W_INT(&c, c.out.m->count[SPS_HDR_CONTENT_TYPE], 0);
	W_INT(&c, c.out.m->content_length, 0);
	W_INT(&c, c.out.m->body.l, 0);
	test_msg_free(&c.req);

	/* a response going back (16.7 step 3): top Via removed */
	const char *resp = "SIP/2.0 486 Busy Here\r\n"
			   "Via: SIP/2.0/TLS 192.0.2.200:5061;branch=z9hG4bKsps1\r\n"
			   "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9\r\n"
			   "To: Bob <sip:bob@biloxi.example.com>;tag=314159\r\n"
			   "From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
			   "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
			   "CSeq: 2 INVITE\r\n"
			   "Content-Length: 0\r\n\r\n";
	rc = test_msg_parse(&c.req, resp, strlen(resp));
	if (rc)
		W_FAIL(&c, "response does not parse (%d)", rc);
	struct sps_sip_edit e3 = {.drop_top_via = 1, .max_forwards = -1};
	sps_mbuf_reset(&c.mb);
	W_INT(&c, sps_sip_msg_copy(&c.mb, c.req.m, &e3), 0);
	W_PARSE_OUT(&c);
	m = c.out.m;
	W_INT(&c, m->status, 486);
	W_SLICE(&c, m->reason, "Busy Here");
	W_INT(&c, m->count[SPS_HDR_VIA], 1);
	W_SLICE(&c, m->via->branch, "z9hG4bK74bf9");
	W_INT(&c, m->count[SPS_HDR_MAX_FORWARDS], 0);
	W_CHECK(&c, strncmp(c.mb.buf, "SIP/2.0 486 Busy Here\r\n", 23) == 0);
	wctx_free(&c);
	return 0;
}

int test_sip_write_injection(void)
{
	struct wctx c;
	memset(&c, 0, sizeof(c));
	sps_mbuf_init(&c.mb, 0);
	int rc = test_msg_parse(&c.req, invite, strlen(invite));
	if (rc)
		W_FAIL(&c, "request does not parse (%d)", rc);
	struct sps_sip_msg *m = c.req.m;

	static const struct sps_sip_newhdr bad[] = {
		{"X-A", SPS_SLICE_LIT("ok\r\nVia: SIP/2.0/UDP evil")},
		{"X-A", SPS_SLICE_LIT("ok\nVia: x")},
		{"X-A", SPS_SLICE_LIT("ok\rVia: x")},
		{"X-A\r\nVia", SPS_SLICE_LIT("x")},
		{"X-A: b", SPS_SLICE_LIT("x")},
		{"", SPS_SLICE_LIT("x")},
		{NULL, SPS_SLICE_LIT("x")},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		W_INT(&c, sps_sip_resp_write(&c.mb, m, 200, NULL, NULL, &bad[i], 1, NULL,
					     SPS_SLICE_NULL), EINVAL);
		W_INT(&c, sps_sip_req_write(&c.mb, "OPTIONS", SPS_SLICE_LIT("sip:a@b"), &bad[i], 1,
					    NULL, SPS_SLICE_NULL), EINVAL);
		struct sps_sip_edit e = {.prepend = &bad[i], .nprepend = 1, .max_forwards = -1};
		W_INT(&c, sps_sip_msg_copy(&c.mb, m, &e), EINVAL);
		struct sps_sip_edit e2 = {.append = &bad[i], .nappend = 1, .max_forwards = -1};
		W_INT(&c, sps_sip_msg_copy(&c.mb, m, &e2), EINVAL);
	}
	/* reason phrase, To tag, content type, Request-URI */
	W_INT(&c, sps_sip_resp_write(&c.mb, m, 200, "OK\r\nX: y", NULL, NULL, 0, NULL,
				     SPS_SLICE_NULL), EINVAL);
	W_INT(&c, sps_sip_resp_write(&c.mb, m, 200, NULL, "t\r\nX: y", NULL, 0, NULL,
				     SPS_SLICE_NULL), EINVAL);
	W_INT(&c, sps_sip_resp_write(&c.mb, m, 200, NULL, "t;x=1", NULL, 0, NULL,
				     SPS_SLICE_NULL), EINVAL);
	W_INT(&c, sps_sip_resp_write(&c.mb, m, 200, NULL, NULL, NULL, 0, "text/plain\r\nX: y",
				     SPS_SLICE_LIT("b")), EINVAL);
	struct sps_slice bad_ruri = SPS_SLICE_LIT("sip:a@b SIP/2.0\r\nX: y");
	struct sps_sip_edit e = {.ruri = &bad_ruri, .max_forwards = -1};
	W_INT(&c, sps_sip_msg_copy(&c.mb, m, &e), EINVAL);
	struct sps_slice body = SPS_SLICE_LIT("x");
	struct sps_sip_edit e2 = {.body = &body, .content_type = "a/b\nX: y", .max_forwards = -1};
	W_INT(&c, sps_sip_msg_copy(&c.mb, m, &e2), EINVAL);
	/* nothing was written by any refused call */
	W_INT(&c, c.mb.len, 0);
	W_INT(&c, sps_mbuf_err(&c.mb), 0);
	wctx_free(&c);
	return 0;
}

int test_sip_write_limits(void)
{
	struct wctx c;
	memset(&c, 0, sizeof(c));
	sps_mbuf_init(&c.mb, 0);
	int rc = test_msg_parse(&c.req, invite, strlen(invite));
	if (rc)
		W_FAIL(&c, "request does not parse (%d)", rc);

	size_t n = 70000;
	char *big = malloc(n);
	W_CHECK(&c, big != NULL);
	memset(big, 'b', n);
	struct sps_slice body = sps_slice_make(big, n);
	rc = sps_sip_resp_write(&c.mb, c.req.m, 200, NULL, "t", NULL, 0, "text/plain", body);
	int err = sps_mbuf_err(&c.mb);
	size_t len = c.mb.len;
	sps_mbuf_reset(&c.mb);
	int rc2 = sps_sip_req_write(&c.mb, "MESSAGE", SPS_SLICE_LIT("sip:a@b"), NULL, 0,
				    "text/plain", body);
	sps_mbuf_reset(&c.mb);
	struct sps_sip_edit e = {.body = &body, .content_type = "text/plain", .max_forwards = -1};
	int rc3 = sps_sip_msg_copy(&c.mb, c.req.m, &e);
	/* exactly at the limit is fine */
	sps_mbuf_reset(&c.mb);
	struct sps_slice hdr = SPS_SLICE_LIT("x");
	struct sps_sip_newhdr h = {"X", hdr};
	size_t fixed = strlen("MESSAGE sip:a@b SIP/2.0\r\nX: x\r\nContent-Length: 65500\r\n\r\n");
	int rc4 = sps_sip_req_write(&c.mb, "MESSAGE", SPS_SLICE_LIT("sip:a@b"), &h, 1, NULL,
				    sps_slice_make(big, SPS_SIP_MAX_MSG - fixed));
	size_t len4 = c.mb.len;
	free(big);
	W_INT(&c, rc, EMSGSIZE);
	W_INT(&c, err, EMSGSIZE);
	W_CHECK(&c, len <= SPS_SIP_MAX_MSG);
	W_INT(&c, rc2, EMSGSIZE);
	W_INT(&c, rc3, EMSGSIZE);
	W_INT(&c, rc4, 0);
	W_INT(&c, len4, SPS_SIP_MAX_MSG);

	/* an error sticks: a later write on the same mbuf reports it */
	struct sps_mbuf small;
	sps_mbuf_init(&small, 64);
	rc = sps_sip_resp_write(&small, c.req.m, 200, NULL, NULL, NULL, 0, NULL, SPS_SLICE_NULL);
	rc2 = sps_sip_resp_write(&small, c.req.m, 200, NULL, NULL, NULL, 0, NULL, SPS_SLICE_NULL);
	sps_mbuf_free(&small);
	W_INT(&c, rc, EMSGSIZE);
	W_INT(&c, rc2, EMSGSIZE);
	wctx_free(&c);
	return 0;
}

int test_sip_write_reasons(void)
{
	static const struct {
		unsigned code;
		const char *phrase;
	} r[] = {
		{100, "Trying"}, {180, "Ringing"}, {181, "Call Is Being Forwarded"},
		{182, "Queued"}, {183, "Session Progress"}, {200, "OK"}, {204, "No Notification"},
		{300, "Multiple Choices"}, {301, "Moved Permanently"}, {302, "Moved Temporarily"},
		{305, "Use Proxy"}, {380, "Alternative Service"}, {400, "Bad Request"},
		{401, "Unauthorized"}, {402, "Payment Required"}, {403, "Forbidden"},
		{404, "Not Found"}, {405, "Method Not Allowed"}, {406, "Not Acceptable"},
		{407, "Proxy Authentication Required"}, {408, "Request Timeout"}, {410, "Gone"},
		{413, "Request Entity Too Large"}, {414, "Request-URI Too Long"},
		{415, "Unsupported Media Type"}, {416, "Unsupported URI Scheme"},
		{420, "Bad Extension"}, {421, "Extension Required"},
		{422, "Session Interval Too Small"}, {423, "Interval Too Brief"},
		{428, "Use Identity Header"}, {429, "Provide Referrer Identity"},
		{439, "First Hop Lacks Outbound Support"}, {440, "Max-Breadth Exceeded"},
		{470, "Consent Needed"}, {480, "Temporarily Unavailable"},
		{481, "Call/Transaction Does Not Exist"}, {482, "Loop Detected"},
		{483, "Too Many Hops"}, {484, "Address Incomplete"}, {485, "Ambiguous"},
		{486, "Busy Here"}, {487, "Request Terminated"}, {488, "Not Acceptable Here"},
		{491, "Request Pending"}, {493, "Undecipherable"},
		{494, "Security Agreement Required"}, {500, "Server Internal Error"},
		{501, "Not Implemented"}, {502, "Bad Gateway"}, {503, "Service Unavailable"},
		{504, "Server Time-out"}, {505, "Version Not Supported"},
		{513, "Message Too Large"}, {580, "Precondition Failure"},
		{600, "Busy Everywhere"}, {603, "Decline"}, {604, "Does Not Exist Anywhere"},
		{606, "Not Acceptable"}, {607, "Unwanted"}, {608, "Rejected"},
		{0, "Unknown"}, {299, "Unknown"}, {999, "Unknown"},
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		ASSERT_STR_EQ(sps_sip_reason_phrase(r[i].code), r[i].phrase);
	return 0;
}
