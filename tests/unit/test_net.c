/* Unit tests for src/net: addresses, UDP, TCP/TLS connections and the table.
 * Real sockets on 127.0.0.1, port 0; no sleeps: the loop is driven until a
 * condition holds or a deadline passes. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/loop.h"
#include "core/mem.h"
#include "net/conn.h"
#include "net/conn_int.h"
#include "net/sa.h"
#include "net/tls13.h"
#include "net/udp.h"
#include "test.h"

/* ---- helpers ---- */

typedef bool(cond_h)(void *arg);

/* Drive loop until cond(arg) or ms pass. Returns true when cond holds. */
static bool run_until(struct sps_loop *loop, cond_h *cond, void *arg, uint64_t ms)
{
	sps_loop_update_time(loop);
	uint64_t end = sps_loop_now(loop) + ms;
	while (!cond(arg)) {
		if (sps_loop_now(loop) >= end)
			return false;
		if (sps_loop_run_once(loop, 20))
			return false;
	}
	return true;
}

/* A blocking client socket connected to sa. */
static int client_socket(const struct sps_sa *sa)
{
	struct timeval tv = {5, 0}; /* a failing test must not hang */
	int fd = socket(sps_sa_family(sa), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, sps_sa_addr(sa), sa->len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 when the peer closed fd (EOF or reset), 0 when nothing, -1 for data. */
static int peer_closed(int fd)
{
	char b[64];
	ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return 1;
	return n < 0 ? 0 : -1;
}

/* A throw-away self-signed P-256 certificate for localhost / 127.0.0.1. */
static int make_cert(EVP_PKEY **pkey_out, X509 **cert_out)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX v3;
	if (!pkey || !x)
		goto fail;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pkey);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext =
		X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
	if (!ext)
		goto fail;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto fail;
	*pkey_out = pkey;
	*cert_out = x;
	return 0;
fail:
	EVP_PKEY_free(pkey);
	X509_free(x);
	return 1;
}

struct tls_pair {
	EVP_PKEY *pkey;
	X509 *cert;
	SSL_CTX *server;
	SSL_CTX *client; /* trusts cert */
};

