/* server: setup and teardown of `sipsec serve`, and the transport callbacks
 * that feed received bytes to the SIP handler. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SPS_LOG_MODULE "server"
#include "admin/control.h"
#include "server/call_media.h"
#include "core/file.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/tls_ctx.h"
#include "pki/pki.h"
#include "provision/prov_server.h"
#include "server/calls.h"
#include "server/server_int.h"
#include "sip/frame.h"

static void on_udp(const struct sps_sa *src, const struct sps_sa *local, char *data, size_t len,
		   void *arg)
{
	struct sps_server *s = arg;
	struct sps_origin o = {.tp = SPS_TP_UDP, .src = *src};
	(void)local;
	/* RFC 5626 3.5.1 / common practice: a bare CRLF datagram is a keep-alive */
	if (len <= 4 && strspn(data, "\r\n") >= len)
		return;
	sps__server_handle(s, &o, data, len);
}

/* Stream input: cut messages with the framer, answer pings (RFC 5626 4.4.1). */
static int on_stream(struct sps_conn *c, const char *buf, size_t len, size_t *consumed, void *arg)
{
	struct sps_server *s = arg;
	struct sps_origin o = {.tp = sps_conn_transport(c), .src = *sps_conn_peer(c), .conn = c};
	size_t off = 0;

	/* what the messages of this read make us send goes out once per
	 * connection, at the end (conn.h): a 100 with its 407, a 180 with its
	 * 200, an ACK with its BYE */
	sps_conntab_cork(s->conns);
	while (off < len && sps_conn_state(c) == SPS_CONN_OPEN) {
		struct sps_frame f;
		const char *why = NULL;
		int err = sps_sip_frame(buf + off, len - off, &f, &why);
		if (err == ENODATA)
			break;
		if (err) {
			char peer[64];
			sps_sa_to_str(&o.src, peer, sizeof(peer));
			SPS_INFO("closing %s connection from %s: %s",
				 o.tp == SPS_TP_TLS ? "TLS" : "TCP", peer, why ? why : strerror(err));
			sps_conntab_uncork(s->conns); /* the answers before the bad frame */
			*consumed = len;
			return err;
		}
		if (f.kind == SPS_FRAME_PING)
			sps_conn_send(c, "\r\n", 2);
		else if (f.kind == SPS_FRAME_MSG)
			sps__server_handle(s, &o, buf + off, f.len);
		off += f.len;
	}
	sps_conntab_uncork(s->conns);
	*consumed = off;
	return 0;
}

int sps__server_send(const struct sps_tsx_dest *d, const char *buf, size_t len, void *arg)
{
	struct sps_server *s = arg;
	if (d->tp == SPS_TP_UDP)
		return sps_udp_send(s->udp, &d->addr, buf, len);
	/* RFC 3261 18.2.2: over the connection the request came on; when it
	 * has closed, the response is lost (a new connection to the sent-by
	 * address is what a phone behind NAT could not accept anyway) */
	struct sps_conn *c = sps_conntab_lookup(s->conns, d->conn_id);
	if (!c)
		return ENOTCONN;
	return sps_conn_send(c, buf, len);
}

static void on_close(struct sps_conn *c, int err, void *arg)
{
	sps__server_conn_closed(arg, c);
}

/* The control socket's "calls" command: {"calls": [...]} (README). */
static json_t *admin_calls(const json_t *req, const char **err, void *arg)
{
	struct sps_server *s = arg;
	sps__cmedia_report(s->media, s->calltab);
	json_t *arr = s->calltab ? sps__calls_json(s->calltab, (int64_t)time(NULL)) : json_array();
	json_t *o = arr ? json_object() : NULL;
	if (!o || json_object_set_new(o, "calls", arr)) {
		json_decref(o);
		*err = "out of memory";
		return NULL;
	}
	return o;
}

