/* server/register: REGISTER from the wire to the store - RFC 3261 10.3
 * steps 1-3 (domain, authentication) here, steps 4-8 in the registrar -
 * and the group commit that makes a 200 OK mean "stored" (DESIGN.md).
 *
 * Replies that depend on writes wait in s->pending until the loop's idle
 * hook has committed the batch of the iteration; then they are sent, or
 * replaced by 500 when the commit failed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define SPS_LOG_MODULE "registrar"
#include "auth/digest.h"
#include "core/file.h"
#include "core/log.h"
#include "core/mem.h"
#include "registrar/registrar.h"
#include "server/server_int.h"
#include "store/store.h"

/* A reply waiting for the commit. Holds a reference to its transaction. */
struct sps_pending {
	struct sps_tsx *t;       /* NULL: stateless, sent to dest */
	struct sps_tsx_dest dest;
	unsigned code;
	char *ok;                /* the reply */
	size_t ok_len;
	char *fail;              /* 500, sent instead when the commit fails */
	size_t fail_len;
};

static int64_t now_s(void) { return (int64_t)time(NULL); }

static const char *tp_str(enum sps_transport tp)
{
	return tp == SPS_TP_UDP ? "udp" : tp == SPS_TP_TCP ? "tcp" : "tls";
}

static void send_bytes(struct sps_server *s, struct sps_tsx *t, const struct sps_tsx_dest *d,
		       unsigned code, const char *buf, size_t len)
{
	int err = t ? sps_tsx_respond(t, code, buf, len) : sps__server_send(d, buf, len, s);
	if (err)
		SPS_DEBUG("cannot send %u to a REGISTER: %s", code, strerror(err));
}

static char *dup_out(struct sps_server *s, size_t *len)
{
	char *p = malloc(s->out.len ? s->out.len : 1);
	if (p) {
		memcpy(p, s->out.buf, s->out.len);
		*len = s->out.len;
	}
	return p;
}

/* The idle hook: commit the iteration's writes, then release the replies
 * that waited for them (DESIGN.md group commit). */
static void flush_pending(void *arg)
{
	struct sps_server *s = arg;
	if (!s->npending && !sps_store_in_batch(s->store))
		return;
	int err = sps_store_in_batch(s->store) ? sps_store_commit(s->store) : 0;
	if (err && !s->store_failed) {
		SPS_ERROR("cannot commit registrations to the database: %s; REGISTERs get 500",
			  strerror(err));
		s->store_failed = true;
	} else if (!err && s->store_failed) {
		SPS_INFO("database writes work again");
		s->store_failed = false;
	}
	for (size_t i = 0; i < s->npending; i++) {
		struct sps_pending *p = &s->pending[i];
		if (err && p->fail)
			send_bytes(s, p->t, &p->dest, 500, p->fail, p->fail_len);
		else if (!err)
			send_bytes(s, p->t, &p->dest, p->code, p->ok, p->ok_len);
		sps_mem_deref(p->t);
		free(p->ok);
		free(p->fail);
	}
	s->npending = 0;
}

/* Hold the reply (in s->out) until the commit. When memory is short, the
 * batch is committed now and the reply sent at once instead. */
static void defer(struct sps_server *s, const struct sps_origin *o, const struct sps_sip_msg *req,
		  struct sps_tsx *t, const struct sps_tsx_dest *d, unsigned code)
{
	struct sps_pending *p = NULL;
	if (s->npending == s->cap_pending) {
		size_t cap = s->cap_pending ? s->cap_pending * 2 : 64;
		struct sps_pending *np = realloc(s->pending, cap * sizeof(*np));
		if (np) {
			s->pending = np;
			s->cap_pending = cap;
		}
	}
	if (s->npending < s->cap_pending) {
		p = &s->pending[s->npending];
		memset(p, 0, sizeof(*p));
		p->ok = dup_out(s, &p->ok_len);
	}
	if (!p || !p->ok) {
		int err = sps_store_in_batch(s->store) ? sps_store_commit(s->store) : 0;
		if (err)
			sps__server_respond(s, o, req, t, 500, "Database Error", NULL, 0);
		else
			send_bytes(s, t, d, code, s->out.buf, s->out.len);
		return;
	}
	p->code = code;
	p->dest = *d;
	p->t = t ? sps_tsx_ref(t) : NULL;
	/* the 500 to send instead if the commit fails (none when even that
	 * cannot be built: the phone then retransmits) */
	if (sps__server_build(s, req, 500, "Database Error", NULL, 0) == 0)
		p->fail = dup_out(s, &p->fail_len);
	s->npending++;
}