static int tls_pair_new(struct tls_pair *p)
{
	memset(p, 0, sizeof(*p));
	if (make_cert(&p->pkey, &p->cert))
		return 1;
	p->server = SSL_CTX_new(TLS_server_method());
	p->client = SSL_CTX_new(TLS_client_method());
	if (!p->server || !p->client || SSL_CTX_use_certificate(p->server, p->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(p->server, p->pkey) != 1)
		return 1;
	SSL_CTX_set_min_proto_version(p->server, TLS1_2_VERSION);
	SSL_CTX_set_mode(p->server, SSL_MODE_RELEASE_BUFFERS);
	if (sps_tls13_capture(p->server) != 0)
		return 1;
	SSL_CTX_set_mode(p->client, SSL_MODE_RELEASE_BUFFERS);
	if (X509_STORE_add_cert(SSL_CTX_get_cert_store(p->client), p->cert) != 1)
		return 1;
	SSL_CTX_set_verify(p->client, SSL_VERIFY_PEER, NULL);
	return 0;
}

static void tls_pair_free(struct tls_pair *p)
{
	SSL_CTX_free(p->server);
	SSL_CTX_free(p->client);
	X509_free(p->cert);
	EVP_PKEY_free(p->pkey);
}

/* The upper layer of the tests: frames end with "\r\n\r\n" (one per call, so
 * the connection layer must call again), accepted connections echo each
 * frame, outgoing connections record what they get back. */
#define MAX_MSGS 16
struct net_t {
	struct sps_loop *loop;
	struct sps_conntab *tab;
	int estab, closed, last_err;
	int close_errs[8];
	struct sps_conn *conns[8]; /* referenced, in estab order */
	int nconns;
	char msgs[MAX_MSGS][64];
	int nmsgs;
	char reply[64];
	uint64_t slow_idle_ms; /* set on the second accepted conn, if not 0 */
};

static void t_estab(struct sps_conn *c, void *arg)
{
	struct net_t *t = arg;
	t->estab++;
	if (t->nconns < 8 && !sps_conn_outgoing(c))
		t->conns[t->nconns++] = sps_conn_ref(c);
	if (t->slow_idle_ms && t->nconns == 2)
		(void)sps__conn_set_idle_ms(c, t->slow_idle_ms);
}

static int t_recv(struct sps_conn *c, const char *buf, size_t len, size_t *consumed, void *arg)
{
	struct net_t *t = arg;
	const char *e = memmem(buf, len, "\r\n\r\n", 4);
	if (!e)
		return 0; /* need more */
	size_t ml = (size_t)(e - buf);
	*consumed = ml + 4;
	if (sps_conn_outgoing(c)) {
		snprintf(t->reply, sizeof(t->reply), "%.*s", (int)ml, buf);
		return 0;
	}
	if (t->nmsgs < MAX_MSGS)
		snprintf(t->msgs[t->nmsgs++], sizeof(t->msgs[0]), "%.*s", (int)ml, buf);
	return sps_conn_send(c, buf, ml + 4);
}

static void t_close(struct sps_conn *c, int err, void *arg)
{
	struct net_t *t = arg;
	if (t->closed < 8)
		t->close_errs[t->closed] = err;
	t->closed++;
	t->last_err = err;
}

static int net_setup(struct net_t *t, const struct sps_conntab_conf *conf)
{
	memset(t, 0, sizeof(*t));
	struct sps_conn_handlers h = {t_estab, t_recv, t_close, t};
	if (sps_loop_new(&t->loop))
		return 1;
	return sps_conntab_new(&t->tab, t->loop, conf, &h) ? 1 : 0;
}

static void net_teardown(struct net_t *t)
{
	sps_conntab_free(t->tab);
	for (int i = 0; i < t->nconns; i++)
		sps_mem_deref(t->conns[i]);
	sps_loop_free(t->loop);
}

static struct sps_sa loopback4(void)
{
	struct sps_sa sa;
	(void)sps_sa_from_str(&sa, "127.0.0.1:0");
	return sa;
}

/* ---- sa ---- */

int test_net_sa(void)
{
	struct sps_sa a, b;
	char buf[SPS_SA_STRLEN];
	ASSERT_INT_EQ(sps_sa_from_str(&a, "1.2.3.4:5060"), 0);
	ASSERT_INT_EQ(sps_sa_family(&a), AF_INET);
	ASSERT_INT_EQ(sps_sa_port(&a), 5060);
	ASSERT_INT_EQ(sps_sa_to_str(&a, buf, sizeof(buf)), 0);
	ASSERT_STR_EQ(buf, "1.2.3.4:5060");
	ASSERT_INT_EQ(sps_sa_from_str(&b, "[::1]:5061"), 0);
	ASSERT_INT_EQ(sps_sa_family(&b), AF_INET6);
	ASSERT_INT_EQ(sps_sa_to_str(&b, buf, sizeof(buf)), 0);
	ASSERT_STR_EQ(buf, "[::1]:5061");
	ASSERT_INT_EQ(sps_sa_from_str(&b, "::1"), 0);
	ASSERT_INT_EQ(sps_sa_port(&b), 0);
	ASSERT_INT_EQ(sps_sa_from_str(&b, "1.2.3.4"), 0);
	ASSERT(!sps_sa_eq(&a, &b));
	ASSERT(sps_sa_eq_ip(&a, &b));
	ASSERT(sps_sa_hash_ip(&a) == sps_sa_hash_ip(&b));
	sps_sa_set_port(&b, 5060);
	ASSERT(sps_sa_eq(&a, &b));
	ASSERT(sps_sa_hash(&a) == sps_sa_hash(&b));
	/* an IPv4-mapped address is the same IP (per-IP limits) */
	ASSERT_INT_EQ(sps_sa_from_str(&b, "[::ffff:1.2.3.4]:1"), 0);
	ASSERT(sps_sa_eq_ip(&a, &b));
	ASSERT(!sps_sa_eq(&a, &b));
	static const char *const bad[] = {"", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:x",
					  "[::1", "[::1]x", "example.com:5060", "1.2.3:5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sps_sa_from_str(&b, bad[i]) != EINVAL)
			TEST_FAIL("accepted \"%s\"", bad[i]);
	ASSERT_INT_EQ(sps_sa_to_str(&a, buf, 8), ENOSPC);
	/* the host's addresses for a wildcard socket: of that family, no
	 * loopback, no link-local, each once; a short array says so */
	char ips[8][SPS_SA_IPSTRLEN];
	for (int fam = 0; fam < 2; fam++) {
		bool more = true;
		size_t n = sps_sa_local_ips(fam ? AF_INET6 : AF_INET, ips, 8, &more);
		ASSERT(n <= 8 && (n == 8 || !more));
		for (size_t k = 0; k < n; k++) {
			struct sps_sa ip;
			ASSERT_INT_EQ(sps_sa_set_str(&ip, ips[k], 0), 0);
			ASSERT_INT_EQ(sps_sa_family(&ip), fam ? AF_INET6 : AF_INET);
			ASSERT(strncmp(ips[k], "127.", 4) != 0 && strcmp(ips[k], "::1") != 0 &&
			       strncasecmp(ips[k], "fe80:", 5) != 0);
			for (size_t j = 0; j < k; j++)
				ASSERT(strcmp(ips[j], ips[k]) != 0);
		}
		if (n > 0) {
			size_t n0 = sps_sa_local_ips(fam ? AF_INET6 : AF_INET, ips, 0, &more);
			ASSERT(n0 == 0 && more);
		}
	}
	return 0;
}

/* ---- udp ---- */

struct udp_t {
	struct sps_udp *srv, *cli;
	int got;
	char data[32];
	struct sps_sa local;
};

static void udp_echo(const struct sps_sa *src, const struct sps_sa *local, char *data, size_t len,
		     void *arg)
{
	struct udp_t *u = arg;
	u->local = *local;
	(void)sps_udp_send(u->srv, src, data, len);
}

static void udp_reply(const struct sps_sa *src, const struct sps_sa *local, char *data, size_t len,
		      void *arg)
{
	struct udp_t *u = arg;
	snprintf(u->data, sizeof(u->data), "%.*s", (int)len, data);
	u->got++;
}

static bool udp_cond(void *arg) { return ((struct udp_t *)arg)->got > 0; }

/* Echo through a listener bound to addr, sending to host (the listener's port). */
static int udp_echo_on(struct sps_loop *loop, const char *addr, const char *host)
{
	struct udp_t u = {0};
	struct sps_sa sa, dst, cli;
	ASSERT_INT_EQ(sps_sa_from_str(&sa, addr), 0);
	ASSERT_INT_EQ(sps_sa_from_str(&cli, host), 0);
	int err = sps_udp_listen(&u.srv, loop, &sa, udp_echo, &u);
	if (err == EADDRNOTAVAIL || err == EAFNOSUPPORT)
		return 0; /* no IPv6 here */
	ASSERT_INT_EQ(err, 0);
	ASSERT_INT_EQ(sps_udp_listen(&u.cli, loop, &cli, udp_reply, &u), 0);
	ASSERT(sps_sa_port(sps_udp_local(u.srv)) != 0);
	dst = cli;
	sps_sa_set_port(&dst, sps_sa_port(sps_udp_local(u.srv)));
	ASSERT_INT_EQ(sps_udp_send(u.cli, &dst, "hello", 5), 0);
	ASSERT(run_until(loop, udp_cond, &u, 5000));
	ASSERT_STR_EQ(u.data, "hello");
	ASSERT(sps_sa_eq(&u.local, &dst)); /* the real local address, also on a wildcard */
	sps_mem_deref(u.srv);
	sps_mem_deref(u.cli);
	return 0;
}

int test_net_udp_echo(void)
{
	struct sps_loop *loop;
	ASSERT_INT_EQ(sps_loop_new(&loop), 0);
	ASSERT_INT_EQ(udp_echo_on(loop, "127.0.0.1:0", "127.0.0.1"), 0);
	ASSERT_INT_EQ(udp_echo_on(loop, "0.0.0.0:0", "127.0.0.1"), 0);
	ASSERT_INT_EQ(udp_echo_on(loop, "[::1]:0", "::1"), 0);
	sps_loop_free(loop);
	return 0;
}

/* ---- tcp ---- */

struct wait_t {
	struct net_t *t;
	int estab, closed, nmsgs;
};
static bool wait_cond(void *arg)
{
	struct wait_t *w = arg;
	return w->t->estab >= w->estab && w->t->closed >= w->closed && w->t->nmsgs >= w->nmsgs;
}
#define WAIT(t_, e_, c_, m_)                                                       \
	do {                                                                       \
		struct wait_t w_ = {(t_), (e_), (c_), (m_)};                      \
		if (!run_until((t_)->loop, wait_cond, &w_, 5000))                 \
			TEST_FAIL("timeout waiting for estab %d closed %d msgs %d " \
				  "(have %d %d %d)",                               \
				  (e_), (c_), (m_), (t_)->estab, (t_)->closed,     \
				  (t_)->nmsgs);                                    \
	} while (0)

static bool inbuf_cond(void *arg)
{
	struct net_t *t = arg;
	size_t in, out;
	sps__conn_bufs(t->conns[0], &in, &out);
	return in > 0;
}

/* Two messages in one write, one message in three writes. */
int test_net_tcp_framing(void)
{
	struct net_t t;
	struct sps_conntab_conf conf = {.hs_workers = -1};
	struct sps_sa la = loopback4(), bound;
	char buf[256];
	ASSERT_INT_EQ(net_setup(&t, &conf), 0);
	ASSERT_INT_EQ(sps_conntab_listen(t.tab, &la, SPS_TP_TCP, NULL, &bound), 0);
	int fd = client_socket(&bound);
	ASSERT(fd >= 0);
	WAIT(&t, 1, 0, 0);
	struct sps_conn *c = t.conns[0];
	ASSERT_INT_EQ(sps_conn_transport(c), SPS_TP_TCP);
	ASSERT_INT_EQ(sps_conn_state(c), SPS_CONN_OPEN);
	ASSERT(sps_conntab_lookup(t.tab, sps_conn_id(c)) == c);
	ASSERT(sps_sa_eq(sps_conn_local(c), &bound));
	ASSERT_INT_EQ(sps_conntab_count(t.tab), 1);
	ASSERT_INT_EQ(sps_conntab_count_ip(t.tab, &bound), 1);

	ASSERT_INT_EQ(write(fd, "A\r\n\r\nBB\r\n\r\n", 11), 11);
	WAIT(&t, 1, 0, 2);
	ASSERT_STR_EQ(t.msgs[0], "A");
	ASSERT_STR_EQ(t.msgs[1], "BB");
	ASSERT_INT_EQ(write(fd, "CC", 2), 2);
	ASSERT(run_until(t.loop, inbuf_cond, &t, 5000)); /* buffered, not consumed */
	ASSERT_INT_EQ(write(fd, "C\r\n", 3), 3);
	ASSERT_INT_EQ(write(fd, "\r\n", 2), 2);
	WAIT(&t, 1, 0, 3);
	ASSERT_STR_EQ(t.msgs[2], "CCC");
	ASSERT_INT_EQ(t.nmsgs, 3);
	/* the echoes, then nothing held while idle */
	size_t got = 0;
	while (got < 18) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);
		ASSERT(n > 0);
		got += (size_t)n;
	}
	ASSERT(memcmp(buf, "A\r\n\r\nBB\r\n\r\nCCC\r\n\r\n", 18) == 0);
	size_t in, out;
	sps__conn_bufs(c, &in, &out);
	ASSERT_INT_EQ(in, 0);
	ASSERT_INT_EQ(out, 0);

	close(fd);
	WAIT(&t, 1, 1, 3);
	ASSERT_INT_EQ(t.last_err, ECONNRESET);
	ASSERT_INT_EQ(sps_conn_state(c), SPS_CONN_CLOSED);
	ASSERT(sps_conntab_lookup(t.tab, sps_conn_id(c)) == NULL);
	ASSERT_INT_EQ(sps_conntab_count(t.tab), 0);
	ASSERT_INT_EQ(sps_conntab_count_ip(t.tab, &bound), 0);
	ASSERT_INT_EQ(sps_conn_send(c, "x", 1), ENOTCONN);
	net_teardown(&t);
	return 0;
}

