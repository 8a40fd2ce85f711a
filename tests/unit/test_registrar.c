/* Unit tests for the registrar (src/registrar/): real REGISTER texts parsed
 * with sps_sip_msg_parse, processed against a real SQLite store in a temp
 * dir, committed like the server's group commit does. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "registrar/registrar_int.h"
#include "sip/msg.h"
#include "store/store.h"
#include "test.h"
#include "util.h"

#define T0 1700000000LL /* "now" of the tests */

/* A store in a temp dir and a registrar for example.com over it. */
struct env {
	char tmp[64];
	char data[96];
	struct sps_store *st;
	struct sps_registrar *r;
};

/* One processed REGISTER; the reply lives in arena. */
struct call {
	struct sps_arena *arena;
	char *buf;
	struct sps_sip_msg *m;
	struct sps_reg_reply reply;
	int rc;
};

static const struct sps_reg_origin udp_origin = {"udp", "192.0.2.10:5060", "192.0.2.1:5060", 0};

static void env_close(struct env *e)
{
	sps_registrar_free(e->r);
	sps_store_close(e->st);
	if (e->tmp[0])
		test_rmtree(e->tmp);
	memset(e, 0, sizeof(*e));
}

static int env_open(struct env *e, unsigned max_contacts, const char *boot_id)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->tmp, sizeof(e->tmp), "/tmp/sipsec-reg.XXXXXX");
	if (!mkdtemp(e->tmp)) {
		e->tmp[0] = '\0';
		return errno;
	}
	snprintf(e->data, sizeof(e->data), "%s/data", e->tmp);
	const char *why = NULL;
	int rc = sps_store_open(&e->st, e->data, &why);
	if (rc) {
		fprintf(stderr, "    store open: %s\n", why ? why : strerror(rc));
		env_close(e);
		return rc;
	}
	struct sps_registrar_conf conf = {
		.domain = "Example.COM",
		.boot_id = boot_id,
		.min_expires = 60,
		.default_expires = 3600,
		.max_expires = 86400,
		.max_contacts = max_contacts,
	};
	rc = sps_registrar_new(&e->r, e->st, &conf);
	if (rc)
		env_close(e);
	return rc;
}

