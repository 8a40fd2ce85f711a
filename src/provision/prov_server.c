/* provision/prov_server: the HTTPS provisioning server (prov_server.h).
 *
 * Requests are answered in order on each connection (HTTP/1.1 persistent
 * connections, RFC 9112 9.3). A response that ends the connection (an error
 * that leaves the framing in doubt, "Connection: close", HTTP/1.0) marks the
 * connection as finished: later input is dropped and the connection is
 * closed one second later, which leaves the response time to be written out
 * (sps_conn_close would discard queued output) while the client, told
 * "Connection: close", normally closes first.
 *
 * Limits: SPS_HTTP_HEAD_MAX bytes per request head, no request bodies,
 * max_conns connections (max_per_ip from one address), 30 s idle, 10 s for
 * the TLS handshake; the digest failure limiter blocks an address after 10
 * failed attempts in a minute for 5 minutes (429). */
#define SPS_LOG_MODULE "prov"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/digest.h"
#include "core/file.h"
#include "core/log.h"
#include "core/mbuf.h"
#include "net/conn.h"
#include "provision/http.h"
#include "provision/prov_server.h"
#include "provision/prov_store.h"

#define PROV_PREFIX "/prov/"
#define RESP_MAX (SPS_PROV_FILE_MAX + 4096)
#define IDLE_MS 30000
/* connection flag kept in the conn's udata: no more requests are read */
static char finished_mark;

struct sps_prov_server {
	struct sps_conntab *conns;
	struct sps_store *store;
	struct sps_digest *digest;
	struct sps_prov_env env;
	char realm[256];
	uint16_t https_port;
	struct sps_mbuf resp; /* one response at a time (loop thread) */
};

/* ---- responses ---- */

