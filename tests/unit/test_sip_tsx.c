/* Unit tests for the transaction layer (src/sip/tsx.c): RFC 3261 17 state
 * machines and timers on a real loop with short timers (T1 = 10 ms), the
 * messages they send captured from the layer's send callback. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/loop.h"
#include "core/mem.h"
#include "sip/msg.h"
#include "sip/tsx.h"
#include "sip/write.h"
#include "test.h"

#define MAXSENT 64

struct env {
	struct sps_loop *loop;
	struct sps_tsx_layer *l;
	struct sps_arena *arena;
	char *sent[MAXSENT];
	size_t nsent;
	int fail_send; /* errno to return from send */
	unsigned codes[16];
	unsigned ncodes;
	char *bufs[16]; /* parse buffers to free */
	unsigned nbufs;
};

static int on_send(const struct sps_tsx_dest *d, const char *buf, size_t len, void *arg)
{
	struct env *e = arg;
	if (e->fail_send)
		return e->fail_send;
	if (e->nsent < MAXSENT) {
		char *copy = malloc(len + 1); /* buf is not NUL-terminated */
		if (!copy)
			return ENOMEM;
		memcpy(copy, buf, len);
		copy[len] = '\0';
		e->sent[e->nsent] = copy;
		e->nsent++;
	}
	return 0;
}

static void on_resp(struct sps_tsx *t, unsigned code, const struct sps_sip_msg *resp, void *arg)
{
	struct env *e = arg;
	if (e->ncodes < 16)
		e->codes[e->ncodes++] = code;
}

static int env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	struct sps_tsx_conf c = {.t1 = 10, .t2 = 40, .t4 = 50};
	if (sps_loop_new(&e->loop) || sps_arena_new(&e->arena, 0))
		return 1;
	return sps_tsx_layer_new(&e->l, e->loop, &c, on_send, e) ? 1 : 0;
}

static void env_free(struct env *e)
{
	sps_tsx_layer_free(e->l);
	sps_loop_free(e->loop);
	sps_arena_free(e->arena);
	for (size_t i = 0; i < e->nsent; i++)
		free(e->sent[i]);
	for (unsigned i = 0; i < e->nbufs; i++)
		free(e->bufs[i]);
}

/* Parse s (kept alive until env_free). NULL on failure. */
static struct sps_sip_msg *msg(struct env *e, const char *s)
{
	struct sps_sip_msg *m;
	const char *why;
	if (e->nbufs >= 16)
		return NULL;
	char *b = strdup(s);
	e->bufs[e->nbufs++] = b;
	return sps_sip_msg_parse(b, strlen(b), e->arena, &m, &why) ? NULL : m;
}

/* Run the loop for up to ms milliseconds or until cond holds. */
#define RUN_UNTIL(e, ms, cond)                                                          \
	do {                                                                            \
		for (int i_ = 0; i_ < (ms) && !(cond); i_++)                             \
			sps_loop_run_once((e)->loop, 1);                                \
	} while (0)

static const char reg[] = "REGISTER sip:example.com SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKreg1\r\n"
			  "From: <sip:a@example.com>;tag=f1\r\n"
			  "To: <sip:a@example.com>\r\n"
			  "Call-ID: c1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
			  "Content-Length: 0\r\n\r\n";

static const char inv[] = "INVITE sip:b@example.com SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinv1\r\n"
			  "Route: <sip:proxy.example.com;lr>\r\n"
			  "From: <sip:a@example.com>;tag=f1\r\n"
			  "To: <sip:b@example.com>\r\n"
			  "Call-ID: c2\r\nCSeq: 7 INVITE\r\nMax-Forwards: 70\r\n"
			  "Content-Length: 0\r\n\r\n";

static const char ack[] = "ACK sip:b@example.com SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinv1\r\n"
			  "From: <sip:a@example.com>;tag=f1\r\n"
			  "To: <sip:b@example.com>;tag=t9\r\n"
			  "Call-ID: c2\r\nCSeq: 7 ACK\r\nMax-Forwards: 70\r\n"
			  "Content-Length: 0\r\n\r\n";

