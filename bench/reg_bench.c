/* bench/reg_bench: how many REGISTERs with digest authentication over TLS
 * `sipsec serve` answers per second, and how long each takes. One command:
 * it makes a temp data dir with N users (added straight through the store
 * API), starts the server on 127.0.0.1 with free ports, drives it, and
 * stops it.
 *
 *   build/release/bench/reg_bench --sipsec build/release/sipsec [-n 1000] [-r 10]
 *
 * Every client verifies the server against DATA/certs/ca.pem and the host
 * name bench.test (the SIP domain, sent as SNI too), like a phone would.
 *
 * 1. "new connection each": for each user a new TLS connection, REGISTER,
 *    401 with the challenges, REGISTER with Digest credentials (qop=auth,
 *    nc=00000001), 200. The connection is kept open, as a phone keeps its
 *    flow. -c registrations are in flight at once. The latency of one is
 *    from connect() (the first byte sent) to its 200 received: TCP and TLS
 *    handshakes, both REGISTERs and the group commit.
 * 2. "refresh over kept connections": -r rounds in which every user sends
 *    a refresh REGISTER on its connection, reusing the last nonce with the
 *    next nonce-count (RFC 7616 3.4: nc=00000002, ...); up to -w refreshes
 *    are outstanding across the connections (one per connection, as RFC
 *    3261 10.2 asks of a UA). A 401 (stale=true, or a new challenge) is
 *    answered with fresh credentials and counted. The latency is from the
 *    refresh written to its 200 read.
 * Each 200 must list the user's Contact. Afterwards the bindings in the
 * database are counted (bindings_in_db) while the server still runs.
 *
 * Client and server share the machine's cores: the server's CPU time per
 * operation (utime+stime of all its threads, /proc/PID/stat, 10 ms ticks)
 * and the share of one core it used are printed, so a rate limited by the
 * client (or by other work on the machine) can be told from one limited by
 * the server. The client is one thread (epoll, non-blocking sockets).
 * SIPSEC_STORE_SYNC=full in the environment reaches the server (an fsync
 * per group commit); the default is synchronous=NORMAL in WAL mode.
 * -a picks the digest algorithm, --serve-arg passes more options to
 * `sipsec serve` (e.g. --nonce-ttl 1 to exercise stale nonces).
 *
 * Exit status: 0 when every user registered and refreshed without error
 * and the database holds a binding for each; 1 otherwise; 2 for bad usage. */
#include <arpa/inet.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "auth/digest.h"
#include "core/arena.h"
#include "core/log.h"
#include "sip/msg.h"
#include "store/store.h"

#define DOMAIN "bench.test"
#define RURI "sip:" DOMAIN
#define EPOLL_BATCH 256
#define LOOP_MAX 1000000000UL  /* iteration bound of the event loop */
#include "bench_serve.h"
#include "bench_tls.h"
#define REQ_TIMEOUT_S 32.0     /* RFC 3261 Timer F: a request unanswered this long failed */
#define SCAN_EVERY_S 0.5       /* how often requests are checked for that timeout */
#define MAX_REAUTH 2           /* 401s answered per request before it counts as refused */
#define OUT_MAX 1536           /* one REGISTER with credentials */
#define IN_FIRST 4096          /* the first size of a connection's input buffer */
#define MAX_EXTRA SERVE_MAX_EXTRA /* --serve-arg options */

/* ---- the benchmark's state ---- */

enum cstate {
	C_NEW = 0,   /* no connection yet */
	C_HANDSHAKE, /* TCP connect and TLS handshake */
	C_WAIT,      /* a REGISTER is outstanding */
	C_IDLE,      /* registered, connection kept, nothing outstanding */
	C_DEAD,      /* failed; connection closed */
};

/* One user and its connection (a phone). */
struct conn {
	struct bench_tls t;	   /* the TLS connection, its port and bytes */
	unsigned idx;
	enum cstate st;
	struct bench_user u;	   /* "user42" and its HA1s */
	char call_id[48];
	char from_tag[24];
	uint32_t cseq;		   /* of the last request sent */
	/* the challenge in use: nonce reused with an increasing nc */
	bool have_nonce;
	struct bench_chal ch;	   /* its algorithm, nonce and opaque */
	uint32_t nc;
	/* the outstanding request */
	double t0;		   /* first byte sent (connect, or the refresh written) */
	double t_hs, t_chal;	   /* phase 1: TLS handshake done, 401 received */
	double deadline;	   /* REQ_TIMEOUT_S later: counted as a timeout */
	unsigned reauth;	   /* 401s to credentials answered for it */
	bool authed;		   /* it carries credentials */
	unsigned refreshes_left;
};

