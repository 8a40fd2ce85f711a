/* cli: `sipsec device add | list | show | del | config` - provisioned phones
 * and softphones (issue 8).
 *
 * A device is a MAC address (stored as 12 lowercase hex digits), a vendor
 * and model, the SIP users of its lines, one transport and one SRTP mode for
 * all lines, and its own provisioning user and password (generated; the HTTPS
 * provisioning server of `sipsec serve` checks them with HTTP digest or
 * basic). Phones take SIP passwords, not digest hashes, so each line stores
 * the SIP password put into the phone's configuration: `device add` gives the
 * line's user a new generated password (or, with --password-stdin, checks the
 * given one against the user's stored hashes and keeps it). The database is
 * 0600; these secrets are printed only by add, show and config. The device's
 * SRTP mode is also set as the media policy of its lines' users (users.srtp). */
#include "cli/cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "auth/digest.h"
#include "core/mbuf.h"
#include "provision/prov_store.h"
#include "provision/provision.h"
#include "server/server.h"
#include "store/store.h"

#define SECRET_LEN 20

static const char usage_text[] =
	"usage: sipsec device add MAC --vendor polycom|yealink|grandstream|generic --model MODEL\n"
	"                  --line USER [--line USER2 ...] [--transport T] [--srtp MODE]\n"
	"                  [--password-stdin] [--data DIR]\n"
	"       sipsec device list [--json] [--data DIR]\n"
	"       sipsec device show MAC [--json] [--data DIR]\n"
	"       sipsec device del MAC [--data DIR]\n"
	"       sipsec device config MAC [--data DIR]\n\n"
	"Phones provisioned by sipsec: it generates their configuration files (with the\n"
	"CA certificate they must trust) and serves them over HTTPS at\n"
	"https://DOMAIN:8443/prov/ (sipsec serve --https-port), to each phone only its own.\n\n"
	"  add      add a device; prints its provisioning user and password\n"
	"  list     every device: MAC, vendor, model, transport, SRTP, lines\n"
	"  show     one device, with its provisioning and line passwords\n"
	"  del      delete a device (its users stay)\n"
	"  config   print every file generated for the device, each headed by\n"
	"           '==> NAME <==', exactly as the phone downloads it\n\n"
	"options:\n"
	"  MAC               any common form: 00:04:f2:81:9f:a3, 00-04-F2-81-9F-A3,\n"
	"                    0004.f281.9fa3, 0004f2819fa3\n"
	"  --vendor V        polycom (UC Software 4.x/5.x and later), yealink,\n"
	"                    grandstream, or generic (a softphone such as Zoiper: add\n"
	"                    prints what to enter in it; no files)\n"
	"  --model MODEL     the phone model, e.g. VVX450 (optional for generic)\n"
	"  --line USER       the SIP user of the next line (an existing 'sipsec user');\n"
	"                    repeat for more lines (polycom 12, yealink 16, grandstream 4)\n"
	"  --transport T     UDPOnly, TCPOnly, TCPpreferred, TLS (default) or DNSnaptr\n"
	"  --srtp MODE       off, enable (accept SRTP), offer (offer SRTP, accept RTP),\n"
	"                    require (SRTP or no call; default)\n"
	"  --password-stdin  read each line's current SIP password from standard input,\n"
	"                    one per line in --line order, and keep it; without it each\n"
	"                    line's user gets a new generated password (printed)\n"
	"  --json            list, show: JSON output\n"
	"  --data DIR        data directory (default $SIPSEC_DATA, else ./sipsec-data)\n";

struct dev_args {
	const char *data;
	const char *vendor;
	const char *model;
	const char *transport;
	const char *srtp;
	const char *lines[SPS_DEVICE_LINES_MAX + 1];
	size_t nlines;
	bool pw_stdin;
	bool json;
	const char *mac; /* the positional MAC */
};

enum {
	OPT_DATA = 1,
	OPT_ADD = 2, /* --vendor --model --line --transport --srtp --password-stdin */
	OPT_JSON = 4,
};

static int usage_err(const char *cmd, const char *what, const char *arg)
{
	return sps_cli_fail(2, cmd, "%s%s%s; see 'sipsec device --help'", what, arg ? " " : "",
			    arg ? arg : "");
}

