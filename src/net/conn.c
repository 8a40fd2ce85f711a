/* net/conn: TCP/TLS listeners, connections and the connection table.
 *
 * Threads (docs/threading.md): everything runs on the table's loop thread
 * except the TLS handshake of an accepted socket when workers are enabled:
 * the socket is packed in an hs_job, posted to a worker loop that makes its
 * SSL, handshaken there and posted back. A job (and its SSL) belongs to exactly
 * one thread at a time; the hand-over is the post queue's mutex. Counters,
 * the tables and every sps_conn are touched only on the loop thread. */
#define SPS_LOG_MODULE "net"
#include "net/conn.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "core/mem.h"
#include "net/conn_int.h"
#include "net/tls13.h"

#define DEF_MAX_CONNS 16384u
#define DEF_MAX_PER_IP 64u
#define DEF_IDLE_MS (3600u * 1000u)
#define DEF_HANDSHAKE_MS (10u * 1000u)
#define DEF_OUT_MAX (256u * 1024u)
#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100
#define IN_MIN_ALLOC 4096u
/* TLS 1.3 connections past their handshake (net/tls13.h): raw bytes are read
 * into a scratch of RAW_CAP, plaintext is sealed SEAL_CHUNK bytes at a time. */
#define RAW_CAP (4 * SPS_TLS13_MAX_RECORD)
#define SEAL_CHUNK (4 * SPS_TLS13_MAX_PLAIN)
/* Give freed heap pages back to the kernel after the table shrank to half
 * its peak (by TRIM_MIN_DROP connections at least) or after a burst of at
 * least TRIM_MIN_DROP handshakes in flight drained to a quarter; TRIM_MS
 * later, so that a wave of closes is trimmed once (docs/threading.md,
 * "Memory per connection"). Steady churn never trims: the pages it frees
 * are reused at once. */
#define TRIM_MIN_DROP 1024u
#define TRIM_MS 1000u

static atomic_uint_fast64_t next_conn_id = 1;

/* A listening socket. Owned by the table (list); holds a reference to ctx. */
struct listener {
	struct listener *next;
	struct sps_conntab *tab;
	int fd;
	enum sps_transport tp;
	SSL_CTX *ctx;
	struct sps_timer pause; /* accept paused after EMFILE */
	struct sps_sa addr;	/* bound address; the local address of every
				   accepted socket unless any */
	bool any;		/* bound to 0.0.0.0 / ::: ask getsockname */
};

/* Accepted connections per source address. Owned by the table's byip hash. */
struct ip_count {
	struct ip_count *next;
	uint8_t ip[16];
	unsigned n;
};

struct hs_worker;

/* An accepted TLS socket whose handshake runs on a worker. Owns fd and ssl.
 * Owned by the loop thread until posted to w->loop, by the worker until
 * posted back (hs_done), then by the loop thread again. Counted in
 * tab->count and the per-IP table from accept until dropped or turned into
 * a connection. */
struct hs_job {
	struct sps_loop_task task;
	struct sps_conntab *tab;
	struct hs_worker *w;
	struct hs_job *prev, *next; /* w->active, worker thread only */
	int fd;
	SSL_CTX *ctx; /* a reference until the worker made ssl from it */
	SSL *ssl;
	struct sps_tls13 *t13; /* set instead of ssl when the handshake handed off */
	struct sps_sa peer, local;
	struct sps_timer tmr; /* on w->loop */
	int err;
};

/* A handshake thread with its own loop. active is touched only by the thread
 * (and by the loop thread after the join). */
struct hs_worker {
	struct sps_conntab *tab;
	struct sps_loop *loop;
	pthread_t thr;
	bool running;
	bool stopping;
	struct hs_job *active;
};

/* Owns the listeners, the hash tables, the scratch buffer, the workers and
 * one reference to every connection in its list (in_table). */
struct sps_conntab {
	struct sps_loop *loop;
	struct sps_conntab_conf conf;
	struct sps_conn_handlers h;
	struct listener *listeners;
	struct sps_conn *head; /* all connections in the table */
	struct sps_conn **byid;
	size_t idmask;
	struct ip_count **byip;
	size_t ipmask;
	uint32_t ipseed;
	unsigned count; /* connections + handshake jobs, against max_conns */
	unsigned long refused;
	char *scratch; /* SPS_CONN_IN_MAX bytes: reads land here first */
	uint8_t *raw;	    /* RAW_CAP bytes: TLS 1.3 records read */
	uint8_t *seal;	    /* sps_tls13_sealed_max(SEAL_CHUNK) bytes */
	EVP_CIPHER_CTX *aead; /* scratch of every sps_tls13 on this thread */
	struct hs_worker *workers;
	int nworkers;
	unsigned rr;
	unsigned peak;    /* highest count since the last trim */
	unsigned hs_jobs; /* handshake jobs on the workers */
	unsigned hs_peak; /* highest hs_jobs since the last trim */
	struct sps_timer trim;
	bool closing;
	/* sps_conntab_cork: depth, and the connections whose output waits for
	 * the uncork (a reference each) */
	unsigned corked;
	struct sps_conn **dirty;
	size_t ndirty, capdirty;
};

/* A stream connection. References: the table holds one while in_table; the
 * event handlers hold one for the duration of a dispatch; the upper layer
 * takes its own. fd, ssl and the buffers are released at close, the struct
 * at the last reference. tab is NULL once closed.
 * A TLS connection has ssl (OpenSSL does the records) or, once a TLS 1.3
 * handshake is over, t13 (net/tls13.c does them; out then holds records).
 * Invariants: in != NULL iff in_len > 0; out != NULL iff out_len > 0;
 * rec != NULL iff rec_len > 0 (the start of a record not read whole yet). */
struct sps_conn {
	struct sps_conntab *tab;
	struct sps_conn *prev, *next; /* tab->head list */
	struct sps_conn *id_next;     /* tab->byid chain */
	uint64_t id;
	int fd;
	SSL *ssl;
	struct sps_tls13 *t13;
	struct sps_sa peer, local;
	enum sps_transport tp;
	enum sps_conn_state state;
	bool outgoing;
	bool in_table;
	bool ip_counted;
	bool announced;		/* close_h is due at close */
	bool read_wants_write;	/* SSL_read returned WANT_WRITE */
	bool write_wants_read;	/* SSL_write returned WANT_READ */
	bool write_blocked;	/* socket full: wait for EPOLLOUT */
	unsigned hs_events;	/* what the handshake waits for */
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_off, out_len, out_cap;
	uint8_t *rec;
	size_t rec_len;
	struct sps_timer tmr; /* connect/handshake deadline, idle, deferred close */
	uint64_t idle_ms, last_active;
	int deferred_err;
	void *udata;
	bool dirty; /* in tab->dirty: out is written at the uncork */
};