struct errors {
	unsigned long connect, tls, closed, timeout, status_403, status_other, bad_msg,
		no_challenge, no_contact, auth_refused, unexpected;
	unsigned last_status; /* an example of status_other */
};

struct bench {
	struct conn *conns;
	unsigned n;
	struct bench_client cl;	 /* epoll, TLS context, server address, parse arena */
	struct bench_hasher hs;
	char ha2[2][SPS_HA1_SHA256_HEX + 1]; /* H("REGISTER:" RURI), by algorithm */
	int want_alg;  /* -1: the first challenge offered */
	char run_id[17];
	unsigned long branch_seq, cnonce_seq;
	/* the phase */
	int phase;	       /* 1: new connection each, 2: refresh */
	unsigned inflight;     /* requests outstanding (phase 1: users being registered) */
	unsigned long done;    /* 200s of the phase */
	unsigned long stale, rechallenged; /* 401 stale=true / other 401 to credentials */
	unsigned *q;	       /* phase 2: users whose next refresh may go (a ring of n) */
	size_t qhead, qlen;
	double *lat;	       /* latencies of the phase, seconds */
	size_t nlat, caplat;
	/* phase 1, by step: connect to handshake done, to 401, to 200 */
	double *step[3];
	size_t nstep;
	struct errors err;
};

static unsigned long errors_total(const struct errors *e)
{
	return e->connect + e->tls + e->closed + e->timeout + e->status_403 + e->status_other +
	       e->bad_msg + e->no_challenge + e->no_contact + e->auth_refused + e->unexpected;
}

/* c failed: count it under *counter, close it, and free its slot. */
static void conn_fail(struct bench *b, struct conn *c, unsigned long *counter)
{
	(*counter)++;
	if (c->st == C_HANDSHAKE || c->st == C_WAIT)
		b->inflight--;
	c->st = C_DEAD;
	bench_tls_close(&c->t);
}

/* The counter of a bench_tls failure (a pong that did not fit after a
 * request counts as bad_msg). */
static unsigned long *tls_counter(struct bench *b, int rc)
{
	return bench_tls_counter(rc, &b->err.connect, &b->err.tls, &b->err.closed, &b->err.bad_msg,
				 &b->err.bad_msg);
}

/* ---- requests ---- */

/* Queue the REGISTER (RFC 3261 10.2) of c on its connection: a new branch
 * and the next CSeq; with credentials for c's challenge and the next nc
 * when auth.
 * Returns 0, or -1 when it does not fit or hashing failed. */
static int build_register(struct bench *b, struct conn *c, bool auth)
{
	char authz[640] = "";
	c->cseq++;
	if (auth) {
		char cnonce[32], ncs[9];
		snprintf(cnonce, sizeof(cnonce), "%08lx%08x", ++b->cnonce_seq, c->idx);
		snprintf(ncs, sizeof(ncs), "%08x", ++c->nc);
		if (bench_credentials(&b->hs, &c->ch, "Authorization", c->u.name, DOMAIN, RURI,
				      c->u.ha1[c->ch.alg], b->ha2[c->ch.alg], ncs, cnonce, authz,
				      sizeof(authz)) != 0)
			return -1;
	}
	return bench_tls_register(&c->t, DOMAIN, c->u.name, c->from_tag, c->call_id, c->cseq,
				  b->run_id, ++b->branch_seq, authz, "sipsec-reg-bench") ? -1 : 0;
}

/* Build and send c's REGISTER; starts its clock when fresh (not a retry
 * after a 401). Returns 0 or -1 (c failed and was counted). */
