/* RFC 4475 SIP torture tests: every message of tests/data/rfc4475/ (listed in
 * MANIFEST.tsv with its class) through sps_sip_msg_parse() and
 * sps_sip_msg_validate(). Each file that does not behave is printed with the
 * parser's reason, and the test fails at the end, so one run lists them all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "sip/msg.h"
#include "sip/uri.h"
#include "test.h"

/* What RFC 4475 section 3.1.1 says a valid message contains. NULL strings
 * and negative numbers are not checked; "" means "absent or empty". */
struct torture_valid {
	const char *file;
	const char *method;     /* NULL: a response */
	unsigned status;
	const char *ruri_user, *ruri_host;
	const char *call_id;
	long cseq;
	const char *cseq_method;
	long clen;
	const char *via_host, *via_branch, *via_transport;
	int nvia, ncontact;
	const char *to_tag, *from_tag, *from_dname;
	long body_len;
};

static const struct torture_valid valid[] = {
	/* 3.1.1.1 */
	{"wsinv.dat", "INVITE", 0, "vivekg", "chair-dnrc.example.com", "wsinv.ndaksdj@192.0.2.1",
	 9, "INVITE", 150, "192.0.2.2", "390skdjuw", "UDP", 3, 1, "1918181833n", "98asjd8",
	 "\"J Rosenberg \\\\\\\"\"", 150},
	/* 3.1.1.2 */
	{"intmeth.dat", "!interesting-Method0123456789_*+`.%indeed'~", 0,
	 "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", "example.com",
	 "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{", 139122385,
	 "!interesting-Method0123456789_*+`.%indeed'~", 0, "host1.example.com",
	 "z9hG4bK-.!%66*_+`'~", "TCP", 1, 0, "", "_token~1'+`*%!-.",
	 "token1~` token2'+_ token3*%!.-", 0},
	/* 3.1.1.3 */
	{"esc01.dat", "INVITE", 0, "sips%3Auser%40example.com", "example.net",
	 "esc01.239409asdfakjkn23onasd0-3234", 234234, "INVITE", 150, "host5.example.net",
	 "z9hG4bKkdjuw", "UDP", 1, 1, "", "938", "", 150},
	/* 3.1.1.4 */
	{"escnull.dat", "REGISTER", 0, "", "example.com", "escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd",
	 14398234, "REGISTER", 0, "host5.example.com", "z9hG4bKkdjuw", "UDP", 1, 2, "", "839923423",
	 "", 0},
	/* 3.1.1.5: "C%6Fntact" is an unknown header, so two Contacts */
	{"esc02.dat", "RE%47IST%45R", 0, "", "registrar.example.com",
	 "esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf", 29344, "RE%47IST%45R", 0, "host.example.com",
	 "z9hG4bK209%fzsnel234", "TCP", 1, 2, "", "f232jadfj23", "\"%Z%45\"", 0},
	/* 3.1.1.6 */
	{"lwsdisp.dat", "OPTIONS", 0, "user", "example.com", "lwsdisp.1234abcd@funky.example.com", 60,
	 "OPTIONS", 0, "funky.example.com", "z9hG4bKkdjuw", "UDP", 1, 0, "", "323", "caller", 0},
	/* 3.1.1.7: 34 Via entries, the top one without branch */
	{"longreq.dat", "INVITE", 0, "user", "example.com", NULL, 3882340, "INVITE", 150,
	 "sip33.example.com", "", "TCP", 34, 1, "", NULL, "", 150},
	/* 3.1.1.8: only the REGISTER counts, the INVITE after it is ignored */
	{"dblreq.dat", "REGISTER", 0, "", "example.com", "dblreq.0ha0isndaksdj99sdfafnl3lk233412", 8,
	 "REGISTER", 0, "192.0.2.125", "z9hG4bKkdjuw23492", "UDP", 1, 1, "", "43251j3j324", "", 0},
	/* 3.1.1.9 */
	{"semiuri.dat", "OPTIONS", 0, "user;par=u%40example.net", "example.com",
	 "semiuri.0ha0isndaksdj", 8, "OPTIONS", 0, "192.0.2.1", "z9hG4bKkdjuw", "UDP", 1, 0, "",
	 "33242", "", 0},
	/* 3.1.1.10 */
	{"transports.dat", "OPTIONS", 0, "user", "example.com", "transports.kijh4akdnaqjkwendsasfdj",
	 60, "OPTIONS", 0, "t1.example.com", "z9hG4bKkdjuw", "UDP", 5, 0, "", "323", "", 0},
	/* 3.1.1.11 */
	{"mpart01.dat", "MESSAGE", 0, "kumiko", "example.org",
	 "3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..", 1, "MESSAGE", 553, "127.0.0.1",
	 "z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-", "UDP", 1, 1, "", "2fb0dcc9", "", 553},
	/* 3.1.1.12 */
	{"unreason.dat", NULL, 200, NULL, NULL, "unreason.1234ksdfak3j2erwedfsASdf", 35, "INVITE",
	 154, "192.0.2.198", "z9hG4bK1324923", "UDP", 1, 1, "2229", "11141343", "", 154},
	/* 3.1.1.13 */
	{"noreason.dat", NULL, 100, NULL, NULL, "noreason.asndj203insdf99223ndf", 35, "INVITE", 0,
	 "192.0.2.105", "z9hG4bK2398ndaoe", "UDP", 1, 1, "902jndnke3", "39ansfi3", "", 0},
};