static void conn_close_err(struct sps_conn *c, int err);
static void conn_event(int fd, unsigned events, void *arg);

/* ---- helpers ---- */

static size_t pow2_at_least(size_t n)
{
	size_t p = 64;
	while (p < n)
		p *= 2;
	return p;
}

/* ---- giving memory back ----
 * glibc keeps the pages of freed chunks that are not at the top of a heap:
 * after 10,000 idle TLS connections closed, the RSS stayed at its peak
 * (150 MB) for good. malloc_trim returns them (MADV_DONTNEED). */

static bool trim_due(const struct sps_conntab *tab)
{
	return (tab->peak >= tab->count + TRIM_MIN_DROP && tab->count <= tab->peak / 2) ||
	       (tab->hs_peak >= TRIM_MIN_DROP && tab->hs_jobs <= tab->hs_peak / 4);
}

static void trim_timer(void *arg)
{
	struct sps_conntab *tab = arg;
	tab->peak = tab->count;
	tab->hs_peak = tab->hs_jobs;
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

/* A connection closed or a handshake job came back: trim soon if due. */
static void trim_check(struct sps_conntab *tab)
{
	if (!tab->closing && !sps_timer_pending(&tab->trim) && trim_due(tab))
		(void)sps_timer_start(tab->loop, &tab->trim, TRIM_MS, trim_timer, tab);
}

/* One more connection (or job) against max_conns. */
static void count_up(struct sps_conntab *tab)
{
	if (++tab->count > tab->peak)
		tab->peak = tab->count;
}

static void ssl_modes(SSL *ssl)
{
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				  SSL_MODE_RELEASE_BUFFERS);
}

