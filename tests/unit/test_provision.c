/* Tests of the provisioning layer (issue 8): MAC normalisation, the vendor
 * files against golden files in tests/data/provision/ (set
 * SPS_UPDATE_GOLDEN=1 to rewrite them after a deliberate change, then review
 * the diff), SRTP/transport mappings, secrets only in the files that need
 * them, the HTTP request parser and credentials, and the device store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mbuf.h"
#include "provision/http.h"
#include "provision/provision.h"
#include "store/store.h"
#include "test.h"

#define PW1 "Secret1pass"
#define PW2 "Other2pass"

static const struct sps_prov_line two_lines[] = {{"alice", PW1}, {"bob", PW2}};

/* The model every golden file is made from. */
static void model(struct sps_prov_device *d, const char *vendor, const char *ca)
{
	memset(d, 0, sizeof(*d));
	d->mac = "0004f2819fa3";
	d->vendor = vendor;
	d->model = "M1";
	d->transport = SPS_PROV_TP_TLS;
	d->srtp = SPS_PROV_SRTP_OFFER;
	d->domain = "sip.example.com";
	d->sip_port = 5060;
	d->tls_port = 5061;
	d->https_port = 8443;
	d->ca_pem = ca;
	d->lines = two_lines;
	d->nlines = 2;
}

/* Compare f with tests/data/provision/<vendor>/<name> (or write it). */
static int golden(const char *vendor, const struct sps_prov_file *f)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/provision/%s/%s", sps_test_data_dir(), vendor, f->name);
	const char *upd = getenv("SPS_UPDATE_GOLDEN");
	if (upd && *upd == '1') {
		FILE *o = fopen(path, "w");
		ASSERT(o != NULL);
		fwrite(f->body.buf, 1, f->body.len, o);
		fclose(o);
	}
	size_t len = 0;
	char *want = sps_test_read_file(path, &len);
	if (!want)
		TEST_FAIL("missing golden file %s", path);
	int same = len == f->body.len && memcmp(want, f->body.buf, len) == 0;
	free(want);
	if (!same)
		TEST_FAIL("%s differs from the generated file (SPS_UPDATE_GOLDEN=1 rewrites it)",
			  path);
	return 0;
}

static char *read_ca(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/provision/ca.pem", sps_test_data_dir());
	size_t len = 0;
	return sps_test_read_file(path, &len);
}

int test_prov_mac(void)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: invalid */
	} v[] = {
		{"0004f2819fa3", "0004f2819fa3"},
		{"0004F2819FA3", "0004f2819fa3"},
		{"00:04:f2:81:9f:a3", "0004f2819fa3"},
		{"00-04-F2-81-9F-A3", "0004f2819fa3"},
		{"0004.f281.9fa3", "0004f2819fa3"},
		{"00:04:f2:81:9f", NULL},
		{"00:04:f2:81:9f:a3:00", NULL},
		{"0004f2819fa", NULL},
		{"0004f2819fa3b", NULL},
		{"00:04-f2:81:9f:a3", NULL},
		{"000:4f2:819:fa3", NULL},
		{"00:04:f2:81:9f:g3", NULL},
		{"", NULL},
		{"0004f2819fa3 ", NULL},
		{":0004f2819fa3", NULL},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char out[13];
		int rc = sps_prov_mac_normalize(v[i].in, out);
		if (v[i].out) {
			if (rc)
				TEST_FAIL("'%s' refused", v[i].in);
			ASSERT_STR_EQ(out, v[i].out);
		} else if (rc != EINVAL) {
			TEST_FAIL("'%s' accepted", v[i].in);
		}
	}
	char a[21], b[21];
	ASSERT_INT_EQ(sps_prov_secret(a, 20), 0);
	ASSERT_INT_EQ(sps_prov_secret(b, 20), 0);
	ASSERT_INT_EQ(strlen(a), 20);
	ASSERT(strcmp(a, b) != 0);
	for (size_t i = 0; i < 20; i++)
		ASSERT(strchr("0O1lI", a[i]) == NULL);
	return 0;
}

/* Every vendor's files equal the golden files; the passwords appear only in
 * the files marked secret; the CA only where the vendor carries it inline. */