static int send_register(struct bench *b, struct conn *c, bool auth, bool fresh)
{
	if (build_register(b, c, auth) != 0) {
		conn_fail(b, c, &b->err.bad_msg);
		return -1;
	}
	if (fresh) {
		c->t0 = now_s();
		c->reauth = 0;
	}
	c->authed = auth;
	c->deadline = now_s() + REQ_TIMEOUT_S;
	if (bench_tls_flush(&c->t) != 0) {
		conn_fail(b, c, &b->err.closed);
		return -1;
	}
	return 0;
}

/* ---- responses ---- */

static void lat_add(struct bench *b, double secs)
{
	if (b->nlat < b->caplat)
		b->lat[b->nlat++] = secs;
}

/* Take the challenge of a 401 into c: the one for b->want_alg, or the first
 * offered with an algorithm we know. Returns 0, or -1 when none fits.
 * *stale tells whether it said stale=true. */
static int take_challenge(struct bench *b, struct conn *c, const struct sps_sip_msg *m,
			  bool *stale)
{
	if (bench_take_challenge(m, SPS_HDR_WWW_AUTHENTICATE, b->want_alg, DOMAIN, &c->ch, stale))
		return -1;
	c->nc = 0;
	c->have_nonce = true;
	return 0;
}

/* Does a 200 list c's Contact (RFC 3261 10.3 step 8)? */
static bool lists_contact(const struct conn *c, const struct sps_sip_msg *m)
{
	char uri[96];
	snprintf(uri, sizeof(uri), "sip:%s@127.0.0.1:%u;transport=tls", c->u.name, c->t.lport);
	for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, NULL); h;
	     h = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, h)) {
		const struct sps_contact *ct = h->parsed;
		if (ct && !ct->star && sps_slice_eq_cstr_ci(ct->na.uri_s, uri) && ct->expires > 0)
			return true;
	}
	return false;
}

/* Up to -w refreshes outstanding: the users whose next refresh may go. */
static void queue_push(struct bench *b, struct conn *c)
{
	if (b->qlen < b->n)
		b->q[(b->qhead + b->qlen++) % b->n] = c->idx;
}

/* One response m on c (m lives in b->cl.arena and c->t.in until the next one). */
static void on_response(struct bench *b, struct conn *c, const struct sps_sip_msg *m)
{
	if (m->status < 200)
		return; /* provisional: keep waiting */
	if (c->st != C_WAIT || !m->has_cseq || m->cseq.num != c->cseq ||
	    m->cseq.meth != SPS_METHOD_REGISTER) {
		b->err.unexpected++;
		return;
	}
	if (m->status == 401) {
		bool stale = false;
		/* a 401 to credentials: the nonce went stale (stale=true) or
		 * was not accepted; answered with the new one, a few times */
		if (c->authed && ++c->reauth > MAX_REAUTH) {
			conn_fail(b, c, &b->err.auth_refused);
			return;
		}
		if (take_challenge(b, c, m, &stale) != 0) {
			conn_fail(b, c, &b->err.no_challenge);
			return;
		}
		if (c->authed)
			(*(stale ? &b->stale : &b->rechallenged))++;
		else
			c->t_chal = now_s();
		(void)send_register(b, c, true, false);
		return;
	}
	if (m->status == 200) {
		if (!lists_contact(c, m)) {
			conn_fail(b, c, &b->err.no_contact);
			return;
		}
		double now = now_s();
		lat_add(b, now - c->t0);
		if (b->phase == 1 && b->nstep < b->n) {
			b->step[0][b->nstep] = c->t_hs - c->t0;
			b->step[1][b->nstep] = c->t_chal - c->t_hs;
			b->step[2][b->nstep++] = now - c->t_chal;
		}
		b->done++;
		b->inflight--;
		c->st = C_IDLE;
		if (b->phase == 2 && c->refreshes_left)
			queue_push(b, c);
		return;
	}
	if (m->status == 403) {
		conn_fail(b, c, &b->err.status_403);
		return;
	}
	b->err.last_status = m->status;
	conn_fail(b, c, &b->err.status_other);
}

/* One message read on c's connection (bench_tls_msg_h): only responses
 * are expected. */
static void on_message(struct bench_tls *t, const struct sps_sip_msg *m, void *arg)
{
	struct bench *b = arg;
	if (!m || m->is_request)
		b->err.bad_msg++;
	else
		on_response(b, t->owner, m);
}