static const char cancel[] = "CANCEL sip:b@example.com SIP/2.0\r\n"
			     "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinv1\r\n"
			     "From: <sip:a@example.com>;tag=f1\r\n"
			     "To: <sip:b@example.com>\r\n"
			     "Call-ID: c2\r\nCSeq: 7 CANCEL\r\nMax-Forwards: 70\r\n"
			     "Content-Length: 0\r\n\r\n";

static int respond(struct env *e, struct sps_tsx *t, const struct sps_sip_msg *req,
		   unsigned code)
{
	struct sps_mbuf mb;
	sps_mbuf_init(&mb, 0);
	int err = sps_sip_resp_write(&mb, req, code, NULL, code > 100 ? "t9" : NULL, NULL, 0,
				     NULL, SPS_SLICE_NULL);
	if (!err)
		err = sps_tsx_respond(t, code, mb.buf, mb.len);
	sps_mbuf_free(&mb);
	return err;
}

static const struct sps_tsx_dest udp_dest = {.tp = SPS_TP_UDP};
static const struct sps_tsx_dest tcp_dest = {.tp = SPS_TP_TCP, .conn_id = 1};

/* Non-INVITE server over UDP: a retransmission before the answer is
 * absorbed silently, after it gets the same response; Timer J ends it. */
int test_sip_tsx_server_non_invite(void)
{
	struct env e;
	struct sps_tsx *t = NULL;
	int rc = 1;
	if (env_init(&e))
		goto out;
	struct sps_sip_msg *m = msg(&e, reg);
	if (!m || sps_tsx_server_absorb(e.l, m))
		goto out;
	if (sps_tsx_server_new(&t, e.l, m, &udp_dest, NULL, NULL))
		goto out;
	if (sps_tsx_server_new(NULL, e.l, m, &udp_dest, NULL, NULL) != EEXIST)
		goto out;
	if (!sps_tsx_server_absorb(e.l, msg(&e, reg)) || e.nsent != 0)
		goto out; /* Trying: absorbed, nothing to send */
	if (respond(&e, t, m, 200) || e.nsent != 1 || sps_tsx_state(t) != SPS_TSX_COMPLETED)
		goto out;
	if (respond(&e, t, m, 200) != EALREADY)
		goto out;
	if (!sps_tsx_server_absorb(e.l, msg(&e, reg)) || e.nsent != 2 ||
	    strcmp(e.sent[0], e.sent[1]) != 0)
		goto out;
	RUN_UNTIL(&e, 2000, sps_tsx_layer_count(e.l) == 0);
	if (sps_tsx_layer_count(e.l) != 0 || sps_tsx_state(t) != SPS_TSX_TERMINATED)
		goto out;
	if (respond(&e, t, m, 200) != ESHUTDOWN)
		goto out;
	rc = 0;
out:
	sps_mem_deref(t);
	env_free(&e);
	if (rc)
		TEST_FAIL("non-INVITE server transaction misbehaved (sent %zu)", e.nsent);
	return 0;
}

/* INVITE server over UDP: 100 at once, a non-2xx final retransmitted with
 * Timer G until the ACK, which is absorbed; Timer I ends it. A CANCEL finds
 * the INVITE. */
int test_sip_tsx_server_invite(void)
{
	struct env e;
	struct sps_tsx *t = NULL;
	int rc = 1;
	const char *where = "init";
	if (env_init(&e))
		goto out;
	struct sps_sip_msg *m = msg(&e, inv);
	where = "new";
	if (!m || sps_tsx_server_new(&t, e.l, m, &udp_dest, on_resp, &e))
		goto out;
	where = "100";
	if (e.nsent != 1 || strncmp(e.sent[0], "SIP/2.0 100 ", 12) != 0)
		goto out;
	where = "cancel";
	if (sps_tsx_server_find_invite(e.l, msg(&e, cancel)) != t)
		goto out;
	where = "retransmitted INVITE in Proceeding gets the 100 again";
	if (!sps_tsx_server_absorb(e.l, msg(&e, inv)) || e.nsent != 2)
		goto out;
	where = "486";
	if (respond(&e, t, m, 486) || sps_tsx_state(t) != SPS_TSX_COMPLETED || e.nsent != 3)
		goto out;
	where = "timer G";
	RUN_UNTIL(&e, 500, e.nsent >= 5); /* G: 10, 20 ms */
	if (e.nsent < 5 || strncmp(e.sent[4], "SIP/2.0 486 ", 12) != 0)
		goto out;
	where = "ACK";
	if (!sps_tsx_server_absorb(e.l, msg(&e, ack)) || sps_tsx_state(t) != SPS_TSX_CONFIRMED)
		goto out;
	size_t n = e.nsent;
	where = "timer I";
	RUN_UNTIL(&e, 2000, sps_tsx_layer_count(e.l) == 0);
	if (sps_tsx_layer_count(e.l) != 0 || e.nsent != n || e.ncodes != 0)
		goto out;
	rc = 0;
out:
	sps_mem_deref(t);
	env_free(&e);
	if (rc)
		TEST_FAIL("INVITE server transaction: %s (sent %zu)", where, e.nsent);
	return 0;
}

