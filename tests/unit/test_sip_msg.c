/* Unit tests for the SIP message parser (src/sip/msg.c, hdr*.c): header names,
 * folding, list splitting, Contact / Via / CSeq / auth parsing, and the
 * limits of issue 2. Messages are parsed from exact-size heap copies so that
 * AddressSanitizer reports reads past the end. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "sip/msg.h"
#include "test.h"
#include "util.h"

static int parse(struct test_msg *p, const char *s)
{
	return test_msg_parse(p, s, strlen(s));
}

/* Parse s and fail the test (freeing everything) when it does not parse. */
#define PARSE_OK(p, s)                                                                  \
	do {                                                                            \
		int rc_ = parse((p), (s));                                              \
		if (rc_) {                                                              \
			const char *w_ = (p)->why;                                      \
			test_msg_free(p);                                                 \
			TEST_FAIL("parse failed (%d): %s", rc_, w_ ? w_ : "(no reason)"); \
		}                                                                       \
	} while (0)

/* Assertions that free the message on failure (so LeakSanitizer stays quiet). */
#define CHECK(p, c)                                                                     \
	do {                                                                            \
		if (!(c)) {                                                             \
			test_msg_free(p);                                                 \
			TEST_FAIL("assertion failed: %s", #c);                          \
		}                                                                       \
	} while (0)
#define CHECK_INT(p, a, b)                                                              \
	do {                                                                            \
		long long a_ = (long long)(a), b_ = (long long)(b);                     \
		if (a_ != b_) {                                                         \
			test_msg_free(p);                                                 \
			TEST_FAIL("%s == %lld, expected %lld", #a, a_, b_);             \
		}                                                                       \
	} while (0)
#define CHECK_SLICE(p, s, str)                                                          \
	do {                                                                            \
		struct sps_slice s_ = (s);                                              \
		if (!sps_slice_eq(s_, sps_slice_cstr(str))) {                           \
			fprintf(stderr, "    %s == \"%.*s\", expected \"%s\"\n", #s,      \
				SPS_SLICE_FMT(s_), (str));                              \
			test_msg_free(p);                                                 \
			TEST_FAIL("slice mismatch");                                    \
		}                                                                       \
	} while (0)

#define REQ_HEAD                                                                        \
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"                                 \
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"         \
	"Max-Forwards: 70\r\n"                                                          \
	"To: Bob <sip:bob@biloxi.example.com>\r\n"                                      \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"                \
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"                          \
	"CSeq: 314159 INVITE\r\n"

int test_sip_msg_names(void)
{
	static const struct {
		const char *name;
		enum sps_hdr_id id;
	} names[] = {
		{"Via", SPS_HDR_VIA}, {"v", SPS_HDR_VIA}, {"V", SPS_HDR_VIA}, {"vIA", SPS_HDR_VIA},
		{"From", SPS_HDR_FROM}, {"f", SPS_HDR_FROM}, {"To", SPS_HDR_TO}, {"t", SPS_HDR_TO},
		{"Call-ID", SPS_HDR_CALL_ID}, {"call-id", SPS_HDR_CALL_ID}, {"i", SPS_HDR_CALL_ID},
		{"CSeq", SPS_HDR_CSEQ}, {"Contact", SPS_HDR_CONTACT}, {"m", SPS_HDR_CONTACT},
		{"Max-Forwards", SPS_HDR_MAX_FORWARDS}, {"Route", SPS_HDR_ROUTE},
		{"Record-Route", SPS_HDR_RECORD_ROUTE}, {"Path", SPS_HDR_PATH},
		{"Expires", SPS_HDR_EXPIRES}, {"Min-Expires", SPS_HDR_MIN_EXPIRES},
		{"Content-Length", SPS_HDR_CONTENT_LENGTH}, {"l", SPS_HDR_CONTENT_LENGTH},
		{"L", SPS_HDR_CONTENT_LENGTH}, {"Content-Type", SPS_HDR_CONTENT_TYPE},
		{"c", SPS_HDR_CONTENT_TYPE}, {"Supported", SPS_HDR_SUPPORTED},
		{"k", SPS_HDR_SUPPORTED}, {"Content-Encoding", SPS_HDR_CONTENT_ENCODING},
		{"e", SPS_HDR_CONTENT_ENCODING}, {"Subject", SPS_HDR_SUBJECT}, {"s", SPS_HDR_SUBJECT},
		{"Event", SPS_HDR_EVENT}, {"o", SPS_HDR_EVENT}, {"Refer-To", SPS_HDR_REFER_TO},
		{"r", SPS_HDR_REFER_TO}, {"Referred-By", SPS_HDR_REFERRED_BY},
		{"b", SPS_HDR_REFERRED_BY}, {"Allow-Events", SPS_HDR_ALLOW_EVENTS},
		{"u", SPS_HDR_ALLOW_EVENTS}, {"Session-Expires", SPS_HDR_SESSION_EXPIRES},
		{"x", SPS_HDR_SESSION_EXPIRES}, {"WWW-Authenticate", SPS_HDR_WWW_AUTHENTICATE},
		{"Proxy-Authorization", SPS_HDR_PROXY_AUTHORIZATION},
		{"PROXY-REQUIRE", SPS_HDR_PROXY_REQUIRE}, {"X-Foo", SPS_HDR_OTHER},
		{"Vias", SPS_HDR_OTHER}, {"Vi", SPS_HDR_OTHER}, {"", SPS_HDR_OTHER},
		{"z", SPS_HDR_OTHER}, {"C%6Fntact", SPS_HDR_OTHER},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		enum sps_hdr_id id = sps_sip_hdr_id(sps_slice_cstr(names[i].name));
		if (id != names[i].id)
			TEST_FAIL("header \"%s\" has id %d, expected %d", names[i].name, (int)id,
				  (int)names[i].id);
	}
	/* every id has a long name that maps back to it */
	ASSERT(sps_sip_hdr_name(SPS_HDR_OTHER) == NULL);
	for (int id = 1; id < SPS_HDR__COUNT; id++) {
		const char *n = sps_sip_hdr_name((enum sps_hdr_id)id);
		if (!n || strlen(n) < 2 || sps_sip_hdr_id(sps_slice_cstr(n)) != (enum sps_hdr_id)id)
			TEST_FAIL("id %d: long name \"%s\" does not map back", id, n ? n : "(null)");
	}
	ASSERT_STR_EQ(sps_sip_hdr_name(SPS_HDR_VIA), "Via");
	ASSERT_STR_EQ(sps_sip_hdr_name(SPS_HDR_CALL_ID), "Call-ID");
	ASSERT_STR_EQ(sps_sip_hdr_name(SPS_HDR_CSEQ), "CSeq");
	ASSERT_STR_EQ(sps_sip_hdr_name(SPS_HDR_WWW_AUTHENTICATE), "WWW-Authenticate");

	/* methods are case-sensitive (RFC 3261 7.1) */
	ASSERT_INT_EQ(sps_sip_method_id(SPS_SLICE_LIT("INVITE")), SPS_METHOD_INVITE);
	ASSERT_INT_EQ(sps_sip_method_id(SPS_SLICE_LIT("REGISTER")), SPS_METHOD_REGISTER);
	ASSERT_INT_EQ(sps_sip_method_id(SPS_SLICE_LIT("UPDATE")), SPS_METHOD_UPDATE);
	ASSERT_INT_EQ(sps_sip_method_id(SPS_SLICE_LIT("invite")), SPS_METHOD_OTHER);
	ASSERT_INT_EQ(sps_sip_method_id(SPS_SLICE_LIT("INVITEX")), SPS_METHOD_OTHER);
	ASSERT_INT_EQ(sps_sip_method_id(SPS_SLICE_LIT("")), SPS_METHOD_OTHER);
	for (int mth = 1; mth <= SPS_METHOD_UPDATE; mth++) {
		const char *n = sps_sip_method_name((enum sps_sip_method)mth);
		if (!n || sps_sip_method_id(sps_slice_cstr(n)) != (enum sps_sip_method)mth)
			TEST_FAIL("method %d: name \"%s\" does not map back", mth, n ? n : "(null)");
	}
	return 0;
}

int test_sip_msg_compact_folding(void)
{
	struct test_msg p;
	PARSE_OK(&p, "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n"
		     "v: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7\r\n"
		     "MAX-FORWARDS: 70\r\n"
		     "t: Bob <sip:bob@biloxi.example.com>\r\n"
		     "f: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n"
		     "i: 843817637684230@998sdasdh09\r\n"
		     "cseq: 1826 REGISTER\r\n"
		     "m: <sip:bob@192.0.2.4>\r\n"
		     "EXPIRES: 7200\r\n"
		     "s: hello\r\n"
		     " world\r\n"
		     "User-Agent:\tpolycom\t\r\n"
		     "k: path,\r\n"
		     "\toutbound\r\n"
		     "X-Empty:\r\n"
		     "c: text/plain\r\n"
		     "l: 5\r\n"
		     "\r\n"
		     "hello");
	struct sps_sip_msg *m = p.m;
	CHECK(&p, m->is_request);
	CHECK_INT(&p, m->meth, SPS_METHOD_REGISTER);
	CHECK_SLICE(&p, m->method, "REGISTER");
	CHECK_SLICE(&p, m->ruri.host, "registrar.biloxi.example.com");
	CHECK(&p, m->via != NULL);
	CHECK_SLICE(&p, m->via->host, "bobspc.biloxi.example.com");
	CHECK_INT(&p, m->via->port, 5060);
	CHECK(&p, m->to && m->from);
	CHECK_SLICE(&p, m->from->tag, "456248");
	CHECK_SLICE(&p, m->to->dname, "Bob");
	CHECK_SLICE(&p, m->call_id, "843817637684230@998sdasdh09");
	CHECK(&p, m->has_cseq);
	CHECK_INT(&p, m->cseq.num, 1826);
	CHECK_INT(&p, m->cseq.meth, SPS_METHOD_REGISTER);
	CHECK_INT(&p, m->max_forwards, 70);
	CHECK_INT(&p, m->expires, 7200);
	CHECK_INT(&p, m->min_expires, -1);
	CHECK_INT(&p, m->count[SPS_HDR_CONTACT], 1);
	CHECK_SLICE(&p, m->content_type, "text/plain");
	CHECK_SLICE(&p, m->user_agent, "polycom");
	CHECK_INT(&p, m->content_length, 5);
	CHECK_SLICE(&p, m->body, "hello");
	/* folding becomes spaces in place (offsets do not move) */
	const struct sps_sip_hdr *h = sps_sip_msg_hdr_by_name(m, "SUBJECT");
	CHECK(&p, h != NULL);
	CHECK_INT(&p, h->id, SPS_HDR_SUBJECT);
	CHECK_SLICE(&p, h->name, "s");
	CHECK_SLICE(&p, h->value, "hello   world");
	CHECK(&p, sps_sip_msg_hdr_by_name(m, "s") == h);
	CHECK(&p, sps_sip_msg_hdr_by_name(m, "call-id") != NULL);
	CHECK(&p, sps_sip_msg_hdr_by_name(m, "i") != NULL);
	CHECK(&p, sps_sip_msg_hdr_by_name(m, "Route") == NULL);
	/* Supported is a list: two entries, the folded one trimmed */
	CHECK_INT(&p, m->count[SPS_HDR_SUPPORTED], 2);
	h = sps_sip_msg_hdr_next(m, SPS_HDR_SUPPORTED, NULL);
	CHECK(&p, h != NULL);
	CHECK_SLICE(&p, h->value, "path");
	h = sps_sip_msg_hdr_next(m, SPS_HDR_SUPPORTED, h);
	CHECK(&p, h != NULL);
	CHECK_SLICE(&p, h->value, "outbound");
	CHECK(&p, sps_sip_msg_hdr_next(m, SPS_HDR_SUPPORTED, h) == NULL);
	h = sps_sip_msg_hdr_by_name(m, "x-empty");
	CHECK(&p, h != NULL);
	CHECK_INT(&p, h->value.l, 0);
	CHECK_INT(&p, sps_sip_msg_validate(m, &p.why), 0);
	test_msg_free(&p);
	return 0;
}

int test_sip_msg_lists(void)
{
	struct test_msg p;
	PARSE_OK(&p, "REGISTER sip:example.com SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1;x=\"q,u;o\", "
		     "SIP/2.0/TCP b.example.com:5061;branch=z9hG4bK2\r\n"
		     "Via: SIP/2.0/TLS c.example.com;branch=z9hG4bK3\r\n"
		     "Max-Forwards: 70\r\n"
		     "To: <sip:user@example.com>\r\n"
		     "From: \"Doe, John\" <sip:user@example.com>;tag=x1\r\n"
		     "Call-ID: lists@example.com\r\n"
		     "CSeq: 2 REGISTER\r\n"
		     "Contact: \"Doe, John\" <sip:a,b@example.com>;q=0.5, <sip:c@example.com>;q=1,"
		     "sip:d@example.com;expires=60\r\n"
		     "Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>\r\n"
		     "Subject: one, two\r\n"
		     "Allow: INVITE, ACK,BYE\r\n"
		     "Content-Length: 0\r\n"
		     "\r\n");
	struct sps_sip_msg *m = p.m;
	CHECK_INT(&p, m->count[SPS_HDR_VIA], 3);
	const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, SPS_HDR_VIA, NULL);
	const struct sps_via *v = h ? h->parsed : NULL;
	CHECK(&p, v && v == m->via);
	CHECK_SLICE(&p, v->branch, "z9hG4bK1");
	h = sps_sip_msg_hdr_next(m, SPS_HDR_VIA, h);
	v = h ? h->parsed : NULL;
	CHECK(&p, v != NULL);
	CHECK_SLICE(&p, v->host, "b.example.com");
	CHECK_SLICE(&p, v->transport, "TCP");
	CHECK_INT(&p, v->port, 5061);
	h = sps_sip_msg_hdr_next(m, SPS_HDR_VIA, h);
	v = h ? h->parsed : NULL;
	CHECK(&p, v != NULL);
	CHECK_SLICE(&p, v->branch, "z9hG4bK3");
	/* comma in the quoted display name and in the user part stays */
	CHECK_SLICE(&p, m->from->dname, "\"Doe, John\"");
	CHECK_INT(&p, m->count[SPS_HDR_CONTACT], 3);
	h = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, NULL);
	const struct sps_contact *c = h ? h->parsed : NULL;
	CHECK(&p, c != NULL);
	CHECK(&p, !c->star);
	CHECK_SLICE(&p, c->na.dname, "\"Doe, John\"");
	CHECK_SLICE(&p, c->na.uri.user, "a,b");
	CHECK_INT(&p, c->q, 500);
	CHECK_INT(&p, c->expires, -1);
	h = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, h);
	c = h ? h->parsed : NULL;
	CHECK(&p, c != NULL);
	CHECK_SLICE(&p, c->na.uri.user, "c");
	CHECK_INT(&p, c->q, 1000);
	h = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, h);
	c = h ? h->parsed : NULL;
	CHECK(&p, c != NULL);
	CHECK(&p, !c->na.angle);
	CHECK_SLICE(&p, c->na.uri.user, "d");
	CHECK_INT(&p, c->expires, 60);
	CHECK_INT(&p, c->q, -1);
	CHECK_INT(&p, m->count[SPS_HDR_ROUTE], 2);
	h = sps_sip_msg_hdr_next(m, SPS_HDR_ROUTE, NULL);
	const struct sps_nameaddr *na = h ? h->parsed : NULL;
	CHECK(&p, na != NULL);
	CHECK_SLICE(&p, na->uri.host, "p1.example.com");
	CHECK(&p, na->uri.lr);
	/* Subject is not a list header */
	CHECK_INT(&p, m->count[SPS_HDR_SUBJECT], 1);
	CHECK_SLICE(&p, sps_sip_msg_hdr_by_name(m, "subject")->value, "one, two");
	CHECK_INT(&p, m->count[SPS_HDR_ALLOW], 3);
	CHECK_INT(&p, sps_sip_msg_validate(m, &p.why), 0);
	test_msg_free(&p);
	return 0;
}