/* Messages that are syntactically valid but that a server may have to refuse
 * (RFC 4475 3.2, 3.3, 3.4): the validate statuses accepted (0 = act on it). */
struct torture_app {
	const char *file;
	unsigned ok[2]; /* accepted results of sps_sip_msg_validate; {0, 0} means 0 */
};

static const struct torture_app app[] = {
	{"badbranch.dat", {0, 0}},  /* 3.2.1: treat as an RFC 2543 branch, not an error */
	{"insuf.dat", {400, 400}},  /* 3.3.1: no Call-ID, From, To */
	{"unkscm.dat", {416, 416}}, /* 3.3.2 */
	{"novelsc.dat", {416, 416}},/* 3.3.3: soap.beep is not served here */
	{"unksm2.dat", {0, 0}},     /* 3.3.4: proxies treat it like any request */
	{"bext01.dat", {0, 420}},   /* 3.3.5: 420 is the proxy's Proxy-Require answer */
	{"invut.dat", {0, 415}},    /* 3.3.6: 415 is a UAS answer */
	{"regaut01.dat", {0, 0}},   /* 3.3.7 */
	{"multi01.dat", {400, 400}},/* 3.3.8 */
	{"mcl01.dat", {400, 400}},  /* 3.3.9 */
	{"bcast.dat", {0, 0}},      /* 3.3.10 */
	{"zeromf.dat", {0, 483}},   /* 3.3.11: an OPTIONS with Max-Forwards 0 may be answered */
	{"cparam01.dat", {0, 0}},   /* 3.3.12 */
	{"cparam02.dat", {0, 0}},   /* 3.3.13 */
	{"regescrt.dat", {0, 0}},   /* 3.3.14 */
	{"sdp01.dat", {0, 0}},      /* 3.3.15 */
	{"inv2543.dat", {0, 0}},    /* 3.4.1: an RFC 2543 request is still processed */
};

static const struct torture_valid *find_valid(const char *file)
{
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		if (strcmp(valid[i].file, file) == 0)
			return &valid[i];
	return NULL;
}

static const struct torture_app *find_app(const char *file)
{
	for (size_t i = 0; i < sizeof(app) / sizeof(app[0]); i++)
		if (strcmp(app[i].file, file) == 0)
			return &app[i];
	return NULL;
}

/* A slice check that prints instead of returning: `bad` counts mismatches. */
static void check_slice(const char *file, const char *what, struct sps_slice got,
			const char *want, int *bad)
{
	if (!want)
		return;
	if (!sps_slice_eq(got, sps_slice_cstr(want))) {
		fprintf(stderr, "    %s: %s is \"%.*s\", expected \"%s\"\n", file, what,
			SPS_SLICE_FMT(got), want);
		(*bad)++;
	}
}