/* No ACK: Timer H tells the user 408. Over TCP: no retransmission, and the
 * ACK ends the transaction at once. */
int test_sip_tsx_server_timer_h(void)
{
	struct env e;
	struct sps_tsx *t = NULL;
	int rc = 1;
	const char *where = "init";
	if (env_init(&e))
		goto out;
	struct sps_sip_msg *m = msg(&e, inv);
	if (!m || sps_tsx_server_new(&t, e.l, m, &udp_dest, on_resp, &e) || respond(&e, t, m, 603))
		goto out;
	where = "timer H";
	RUN_UNTIL(&e, 3000, e.ncodes > 0);
	if (e.ncodes != 1 || e.codes[0] != 408 || sps_tsx_layer_count(e.l) != 0)
		goto out;
	sps_mem_deref(t);
	t = NULL;

	where = "tcp";
	size_t n0 = e.nsent;
	m = msg(&e, inv);
	if (!m || sps_tsx_server_new(&t, e.l, m, &tcp_dest, on_resp, &e) || respond(&e, t, m, 486))
		goto out;
	RUN_UNTIL(&e, 50, false);
	if (e.nsent != n0 + 2) /* 100 and 486, no retransmission */
		goto out;
	where = "tcp ACK";
	if (!sps_tsx_server_absorb(e.l, msg(&e, ack)))
		goto out;
	RUN_UNTIL(&e, 100, sps_tsx_layer_count(e.l) == 0);
	if (sps_tsx_layer_count(e.l) != 0 || e.ncodes != 1)
		goto out;
	rc = 0;
out:
	sps_mem_deref(t);
	env_free(&e);
	if (rc)
		TEST_FAIL("server transaction: %s", where);
	return 0;
}

/* 2xx to an INVITE: Accepted (RFC 6026); the ACK for it is not absorbed. */
int test_sip_tsx_server_accepted(void)
{
	struct env e;
	struct sps_tsx *t = NULL;
	int rc = 1;
	if (env_init(&e))
		goto out;
	struct sps_sip_msg *m = msg(&e, inv);
	if (!m || sps_tsx_server_new(&t, e.l, m, &udp_dest, NULL, NULL) || respond(&e, t, m, 200))
		goto out;
	if (sps_tsx_state(t) != SPS_TSX_ACCEPTED || respond(&e, t, m, 200) != 0 ||
	    respond(&e, t, m, 486) != EALREADY)
		goto out;
	if (sps_tsx_server_absorb(e.l, msg(&e, ack)))
		goto out; /* ACK for 2xx goes to the TU */
	if (!sps_tsx_server_absorb(e.l, msg(&e, inv)))
		goto out; /* retransmitted INVITE absorbed */
	RUN_UNTIL(&e, 3000, sps_tsx_layer_count(e.l) == 0);
	if (sps_tsx_layer_count(e.l) != 0)
		goto out;
	rc = 0;
out:
	sps_mem_deref(t);
	env_free(&e);
	if (rc)
		TEST_FAIL("RFC 6026 Accepted state misbehaved");
	return 0;
}