static void call_free(struct call *c)
{
	sps_arena_free(c->arena);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

/* Parse text and run it through the registrar as `user` from o at `now`;
 * commit when the reply says so (the server's group commit). Returns 0 when
 * the message parsed and the registrar returned 0. */
static int reg_as(struct env *e, struct call *c, const char *text, const char *user,
		  const struct sps_reg_origin *o, int64_t now)
{
	const char *why = NULL;
	size_t len = strlen(text);
	memset(c, 0, sizeof(*c));
	if (sps_arena_new(&c->arena, 0) || !(c->buf = malloc(len)))
		return ENOMEM;
	memcpy(c->buf, text, len);
	int rc = sps_sip_msg_parse(c->buf, len, c->arena, &c->m, &why);
	if (rc) {
		fprintf(stderr, "    parse: %s\n", why ? why : "?");
		return rc;
	}
	c->rc = sps_registrar_register(e->r, c->m, user, o, now, c->arena, &c->reply);
	if (c->reply.stored) {
		rc = sps_store_commit(e->st);
		if (rc)
			return rc;
	}
	return c->rc;
}

/* A REGISTER for alice with the given Call-ID, CSeq and extra header lines. */
static char *msg(char *buf, size_t size, const char *call_id, unsigned cseq, const char *extra)
{
	snprintf(buf, size,
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-%s-%u\r\n"
		 "Max-Forwards: 70\r\n"
		 "To: <sip:alice@example.com>\r\n"
		 "From: <sip:alice@example.com>;tag=f%u\r\n"
		 "Call-ID: %s\r\n"
		 "CSeq: %u REGISTER\r\n"
		 "User-Agent: TestPhone/1.0\r\n"
		 "%s"
		 "Content-Length: 0\r\n"
		 "\r\n",
		 call_id, cseq, cseq, call_id, cseq, extra);
	return buf;
}

static int reg(struct env *e, struct call *c, const char *call_id, unsigned cseq,
	       const char *extra, int64_t now)
{
	char buf[4096];
	return reg_as(e, c, msg(buf, sizeof(buf), call_id, cseq, extra), "alice", &udp_origin,
		      now);
}

/* Value of the i-th reply header called name, or NULL. */
static const char *hdr(const struct call *c, const char *name, unsigned i)
{
	static char v[2048];
	for (size_t k = 0; k < c->reply.nhdrs; k++) {
		if (strcmp(c->reply.hdrs[k].name, name) != 0)
			continue;
		if (i-- == 0) {
			if (sps_slice_to_cstr(c->reply.hdrs[k].value, v, sizeof(v)))
				return NULL;
			return v;
		}
	}
	return NULL;
}

static unsigned nhdr(const struct call *c, const char *name)
{
	unsigned n = 0;
	for (size_t k = 0; k < c->reply.nhdrs; k++)
		n += strcmp(c->reply.hdrs[k].name, name) == 0;
	return n;
}

/* Bindings of the store (all rows, or live ones at now), copied. */
#define MAXB 16
struct rows {
	unsigned n;
	struct {
		char aor[128], contact[256], contact_hdr[512], instance[128], call_id[64];
		char path[256], transport[8], source[64], local[64], ua[64], boot_id[32];
		uint32_t reg_id, cseq;
		int64_t expires_at;
		int q;
		uint64_t conn_id;
		bool outbound;
	} b[MAXB];
};

static int copy_row(const struct sps_binding *b, void *arg)
{
	struct rows *r = arg;
	if (r->n >= MAXB)
		return 1;
#define CP(dst, src) snprintf(r->b[r->n].dst, sizeof(r->b[r->n].dst), "%s", (src) ? (src) : "")
	CP(aor, b->aor);
	CP(contact, b->contact);
	CP(contact_hdr, b->contact_hdr);
	CP(instance, b->instance);
	CP(call_id, b->call_id);
	CP(path, b->path);
	CP(transport, b->transport);
	CP(source, b->source);
	CP(local, b->local);
	CP(ua, b->user_agent);
	CP(boot_id, b->boot_id);
#undef CP
	r->b[r->n].reg_id = b->reg_id;
	r->b[r->n].cseq = b->cseq;
	r->b[r->n].expires_at = b->expires_at;
	r->b[r->n].q = b->q;
	r->b[r->n].conn_id = b->conn_id;
	r->b[r->n].outbound = b->outbound;
	r->n++;
	return 0;
}

static int rows_of(struct env *e, int64_t now, struct rows *r)
{
	memset(r, 0, sizeof(*r));
	return sps_store_binding_each(e->st, "sip:alice@example.com", now, copy_row, r);
}

static int lookup_rows(struct env *e, int64_t now, struct rows *r)
{
	memset(r, 0, sizeof(*r));
	return sps_registrar_lookup(e->r, "alice", now, copy_row, r);
}

/* Fail the test after releasing the call and the env. */
#define CHK(c)                                                                          \
	do {                                                                            \
		if (!(c)) {                                                             \
			call_free(&cl);                                                 \
			env_close(&env);                                                \
			TEST_FAIL("assertion failed: %s", #c);                          \
		}                                                                       \
	} while (0)
#define CHK_INT(a, b)                                                                   \
	do {                                                                            \
		long long a_ = (long long)(a), b_ = (long long)(b);                     \
		if (a_ != b_) {                                                         \
			call_free(&cl);                                                 \
			env_close(&env);                                                \
			TEST_FAIL("%s == %lld, expected %lld", #a, a_, b_);             \
		}                                                                       \
	} while (0)
#define CHK_STR(a, b)                                                                   \
	do {                                                                            \
		const char *a_ = (a), *b_ = (b);                                        \
		if (!a_ || strcmp(a_, b_) != 0) {                                       \
			fprintf(stderr, "    %s == \"%s\", expected \"%s\"\n", #a,        \
				a_ ? a_ : "(null)", b_);                                \
			call_free(&cl);                                                 \
			env_close(&env);                                                \
			TEST_FAIL("string mismatch");                                   \
		}                                                                       \
	} while (0)
/* Run one REGISTER; the previous call is released first. */
#define REG(...)                                                                        \
	do {                                                                            \
		call_free(&cl);                                                         \
		int rc_ = reg(&env, &cl, __VA_ARGS__);                                  \
		CHK_INT(rc_, 0);                                                        \
	} while (0)
#define SETUP(maxc, boot)                                                               \
	struct env env;                                                                 \
	struct call cl;                                                                 \
	struct rows rows;                                                               \
	memset(&cl, 0, sizeof(cl));                                                     \
	(void)rows;                                                                     \
	if (env_open(&env, (maxc), (boot)))                                             \
	TEST_FAIL("cannot open the test store")
#define DONE()                                                                          \
	do {                                                                            \
		call_free(&cl);                                                         \
		env_close(&env);                                                        \
		return 0;                                                               \
	} while (0)

int test_registrar_add(void)
{
	SETUP(10, "boot-1");
	REG("add-1", 1,
	    "Contact: \"Alice\" <sip:alice@192.0.2.10:5060;transport=udp>;q=0.8\r\n"
	    "Expires: 3600\r\n",
	    T0);
	CHK_INT(cl.reply.code, 200);
	CHK(cl.reply.stored);
	CHK_INT(cl.reply.flow_expires, 0);
	CHK_INT(nhdr(&cl, "Contact"), 1);
	CHK_STR(hdr(&cl, "Contact", 0),
		"\"Alice\" <sip:alice@192.0.2.10:5060;transport=udp>;q=0.8;expires=3600");
	CHK_STR(hdr(&cl, "Date", 0), "Tue, 14 Nov 2023 22:13:20 GMT");
	CHK(!hdr(&cl, "Require", 0));
	CHK_INT(rows_of(&env, T0, &rows), 0);
	CHK_INT(rows.n, 1);
	CHK_STR(rows.b[0].aor, "sip:alice@example.com");
	CHK_STR(rows.b[0].contact, "sip:alice@192.0.2.10:5060;transport=udp");
	CHK_STR(rows.b[0].contact_hdr,
		"\"Alice\" <sip:alice@192.0.2.10:5060;transport=udp>;q=0.8");
	CHK_STR(rows.b[0].call_id, "add-1");
	CHK_INT(rows.b[0].cseq, 1);
	CHK_INT(rows.b[0].expires_at, T0 + 3600);
	CHK_INT(rows.b[0].q, 800);
	CHK_STR(rows.b[0].transport, "udp");
	CHK_STR(rows.b[0].source, "192.0.2.10:5060");
	CHK_STR(rows.b[0].local, "192.0.2.1:5060");
	CHK_STR(rows.b[0].ua, "TestPhone/1.0");
	CHK_STR(rows.b[0].boot_id, "");
	CHK_INT(rows.b[0].conn_id, 0);
	CHK(!rows.b[0].outbound);
	CHK_INT(lookup_rows(&env, T0 + 10, &rows), 0);
	CHK_INT(rows.n, 1);
	/* no Contact and no Expires: the default */
	REG("add-2", 1, "Contact: <sip:alice@192.0.2.11>\r\n", T0);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(nhdr(&cl, "Contact"), 2);
	CHK_INT(rows_of(&env, T0, &rows), 0);
	CHK_INT(rows.n, 2);
	/* no q ranks first (as 1.0, store order) */
	CHK_STR(rows.b[0].contact, "sip:alice@192.0.2.11");
	CHK_INT(rows.b[0].expires_at, T0 + 3600);
	CHK_INT(rows.b[0].q, -1);
	DONE();
}

int test_registrar_refresh(void)
{
	SETUP(10, "boot-1");
	REG("ref-1", 1, "Contact: <sip:alice@192.0.2.10>;expires=3600\r\n", T0);
	CHK_INT(cl.reply.code, 200);
	/* same Call-ID, higher CSeq, 100 s later, shorter expiry */
	REG("ref-1", 2, "Contact: <sip:alice@192.0.2.10>\r\nExpires: 1800\r\n", T0 + 100);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(nhdr(&cl, "Contact"), 1);
	CHK_STR(hdr(&cl, "Contact", 0), "<sip:alice@192.0.2.10>;expires=1800");
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 1);
	CHK_INT(rows.b[0].cseq, 2);
	CHK_INT(rows.b[0].expires_at, T0 + 100 + 1800);
	/* an equal URI written differently (host case) refreshes, not adds */
	REG("ref-1", 3, "Contact: <sip:alice@192.0.2.10;transport=UDP>\r\n", T0 + 200);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 2); /* transport param differs: a different URI (19.1.4) */
	REG("ref-1", 4, "Contact: <sip:alice@192.0.2.10;transport=UDP>;expires=0\r\n", T0 + 200);
	REG("ref-1", 5, "Contact: <SIP:alice@192.0.2.10>;expires=600\r\n", T0 + 300);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 1);
	CHK_STR(rows.b[0].contact, "SIP:alice@192.0.2.10");
	CHK_INT(rows.b[0].expires_at, T0 + 300 + 600);
	/* remaining expiry in a later reply */
	REG("ref-1", 6, "", T0 + 400);
	CHK_STR(hdr(&cl, "Contact", 0), "<SIP:alice@192.0.2.10>;expires=500");
	DONE();
}