/* ---- connections ---- */

/* Open c's TCP connection (non-blocking) and set its TLS client up: the
 * server's certificate must chain to the CA and name DOMAIN. */
static void conn_start(struct bench *b, struct conn *c)
{
	c->st = C_HANDSHAKE;
	b->inflight++;
	c->t0 = now_s();
	c->deadline = c->t0 + REQ_TIMEOUT_S;
	int rc = bench_tls_start(&c->t, &b->cl, c);
	if (rc != BENCH_TLS_OK)
		conn_fail(b, c, tls_counter(b, rc));
}

/* An epoll event on c. Once the handshake is done, send the first REGISTER
 * (no credentials yet: RFC 3261 22.4, the 401 brings the challenge). */
static void conn_event(struct bench *b, struct conn *c, unsigned ev)
{
	int rc = bench_tls_event(&c->t, &b->cl, ev, on_message, b);
	if (rc == BENCH_TLS_UP) {
		c->t_hs = now_s();
		c->st = C_WAIT;
		(void)send_register(b, c, false, false);
	} else if (rc != BENCH_TLS_OK) {
		conn_fail(b, c, tls_counter(b, rc));
	}
}

/* ---- the two phases ---- */

/* Run phase 1 (a new connection per user) or 2 (refreshes of the users in
 * b->q) with at most window requests outstanding, until all are answered
 * or deadline. Requests still outstanding at the deadline count as
 * timeouts. Returns the wall-clock seconds it took; *cut tells whether the
 * deadline ended it. */
static double run_phase(struct bench *b, int phase, unsigned window, double deadline, bool *cut)
{
	struct epoll_event evs[EPOLL_BATCH];
	double t0 = now_s(), next_scan = t0 + SCAN_EVERY_S;
	unsigned next_new = 0;
	b->phase = phase;
	b->inflight = 0;
	b->done = b->stale = b->rechallenged = 0;
	b->nlat = 0;
	*cut = true;
	for (unsigned long it = 0; it < LOOP_MAX && !g_stop; it++) {
		double now = now_s();
		if (now >= deadline)
			break;
		if (phase == 1) {
			while (b->inflight < window && next_new < b->n)
				conn_start(b, &b->conns[next_new++]);
		} else {
			while (b->inflight < window && b->qlen) {
				struct conn *c = &b->conns[b->q[b->qhead]];
				b->qhead = (b->qhead + 1) % b->n;
				b->qlen--;
				if (c->st != C_IDLE)
					continue;
				c->refreshes_left--;
				c->st = C_WAIT;
				b->inflight++;
				(void)send_register(b, c, c->have_nonce, true);
			}
		}
		if (!b->inflight && (phase == 1 ? next_new >= b->n : !b->qlen)) {
			*cut = false;
			break;
		}
		int n = epoll_wait(b->cl.epfd, evs, EPOLL_BATCH, 50);
		for (int i = 0; i < n; i++)
			conn_event(b, evs[i].data.ptr, evs[i].events);
		if (now >= next_scan) {
			for (unsigned i = 0; i < b->n; i++) {
				struct conn *c = &b->conns[i];
				if ((c->st == C_HANDSHAKE || c->st == C_WAIT) && c->deadline < now)
					conn_fail(b, c, &b->err.timeout);
			}
			next_scan = now + SCAN_EVERY_S;
		}
	}
	double el = now_s() - t0;
	for (unsigned i = 0; i < b->n; i++) {
		struct conn *c = &b->conns[i];
		if (c->st == C_HANDSHAKE || c->st == C_WAIT)
			conn_fail(b, c, &b->err.timeout);
	}
	return el;
}

static void print_lat(const char *prefix, struct bench *b)
{
	qsort(b->lat, b->nlat, sizeof(double), cmp_double);
	printf("%sp50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f", prefix,
	       pct_ms(b->lat, b->nlat, 0.50), pct_ms(b->lat, b->nlat, 0.90),
	       pct_ms(b->lat, b->nlat, 0.99), pct_ms(b->lat, b->nlat, 1.0));
}

/* ---- users in the store ---- */

static struct bench_user *user_of(unsigned i, void *arg)
{
	struct bench *b = arg;
	return &b->conns[i].u;
}

