/* Unit tests for the proxy's pure parts: loop detection (RFC 3261 16.3
 * item 4, 16.6 item 8), the best-response ranking (16.7 item 6), the calls
 * table behind `sipsec calls`, and the admin control socket (a real Unix
 * socket on a real loop, the client in a thread). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin/control.h"
#include "core/arena.h"
#include "core/loop.h"
#include "server/calls.h"
#include "server/proxy_int.h"
#include "sip/msg.h"
#include "test.h"

/* Parse text (with \n line ends turned into CRLF) into *m; buf and arena
 * are the caller's to free. */
static int parse(const char *text, char **buf, struct sps_arena **a, struct sps_sip_msg **m)
{
	size_t n = strlen(text);
	char *b = malloc(2 * n + 1);
	size_t l = 0;
	for (size_t i = 0; i < n; i++) {
		if (text[i] == '\n')
			b[l++] = '\r';
		b[l++] = text[i];
	}
	const char *why;
	*buf = b;
	if (sps_arena_new(a, 0))
		return ENOMEM;
	return sps_sip_msg_parse(b, l, *a, m, &why);
}

#define INV(ruri, via2)                                                                 \
	"INVITE " ruri " SIP/2.0\n"                                                     \
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKtop\n" via2                       \
	"Max-Forwards: 69\n"                                                            \
	"From: <sip:carol@other.example>;tag=f1\n"                                      \
	"To: <sip:bob@sip.test>\n"                                                      \
	"Call-ID: loop-1\n"                                                             \
	"CSeq: 7 INVITE\n"                                                              \
	"Content-Length: 0\n\n"

static bool ours(const struct sps_via *v, void *arg)
{
	(void)arg;
	return sps_slice_eq_cstr_ci(v->host, "192.0.2.1") && v->port == 5060;
}

int test_proxy_loop_detect(void)
{
	char *b1, *b2, *b3, *b4;
	struct sps_arena *a1, *a2, *a3, *a4;
	struct sps_sip_msg *m1, *m2, *m3, *m4;
	char h1[17], h2[17], via[256], text[1024];

	/* first visit: no Via of ours */
	ASSERT_INT_EQ(parse(INV("sip:bob@sip.test", ""), &b1, &a1, &m1), 0);
	ASSERT_INT_EQ(sps__proxy_loop_check(m1, ours, NULL), SPS_LOOP_NONE);
	sps__proxy_loop_hash(m1, h1);
	ASSERT_INT_EQ(strlen(h1), 16);

	/* it comes back with our Via and the same routing fields: a loop */
	snprintf(via, sizeof(via), "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc.%s\n", h1);
	snprintf(text, sizeof(text), INV("sip:bob@sip.test", "%s"), via);
	ASSERT_INT_EQ(parse(text, &b2, &a2, &m2), 0);
	ASSERT_INT_EQ(sps__proxy_loop_check(m2, ours, NULL), SPS_LOOP_LOOP);
	sps__proxy_loop_hash(m2, h2);
	ASSERT_STR_EQ(h2, h1); /* Via is not part of the hash */

	/* the Request-URI was retargeted since: a spiral, not a loop */
	snprintf(text, sizeof(text), INV("sip:bob@192.0.2.7:5070", "%s"), via);
	ASSERT_INT_EQ(parse(text, &b3, &a3, &m3), 0);
	ASSERT_INT_EQ(sps__proxy_loop_check(m3, ours, NULL), SPS_LOOP_SPIRAL);
	sps__proxy_loop_hash(m3, h2);
	ASSERT(strcmp(h1, h2) != 0);

	/* the same Via sent-by but not ours (another port): ignored */
	snprintf(via, sizeof(via), "Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKabc.%s\n", h1);
	snprintf(text, sizeof(text), INV("sip:bob@sip.test", "%s"), via);
	ASSERT_INT_EQ(parse(text, &b4, &a4, &m4), 0);
	ASSERT_INT_EQ(sps__proxy_loop_check(m4, ours, NULL), SPS_LOOP_NONE);

	free(b1), free(b2), free(b3), free(b4);
	sps_arena_free(a1), sps_arena_free(a2), sps_arena_free(a3), sps_arena_free(a4);
	return 0;
}