/* The local address of an accepted connection: the listener's when it is
 * bound to one address, the socket's own (not 0.0.0.0) for a wildcard one. */
int test_net_tcp_local_addr(void)
{
	struct net_t t;
	struct sps_conntab_conf conf = {.hs_workers = -1};
	struct sps_sa any, bound, to;
	ASSERT_INT_EQ(sps_sa_from_str(&any, "0.0.0.0:0"), 0);
	ASSERT_INT_EQ(net_setup(&t, &conf), 0);
	ASSERT_INT_EQ(sps_conntab_listen(t.tab, &any, SPS_TP_TCP, NULL, &bound), 0);
	ASSERT(sps_sa_is_any(&bound) && sps_sa_port(&bound) != 0);
	ASSERT_INT_EQ(sps_sa_set_str(&to, "127.0.0.1", sps_sa_port(&bound)), 0);
	int fd = client_socket(&to);
	ASSERT(fd >= 0);
	WAIT(&t, 1, 0, 0);
	ASSERT(sps_sa_eq(sps_conn_local(t.conns[0]), &to));
	close(fd);
	WAIT(&t, 1, 1, 0);
	net_teardown(&t);
	return 0;
}

/* A peer that sends more than SPS_CONN_IN_MAX without a frame end is closed. */
int test_net_tcp_input_limit(void)
{
	struct net_t t;
	struct sps_conntab_conf conf = {.hs_workers = -1};
	struct sps_sa la = loopback4(), bound;
	ASSERT_INT_EQ(net_setup(&t, &conf), 0);
	ASSERT_INT_EQ(sps_conntab_listen(t.tab, &la, SPS_TP_TCP, NULL, &bound), 0);
	int fd = client_socket(&bound);
	ASSERT(fd >= 0);
	WAIT(&t, 1, 0, 0);
	char *junk = malloc(SPS_CONN_IN_MAX + 1);
	ASSERT(junk);
	memset(junk, 'x', SPS_CONN_IN_MAX + 1);
	size_t off = 0;
	while (off < SPS_CONN_IN_MAX + 1) {
		ssize_t n = send(fd, junk + off, SPS_CONN_IN_MAX + 1 - off, MSG_DONTWAIT);
		if (n > 0)
			off += (size_t)n;
		else
			(void)sps_loop_run_once(t.loop, 10);
	}
	free(junk);
	WAIT(&t, 1, 1, 0);
	ASSERT_INT_EQ(t.last_err, EMSGSIZE);
	close(fd);
	net_teardown(&t);
	return 0;
}