static int count_binding(const struct sps_binding *bd, void *arg)
{
	(void)bd;
	(*(unsigned long *)arg)++;
	return 0;
}

/* Live bindings in the database of data (read while the server runs), or -1. */
static long count_bindings(const char *data)
{
	struct sps_store *st = NULL;
	unsigned long n = 0;
	if (sps_store_open(&st, data, NULL) != 0)
		return -1;
	int err = sps_store_binding_each(st, NULL, (int64_t)time(NULL), count_binding, &n);
	sps_store_close(st);
	return err ? -1 : (long)n;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: reg_bench [--sipsec PATH] [-n USERS] [-r ROUNDS] [-t SECONDS] [-c N] [-w N]\n"
		"                 [-a ALG] [--serve-arg OPTION]...\n"
		"  --sipsec PATH  the sipsec binary to start (default: ../sipsec next to this program)\n"
		"  -n USERS       users, each on its own TLS connection (1000)\n"
		"  -r ROUNDS      refresh REGISTERs per user over the kept connections (10)\n"
		"  -t SECONDS     wall-clock limit of the whole run (300)\n"
		"  -c N           new-connection registrations in flight at once (64)\n"
		"  -w N           refreshes outstanding at once, one per connection (200)\n"
		"  -a ALG         answer the SHA-256 or the MD5 challenge (default: the first offered)\n"
		"  --serve-arg OPTION  one more argument for `sipsec serve` (repeat it for each word;\n"
		"                 e.g. --serve-arg=--nonce-ttl --serve-arg=2), at most 16\n"
		"SIPSEC_STORE_SYNC=full in the environment makes the server fsync every group commit.\n");
}