static void check_num(const char *file, const char *what, long long got, long long want,
		      int *bad)
{
	if (want < 0)
		return;
	if (got != want) {
		fprintf(stderr, "    %s: %s is %lld, expected %lld\n", file, what, got, want);
		(*bad)++;
	}
}

static int count_entries(const struct sps_sip_msg *m, enum sps_hdr_id id)
{
	int n = 0;
	for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, id, NULL); h;
	     h = sps_sip_msg_hdr_next(m, id, h))
		n++;
	return n;
}

/* Checks of a parsed valid message against its table row; returns mismatches. */
static int check_valid(const struct torture_valid *v, const struct sps_sip_msg *m)
{
	int bad = 0;
	const char *f = v->file;

	if (v->method) {
		if (!m->is_request) {
			fprintf(stderr, "    %s: parsed as a response\n", f);
			return 1;
		}
		check_slice(f, "method", m->method, v->method, &bad);
		if (m->ruri.scheme != SPS_URI_SIP) {
			fprintf(stderr, "    %s: Request-URI scheme %d, expected sip\n", f,
				(int)m->ruri.scheme);
			bad++;
		}
		check_slice(f, "Request-URI user", m->ruri.user, v->ruri_user, &bad);
		check_slice(f, "Request-URI host", m->ruri.host, v->ruri_host, &bad);
	} else {
		if (m->is_request) {
			fprintf(stderr, "    %s: parsed as a request\n", f);
			return 1;
		}
		check_num(f, "status", m->status, v->status, &bad);
	}
	check_slice(f, "Call-ID", m->call_id, v->call_id, &bad);
	if (!m->has_cseq) {
		fprintf(stderr, "    %s: no CSeq\n", f);
		bad++;
	} else {
		check_num(f, "CSeq number", m->cseq.num, v->cseq, &bad);
		check_slice(f, "CSeq method", m->cseq.method, v->cseq_method, &bad);
	}
	check_num(f, "Content-Length", m->content_length, v->clen, &bad);
	check_num(f, "body length", (long long)m->body.l, v->body_len, &bad);
	if (!m->via) {
		fprintf(stderr, "    %s: no top Via\n", f);
		bad++;
	} else {
		check_slice(f, "top Via host", m->via->host, v->via_host, &bad);
		check_slice(f, "top Via branch", m->via->branch, v->via_branch, &bad);
		check_slice(f, "top Via transport", m->via->transport, v->via_transport, &bad);
	}
	check_num(f, "Via count", m->count[SPS_HDR_VIA], v->nvia, &bad);
	check_num(f, "Via entries", count_entries(m, SPS_HDR_VIA), v->nvia, &bad);
	check_num(f, "Contact count", m->count[SPS_HDR_CONTACT], v->ncontact, &bad);
	if (!m->to || !m->from) {
		fprintf(stderr, "    %s: To or From not parsed\n", f);
		return bad + 1;
	}
	check_slice(f, "To tag", m->to->tag, v->to_tag, &bad);
	check_slice(f, "From tag", m->from->tag, v->from_tag, &bad);
	check_slice(f, "From display name", m->from->dname, v->from_dname, &bad);
	return bad;
}