int test_prov_golden(void)
{
	static const char *const vendors[] = {"polycom", "yealink", "grandstream"};
	char *ca = read_ca();
	ASSERT(ca != NULL);
	for (size_t k = 0; k < 3; k++) {
		struct sps_prov_device d;
		struct sps_prov_files files;
		model(&d, vendors[k], ca);
		int rc = sps_prov_generate(&d, &files);
		if (rc) {
			free(ca);
			TEST_FAIL("%s: generate failed: %d", vendors[k], rc);
		}
		int bad = 0;
		for (size_t i = 0; i < files.n && !bad; i++) {
			const struct sps_prov_file *f = &files.f[i];
			bad = golden(vendors[k], f);
			bool has_pw = strstr(f->body.buf, PW1) || strstr(f->body.buf, PW2);
			if (!bad && has_pw != f->secret) {
				fprintf(stderr, "    %s/%s: passwords %s\n", vendors[k], f->name,
					has_pw ? "in a file not marked secret" : "missing");
				bad = 1;
			}
		}
		sps_prov_files_free(&files);
		if (bad) {
			free(ca);
			return 1;
		}
	}
	/* the public files are golden too, and hold no password */
	struct sps_prov_device d;
	struct sps_prov_files files;
	model(&d, "polycom", ca);
	ASSERT_INT_EQ(sps_prov_public_files(&d, &files), 0);
	int bad = 0;
	for (size_t i = 0; i < files.n && !bad; i++)
		bad = strcmp(files.f[i].name, "ca.pem") != 0 && golden("public", &files.f[i]);
	ASSERT(sps_prov_files_find(&files, "ca.pem") != NULL);
	ASSERT(strcmp(sps_prov_files_find(&files, "ca.pem")->body.buf, ca) == 0);
	sps_prov_files_free(&files);
	free(ca);
	return bad;
}

/* Polycom: the SRTP mode maps to enable/offer/require exactly as issue 8
 * says, each transport is written by its Polycom name, and the port is 0
 * (the transport's default) unless the server listens elsewhere. */
int test_prov_polycom_map(void)
{
	static const char *const want[4] = {
		"sec.srtp.enable=\"0\"\n    sec.srtp.offer=\"0\"\n    sec.srtp.require=\"0\"",
		"sec.srtp.enable=\"1\"\n    sec.srtp.offer=\"0\"\n    sec.srtp.require=\"0\"",
		"sec.srtp.enable=\"1\"\n    sec.srtp.offer=\"1\"\n    sec.srtp.require=\"0\"",
		"sec.srtp.enable=\"1\"\n    sec.srtp.offer=\"1\"\n    sec.srtp.require=\"1\"",
	};
	static const char *const tps[] = {"UDPOnly", "TCPOnly", "TCPpreferred", "TLS", "DNSnaptr"};
	char *ca = read_ca();
	ASSERT(ca != NULL);
	int bad = 0;
	for (int s = 0; s < 4 && !bad; s++) {
		struct sps_prov_device d;
		struct sps_prov_files files;
		model(&d, "polycom", ca);
		d.srtp = (enum sps_prov_srtp)s;
		d.transport = (enum sps_prov_transport)(s % 5);
		if (sps_prov_generate(&d, &files) != 0) {
			bad = 1;
			break;
		}
		const struct sps_prov_file *sec = sps_prov_files_find(&files, "0004f2819fa3-sec.cfg");
		const struct sps_prov_file *reg = sps_prov_files_find(&files, "0004f2819fa3-reg.cfg");
		char tp[64];
		snprintf(tp, sizeof(tp), "reg.2.server.1.transport=\"%s\"", tps[s % 5]);
		if (!sec || !reg || !strstr(sec->body.buf, want[s]) || !strstr(reg->body.buf, tp) ||
		    !strstr(reg->body.buf, "reg.1.server.1.port=\"0\"")) {
			fprintf(stderr, "    srtp mode %d / transport %s not mapped\n", s, tps[s % 5]);
			bad = 1;
		}
		sps_prov_files_free(&files);
	}
	/* a non-default TLS port is written out */
	struct sps_prov_device d;
	struct sps_prov_files files;
	model(&d, "polycom", ca);
	d.tls_port = 15061;
	ASSERT_INT_EQ(sps_prov_generate(&d, &files), 0);
	const struct sps_prov_file *reg = sps_prov_files_find(&files, "0004f2819fa3-reg.cfg");
	bad |= !reg || !strstr(reg->body.buf, "reg.1.server.1.port=\"15061\"");
	sps_prov_files_free(&files);
	free(ca);
	return bad;
}