static void set_nodelay(int fd)
{
	int on = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* ---- per-IP counts: O(1) per accept and close ---- */

static struct ip_count **ip_slot(struct sps_conntab *tab, const uint8_t ip[16])
{
	uint32_t h = tab->ipseed;
	for (int i = 0; i < 16; i++) {
		h ^= ip[i];
		h *= 16777619u;
	}
	h ^= h >> 15;
	struct ip_count **pp = &tab->byip[h & tab->ipmask];
	while (*pp && memcmp((*pp)->ip, ip, 16) != 0)
		pp = &(*pp)->next;
	return pp;
}

static unsigned ip_get(const struct sps_conntab *tab, const struct sps_sa *sa)
{
	uint8_t ip[16];
	sps_sa_ip16(sa, ip);
	struct ip_count *e = *ip_slot((struct sps_conntab *)tab, ip);
	return e ? e->n : 0;
}

static int ip_inc(struct sps_conntab *tab, const struct sps_sa *sa)
{
	uint8_t ip[16];
	sps_sa_ip16(sa, ip);
	struct ip_count **pp = ip_slot(tab, ip);
	if (!*pp) {
		struct ip_count *e = calloc(1, sizeof(*e));
		if (!e)
			return ENOMEM;
		memcpy(e->ip, ip, 16);
		*pp = e;
	}
	(*pp)->n++;
	return 0;
}

static void ip_dec(struct sps_conntab *tab, const struct sps_sa *sa)
{
	uint8_t ip[16];
	sps_sa_ip16(sa, ip);
	struct ip_count **pp = ip_slot(tab, ip);
	struct ip_count *e = *pp;
	if (!e)
		return;
	if (--e->n == 0) {
		*pp = e->next;
		free(e);
	}
}

/* ---- the table's list and id index ---- */

static void tab_insert(struct sps_conntab *tab, struct sps_conn *c)
{
	c->next = tab->head;
	c->prev = NULL;
	if (tab->head)
		tab->head->prev = c;
	tab->head = c;
	struct sps_conn **b = &tab->byid[c->id & tab->idmask];
	c->id_next = *b;
	*b = c;
	c->in_table = true;
}

static void tab_remove(struct sps_conntab *tab, struct sps_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		tab->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	struct sps_conn **pp = &tab->byid[c->id & tab->idmask];
	while (*pp && *pp != c)
		pp = &(*pp)->id_next;
	if (*pp)
		*pp = c->id_next;
	c->prev = c->next = c->id_next = NULL;
	c->in_table = false;
}

struct sps_conn *sps_conntab_lookup(struct sps_conntab *tab, uint64_t id)
{
	for (struct sps_conn *c = tab->byid[id & tab->idmask]; c; c = c->id_next)
		if (c->id == id)
			return c;
	return NULL;
}

unsigned sps_conntab_count(const struct sps_conntab *tab) { return tab->count; }
unsigned sps_conntab_count_ip(const struct sps_conntab *tab, const struct sps_sa *ip)
{
	return ip_get(tab, ip);
}
unsigned long sps__conntab_refused(const struct sps_conntab *tab) { return tab->refused; }
int sps__conntab_workers(const struct sps_conntab *tab) { return tab->nworkers; }

/* ---- connection objects ---- */

static void conn_destroy(void *obj)
{
	struct sps_conn *c = obj;
	/* normally all released by conn_close_err; here for a failed setup */
	if (c->ssl)
		SSL_free(c->ssl);
	sps_tls13_free(c->t13);
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	free(c->rec);
}

/* A connection object for fd (taken over: closed with the conn), in state st,
 * added to the table, its fd watched. Takes over ssl too. The caller has
 * already counted it in tab->count (and the per-IP table when ip_counted).
 * Returns the connection (the table's reference) or NULL: then fd and ssl
 * are NOT consumed and nothing was counted by this call. */
static struct sps_conn *conn_new(struct sps_conntab *tab, int fd, SSL *ssl,
				 const struct sps_sa *peer, const struct sps_sa *local,
				 enum sps_transport tp, enum sps_conn_state st)
{
	struct sps_conn *c = sps_mem_zalloc(sizeof(*c), conn_destroy);
	if (!c)
		return NULL;
	c->fd = -1;
	c->tab = tab;
	c->id = atomic_fetch_add(&next_conn_id, 1);
	c->peer = *peer;
	if (local)
		c->local = *local;
	c->tp = tp;
	c->state = st;
	c->idle_ms = tab->conf.idle_ms;
	c->last_active = sps_loop_now(tab->loop);
	unsigned ev = st == SPS_CONN_CONNECTING ? SPS_LOOP_WRITE : SPS_LOOP_READ;
	if (sps_loop_fd_add(tab->loop, fd, ev, conn_event, c)) {
		sps_mem_deref(c);
		return NULL;
	}
	c->fd = fd;
	c->ssl = ssl;
	c->hs_events = ev;
	tab_insert(tab, c);
	return c;
}

static void conn_timer(void *arg);

static void arm_timer(struct sps_conn *c, uint64_t ms)
{
	if (c->deferred_err && ms)
		return; /* a pending deferred close keeps its 0 ms timer */
	/* ENOMEM here would leave a conn without a deadline: close it instead */
	if (sps_timer_start(c->tab->loop, &c->tmr, ms, conn_timer, c))
		conn_close_err(c, ENOMEM);
}

/* The socket events the connection needs now. */
static void update_events(struct sps_conn *c)
{
	unsigned ev;
	if (c->state == SPS_CONN_CLOSED)
		return;
	if (c->state == SPS_CONN_CONNECTING)
		ev = SPS_LOOP_WRITE;
	else if (c->state == SPS_CONN_HANDSHAKE)
		ev = c->hs_events;
	else
		ev = SPS_LOOP_READ | ((c->out_len && c->write_blocked) || c->read_wants_write
					      ? SPS_LOOP_WRITE
					      : 0);
	if (sps_loop_fd_mod(c->tab->loop, c->fd, ev))
		conn_close_err(c, EIO);
}

/* Best effort: an alert record (RFC 8446 6) straight to the socket, for a
 * connection that closes now (level warning for close_notify, else fatal). */
static void t13_alert(struct sps_conn *c, uint8_t desc)
{
	uint8_t alert[2] = {desc == 0 ? 1 : 2, desc}, rec[SPS_TLS13_OVERHEAD * 2 + 8];
	size_t n = 0;
	if (sps_tls13_seal(c->t13, c->tab->aead, SPS_TLS13_ALERT, alert, sizeof(alert), rec, &n) ==
	    0)
		(void)send(c->fd, rec, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Close with a reason. Releases fd, ssl and buffers at once, leaves the
 * table, calls close_h (if announced), drops the table's reference. */
static void conn_close_err(struct sps_conn *c, int err)
{
	struct sps_conntab *tab = c->tab;
	if (c->state == SPS_CONN_CLOSED)
		return;
	bool was_open = c->state == SPS_CONN_OPEN;
	c->state = SPS_CONN_CLOSED;
	sps_timer_cancel(&c->tmr);
	sps_mem_ref(c);
	if (c->fd >= 0) {
		sps_loop_fd_del(tab->loop, c->fd);
		if (c->ssl && was_open && err == ECANCELED)
			(void)SSL_shutdown(c->ssl); /* best effort close_notify */
		else if (c->t13 && was_open && err == ECANCELED)
			t13_alert(c, 0); /* close_notify */
	}
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	sps_tls13_free(c->t13);
	c->t13 = NULL;
	free(c->rec);
	c->rec = NULL;
	c->rec_len = 0;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->in_cap = c->out_len = c->out_cap = c->out_off = 0;
	tab->count--;
	if (c->ip_counted)
		ip_dec(tab, &c->peer);
	trim_check(tab);
	bool in_table = c->in_table;
	if (in_table)
		tab_remove(tab, c);
	if (c->announced && tab->h.close_h)
		tab->h.close_h(c, err, tab->h.arg);
	c->tab = NULL;
	if (in_table)
		sps_mem_deref(c);
	sps_mem_deref(c);
}

void sps_conn_close(struct sps_conn *c)
{
	if (c)
		conn_close_err(c, ECANCELED);
}

/* Close from the loop, not from the caller's stack (sps_conn_send). */
static void conn_close_later(struct sps_conn *c, int err)
{
	if (c->deferred_err)
		return;
	c->deferred_err = err;
	arm_timer(c, 0);
}

static void conn_timer(void *arg)
{
	struct sps_conn *c = arg;
	if (c->deferred_err) {
		conn_close_err(c, c->deferred_err);
		return;
	}
	if (c->state != SPS_CONN_OPEN) {
		conn_close_err(c, ETIMEDOUT);
		return;
	}
	uint64_t now = sps_loop_now(c->tab->loop);
	uint64_t quiet = now - c->last_active;
	if (quiet >= c->idle_ms)
		conn_close_err(c, ETIMEDOUT);
	else
		arm_timer(c, c->idle_ms - quiet);
}

/* ---- output ---- */

/* Write from p as much as the socket takes. *done gets the bytes written.
 * Sets write_blocked / write_wants_read. Returns 0 or a fatal errno. */
static int write_some(struct sps_conn *c, const char *p, size_t len, size_t *done)
{
	size_t off = 0;
	c->write_blocked = c->write_wants_read = false;
	while (off < len) {
		if (c->ssl) {
			ERR_clear_error();
			int chunk = len - off > INT32_MAX ? INT32_MAX : (int)(len - off);
			int n = SSL_write(c->ssl, p + off, chunk);
			if (n > 0) {
				off += (size_t)n;
				continue;
			}
			int e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_WRITE) {
				c->write_blocked = true;
				break;
			}
			if (e == SSL_ERROR_WANT_READ) {
				c->write_wants_read = true;
				break;
			}
			*done = off;
			return e == SSL_ERROR_SYSCALL && errno ? errno : EPROTO;
		}
		ssize_t n = send(c->fd, p + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->write_blocked = true;
			break;
		}
		*done = off;
		return errno;
	}
	if (off)
		c->last_active = sps_loop_now(c->tab->loop);
	*done = off;
	return 0;
}

/* Append to the output queue (caller checked out_max). */
static int out_append(struct sps_conn *c, const char *p, size_t len)
{
	if (c->out && c->out_off + c->out_len + len > c->out_cap && c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len);
		c->out_off = 0;
	}
	size_t need = c->out_off + c->out_len + len;
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
		while (cap < need)
			cap *= 2;
		if (cap > c->tab->conf.out_max && need <= c->tab->conf.out_max)
			cap = c->tab->conf.out_max;
		char *nb = realloc(c->out, cap);
		if (!nb)
			return ENOMEM;
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_off + c->out_len, p, len);
	c->out_len += len;
	return 0;
}

/* Flush the queue. Returns 0 or a fatal errno (the caller closes). */
static int flush_out(struct sps_conn *c)
{
	size_t done = 0;
	if (!c->out_len)
		return 0;
	int err = write_some(c, c->out + c->out_off, c->out_len, &done);
	c->out_off += done;
	c->out_len -= done;
	if (!c->out_len) {
		free(c->out);
		c->out = NULL;
		c->out_off = c->out_cap = 0;
	}
	return err;
}