int test_registrar_out_of_order(void)
{
	SETUP(10, "boot-1");
	REG("ooo-1", 5, "Contact: <sip:alice@192.0.2.10>\r\n", T0);
	CHK_INT(cl.reply.code, 200);
	/* RFC 3261 10.3 step 7: same Call-ID, CSeq not higher -> refused */
	REG("ooo-1", 5, "Contact: <sip:alice@192.0.2.10>;expires=0\r\n", T0 + 1);
	CHK_INT(cl.reply.code, 500);
	CHK_STR(cl.reply.reason, "Out of order");
	CHK(!cl.reply.stored);
	REG("ooo-1", 4, "Contact: <sip:alice@192.0.2.10>;expires=120\r\n", T0 + 1);
	CHK_INT(cl.reply.code, 500);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 1);
	CHK_INT(rows.b[0].cseq, 5);
	CHK_INT(rows.b[0].expires_at, T0 + 3600);
	/* a different Call-ID (the phone rebooted) replaces, whatever its CSeq */
	REG("ooo-2", 1, "Contact: <sip:alice@192.0.2.10>;expires=120\r\n", T0 + 2);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 1);
	CHK_STR(rows.b[0].call_id, "ooo-2");
	CHK_INT(rows.b[0].cseq, 1);
	CHK_INT(rows.b[0].expires_at, T0 + 2 + 120);
	DONE();
}