/* 401 with one challenge per configured algorithm, most preferred first
 * (RFC 7616 3.7, RFC 8760 2.4). */
static void challenge(struct sps_server *s, const struct sps_origin *o,
		      const struct sps_sip_msg *m, struct sps_tsx *t, bool stale, bool proxy)
{
	struct sps_mbuf mb[2];
	struct sps_sip_newhdr hs[2];
	int64_t now = now_s();
	int err = 0;
	for (unsigned i = 0; i < s->nalgs; i++) {
		sps_mbuf_init(&mb[i], 1024);
		err |= sps_digest_challenge(s->digest, &mb[i], (enum sps_digest_alg)s->algs[i],
					    s->conf->domain, stale, now);
		hs[i] = (struct sps_sip_newhdr){proxy ? "Proxy-Authenticate" : "WWW-Authenticate",
						sps_mbuf_slice(&mb[i])};
	}
	if (err)
		sps__server_respond(s, o, m, t, 500, NULL, NULL, 0);
	else
		sps__server_respond(s, o, m, t, proxy ? 407 : 401, NULL, hs, s->nalgs);
	for (unsigned i = 0; i < s->nalgs; i++)
		sps_mbuf_free(&mb[i]);
}

/* "SHA-256,MD5" -> s->algs. Returns 0 or EINVAL. */
static int parse_algs(struct sps_server *s, const char *list)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", list);
	s->nalgs = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		int a;
		if (strcasecmp(tok, "SHA-256") == 0 || strcasecmp(tok, "SHA256") == 0)
			a = SPS_DIGEST_SHA256;
		else if (strcasecmp(tok, "MD5") == 0)
			a = SPS_DIGEST_MD5;
		else
			return EINVAL;
		if (s->nalgs == 2 || (s->nalgs == 1 && s->algs[0] == a))
			return EINVAL;
		s->algs[s->nalgs++] = a;
	}
	return s->nalgs ? 0 : EINVAL;
}

/* A failed attempt from o's address: count it, log once when it becomes
 * blocked (never per packet, never the credentials). */
static void failed(struct sps_server *s, const struct sps_origin *o, const char *ip)
{
	if (sps_digest_fail(s->digest, ip, strlen(ip), now_s()))
		SPS_WARN("too many failed authentications from %s; refusing it for a while", ip);
}

int sps__server_authenticate(struct sps_server *s, const struct sps_origin *o,
			     const struct sps_sip_msg *m, struct sps_tsx *t, bool proxy,
			     char user[SPS_USER_NAME_MAX + 1])
{
	char ip[64];
	sps_sa_ip_str(&o->src, ip, sizeof(ip));
	const char *realm = s->conf->domain;
	if (sps_digest_blocked(s->digest, ip, strlen(ip), now_s())) {
		sps__server_respond(s, o, m, t, 403, "Too Many Failed Attempts", NULL, 0);
		return 1;
	}
	const struct sps_auth *cred = sps_digest_find_cred(m, proxy, realm);
	if (!cred) {
		challenge(s, o, m, t, false, proxy);
		return 1;
	}
	enum sps_digest_alg alg;
	bool offered = false;
	if (sps_digest_cred_alg(cred, &alg) == 0)
		for (unsigned i = 0; i < s->nalgs; i++)
			offered |= s->algs[i] == (int)alg; /* no downgrade to one we did not offer */
	if (!offered || sps_digest_cred_user(cred, user, SPS_USER_NAME_MAX + 1) != 0) {
		failed(s, o, ip);
		challenge(s, o, m, t, false, proxy);
		return 1;
	}
	/* An unknown user is checked against a throw-away hash so that the
	 * answer and its timing do not tell which names exist. */
	struct sps_user u;
	bool known = sps_store_user_get(s->store, user, &u) == 0;
	if (!known) {
		memset(&u, 0, sizeof(u));
		memset(u.ha1_md5, '0', SPS_HA1_MD5_HEX);
		memset(u.ha1_sha256, '0', SPS_HA1_SHA256_HEX);
	}
	const char *ha1 = alg == SPS_DIGEST_SHA256 ? u.ha1_sha256 : u.ha1_md5;
	enum sps_digest_result r = sps_digest_check(s->digest, cred, m->method, realm, ha1,
						    now_s());
	if (r == SPS_DIGEST_OK && !known)
		r = SPS_DIGEST_BAD;
	switch (r) {
	case SPS_DIGEST_OK:
		sps_digest_success(s->digest, ip, strlen(ip));
		return 0;
	case SPS_DIGEST_STALE:
		challenge(s, o, m, t, true, proxy); /* RFC 7616 3.3: right password, old nonce */
		return 1;
	case SPS_DIGEST_MALFORMED:
		failed(s, o, ip);
		challenge(s, o, m, t, false, proxy);
		return 1;
	default: /* BAD, REPLAY: one answer for wrong password and unknown user */
		failed(s, o, ip);
		sps__server_respond(s, o, m, t, 403, "Forbidden", NULL, 0);
		return 1;
	}
}