/* While the table is corked: note c for the uncork, which writes what
 * queued. False when that cannot be noted (no memory): write now. */
static bool cork_add(struct sps_conn *c)
{
	struct sps_conntab *tab = c->tab;
	if (c->dirty)
		return true;
	if (tab->ndirty == tab->capdirty) {
		size_t cap = tab->capdirty ? tab->capdirty * 2 : 16;
		struct sps_conn **d = realloc(tab->dirty, cap * sizeof(*d));
		if (!d)
			return false;
		tab->dirty = d;
		tab->capdirty = cap;
	}
	tab->dirty[tab->ndirty++] = sps_mem_ref(c);
	c->dirty = true;
	return true;
}

/* Write or queue len bytes: plaintext for TCP and OpenSSL, records for t13. */
static int send_bytes(struct sps_conn *c, const void *data, size_t len)
{
	size_t done = 0;
	if (c->out_len + len > c->tab->conf.out_max) {
		conn_close_later(c, ENOBUFS);
		return ENOBUFS;
	}
	if (c->state == SPS_CONN_OPEN && !c->out_len && !(c->tab->corked && cork_add(c))) {
		int err = write_some(c, data, len, &done);
		if (err) {
			conn_close_later(c, err);
			return ENOTCONN;
		}
	}
	if (done < len) {
		int err = out_append(c, (const char *)data + done, len - done);
		if (err) {
			conn_close_later(c, err);
			return ENOTCONN;
		}
	}
	return 0;
}

int sps_conn_send(struct sps_conn *c, const void *data, size_t len)
{
	if (!c || c->state == SPS_CONN_CLOSED || c->deferred_err)
		return ENOTCONN;
	int err = 0;
	if (!c->t13) {
		err = send_bytes(c, data, len);
	} else {
		/* RFC 8446 5: content as records, SEAL_CHUNK at a time */
		const char *p = data;
		do {
			size_t n = len > SEAL_CHUNK ? SEAL_CHUNK : len, sealed = 0;
			err = sps_tls13_seal(c->t13, c->tab->aead, SPS_TLS13_APPDATA, p, n,
					     c->tab->seal, &sealed);
			if (err) {
				conn_close_later(c, EPROTO);
				return ENOTCONN;
			}
			err = send_bytes(c, c->tab->seal, sealed);
			p += n;
			len -= n;
		} while (!err && len > 0);
	}
	if (!err)
		update_events(c);
	return err;
}

void sps_conntab_cork(struct sps_conntab *tab)
{
	tab->corked++;
}

void sps_conntab_uncork(struct sps_conntab *tab)
{
	if (!tab->corked || --tab->corked)
		return;
	/* uncorked now: whatever a close handler below sends goes out at once */
	for (size_t i = 0; i < tab->ndirty; i++) {
		struct sps_conn *c = tab->dirty[i];
		c->dirty = false;
		if (c->state == SPS_CONN_OPEN && !c->deferred_err) {
			int err = flush_out(c);
			if (err)
				conn_close_later(c, err);
			else
				update_events(c);
		}
		sps_mem_deref(c);
	}
	tab->ndirty = 0;
}

/* ---- input ---- */

/* Offer buf[0..len) to recv_h until it stops consuming; keep the rest in
 * c->in (buf may be the table's scratch or c->in itself). */
static void deliver(struct sps_conn *c, char *buf, size_t len)
{
	struct sps_conntab *tab = c->tab;
	size_t off = 0;
	while (off < len && c->state == SPS_CONN_OPEN) {
		size_t used = 0;
		int err = tab->h.recv_h(c, buf + off, len - off, &used, tab->h.arg);
		if (err) {
			conn_close_err(c, err);
			return;
		}
		if (!used)
			break;
		off += used < len - off ? used : len - off;
	}
	if (c->state != SPS_CONN_OPEN)
		return; /* buffers already released */
	size_t rest = len - off;
	if (!rest) {
		free(c->in);
		c->in = NULL;
		c->in_len = c->in_cap = 0;
		return;
	}
	if (rest >= SPS_CONN_IN_MAX) {
		conn_close_err(c, EMSGSIZE);
		return;
	}
	if (buf == c->in) {
		memmove(c->in, c->in + off, rest);
	} else {
		size_t cap = rest + IN_MIN_ALLOC < SPS_CONN_IN_MAX ? rest + IN_MIN_ALLOC
								  : SPS_CONN_IN_MAX;
		char *nb = malloc(cap);
		if (!nb) {
			conn_close_err(c, ENOMEM);
			return;
		}
		memcpy(nb, buf + off, rest);
		c->in = nb;
		c->in_cap = cap;
	}
	c->in_len = rest;
}

/* Where the next read goes: after the pending bytes (grown if needed), or
 * the scratch buffer when nothing is pending. */
static int read_target(struct sps_conn *c, char **base, size_t *room)
{
	if (!c->in) {
		*base = c->tab->scratch;
		*room = SPS_CONN_IN_MAX;
		return 0;
	}
	if (c->in_cap - c->in_len < IN_MIN_ALLOC && c->in_cap < SPS_CONN_IN_MAX) {
		size_t cap = c->in_cap * 2 < SPS_CONN_IN_MAX ? c->in_cap * 2 : SPS_CONN_IN_MAX;
		char *nb = realloc(c->in, cap);
		if (!nb)
			return ENOMEM;
		c->in = nb;
		c->in_cap = cap;
	}
	*base = c->in;
	*room = c->in_cap - c->in_len;
	return 0;
}

/* A record's plaintext: appended to the pending input, then delivered. */
static void deliver_plain(struct sps_conn *c, const uint8_t *p, size_t n)
{
	if (!c->in) {
		memcpy(c->tab->scratch, p, n); /* n <= 2^14 < SPS_CONN_IN_MAX */
		deliver(c, c->tab->scratch, n);
		return;
	}
	if (c->in_len + n >= SPS_CONN_IN_MAX) {
		conn_close_err(c, EMSGSIZE);
		return;
	}
	if (c->in_cap - c->in_len < n) {
		size_t cap = c->in_cap * 2 > c->in_len + n ? c->in_cap * 2 : c->in_len + n;
		if (cap > SPS_CONN_IN_MAX)
			cap = SPS_CONN_IN_MAX;
		char *nb = realloc(c->in, cap);
		if (!nb) {
			conn_close_err(c, ENOMEM);
			return;
		}
		c->in = nb;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, p, n);
	c->in_len += n;
	deliver(c, c->in, c->in_len);
}

/* TLS 1.3 after the handshake: one read, every whole record opened (RFC 8446
 * 5.2) and handled, the start of an incomplete one kept in c->rec. */