int test_proxy_rank(void)
{
	/* RFC 3261 16.7 item 6 */
	ASSERT(sps__proxy_rank(603) < sps__proxy_rank(302)); /* 6xx beats all */
	ASSERT(sps__proxy_rank(600) < sps__proxy_rank(486));
	ASSERT(sps__proxy_rank(302) < sps__proxy_rank(404));
	ASSERT(sps__proxy_rank(404) < sps__proxy_rank(500));
	ASSERT(sps__proxy_rank(407) < sps__proxy_rank(404)); /* retryable 4xx first */
	ASSERT(sps__proxy_rank(401) < sps__proxy_rank(486));
	ASSERT(sps__proxy_rank(484) < sps__proxy_rank(480));
	ASSERT_INT_EQ(sps__proxy_rank(503), sps__proxy_rank(500));
	ASSERT(sps__proxy_rank(486) < sps__proxy_rank(487));
	return 0;
}

/* The checks on one pair of MACs (freed by the caller, also on failure). */
static int route_token_checks(struct sps__proxy_mac *key, struct sps__proxy_mac *other,
			      const unsigned char *raw_key)
{
	char tok[64], flow[32];
	struct sps_slice cid = SPS_SLICE_LIT("a84b4c76e66710@pc33.example.com");
	ASSERT_INT_EQ(sps__proxy_token_make(key, "c42", cid, tok, sizeof(tok)), 0);
	ASSERT_INT_EQ(strlen(tok), 3 + 1 + 16);
	/* the MAC is HMAC-SHA256(key, "c42|" Call-ID), its first 8 bytes in hex */
	unsigned char md[32];
	unsigned mdlen = 0;
	char in[128], want[64];
	int inl = snprintf(in, sizeof(in), "c42|%.*s", SPS_SLICE_FMT(cid));
	ASSERT(HMAC(EVP_sha256(), raw_key, SPS_ROUTE_KEY_LEN, (const unsigned char *)in,
		    (size_t)inl, md, &mdlen) != NULL);
	snprintf(want, sizeof(want), "c42.%02x%02x%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2],
		 md[3], md[4], md[5], md[6], md[7]);
	ASSERT_STR_EQ(tok, want);
	ASSERT_INT_EQ(sps__proxy_token_check(key, sps_slice_cstr(tok), cid, flow, sizeof(flow)), 0);
	ASSERT_STR_EQ(flow, "c42");
	/* the context is reused: the same token again */
	ASSERT_INT_EQ(sps__proxy_token_make(key, "c42", cid, tok, sizeof(tok)), 0);
	ASSERT_STR_EQ(tok, want);
	ASSERT_INT_EQ(sps__proxy_token_make(key, "u", cid, tok, sizeof(tok)), 0);
	ASSERT_INT_EQ(sps__proxy_token_check(key, sps_slice_cstr(tok), cid, flow, sizeof(flow)), 0);
	ASSERT_STR_EQ(flow, "u");
	/* another dialog, another key, a changed flow, plain or short tokens: refused */
	ASSERT_INT_EQ(sps__proxy_token_check(key, sps_slice_cstr(tok), SPS_SLICE_LIT("x"), flow,
					     sizeof(flow)),
		      EBADMSG);
	ASSERT_INT_EQ(sps__proxy_token_check(other, sps_slice_cstr(tok), cid, flow, sizeof(flow)),
		      EBADMSG);
	tok[0] = 'c';
	ASSERT_INT_EQ(sps__proxy_token_check(key, sps_slice_cstr(tok), cid, flow, sizeof(flow)),
		      EBADMSG);
	ASSERT_INT_EQ(sps__proxy_token_check(key, SPS_SLICE_LIT("c42"), cid, flow, sizeof(flow)),
		      EBADMSG);
	ASSERT_INT_EQ(sps__proxy_token_check(key, SPS_SLICE_LIT(""), cid, flow, sizeof(flow)),
		      EBADMSG);
	ASSERT_INT_EQ(sps__proxy_token_check(key, SPS_SLICE_LIT("x.0123456789abcdef"), cid, flow,
					     sizeof(flow)),
		      EBADMSG);
	return 0;
}

int test_proxy_route_token(void)
{
	unsigned char key[SPS_ROUTE_KEY_LEN], other[SPS_ROUTE_KEY_LEN];
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	struct sps__proxy_mac *mk = NULL, *mo = NULL;
	int rc = 1;
	if (sps__proxy_mac_new(&mk, key) == 0 && sps__proxy_mac_new(&mo, other) == 0)
		rc = route_token_checks(mk, mo, key);
	sps__proxy_mac_free(mk);
	sps__proxy_mac_free(mo);
	ASSERT_INT_EQ(rc, 0);
	return 0;
}