static const char resp_reg_200[] = "SIP/2.0 200 OK\r\n"
				   "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKreg1\r\n"
				   "From: <sip:a@example.com>;tag=f1\r\n"
				   "To: <sip:a@example.com>;tag=x\r\n"
				   "Call-ID: c1\r\nCSeq: 1 REGISTER\r\n"
				   "Content-Length: 0\r\n\r\n";

/* Non-INVITE client over UDP: Timer E retransmits (10, 20, 40, 40 ms ...),
 * the 200 stops it; without answer Timer F reports 408. */
int test_sip_tsx_client_non_invite(void)
{
	struct env e;
	struct sps_tsx *t = NULL;
	int rc = 1;
	const char *where = "init";
	if (env_init(&e))
		goto out;
	where = "new";
	if (sps_tsx_client_new(&t, e.l, &udp_dest, reg, strlen(reg), on_resp, &e) || e.nsent != 1)
		goto out;
	where = "timer E";
	RUN_UNTIL(&e, 500, e.nsent >= 4);
	if (e.nsent < 4 || strcmp(e.sent[0], e.sent[3]) != 0)
		goto out;
	where = "200";
	if (!sps_tsx_client_absorb(e.l, msg(&e, resp_reg_200)) || e.ncodes != 1 ||
	    e.codes[0] != 200 || sps_tsx_state(t) != SPS_TSX_COMPLETED)
		goto out;
	size_t n = e.nsent;
	RUN_UNTIL(&e, 1000, sps_tsx_layer_count(e.l) == 0);
	if (e.nsent != n || sps_tsx_layer_count(e.l) != 0)
		goto out;
	sps_mem_deref(t);
	t = NULL;

	where = "timer F";
	if (sps_tsx_client_new(NULL, e.l, &udp_dest, reg, strlen(reg), on_resp, &e))
		goto out;
	RUN_UNTIL(&e, 3000, e.ncodes > 1);
	if (e.ncodes != 2 || e.codes[1] != 408 || sps_tsx_layer_count(e.l) != 0)
		goto out;
	where = "send error";
	e.fail_send = ECONNREFUSED;
	if (sps_tsx_client_new(NULL, e.l, &udp_dest, reg, strlen(reg), on_resp, &e) !=
	    ECONNREFUSED)
		goto out;
	where = "no branch";
	e.fail_send = 0;
	static const char nobranch[] = "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"
				       "From: <sip:a@b>;tag=1\r\nTo: <sip:x>\r\nCall-ID: 1\r\n"
				       "CSeq: 1 OPTIONS\r\nMax-Forwards: 1\r\n\r\n";
	if (sps_tsx_client_new(NULL, e.l, &udp_dest, nobranch, strlen(nobranch), on_resp, &e) !=
	    EBADMSG)
		goto out;
	rc = 0;
out:
	sps_mem_deref(t);
	env_free(&e);
	if (rc)
		TEST_FAIL("non-INVITE client transaction: %s (sent %zu)", where, e.nsent);
	return 0;
}

static const char resp_inv_180[] = "SIP/2.0 180 Ringing\r\n"
				   "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinv1\r\n"
				   "From: <sip:a@example.com>;tag=f1\r\n"
				   "To: <sip:b@example.com>;tag=t9\r\n"
				   "Call-ID: c2\r\nCSeq: 7 INVITE\r\n"
				   "Content-Length: 0\r\n\r\n";
static const char resp_inv_486[] = "SIP/2.0 486 Busy Here\r\n"
				   "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinv1\r\n"
				   "From: <sip:a@example.com>;tag=f1\r\n"
				   "To: <sip:b@example.com>;tag=t9\r\n"
				   "Call-ID: c2\r\nCSeq: 7 INVITE\r\n"
				   "Content-Length: 0\r\n\r\n";
static const char resp_inv_200[] = "SIP/2.0 200 OK\r\n"
				   "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinv1\r\n"
				   "From: <sip:a@example.com>;tag=f1\r\n"
				   "To: <sip:b@example.com>;tag=t9\r\n"
				   "Call-ID: c2\r\nCSeq: 7 INVITE\r\n"
				   "Content-Length: 0\r\n\r\n";