static void do_read_t13(struct sps_conn *c)
{
	struct sps_conntab *tab = c->tab;
	uint8_t *raw = tab->raw;
	size_t have = c->rec_len;
	if (c->rec) {
		memcpy(raw, c->rec, have);
		free(c->rec);
		c->rec = NULL;
		c->rec_len = 0;
	}
	ssize_t n = recv(c->fd, raw + have, RAW_CAP - have, MSG_DONTWAIT);
	if (n == 0) {
		conn_close_err(c, ECONNRESET);
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_close_err(c, errno);
		else if (have)
			goto keep; /* nothing new: put the partial record back */
		return;
	}
	have += (size_t)n;
	c->last_active = sps_loop_now(tab->loop);
	size_t off = 0;
	while (c->state == SPS_CONN_OPEN) {
		long rl = sps_tls13_record_len(raw + off, have - off);
		if (rl < 0) {
			t13_alert(c, 10); /* unexpected_message */
			conn_close_err(c, EPROTO);
			return;
		}
		if (rl == 0 || (size_t)rl > have - off)
			break;
		uint8_t type = 0, *rec = raw + off;
		size_t plen = 0;
		int err = sps_tls13_open(c->t13, tab->aead, rec, (size_t)rl, &type, &plen);
		off += (size_t)rl;
		if (err) {
			t13_alert(c, err == EBADMSG ? 20 : 10); /* bad_record_mac */
			conn_close_err(c, EPROTO);
			return;
		}
		const uint8_t *pt = rec + SPS_TLS13_HDR;
		if (type == SPS_TLS13_APPDATA) {
			if (plen)
				deliver_plain(c, pt, plen);
		} else if (type == SPS_TLS13_ALERT) {
			/* 6.1: close_notify ends the stream; any other is fatal */
			conn_close_err(c, plen == 2 && pt[1] == 0 ? ECONNRESET : EPROTO);
			return;
		} else if (type != SPS_TLS13_HANDSHAKE || sps_tls13_handshake(c->t13, pt, plen)) {
			t13_alert(c, 10);
			conn_close_err(c, EPROTO);
			return;
		}
	}
	if (c->state != SPS_CONN_OPEN || off == have)
		return;
	if (off) {
		memmove(raw, raw + off, have - off);
		have -= off;
	}
keep:
	c->rec = malloc(have);
	if (!c->rec) {
		conn_close_err(c, ENOMEM);
		return;
	}
	memcpy(c->rec, raw, have);
	c->rec_len = have;
}

/* One read (TCP) or the records at hand (TLS), each delivered. */
static void do_read(struct sps_conn *c)
{
	if (c->t13) {
		do_read_t13(c);
		return;
	}
	do {
		char *base;
		size_t room, have = c->in_len;
		int err = read_target(c, &base, &room);
		if (err) {
			conn_close_err(c, err);
			return;
		}
		ssize_t n;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_read(c->ssl, base + have, room > INT32_MAX ? INT32_MAX : (int)room);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					return;
				if (e == SSL_ERROR_WANT_WRITE) {
					c->read_wants_write = true;
					return;
				}
				if (e == SSL_ERROR_ZERO_RETURN ||
				    (e == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET)))
					conn_close_err(c, ECONNRESET);
				else
					conn_close_err(c, EPROTO);
				return;
			}
			c->read_wants_write = false;
			n = r;
		} else {
			n = recv(c->fd, base + have, room, MSG_DONTWAIT);
			if (n == 0) {
				conn_close_err(c, ECONNRESET);
				return;
			}
			if (n < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
					conn_close_err(c, errno);
				return;
			}
		}
		c->last_active = sps_loop_now(c->tab->loop);
		if (base == c->in)
			c->in_len += (size_t)n;
		deliver(c, base, have + (size_t)n);
	} while (c->state == SPS_CONN_OPEN && c->ssl && SSL_has_pending(c->ssl));
}

/* ---- state changes ---- */

/* The connection is open: idle timer, estab_h, queued output. */
static void conn_open(struct sps_conn *c)
{
	c->state = SPS_CONN_OPEN;
	c->announced = true;
	c->last_active = sps_loop_now(c->tab->loop);
	arm_timer(c, c->idle_ms);
	if (c->state == SPS_CONN_OPEN && c->tab->h.estab_h)
		c->tab->h.estab_h(c, c->tab->h.arg);
	if (c->state != SPS_CONN_OPEN)
		return;
	int err = flush_out(c);
	if (err) {
		conn_close_err(c, err);
		return;
	}
	if (c->ssl && SSL_has_pending(c->ssl))
		do_read(c);
	else if (c->ssl)
		(void)SSL_free_buffers(c->ssl); /* what the handshake left */
	update_events(c);
}

/* Drive a handshake on the loop thread (outgoing TLS, or accepted TLS when
 * there are no workers). */
static void conn_handshake(struct sps_conn *c)
{
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		if (!c->outgoing && (c->t13 = sps_tls13_take(c->ssl)) != NULL) {
			SSL_free(c->ssl);
			c->ssl = NULL;
		}
		conn_open(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		c->hs_events = SPS_LOOP_READ;
	else if (e == SSL_ERROR_WANT_WRITE)
		c->hs_events = SPS_LOOP_READ | SPS_LOOP_WRITE;
	else {
		const char *why = ERR_reason_error_string(ERR_peek_error());
		SPS_DEBUG("tls handshake failed: %s", why ? why : "eof");
		conn_close_err(c, EPROTO);
		return;
	}
	update_events(c);
}

static void conn_connected(struct sps_conn *c)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		conn_close_err(c, soerr);
		return;
	}
	struct sockaddr_storage ss;
	sl = sizeof(ss);
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0)
		(void)sps_sa_set(&c->local, (struct sockaddr *)&ss, sl);
	if (c->ssl) {
		c->state = SPS_CONN_HANDSHAKE;
		conn_handshake(c);
	} else {
		conn_open(c);
	}
}

static void conn_event(int fd, unsigned events, void *arg)
{
	struct sps_conn *c = arg;
	(void)fd;
	sps_mem_ref(c); /* handlers below may close it */
	switch (c->state) {
	case SPS_CONN_CONNECTING:
		conn_connected(c);
		break;
	case SPS_CONN_HANDSHAKE:
		conn_handshake(c);
		break;
	case SPS_CONN_OPEN:
		if (c->out_len && ((events & (SPS_LOOP_WRITE | SPS_LOOP_ERROR)) ||
				   (c->write_wants_read && (events & SPS_LOOP_READ)))) {
			int err = flush_out(c);
			if (err) {
				conn_close_err(c, err);
				break;
			}
		}
		if (c->state == SPS_CONN_OPEN &&
		    ((events & (SPS_LOOP_READ | SPS_LOOP_ERROR)) ||
		     (c->read_wants_write && (events & SPS_LOOP_WRITE))))
			do_read(c);
		update_events(c);
		break;
	case SPS_CONN_CLOSED:
		break;
	}
	sps_mem_deref(c);
}