int test_proxy_udp_flow(void)
{
	static const char *const addrs[][2] = {{"127.0.0.1", "u7f00000113c4"},
					       {"2001:db8::7", "u20010db80000000000000000000000071"
							       "3c4"}};
	for (size_t i = 0; i < 2; i++) {
		struct sps_sa a, b;
		char flow[48], txt[SPS_SA_STRLEN];
		ASSERT_INT_EQ(sps_sa_set_str(&a, addrs[i][0], 5060), 0);
		sps__proxy_udp_flow(&a, flow, sizeof(flow));
		ASSERT_STR_EQ(flow, addrs[i][1]);
		ASSERT_INT_EQ(sps__proxy_udp_flow_addr(flow, &b), 0);
		ASSERT(sps_sa_eq(&a, &b));
		sps_sa_to_str(&b, txt, sizeof(txt));
		ASSERT(strstr(txt, addrs[i][0]) != NULL);
	}
	struct sps_sa b;
	ASSERT_INT_EQ(sps__proxy_udp_flow_addr("u", &b), EBADMSG);
	ASSERT_INT_EQ(sps__proxy_udp_flow_addr("u7f000001", &b), EBADMSG);
	ASSERT_INT_EQ(sps__proxy_udp_flow_addr("c7f00000113c4", &b), EBADMSG);
	return 0;
}

static json_t *call_at(json_t *arr, size_t i, const char *key)
{
	return json_object_get(json_array_get(arr, i), key);
}