/* INVITE client: Timer A until the 180; a 486 is ACKed by the transaction
 * (To tag of the response, the request's Route), again on a retransmitted
 * 486. A 2xx goes to Accepted and its retransmissions reach the user. */
int test_sip_tsx_client_invite(void)
{
	struct env e;
	struct sps_tsx *t = NULL;
	int rc = 1;
	const char *where = "init";
	if (env_init(&e))
		goto out;
	where = "timer A";
	if (sps_tsx_client_new(&t, e.l, &udp_dest, inv, strlen(inv), on_resp, &e))
		goto out;
	RUN_UNTIL(&e, 500, e.nsent >= 3);
	if (e.nsent < 3)
		goto out;
	where = "180";
	if (!sps_tsx_client_absorb(e.l, msg(&e, resp_inv_180)) ||
	    sps_tsx_state(t) != SPS_TSX_PROCEEDING)
		goto out;
	size_t n = e.nsent;
	RUN_UNTIL(&e, 100, false);
	if (e.nsent != n)
		goto out; /* no retransmission in Proceeding */
	where = "486 ACK";
	if (!sps_tsx_client_absorb(e.l, msg(&e, resp_inv_486)) || e.nsent != n + 1)
		goto out;
	const char *a = e.sent[n];
	if (strncmp(a, "ACK sip:b@example.com SIP/2.0\r\n", 31) != 0 || !strstr(a, "tag=t9") ||
	    !strstr(a, "CSeq: 7 ACK") || !strstr(a, "Route: <sip:proxy.example.com;lr>") ||
	    !strstr(a, "branch=z9hG4bKinv1"))
		goto out;
	where = "retransmitted 486";
	if (!sps_tsx_client_absorb(e.l, msg(&e, resp_inv_486)) || e.nsent != n + 2 ||
	    strcmp(e.sent[n], e.sent[n + 1]) != 0)
		goto out;
	if (e.ncodes != 2 || e.codes[0] != 180 || e.codes[1] != 486)
		goto out;
	sps_tsx_abandon(t);
	sps_mem_deref(t);
	t = NULL;

	where = "2xx";
	if (sps_tsx_client_new(&t, e.l, &tcp_dest, inv, strlen(inv), on_resp, &e))
		goto out;
	if (!sps_tsx_client_absorb(e.l, msg(&e, resp_inv_200)) ||
	    sps_tsx_state(t) != SPS_TSX_ACCEPTED || !sps_tsx_client_absorb(e.l, msg(&e, resp_inv_200)))
		goto out;
	if (e.ncodes != 4 || e.codes[3] != 200)
		goto out;
	RUN_UNTIL(&e, 3000, sps_tsx_layer_count(e.l) == 0);
	if (sps_tsx_layer_count(e.l) != 0)
		goto out;
	rc = 0;
out:
	sps_mem_deref(t);
	env_free(&e);
	if (rc)
		TEST_FAIL("INVITE client transaction: %s (sent %zu)", where, e.nsent);
	return 0;
}

/* A request the caller built (sps_tsx_client_send: no parse for the key)
 * matches its responses like sps_tsx_client_new's; the request is held for
 * a CANCEL until the final response and then let go; a wrong branch is
 * refused. */