/* ---- TLS handshake workers ---- */

static void hs_done(void *arg);

/* Worker thread: give the job back to the loop thread. */
static void hs_finish(struct hs_job *job, int err)
{
	struct hs_worker *w = job->w;
	if (job->fd >= 0)
		sps_loop_fd_del(w->loop, job->fd);
	sps_timer_cancel(&job->tmr);
	if (job->prev)
		job->prev->next = job->next;
	else if (w->active == job)
		w->active = job->next;
	if (job->next)
		job->next->prev = job->prev;
	job->prev = job->next = NULL;
	job->err = err;
	sps_loop_post_task(job->tab->loop, &job->task, hs_done, job);
}

static void hs_step(struct hs_job *job)
{
	ERR_clear_error();
	int r = SSL_do_handshake(job->ssl);
	if (r == 1) {
		/* freed here: the SSL's memory goes back to this thread's arena */
		if ((job->t13 = sps_tls13_take(job->ssl)) != NULL) {
			SSL_free(job->ssl);
			job->ssl = NULL;
		}
		hs_finish(job, 0);
		return;
	}
	int e = SSL_get_error(job->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		(void)sps_loop_fd_mod(job->w->loop, job->fd, SPS_LOOP_READ);
	else if (e == SSL_ERROR_WANT_WRITE)
		(void)sps_loop_fd_mod(job->w->loop, job->fd, SPS_LOOP_READ | SPS_LOOP_WRITE);
	else
		hs_finish(job, EPROTO);
}

static void hs_event(int fd, unsigned events, void *arg)
{
	(void)fd;
	(void)events;
	hs_step(arg);
}

static void hs_timeout(void *arg) { hs_finish(arg, ETIMEDOUT); }

static SSL *accepted_ssl(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);
	if (ssl && SSL_set_fd(ssl, fd) == 1) {
		ssl_modes(ssl);
		SSL_set_accept_state(ssl);
		return ssl;
	}
	SSL_free(ssl);
	return NULL;
}

/* Worker thread: a job arrives. The SSL is made here, not on the loop
 * thread: SSL_new is a few us of the SIP thread's time per connection, and
 * the SSL is then allocated and freed (after TLS 1.3) in this thread's
 * malloc arena. */
static void hs_start(void *arg)
{
	struct hs_job *job = arg;
	struct hs_worker *w = job->w;
	if (w->stopping) {
		hs_finish(job, ESHUTDOWN);
		return;
	}
	job->ssl = accepted_ssl(job->ctx, job->fd);
	SSL_CTX_free(job->ctx);
	job->ctx = NULL;
	if (!job->ssl) {
		hs_finish(job, ENOMEM);
		return;
	}
	job->next = w->active;
	if (w->active)
		w->active->prev = job;
	w->active = job;
	if (sps_loop_fd_add(w->loop, job->fd, SPS_LOOP_READ, hs_event, job) ||
	    sps_timer_start(w->loop, &job->tmr, job->tab->conf.handshake_ms, hs_timeout, job)) {
		hs_finish(job, ENOMEM);
		return;
	}
	hs_step(job);
}

static void *hs_worker_main(void *arg)
{
	struct hs_worker *w = arg;
	int err = sps_loop_run(w->loop);
	if (err)
		SPS_ERROR("tls handshake worker stopped: %s", strerror(err));
	w->stopping = true;
	while (w->active)
		hs_finish(w->active, ESHUTDOWN);
	sps_loop_flush_posts(w->loop); /* jobs not started yet go back too */
	return NULL;
}

static void job_drop(struct sps_conntab *tab, struct hs_job *job)
{
	SSL_CTX_free(job->ctx); /* never started */
	SSL_free(job->ssl);
	sps_tls13_free(job->t13);
	close(job->fd);
	tab->count--;
	ip_dec(tab, &job->peer);
	free(job);
}

/* Loop thread: a handshake came back. */
static void hs_done(void *arg)
{
	struct hs_job *job = arg;
	struct sps_conntab *tab = job->tab;
	tab->hs_jobs--;
	trim_check(tab); /* a burst of handshakes may have drained */
	if (job->err || tab->closing) {
		if (job->err && job->err != ESHUTDOWN)
			SPS_DEBUG("tls handshake failed: %s", strerror(job->err));
		job_drop(tab, job);
		return;
	}
	struct sps_conn *c =
		conn_new(tab, job->fd, job->ssl, &job->peer, &job->local, SPS_TP_TLS, SPS_CONN_HANDSHAKE);
	if (!c) {
		job_drop(tab, job);
		return;
	}
	c->ip_counted = true;
	c->t13 = job->t13;
	if (c->t13)
		SPS_DEBUG("conn %llu: TLS 1.3 records handed over from OpenSSL (%s)",
			  (unsigned long long)c->id, sps_tls13_suite(c->t13));
	free(job);
	sps_mem_ref(c);
	conn_open(c);
	sps_mem_deref(c);
}

static void workers_stop(struct sps_conntab *tab)
{
	for (int i = 0; i < tab->nworkers; i++) {
		struct hs_worker *w = &tab->workers[i];
		if (w->running) {
			sps_loop_stop(w->loop);
			pthread_join(w->thr, NULL);
			w->running = false;
		}
		sps_loop_free(w->loop);
		w->loop = NULL;
	}
	free(tab->workers);
	tab->workers = NULL;
	tab->nworkers = 0;
	/* the jobs the workers handed back: dropped, tab->closing is set */
	sps_loop_flush_posts(tab->loop);
}