static void on_signal(int signo, void *arg)
{
	struct sps_server *s = arg;
	SPS_INFO("%s received, stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
	s->stop_signal = signo;
	sps_loop_stop(s->loop);
}

static void on_ticket_timer(void *arg)
{
	struct sps_server *s = arg;
	bool rotated = false;
	if (sps_tls_ctx_rotate_tickets(s->tls, time(NULL), &rotated) == 0 && rotated)
		SPS_INFO("TLS session ticket key rotated");
	sps_timer_start(s->loop, &s->ticket_timer, 60000, on_ticket_timer, s);
}

/* ---- certificates: hot reload, renewal, expiry warnings (issue 7) ---- */

#define CERT_POLL_MS 500 /* a new certificate is in use within a second */
/* expiry checks every 12 hours (and at start) */
#define CERT_EXPIRY_TICKS (12u * 3600u * 1000u / CERT_POLL_MS)

static void tls_conf_of(const struct sps_server *s, struct sps_tls_conf *tc)
{
	const struct sps_server_conf *conf = s->conf;
	*tc = (struct sps_tls_conf){
		.cert_file = s->pki.sip_cert,
		.key_file = s->pki.sip_key,
		.verify_client = conf->verify_client,
		.client_ca_file = conf->tls_client_ca[0] ? conf->tls_client_ca : s->pki.ca_cert,
		.datadir = conf->data,
		.ticket_rotate_secs = (unsigned)conf->ticket_rotate,
	};
}

/* Log which certificate is in use, and what the import checks say about it
 * (a pair placed by hand was not checked). */
static void cert_log(const struct sps_server *s, const char *what)
{
	struct sps_pki_bundle *b = NULL;
	struct sps_pki_certinfo ci;
	struct sps_pki_report rep;
	if (sps_pki_bundle_current(&s->pki, &b) != 0 || sps_pki_bundle_info(b, 0, &ci) != 0) {
		sps_pki_bundle_free(b);
		return;
	}
	SPS_INFO("%s the SIP/TLS certificate %s (issuer %s, sha256 %.23s..., %ld days left)", what,
		 ci.subject, ci.issuer, ci.sha256, ci.days_left);
	struct sps_pki_check_opts o = {.domain = s->conf->domain, .ca_file = s->pki.ca_cert,
				       .system_store = true, .allow_wildcard = true};
	if (sps_pki_check(b, &o, &rep) == 0)
		for (int i = 0; i < SPS_PKI_NCHECKS; i++)
			if (rep.r[i].verdict != SPS_PKI_PASS && i != SPS_PKI_CHECK_EXPIRY)
				SPS_WARN("certificate check %s: %s", sps_pki_check_name(i),
					 rep.r[i].text);
	sps_pki_bundle_free(b);
}

/* At start and every 12 hours: renew a SIP certificate of the built-in CA
 * 30 days before it expires; warn about an imported one and about the CA. */
static void cert_expiry_check(const struct sps_server *s)
{
	struct sps_pki_expiry e;
	if (sps_pki_expiry_read(s->conf->data, &e) != 0)
		return;
	if (e.ca_days_left < SPS_PKI_CA_WARN_DAYS)
		SPS_WARN("the built-in CA (%s) expires in %ld days; phones stop trusting sipsec "
			 "then: plan a new CA (move certs/ca.* and certs/sip.* away and restart) and "
			 "give phones the new one ('sipsec cert ca-export')",
			 s->pki.ca_cert, e.ca_days_left);
	if (e.sip_days_left >= SPS_PKI_RENEW_DAYS)
		return;
	if (!e.sip_from_builtin_ca) {
		SPS_WARN("the imported SIP certificate expires in %ld days; get a new one from its "
			 "CA and 'sipsec cert import' it",
			 e.sip_days_left);
		return;
	}
	int rc = sps_pki_renew(s->conf->data);
	if (rc)
		SPS_WARN("cannot renew the SIP certificate (%ld days left): %s; run 'sipsec cert "
			 "renew'",
			 e.sip_days_left, strerror(rc));
	else
		SPS_INFO("renewed the SIP certificate %ld days before it expired", e.sip_days_left);
}

/* A changed pair (import, renew, rollback, or files put there by hand): a
 * new context sharing the ticket keys (resumption keeps working) goes into
 * the TLS listeners; connections keep the context they were accepted with. */
static void cert_reload(struct sps_server *s, const struct sps_pki_stamp *st)
{
	struct sps_tls_conf tc;
	SSL_CTX *ctx = NULL;
	tls_conf_of(s, &tc);
	int rc = sps_tls_ctx_server_reload(s->tls, &tc, &ctx);
	if (rc) {
		/* Key and certificate are renamed into place one after the other:
		 * a pair that does not match may be half written. Complain when
		 * the same files fail again. */
		if (s->cert_bad_set && sps_pki_stamp_eq(st, &s->cert_bad)) {
			if (!s->cert_bad_logged)
				SPS_WARN("cannot load the changed certificate %s: %s; still serving "
					 "the previous one ('sipsec cert show' checks it)",
					 s->pki.sip_cert,
					 rc == EKEYREJECTED ? "the key does not match it" : strerror(rc));
			s->cert_bad_logged = true;
		} else {
			s->cert_bad = *st;
			s->cert_bad_set = true;
			s->cert_bad_logged = false;
		}
		return;
	}
	sps_conntab_swap_tls_ctx(s->conns, s->tls, ctx);
	sps_prov_server_swap_tls(s->prov, s->tls, ctx);
	SSL_CTX_free(s->tls);
	s->tls = ctx;
	s->cert_stamp = *st;
	s->cert_bad_set = false;
	cert_log(s, "reloaded");
}

static void on_cert_timer(void *arg)
{
	struct sps_server *s = arg;
	struct sps_pki_stamp st;
	if (++s->cert_ticks >= CERT_EXPIRY_TICKS) {
		s->cert_ticks = 0;
		cert_expiry_check(s); /* a renewal is picked up just below */
	}
	if (sps_pki_stamp_read(&s->pki, &st) == 0 && !sps_pki_stamp_eq(&st, &s->cert_stamp))
		cert_reload(s, &st);
	sps_timer_start(s->loop, &s->cert_timer, CERT_POLL_MS, on_cert_timer, s);
}

static int write_pidfile(const char *data)
{
	char path[SPS_PATH_MAX + 16], tmp[SPS_PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/sipsec.pid", data);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return errno;
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0)
		return errno;
	return rename(tmp, path) ? errno : 0;
}

static const char *tp_name(enum sps_transport tp)
{
	return tp == SPS_TP_UDP ? "UDP" : tp == SPS_TP_TCP ? "TCP" : "TLS";
}

static int listen_err(char *err, size_t errsize, enum sps_transport tp, const struct sps_sa *sa,
		      int e)
{
	char addr[64];
	sps_sa_to_str(sa, addr, sizeof(addr));
	if (e == EADDRINUSE)
		snprintf(err, errsize,
			 "cannot listen on %s %s: port %u is already in use; stop the other server "
			 "or choose another --%s",
			 tp_name(tp), addr, sps_sa_port(sa), tp == SPS_TP_TLS ? "tls-port" : "sip-port");
	else
		snprintf(err, errsize, "cannot listen on %s %s: %s", tp_name(tp), addr, strerror(e));
	return e;
}

/* Open files: each TCP/TLS connection and each media relay port is one. The
 * soft limit is often 1024 (a shell's or systemd's default) while the hard
 * one is far higher: raise the soft limit to what the configuration can use,
 * as far as the hard limit allows, and say so once when that is too low (the
 * listeners pause on EMFILE rather than fail). */
static void raise_fd_limit(const struct sps_server_conf *conf)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t want = (rlim_t)conf->max_connections +
		      (rlim_t)(conf->media_port_max - conf->media_port_min + 1) + 256;
	rlim_t target = rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max ? rl.rlim_max : want;
	if (target > rl.rlim_cur) {
		struct rlimit nl = {target, rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
			rl.rlim_cur = target;
	}
	if (rl.rlim_cur < want)
		SPS_WARN("the open-file limit is %llu, but %d connections (--max-connections) and %d "
			 "media ports need about %llu: raise it (ulimit -n, or LimitNOFILE= in the "
			 "systemd unit)",
			 (unsigned long long)rl.rlim_cur, conf->max_connections,
			 conf->media_port_max - conf->media_port_min + 1, (unsigned long long)want);
}

int sps_server_run(const struct sps_server_conf *conf, char *err, size_t errsize)
{
	struct sps_server s;
	struct sps_sa sa, bound;
	int rc;

	memset(&s, 0, sizeof(s));
	s.conf = conf;
	sps_mbuf_init(&s.out, SPS_SIP_MAX_MSG);
	sps_timer_init(&s.ticket_timer);
	sps_timer_init(&s.cert_timer);

	if (sps_sa_set_str(&s.local_ip, conf->listen, 0)) {
		snprintf(err, errsize, "--listen %s is not an IPv4 or IPv6 address", conf->listen);
		return EINVAL;
	}
	raise_fd_limit(conf);
	if ((rc = sps_file_mkdir_private(conf->data))) {
		snprintf(err, errsize, "cannot create data directory %s: %s", conf->data,
			 strerror(rc));
		return rc;
	}
	/* the built-in CA and the SIP certificate, on first start */
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	/* IP SANs: the listen address or, on the wildcard, the host's
	 * addresses (phones set up with the server's IP check it) and
	 * 127.0.0.1 (sps_pki_names) */
	enum { LOCAL_IPS = 32 };
	char local[LOCAL_IPS][SPS_SA_IPSTRLEN];
	const char *ips[1 + LOCAL_IPS] = {conf->listen};
	size_t nips = 1;
	if (sps_sa_is_any(&s.local_ip)) {
		bool more = false;
		size_t nl = sps_sa_local_ips(sps_sa_family(&s.local_ip), local, LOCAL_IPS, &more);
		for (size_t i = 0; i < nl; i++)
			ips[nips++] = local[i];
		if (more)
			SPS_WARN("this host has more than 32 addresses: a new SIP certificate names "
				 "the first 32 (--listen one address to name only that one)");
	}
	struct sps_pki_names names = {conf->domain, host, ips, nips};
	bool created = false;
	if ((rc = sps_pki_ensure(conf->data, &names, &created))) {
		snprintf(err, errsize, "cannot create the certificates in %s/certs: %s%s", conf->data,
			 strerror(rc),
			 rc == EINVAL ? " (is --domain a plain host name without '*'?)" : "");
		return rc;
	}
	sps_pki_paths(conf->data, &s.pki);
	if (created)
		SPS_INFO("created the CA and SIP certificate for %s in %s", conf->domain, s.pki.dir);
	cert_expiry_check(&s);

	struct sps_tls_conf tc;
	tls_conf_of(&s, &tc);
	/* the stamp first: a pair replaced while loading is loaded again */
	(void)sps_pki_stamp_read(&s.pki, &s.cert_stamp);
	if ((rc = sps_tls_ctx_server_new(&tc, &s.tls))) {
		snprintf(err, errsize, "cannot set up TLS with %s: %s%s", s.pki.sip_cert,
			 rc == EKEYREJECTED ? "the key does not match the certificate" : strerror(rc),
			 rc == EKEYREJECTED || rc == EBADMSG
				 ? "; 'sipsec cert rollback' restores the previous pair"
				 : "");
		goto out;
	}
	cert_log(&s, "using");
	/* RFC 5922 7.2: outgoing TLS verifies the server's certificate */
	if (conf->tls_ca_bundle[0])
		rc = sps_tls_ctx_client_trust(conf->tls_ca_bundle, false, &s.tls_client);
	else
		rc = sps_tls_ctx_client_trust(s.pki.ca_cert, true, &s.tls_client);
	if (rc) {
		snprintf(err, errsize, "cannot load the CA bundle %s: %s; give a PEM file of CA "
			 "certificates with --tls-ca-bundle",
			 conf->tls_ca_bundle[0] ? conf->tls_ca_bundle : s.pki.ca_cert,
			 rc == EBADMSG ? "no PEM certificate in it" : strerror(rc));
		goto out;
	}
	if ((rc = sps_loop_new(&s.loop)) || (rc = sps_arena_new(&s.arena, 0))) {
		snprintf(err, errsize, "out of memory");
		goto out;
	}
	struct sps_conntab_conf cc = {
		.max_conns = (unsigned)conf->max_connections,
		.max_per_ip = (unsigned)conf->max_connections_per_ip,
		.idle_ms = (uint64_t)conf->idle_timeout * 1000,
		.handshake_ms = (uint64_t)conf->tls_handshake_timeout * 1000,
		.hs_workers = conf->handshake_workers,
	};
	if ((rc = sps_tsx_layer_new(&s.tsx, s.loop, NULL, sps__server_send, &s))) {
		snprintf(err, errsize, "out of memory");
		goto out;
	}
	if ((rc = sps__server_register_init(&s, err, errsize)))
		goto out;
	struct sps_conn_handlers ch = {.recv_h = on_stream, .close_h = on_close, .arg = &s};
	if ((rc = sps_conntab_new(&s.conns, s.loop, &cc, &ch))) {
		snprintf(err, errsize, "cannot create the connection table: %s", strerror(rc));
		goto out;
	}

	/* UDP and TCP on the SIP port, TLS on the TLS port */
	sa = s.local_ip;
	sps_sa_set_port(&sa, (uint16_t)conf->sip_port);
	if ((rc = sps_udp_listen(&s.udp, s.loop, &sa, on_udp, &s))) {
		listen_err(err, errsize, SPS_TP_UDP, &sa, rc);
		goto out;
	}
	bound = *sps_udp_local(s.udp);
	char addr[64];
	sps_sa_to_str(&bound, addr, sizeof(addr));
	SPS_INFO("listening on UDP %s", addr);
	/* TCP on the same port as UDP (when 0 was asked, the one UDP got) */
	sa = bound;
	if ((rc = sps_conntab_listen(s.conns, &sa, SPS_TP_TCP, NULL, &bound))) {
		listen_err(err, errsize, SPS_TP_TCP, &sa, rc);
		goto out;
	}
	sps_sa_to_str(&bound, addr, sizeof(addr));
	SPS_INFO("listening on TCP %s", addr);
	sa = s.local_ip;
	sps_sa_set_port(&sa, (uint16_t)conf->tls_port);
	if ((rc = sps_conntab_listen(s.conns, &sa, SPS_TP_TLS, s.tls, &bound))) {
		listen_err(err, errsize, SPS_TP_TLS, &sa, rc);
		goto out;
	}
	sps_sa_to_str(&bound, addr, sizeof(addr));
	SPS_INFO("listening on TLS %s", addr);
	s.tls_port = sps_sa_port(&bound);
	/* the media relay (issue 6): ports (the option table checked min < max),
	 * threads, the idle timeout */
	struct sps_relay_conf rconf = {
		.addr = conf->listen,
		.port_min = (uint16_t)conf->media_port_min,
		.port_max = (uint16_t)conf->media_port_max,
		.workers = 1, /* the SIP loop and one media thread */
		.timeout_ms = (unsigned)conf->media_timeout * 1000u,
	};
	if ((rc = sps__cmedia_tab_new(&s.media, s.loop, &rconf, err, errsize)))
		goto out;
	sps__server_proxy_init(&s);
	/* the control socket for `sipsec calls` (another process) */
	if ((rc = sps_admin_open(&s.admin, s.loop, conf->data)) == 0)
		rc = sps_admin_register(s.admin, "calls", admin_calls, &s);
	if (rc)
		SPS_WARN("no control socket in %s: %s; 'sipsec calls' will not work%s", conf->data,
			 strerror(rc),
			 rc == ENAMETOOLONG ? " (choose a shorter --data path)" : "");
	rc = 0;

	/* HTTPS provisioning on the same loop, with the same TLS context */
	struct sps_prov_server_conf pc = {
		.data = conf->data,
		.domain = conf->domain,
		.https = s.local_ip,
		.http_port = conf->http_port,
		.tls = s.tls,
		.store = s.store,
		.sip_port = sps_sa_port(sps_udp_local(s.udp)),
		.tls_port = s.tls_port,
	};
	sps_sa_set_port(&pc.https, (uint16_t)conf->https_port);
	if ((rc = sps_prov_server_start(&s.prov, s.loop, &pc, err, errsize)))
		goto out;

	if ((rc = sps_loop_signals(s.loop, on_signal, &s))) {
		snprintf(err, errsize, "cannot handle signals: %s", strerror(rc));
		goto out;
	}
	sps_timer_start(s.loop, &s.ticket_timer, 60000, on_ticket_timer, &s);
	sps_timer_start(s.loop, &s.cert_timer, CERT_POLL_MS, on_cert_timer, &s);
	if ((rc = write_pidfile(conf->data))) {
		snprintf(err, errsize, "cannot write %s/sipsec.pid: %s", conf->data, strerror(rc));
		goto out;
	}
	SPS_INFO("ready: domain %s, data %s", conf->domain, conf->data);
	rc = sps_loop_run(s.loop);
	if (rc)
		snprintf(err, errsize, "event loop failed: %s", strerror(rc));
	char pid[SPS_PATH_MAX + 16];
	snprintf(pid, sizeof(pid), "%s/sipsec.pid", conf->data);
	unlink(pid);
	SPS_INFO("stopped");
out:
	sps_timer_cancel(&s.ticket_timer);
	sps_timer_cancel(&s.cert_timer);
	sps_admin_close(s.admin);
	sps_prov_server_free(s.prov); /* before the store it borrows */
	/* open transactions are dropped: their peers retransmit elsewhere */
	sps_tsx_layer_free(s.tsx);
	if (s.loop)
		sps__server_proxy_fini(&s);
	sps__cmedia_tab_free(s.media); /* after the calls that hold its sessions */
	s.media = NULL;
	if (s.conns)
		sps_conntab_free(s.conns);
	/* after the connections: their flows are marked closed in the last commit */
	sps__server_register_fini(&s);
	if (s.udp)
		sps_mem_deref(s.udp);
	if (s.tls)
		SSL_CTX_free(s.tls);
	SSL_CTX_free(s.tls_client);
	sps_arena_free(s.arena);
	sps_arena_free(s.spare_arena);
	if (s.loop)
		sps_loop_free(s.loop);
	sps_mbuf_free(&s.out);
	return rc;
}