int test_proxy_calls_table(void)
{
	struct sps_calls *cs;
	ASSERT_INT_EQ(sps__calls_new(&cs), 0);
	struct sps_call_leg up = {.tp = SPS_TP_UDP}, down = {.tp = SPS_TP_TLS};
	ASSERT_INT_EQ(sps_sa_set_str(&up.addr, "127.0.0.1", 5070), 0);
	ASSERT_INT_EQ(sps_sa_set_str(&down.addr, "127.0.0.1", 5071), 0);
	struct sps_slice cid = SPS_SLICE_LIT("c1"), ft = SPS_SLICE_LIT("ftag"),
			 tt = SPS_SLICE_LIT("ttag");
	ASSERT_INT_EQ(sps__calls_begin(cs, cid, ft, SPS_SLICE_LIT("sip:alice@sip.test"),
				       SPS_SLICE_LIT("sip:bob@sip.test"), &up, 1000),
		      0);
	/* the INVITE again (with credentials): still one call */
	ASSERT_INT_EQ(sps__calls_begin(cs, cid, ft, SPS_SLICE_LIT("sip:alice@sip.test"),
				       SPS_SLICE_LIT("sip:bob@sip.test"), &up, 1001),
		      0);
	ASSERT_INT_EQ(sps__calls_count(cs), 1);
	json_t *j = sps__calls_json(cs, 1002);
	ASSERT_STR_EQ(json_string_value(call_at(j, 0, "state")), "trying");
	ASSERT(json_is_null(call_at(j, 0, "answered_at")));
	json_t *legs = call_at(j, 0, "legs");
	ASSERT_INT_EQ(json_array_size(legs), 2);
	ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(legs, 0), "transport")),
		      "udp");
	ASSERT(json_is_null(json_object_get(json_array_get(legs, 1), "transport")));
	ASSERT(json_is_null(json_object_get(json_array_get(legs, 1), "media_profile")));
	json_decref(j);

	sps__calls_progress(cs, cid, ft, 180, SPS_SLICE_NULL, &down, 1003);
	sps__calls_progress(cs, cid, ft, 200, tt, &down, 1004);
	j = sps__calls_json(cs, 1010);
	ASSERT_STR_EQ(json_string_value(call_at(j, 0, "state")), "established");
	ASSERT_STR_EQ(json_string_value(call_at(j, 0, "started_at")), "1970-01-01T00:16:41Z");
	ASSERT_STR_EQ(json_string_value(call_at(j, 0, "answered_at")), "1970-01-01T00:16:44Z");
	ASSERT_INT_EQ(json_integer_value(call_at(j, 0, "duration")), 9);
	legs = call_at(j, 0, "legs");
	ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(legs, 1), "transport")),
		      "tls");
	ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(legs, 1), "address")),
		      "127.0.0.1:5071");
	json_decref(j);
	/* the media relay's figures (issue 6) appear on the leg */
	sps__calls_media(cs, cid, ft, 1, "RTP/SAVP", 250, 249);
	j = sps__calls_json(cs, 1010);
	legs = call_at(j, 0, "legs");
	ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(legs, 1), "media_profile")),
		      "RTP/SAVP");
	ASSERT_INT_EQ(json_integer_value(json_object_get(json_array_get(legs, 1), "packets_in")), 250);
	ASSERT(json_is_null(json_object_get(json_array_get(legs, 0), "packets_out")));
	json_decref(j);
	/* a late failure from another fork does not end an answered call */
	sps__calls_progress(cs, cid, ft, 487, SPS_SLICE_NULL, NULL, 1005);
	ASSERT_INT_EQ(sps__calls_count(cs), 1);
	/* BYE with the wrong tag: not this dialog */
	ASSERT(!sps__calls_end(cs, cid, ft, SPS_SLICE_LIT("other")));
	/* BYE from the callee: tags swapped */
	ASSERT(sps__calls_end(cs, cid, tt, ft));
	ASSERT_INT_EQ(sps__calls_count(cs), 0);

	/* a failed setup goes; a setup that never ends is swept */
	ASSERT_INT_EQ(sps__calls_begin(cs, SPS_SLICE_LIT("c2"), ft, SPS_SLICE_LIT("sip:a@x"),
				       SPS_SLICE_LIT("sip:b@x"), &up, 2000),
		      0);
	sps__calls_progress(cs, SPS_SLICE_LIT("c2"), ft, 486, SPS_SLICE_NULL, NULL, 2001);
	ASSERT_INT_EQ(sps__calls_count(cs), 0);
	/* many calls: the table grows and finds each */
	char id[32];
	for (int i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "many-%d", i);
		ASSERT_INT_EQ(sps__calls_begin(cs, sps_slice_cstr(id), ft, SPS_SLICE_LIT("sip:a@x"),
					       SPS_SLICE_LIT("sip:b@x"), &up, 3000),
			      0);
	}
	for (int i = 0; i < 3000; i += 2) {
		snprintf(id, sizeof(id), "many-%d", i);
		sps__calls_progress(cs, sps_slice_cstr(id), ft, 200, tt, &down, 3001);
	}
	ASSERT_INT_EQ(sps__calls_count(cs), 3000);
	sps__calls_sweep(cs, 3000 + SPS_CALLS_MAX_SETUP_S + 1);
	ASSERT_INT_EQ(sps__calls_count(cs), 1500); /* the established ones stay */
	snprintf(id, sizeof(id), "many-%d", 2998);
	ASSERT(sps__calls_end(cs, sps_slice_cstr(id), ft, tt));
	sps__calls_sweep(cs, 3000 + SPS_CALLS_MAX_AGE_S + 1);
	ASSERT_INT_EQ(sps__calls_count(cs), 0);
	sps__calls_free(cs);
	return 0;
}

/* ---- the control socket ---- */

static json_t *echo_cmd(const json_t *req, const char **err, void *arg)
{
	int *n = arg;
	(*n)++;
	json_t *v = json_object_get(req, "fail");
	if (json_is_true(v)) {
		*err = "asked to fail";
		return NULL;
	}
	return json_pack("{s:i}", "count", *n);
}

struct client_job {
	const char *dir;
	json_t *req;
	json_t *reply;
	int rc;
	atomic_int done;
};

static void *client_thread(void *arg)
{
	struct client_job *j = arg;
	j->rc = sps_admin_request(j->dir, j->req, 5000, &j->reply);
	atomic_store(&j->done, 1);
	return NULL;
}

/* Run one request from a thread while the loop serves it. */
static int ask(struct sps_loop *loop, const char *dir, json_t *req, json_t **reply)
{
	struct client_job j = {.dir = dir, .req = req};
	pthread_t th;
	if (pthread_create(&th, NULL, client_thread, &j))
		return EAGAIN;
	for (int i = 0; i < 200 && !atomic_load(&j.done); i++)
		sps_loop_run_once(loop, 25);
	pthread_join(th, NULL);
	*reply = j.reply;
	return j.rc;
}