static int workers_start(struct sps_conntab *tab, int n)
{
	sigset_t all, old;
	int err = 0;
	tab->workers = calloc((size_t)n, sizeof(*tab->workers));
	if (!tab->workers)
		return ENOMEM;
	tab->nworkers = n;
	/* workers never take signals: they go to the loop thread's signalfd */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < n && !err; i++) {
		struct hs_worker *w = &tab->workers[i];
		w->tab = tab;
		err = sps_loop_new(&w->loop);
		if (!err)
			err = pthread_create(&w->thr, NULL, hs_worker_main, w);
		if (!err) {
			w->running = true;
			/* named for top -H and bench/tls_conns (CPU per thread) */
			char name[16];
			snprintf(name, sizeof(name), "sps-tls-%u", (unsigned)i % 1000u);
			pthread_setname_np(w->thr, name);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

/* ---- accept ---- */

static void listener_resume(void *arg)
{
	struct listener *l = arg;
	(void)sps_loop_fd_mod(l->tab->loop, l->fd, SPS_LOOP_READ);
}

/* A socket accepted on a TLS listener: to a worker (which makes its SSL from
 * the listener's context of now), or handshake here. */
static void accept_tls(struct sps_conntab *tab, struct listener *l, int fd,
		       const struct sps_sa *peer, const struct sps_sa *local)
{
	SSL *ssl = NULL;
	if (tab->nworkers > 0) {
		struct hs_job *job = calloc(1, sizeof(*job));
		if (!job || SSL_CTX_up_ref(l->ctx) != 1) {
			free(job);
			goto fail;
		}
		job->tab = tab;
		job->fd = fd;
		job->ctx = l->ctx;
		job->peer = *peer;
		job->local = *local;
		job->w = &tab->workers[tab->rr++ % (unsigned)tab->nworkers];
		if (++tab->hs_jobs > tab->hs_peak)
			tab->hs_peak = tab->hs_jobs;
		sps_loop_post_task(job->w->loop, &job->task, hs_start, job);
		return;
	}
	struct sps_conn *c = NULL;
	if (!(ssl = accepted_ssl(l->ctx, fd)) ||
	    !(c = conn_new(tab, fd, ssl, peer, local, SPS_TP_TLS, SPS_CONN_HANDSHAKE)))
		goto fail;
	c->ip_counted = true;
	arm_timer(c, tab->conf.handshake_ms);
	return;
fail:
	SSL_free(ssl);
	close(fd);
	tab->count--;
	ip_dec(tab, peer);
}

static void listener_event(int lfd, unsigned events, void *arg)
{
	struct listener *l = arg;
	struct sps_conntab *tab = l->tab;
	(void)events;
	for (int i = 0; i < ACCEPT_BATCH && !tab->closing; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct sps_sa peer, local;
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* level-triggered: pause or we would spin */
				SPS_WARN("accept: %s; pausing the listener", strerror(errno));
				(void)sps_loop_fd_mod(tab->loop, lfd, 0);
				(void)sps_timer_start(tab->loop, &l->pause, ACCEPT_PAUSE_MS,
						      listener_resume, l);
			}
			return; /* EAGAIN, or a per-connection error (ECONNABORTED) */
		}
		if (sps_sa_set(&peer, (struct sockaddr *)&ss, sl) ||
		    tab->count >= tab->conf.max_conns ||
		    ip_get(tab, &peer) >= tab->conf.max_per_ip || ip_inc(tab, &peer)) {
			tab->refused++;
			close(fd);
			continue;
		}
		count_up(tab);
		sl = sizeof(ss);
		if (!l->any)
			local = l->addr;
		else if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
			 sps_sa_set(&local, (struct sockaddr *)&ss, sl))
			local = peer; /* unreachable in practice */
		/* TCP_NODELAY: inherited from the listener (Linux) */
		if (l->tp == SPS_TP_TLS) {
			accept_tls(tab, l, fd, &peer, &local);
			continue;
		}
		struct sps_conn *c = conn_new(tab, fd, NULL, &peer, &local, SPS_TP_TCP, SPS_CONN_HANDSHAKE);
		if (!c) {
			close(fd);
			tab->count--;
			ip_dec(tab, &peer);
			continue;
		}
		c->ip_counted = true;
		sps_mem_ref(c);
		conn_open(c);
		sps_mem_deref(c);
	}
}

int sps_conntab_listen(struct sps_conntab *tab, const struct sps_sa *local,
		       enum sps_transport tp, SSL_CTX *ctx, struct sps_sa *bound)
{
	int err, on = 1;
	if (tab->closing)
		return ESHUTDOWN;
	if ((tp != SPS_TP_TCP && tp != SPS_TP_TLS) || (tp == SPS_TP_TLS) != (ctx != NULL))
		return EINVAL;
	struct listener *l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	l->tab = tab;
	l->tp = tp;
	l->fd = socket(sps_sa_family(local), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		err = errno;
		goto out;
	}
	(void)setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (sps_sa_family(local) == AF_INET6)
		(void)setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	/* accepted sockets inherit it: one setsockopt per listener, not per accept */
	set_nodelay(l->fd);
	if (bind(l->fd, sps_sa_addr(local), local->len) < 0 || listen(l->fd, SOMAXCONN) < 0) {
		err = errno;
		goto out;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) < 0) {
		err = errno;
		goto out;
	}
	if ((err = sps_sa_set(&l->addr, (struct sockaddr *)&ss, sl)) != 0)
		goto out;
	l->any = sps_sa_is_any(&l->addr);
	if (bound)
		*bound = l->addr;
	err = sps_loop_fd_add(tab->loop, l->fd, SPS_LOOP_READ, listener_event, l);
	if (err)
		goto out;
	if (ctx) {
		SSL_CTX_up_ref(ctx);
		l->ctx = ctx;
	}
	l->next = tab->listeners;
	tab->listeners = l;
	return 0;
out:
	if (l->fd >= 0)
		close(l->fd);
	free(l);
	return err;
}

unsigned sps_conntab_swap_tls_ctx(struct sps_conntab *tab, SSL_CTX *old, SSL_CTX *ctx)
{
	unsigned n = 0;
	for (struct listener *l = tab->listeners; l; l = l->next) {
		if (l->tp != SPS_TP_TLS || l->ctx != old || !ctx)
			continue;
		/* the next accept uses ctx: a handshake job holds a reference to
		 * the context of its accept until the worker made its SSL, and
		 * each SSL holds its own. */
		SSL_CTX_up_ref(ctx);
		SSL_CTX_free(l->ctx);
		l->ctx = ctx;
		n++;
	}
	return n;
}

/* ---- outgoing ---- */