void sps__server_register(struct sps_server *s, const struct sps_origin *o,
			  const struct sps_sip_msg *m, struct sps_tsx *t)
{
	/* RFC 3261 10.3 step 1: only our own domain */
	if (!sps__server_is_us(s, m->ruri.host)) {
		sps__server_respond(s, o, m, t, 404, "Domain Not Served Here", NULL, 0);
		return;
	}
	char ip[64], src[80], local[80] = "";
	sps_sa_ip_str(&o->src, ip, sizeof(ip));
	sps_sa_to_str(&o->src, src, sizeof(src));
	if (o->conn)
		sps_sa_to_str(sps_conn_local(o->conn), local, sizeof(local));
	else
		sps_sa_to_str(sps_udp_local(s->udp), local, sizeof(local));

	char user[SPS_USER_NAME_MAX + 1];
	if (sps__server_authenticate(s, o, m, t, false, user))
		return;

	struct sps_reg_origin ro = {
		.transport = tp_str(o->tp),
		.source = src,
		.local = local,
		.conn_id = o->conn ? sps_conn_id(o->conn) : 0,
	};
	struct sps_reg_reply rep;
	int err = sps_registrar_register(s->reg, m, user, &ro, now_s(), s->arena, &rep);
	if (err)
		SPS_WARN("REGISTER of %s failed: %s", user, strerror(err));
	if (rep.flow_expires && o->conn) {
		/* requests for this user come back over this connection: keep it
		 * open while the binding lives (a little longer than the refresh) */
		sps_conn_set_idle(o->conn, rep.flow_expires + 60);
		sps_conn_set_udata(o->conn, s); /* marks "carries a registration" */
	}
	if (sps__server_build(s, m, rep.code, rep.reason, rep.hdrs, rep.nhdrs) != 0) {
		sps__server_respond(s, o, m, t, 500, NULL, NULL, 0);
		return;
	}
	struct sps_tsx_dest d = {.tp = o->tp, .addr = o->src,
				 .conn_id = o->conn ? sps_conn_id(o->conn) : 0};
	if (o->tp == SPS_TP_UDP && m->via && !m->via->rport)
		sps_sa_set_port(&d.addr, m->via->port ? m->via->port : 5060);
	if (rep.stored)
		defer(s, o, m, t, &d, rep.code);
	else
		send_bytes(s, t, &d, rep.code, s->out.buf, s->out.len);
}

void sps__server_conn_closed(struct sps_server *s, struct sps_conn *c)
{
	if (!s->reg || sps_conn_udata(c) != s)
		return; /* never carried a registration */
	int err = sps_registrar_flow_closed(s->reg, sps_conn_id(c));
	if (err)
		SPS_DEBUG("cannot mark the flow of connection %llu closed: %s",
			  (unsigned long long)sps_conn_id(c), strerror(err));
}

static void on_expire(void *arg)
{
	struct sps_server *s = arg;
	unsigned n = 0;
	if (sps_registrar_expire(s->reg, now_s(), &n) == 0 && n)
		SPS_DEBUG("%u registrations expired", n);
	sps_timer_start(s->loop, &s->expire_timer, 10000, on_expire, s);
}