/* Parse argv[1..]; options in `allowed`; npos (0 or 1) positional MAC. */
static int parse_args(const char *cmd, int argc, char **argv, unsigned allowed, int npos,
		      struct dev_args *a)
{
	static const struct {
		const char *name;
		unsigned set;
		size_t off;
	} valopts[] = {
		{"--data", OPT_DATA, offsetof(struct dev_args, data)},
		{"--vendor", OPT_ADD, offsetof(struct dev_args, vendor)},
		{"--model", OPT_ADD, offsetof(struct dev_args, model)},
		{"--transport", OPT_ADD, offsetof(struct dev_args, transport)},
		{"--srtp", OPT_ADD, offsetof(struct dev_args, srtp)},
		{"--line", OPT_ADD, 0},
	};
	bool opts = true;
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (opts && strcmp(s, "--") == 0) {
			opts = false;
			continue;
		}
		if (opts && (allowed & OPT_ADD) && strcmp(s, "--password-stdin") == 0) {
			a->pw_stdin = true;
			continue;
		}
		if (opts && (allowed & OPT_JSON) && strcmp(s, "--json") == 0) {
			a->json = true;
			continue;
		}
		bool matched = false;
		for (size_t k = 0; opts && k < sizeof(valopts) / sizeof(valopts[0]); k++) {
			size_t n = strlen(valopts[k].name);
			if (!(allowed & valopts[k].set) || strncmp(s, valopts[k].name, n) != 0 ||
			    (s[n] != '\0' && s[n] != '='))
				continue;
			const char *v = s[n] == '=' ? s + n + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v || !*v)
				return usage_err(cmd, valopts[k].name, "needs a value");
			if (strcmp(valopts[k].name, "--line") == 0) {
				if (a->nlines >= SPS_DEVICE_LINES_MAX)
					return sps_cli_fail(1, cmd, "more than %d --line options",
							    SPS_DEVICE_LINES_MAX);
				a->lines[a->nlines++] = v;
			} else {
				*(const char **)((char *)a + valopts[k].off) = v;
			}
			matched = true;
			break;
		}
		if (matched)
			continue;
		if (opts && s[0] == '-' && s[1] != '\0')
			return usage_err(cmd, "unknown option", s);
		if (a->mac || npos == 0)
			return usage_err(cmd, "unexpected argument", s);
		a->mac = s;
	}
	if (!a->mac && npos == 1)
		return usage_err(cmd, "missing the device MAC", NULL);
	return 0;
}

static int bad_mac(const char *cmd, const char *mac)
{
	return sps_cli_fail(1, cmd,
			    "invalid MAC address '%s': give 12 hex digits, e.g. 00:04:f2:81:9f:a3 "
			    "or 0004f2819fa3",
			    mac);
}

/* "0004f2819fa3" -> "00:04:f2:81:9f:a3" */
static void mac_pretty(const char *mac, char out[18])
{
	size_t o = 0;
	for (size_t i = 0; i < 12; i++) {
		out[o++] = mac[i];
		if (i % 2 == 1 && i < 11)
			out[o++] = ':';
	}
	out[o] = '\0';
}

static int no_device(const char *cmd, const char *mac, const char *dir)
{
	char p[18];
	mac_pretty(mac, p);
	return sps_cli_fail(1, cmd, "no device %s in %s; see 'sipsec device list'", p, dir);
}

/* The machine's default domain, as `sipsec serve` would choose it. */
static void default_domain(const char *dir, char *out, size_t size)
{
	struct sps_server_conf sc;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.data, sizeof(sc.data), "%s", dir);
	sps_server_conf_finish(&sc);
	snprintf(out, size, "%s", sc.domain);
}

static bool ha1_matches(const struct sps_user *u, const char *pw)
{
	char h[SPS_HA1_SHA256_HEX + 1];
	bool ok;
	if (u->ha1_sha256[0])
		ok = sps_digest_ha1(SPS_DIGEST_SHA256, u->name, u->realm, pw, h, sizeof(h)) == 0 &&
		     strcmp(h, u->ha1_sha256) == 0;
	else
		ok = sps_digest_ha1(SPS_DIGEST_MD5, u->name, u->realm, pw, h, sizeof(h)) == 0 &&
		     strcmp(h, u->ha1_md5) == 0;
	OPENSSL_cleanse(h, sizeof(h));
	return ok;
}