/* Per-file extra checks where RFC 4475 points at a specific construct. */
static int check_extra(const char *f, const struct sps_sip_msg *m)
{
	int bad = 0;
	char buf[128];
	size_t n = 0;

	if (strcmp(f, "wsinv.dat") == 0) {
		check_num(f, "Max-Forwards", m->max_forwards, 68, &bad);
		check_num(f, "NewFangledHeader entries", m->count[SPS_HDR_OTHER] >= 2, 1, &bad);
		check_num(f, "Route count", m->count[SPS_HDR_ROUTE], 1, &bad);
		const struct sps_sip_hdr *c = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, NULL);
		const struct sps_contact *ct = c ? c->parsed : NULL;
		if (!ct) {
			fprintf(stderr, "    %s: Contact not parsed\n", f);
			bad++;
		} else {
			check_num(f, "Contact q", ct->q, 330, &bad);
			check_slice(f, "Contact display name", ct->na.dname,
				    "\"Quoted string \\\"\\\"\"", &bad);
		}
		const struct sps_sip_hdr *h = sps_sip_msg_hdr_by_name(m, "newfangledheader");
		if (!h || !h->value.l || memchr(h->value.p, '\n', h->value.l) ||
		    memchr(h->value.p, '\r', h->value.l)) {
			fprintf(stderr, "    %s: folded NewFangledHeader not unfolded\n", f);
			bad++;
		}
	} else if (strcmp(f, "esc01.dat") == 0) {
		if (!m->to || sps_uri_unescape(m->to->uri.user, buf, sizeof(buf), &n) ||
		    !sps_slice_eq(sps_slice_make(buf, n), SPS_SLICE_LIT("user"))) {
			fprintf(stderr, "    %s: To user does not unescape to \"user\"\n", f);
			bad++;
		}
		check_slice(f, "Content-Type", m->content_type, "application/sdp", &bad);
	} else if (strcmp(f, "escnull.dat") == 0) {
		if (!m->to || sps_uri_unescape(m->to->uri.user, buf, sizeof(buf), &n) || n != 11 ||
		    memcmp(buf, "null-\0-null", 11) != 0) {
			fprintf(stderr, "    %s: To user does not unescape to null-\\0-null\n", f);
			bad++;
		}
	} else if (strcmp(f, "esc02.dat") == 0) {
		check_num(f, "method id", m->meth, SPS_METHOD_OTHER, &bad);
		if (!sps_sip_msg_hdr_by_name(m, "C%6Fntact")) {
			fprintf(stderr, "    %s: header C%%6Fntact not found by name\n", f);
			bad++;
		}
	} else if (strcmp(f, "intmeth.dat") == 0) {
		check_num(f, "method id", m->meth, SPS_METHOD_OTHER, &bad);
		check_slice(f, "Request-URI password", m->ruri.password,
			    "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)", &bad);
		check_num(f, "Max-Forwards", m->max_forwards, 255, &bad);
	} else if (strcmp(f, "semiuri.dat") == 0) {
		check_slice(f, "Request-URI params", m->ruri.params, "", &bad);
		check_num(f, "Accept entries", m->count[SPS_HDR_ACCEPT], 1, &bad);
	} else if (strcmp(f, "transports.dat") == 0) {
		static const char *const tr[] = {"UDP", "SCTP", "TLS", "UNKNOWN", "TCP"};
		const struct sps_sip_hdr *h = NULL;
		for (int i = 0; i < 5; i++) {
			h = sps_sip_msg_hdr_next(m, SPS_HDR_VIA, h);
			const struct sps_via *v = h ? h->parsed : NULL;
			if (!v) {
				fprintf(stderr, "    %s: Via %d not parsed\n", f, i);
				return bad + 1;
			}
			check_slice(f, "Via transport", v->transport, tr[i], &bad);
		}
	} else if (strcmp(f, "mpart01.dat") == 0) {
		if (!m->via || !m->via->rport || m->via->rport_val != 0 || m->via->port != 5070) {
			fprintf(stderr, "    %s: top Via port 5070 with valueless rport expected\n", f);
			bad++;
		}
		check_num(f, "method id", m->meth, SPS_METHOD_MESSAGE, &bad);
	} else if (strcmp(f, "noreason.dat") == 0) {
		check_slice(f, "reason", m->reason, "", &bad);
	} else if (strcmp(f, "unreason.dat") == 0) {
		if (m->reason.l < 13 || memcmp(m->reason.p, "= 2**3 * 5**2", 13) != 0) {
			fprintf(stderr, "    %s: reason phrase \"%.*s\"\n", f, SPS_SLICE_FMT(m->reason));
			bad++;
		}
	} else if (strcmp(f, "longreq.dat") == 0) {
		check_num(f, "Max-Forwards", m->max_forwards, 70, &bad);
		if (!m->to || m->to->dname.l < 30) {
			fprintf(stderr, "    %s: long To display name missing\n", f);
			bad++;
		}
	}
	return bad;
}