int sps__server_register_init(struct sps_server *s, char *err, size_t errsize)
{
	const struct sps_server_conf *conf = s->conf;
	const char *why = NULL;
	int rc = sps_store_open(&s->store, conf->data, &why);
	if (rc) {
		snprintf(err, errsize, "cannot open the database in %s: %s", conf->data,
			 why ? why : strerror(rc));
		return rc;
	}
	/* users and bindings are read several times per call: from memory,
	 * exact also while the CLI changes users (store.h) */
	if ((rc = sps_store_cache(s->store, true))) {
		snprintf(err, errsize, "out of memory");
		return rc;
	}
	/* The realm of stored password hashes is the domain: tell when it moved. */
	char realm[256];
	if (sps_store_setting_get(s->store, "realm", realm, sizeof(realm)) == 0 &&
	    strcmp(realm, conf->domain) != 0)
		SPS_WARN("the domain changed from %s to %s: passwords set for %s no longer work; "
			 "set them again with 'sipsec user passwd NAME'",
			 realm, conf->domain, realm);
	uint8_t id[16];
	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		snprintf(err, errsize, "no randomness for the boot id");
		return EIO;
	}
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(s->boot_id + 2 * i, 3, "%02x", id[i]);
	if ((rc = sps_store_setting_set(s->store, "realm", conf->domain)) ||
	    (rc = sps_store_setting_set(s->store, "boot_id", s->boot_id))) {
		snprintf(err, errsize, "cannot write to the database in %s: %s", conf->data,
			 strerror(rc));
		return rc;
	}
	/* Nonces are HMACs under this secret: kept in the data dir so that a
	 * restart does not invalidate the nonces phones hold. */
	char path[SPS_PATH_MAX + 32];
	uint8_t secret[32];
	snprintf(path, sizeof(path), "%s/digest.key", conf->data);
	if ((rc = sps_file_secret(path, secret, sizeof(secret)))) {
		snprintf(err, errsize, "cannot read or create %s: %s%s", path, strerror(rc),
			 rc == EBADMSG ? " (delete it: a new one is made)" : "");
		return rc;
	}
	if (parse_algs(s, conf->digest_algorithms)) {
		snprintf(err, errsize,
			 "--digest-algorithms %s: give SHA-256, MD5 or both, comma-separated",
			 conf->digest_algorithms);
		return EINVAL;
	}
	struct sps_digest_conf dc = {.nonce_ttl = (uint32_t)conf->nonce_ttl};
	rc = sps_digest_new(&s->digest, secret, &dc);
	memset(secret, 0, sizeof(secret));
	if (rc) {
		snprintf(err, errsize, "out of memory");
		return rc;
	}
	struct sps_registrar_conf rc_conf = {
		.domain = conf->domain,
		.boot_id = s->boot_id,
		.min_expires = (uint32_t)conf->min_expires,
		.default_expires = (uint32_t)conf->default_expires,
		.max_expires = (uint32_t)conf->max_expires,
		.max_contacts = (unsigned)conf->max_contacts,
	};
	if ((rc = sps_registrar_new(&s->reg, s->store, &rc_conf))) {
		snprintf(err, errsize,
			 "cannot start the registrar: %s (need min-expires <= default-expires <= "
			 "max-expires)",
			 strerror(rc));
		return rc;
	}
	if ((rc = sps_loop_on_idle(s->loop, flush_pending, s))) {
		snprintf(err, errsize, "out of memory");
		return rc;
	}
	sps_timer_init(&s->expire_timer);
	on_expire(s);
	/* the loop's idle hook commits later batches; this one is ours, and
	 * must not hold the write lock until the first event arrives */
	if (sps_store_in_batch(s->store) && (rc = sps_store_commit(s->store))) {
		snprintf(err, errsize, "cannot write to the database in %s: %s", conf->data,
			 strerror(rc));
		return rc;
	}
	return 0;
}

void sps__server_register_fini(struct sps_server *s)
{
	if (s->loop)
		sps_loop_idle_remove(s->loop, flush_pending, s);
	if (s->store && (s->npending || sps_store_in_batch(s->store)))
		flush_pending(s);
	free(s->pending);
	s->pending = NULL;
	sps_timer_cancel(&s->expire_timer);
	sps_registrar_free(s->reg);
	sps_digest_free(s->digest);
	if (s->store)
		sps_store_close(s->store);
	s->reg = NULL;
	s->digest = NULL;
	s->store = NULL;
}