/* The per-IP limit refuses the fourth connection when it is 3. */
struct refused_t {
	struct net_t *t;
	unsigned long n;
};
static bool refused_cond(void *arg)
{
	struct refused_t *r = arg;
	return sps__conntab_refused(r->t->tab) >= r->n;
}

int test_net_tcp_ip_limit(void)
{
	struct net_t t;
	struct sps_conntab_conf conf = {.hs_workers = -1, .max_per_ip = 3};
	struct sps_sa la = loopback4(), bound;
	int fds[5];
	ASSERT_INT_EQ(net_setup(&t, &conf), 0);
	ASSERT_INT_EQ(sps_conntab_listen(t.tab, &la, SPS_TP_TCP, NULL, &bound), 0);
	for (int i = 0; i < 3; i++) {
		fds[i] = client_socket(&bound);
		ASSERT(fds[i] >= 0);
	}
	WAIT(&t, 3, 0, 0);
	fds[3] = client_socket(&bound);
	ASSERT(fds[3] >= 0);
	struct refused_t r = {&t, 1};
	ASSERT(run_until(t.loop, refused_cond, &r, 5000));
	ASSERT_INT_EQ(t.estab, 3);
	ASSERT_INT_EQ(sps_conntab_count_ip(t.tab, &bound), 3);
	ASSERT_INT_EQ(peer_closed(fds[3]), 1);
	ASSERT_INT_EQ(peer_closed(fds[0]), 0);
	/* one leaves, a new one is admitted */
	close(fds[0]);
	WAIT(&t, 3, 1, 0);
	fds[4] = client_socket(&bound);
	ASSERT(fds[4] >= 0);
	WAIT(&t, 4, 1, 0);
	ASSERT_INT_EQ(sps_conntab_count_ip(t.tab, &bound), 3);
	ASSERT_INT_EQ(sps__conntab_refused(t.tab), 1);
	net_teardown(&t); /* close_all: close_h for the 3 open ones */
	ASSERT_INT_EQ(t.closed, 4);
	ASSERT_INT_EQ(t.last_err, ECANCELED);
	for (int i = 1; i < 5; i++)
		close(fds[i]);
	return 0;
}

/* A silent connection is closed after the idle time; one whose idle time was
 * extended (as the registrar does) stays. */