int test_sip_msg_contact(void)
{
	struct test_msg p;
	PARSE_OK(&p, "REGISTER sip:example.com SIP/2.0\r\n"
		     "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKr1\r\n"
		     "Max-Forwards: 70\r\n"
		     "To: <sip:alice@example.com>\r\n"
		     "From: <sip:alice@example.com>;tag=a1\r\n"
		     "Call-ID: contact-1\r\n"
		     "CSeq: 1 REGISTER\r\n"
		     "Contact: <sip:alice@192.0.2.1:5060;transport=tcp;ob>;expires=3600;q=0.7;"
		     "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1\r\n"
		     "Contact: <sip:alice@192.0.2.2>;q=0;EXPIRES=0\r\n"
		     "Contact: <sip:alice@192.0.2.3>;q=0.001\r\n"
		     "Content-Length: 0\r\n"
		     "\r\n");
	const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(p.m, SPS_HDR_CONTACT, NULL);
	const struct sps_contact *c = h ? h->parsed : NULL;
	CHECK(&p, c != NULL);
	CHECK_INT(&p, c->expires, 3600);
	CHECK_INT(&p, c->q, 700);
	CHECK_SLICE(&p, c->instance, "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"");
	CHECK_SLICE(&p, c->reg_id, "1");
	CHECK_SLICE(&p, c->na.uri.transport, "tcp");
	CHECK_INT(&p, c->na.uri.port, 5060);
	CHECK(&p, c->na.angle);
	h = sps_sip_msg_hdr_next(p.m, SPS_HDR_CONTACT, h);
	c = h ? h->parsed : NULL;
	CHECK(&p, c != NULL);
	CHECK_INT(&p, c->q, 0);
	CHECK_INT(&p, c->expires, 0);
	h = sps_sip_msg_hdr_next(p.m, SPS_HDR_CONTACT, h);
	c = h ? h->parsed : NULL;
	CHECK(&p, c != NULL);
	CHECK_INT(&p, c->q, 1);
	test_msg_free(&p);

	/* Contact: * (RFC 3261 10.2.2) */
	PARSE_OK(&p, "REGISTER sip:example.com SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr2\r\n"
		     "Max-Forwards: 70\r\n"
		     "To: <sip:alice@example.com>\r\n"
		     "From: <sip:alice@example.com>;tag=a1\r\n"
		     "Call-ID: contact-2\r\n"
		     "CSeq: 2 REGISTER\r\n"
		     "Contact:  * \r\n"
		     "Expires: 0\r\n"
		     "Content-Length: 0\r\n"
		     "\r\n");
	CHECK_INT(&p, p.m->count[SPS_HDR_CONTACT], 1);
	h = sps_sip_msg_hdr_next(p.m, SPS_HDR_CONTACT, NULL);
	c = h ? h->parsed : NULL;
	CHECK(&p, c && c->star);
	CHECK_INT(&p, p.m->expires, 0);
	test_msg_free(&p);

	/* bad q values are rejected */
	static const char *const badq[] = {"q=2", "q=1.5", "q=0.1234", "q=abc", "q=-1"};
	for (size_t i = 0; i < sizeof(badq) / sizeof(badq[0]); i++) {
		char msg[512];
		snprintf(msg, sizeof(msg),
			 REQ_HEAD "Contact: <sip:alice@192.0.2.1>;%s\r\nContent-Length: 0\r\n\r\n",
			 badq[i]);
		int rc = parse(&p, msg);
		unsigned st = rc ? 0 : sps_sip_msg_validate(p.m, &p.why);
		test_msg_free(&p);
		if (rc == 0 && st == 0)
			TEST_FAIL("Contact with %s accepted", badq[i]);
	}
	return 0;
}

int test_sip_msg_via(void)
{
	struct test_msg p;
	PARSE_OK(&p, "OPTIONS sip:example.com SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 192.0.2.1:5060;received=198.51.100.7;rport=40000;"
		     "maddr=224.2.0.1;ttl=16;branch=z9hG4bKabc\r\n"
		     "Via: SIP/2.0/TCP [2001:db8::9]:5070;rport;branch=z9hG4bKx\r\n"
		     "Via: SIP / 2.0 / TLS host.example.com ; branch = z9hG4bKsp\r\n"
		     "Max-Forwards: 70\r\n"
		     "To: <sip:example.com>\r\n"
		     "From: <sip:alice@example.com>;tag=a1\r\n"
		     "Call-ID: via-1\r\n"
		     "CSeq: 1 OPTIONS\r\n"
		     "Content-Length: 0\r\n"
		     "\r\n");
	const struct sps_via *v = p.m->via;
	CHECK(&p, v != NULL);
	CHECK_SLICE(&p, v->proto, "SIP/2.0");
	CHECK_SLICE(&p, v->transport, "UDP");
	CHECK_SLICE(&p, v->host, "192.0.2.1");
	CHECK_INT(&p, v->port, 5060);
	CHECK_SLICE(&p, v->received, "198.51.100.7");
	CHECK(&p, v->rport);
	CHECK_INT(&p, v->rport_val, 40000);
	CHECK_SLICE(&p, v->maddr, "224.2.0.1");
	CHECK_INT(&p, v->ttl, 16);
	CHECK_SLICE(&p, v->branch, "z9hG4bKabc");
	const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(p.m, SPS_HDR_VIA, NULL);
	h = sps_sip_msg_hdr_next(p.m, SPS_HDR_VIA, h);
	v = h ? h->parsed : NULL;
	CHECK(&p, v != NULL);
	CHECK_SLICE(&p, v->host, "[2001:db8::9]");
	CHECK_INT(&p, v->port, 5070);
	CHECK(&p, v->rport);
	CHECK_INT(&p, v->rport_val, 0);
	CHECK_INT(&p, v->ttl, -1);
	CHECK_INT(&p, v->received.l, 0);
	h = sps_sip_msg_hdr_next(p.m, SPS_HDR_VIA, h);
	v = h ? h->parsed : NULL;
	CHECK(&p, v != NULL);
	CHECK_SLICE(&p, v->transport, "TLS");
	CHECK_SLICE(&p, v->host, "host.example.com");
	CHECK_SLICE(&p, v->branch, "z9hG4bKsp");
	CHECK_INT(&p, v->port, 0);
	CHECK(&p, !v->rport);
	test_msg_free(&p);

	/* bad Via values */
	static const char *const bad[] = {
		"SIP/2.0/UDP",                       /* no sent-by */
		"SIP/2.0 192.0.2.1",                 /* no transport */
		"SIP/2.0/UDP 192.0.2.1:70000",       /* port */
		"SIP/2.0/UDP 192.0.2.1;rport=70000", /* rport */
		"SIP/2.0/UDP 192.0.2.1;ttl=256",     /* ttl is 0..255 */
		"SIP/2.0/UDP [::1;branch=z9hG4bK1",  /* unclosed IPv6 */
		"SIP/2.0/UDP 192.0.2.15;;,;,,",      /* RFC 4475 badinv01 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[512];
		snprintf(msg, sizeof(msg),
			 "OPTIONS sip:example.com SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\n"
			 "To: <sip:example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n"
			 "Call-ID: v\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
			 bad[i]);
		int rc = parse(&p, msg);
		unsigned st = rc ? 0 : sps_sip_msg_validate(p.m, &p.why);
		test_msg_free(&p);
		if (rc == 0 && st == 0)
			TEST_FAIL("Via \"%s\" accepted", bad[i]);
	}
	return 0;
}

int test_sip_msg_cseq_auth(void)
{
	struct test_msg p;
	PARSE_OK(&p, "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKkjshdyff\r\n"
		     "Max-Forwards: 70\r\n"
		     "To: Bob <sip:bob@biloxi.com>\r\n"
		     "From: Alice <sip:alice@atlanta.com>;tag=88sja8x\r\n"
		     "Call-ID: 987asjd97y7atg\r\n"
		     "CSeq:   4711    INVITE  \r\n"
		     "Authorization: Digest username=\"bob\", realm=\"biloxi.com\",\r\n"
		     "  nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:bob@biloxi.com\",\r\n"
		     "  qop=auth, nc=00000001, cnonce=\"0a4f113b, x\",\r\n"
		     "  response=\"6629fae49393a05397450978507c4ef1\",\r\n"
		     "  opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\n"
		     "Proxy-Authorization: Digest username=\"bo\\\"b\", realm=\"r\", nonce=\"n\", "
		     "uri=\"sip:x\", response=\"0\", algorithm=SHA-256, userhash=true\r\n"
		     "Content-Length: 0\r\n"
		     "\r\n");
	struct sps_sip_msg *m = p.m;
	CHECK(&p, m->has_cseq);
	CHECK_INT(&p, m->cseq.num, 4711);
	CHECK_SLICE(&p, m->cseq.method, "INVITE");
	CHECK_INT(&p, m->cseq.meth, SPS_METHOD_INVITE);
	CHECK_INT(&p, m->count[SPS_HDR_AUTHORIZATION], 1);
	const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, SPS_HDR_AUTHORIZATION, NULL);
	const struct sps_auth *a = h ? h->parsed : NULL;
	CHECK(&p, a != NULL);
	CHECK_SLICE(&p, a->scheme, "Digest");
	CHECK_SLICE(&p, a->username, "bob");
	CHECK_SLICE(&p, a->realm, "biloxi.com");
	CHECK_SLICE(&p, a->nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
	CHECK_SLICE(&p, a->uri, "sip:bob@biloxi.com");
	CHECK_SLICE(&p, a->qop, "auth");
	CHECK_SLICE(&p, a->nc, "00000001");
	CHECK_SLICE(&p, a->cnonce, "0a4f113b, x");
	CHECK_SLICE(&p, a->response, "6629fae49393a05397450978507c4ef1");
	CHECK_SLICE(&p, a->opaque, "5ccc069c403ebaf9f0171e9517f40e41");
	CHECK_INT(&p, a->algorithm.l, 0);
	h = sps_sip_msg_hdr_next(m, SPS_HDR_PROXY_AUTHORIZATION, NULL);
	a = h ? h->parsed : NULL;
	CHECK(&p, a != NULL);
	CHECK_SLICE(&p, a->username, "bo\\\"b");
	CHECK_SLICE(&p, a->algorithm, "SHA-256");
	CHECK_SLICE(&p, a->userhash, "true");
	test_msg_free(&p);

	/* a challenge in a response */
	PARSE_OK(&p, "SIP/2.0 401 Unauthorized\r\n"
		     "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKkjshdyff\r\n"
		     "To: Bob <sip:bob@biloxi.com>;tag=4\r\n"
		     "From: Alice <sip:alice@atlanta.com>;tag=88sja8x\r\n"
		     "Call-ID: 987asjd97y7atg\r\n"
		     "CSeq: 4711 INVITE\r\n"
		     "WWW-Authenticate: Digest realm=\"atlanta.com\", domain=\"sip:ss1.carrier.com\","
		     " qop=\"auth,auth-int\", nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", opaque=\"\","
		     " stale=FALSE, algorithm=MD5\r\n"
		     "Content-Length: 0\r\n"
		     "\r\n");
	m = p.m;
	CHECK(&p, !m->is_request);
	CHECK_INT(&p, m->status, 401);
	CHECK_SLICE(&p, m->reason, "Unauthorized");
	CHECK_SLICE(&p, m->to->tag, "4");
	h = sps_sip_msg_hdr_next(m, SPS_HDR_WWW_AUTHENTICATE, NULL);
	a = h ? h->parsed : NULL;
	CHECK(&p, a != NULL);
	CHECK_SLICE(&p, a->realm, "atlanta.com");
	CHECK_SLICE(&p, a->domain, "sip:ss1.carrier.com");
	CHECK_SLICE(&p, a->qop, "auth,auth-int");
	CHECK_SLICE(&p, a->opaque, "");
	CHECK_SLICE(&p, a->stale, "FALSE");
	CHECK_SLICE(&p, a->algorithm, "MD5");
	test_msg_free(&p);

	/* CSeq without method, with a non-number, over 32 bits */
	static const char *const bad[] = {"1", "x INVITE", "4294967296 INVITE", "-1 INVITE",
					  "1 INVITE extra"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[512];
		snprintf(msg, sizeof(msg),
			 "INVITE sip:b@example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n"
			 "To: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n"
			 "Call-ID: c\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n",
			 bad[i]);
		int rc = parse(&p, msg);
		unsigned st = rc ? 0 : sps_sip_msg_validate(p.m, &p.why);
		test_msg_free(&p);
		if (rc == 0 && st == 0)
			TEST_FAIL("CSeq \"%s\" accepted", bad[i]);
	}
	return 0;
}

/* Build a request of exactly `total` bytes: the headers of REQ_HEAD plus
 * `extra` lines "X-Pad-N: v" then a body filling up the rest. */
static char *build_msg(size_t total, unsigned extra_hdrs, size_t *lenp)
{
	char *b = malloc(total + 256 + extra_hdrs * 32);
	if (!b)
		return NULL;
	size_t n = (size_t)sprintf(b, "%s", REQ_HEAD);
	for (unsigned i = 0; i < extra_hdrs; i++)
		n += (size_t)sprintf(b + n, "X-Pad-%u: v\r\n", i);
	/* "Content-Length: NNNNN\r\n\r\n" is 25 bytes for a 5-digit length */
	size_t body = total > n + 25 ? total - n - 25 : 0;
	n += (size_t)sprintf(b + n, "Content-Length: %05zu\r\n\r\n", body);
	memset(b + n, 'x', body);
	*lenp = n + body;
	return b;
}

int test_sip_msg_limits(void)
{
	struct test_msg p;
	size_t len;
	int rc;

	/* 65535 bytes is the largest message; 65536 is too large */
	char *b = build_msg(SPS_SIP_MAX_MSG, 0, &len);
	ASSERT(b);
	ASSERT_INT_EQ(len, SPS_SIP_MAX_MSG);
	rc = test_msg_parse(&p, b, len);
	free(b);
	if (rc)
		fprintf(stderr, "    65535-byte message: %s\n", p.why ? p.why : "-");
	test_msg_free(&p);
	ASSERT_INT_EQ(rc, 0);
	b = build_msg(SPS_SIP_MAX_MSG + 1, 0, &len);
	ASSERT(b);
	ASSERT_INT_EQ(len, SPS_SIP_MAX_MSG + 1);
	rc = test_msg_parse(&p, b, len);
	free(b);
	test_msg_free(&p);
	ASSERT_INT_EQ(rc, EMSGSIZE);

	/* REQ_HEAD has 6 headers + Content-Length: 249 extra make 256, 250 make 257 */
	b = build_msg(0, SPS_SIP_MAX_HDRS - 7, &len);
	ASSERT(b);
	rc = test_msg_parse(&p, b, len);
	free(b);
	if (rc == 0 && p.m->nhdrs != SPS_SIP_MAX_HDRS)
		fprintf(stderr, "    nhdrs %u\n", p.m->nhdrs);
	if (rc)
		fprintf(stderr, "    256 headers: %s\n", p.why ? p.why : "-");
	test_msg_free(&p);
	ASSERT_INT_EQ(rc, 0);
	b = build_msg(0, SPS_SIP_MAX_HDRS - 6, &len);
	ASSERT(b);
	rc = test_msg_parse(&p, b, len);
	free(b);
	test_msg_free(&p);
	ASSERT(rc == EMSGSIZE || rc == EBADMSG);

	/* 257 entries through comma-separated list values */
	b = malloc(8192);
	ASSERT(b);
	len = (size_t)sprintf(b, "%sSupported: a", REQ_HEAD);
	for (int i = 0; i < SPS_SIP_MAX_HDRS; i++)
		len += (size_t)sprintf(b + len, ",t%d", i);
	len += (size_t)sprintf(b + len, "\r\nContent-Length: 0\r\n\r\n");
	rc = test_msg_parse(&p, b, len);
	free(b);
	test_msg_free(&p);
	ASSERT(rc == EMSGSIZE || rc == EBADMSG);

	/* an 8000-byte header line is fine, a 9000-byte one is not */
	for (int big = 0; big < 2; big++) {
		size_t vlen = big ? 9000 : 8000;
		b = malloc(vlen + 512);
		ASSERT(b);
		len = (size_t)sprintf(b, "%sSubject: ", REQ_HEAD);
		memset(b + len, 's', vlen);
		len += vlen;
		len += (size_t)sprintf(b + len, "\r\nContent-Length: 0\r\n\r\n");
		rc = test_msg_parse(&p, b, len);
		free(b);
		test_msg_free(&p);
		if (big)
			ASSERT(rc == EMSGSIZE || rc == EBADMSG);
		else
			ASSERT_INT_EQ(rc, 0);
	}
	return 0;
}

int test_sip_msg_garbage(void)
{
	static const char *const bad[] = {
		"",
		"\r\n",
		"\r\n\r\n",
		"INVITE",
		"INVITE sip:a@b SIP/2.0",
		"INVITE sip:a@b SIP/2.0\r\n",
		"INVITE sip:a@b SIP/2.0\r\n\r\n",
		"SIP/2.0 200 OK",
		"SIP/2.0 200 OK\r\n",
		"SIP/2.0 200",
		"SIP/2.0 99 Low\r\n\r\n",
		"SIP/2.0 700 High\r\n\r\n",
		"SIP/2.0 2000 OK\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nVia",
		"INVITE sip:a@b SIP/2.0\r\nVia:",
		"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n",
		"INVITE sip:a@b SIP/2.0\r\n Via: SIP/2.0/UDP h\r\n\r\n", /* fold before any header */
		"INVITE sip:a@b SIP/2.0\r\nNo colon here\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\n: empty name\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\n\n",
		"INVITE sip:a@b HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		REQ_HEAD "Content-Length: 10\r\n\r\nshort",
		REQ_HEAD "Content-Length: -1\r\n\r\n",
		REQ_HEAD "Content-Length: 1x\r\n\r\nx",
		REQ_HEAD "Content-Length: 99999999999999999999\r\n\r\n",
		REQ_HEAD "Max-Forwards: 256\r\nContent-Length: 0\r\n\r\n",
		REQ_HEAD "Expires: abc\r\nContent-Length: 0\r\n\r\n",
		REQ_HEAD "To: <sip:bob@biloxi.example.com\r\nContent-Length: 0\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct test_msg p;
		size_t len = strlen(bad[i]);
		int rc = test_msg_parse(&p, bad[i], len);
		unsigned st = 0;
		const char *why = p.why;
		if (rc == 0)
			st = sps_sip_msg_validate(p.m, &why);
		test_msg_free(&p);
		if (rc == 0 && st == 0)
			TEST_FAIL("vector %zu accepted: \"%.60s\"", i, bad[i]);
		if (!why)
			TEST_FAIL("vector %zu rejected without a reason", i);
	}

	/* binary garbage with an embedded NUL */
	{
		struct test_msg q;
		int rc = test_msg_parse(&q, "\x80\xff\x00\x01", 4);
		test_msg_free(&q);
		ASSERT(rc != 0);
	}

	/* bytes after Content-Length are ignored (RFC 3261 18.3), and without
	 * Content-Length (UDP) the body is the rest of the datagram */
	struct test_msg p;
	PARSE_OK(&p, REQ_HEAD "Content-Length: 2\r\n\r\nabJUNK");
	CHECK_SLICE(&p, p.m->body, "ab");
	test_msg_free(&p);
	PARSE_OK(&p, REQ_HEAD "\r\nrest of datagram");
	CHECK_SLICE(&p, p.m->body, "rest of datagram");
	CHECK_INT(&p, p.m->content_length, -1);
	test_msg_free(&p);
	return 0;
}