int test_registrar_q_expires(void)
{
	SETUP(10, "boot-1");
	/* contact expires beats the Expires header; q orders the 200 */
	REG("q-1", 1,
	    "Contact: <sip:alice@192.0.2.20>;q=0.1, <sip:alice@192.0.2.21>;q=0.9;expires=120\r\n"
	    "Contact: <sip:alice@192.0.2.22>;expires=100000\r\n"
	    "Expires: 600\r\n",
	    T0);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(nhdr(&cl, "Contact"), 3);
	/* no q ranks as 1.0 (store order), then 0.9, then 0.1 */
	CHK_STR(hdr(&cl, "Contact", 0), "<sip:alice@192.0.2.22>;expires=86400");
	CHK_STR(hdr(&cl, "Contact", 1), "<sip:alice@192.0.2.21>;q=0.9;expires=120");
	CHK_STR(hdr(&cl, "Contact", 2), "<sip:alice@192.0.2.20>;q=0.1;expires=600");
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 3);
	CHK_INT(rows.b[1].q, 900);
	CHK_INT(rows.b[2].q, 100);
	/* Expires: 0 removes every listed contact */
	REG("q-1", 2, "Contact: <sip:alice@192.0.2.20>, <sip:alice@192.0.2.22>\r\nExpires: 0\r\n",
	    T0 + 10);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(nhdr(&cl, "Contact"), 1);
	CHK_STR(hdr(&cl, "Contact", 0), "<sip:alice@192.0.2.21>;q=0.9;expires=110");
	DONE();
}

int test_registrar_too_brief(void)
{
	SETUP(10, "boot-1");
	REG("tb-1", 1,
	    "Contact: <sip:alice@192.0.2.10>;expires=3600, <sip:alice@192.0.2.11>;expires=30\r\n",
	    T0);
	CHK_INT(cl.reply.code, 423);
	CHK_STR(hdr(&cl, "Min-Expires", 0), "60");
	CHK(!cl.reply.stored);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 0);
	REG("tb-1", 2, "Contact: <sip:alice@192.0.2.10>\r\nExpires: 59\r\n", T0);
	CHK_INT(cl.reply.code, 423);
	/* exactly the minimum is fine; 0 is a removal, not too brief */
	REG("tb-1", 3, "Contact: <sip:alice@192.0.2.10>\r\nExpires: 60\r\n", T0);
	CHK_INT(cl.reply.code, 200);
	REG("tb-1", 4, "Contact: <sip:alice@192.0.2.10>\r\nExpires: 0\r\n", T0);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(nhdr(&cl, "Contact"), 0);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 0);
	DONE();
}

int test_registrar_star(void)
{
	SETUP(10, "boot-1");
	REG("st-1", 1, "Contact: <sip:alice@192.0.2.10>, <sip:alice@192.0.2.11>\r\n", T0);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(nhdr(&cl, "Contact"), 2);
	/* RFC 3261 10.3 step 6: * only with Expires: 0 and alone */
	REG("st-2", 1, "Contact: *\r\n", T0);
	CHK_INT(cl.reply.code, 400);
	REG("st-2", 1, "Contact: *\r\nExpires: 10\r\n", T0);
	CHK_INT(cl.reply.code, 400);
	REG("st-2", 1, "Contact: *\r\nContact: <sip:alice@192.0.2.12>\r\nExpires: 0\r\n", T0);
	CHK_INT(cl.reply.code, 400);
	CHK(!cl.reply.stored);
	/* same Call-ID with a CSeq not higher: refused, nothing removed */
	REG("st-1", 1, "Contact: *\r\nExpires: 0\r\n", T0);
	CHK_INT(cl.reply.code, 500);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 2);
	REG("st-1", 2, "Contact: *\r\nExpires: 0\r\n", T0);
	CHK_INT(cl.reply.code, 200);
	CHK(cl.reply.stored);
	CHK_INT(nhdr(&cl, "Contact"), 0);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 0);
	DONE();
}