int sps_conn_connect(struct sps_conn **out, struct sps_conntab *tab, const struct sps_sa *dst,
		     enum sps_transport tp, SSL_CTX *client_ctx, const char *verify_host)
{
	int err;
	SSL *ssl = NULL;
	if (tab->closing)
		return ESHUTDOWN;
	if ((tp != SPS_TP_TCP && tp != SPS_TP_TLS) || (tp == SPS_TP_TLS && !client_ctx) || !dst->len)
		return EINVAL;
	if (tab->count >= tab->conf.max_conns)
		return EMFILE;
	int fd = socket(sps_sa_family(dst), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	set_nodelay(fd);
	if (connect(fd, sps_sa_addr(dst), dst->len) < 0 && errno != EINPROGRESS) {
		err = errno;
		goto out;
	}
	if (tp == SPS_TP_TLS) {
		err = EPROTO;
		ssl = SSL_new(client_ctx);
		if (!ssl || !SSL_set_fd(ssl, fd))
			goto out;
		ssl_modes(ssl);
		SSL_set_connect_state(ssl);
		if (verify_host) {
			struct sps_sa ip;
			SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
			if (sps_sa_set_str(&ip, verify_host, 0) == 0) {
				/* RFC 6066 3: no IP literals in SNI */
				if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_host))
					goto out;
			} else if (!SSL_set_tlsext_host_name(ssl, verify_host) ||
				   !SSL_set1_host(ssl, verify_host)) {
				goto out;
			}
		}
	}
	err = ENOMEM;
	struct sps_conn *c = conn_new(tab, fd, ssl, dst, NULL, tp, SPS_CONN_CONNECTING);
	if (!c)
		goto out;
	count_up(tab);
	c->outgoing = true;
	c->announced = true;
	arm_timer(c, tab->conf.handshake_ms);
	*out = sps_conn_ref(c);
	return 0;
out:
	SSL_free(ssl);
	close(fd);
	return err;
}

/* ---- the table ---- */

int sps_conntab_new(struct sps_conntab **out, struct sps_loop *loop,
		    const struct sps_conntab_conf *conf, const struct sps_conn_handlers *h)
{
	int err = ENOMEM;
	if (!h || !h->recv_h)
		return EINVAL;
	struct sps_conntab *tab = calloc(1, sizeof(*tab));
	if (!tab)
		return ENOMEM;
	/* OpenSSL writes with write(2): a peer that went away must give EPIPE,
	 * not kill the process */
	signal(SIGPIPE, SIG_IGN);
	tab->loop = loop;
	tab->h = *h;
	sps_timer_init(&tab->trim);
	if (conf)
		tab->conf = *conf;
	if (!tab->conf.max_conns)
		tab->conf.max_conns = DEF_MAX_CONNS;
	if (!tab->conf.max_per_ip)
		tab->conf.max_per_ip = DEF_MAX_PER_IP;
	if (!tab->conf.idle_ms)
		tab->conf.idle_ms = DEF_IDLE_MS;
	if (!tab->conf.handshake_ms)
		tab->conf.handshake_ms = DEF_HANDSHAKE_MS;
	if (!tab->conf.out_max)
		tab->conf.out_max = DEF_OUT_MAX;
	size_t nb = pow2_at_least(tab->conf.max_conns / 4);
	tab->byid = calloc(nb, sizeof(*tab->byid));
	tab->byip = calloc(nb, sizeof(*tab->byip));
	tab->scratch = malloc(SPS_CONN_IN_MAX);
	tab->raw = malloc(RAW_CAP);
	tab->seal = malloc(sps_tls13_sealed_max(SEAL_CHUNK));
	tab->aead = EVP_CIPHER_CTX_new();
	if (!tab->byid || !tab->byip || !tab->scratch || !tab->raw || !tab->seal || !tab->aead)
		goto out;
	tab->idmask = tab->ipmask = nb - 1;
	if (getrandom(&tab->ipseed, sizeof(tab->ipseed), GRND_NONBLOCK) != sizeof(tab->ipseed))
		tab->ipseed = (uint32_t)(uintptr_t)tab ^ 2166136261u;
	int n = tab->conf.hs_workers;
	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 2 ? (int)cpus - 1 : 1;
	}
	if (n > 0) {
		err = workers_start(tab, n);
		if (err)
			goto out;
	}
	*out = tab;
	return 0;
out:
	sps_conntab_free(tab);
	return err;
}

void sps_conntab_close_all(struct sps_conntab *tab)
{
	tab->closing = true;
	while (tab->listeners) {
		struct listener *l = tab->listeners;
		tab->listeners = l->next;
		sps_timer_cancel(&l->pause);
		sps_loop_fd_del(tab->loop, l->fd);
		close(l->fd);
		SSL_CTX_free(l->ctx);
		free(l);
	}
	workers_stop(tab);
	while (tab->head)
		conn_close_err(tab->head, ECANCELED);
	sps_timer_cancel(&tab->trim);
}

void sps_conntab_free(struct sps_conntab *tab)
{
	if (!tab)
		return;
	tab->corked = 1;
	sps_conntab_uncork(tab);
	free(tab->dirty);
	sps_conntab_close_all(tab);
	free(tab->byid);
	free(tab->byip); /* empty: every count went with its connection */
	free(tab->scratch);
	free(tab->raw);
	free(tab->seal);
	EVP_CIPHER_CTX_free(tab->aead);
	free(tab);
}

/* ---- accessors ---- */

struct sps_conn *sps_conn_ref(struct sps_conn *c) { return sps_mem_ref(c); }
uint64_t sps_conn_id(const struct sps_conn *c) { return c->id; }
const struct sps_sa *sps_conn_peer(const struct sps_conn *c) { return &c->peer; }
const struct sps_sa *sps_conn_local(const struct sps_conn *c) { return &c->local; }
enum sps_transport sps_conn_transport(const struct sps_conn *c) { return c->tp; }
enum sps_conn_state sps_conn_state(const struct sps_conn *c) { return c->state; }
bool sps_conn_outgoing(const struct sps_conn *c) { return c->outgoing; }
SSL *sps_conn_ssl(const struct sps_conn *c) { return c->ssl; }
void sps_conn_set_udata(struct sps_conn *c, void *udata) { c->udata = udata; }
void *sps_conn_udata(const struct sps_conn *c) { return c->udata; }

int sps__conn_set_idle_ms(struct sps_conn *c, uint64_t ms)
{
	if (c->state == SPS_CONN_CLOSED)
		return ENOTCONN;
	c->idle_ms = ms ? ms : c->tab->conf.idle_ms;
	if (c->state == SPS_CONN_OPEN && !c->deferred_err) {
		c->last_active = sps_loop_now(c->tab->loop);
		arm_timer(c, c->idle_ms);
	}
	return 0;
}

int sps_conn_set_idle(struct sps_conn *c, unsigned secs)
{
	return sps__conn_set_idle_ms(c, (uint64_t)secs * 1000u);
}

void sps__conn_bufs(const struct sps_conn *c, size_t *in_cap, size_t *out_cap)
{
	*in_cap = c->in_cap;
	*out_cap = c->out_cap;
}