/* What the model refuses, and XML escaping. */
int test_prov_model_errors(void)
{
	char *ca = read_ca();
	ASSERT(ca != NULL);
	struct sps_prov_device d;
	struct sps_prov_files files;
	static const struct sps_prov_line blank[] = {{"alice", "two words"}};
	static const struct sps_prov_line ctl[] = {{"al\nice", "pw"}};
	struct sps_prov_line five[5] = {{"a", "p"}, {"b", "p"}, {"c", "p"}, {"d", "p"}, {"e", "p"}};
	int bad = 0;

	model(&d, "nokia", ca);
	bad |= sps_prov_generate(&d, &files) != EINVAL;
	model(&d, "generic", ca);
	bad |= sps_prov_generate(&d, &files) != ENOTSUP;
	model(&d, "polycom", ca);
	d.lines = blank;
	d.nlines = 1;
	bad |= sps_prov_generate(&d, &files) != EINVAL;
	d.lines = ctl;
	bad |= sps_prov_generate(&d, &files) != EINVAL;
	d.nlines = 0;
	bad |= sps_prov_generate(&d, &files) != EINVAL;
	model(&d, "grandstream", ca);
	d.lines = five;
	d.nlines = 5; /* Grandstream: 4 accounts */
	bad |= sps_prov_generate(&d, &files) != EINVAL;
	d.nlines = 4;
	bad |= sps_prov_generate(&d, &files) != 0;
	if (!bad) {
		/* account 4 uses P6xx */
		bad |= !strstr(files.f[0].body.buf, "<P606>p</P606>") ||
		       !strstr(files.f[0].body.buf, "<P648>2</P648>") ||
		       !strstr(files.f[0].body.buf, "<P643>1</P643>");
		sps_prov_files_free(&files);
	}
	free(ca);
	if (bad)
		TEST_FAIL("a bad model was accepted or a good one refused");

	struct sps_mbuf mb;
	sps_mbuf_init(&mb, 0);
	sps__prov_xml_esc(&mb, "a&b<c>\"d'e\nf");
	ASSERT_STR_EQ(mb.buf, "a&amp;b&lt;c&gt;&quot;d&apos;e&#10;f");
	sps_mbuf_free(&mb);

	enum sps_prov_transport t;
	enum sps_prov_srtp s;
	ASSERT_INT_EQ(sps_prov_transport_parse("tls", &t), 0);
	ASSERT_INT_EQ(t, SPS_PROV_TP_TLS);
	ASSERT_INT_EQ(sps_prov_transport_parse("SCTP", &t), EINVAL);
	ASSERT_INT_EQ(sps_prov_srtp_parse("Require", &s), 0);
	ASSERT_INT_EQ(s, SPS_PROV_SRTP_REQUIRE);
	ASSERT_INT_EQ(sps_prov_srtp_parse("mandatory", &s), EINVAL);
	ASSERT(sps_prov_name_ok("0004f2819fa3.cfg", 16));
	ASSERT(!sps_prov_name_ok("../sipsec.db", 12));
	ASSERT(!sps_prov_name_ok(".hidden", 7));
	ASSERT(!sps_prov_name_ok("a%2fb", 5));
	return 0;
}

/* ---- HTTP ---- */