/* Extra checks on the syntactically valid application-level messages. */
static int check_app_extra(const char *f, const struct sps_sip_msg *m)
{
	int bad = 0;
	const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, NULL);
	const struct sps_contact *c = h ? h->parsed : NULL;

	if (strcmp(f, "cparam01.dat") == 0) {
		/* addr-spec form: ;unknownparam is a Contact parameter */
		if (!c || c->na.angle) {
			fprintf(stderr, "    %s: Contact not parsed as addr-spec\n", f);
			return 1;
		}
		check_slice(f, "Contact URI params", c->na.uri.params, "", &bad);
		check_slice(f, "Contact params", c->na.params, "unknownparam", &bad);
		check_slice(f, "Contact URI user", c->na.uri.user, "+19725552222", &bad);
	} else if (strcmp(f, "cparam02.dat") == 0) {
		if (!c || !c->na.angle) {
			fprintf(stderr, "    %s: Contact not parsed as name-addr\n", f);
			return 1;
		}
		check_slice(f, "Contact URI params", c->na.uri.params, "unknownparam", &bad);
		check_slice(f, "Contact params", c->na.params, "", &bad);
	} else if (strcmp(f, "regescrt.dat") == 0) {
		if (!c) {
			fprintf(stderr, "    %s: Contact not parsed\n", f);
			return 1;
		}
		check_slice(f, "Contact URI headers", c->na.uri.headers,
			    "Route=%3Csip:sip.example.com%3E", &bad);
	} else if (strcmp(f, "unksm2.dat") == 0) {
		if (!m->to || m->to->uri.scheme != SPS_URI_OTHER || !m->from ||
		    m->from->uri.scheme != SPS_URI_OTHER || !c || c->na.uri.scheme != SPS_URI_OTHER) {
			fprintf(stderr, "    %s: isbn:/http:/name: URIs not parsed as other schemes\n",
				f);
			bad++;
		}
	} else if (strcmp(f, "bext01.dat") == 0) {
		check_num(f, "Require entries", m->count[SPS_HDR_REQUIRE], 2, &bad);
		check_num(f, "Proxy-Require entries", m->count[SPS_HDR_PROXY_REQUIRE], 2, &bad);
	} else if (strcmp(f, "regaut01.dat") == 0) {
		h = sps_sip_msg_hdr_next(m, SPS_HDR_AUTHORIZATION, NULL);
		const struct sps_auth *a = h ? h->parsed : NULL;
		if (a)
			check_slice(f, "auth scheme", a->scheme, "NoOneKnowsThisScheme", &bad);
	} else if (strcmp(f, "zeromf.dat") == 0) {
		check_num(f, "Max-Forwards", m->max_forwards, 0, &bad);
	} else if (strcmp(f, "bcast.dat") == 0) {
		check_num(f, "Via entries", m->count[SPS_HDR_VIA], 2, &bad);
	} else if (strcmp(f, "inv2543.dat") == 0) {
		check_num(f, "Max-Forwards", m->max_forwards, -1, &bad);
		if (m->via && m->via->branch.l) {
			fprintf(stderr, "    %s: Via has a branch\n", f);
			bad++;
		}
	}
	return bad;
}

/* Parse one file (a writable copy of exactly its size, so that ASan sees any
 * read past the end). Returns the parse result; *mp and *why as the parser sets them. */
static int parse_file(const char *path, struct sps_arena *a, char **bufp,
		      struct sps_sip_msg **mp, const char **why)
{
	size_t len = 0;
	char *data = sps_test_read_file(path, &len);
	if (!data)
		return -1;
	char *buf = malloc(len ? len : 1);
	if (!buf) {
		free(data);
		return -1;
	}
	memcpy(buf, data, len);
	free(data);
	*bufp = buf;
	*why = NULL;
	return sps_sip_msg_parse(buf, len, a, mp, why);
}