int test_registrar_forbidden(void)
{
	SETUP(10, "boot-1");
	char buf[2048];
	/* RFC 3261 10.3 step 4: alice may not register bob */
	snprintf(buf, sizeof(buf),
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-f1\r\n"
		 "Max-Forwards: 70\r\n"
		 "To: <sip:bob@example.com>\r\n"
		 "From: <sip:alice@example.com>;tag=1\r\n"
		 "Call-ID: fb-1\r\n"
		 "CSeq: 1 REGISTER\r\n"
		 "Contact: <sip:bob@192.0.2.10>\r\n"
		 "Content-Length: 0\r\n\r\n");
	CHK_INT(reg_as(&env, &cl, buf, "alice", &udp_origin, T0), 0);
	CHK_INT(cl.reply.code, 403);
	CHK(!cl.reply.stored);
	call_free(&cl);
	/* step 5: an AoR of another domain */
	snprintf(buf, sizeof(buf),
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-f2\r\n"
		 "Max-Forwards: 70\r\n"
		 "To: <sip:alice@example.org>\r\n"
		 "From: <sip:alice@example.org>;tag=1\r\n"
		 "Call-ID: fb-2\r\n"
		 "CSeq: 1 REGISTER\r\n"
		 "Contact: <sip:alice@192.0.2.10>\r\n"
		 "Content-Length: 0\r\n\r\n");
	CHK_INT(reg_as(&env, &cl, buf, "alice", &udp_origin, T0), 0);
	CHK_INT(cl.reply.code, 404);
	call_free(&cl);
	/* host compared case-insensitively, escaped user unescaped; sips: is fine */
	snprintf(buf, sizeof(buf),
		 "REGISTER sips:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS 192.0.2.10;branch=z9hG4bK-f3\r\n"
		 "Max-Forwards: 70\r\n"
		 "To: <sips:%%61lice@EXAMPLE.com>\r\n"
		 "From: <sips:alice@example.com>;tag=1\r\n"
		 "Call-ID: fb-3\r\n"
		 "CSeq: 1 REGISTER\r\n"
		 "Contact: <sips:alice@192.0.2.10>\r\n"
		 "Content-Length: 0\r\n\r\n");
	CHK_INT(reg_as(&env, &cl, buf, "alice", &udp_origin, T0), 0);
	CHK_INT(cl.reply.code, 200);
	/* user names are case-sensitive (RFC 3261 19.1.4) */
	call_free(&cl);
	CHK_INT(reg_as(&env, &cl, buf, "Alice", &udp_origin, T0), 0);
	CHK_INT(cl.reply.code, 403);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 1);
	DONE();
}

#define INSTANCE "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\""