/* A raw client: send bytes, read until EOF or a newline (bounded). */
static int raw_exchange(struct sps_loop *loop, const char *path, const char *data, size_t len,
			char *out, size_t size)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path))
		return ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		return errno;
	size_t off = 0, got = 0;
	for (int i = 0; i < 400; i++) {
		if (off < len) {
			ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
		}
		sps_loop_run_once(loop, 5);
		ssize_t n = recv(fd, out + got, size - 1 - got, 0);
		if (n == 0)
			break; /* closed by the server */
		if (n > 0)
			got += (size_t)n;
	}
	out[got] = '\0';
	close(fd);
	return 0;
}

int test_admin_control(void)
{
	char dir[] = "/tmp/sipsec-admin.XXXXXX";
	ASSERT(mkdtemp(dir));
	struct sps_loop *loop;
	ASSERT_INT_EQ(sps_loop_new(&loop), 0);
	json_t *req = json_pack("{s:s}", "cmd", "echo"), *reply = NULL;
	/* no server: the CLI side says so */
	ASSERT_INT_EQ(sps_admin_request(dir, req, 1000, &reply), ENOENT);

	struct sps_admin *a;
	int n = 0;
	ASSERT_INT_EQ(sps_admin_open(&a, loop, dir), 0);
	ASSERT_INT_EQ(sps_admin_register(a, "echo", echo_cmd, &n), 0);
	ASSERT_INT_EQ(sps_admin_register(a, "echo", echo_cmd, &n), EEXIST);
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ASSERT_INT_EQ(sps_admin_sock_path(dir, path, sizeof(path)), 0);
	struct stat st;
	ASSERT_INT_EQ(stat(path, &st), 0);
	ASSERT(S_ISSOCK(st.st_mode));
	ASSERT_INT_EQ(st.st_mode & 0777, 0600);

	ASSERT_INT_EQ(ask(loop, dir, req, &reply), 0);
	ASSERT(json_is_true(json_object_get(reply, "ok")));
	ASSERT_INT_EQ(json_integer_value(json_object_get(reply, "count")), 1);
	json_decref(reply);
	json_decref(req);

	req = json_pack("{s:s,s:b}", "cmd", "echo", "fail", 1);
	ASSERT_INT_EQ(ask(loop, dir, req, &reply), 0);
	ASSERT(json_is_false(json_object_get(reply, "ok")));
	ASSERT_STR_EQ(json_string_value(json_object_get(reply, "error")), "asked to fail");
	json_decref(reply);
	json_decref(req);

	req = json_pack("{s:s}", "cmd", "nosuch");
	ASSERT_INT_EQ(ask(loop, dir, req, &reply), 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(reply, "error")), "unknown command");
	json_decref(reply);

	/* two requests on one connection, then garbage: one reply line each */
	char out[8192];
	const char two[] = "{\"cmd\":\"echo\"}\n{\"cmd\":\"echo\"}\nnot json\n";
	ASSERT_INT_EQ(raw_exchange(loop, path, two, sizeof(two) - 1, out, sizeof(out)), 0);
	ASSERT(strstr(out, "\"count\":3"));
	ASSERT(strstr(out, "\"count\":4"));
	ASSERT(strstr(out, "one JSON object per line"));

	/* a line over the bound: an error reply and the connection closes */
	size_t big = SPS_ADMIN_MAX_REQ + 100;
	char *junk = malloc(big);
	memset(junk, 'x', big);
	ASSERT_INT_EQ(raw_exchange(loop, path, junk, big, out, sizeof(out)), 0);
	free(junk);
	ASSERT(strstr(out, "request line too long"));

	sps_admin_close(a);
	ASSERT(access(path, F_OK) != 0); /* removed at close */
	/* a stale socket file (a crashed server) is replaced at open */
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	memcpy(sun.sun_path, path, sizeof(path));
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_INT_EQ(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	ASSERT_INT_EQ(sps_admin_request(dir, req, 1000, &reply), ECONNREFUSED);
	ASSERT_INT_EQ(sps_admin_open(&a, loop, dir), 0);
	ASSERT_INT_EQ(ask(loop, dir, req, &reply), 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(reply, "error")), "unknown command");
	json_decref(reply);
	json_decref(req);
	sps_admin_close(a);
	sps_loop_free(loop);
	rmdir(dir);
	return 0;
}