int main(int argc, char **argv)
{
	unsigned n = 1000, rounds = 10, max_s = 300, conc = 64, window = 200;
	const char *sipsec = NULL, *extra[MAX_EXTRA];
	unsigned nextra = 0;
	char sipsec_buf[PATH_MAX + 16], dir[] = "/tmp/sps-regbench.XXXXXX";
	char data[PATH_MAX], log[PATH_MAX];
	struct bench bb, *b = &bb;
	pid_t pid = 0;
	int rc = 1, opt;
	bool made_dir = false, cut1 = false, cut2 = false;
	static const struct option longopts[] = {
		{"sipsec", required_argument, NULL, 's'},
		{"serve-arg", required_argument, NULL, 'x'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};

	memset(b, 0, sizeof(*b));
	b->cl.epfd = -1;
	sps_log_set_level(SPS_LOG_WARN); /* the store API here: no "schema migrated" */
	setvbuf(stdout, NULL, _IOLBF, 0);  /* in order with the server log on stderr */
	b->want_alg = -1;
	while ((opt = getopt_long(argc, argv, "s:n:r:t:c:w:a:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sipsec = optarg;
			break;
		case 'x':
			if (nextra == MAX_EXTRA)
				goto bad;
			extra[nextra++] = optarg;
			break;
		case 'n':
			if (!parse_uint(optarg, 1, 1000000, &n))
				goto bad;
			break;
		case 'r':
			if (!parse_uint(optarg, 0, 100000, &rounds))
				goto bad;
			break;
		case 't':
			if (!parse_uint(optarg, 1, 86400, &max_s))
				goto bad;
			break;
		case 'c':
			if (!parse_uint(optarg, 1, 100000, &conc))
				goto bad;
			break;
		case 'w':
			if (!parse_uint(optarg, 1, 1000000, &window))
				goto bad;
			break;
		case 'a':
			if (!bench_parse_alg(optarg, &b->want_alg))
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	if ((unsigned long long)n * rounds > 100000000ULL) {
		fprintf(stderr, "reg_bench: -n %u x -r %u is over 10^8 refreshes; lower one\n", n,
			rounds);
		return 2;
	}
	double t_end = now_s() + max_s;

	catch_signals();

	/* n connections here and n in the server (which inherits the limit) */
	unsigned long long nofile = raise_nofile();
	if ((unsigned long long)n + 256 > nofile) {
		fprintf(stderr,
			"reg_bench: -n %u needs more open files than the limit of %llu; lower -n or "
			"raise the limit (ulimit -n)\n",
			n, nofile);
		return 1;
	}

	if (!(sipsec = sipsec_path(sipsec, sipsec_buf, sizeof(sipsec_buf))))
		goto bad;
	if (!sipsec_runnable("reg_bench", sipsec, "--sipsec"))
		return 1;

	/* client state */
	if (run_id_new(b->run_id) != 0)
		return 1;
	b->n = n;
	b->conns = calloc(n, sizeof(*b->conns));
	b->q = calloc(n, sizeof(*b->q));
	b->caplat = (size_t)n * (rounds > 1 ? rounds : 1);
	b->lat = calloc(b->caplat, sizeof(double));
	for (int i = 0; i < 3; i++)
		b->step[i] = calloc(n, sizeof(double));
	if (bench_hasher_init(&b->hs) != 0 || !b->conns || !b->q || !b->lat || !b->step[0] ||
	    !b->step[1] || !b->step[2] || bench_client_init(&b->cl) != 0) {
		fprintf(stderr, "reg_bench: out of memory for %u users\n", n);
		goto out;
	}
	for (int a = 0; a < 2; a++) {
		static const char ha2_in[] = "REGISTER:" RURI; /* HA2 = H(method ":" uri) */
		if (bench_hash_hex(&b->hs, (enum sps_digest_alg)a, ha2_in, sizeof(ha2_in) - 1,
			     b->ha2[a]) != 0)
			goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		struct conn *c = &b->conns[i];
		if (bench_tls_init(&c->t, OUT_MAX, IN_FIRST) != 0) {
			fprintf(stderr, "reg_bench: out of memory for %u users\n", n);
			goto out;
		}
		c->idx = i;
		snprintf(c->u.name, sizeof(c->u.name), "user%u", i);
		snprintf(c->call_id, sizeof(c->call_id), "%.16s-%u@reg-bench", b->run_id, i);
		snprintf(c->from_tag, sizeof(c->from_tag), "%.8s%x", b->run_id, i);
	}

	/* the server, with the users in its store */
	if (!mkdtemp(dir)) {
		perror("reg_bench: mkdtemp");
		goto out;
	}
	made_dir = true;
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/serve.log", dir);
	double t_users = now_s();
	if (bench_add_users("reg_bench", data, DOMAIN, b->run_id, n, &b->hs, user_of, b) != 0)
		goto out;
	t_users = now_s() - t_users;
	unsigned sip_port, tls_port;
	if (!sip_server_ports("reg_bench", &sip_port, &tls_port))
		goto out;
	pid = start_sip_server("reg_bench", sipsec, data, log, DOMAIN, sip_port, tls_port, n + 100,
			       extra, nextra);
	if (!pid)
		goto out;
	if (bench_client_target(&b->cl, "reg_bench", data, DOMAIN, tls_port) != 0)
		goto out;
	const char *sync = getenv("SIPSEC_STORE_SYNC");
	printf("# reg_bench: server pid %ld, TLS 127.0.0.1:%u, domain " DOMAIN ", store sync %s; "
	       "%ld cpus shared by server and client (1 thread); %u users added in %.2f s\n",
	       (long)pid, tls_port, sync && *sync ? sync : "normal",
	       sysconf(_SC_NPROCESSORS_ONLN), n, t_users);

	/* 1. a new connection each */
	conc = conc < n ? conc : n;
	double s_cpu0 = proc_cpu_s(pid), c_cpu0 = self_cpu_s();
	double el1 = run_phase(b, 1, conc, t_end, &cut1);
	double s_cpu1 = proc_cpu_s(pid) - s_cpu0, c_cpu1 = self_cpu_s() - c_cpu0;
	unsigned long regs = b->done;
	printf("reg_bench: users=%u new_conn_regs_per_s=%.0f ", n, el1 > 0 ? regs / el1 : 0);
	print_lat("", b);
	printf(" server_cpu_us_per_reg=%.0f\n", regs ? s_cpu1 * 1e6 / regs : 0);
	printf("# new connection each: %lu of %u registered in %.2f s, %u in flight; server cpu "
	       "%.2f s (%.0f%% of one core), client cpu %.0f us/registration%s\n",
	       regs, n, el1, conc, s_cpu1, el1 > 0 ? 100 * s_cpu1 / el1 : 0,
	       regs ? c_cpu1 * 1e6 / regs : 0, cut1 ? "; stopped at the -t limit" : "");
	unsigned long stale1 = b->stale + b->rechallenged;
	for (int i = 0; i < 3; i++)
		qsort(b->step[i], b->nstep, sizeof(double), cmp_double);
	printf("# new connection each, median by step: TCP+TLS handshake %.2f ms, REGISTER to 401 "
	       "%.2f ms, REGISTER with credentials to 200 %.2f ms\n",
	       pct_ms(b->step[0], b->nstep, 0.5), pct_ms(b->step[1], b->nstep, 0.5),
	       pct_ms(b->step[2], b->nstep, 0.5));

	/* 2. refreshes over the kept connections */
	b->qhead = b->qlen = 0;
	for (unsigned i = 0; i < n; i++) {
		struct conn *c = &b->conns[i];
		if (c->st == C_IDLE && rounds) {
			c->refreshes_left = rounds;
			queue_push(b, c);
		}
	}
	unsigned long refreshes = 0, reauth = 0;
	if (b->qlen && !g_stop) {
		window = window < b->qlen ? window : b->qlen;
		s_cpu0 = proc_cpu_s(pid);
		c_cpu0 = self_cpu_s();
		double el2 = run_phase(b, 2, window, t_end, &cut2);
		double s_cpu2 = proc_cpu_s(pid) - s_cpu0, c_cpu2 = self_cpu_s() - c_cpu0;
		refreshes = b->done;
		reauth = b->stale + b->rechallenged;
		printf("reg_bench: refreshes=%lu refresh_regs_per_s=%.0f ", refreshes,
		       el2 > 0 ? refreshes / el2 : 0);
		print_lat("", b);
		printf(" server_cpu_us_per_refresh=%.1f\n", refreshes ? s_cpu2 * 1e6 / refreshes : 0);
		printf("# refresh: %lu in %.2f s, %u outstanding, %u rounds; server cpu %.2f s (%.0f%% "
		       "of one core: %.0f refreshes per server cpu second), client cpu %.1f "
		       "us/refresh; re-authenticated %lu (stale %lu, new challenge %lu)%s\n",
		       refreshes, el2, window, rounds, s_cpu2, el2 > 0 ? 100 * s_cpu2 / el2 : 0,
		       s_cpu2 > 0 ? refreshes / s_cpu2 : 0, refreshes ? c_cpu2 * 1e6 / refreshes : 0,
		       reauth, b->stale, b->rechallenged, cut2 ? "; stopped at the -t limit" : "");
	}
	long nb = count_bindings(data);
	const struct errors *e = &b->err;
	printf("reg_bench: errors=%lu bindings_in_db=%ld\n", errors_total(e), nb);
	printf("# errors: connect=%lu tls=%lu closed=%lu timeout=%lu 403=%lu other_status=%lu",
	       e->connect, e->tls, e->closed, e->timeout, e->status_403, e->status_other);
	if (e->last_status)
		printf(" (e.g. %u)", e->last_status);
	printf(" bad_response=%lu no_usable_challenge=%lu no_contact_in_200=%lu auth_refused=%lu "
	       "unexpected=%lu; 401 to credentials in phase 1: %lu\n",
	       e->bad_msg, e->no_challenge, e->no_contact, e->auth_refused, e->unexpected, stale1);
	if (bench_tls_first_err[0])
		printf("# first TLS failure: %s\n", bench_tls_first_err);
	rc = errors_total(e) || cut1 || cut2 || g_stop || nb != (long)regs ? 1 : 0;
out:
	for (unsigned i = 0; b->conns && i < n; i++)
		if (b->conns[i].t.out) /* set up by bench_tls_init */
			bench_tls_free(&b->conns[i].t);
	if (pid && !server_stopped("reg_bench", pid, log))
		rc = 1;
	bench_client_free(&b->cl);
	bench_hasher_free(&b->hs);
	free(b->conns);
	free(b->q);
	free(b->lat);
	for (int i = 0; i < 3; i++)
		free(b->step[i]);
	if (made_dir)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
bad:
	usage();
	return 2;
}