int test_registrar_outbound(void)
{
	SETUP(10, "boot-1");
	const struct sps_reg_origin tls7 = {"tls", "198.51.100.7:40001", "192.0.2.1:5061", 7};
	const struct sps_reg_origin tls8 = {"tls", "198.51.100.7:40002", "192.0.2.1:5061", 8};
	char buf[4096];
	/* RFC 5626 6: instance + reg-id + Supported: outbound -> Require: outbound */
	msg(buf, sizeof(buf), "ob-1", 1,
	    "Supported: path, outbound\r\n"
	    "Contact: <sip:alice@198.51.100.7:40001;transport=tls;ob>;reg-id=1;" INSTANCE "\r\n"
	    "Expires: 1200\r\n");
	CHK_INT(reg_as(&env, &cl, buf, "alice", &tls7, T0), 0);
	CHK_INT(cl.reply.code, 200);
	CHK_STR(hdr(&cl, "Require", 0), "outbound");
	CHK_STR(hdr(&cl, "Supported", 0), "outbound");
	CHK_INT(cl.reply.flow_expires, 1200);
	CHK_STR(hdr(&cl, "Contact", 0),
		"<sip:alice@198.51.100.7:40001;transport=tls;ob>;reg-id=1;" INSTANCE
		";expires=1200");
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 1);
	CHK(rows.b[0].outbound);
	CHK_STR(rows.b[0].instance, "urn:uuid:00000000-0000-1000-8000-000A95A0E128");
	CHK_INT(rows.b[0].reg_id, 1);
	CHK_INT(rows.b[0].conn_id, 7);
	CHK_STR(rows.b[0].boot_id, "boot-1");
	CHK_STR(rows.b[0].transport, "tls");
	/* a second flow of the same instance, same contact URI, other Call-ID */
	call_free(&cl);
	msg(buf, sizeof(buf), "ob-2", 1,
	    "Supported: outbound\r\n"
	    "Contact: <sip:alice@198.51.100.7:40001;transport=tls;ob>;reg-id=2;" INSTANCE "\r\n");
	CHK_INT(reg_as(&env, &cl, buf, "alice", &tls8, T0 + 5), 0);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(nhdr(&cl, "Contact"), 2);
	CHK_INT(cl.reply.flow_expires, 3600);
	CHK_INT(lookup_rows(&env, T0 + 5, &rows), 0);
	CHK_INT(rows.n, 2);
	/* removing flow 1 leaves flow 2, although both share the contact URI */
	call_free(&cl);
	msg(buf, sizeof(buf), "ob-1", 2,
	    "Supported: outbound\r\n"
	    "Contact: <sip:alice@198.51.100.7:40001;transport=tls;ob>;reg-id=1;" INSTANCE
	    ";expires=0\r\n");
	CHK_INT(reg_as(&env, &cl, buf, "alice", &tls7, T0 + 6), 0);
	CHK_INT(cl.reply.code, 200);
	CHK_STR(hdr(&cl, "Require", 0), "outbound");
	CHK_INT(cl.reply.flow_expires, 0);
	CHK_INT(nhdr(&cl, "Contact"), 1);
	CHK(strstr(hdr(&cl, "Contact", 0), "reg-id=2") != NULL);
	CHK_INT(lookup_rows(&env, T0 + 6, &rows), 0);
	CHK_INT(rows.n, 1);
	CHK_INT(rows.b[0].reg_id, 2);
	CHK_INT(rows.b[0].conn_id, 8);
	/* reg-id without Supported: outbound: keyed by instance, but no Require */
	call_free(&cl);
	msg(buf, sizeof(buf), "ob-3", 1,
	    "Contact: <sip:alice@198.51.100.9;transport=tls>;reg-id=3;" INSTANCE "\r\n");
	CHK_INT(reg_as(&env, &cl, buf, "alice", &tls8, T0 + 7), 0);
	CHK_INT(cl.reply.code, 200);
	CHK(!hdr(&cl, "Require", 0));
	/* RFC 5626 6: not the first hop, no ;ob Path -> 439 */
	call_free(&cl);
	snprintf(buf, sizeof(buf),
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS 192.0.2.50;branch=z9hG4bK-p1\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:40001;branch=z9hG4bK-u1\r\n"
		 "Max-Forwards: 69\r\n"
		 "To: <sip:alice@example.com>\r\n"
		 "From: <sip:alice@example.com>;tag=1\r\n"
		 "Call-ID: ob-4\r\n"
		 "CSeq: 1 REGISTER\r\n"
		 "Supported: outbound\r\n"
		 "Contact: <sip:alice@198.51.100.7:40001;transport=tls;ob>;reg-id=1;" INSTANCE
		 "\r\n"
		 "Content-Length: 0\r\n\r\n");
	CHK_INT(reg_as(&env, &cl, buf, "alice", &tls7, T0 + 8), 0);
	CHK_INT(cl.reply.code, 439);
	CHK(!cl.reply.stored);
	/* two contacts with nonzero expiry and a reg-id -> 400 */
	call_free(&cl);
	msg(buf, sizeof(buf), "ob-5", 1,
	    "Supported: outbound\r\n"
	    "Contact: <sip:alice@198.51.100.7;ob>;reg-id=1;" INSTANCE
	    ", <sip:alice@192.0.2.99>\r\n");
	CHK_INT(reg_as(&env, &cl, buf, "alice", &tls7, T0 + 8), 0);
	CHK_INT(cl.reply.code, 400);
	DONE();
}

int test_registrar_path(void)
{
	SETUP(10, "boot-1");
	char buf[4096];
	/* RFC 3327 5.3: stored with the binding, echoed in the 200; RFC 5626 6:
	 * an ;ob Path makes outbound possible behind an edge proxy */
	snprintf(buf, sizeof(buf),
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/TCP 192.0.2.50;branch=z9hG4bK-p1\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:40001;branch=z9hG4bK-u1\r\n"
		 "Max-Forwards: 69\r\n"
		 "To: <sip:alice@example.com>\r\n"
		 "From: <sip:alice@example.com>;tag=1\r\n"
		 "Call-ID: path-1\r\n"
		 "CSeq: 1 REGISTER\r\n"
		 "Supported: outbound, path\r\n"
		 "Path: <sip:tok1@edge1.example.com;lr;ob>\r\n"
		 "Path: <sip:edge2.example.com;lr>\r\n"
		 "Contact: <sip:alice@198.51.100.7:40001;transport=tls;ob>;reg-id=1;" INSTANCE
		 "\r\n"
		 "Content-Length: 0\r\n\r\n");
	const struct sps_reg_origin tcp3 = {"tcp", "192.0.2.50:5060", "192.0.2.1:5060", 3};
	CHK_INT(reg_as(&env, &cl, buf, "alice", &tcp3, T0), 0);
	CHK_INT(cl.reply.code, 200);
	CHK_STR(hdr(&cl, "Path", 0),
		"<sip:tok1@edge1.example.com;lr;ob>, <sip:edge2.example.com;lr>");
	CHK_STR(hdr(&cl, "Require", 0), "outbound");
	CHK_STR(hdr(&cl, "Supported", 0), "outbound, path");
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 1);
	CHK_STR(rows.b[0].path, "<sip:tok1@edge1.example.com;lr;ob>, <sip:edge2.example.com;lr>");
	/* with a Path the binding stays routable after our conn to the edge closed */
	CHK_INT(sps_registrar_flow_closed(env.r, 3), 0);
	CHK_INT(sps_store_commit(env.st), 0);
	CHK_INT(lookup_rows(&env, T0, &rows), 0);
	CHK_INT(rows.n, 1);
	CHK_INT(rows.b[0].conn_id, 0);
	DONE();
}