static const char *reason_of(unsigned code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

static const char *content_type(const char *name, const char *body)
{
	size_t n = strlen(name);
	if (n > 4 && strcmp(name + n - 4, ".pem") == 0)
		return "application/x-pem-file";
	if (strncmp(body, "<?xml", 5) == 0)
		return "application/xml";
	return "text/plain; charset=utf-8";
}

/* Send status line, headers (extra: whole header lines, CRLF-terminated, or
 * NULL), and body (omitted for HEAD, RFC 9110 9.3.2). */
static void respond(struct sps_prov_server *ps, struct sps_conn *c, unsigned code,
		    const char *extra, const char *ctype, const char *body, size_t blen, bool head,
		    bool close)
{
	struct sps_mbuf *mb = &ps->resp;
	sps_mbuf_reset(mb);
	sps_mbuf_printf(mb,
			"HTTP/1.1 %u %s\r\n"
			"Server: sipsec\r\n"
			"Content-Type: %s\r\n"
			"Content-Length: %zu\r\n"
			"Cache-Control: no-store\r\n"
			"X-Content-Type-Options: nosniff\r\n"
			"%s%s\r\n",
			code, reason_of(code), ctype, blen, extra ? extra : "",
			close ? "Connection: close\r\n" : "");
	if (!head)
		sps_mbuf_write(mb, body, blen);
	if (sps_mbuf_err(mb)) {
		SPS_ERROR("response too large (%zu bytes)", blen);
		sps_conn_close(c);
		return;
	}
	sps_conn_send(c, mb->buf, mb->len);
	OPENSSL_cleanse(mb->buf, mb->len); /* may have held a config with passwords */
	if (close) {
		sps_conn_set_udata(c, &finished_mark);
		sps_conn_set_idle(c, 1);
	}
}

static void respond_text(struct sps_prov_server *ps, struct sps_conn *c, unsigned code,
			 const char *extra, const char *text, bool head, bool close)
{
	respond(ps, c, code, extra, "text/plain; charset=utf-8", text, strlen(text), head, close);
}

/* ---- logging without trusting the input ---- */

/* Copy at most size-1 printable characters of s (others become '?'). */
static void printable(struct sps_slice s, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < s.l && o + 1 < size; i++) {
		unsigned char ch = (unsigned char)s.p[i];
		out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[o] = '\0';
}

static void peer_str(struct sps_conn *c, char *buf, size_t size)
{
	sps_sa_to_str(sps_conn_peer(c), buf, size);
}

/* Every failed attempt: who, from where, what, why. Never a password or a
 * digest response. */
static void log_fail(struct sps_prov_server *ps, struct sps_conn *c, const struct sps_http_req *r,
		     const char *user, const char *why)
{
	char peer[64], path[128];
	uint8_t ip[16];
	peer_str(c, peer, sizeof(peer));
	printable(r->path, path, sizeof(path));
	SPS_WARN("provisioning: %s from %s for %s (user '%s')", why, peer, path,
		 user && *user ? user : "-");
	sps_sa_ip16(sps_conn_peer(c), ip);
	if (sps_digest_fail(ps->digest, ip, sizeof(ip), (int64_t)time(NULL)))
		SPS_WARN("provisioning: %s blocked for 5 minutes after repeated failures", peer);
}

/* ---- authentication ---- */

/* The 401 challenge: Digest SHA-256 and MD5 (RFC 7616 3.7: most preferred
 * first), then Basic (RFC 7617) for phones without digest; all over TLS. */
static void challenge(struct sps_prov_server *ps, struct sps_conn *c, bool head, bool stale)
{
	struct sps_mbuf h;
	sps_mbuf_init(&h, 4096);
	int64_t now = (int64_t)time(NULL);
	static const enum sps_digest_alg algs[] = {SPS_DIGEST_SHA256, SPS_DIGEST_MD5};
	for (size_t i = 0; i < 2; i++) {
		sps_mbuf_puts(&h, "WWW-Authenticate: ");
		sps_digest_challenge(ps->digest, &h, algs[i], ps->realm, stale, now);
		sps_mbuf_puts(&h, "\r\n");
	}
	sps_mbuf_printf(&h, "WWW-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\"\r\n",
			ps->realm);
	if (sps_mbuf_err(&h)) {
		respond_text(ps, c, 500, NULL, "cannot build the challenge\n", head, true);
	} else {
		respond_text(ps, c, 401, h.buf, "authentication required\n", head, false);
	}
	sps_mbuf_free(&h);
}

enum auth_result { AUTH_OK, AUTH_NONE, AUTH_FAIL, AUTH_STALE, AUTH_MALFORMED };

/* Check the request's credentials; on AUTH_OK *dev is the device. */
static enum auth_result authenticate(struct sps_prov_server *ps, const struct sps_http_req *r,
				     struct sps_device *dev, char *user, size_t usize)
{
	struct sps_http_cred cred;
	user[0] = '\0';
	if (!sps_slice_isset(r->authorization))
		return AUTH_NONE;
	int err = sps_http_cred_parse(r->authorization, &cred);
	if (err == ENOTSUP)
		return AUTH_NONE; /* a scheme we do not offer: challenge again */
	if (err)
		return AUTH_MALFORMED;

	if (cred.basic) {
		char pw[SPS_DEVICE_PW_MAX + 64];
		err = sps_http_basic_decode(cred.token68, user, usize, pw, sizeof(pw));
		if (err) {
			OPENSSL_cleanse(pw, sizeof(pw));
			return err == ENOSPC ? AUTH_FAIL : AUTH_MALFORMED;
		}
		enum auth_result res = AUTH_FAIL;
		if (sps_store_device_by_prov_user(ps->store, user, dev) == 0) {
			size_t a = strlen(pw), b = strlen(dev->prov_password);
			if (a == b && CRYPTO_memcmp(pw, dev->prov_password, a) == 0)
				res = AUTH_OK;
		}
		OPENSSL_cleanse(pw, sizeof(pw));
		return res;
	}

	/* Digest (RFC 7616 3.4): the HA1 is derived from the stored password */
	enum sps_digest_alg alg;
	if (sps_digest_cred_user(&cred.digest, user, usize))
		return AUTH_MALFORMED;
	if (sps_digest_cred_alg(&cred.digest, &alg))
		return AUTH_MALFORMED;
	/* RFC 7616 3.4: the uri parameter is the request-target */
	if (!cred.digest.uri.p || !sps_slice_eq(cred.digest.uri, r->target))
		return AUTH_MALFORMED;
	char ha1[SPS_HA1_SHA256_HEX + 1];
	bool known = sps_store_device_by_prov_user(ps->store, user, dev) == 0 &&
		     sps_digest_ha1(alg, dev->prov_user, ps->realm, dev->prov_password, ha1,
				    sizeof(ha1)) == 0;
	enum sps_digest_result dr = sps_digest_check(ps->digest, &cred.digest, r->method,
						     ps->realm, known ? ha1 : NULL,
						     (int64_t)time(NULL));
	OPENSSL_cleanse(ha1, sizeof(ha1));
	switch (dr) {
	case SPS_DIGEST_OK: return AUTH_OK;
	case SPS_DIGEST_STALE: return AUTH_STALE;
	case SPS_DIGEST_MALFORMED: return AUTH_MALFORMED;
	default: return AUTH_FAIL;
	}
}

/* The MAC a device file name carries: "<mac>..." or "cfg<mac>...". */
static bool name_mac(const char *name, char mac[13])
{
	const char *p = strncmp(name, "cfg", 3) == 0 ? name + 3 : name;
	for (int i = 0; i < 12; i++) {
		char ch = p[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
			return false;
		mac[i] = (char)(ch >= 'A' && ch <= 'F' ? ch + 32 : ch);
	}
	mac[12] = '\0';
	return true;
}

/* Does the stored device mac have a file called name? */
static bool device_has(struct sps_prov_server *ps, const char *mac, const char *name)
{
	struct sps_device d;
	struct sps_prov_files files;
	bool has = false;
	if (sps_store_device_get(ps->store, mac, &d) != 0)
		return false;
	if (sps_prov_device_files(ps->store, &d, &ps->env, &files, NULL) == 0) {
		has = sps_prov_files_find(&files, name) != NULL;
		sps_prov_files_free(&files);
	}
	OPENSSL_cleanse(&d, sizeof(d));
	return has;
}

/* ---- one request ---- */

static void serve_file(struct sps_prov_server *ps, struct sps_conn *c, const struct sps_prov_file *f,
		       bool head, bool close)
{
	respond(ps, c, 200, NULL, content_type(f->name, f->body.buf ? f->body.buf : ""),
		f->body.buf ? f->body.buf : "", f->body.len, head, close);
}

static void handle(struct sps_prov_server *ps, struct sps_conn *c, const struct sps_http_req *r)
{
	bool head = sps_slice_eq(r->method, SPS_SLICE_LIT("HEAD"));
	bool close = !r->keep_alive;
	char name[SPS_PROV_NAME_MAX], user[128], peer[64];

	if (!sps_slice_eq(r->method, SPS_SLICE_LIT("GET")) &&
	    !sps_slice_eq(r->method, SPS_SLICE_LIT("HEAD"))) {
		respond_text(ps, c, 405, "Allow: GET, HEAD\r\n", "only GET and HEAD\n", false,
			     close || r->has_body);
		return;
	}
	if (r->has_body) {
		respond_text(ps, c, 413, NULL, "no request body allowed\n", head, true);
		return;
	}
	size_t pl = sizeof(PROV_PREFIX) - 1;
	if (r->path.l <= pl || memcmp(r->path.p, PROV_PREFIX, pl) != 0 ||
	    !sps_prov_name_ok(r->path.p + pl, r->path.l - pl)) {
		respond_text(ps, c, 404, NULL, "not found\n", head, close);
		return;
	}
	memcpy(name, r->path.p + pl, r->path.l - pl);
	name[r->path.l - pl] = '\0';

	/* public files: re-read the CA, which `cert renew` may have replaced */
	struct sps_prov_files files;
	if (sps_prov_env_read_ca(&ps->env) != 0)
		SPS_WARN("provisioning: cannot read the CA certificate %s", ps->env.ca_path);
	if (sps_prov_env_public_files(&ps->env, &files) == 0) {
		const struct sps_prov_file *f = sps_prov_files_find(&files, name);
		if (f) {
			serve_file(ps, c, f, head, close);
			sps_prov_files_free(&files);
			return;
		}
		sps_prov_files_free(&files);
	}
	if (sps_conn_transport(c) != SPS_TP_TLS) {
		/* Configs hold SIP passwords: never over plain HTTP. 404, not 403:
		 * a Polycom phone that finds no <mac>.cfg falls back to
		 * 000000000000.cfg, the bootstrap that moves it to HTTPS. */
		char path[128];
		peer_str(c, peer, sizeof(peer));
		printable(r->path, path, sizeof(path));
		SPS_INFO("provisioning: %s asked for %s over plain HTTP: not served (HTTPS only)",
			 peer, path);
		respond_text(ps, c, 404, NULL, "not found (device files are served over HTTPS only)\n",
			     head, close);
		return;
	}

	uint8_t ip[16];
	int64_t now = (int64_t)time(NULL);
	sps_sa_ip16(sps_conn_peer(c), ip);
	if (sps_digest_blocked(ps->digest, ip, sizeof(ip), now)) {
		peer_str(c, peer, sizeof(peer));
		SPS_WARN("provisioning: refused %s: blocked after repeated failures", peer);
		respond_text(ps, c, 429, "Retry-After: 300\r\n", "too many failed attempts\n", head,
			     true);
		return;
	}
	struct sps_device dev;
	enum auth_result ar = authenticate(ps, r, &dev, user, sizeof(user));
	char safe_user[64];
	printable(sps_slice_cstr(user), safe_user, sizeof(safe_user));
	switch (ar) {
	case AUTH_NONE:
		challenge(ps, c, head, false);
		return;
	case AUTH_STALE:
		challenge(ps, c, head, true);
		return;
	case AUTH_MALFORMED:
		log_fail(ps, c, r, safe_user, "malformed credentials");
		respond_text(ps, c, 400, NULL, "malformed Authorization\n", head, true);
		return;
	case AUTH_FAIL:
		log_fail(ps, c, r, safe_user, "failed authentication");
		challenge(ps, c, head, false);
		return;
	case AUTH_OK:
		break;
	}
	sps_digest_success(ps->digest, ip, sizeof(ip));

	char mac[13];
	if (name_mac(name, mac) && strcmp(mac, dev.mac) != 0) {
		bool theirs = device_has(ps, mac, name);
		if (theirs) {
			log_fail(ps, c, r, safe_user, "another device's file asked for");
			respond_text(ps, c, 403, NULL, "this file belongs to another device\n", head,
				     close);
		} else {
			respond_text(ps, c, 404, NULL, "not found\n", head, close);
		}
		OPENSSL_cleanse(&dev, sizeof(dev));
		return;
	}
	unsigned stale = 0;
	int err = sps_prov_device_files(ps->store, &dev, &ps->env, &files, &stale);
	if (err) {
		peer_str(c, peer, sizeof(peer));
		if (err == ENOTSUP)
			respond_text(ps, c, 404, NULL, "not found\n", head, close);
		else {
			SPS_ERROR("provisioning: cannot make the files of %s: %s", dev.mac,
				  strerror(err));
			respond_text(ps, c, 500, NULL, "cannot make the configuration\n", head,
				     close);
		}
		OPENSSL_cleanse(&dev, sizeof(dev));
		return;
	}
	const struct sps_prov_file *f = sps_prov_files_find(&files, name);
	if (f) {
		peer_str(c, peer, sizeof(peer));
		SPS_INFO("provisioning: %s fetched %s from %s", dev.mac, name, peer);
		if (stale)
			SPS_WARN("provisioning: %s: %u line(s) carry a SIP password that no longer "
				 "matches the user's (changed with 'user passwd'?); add the device "
				 "again",
				 dev.mac, stale);
		serve_file(ps, c, f, head, close);
	} else {
		respond_text(ps, c, 404, NULL, "not found\n", head, close);
	}
	sps_prov_files_free(&files);
	OPENSSL_cleanse(&dev, sizeof(dev));
}

/* ---- connection callbacks ---- */

static int on_recv(struct sps_conn *c, const char *buf, size_t len, size_t *consumed, void *arg)
{
	struct sps_prov_server *ps = arg;
	size_t off = 0;
	while (off < len && sps_conn_state(c) == SPS_CONN_OPEN) {
		if (sps_conn_udata(c) == &finished_mark) {
			off = len; /* after a closing response nothing more is read */
			break;
		}
		struct sps_http_req r;
		const char *why = NULL;
		int err = sps_http_parse(buf + off, len - off, &r, &why);
		if (err == ENODATA)
			break;
		if (err) {
			char peer[64];
			peer_str(c, peer, sizeof(peer));
			SPS_INFO("provisioning: bad request from %s: %s", peer, why ? why : "");
			unsigned code = err == EPROTONOSUPPORT ? 505
					: err == EMSGSIZE   ? (why && strstr(why, "target") ? 414 : 431)
							    : 400;
			respond_text(ps, c, code, NULL, "bad request\n", false, true);
			off = len;
			break;
		}
		handle(ps, c, &r);
		off += r.len;
	}
	*consumed = off;
	return 0;
}

int sps_prov_server_start(struct sps_prov_server **out, struct sps_loop *loop,
			  const struct sps_prov_server_conf *conf, char *err, size_t errsize)
{
	struct sps_prov_server *ps = calloc(1, sizeof(*ps));
	char path[1100], addr[64];
	uint8_t secret[32];
	int rc;
	if (!ps) {
		snprintf(err, errsize, "out of memory");
		return ENOMEM;
	}
	ps->store = conf->store;
	sps_mbuf_init(&ps->resp, RESP_MAX);
	snprintf(ps->realm, sizeof(ps->realm), "%s", conf->domain);

	/* its own nonce secret and failure limiter, apart from SIP's */
	snprintf(path, sizeof(path), "%s/prov-digest.key", conf->data);
	if ((rc = sps_file_secret(path, secret, sizeof(secret)))) {
		snprintf(err, errsize, "cannot read or create %s: %s", path, strerror(rc));
		goto fail;
	}
	rc = sps_digest_new(&ps->digest, secret, NULL);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc) {
		snprintf(err, errsize, "cannot set up digest authentication: %s", strerror(rc));
		goto fail;
	}

	struct sps_conntab_conf cc = {
		.max_conns = conf->max_conns ? conf->max_conns : 256,
		.max_per_ip = conf->max_per_ip ? conf->max_per_ip : 16,
		.idle_ms = IDLE_MS,
		.handshake_ms = 10000,
		.out_max = RESP_MAX,
		.hs_workers = -1, /* few handshakes: on the loop, no threads */
	};
	struct sps_conn_handlers h = {.recv_h = on_recv, .arg = ps};
	if ((rc = sps_conntab_new(&ps->conns, loop, &cc, &h))) {
		snprintf(err, errsize, "cannot create the HTTPS connection table: %s", strerror(rc));
		goto fail;
	}
	struct sps_sa bound;
	if ((rc = sps_conntab_listen(ps->conns, &conf->https, SPS_TP_TLS, conf->tls, &bound))) {
		sps_sa_to_str(&conf->https, addr, sizeof(addr));
		if (rc == EADDRINUSE)
			snprintf(err, errsize,
				 "cannot listen on HTTPS %s: port %u is already in use; stop the "
				 "other server or choose another --https-port",
				 addr, sps_sa_port(&conf->https));
		else
			snprintf(err, errsize, "cannot listen on HTTPS %s: %s", addr, strerror(rc));
		goto fail;
	}
	ps->https_port = sps_sa_port(&bound);
	sps_sa_to_str(&bound, addr, sizeof(addr));
	SPS_INFO("listening on HTTPS %s (provisioning)", addr);
	if (conf->http_port >= 0) {
		struct sps_sa sa = conf->https;
		sps_sa_set_port(&sa, (uint16_t)conf->http_port);
		if ((rc = sps_conntab_listen(ps->conns, &sa, SPS_TP_TCP, NULL, &bound))) {
			sps_sa_to_str(&sa, addr, sizeof(addr));
			snprintf(err, errsize,
				 "cannot listen on HTTP %s: %s; choose another --http-port", addr,
				 rc == EADDRINUSE ? "the port is already in use" : strerror(rc));
			goto fail;
		}
		sps_sa_to_str(&bound, addr, sizeof(addr));
		SPS_WARN("plain HTTP provisioning is on at %s: it serves only the CA and the "
			 "bootstrap file (no secrets); turn it off once the phones trust the CA",
			 addr);
	}

	/* the model of the configs, and the ports for `device config` */
	rc = sps_prov_env_load(&ps->env, conf->store, conf->data, conf->domain);
	snprintf(ps->env.domain, sizeof(ps->env.domain), "%s", conf->domain);
	ps->env.sip_port = conf->sip_port;
	ps->env.tls_port = conf->tls_port;
	ps->env.https_port = ps->https_port;
	if (rc)
		SPS_WARN("provisioning: cannot read the CA %s: %s", ps->env.ca_path, strerror(rc));
	char v[16];
	snprintf(v, sizeof(v), "%u", (unsigned)conf->sip_port);
	rc = sps_store_setting_set(conf->store, SPS_PROV_SETTING_SIP_PORT, v);
	snprintf(v, sizeof(v), "%u", (unsigned)conf->tls_port);
	if (!rc)
		rc = sps_store_setting_set(conf->store, SPS_PROV_SETTING_TLS_PORT, v);
	snprintf(v, sizeof(v), "%u", (unsigned)ps->https_port);
	if (!rc)
		rc = sps_store_setting_set(conf->store, SPS_PROV_SETTING_HTTPS_PORT, v);
	if (rc)
		SPS_WARN("provisioning: cannot record the ports in the store: %s", strerror(rc));
	*out = ps;
	return 0;
fail:
	sps_prov_server_free(ps);
	return rc;
}

void sps_prov_server_free(struct sps_prov_server *ps)
{
	if (!ps)
		return;
	if (ps->conns)
		sps_conntab_free(ps->conns);
	sps_digest_free(ps->digest);
	sps_prov_env_free(&ps->env);
	sps_mbuf_free(&ps->resp);
	free(ps);
}

uint16_t sps_prov_server_https_port(const struct sps_prov_server *ps)
{
	return ps ? ps->https_port : 0;
}

void sps_prov_server_swap_tls(struct sps_prov_server *ps, SSL_CTX *old, SSL_CTX *ctx)
{
	if (ps && ps->conns)
		sps_conntab_swap_tls_ctx(ps->conns, old, ctx);
}