/* A password without blanks or control characters fits every vendor format. */
static bool password_ok(const char *pw)
{
	if (!*pw)
		return false;
	for (const unsigned char *p = (const unsigned char *)pw; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* Model names: printable ASCII, no quotes, 1..63 characters. */
static bool model_ok(const char *m)
{
	size_t n = strlen(m);
	if (n == 0 || n >= sizeof(((struct sps_device *)0)->model))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)m[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			return false;
	}
	return true;
}

static void print_softphone(const struct sps_device *d, const struct sps_device_line *lines,
			    size_t n, struct sps_prov_env *env)
{
	struct sps_prov_line pl = {lines[0].user, lines[0].sip_password};
	struct sps_prov_device m = {.mac = d->mac, .vendor = d->vendor, .domain = env->domain,
				    .tls_port = env->tls_port, .lines = &pl, .nlines = 1};
	struct sps_mbuf out;
	(void)n;
	sps_prov_srtp_parse(d->srtp, &m.srtp);
	sps_mbuf_init(&out, 8192);
	char ca[1100];
	snprintf(ca, sizeof(ca), "cert.pem (export the CA: sipsec cert ca-export cert.pem; it is %s)",
		 env->ca_path);
	if (sps_prov_softphone_text(&m, ca, &out) == 0)
		fputs(out.buf, stdout);
	OPENSSL_cleanse(out.buf, out.len);
	sps_mbuf_free(&out);
}

/* Load the env for printing: CA missing is fine for add/show (no files). */
static void env_load_quiet(struct sps_prov_env *env, struct sps_store *st, const char *dir)
{
	char dom[256];
	default_domain(dir, dom, sizeof(dom));
	(void)sps_prov_env_load(env, st, dir, dom);
}

/* ---- add ---- */

static int device_add(int argc, char **argv)
{
	static const char cmd[] = "device add";
	struct dev_args a;
	struct sps_store *st = NULL;
	struct sps_device d;
	struct sps_device_line lines[SPS_DEVICE_LINES_MAX];
	struct sps_user users[SPS_DEVICE_LINES_MAX];
	struct sps_prov_env env;
	enum sps_prov_transport tp = SPS_PROV_TP_TLS;
	enum sps_prov_srtp srtp = SPS_PROV_SRTP_REQUIRE;
	int rc, status;
	bool env_loaded = false;

	if ((status = parse_args(cmd, argc, argv, OPT_DATA | OPT_ADD, 1, &a)))
		return status;
	memset(&d, 0, sizeof(d));
	memset(lines, 0, sizeof(lines));
	memset(users, 0, sizeof(users));
	if (sps_prov_mac_normalize(a.mac, d.mac))
		return bad_mac(cmd, a.mac);
	if (!a.vendor)
		return usage_err(cmd, "missing --vendor", sps_prov_vendor_names());
	const struct sps_prov_vendor *v = sps_prov_vendor_find(a.vendor);
	if (!v)
		return sps_cli_fail(1, cmd, "unknown vendor '%s': use polycom, yealink, grandstream "
					    "or generic",
				    a.vendor);
	if (!a.model && v->generate)
		return sps_cli_fail(2, cmd, "missing --model (e.g. --model %s); see 'sipsec device "
					    "--help'",
				    v->example_model);
	if (a.model && !model_ok(a.model))
		return sps_cli_fail(1, cmd, "invalid --model '%s': use 1 to 63 printable characters "
					    "without quotes",
				    a.model);
	if (a.transport && sps_prov_transport_parse(a.transport, &tp))
		return sps_cli_fail(1, cmd,
				    "invalid --transport '%s': use UDPOnly, TCPOnly, TCPpreferred, "
				    "TLS or DNSnaptr",
				    a.transport);
	if (a.srtp && sps_prov_srtp_parse(a.srtp, &srtp))
		return sps_cli_fail(1, cmd, "invalid --srtp '%s': use off, enable, offer or require",
				    a.srtp);
	if (a.nlines == 0)
		return usage_err(cmd, "missing --line USER (the SIP user of the phone's first line)",
				 NULL);
	if (a.nlines > v->max_lines)
		return sps_cli_fail(1, cmd, "%zu lines given; %s devices take at most %u", a.nlines,
				    v->name, v->max_lines);
	for (size_t i = 0; i < a.nlines; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(a.lines[i], a.lines[k]) == 0)
				return sps_cli_fail(1, cmd, "--line %s given twice; give each user "
							    "once",
						    a.lines[i]);
	const char *dir = sps_cli_data_dir(a.data);
	if ((status = sps_cli_open_store(cmd, dir, true, &st)))
		return status;

	rc = sps_store_device_get(st, d.mac, &d);
	if (rc == 0) {
		char p[18];
		mac_pretty(d.mac, p);
		status = sps_cli_fail(1, cmd,
				      "device %s already exists; delete it first with 'sipsec device "
				      "del %s'",
				      p, p);
		goto out;
	}
	if (rc != ENOENT) {
		status = sps_cli_store_fail(cmd, dir, rc);
		goto out;
	}
	for (size_t i = 0; i < a.nlines; i++) {
		rc = sps_store_user_get(st, a.lines[i], &users[i]);
		if (rc == ENOENT) {
			status = sps_cli_fail(1, cmd,
					      "no user %s in %s; add it first with 'sipsec user add "
					      "%s'",
					      a.lines[i], dir, a.lines[i]);
			goto out;
		}
		if (rc) {
			status = sps_cli_store_fail(cmd, dir, rc);
			goto out;
		}
	}
	/* the line passwords: given and checked, or new */
	for (size_t i = 0; i < a.nlines; i++) {
		lines[i].idx = (unsigned)i + 1;
		snprintf(lines[i].user, sizeof(lines[i].user), "%s", users[i].name);
		if (a.pw_stdin) {
			rc = sps_cli_read_line(lines[i].sip_password, sizeof(lines[i].sip_password));
			if (rc == ENODATA) {
				status = sps_cli_fail(1, cmd,
						      "--password-stdin: no password for line %zu "
						      "(%s) on standard input; give one per line",
						      i + 1, users[i].name);
				goto out;
			}
			if (rc == EOVERFLOW || (!rc && !password_ok(lines[i].sip_password))) {
				status = sps_cli_fail(1, cmd,
						      "the password of %s cannot go into a phone "
						      "config (empty, blanks or over %d bytes); set "
						      "another with 'sipsec user passwd %s' or leave "
						      "out --password-stdin",
						      users[i].name, SPS_DEVICE_PW_MAX, users[i].name);
				goto out;
			}
			if (rc) {
				status = sps_cli_fail(1, cmd, "cannot read the password: %s",
						      strerror(rc));
				goto out;
			}
			if (!ha1_matches(&users[i], lines[i].sip_password)) {
				status = sps_cli_fail(1, cmd,
						      "the password given for %s is not the user's "
						      "password; check it, or leave out "
						      "--password-stdin to give %s a new one",
						      users[i].name, users[i].name);
				goto out;
			}
		} else if ((rc = sps_prov_secret(lines[i].sip_password, SECRET_LEN)) ||
			   (rc = sps_digest_ha1(SPS_DIGEST_MD5, users[i].name, users[i].realm,
						lines[i].sip_password, users[i].ha1_md5,
						sizeof(users[i].ha1_md5))) ||
			   (rc = sps_digest_ha1(SPS_DIGEST_SHA256, users[i].name, users[i].realm,
						lines[i].sip_password, users[i].ha1_sha256,
						sizeof(users[i].ha1_sha256)))) {
			status = sps_cli_fail(1, cmd, "cannot make a password: %s", strerror(rc));
			goto out;
		}
	}
	snprintf(d.vendor, sizeof(d.vendor), "%s", v->name);
	snprintf(d.model, sizeof(d.model), "%s", a.model ? a.model : "");
	snprintf(d.transport, sizeof(d.transport), "%s", sps_prov_transport_name(tp));
	snprintf(d.srtp, sizeof(d.srtp), "%s", sps_prov_srtp_name(srtp));
	snprintf(d.prov_user, sizeof(d.prov_user), "prov-%s", d.mac);
	if ((rc = sps_prov_secret(d.prov_password, SECRET_LEN))) {
		status = sps_cli_fail(1, cmd, "cannot make a password: %s", strerror(rc));
		goto out;
	}
	d.created = (int64_t)time(NULL);

	/* new user passwords and the device in one transaction */
	rc = sps_store_begin(st);
	if (!rc)
		rc = sps_store_device_add(st, &d, lines, a.nlines); /* all or nothing */
	bool added = rc == 0;
	/* the device's SRTP mode becomes its lines' media policy (issue 6) */
	for (size_t i = 0; !rc && i < a.nlines; i++) {
		snprintf(users[i].srtp, sizeof(users[i].srtp), "%s", d.srtp);
		rc = sps_store_user_update(st, &users[i]);
	}
	if (rc && added)
		sps_store_device_del(st, d.mac); /* no device with passwords its users lack */
	int crc = sps_store_commit(st);
	if (!rc)
		rc = crc;
	if (rc == EEXIST) {
		status = sps_cli_fail(1, cmd, "device %s was added by someone else meanwhile", a.mac);
		goto out;
	}
	if (rc) {
		status = sps_cli_store_fail(cmd, dir, rc);
		goto out;
	}

	char p[18];
	mac_pretty(d.mac, p);
	env_load_quiet(&env, st, dir);
	env_loaded = true;
	printf("added %s device %s%s%s, %zu line(s), transport %s, SRTP %s\n", d.vendor, p,
	       d.model[0] ? " model " : "", d.model, a.nlines, d.transport, d.srtp);
	if (!a.pw_stdin)
		for (size_t i = 0; i < a.nlines; i++)
			printf("note: %s's SIP password was replaced by a generated one for the "
			       "phone: %s\n",
			       lines[i].user, lines[i].sip_password);
	printf("media policy of %s: SRTP %s (the device's mode)\n",
	       a.nlines == 1 ? lines[0].user : "its lines' users", d.srtp);
	if (v->generate) {
		printf("provisioning URL:      https://%s:%u/prov/\n", env.domain,
		       (unsigned)env.https_port);
		printf("provisioning user:     %s\n", d.prov_user);
		printf("provisioning password: %s\n", d.prov_password);
	} else {
		print_softphone(&d, lines, a.nlines, &env);
	}
	if (tp != SPS_PROV_TP_TLS && srtp != SPS_PROV_SRTP_OFF)
		fprintf(stderr,
			"sipsec %s: note: SRTP keys (SDES) are sent only over TLS, so with transport "
			"%s the phone cannot get encrypted calls; use --transport TLS\n",
			cmd, d.transport);
out:
	if (env_loaded)
		sps_prov_env_free(&env);
	OPENSSL_cleanse(lines, sizeof(lines));
	OPENSSL_cleanse(users, sizeof(users));
	OPENSSL_cleanse(&d, sizeof(d));
	sps_store_close(st);
	return status;
}

/* ---- list / show ---- */

struct list_ctx {
	struct sps_store *st;
	json_t *arr;
	int err;
};

static json_t *lines_json(struct sps_store *st, const char *mac, bool secrets, int *err)
{
	struct sps_device_line lines[SPS_DEVICE_LINES_MAX];
	size_t n = 0;
	json_t *arr = json_array();
	*err = sps_store_device_lines(st, mac, lines, SPS_DEVICE_LINES_MAX, &n);
	for (size_t i = 0; !*err && arr && i < n; i++) {
		json_t *o = secrets ? json_pack("{s:i, s:s, s:s}", "line", (int)lines[i].idx, "user",
						lines[i].user, "sip_password",
						lines[i].sip_password)
				    : json_pack("{s:i, s:s}", "line", (int)lines[i].idx, "user",
						lines[i].user);
		json_array_append_new(arr, o);
	}
	OPENSSL_cleanse(lines, sizeof(lines));
	return arr;
}

static json_t *device_json(struct sps_store *st, const struct sps_device *d, bool secrets,
			   int *err)
{
	char p[18];
	mac_pretty(d->mac, p);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "mac", d->mac,
			      "mac_colon", p, "vendor", d->vendor, "model", d->model, "transport",
			      d->transport, "srtp", d->srtp, "prov_user", d->prov_user, "created",
			      (json_int_t)d->created);
	if (!o)
		return NULL;
	if (secrets)
		json_object_set_new(o, "prov_password", json_string(d->prov_password));
	json_object_set_new(o, "lines", lines_json(st, d->mac, secrets, err));
	return o;
}