int test_registrar_flow_closed(void)
{
	SETUP(10, "boot-1");
	char buf[4096];
	const struct sps_reg_origin tcp9 = {"tcp", "198.51.100.9:50000", "192.0.2.1:5060", 9};
	/* connection reuse without outbound: the binding remembers conn 9 */
	msg(buf, sizeof(buf), "fc-1", 1, "Contact: <sip:alice@10.0.0.9:5060;transport=tcp>\r\n");
	CHK_INT(reg_as(&env, &cl, buf, "alice", &tcp9, T0), 0);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(cl.reply.flow_expires, 3600);
	REG("fc-2", 1, "Contact: <sip:alice@192.0.2.10>\r\n", T0);
	CHK_INT(lookup_rows(&env, T0, &rows), 0);
	CHK_INT(rows.n, 2);
	/* another connection closing changes nothing */
	CHK_INT(sps_registrar_flow_closed(env.r, 10), 0);
	CHK(!sps_store_in_batch(env.st));
	CHK_INT(sps_registrar_flow_closed(env.r, 9), 0);
	CHK(sps_store_in_batch(env.st));
	CHK_INT(sps_store_commit(env.st), 0);
	CHK_INT(lookup_rows(&env, T0, &rows), 0);
	CHK_INT(rows.n, 1);
	CHK_STR(rows.b[0].transport, "udp");
	/* still listed (as closed), with conn_id 0 and the old boot_id */
	CHK_INT(rows_of(&env, T0, &rows), 0);
	CHK_INT(rows.n, 2);
	int tcp = strcmp(rows.b[0].transport, "tcp") == 0 ? 0 : 1;
	CHK_INT(rows.b[tcp].conn_id, 0);
	CHK_STR(rows.b[tcp].boot_id, "boot-1");
	/* the phone reconnects and refreshes: usable again */
	const struct sps_reg_origin tcp11 = {"tcp", "198.51.100.9:50001", "192.0.2.1:5060", 11};
	call_free(&cl);
	msg(buf, sizeof(buf), "fc-1", 2, "Contact: <sip:alice@10.0.0.9:5060;transport=tcp>\r\n");
	CHK_INT(reg_as(&env, &cl, buf, "alice", &tcp11, T0 + 1), 0);
	CHK_INT(lookup_rows(&env, T0 + 1, &rows), 0);
	CHK_INT(rows.n, 2);
	/* a registrar of a later run (other boot_id) treats the flow as closed */
	struct sps_registrar *r2;
	struct sps_registrar_conf conf = {"example.com", "boot-2", 60, 3600, 86400, 10};
	CHK_INT(sps_registrar_new(&r2, env.st, &conf), 0);
	memset(&rows, 0, sizeof(rows));
	int rc = sps_registrar_lookup(r2, "alice", T0 + 1, copy_row, &rows);
	sps_registrar_free(r2);
	CHK_INT(rc, 0);
	CHK_INT(rows.n, 1);
	CHK_STR(rows.b[0].transport, "udp");
	DONE();
}

int test_registrar_expire(void)
{
	SETUP(10, "boot-1");
	REG("ex-1", 1, "Contact: <sip:alice@192.0.2.10>;expires=60, <sip:alice@192.0.2.11>\r\n",
	    T0);
	CHK_INT(cl.reply.code, 200);
	/* lookups ignore an expired binding at once */
	CHK_INT(lookup_rows(&env, T0 + 60, &rows), 0);
	CHK_INT(rows.n, 1);
	unsigned n = 99;
	CHK_INT(sps_registrar_expire(env.r, T0 + 59, &n), 0);
	CHK_INT(n, 0);
	CHK_INT(sps_registrar_expire(env.r, T0 + 61, &n), 0);
	CHK_INT(n, 1);
	CHK_INT(sps_store_commit(env.st), 0);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 1);
	CHK_STR(rows.b[0].contact, "sip:alice@192.0.2.11");
	/* a 200 lists only what is live */
	REG("ex-1", 2, "", T0 + 3599);
	CHK_INT(nhdr(&cl, "Contact"), 1);
	CHK_STR(hdr(&cl, "Contact", 0), "<sip:alice@192.0.2.11>;expires=1");
	DONE();
}