int test_http_parse(void)
{
	static const struct {
		const char *in;
		int rc;
		const char *path; /* when rc == 0 */
		bool keep;
	} v[] = {
		{"GET /prov/a.cfg HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/prov/a.cfg", true},
		{"\r\nGET /prov/a.cfg?x=1 HTTP/1.1\nHost: x\n\n", 0, "/prov/a.cfg", true},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n", 0, "/", false},
		{"GET / HTTP/1.0\r\n\r\n", 0, "/", false},
		{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, "/", true},
		{"GET / HTTP/1.1\r\nHost: x\r\n", ENODATA, NULL, false},
		{"GET / HTT", ENODATA, NULL, false},
		{"", ENODATA, NULL, false},
		{"GET / HTTP/1.1\r\n\r\n", EBADMSG, NULL, false},                /* no Host */
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", EBADMSG, NULL, false},
		{"GET / HTTP/2.0\r\nHost: x\r\n\r\n", EPROTONOSUPPORT, NULL, false},
		{"GET / HTTP/1.2\r\nHost: x\r\n\r\n", EPROTONOSUPPORT, NULL, false},
		{"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", EBADMSG, NULL, false},
		{"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", EBADMSG, NULL, false},
		{"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", EBADMSG, NULL, false},
		{"GET / HTTP/1.1\r\nHost : x\r\n\r\n", EBADMSG, NULL, false},   /* blank before ':' */
		{"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", EBADMSG, NULL, false},
		{"GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", EBADMSG, NULL, false}, /* bare CR */
		{"GET / HTTP/1.1\r\nHost: x\x01\r\n\r\n", EBADMSG, NULL, false},
		{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", EBADMSG, NULL, false},
		{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
		 EBADMSG, NULL, false},
		{"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n", EBADMSG,
		 NULL, false},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sps_http_req r;
		int rc = sps_http_parse(v[i].in, strlen(v[i].in), &r, NULL);
		if (rc != v[i].rc)
			TEST_FAIL("vector %zu: rc %d, expected %d", i, rc, v[i].rc);
		if (rc)
			continue;
		ASSERT_SLICE_EQ(r.path, v[i].path);
		ASSERT_INT_EQ(r.keep_alive, v[i].keep);
		ASSERT_INT_EQ(r.len, strlen(v[i].in));
	}
	/* bodies are noticed; pipelined requests are cut one by one */
	struct sps_http_req r;
	const char *two = "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nGET /b HTTP/1.1\r\n";
	ASSERT_INT_EQ(sps_http_parse(two, strlen(two), &r, NULL), 0);
	ASSERT(r.has_body);
	ASSERT_SLICE_EQ(r.path, "/a");
	ASSERT_INT_EQ(sps_http_parse(two + r.len, strlen(two) - r.len, &r, NULL), ENODATA);
	const char *te = "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
	ASSERT_INT_EQ(sps_http_parse(te, strlen(te), &r, NULL), 0);
	ASSERT(r.has_body);

	/* bounds: an endless head, a long target */
	static char big[SPS_HTTP_HEAD_MAX + 100];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	ASSERT_INT_EQ(sps_http_parse(big, sizeof(big), &r, NULL), EMSGSIZE);
	ASSERT_INT_EQ(sps_http_parse(big, SPS_HTTP_HEAD_MAX - 10, &r, NULL), ENODATA);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	memcpy(big + 5 + SPS_HTTP_TARGET_MAX, " HTTP/1.1\r\nHost: x\r\n\r\n", 22);
	ASSERT_INT_EQ(sps_http_parse(big, 5 + SPS_HTTP_TARGET_MAX + 22, &r, NULL), EMSGSIZE);
	return 0;
}

int test_http_cred(void)
{
	struct sps_http_cred c;
	ASSERT_INT_EQ(sps_http_cred_parse(sps_slice_cstr("Basic YWxpY2U6cGE6c3M="), &c), 0);
	ASSERT(c.basic);
	char u[32], p[32];
	ASSERT_INT_EQ(sps_http_basic_decode(c.token68, u, sizeof(u), p, sizeof(p)), 0);
	ASSERT_STR_EQ(u, "alice");
	ASSERT_STR_EQ(p, "pa:ss"); /* RFC 7617 2: the password may hold ':' */
	ASSERT_INT_EQ(sps_http_cred_parse(sps_slice_cstr("Basic YWxpY2U"), &c), 0);
	ASSERT_INT_EQ(sps_http_basic_decode(c.token68, u, sizeof(u), p, sizeof(p)), EBADMSG);
	ASSERT_INT_EQ(sps_http_cred_parse(sps_slice_cstr("Basic a b"), &c), EBADMSG);
	ASSERT_INT_EQ(sps_http_cred_parse(sps_slice_cstr("Bearer abc"), &c), ENOTSUP);
	ASSERT_INT_EQ(sps_http_cred_parse(sps_slice_cstr("Basic"), &c), EBADMSG);

	const char *dg = "Digest username=\"prov-x\", realm=\"sip.example.com\", nonce=\"n\\\"1\","
			 " uri=\"/prov/a.cfg\", algorithm=SHA-256, response=\"abc\", qop=auth, "
			 "nc=00000001, cnonce=\"c\"";
	ASSERT_INT_EQ(sps_http_cred_parse(sps_slice_cstr(dg), &c), 0);
	ASSERT(!c.basic);
	ASSERT_SLICE_EQ(c.digest.username, "prov-x");
	ASSERT_SLICE_EQ(c.digest.nonce, "n\\\"1"); /* kept as written */
	ASSERT_SLICE_EQ(c.digest.uri, "/prov/a.cfg");
	ASSERT_SLICE_EQ(c.digest.qop, "auth");
	ASSERT_INT_EQ(sps_http_cred_parse(sps_slice_cstr("Digest realm=a, realm=b"), &c), EBADMSG);
	ASSERT_INT_EQ(sps_http_cred_parse(sps_slice_cstr("Digest realm=\"a"), &c), EBADMSG);
	ASSERT_INT_EQ(sps_http_cred_parse(sps_slice_cstr("Digest realm"), &c), EBADMSG);
	ASSERT_INT_EQ(sps_http_cred_parse(sps_slice_cstr("Digest a=b c=d"), &c), EBADMSG);
	return 0;
}

/* ---- store ---- */

int test_store_devices(void)
{
	char dir[] = "/tmp/sps-test-dev-XXXXXX";
	ASSERT(mkdtemp(dir) != NULL);
	struct sps_store *st = NULL;
	int bad = 0;
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	struct sps_device d = {.mac = "0004f2819fa3", .vendor = "polycom", .model = "VVX450",
			       .transport = "TLS", .srtp = "offer", .prov_user = "prov-0004f2819fa3",
			       .prov_password = "pw1"};
	struct sps_device_line l[2] = {{1, "alice", "a-pw"}, {2, "bob", "b-pw"}};
	struct sps_device got;
	struct sps_device_line gl[4];
	size_t n = 0;
	bad |= sps_store_device_add(st, &d, l, 2) != 0;
	bad |= sps_store_device_add(st, &d, l, 2) != EEXIST;
	struct sps_device bad_mac = d;
	snprintf(bad_mac.mac, sizeof(bad_mac.mac), "0004F2819FA3");
	bad |= sps_store_device_add(st, &bad_mac, l, 2) != EINVAL;
	bad |= sps_store_device_add(st, &d, l, 0) != EINVAL;
	/* a second device with the same provisioning user is refused whole */
	struct sps_device d2 = d;
	snprintf(d2.mac, sizeof(d2.mac), "0004f2aabbcc");
	bad |= sps_store_device_add(st, &d2, l, 1) != EEXIST;
	bad |= sps_store_device_get(st, "0004f2aabbcc", &got) != ENOENT;
	bad |= sps_store_device_lines(st, "0004f2aabbcc", gl, 4, &n) != 0 || n != 0;
	snprintf(d2.prov_user, sizeof(d2.prov_user), "prov-0004f2aabbcc");
	bad |= sps_store_device_add(st, &d2, l + 1, 1) != 0;

	bad |= sps_store_device_get(st, d.mac, &got) != 0 || strcmp(got.model, "VVX450") != 0 ||
	       strcmp(got.prov_password, "pw1") != 0 || got.created == 0;
	bad |= sps_store_device_by_prov_user(st, "prov-0004f2aabbcc", &got) != 0 ||
	       strcmp(got.mac, "0004f2aabbcc") != 0;
	bad |= sps_store_device_lines(st, d.mac, gl, 4, &n) != 0 || n != 2 || gl[1].idx != 2 ||
	       strcmp(gl[1].user, "bob") != 0 || strcmp(gl[1].sip_password, "b-pw") != 0;
	bad |= sps_store_device_lines(st, d.mac, gl, 1, &n) != ENOSPC;
	bad |= sps_store_device_del(st, d.mac) != 0;
	bad |= sps_store_device_del(st, d.mac) != ENOENT;
	/* the lines went with it (ON DELETE CASCADE) */
	bad |= sps_store_device_lines(st, d.mac, gl, 4, &n) != 0 || n != 0;
	bad |= sps_store_device_get(st, "0004f2aabbcc", &got) != 0;
	sps_store_close(st);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		bad = 1;
	if (bad)
		TEST_FAIL("device store checks failed");
	return 0;
}