static int list_one(const struct sps_device *d, void *arg)
{
	struct list_ctx *lc = arg;
	if (lc->arr) {
		json_array_append_new(lc->arr, device_json(lc->st, d, false, &lc->err));
		return lc->err;
	}
	struct sps_device_line lines[SPS_DEVICE_LINES_MAX];
	size_t n = 0;
	char p[18];
	lc->err = sps_store_device_lines(lc->st, d->mac, lines, SPS_DEVICE_LINES_MAX, &n);
	mac_pretty(d->mac, p);
	printf("%-17s  %-11s  %-12s  %-12s  %-7s  ", p, d->vendor, d->model[0] ? d->model : "-",
	       d->transport, d->srtp);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", lines[i].user);
	printf("\n");
	OPENSSL_cleanse(lines, sizeof(lines));
	return lc->err;
}

static int device_list(int argc, char **argv)
{
	static const char cmd[] = "device list";
	struct dev_args a;
	struct sps_store *st = NULL;
	int status;
	if ((status = parse_args(cmd, argc, argv, OPT_DATA | OPT_JSON, 0, &a)))
		return status;
	const char *dir = sps_cli_data_dir(a.data);
	if ((status = sps_cli_open_store(cmd, dir, true, &st)))
		return status;
	struct list_ctx lc = {st, a.json ? json_array() : NULL, 0};
	if (!a.json)
		printf("%-17s  %-11s  %-12s  %-12s  %-7s  %s\n", "MAC", "VENDOR", "MODEL",
		       "TRANSPORT", "SRTP", "LINES");
	int rc = sps_store_device_each(st, list_one, &lc);
	if (rc) {
		status = sps_cli_store_fail(cmd, dir, rc);
	} else if (a.json) {
		char *s = json_dumps(lc.arr, JSON_INDENT(2));
		if (s) {
			puts(s);
			free(s);
		}
	}
	json_decref(lc.arr);
	sps_store_close(st);
	return status;
}