int test_sip_torture_rfc4475(void)
{
	char path[512], line[512];
	struct sps_arena *a = NULL;
	int failures = 0, files = 0, nvalid = 0;

	snprintf(path, sizeof(path), "%s/rfc4475/MANIFEST.tsv", sps_test_data_dir());
	FILE *mf = fopen(path, "r");
	if (!mf)
		TEST_FAIL("cannot open %s", path);
	ASSERT_INT_EQ(sps_arena_new(&a, 0), 0);

	while (fgets(line, sizeof(line), mf)) {
		char *file = strtok(line, "\t\r\n");
		char *sect = strtok(NULL, "\t\r\n");
		char *cls = strtok(NULL, "\t\r\n");
		if (!file || !sect || !cls || strcmp(file, "file") == 0)
			continue;
		files++;
		snprintf(path, sizeof(path), "%s/rfc4475/%s", sps_test_data_dir(), file);

		sps_arena_reset(a);
		char *buf = NULL;
		struct sps_sip_msg *m = NULL;
		const char *why = NULL;
		int rc = parse_file(path, a, &buf, &m, &why);
		if (rc < 0) {
			fprintf(stderr, "    %s: cannot read %s\n", file, path);
			failures++;
			continue;
		}
		const char *vwhy = NULL;
		unsigned st = rc == 0 ? sps_sip_msg_validate(m, &vwhy) : 0;

		if (strcmp(cls, "valid") == 0) {
			nvalid++;
			if (rc) {
				fprintf(stderr, "    %s (%s): parse failed (%d): %s\n", file, sect, rc,
					why ? why : "(no reason)");
				failures++;
			} else if (st) {
				fprintf(stderr, "    %s (%s): validate says %u %s\n", file, sect, st,
					vwhy ? vwhy : "(no reason)");
				failures++;
			} else {
				const struct torture_valid *v = find_valid(file);
				int bad = v ? check_valid(v, m) + check_extra(file, m) : 0;
				if (!v)
					fprintf(stderr, "    %s: no expectations in the table\n", file);
				if (!v || bad)
					failures++;
			}
		} else if (strcmp(cls, "invalid") == 0) {
			if (rc == 0 && st == 0) {
				fprintf(stderr, "    %s (%s): accepted, must be rejected (%s)\n", file,
					sect, strtok(NULL, "\t\r\n"));
				failures++;
			} else if ((rc && !why) || (!rc && !vwhy)) {
				fprintf(stderr, "    %s (%s): rejected without a reason\n", file, sect);
				failures++;
			} else if (rc && rc != EBADMSG && rc != EMSGSIZE) {
				fprintf(stderr, "    %s (%s): parse returned %d\n", file, sect, rc);
				failures++;
			}
		} else {
			/* transaction, application, compat: syntactically valid */
			const struct torture_app *t = find_app(file);
			if (rc) {
				fprintf(stderr, "    %s (%s, %s): parse failed (%d): %s\n", file, sect,
					cls, rc, why ? why : "(no reason)");
				failures++;
			} else if (!t) {
				fprintf(stderr, "    %s: no expectations in the table\n", file);
				failures++;
			} else if (st != t->ok[0] && st != t->ok[1]) {
				fprintf(stderr, "    %s (%s): validate says %u (%s), expected %u%s%.0u\n",
					file, sect, st, vwhy ? vwhy : "-", t->ok[0],
					t->ok[1] != t->ok[0] ? " or " : "",
					t->ok[1] != t->ok[0] ? t->ok[1] : 0);
				failures++;
			} else if (st && !vwhy) {
				fprintf(stderr, "    %s: validate status %u without a reason\n", file, st);
				failures++;
			} else if (check_app_extra(file, m)) {
				failures++;
			}
		}
		free(buf);
	}
	fclose(mf);
	sps_arena_free(a);

	if (files < 49 || nvalid != (int)(sizeof(valid) / sizeof(valid[0])))
		TEST_FAIL("MANIFEST.tsv lists %d files (%d valid), expected 49 (13 valid)", files,
			  nvalid);
	if (failures)
		TEST_FAIL("%d of %d RFC 4475 messages misbehave (listed above)", failures, files);
	return 0;
}