int test_sip_tsx_client_send(void)
{
	struct env e;
	struct sps_tsx *t = NULL;
	int rc = 1;
	const char *where = "init";
	if (env_init(&e))
		goto out;
	where = "not an RFC 3261 branch";
	if (sps_tsx_client_send(&t, e.l, &tcp_dest, inv, strlen(inv), SPS_METHOD_INVITE,
				SPS_SLICE_LIT("INVITE"), SPS_SLICE_LIT("1234"), on_resp,
				&e) != EBADMSG ||
	    sps_tsx_client_send(&t, e.l, &tcp_dest, ack, strlen(ack), SPS_METHOD_ACK,
				SPS_SLICE_LIT("ACK"), SPS_SLICE_LIT("z9hG4bKinv1"), on_resp,
				&e) != EINVAL)
		goto out;
	where = "send";
	if (sps_tsx_client_send(&t, e.l, &tcp_dest, inv, strlen(inv), SPS_METHOD_INVITE,
				SPS_SLICE_LIT("INVITE"), SPS_SLICE_LIT("z9hG4bKinv1"), on_resp,
				&e) ||
	    e.nsent != 1 || strcmp(e.sent[0], inv) != 0)
		goto out;
	where = "the same key again";
	if (sps_tsx_client_new(NULL, e.l, &tcp_dest, inv, strlen(inv), on_resp, &e) != EEXIST)
		goto out;
	size_t len = 0;
	const char *req = sps_tsx_request(t, &len);
	where = "request held";
	if (!req || len != strlen(inv) || memcmp(req, inv, len) != 0)
		goto out;
	where = "180";
	if (!sps_tsx_client_absorb(e.l, msg(&e, resp_inv_180)) || !sps_tsx_request(t, &len))
		goto out;
	where = "200";
	if (!sps_tsx_client_absorb(e.l, msg(&e, resp_inv_200)) ||
	    sps_tsx_state(t) != SPS_TSX_ACCEPTED || sps_tsx_request(t, &len) != NULL)
		goto out;
	if (e.ncodes != 2 || e.codes[0] != 180 || e.codes[1] != 200)
		goto out;
	rc = 0;
out:
	sps_mem_deref(t);
	env_free(&e);
	if (rc)
		TEST_FAIL("client transaction of a built request: %s", where);
	return 0;
}

/* RFC 3261 18.2.1 / RFC 3581: received and rport on the top Via. */
int test_sip_via_received(void)
{
	struct env e;
	int rc = 1;
	const char *where = "init";
	if (env_init(&e))
		goto out;
	struct sps_mbuf mb;
	sps_mbuf_init(&mb, 0);
	struct sps_sip_msg *m = msg(&e, "OPTIONS sip:x SIP/2.0\r\n"
					"Via: SIP/2.0/UDP h.example:5070;rport;branch=z9hG4bK1;received=1.1.1.1\r\n"
					"Via: SIP/2.0/UDP other\r\n"
					"From: <sip:a@b>;tag=1\r\nTo: <sip:x>\r\nCall-ID: 1\r\n"
					"CSeq: 1 OPTIONS\r\nMax-Forwards: 1\r\n\r\n");
	where = "rport";
	if (!m || sps_sip_msg_via_received(m, "192.0.2.7", 40000, e.arena))
		goto done;
	if (sps_sip_resp_write(&mb, m, 200, NULL, "t", NULL, 0, NULL, SPS_SLICE_NULL))
		goto done;
	if (!strstr(mb.buf, "Via: SIP/2.0/UDP h.example:5070;branch=z9hG4bK1;received=192.0.2.7;"
			    "rport=40000\r\nVia: SIP/2.0/UDP other\r\n") ||
	    m->via->rport_val != 40000 || !sps_slice_eq_cstr_ci(m->via->received, "192.0.2.7"))
		goto done;
	where = "same host, no rport: unchanged";
	m = msg(&e, "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.7:5060;branch=z9hG4bK2\r\n"
		    "From: <sip:a@b>;tag=1\r\nTo: <sip:x>\r\nCall-ID: 1\r\n"
		    "CSeq: 1 OPTIONS\r\nMax-Forwards: 1\r\n\r\n");
	if (!m || sps_sip_msg_via_received(m, "192.0.2.7", 1234, e.arena) ||
	    !sps_slice_eq_cstr_ci(m->hdrs[0].value, "SIP/2.0/TCP 192.0.2.7:5060;branch=z9hG4bK2"))
		goto done;
	where = "other host";
	m = msg(&e, "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP pc.example\r\n"
		    "From: <sip:a@b>;tag=1\r\nTo: <sip:x>\r\nCall-ID: 1\r\n"
		    "CSeq: 1 OPTIONS\r\nMax-Forwards: 1\r\n\r\n");
	if (!m || sps_sip_msg_via_received(m, "::1", 1234, e.arena) ||
	    !sps_slice_eq_cstr_ci(m->hdrs[0].value, "SIP/2.0/TCP pc.example;received=::1"))
		goto done;
	rc = 0;
done:
	sps_mbuf_free(&mb);
out:
	env_free(&e);
	if (rc)
		TEST_FAIL("via received: %s", where);
	return 0;
}