/* Open the store and fetch the device named by a.mac. */
static int get_device(const char *cmd, struct dev_args *a, struct sps_store **st,
		      struct sps_device *d)
{
	char mac[13];
	int status;
	if (sps_prov_mac_normalize(a->mac, mac))
		return bad_mac(cmd, a->mac);
	const char *dir = sps_cli_data_dir(a->data);
	if ((status = sps_cli_open_store(cmd, dir, true, st)))
		return status;
	int rc = sps_store_device_get(*st, mac, d);
	if (rc == ENOENT)
		status = no_device(cmd, mac, dir);
	else if (rc)
		status = sps_cli_store_fail(cmd, dir, rc);
	if (status) {
		sps_store_close(*st);
		*st = NULL;
	}
	return status;
}

static int device_show(int argc, char **argv)
{
	static const char cmd[] = "device show";
	struct dev_args a;
	struct sps_store *st = NULL;
	struct sps_device d;
	struct sps_device_line lines[SPS_DEVICE_LINES_MAX];
	struct sps_prov_env env;
	size_t n = 0;
	int status, rc = 0;

	if ((status = parse_args(cmd, argc, argv, OPT_DATA | OPT_JSON, 1, &a)))
		return status;
	if ((status = get_device(cmd, &a, &st, &d)))
		return status;
	const char *dir = sps_cli_data_dir(a.data);
	env_load_quiet(&env, st, dir);
	if (a.json) {
		json_t *o = device_json(st, &d, true, &rc);
		if (o && !rc) {
			char url[400];
			snprintf(url, sizeof(url), "https://%s:%u/prov/", env.domain,
				 (unsigned)env.https_port);
			json_object_set_new(o, "provisioning_url", json_string(url));
			char *s = json_dumps(o, JSON_INDENT(2));
			if (s) {
				puts(s);
				OPENSSL_cleanse(s, strlen(s));
				free(s);
			}
		}
		json_decref(o);
		if (rc)
			status = sps_cli_store_fail(cmd, dir, rc);
		goto out;
	}
	rc = sps_store_device_lines(st, d.mac, lines, SPS_DEVICE_LINES_MAX, &n);
	if (rc) {
		status = sps_cli_store_fail(cmd, dir, rc);
		goto out;
	}
	char p[18];
	mac_pretty(d.mac, p);
	printf("device:                %s\n", p);
	printf("vendor:                %s\n", d.vendor);
	printf("model:                 %s\n", d.model[0] ? d.model : "-");
	printf("transport:             %s\n", d.transport);
	printf("SRTP:                  %s\n", d.srtp);
	for (size_t i = 0; i < n; i++)
		printf("line %-2u               %s (SIP password %s)\n", lines[i].idx, lines[i].user,
		       lines[i].sip_password);
	if (sps_prov_vendor_find(d.vendor) && sps_prov_vendor_find(d.vendor)->generate) {
		printf("provisioning URL:      https://%s:%u/prov/\n", env.domain,
		       (unsigned)env.https_port);
		printf("provisioning user:     %s\n", d.prov_user);
		printf("provisioning password: %s\n", d.prov_password);
	} else if (n) {
		print_softphone(&d, lines, n, &env);
	}
out:
	sps_prov_env_free(&env);
	OPENSSL_cleanse(lines, sizeof(lines));
	OPENSSL_cleanse(&d, sizeof(d));
	sps_store_close(st);
	return status;
}