int test_net_tcp_idle(void)
{
	struct net_t t;
	struct sps_conntab_conf conf = {.hs_workers = -1, .idle_ms = 50};
	struct sps_sa la = loopback4(), bound;
	ASSERT_INT_EQ(net_setup(&t, &conf), 0);
	t.slow_idle_ms = 60000;
	ASSERT_INT_EQ(sps_conntab_listen(t.tab, &la, SPS_TP_TCP, NULL, &bound), 0);
	int fd1 = client_socket(&bound);
	ASSERT(fd1 >= 0);
	WAIT(&t, 1, 0, 0);
	int fd2 = client_socket(&bound);
	ASSERT(fd2 >= 0);
	WAIT(&t, 2, 1, 0);
	ASSERT_INT_EQ(t.close_errs[0], ETIMEDOUT);
	ASSERT_INT_EQ(sps_conn_state(t.conns[0]), SPS_CONN_CLOSED);
	ASSERT_INT_EQ(sps_conn_state(t.conns[1]), SPS_CONN_OPEN);
	ASSERT_INT_EQ(peer_closed(fd1), 1);
	ASSERT_INT_EQ(sps_conn_set_idle(t.conns[1], 0), 0); /* back to 50 ms */
	WAIT(&t, 2, 2, 0);
	ASSERT_INT_EQ(t.close_errs[1], ETIMEDOUT);
	close(fd1);
	close(fd2);
	net_teardown(&t);
	return 0;
}

/* A peer that does not read: the output queue is bounded, then the conn is
 * closed (from the loop, not inside sps_conn_send). */
int test_net_tcp_output_limit(void)
{
	struct net_t t;
	struct sps_conntab_conf conf = {.hs_workers = -1, .out_max = 64 * 1024};
	struct sps_sa la = loopback4(), bound;
	static char chunk[16384];
	ASSERT_INT_EQ(net_setup(&t, &conf), 0);
	ASSERT_INT_EQ(sps_conntab_listen(t.tab, &la, SPS_TP_TCP, NULL, &bound), 0);
	int fd = client_socket(&bound);
	ASSERT(fd >= 0);
	WAIT(&t, 1, 0, 0);
	int err = 0;
	for (int i = 0; i < 100000 && !err; i++)
		err = sps_conn_send(t.conns[0], chunk, sizeof(chunk));
	ASSERT_INT_EQ(err, ENOBUFS);
	ASSERT_INT_EQ(t.closed, 0);
	WAIT(&t, 1, 1, 0);
	ASSERT_INT_EQ(t.last_err, ENOBUFS);
	close(fd);
	net_teardown(&t);
	return 0;
}

/* An outgoing TCP connection: data queued before it is open goes out. */
int test_net_tcp_connect(void)
{
	struct net_t t;
	struct sps_conntab_conf conf = {.hs_workers = -1};
	struct sps_sa la = loopback4(), bound;
	struct sps_conn *c;
	ASSERT_INT_EQ(net_setup(&t, &conf), 0);
	ASSERT_INT_EQ(sps_conntab_listen(t.tab, &la, SPS_TP_TCP, NULL, &bound), 0);
	ASSERT_INT_EQ(sps_conn_connect(&c, t.tab, &bound, SPS_TP_TCP, NULL, NULL), 0);
	ASSERT(sps_conn_outgoing(c));
	ASSERT_INT_EQ(sps_conn_send(c, "ping\r\n\r\n", 8), 0);
	WAIT(&t, 2, 0, 1);
	ASSERT_STR_EQ(t.msgs[0], "ping");
	while (!t.reply[0])
		ASSERT_INT_EQ(sps_loop_run_once(t.loop, 100), 0);
	ASSERT_STR_EQ(t.reply, "ping");
	ASSERT_INT_EQ(sps_conntab_count(t.tab), 2);
	ASSERT_INT_EQ(sps_conntab_count_ip(t.tab, &bound), 1); /* only the accepted one */
	sps_conn_close(c);
	ASSERT_INT_EQ(t.closed, 1);
	ASSERT_INT_EQ(t.last_err, ECANCELED);
	WAIT(&t, 2, 2, 1); /* the server side sees EOF */
	sps_mem_deref(c);
	/* a refused connect reports through close_h */
	struct sps_sa dead = bound;
	sps_conntab_close_all(t.tab);
	ASSERT_INT_EQ(sps_conn_connect(&c, t.tab, &dead, SPS_TP_TCP, NULL, NULL), ESHUTDOWN);
	net_teardown(&t);
	ASSERT_INT_EQ(net_setup(&t, &conf), 0);
	ASSERT_INT_EQ(sps_conn_connect(&c, t.tab, &dead, SPS_TP_TCP, NULL, NULL), 0);
	WAIT(&t, 0, 1, 0);
	ASSERT_INT_EQ(t.last_err, ECONNREFUSED);
	sps_mem_deref(c);
	net_teardown(&t);
	return 0;
}

/* ---- tls ---- */

/* A blocking OpenSSL client in its own thread: handshake, send, read the echo. */
struct tls_client {
	struct sps_sa dst;
	SSL_CTX *ctx;
	atomic_int done;
	int ok;
};