int test_registrar_query(void)
{
	SETUP(10, "boot-1");
	REG("qy-1", 1, "Contact: <sip:alice@192.0.2.10>;q=0.5, <sip:alice@192.0.2.11>;q=1\r\n", T0);
	CHK_INT(cl.reply.code, 200);
	/* RFC 3261 10.2.3: no Contact -> the current bindings, nothing written */
	REG("qy-9", 1, "", T0 + 30);
	CHK_INT(cl.reply.code, 200);
	CHK(!cl.reply.stored);
	CHK_INT(nhdr(&cl, "Contact"), 2);
	CHK_STR(hdr(&cl, "Contact", 0), "<sip:alice@192.0.2.11>;q=1;expires=3570");
	CHK_STR(hdr(&cl, "Contact", 1), "<sip:alice@192.0.2.10>;q=0.5;expires=3570");
	CHK(hdr(&cl, "Date", 0) != NULL);
	DONE();
}

int test_registrar_too_many(void)
{
	SETUP(2, "boot-1");
	REG("tm-1", 1,
	    "Contact: <sip:alice@192.0.2.10>, <sip:alice@192.0.2.11>, <sip:alice@192.0.2.12>\r\n",
	    T0);
	CHK_INT(cl.reply.code, 403);
	CHK_STR(cl.reply.reason, "Too many contacts");
	CHK(!cl.reply.stored);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 0);
	REG("tm-1", 2, "Contact: <sip:alice@192.0.2.10>, <sip:alice@192.0.2.11>\r\n", T0);
	CHK_INT(cl.reply.code, 200);
	REG("tm-2", 1, "Contact: <sip:alice@192.0.2.12>\r\n", T0);
	CHK_INT(cl.reply.code, 403);
	/* replacing one is fine: remove one, add one */
	REG("tm-2", 2, "Contact: <sip:alice@192.0.2.12>, <sip:alice@192.0.2.10>;expires=0\r\n",
	    T0);
	CHK_INT(cl.reply.code, 200);
	CHK_INT(rows_of(&env, 0, &rows), 0);
	CHK_INT(rows.n, 2);
	DONE();
}

int test_registrar_contact_rewrite(void)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{"<sip:a@b>", "<sip:a@b>;expires=60"},
		{"sip:a@b", "sip:a@b;expires=60"},
		{"sip:a@b;EXPIRES=3;q=0.5", "sip:a@b;q=0.5;expires=60"},
		{"\"A;<x>\" <sip:a@b;x=1>;expires=5 ; q=0.5",
		 "\"A;<x>\" <sip:a@b;x=1>;q=0.5;expires=60"},
		{"<sip:a@b>;+sip.instance=\"<urn:x;expires=1>\";reg-id=1;expires=7",
		 "<sip:a@b>;+sip.instance=\"<urn:x;expires=1>\";reg-id=1;expires=60"},
		{"Alice <sip:a@b;expires=9>;expiresx=2",
		 "Alice <sip:a@b;expires=9>;expiresx=2;expires=60"},
	};
	struct sps_arena *a;
	ASSERT_INT_EQ(sps_arena_new(&a, 0), 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *got = sps__reg_contact_expires(a, v[i].in, 60);
		if (!got || strcmp(got, v[i].out) != 0) {
			fprintf(stderr, "    %s -> %s, expected %s\n", v[i].in,
				got ? got : "(null)", v[i].out);
			sps_arena_free(a);
			TEST_FAIL("vector %zu", i);
		}
	}
	sps_arena_free(a);
	return 0;
}

int test_registrar_conf(void)
{
	struct env env;
	struct call cl;
	memset(&cl, 0, sizeof(cl));
	CHK_INT(env_open(&env, 10, NULL), 0);
	struct sps_registrar *r = NULL;
	struct sps_registrar_conf bad[] = {
		{"", "b", 60, 3600, 86400, 10},
		{"example.com", "b", 0, 3600, 86400, 10},
		{"example.com", "b", 60, 30, 86400, 10},
		{"example.com", "b", 60, 3600, 600, 10},
		{"example.com", "b", 60, 3600, 86400, 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHK_INT(sps_registrar_new(&r, env.st, &bad[i]), EINVAL);
	CHK(r == NULL);
	char aor[64];
	CHK_INT(sps_registrar_aor(env.r, "bob", aor, sizeof(aor)), 0);
	CHK_STR(aor, "sip:bob@example.com");
	CHK_INT(sps_registrar_aor(env.r, "bob", aor, 10), ENOSPC);
	DONE();
}