static int device_del(int argc, char **argv)
{
	static const char cmd[] = "device del";
	struct dev_args a;
	struct sps_store *st = NULL;
	struct sps_device d;
	int status;
	if ((status = parse_args(cmd, argc, argv, OPT_DATA, 1, &a)))
		return status;
	if ((status = get_device(cmd, &a, &st, &d)))
		return status;
	const char *dir = sps_cli_data_dir(a.data);
	int rc = sps_store_device_del(st, d.mac);
	char p[18];
	mac_pretty(d.mac, p);
	if (rc == ENOENT)
		status = no_device(cmd, d.mac, dir);
	else if (rc)
		status = sps_cli_store_fail(cmd, dir, rc);
	else
		printf("deleted device %s (its users stay)\n", p);
	OPENSSL_cleanse(&d, sizeof(d));
	sps_store_close(st);
	return status;
}

static int device_config(int argc, char **argv)
{
	static const char cmd[] = "device config";
	struct dev_args a;
	struct sps_store *st = NULL;
	struct sps_device d;
	struct sps_prov_env env;
	struct sps_prov_files files;
	int status;
	if ((status = parse_args(cmd, argc, argv, OPT_DATA, 1, &a)))
		return status;
	if ((status = get_device(cmd, &a, &st, &d)))
		return status;
	const char *dir = sps_cli_data_dir(a.data);
	char dom[256];
	default_domain(dir, dom, sizeof(dom));
	int rc = sps_prov_env_load(&env, st, dir, dom);
	if (rc == ENOENT) {
		status = sps_cli_fail(1, cmd,
				      "no CA certificate in %s/certs yet: start 'sipsec serve' once "
				      "(it creates the CA), then try again",
				      dir);
		goto out;
	}
	if (rc) {
		status = sps_cli_fail(1, cmd, "cannot read the CA certificate %s: %s", env.ca_path,
				      strerror(rc));
		goto out;
	}
	unsigned stale = 0;
	rc = sps_prov_device_files(st, &d, &env, &files, &stale);
	if (rc == ENOTSUP) {
		struct sps_device_line lines[SPS_DEVICE_LINES_MAX];
		size_t n = 0;
		if (sps_store_device_lines(st, d.mac, lines, SPS_DEVICE_LINES_MAX, &n) == 0 && n) {
			printf("# %s is a softphone (generic): no files; set it up by hand\n", d.mac);
			print_softphone(&d, lines, n, &env);
		}
		OPENSSL_cleanse(lines, sizeof(lines));
		goto out;
	}
	if (rc) {
		status = rc == EINVAL ? sps_cli_fail(1, cmd,
						     "the settings of %s cannot be written for %s "
						     "phones (check the domain and the lines)",
						     d.mac, d.vendor)
				      : sps_cli_store_fail(cmd, dir, rc);
		goto out;
	}
	for (size_t i = 0; i < files.n; i++) {
		printf("%s==> %s <==\n", i ? "\n" : "", files.f[i].name);
		fwrite(files.f[i].body.buf, 1, files.f[i].body.len, stdout);
	}
	sps_prov_files_free(&files);
	if (stale)
		fprintf(stderr,
			"sipsec %s: warning: %u line(s) of %s carry a SIP password that is no longer "
			"the user's (changed with 'sipsec user passwd'?); delete and add the device "
			"again\n",
			cmd, stale, d.mac);
out:
	sps_prov_env_free(&env);
	OPENSSL_cleanse(&d, sizeof(d));
	sps_store_close(st);
	return status;
}

int sps_cmd_device(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0 ||
	    sps_cli_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(sub, "add") == 0)
		return device_add(argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0)
		return device_list(argc - 1, argv + 1);
	if (strcmp(sub, "show") == 0)
		return device_show(argc - 1, argv + 1);
	if (strcmp(sub, "del") == 0)
		return device_del(argc - 1, argv + 1);
	if (strcmp(sub, "config") == 0)
		return device_config(argc - 1, argv + 1);
	return sps_cli_fail(2, "device", "unknown subcommand '%s'; use add, list, show, del or "
					 "config (see 'sipsec device --help')",
			    sub);
}