static void *tls_client_main(void *arg)
{
	struct tls_client *tc = arg;
	char buf[64];
	size_t got = 0;
	int fd = client_socket(&tc->dst);
	SSL *ssl = NULL;
	if (fd < 0)
		goto out;
	ssl = SSL_new(tc->ctx);
	if (!ssl || !SSL_set_fd(ssl, fd) || !SSL_set1_host(ssl, "localhost") ||
	    !SSL_set_tlsext_host_name(ssl, "localhost") || SSL_connect(ssl) != 1)
		goto out;
	if (SSL_write(ssl, "hello\r\n\r\n", 9) != 9)
		goto out;
	while (got < 9) {
		int n = SSL_read(ssl, buf + got, (int)(sizeof(buf) - got));
		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	tc->ok = got == 9 && memcmp(buf, "hello\r\n\r\n", 9) == 0;
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	OPENSSL_thread_stop();
	atomic_store(&tc->done, 1);
	return NULL;
}

struct tls_wait {
	struct net_t *t;
	struct tls_client *tc;
};
static bool tls_wait_cond(void *arg)
{
	struct tls_wait *w = arg;
	return atomic_load(&w->tc->done) && w->t->closed >= 1;
}

static bool count_is(void *arg)
{
	struct net_t *t = arg;
	return sps_conntab_count(t->tab) == (unsigned)t->nmsgs; /* nmsgs: wanted count */
}

/* Handshakes on 2 worker threads; a blocking client gets its echo. */
int test_net_tls_echo(void)
{
	struct net_t t;
	struct tls_pair tp;
	struct sps_conntab_conf conf = {.hs_workers = 2};
	struct sps_sa la = loopback4();
	pthread_t thr;
	ASSERT_INT_EQ(tls_pair_new(&tp), 0);
	ASSERT_INT_EQ(net_setup(&t, &conf), 0);
	ASSERT_INT_EQ(sps__conntab_workers(t.tab), 2);
	struct tls_client tc = {.ctx = tp.client};
	ASSERT_INT_EQ(sps_conntab_listen(t.tab, &la, SPS_TP_TLS, tp.server, &tc.dst), 0);
	ASSERT_INT_EQ(pthread_create(&thr, NULL, tls_client_main, &tc), 0);
	struct tls_wait w = {&t, &tc};
	bool done = run_until(t.loop, tls_wait_cond, &w, 10000);
	pthread_join(thr, NULL);
	ASSERT(done);
	ASSERT(tc.ok);
	ASSERT_INT_EQ(t.estab, 1);
	ASSERT_INT_EQ(t.nmsgs, 1);
	ASSERT_STR_EQ(t.msgs[0], "hello");
	ASSERT_INT_EQ(sps_conn_transport(t.conns[0]), SPS_TP_TLS);
	ASSERT(sps_conn_ssl(t.conns[0]) == NULL); /* TLS 1.3: records are net/tls13's */
	ASSERT_INT_EQ(t.last_err, ECONNRESET); /* close_notify from the client */

	/* a silent client whose handshake is still on a worker at shutdown:
	 * dropped, nothing leaks */
	int fd = client_socket(&tc.dst);
	ASSERT(fd >= 0);
	t.nmsgs = 1;
	ASSERT(run_until(t.loop, count_is, &t, 5000));
	net_teardown(&t);
	ASSERT_INT_EQ(t.closed, 1); /* never announced: no close_h */
	close(fd);
	tls_pair_free(&tp);
	return 0;
}

/* Our own TLS client (sps_conn_connect) against our listener, handshakes on
 * workers and on the loop; a wrong verify_host fails the handshake. */
static int tls_connect_with(int workers)
{
	struct net_t t;
	struct tls_pair tp;
	struct sps_conntab_conf conf = {.hs_workers = workers};
	struct sps_sa la = loopback4(), bound;
	struct sps_conn *c;
	ASSERT_INT_EQ(tls_pair_new(&tp), 0);
	ASSERT_INT_EQ(net_setup(&t, &conf), 0);
	ASSERT_INT_EQ(sps_conntab_listen(t.tab, &la, SPS_TP_TLS, tp.server, &bound), 0);
	ASSERT_INT_EQ(sps_conn_connect(&c, t.tab, &bound, SPS_TP_TLS, tp.client, "localhost"), 0);
	ASSERT_INT_EQ(sps_conn_send(c, "ping\r\n\r\n", 8), 0); /* queued */
	WAIT(&t, 2, 0, 1);
	while (!t.reply[0])
		ASSERT_INT_EQ(sps_loop_run_once(t.loop, 100), 0);
	ASSERT_STR_EQ(t.reply, "ping");
	ASSERT(sps_conn_ssl(c) != NULL);
	ASSERT(SSL_get_verify_result(sps_conn_ssl(c)) == X509_V_OK);
	/* idle: neither side holds buffers */
	size_t in, out;
	sps__conn_bufs(t.conns[0], &in, &out);
	ASSERT_INT_EQ(in + out, 0);
	sps__conn_bufs(c, &in, &out);
	ASSERT_INT_EQ(in + out, 0);
	sps_conn_close(c);
	sps_mem_deref(c);
	WAIT(&t, 2, 2, 1);

	/* certificate for localhost, but we want another name */
	ASSERT_INT_EQ(sps_conn_connect(&c, t.tab, &bound, SPS_TP_TLS, tp.client, "sip.example.com"),
		      0);
	WAIT(&t, 2, 3, 1);
	ASSERT_INT_EQ(t.last_err, EPROTO);
	sps_mem_deref(c);
	t.nmsgs = 0;
	ASSERT(run_until(t.loop, count_is, &t, 5000)); /* the server side gave up too */
	net_teardown(&t);
	tls_pair_free(&tp);
	return 0;
}

int test_net_tls_connect(void)
{
	ASSERT_INT_EQ(tls_connect_with(-1), 0);
	ASSERT_INT_EQ(tls_connect_with(1), 0);
	return 0;
}

/* A client that never starts the handshake is closed after handshake_ms. */
struct hs_to {
	struct net_t *t;
	int fd;
};
static bool hs_to_cond(void *arg)
{
	struct hs_to *h = arg;
	return sps_conntab_count(h->t->tab) == 0 && peer_closed(h->fd) == 1;
}

static int tls_handshake_timeout_with(int workers)
{
	struct net_t t;
	struct tls_pair tp;
	struct sps_conntab_conf conf = {.hs_workers = workers, .handshake_ms = 100};
	struct sps_sa la = loopback4(), bound;
	ASSERT_INT_EQ(tls_pair_new(&tp), 0);
	ASSERT_INT_EQ(net_setup(&t, &conf), 0);
	ASSERT_INT_EQ(sps_conntab_listen(t.tab, &la, SPS_TP_TLS, tp.server, &bound), 0);
	struct hs_to h = {&t, client_socket(&bound)};
	ASSERT(h.fd >= 0);
	t.nmsgs = 1;
	ASSERT(run_until(t.loop, count_is, &t, 5000)); /* accepted, counted */
	ASSERT_INT_EQ(sps_conntab_count_ip(t.tab, &bound), 1);
	ASSERT(run_until(t.loop, hs_to_cond, &h, 5000));
	ASSERT_INT_EQ(sps_conntab_count_ip(t.tab, &bound), 0);
	ASSERT_INT_EQ(t.estab, 0);
	ASSERT_INT_EQ(t.closed, 0);
	close(h.fd);
	net_teardown(&t);
	tls_pair_free(&tp);
	return 0;
}

int test_net_tls_handshake_timeout(void)
{
	ASSERT_INT_EQ(tls_handshake_timeout_with(-1), 0);
	ASSERT_INT_EQ(tls_handshake_timeout_with(1), 0);
	return 0;
}

/* ---- net/tls13: the record layer after OpenSSL's handshake ---- */

/* Handshake srv and cli over a socket pair, both non-blocking, in turns. */
static int pair_handshake(SSL *srv, SSL *cli)
{
	int rs = 0, rc = 0;
	for (int i = 0; i < 1000 && (rs != 1 || rc != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(cli);
		if (rs != 1)
			rs = SSL_do_handshake(srv);
	}
	return rs == 1 && rc == 1 ? 0 : 1;
}

/* Everything readable on fd now (a socket pair delivers at once). */
static size_t drain(int fd, uint8_t *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;
	while (got < cap && (n = recv(fd, buf + got, cap - got, MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	return got;
}

/* The records in buf[0..len), opened one after the other; the content of
 * the last application-data record is copied to out. Returns the number of
 * records, or -errno of the first failure. */
static int open_all(struct sps_tls13 *t, EVP_CIPHER_CTX *cx, uint8_t *buf, size_t len,
		    char *out, size_t cap, size_t *outlen)
{
	size_t off = 0;
	int n = 0;
	*outlen = 0;
	while (off < len) {
		long rl = sps_tls13_record_len(buf + off, len - off);
		if (rl <= 0 || (size_t)rl > len - off)
			return -EPROTO;
		uint8_t type;
		size_t plen;
		int err = sps_tls13_open(t, cx, buf + off, (size_t)rl, &type, &plen);
		if (err)
			return -err;
		const uint8_t *pt = buf + off + SPS_TLS13_HDR;
		if (type == SPS_TLS13_HANDSHAKE && sps_tls13_handshake(t, pt, plen))
			return -EPROTO;
		if (type == SPS_TLS13_APPDATA && plen <= cap) {
			memcpy(out, pt, plen);
			*outlen = plen;
		}
		off += (size_t)rl;
		n++;
	}
	return n;
}

/* Seal and send len bytes from the server side. */
static int seal_send(struct sps_tls13 *t, EVP_CIPHER_CTX *cx, int fd, const void *p, size_t len)
{
	size_t cap = sps_tls13_sealed_max(len), n = 0;
	uint8_t *out = malloc(cap);
	int rc = 1;
	if (out && sps_tls13_seal(t, cx, SPS_TLS13_APPDATA, p, len, out, &n) == 0 && n <= cap &&
	    send(fd, out, n, 0) == (ssize_t)n)
		rc = 0;
	free(out);
	return rc;
}

/* Read exactly len bytes with the (non-blocking) client SSL. */
static int cli_read(SSL *cli, char *buf, size_t len)
{
	size_t got = 0;
	for (int i = 0; i < 100 && got < len; i++) {
		int n = SSL_read(cli, buf + got, (int)(len - got));
		if (n > 0)
			got += (size_t)n;
		else if (SSL_get_error(cli, n) != SSL_ERROR_WANT_READ)
			return 1;
	}
	return got == len ? 0 : 1;
}

static int tls13_records_with(struct tls_pair *tp, const char *suite)
{
	int sv[2];
	static uint8_t raw[4 * SPS_TLS13_MAX_RECORD];
	char text[64];
	size_t n;
	ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	SSL *srv = SSL_new(tp->server), *cli = SSL_new(tp->client);
	ASSERT(srv && cli);
	ASSERT_INT_EQ(SSL_set_ciphersuites(cli, suite), 1);
	SSL_set_fd(srv, sv[0]);
	SSL_set_fd(cli, sv[1]);
	SSL_set_accept_state(srv);
	SSL_set_connect_state(cli);
	ASSERT_INT_EQ(pair_handshake(srv, cli), 0);
	struct sps_tls13 *t = sps_tls13_take(srv);
	ASSERT(t != NULL);
	ASSERT_STR_EQ(sps_tls13_suite(t), suite);
	SSL_free(srv); /* the records are ours now; the socket stays open */
	EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
	ASSERT(cx);

	/* client -> server, then server -> client (after the ticket OpenSSL sent) */
	ASSERT_INT_EQ(SSL_write(cli, "hello", 5), 5);
	ASSERT_INT_EQ(open_all(t, cx, raw, drain(sv[0], raw, sizeof(raw)), text, sizeof(text), &n), 1);
	ASSERT(n == 5 && memcmp(text, "hello", 5) == 0);
	ASSERT_INT_EQ(seal_send(t, cx, sv[0], "world", 5), 0);
	ASSERT_INT_EQ(cli_read(cli, text, 5), 0);
	ASSERT(memcmp(text, "world", 5) == 0);

	/* RFC 8446 4.6.3: the client updates its key and asks us to update ours */
	ASSERT_INT_EQ(SSL_key_update(cli, SSL_KEY_UPDATE_REQUESTED), 1);
	ASSERT_INT_EQ(SSL_write(cli, "x", 1), 1);
	ASSERT_INT_EQ(open_all(t, cx, raw, drain(sv[0], raw, sizeof(raw)), text, sizeof(text), &n), 2);
	ASSERT(n == 1 && text[0] == 'x');
	ASSERT_INT_EQ(seal_send(t, cx, sv[0], "y", 1), 0); /* KeyUpdate first, then "y" */
	ASSERT_INT_EQ(cli_read(cli, text, 1), 0);
	ASSERT(text[0] == 'y');
	ASSERT_INT_EQ(SSL_write(cli, "z", 1), 1); /* the client's new key again */
	ASSERT_INT_EQ(open_all(t, cx, raw, drain(sv[0], raw, sizeof(raw)), text, sizeof(text), &n), 1);
	ASSERT(n == 1 && text[0] == 'z');

	/* more than one record's worth: 3 records, read whole by the client */
	size_t big = 2 * SPS_TLS13_MAX_PLAIN + 1000;
	char *b = malloc(big), *back = malloc(big);
	ASSERT(b && back);
	for (size_t i = 0; i < big; i++)
		b[i] = (char)(i * 7);
	ASSERT_INT_EQ(seal_send(t, cx, sv[0], b, big), 0);
	ASSERT_INT_EQ(cli_read(cli, back, big), 0);
	ASSERT(memcmp(b, back, big) == 0);
	free(b);
	free(back);

	/* a flipped bit fails authentication; other handshake messages and
	 * records that do not say application_data are refused */
	ASSERT_INT_EQ(SSL_write(cli, "tampered", 8), 8);
	size_t len = drain(sv[0], raw, sizeof(raw));
	ASSERT(len > 10);
	raw[SPS_TLS13_HDR + 2] ^= 1;
	ASSERT_INT_EQ(open_all(t, cx, raw, len, text, sizeof(text), &n), -EBADMSG);
	static const uint8_t nst[] = {4, 0, 0, 1, 0}, ku2[] = {24, 0, 0, 1, 2};
	ASSERT_INT_EQ(sps_tls13_handshake(t, nst, sizeof(nst)), EPROTO);
	ASSERT_INT_EQ(sps_tls13_handshake(t, ku2, sizeof(ku2)), EPROTO);
	static const uint8_t hs_hdr[] = {22, 3, 3, 0, 10}, long_hdr[] = {23, 3, 3, 0x41, 0x01};
	ASSERT(sps_tls13_record_len(hs_hdr, sizeof(hs_hdr)) < 0);
	ASSERT(sps_tls13_record_len(long_hdr, sizeof(long_hdr)) < 0);
	ASSERT(sps_tls13_record_len(long_hdr, 4) == 0);

	EVP_CIPHER_CTX_free(cx);
	sps_tls13_free(t);
	SSL_free(cli);
	close(sv[0]);
	close(sv[1]);
	ERR_clear_error();
	return 0;
}

/* Every TLS 1.3 suite; a TLS 1.2 connection stays with OpenSSL. */
int test_net_tls13_records(void)
{
	struct tls_pair tp;
	ASSERT_INT_EQ(tls_pair_new(&tp), 0);
	ASSERT_INT_EQ(tls13_records_with(&tp, "TLS_AES_128_GCM_SHA256"), 0);
	ASSERT_INT_EQ(tls13_records_with(&tp, "TLS_AES_256_GCM_SHA384"), 0);
	ASSERT_INT_EQ(tls13_records_with(&tp, "TLS_CHACHA20_POLY1305_SHA256"), 0);

	int sv[2];
	ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	SSL *srv = SSL_new(tp.server), *cli = SSL_new(tp.client);
	ASSERT(srv && cli);
	ASSERT_INT_EQ(SSL_set_max_proto_version(cli, TLS1_2_VERSION), 1);
	SSL_set_fd(srv, sv[0]);
	SSL_set_fd(cli, sv[1]);
	SSL_set_accept_state(srv);
	SSL_set_connect_state(cli);
	ASSERT_INT_EQ(pair_handshake(srv, cli), 0);
	ASSERT(sps_tls13_take(srv) == NULL);
	SSL_free(srv);
	SSL_free(cli);
	close(sv[0]);
	close(sv[1]);
	tls_pair_free(&tp);
	ERR_clear_error();
	return 0;
}
