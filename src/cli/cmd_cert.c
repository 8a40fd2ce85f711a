/* cli: `sipsec cert show | ca-export | import | renew | rollback` - the
 * certificates of sipsec (DESIGN.md: "built-in CA, one command to export it";
 * issue 7: replacing the certificate safely). A running server picks up what
 * import, renew and rollback write within a second (server.c). */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/mbuf.h"
#include "pki/pki.h"
#include "server/server.h"
#include "store/store.h"

#define CERT_PEM_MAX (256 * 1024)

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: sipsec cert show [--json] [--domain NAME] [--data DIR]\n"
	       "       sipsec cert ca-export [FILE] [--data DIR]\n"
	       "       sipsec cert import --cert FILE [--key FILE] [--chain FILE]\n"
	       "                          [--allow-wildcard] [--domain NAME] [--data DIR]\n"
	       "       sipsec cert renew [--data DIR]\n"
	       "       sipsec cert rollback [--data DIR]\n\n"
	       "  show       every certificate in use: the SIP server certificate (HTTPS uses\n"
	       "             the same), its chain, the CA, and the one rollback would restore:\n"
	       "             subject, names, issuer, key, validity, days left, SHA-256\n"
	       "             fingerprint, and the result of each import check\n"
	       "  ca-export  write the built-in CA certificate (PEM) to FILE, or to stdout;\n"
	       "             import it into softphones (Zoiper, Linphone, baresip) as their\n"
	       "             trusted CA\n"
	       "  import     replace the SIP certificate with one from your CA (PEM files; one\n"
	       "             file may hold key, certificate and chain). Refused, and nothing\n"
	       "             changed, when the key does not match, the chain is incomplete or\n"
	       "             out of order, a certificate is expired or not yet valid, the SIP\n"
	       "             domain is not a subjectAltName, it is a wildcard, the key is weaker\n"
	       "             than RSA 2048 / P-256, a signature uses SHA-1 or MD5, or\n"
	       "             extendedKeyUsage lacks serverAuth. Warns when it expires within\n"
	       "             30 days. The certificate in use is kept for rollback\n"
	       "  renew      re-issue the SIP certificate from the built-in CA: same names, new\n"
	       "             key (serve does this by itself 30 days before expiry)\n"
	       "  rollback   go back to the certificate in use before the last import, renew\n"
	       "             or rollback\n\n"
	       "  --cert FILE        the server certificate, optionally followed by its chain\n"
	       "  --key FILE         its private key (unencrypted PEM)\n"
	       "  --chain FILE       intermediate CA certificates, each followed by its issuer\n"
	       "  --allow-wildcard   accept a wildcard certificate (Polycom phones reject them)\n"
	       "  --domain NAME      the SIP domain to check against (default: the one the server\n"
	       "                     recorded in the data dir, else the host name)\n"
	       "  --json             show: print a JSON object instead\n"
	       "  --data DIR         data directory (default $SIPSEC_DATA, else ./sipsec-data)\n\n"
	       "A running 'sipsec serve' uses a new certificate for new TLS connections within a\n"
	       "second; established connections, registrations and calls continue.\n");
}

enum {
	OPT_JSON = 1 << 0,
	OPT_DOMAIN = 1 << 1,
	OPT_IMPORT = 1 << 2, /* --cert --key --chain --allow-wildcard */
};

/* Options of the cert subcommands. */
struct cert_args {
	const char *data;
	const char *domain;
	const char *cert, *key, *chain;
	bool json, allow_wildcard;
	const char *pos[2];
	int npos;
};

/* Parse argv[1..] (argv[0] is the sub-subcommand), accepting the options in
 * allowed. Returns 0 or 2 (after printing the usage error). */
static int parse_args(const char *cmd, int argc, char **argv, int maxpos, unsigned allowed,
		      struct cert_args *a)
{
	static const struct {
		const char *name;
		unsigned opt;
		size_t off;
		const char *arg;
	} valued[] = {
	    {"--data", 0, offsetof(struct cert_args, data), "a directory"},
	    {"--domain", OPT_DOMAIN, offsetof(struct cert_args, domain), "a name"},
	    {"--cert", OPT_IMPORT, offsetof(struct cert_args, cert), "a file"},
	    {"--key", OPT_IMPORT, offsetof(struct cert_args, key), "a file"},
	    {"--chain", OPT_IMPORT, offsetof(struct cert_args, chain), "a file"},
	};
	bool opts = true;
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		bool done = false;
		if (opts && strcmp(s, "--") == 0) {
			opts = false;
			continue;
		}
		for (size_t v = 0; opts && !done && v < sizeof(valued) / sizeof(valued[0]); v++) {
			size_t n = strlen(valued[v].name);
			if (strncmp(s, valued[v].name, n) != 0 || (s[n] != '\0' && s[n] != '='))
				continue;
			if (valued[v].opt && !(allowed & valued[v].opt))
				break;
			const char **dst = (const char **)((char *)a + valued[v].off);
			if (s[n] == '=') {
				*dst = s + n + 1;
			} else if (i + 1 >= argc) {
				return sps_cli_fail(2, cmd, "%s needs %s", valued[v].name,
						    valued[v].arg);
			} else {
				*dst = argv[++i];
			}
			if (!**dst)
				return sps_cli_fail(2, cmd, "%s needs %s", valued[v].name,
						    valued[v].arg);
			done = true;
		}
		if (done)
			continue;
		if (opts && (allowed & OPT_JSON) && strcmp(s, "--json") == 0) {
			a->json = true;
		} else if (opts && (allowed & OPT_IMPORT) && strcmp(s, "--allow-wildcard") == 0) {
			a->allow_wildcard = true;
		} else if (opts && s[0] == '-' && s[1] != '\0') {
			return sps_cli_fail(2, cmd, "unknown option '%s'; see 'sipsec cert --help'",
					    s);
		} else if (a->npos < maxpos) {
			a->pos[a->npos++] = s;
		} else {
			return sps_cli_fail(
			    2, cmd, "unexpected argument '%s'; see 'sipsec cert --help'", s);
		}
	}
	return 0;
}

static int no_certs(const char *cmd, const struct sps_pki_paths *p)
{
	return sps_cli_fail(1, cmd,
			    "no certificates in %s; start 'sipsec serve' once (it creates the "
			    "CA), or pass --data DIR",
			    p->dir);
}

static int read_fail(const char *cmd, const char *path, int rc)
{
	if (rc == EBADMSG)
		return sps_cli_fail(1, cmd, "%s holds no PEM certificate; restore it from a backup",
				    path);
	return sps_cli_fail(1, cmd, "cannot read %s: %s", path, strerror(rc));
}

/* The SIP domain the checks use: --domain, else the realm the server recorded
 * (DATA/sipsec.db, not created here), else the server's default. */
static void domain_of(const char *dir, const char *flag, char *buf, size_t size)
{
	char db[SPS_PATH_MAX + 16];
	struct sps_store *st = NULL;
	if (flag) {
		snprintf(buf, size, "%s", flag);
		return;
	}
	snprintf(db, sizeof(db), "%s/sipsec.db", dir);
	if (access(db, F_OK) == 0 && sps_store_open(&st, dir, NULL) == 0) {
		int rc = sps_store_setting_get(st, "realm", buf, size);
		sps_store_close(st);
		if (rc == 0)
			return;
	}
	struct sps_server_conf sc;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.data, sizeof(sc.data), "%s", dir);
	sps_server_conf_finish(&sc);
	snprintf(buf, size, "%s", sc.domain);
}

static const char *verdict_word(enum sps_pki_verdict v)
{
	return v == SPS_PKI_PASS ? "pass" : v == SPS_PKI_WARN ? "warn" : "fail";
}

/* ---- show ---- */

static void text_cert(const char *title, const char *path, const struct sps_pki_certinfo *ci)
{
	printf("%s (%s)\n", title, path);
	printf("  subject:     %s\n", ci->subject);
	printf("  SANs:        ");
	if (!ci->sans[0])
		printf("(none)");
	for (const char *p = ci->sans; *p;) {
		size_t n = strcspn(p, "\n");
		printf("%s%.*s", p == ci->sans ? "" : ", ", (int)n, p);
		p += n + (p[n] == '\n');
	}
	printf("\n  issuer:      %s%s\n", ci->issuer, ci->self_signed ? " (self-signed)" : "");
	printf("  key:         %s\n", ci->key);
	printf("  not before:  %s\n", ci->not_before);
	printf("  not after:   %s\n", ci->not_after);
	if (ci->days_left < 0)
		printf("  days left:   EXPIRED %ld days ago\n", -ci->days_left);
	else
		printf("  days left:   %ld\n", ci->days_left);
	printf("  sha256:      %s\n", ci->sha256);
}

static json_t *json_cert(const char *role, const char *path, const struct sps_pki_certinfo *ci)
{
	json_t *sans = json_array();
	for (const char *p = ci->sans; *p;) {
		size_t n = strcspn(p, "\n");
		json_array_append_new(sans, json_stringn(p, n));
		p += n + (p[n] == '\n');
	}
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:b, s:b, s:s, s:s, s:s, s:I, s:s}", "role",
			 role, "file", path, "subject", ci->subject, "sans", sans, "issuer",
			 ci->issuer, "self_signed", ci->self_signed, "ca", ci->is_ca, "key",
			 ci->key, "not_before", ci->not_before, "not_after", ci->not_after,
			 "days_left", (json_int_t)ci->days_left, "sha256", ci->sha256);
}

/* Describe the first certificate of a PEM file. */
static int file_info(const char *path, struct sps_pki_certinfo *ci)
{
	struct sps_pki_bundle *b = NULL;
	char why[SPS_PKI_WHY_MAX];
	int rc = sps_pki_bundle_add_file(&b, path, why, sizeof(why));
	if (rc == 0 && sps_pki_bundle_info(b, 0, ci) != 0)
		rc = EBADMSG;
	sps_pki_bundle_free(b);
	return rc == 0 || rc == ENOENT || rc == EACCES ? rc : EBADMSG;
}

static int cert_show(int argc, char **argv)
{
	static const char cmd[] = "cert show";
	struct cert_args a;
	struct sps_pki_paths p;
	struct sps_pki_bundle *b = NULL;
	struct sps_pki_certinfo ci, ca;
	struct sps_pki_report rep;
	char domain[256];
	bool have_rep = false, have_ca = false;
	int rc, status = 0;

	if ((rc = parse_args(cmd, argc, argv, 0, OPT_JSON | OPT_DOMAIN, &a)) != 0)
		return rc;
	const char *dir = sps_cli_data_dir(a.data);
	if (sps_pki_paths(dir, &p) != 0)
		return sps_cli_fail(1, cmd, "data directory path too long: %s", dir);
	if (access(p.sip_cert, F_OK) != 0 && access(p.ca_cert, F_OK) != 0)
		return no_certs(cmd, &p);
	domain_of(dir, a.domain, domain, sizeof(domain));

	rc = sps_pki_bundle_current(&p, &b);
	if (rc != 0) {
		status = rc == EBADMSG
			     ? sps_cli_fail(1, cmd,
					    "%s or %s does not hold a PEM certificate "
					    "and its key; 'sipsec cert rollback' restores "
					    "the previous pair",
					    p.sip_cert, p.sip_key)
			     : read_fail(cmd, p.sip_cert, rc);
		goto out;
	}
	struct sps_pki_check_opts o = {
	    .domain = domain, .ca_file = p.ca_cert, .system_store = true};
	have_rep = sps_pki_check(b, &o, &rep) == 0;
	rc = file_info(p.ca_cert, &ca);
	have_ca = rc == 0;
	if (rc != 0 && rc != ENOENT) {
		status = read_fail(cmd, p.ca_cert, rc);
		goto out;
	}
	struct sps_pki_certinfo prev;
	bool have_prev = file_info(p.prev_cert, &prev) == 0;
	int n = sps_pki_bundle_count(b);

	if (a.json) {
		json_t *certs = json_array(), *checks = json_array();
		for (int i = 0; i < n; i++) {
			sps_pki_bundle_info(b, i, &ci);
			json_array_append_new(certs,
					      json_cert(i ? "chain" : "sip", p.sip_cert, &ci));
		}
		if (have_ca) {
			json_t *j = json_cert("ca", p.ca_cert, &ca);
			json_object_set_new(j, "expiry_warning",
					    ca.days_left < SPS_PKI_CA_WARN_DAYS ? json_true()
										: json_false());
			json_array_append_new(certs, j);
		}
		for (int i = 0; have_rep && i < SPS_PKI_NCHECKS; i++)
			json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name",
								sps_pki_check_name(i), "result",
								verdict_word(rep.r[i].verdict),
								"detail", rep.r[i].text));
		json_t *root = json_pack(
		    "{s:s, s:s, s:o, s:o, s:o}", "domain", domain, "https",
		    "same certificate as SIP", "certificates", certs, "checks", checks, "previous",
		    have_prev ? json_cert("previous", p.prev_cert, &prev) : json_null());
		if (!root || json_dumpf(root, stdout, JSON_INDENT(2)) != 0 || printf("\n") < 0)
			status = sps_cli_fail(1, cmd, "cannot write to stdout");
		json_decref(root);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char title[64];
		sps_pki_bundle_info(b, i, &ci);
		if (i == 0)
			snprintf(title, sizeof(title), "SIP server certificate, also for HTTPS");
		else
			snprintf(title, sizeof(title), "%sChain certificate %d", "\n", i);
		text_cert(title, p.sip_cert, &ci);
	}
	if (have_rep) {
		printf("  checks (SIP domain %s):\n", domain);
		for (int i = 0; i < SPS_PKI_NCHECKS; i++)
			printf("    %-13s %-4s  %s\n", sps_pki_check_name(i),
			       verdict_word(rep.r[i].verdict), rep.r[i].text);
	}
	if (have_ca) {
		printf("\n");
		text_cert("CA certificate (built-in)", p.ca_cert, &ca);
		if (ca.days_left < SPS_PKI_CA_WARN_DAYS)
			printf("  WARNING:     the CA expires in %ld days; phones stop trusting "
			       "sipsec then: plan a new CA\n",
			       ca.days_left);
	}
	if (have_prev)
		printf(
		    "\nPrevious certificate, for 'sipsec cert rollback' (%s)\n  subject:     %s\n"
		    "  not after:   %s\n  sha256:      %s\n",
		    p.prev_cert, prev.subject, prev.not_after, prev.sha256);
out:
	sps_pki_bundle_free(b);
	fflush(stdout);
	return status;
}

/* ---- ca-export ---- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int cert_ca_export(int argc, char **argv)
{
	static const char cmd[] = "cert ca-export";
	struct cert_args a;
	struct sps_pki_paths p;
	struct sps_mbuf mb;
	int rc;

	if ((rc = parse_args(cmd, argc, argv, 1, 0, &a)) != 0)
		return rc;
	const char *dir = sps_cli_data_dir(a.data);
	const char *file = a.npos ? a.pos[0] : NULL;
	if (sps_pki_paths(dir, &p) != 0)
		return sps_cli_fail(1, cmd, "data directory path too long: %s", dir);
	sps_mbuf_init(&mb, CERT_PEM_MAX);
	rc = sps_pki_cert_pem(p.ca_cert, &mb);
	if (rc == ENOENT) {
		rc = no_certs(cmd, &p);
		goto out;
	}
	if (rc != 0) {
		rc = read_fail(cmd, p.ca_cert, rc);
		goto out;
	}
	if (!file || strcmp(file, "-") == 0) {
		if (fwrite(mb.buf, 1, mb.len, stdout) != mb.len || fflush(stdout) != 0)
			rc = sps_cli_fail(1, cmd, "cannot write to stdout: %s", strerror(errno));
		goto out;
	}
	/* The CA certificate is public: 0644 whatever the umask. */
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = sps_cli_fail(1, cmd, "cannot create %s: %s", file, strerror(errno));
		goto out;
	}
	rc = fchmod(fd, 0644) != 0 ? errno : 0;
	if (rc == 0)
		rc = write_all(fd, mb.buf, mb.len);
	if (close(fd) != 0 && rc == 0)
		rc = errno;
	if (rc != 0)
		rc = sps_cli_fail(1, cmd, "cannot write %s: %s", file, strerror(rc));
out:
	sps_mbuf_free(&mb);
	return rc;
}

/* ---- import, renew, rollback ---- */

static int cert_import(int argc, char **argv)
{
	static const char cmd[] = "cert import";
	struct cert_args a;
	struct sps_pki_paths p;
	struct sps_pki_bundle *b = NULL;
	struct sps_pki_report rep;
	struct sps_pki_certinfo ci;
	char why[SPS_PKI_WHY_MAX], domain[256];
	int rc, status = 0;

	if ((rc = parse_args(cmd, argc, argv, 0, OPT_IMPORT | OPT_DOMAIN, &a)) != 0)
		return rc;
	if (!a.cert)
		return sps_cli_fail(2, cmd,
				    "--cert FILE is required (PEM: the certificate, or "
				    "key, certificate and chain in one file)");
	const char *dir = sps_cli_data_dir(a.data);
	if (sps_pki_paths(dir, &p) != 0)
		return sps_cli_fail(1, cmd, "data directory path too long: %s", dir);
	const char *files[] = {a.cert, a.key, a.chain};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i] &&
		    (rc = sps_pki_bundle_add_file(&b, files[i], why, sizeof(why))) != 0) {
			status = sps_cli_fail(1, cmd, "%s", why);
			goto out;
		}
	}
	if (sps_pki_bundle_complete(b, why, sizeof(why)) != 0) {
		status = sps_cli_fail(1, cmd, "%s", why);
		goto out;
	}
	domain_of(dir, a.domain, domain, sizeof(domain));
	struct sps_pki_check_opts o = {.domain = domain,
				       .allow_wildcard = a.allow_wildcard,
				       .ca_file = p.ca_cert,
				       .system_store = true};
	if ((rc = sps_pki_check(b, &o, &rep)) != 0) {
		status = sps_cli_fail(1, cmd, "cannot check the certificate: %s", strerror(rc));
		goto out;
	}
	int failed = sps_pki_report_failed(&rep);
	if (failed >= 0) {
		status = sps_cli_fail(1, cmd, "%s", rep.r[failed].text);
		goto out;
	}
	for (int i = 0; i < SPS_PKI_NCHECKS; i++)
		if (rep.r[i].verdict == SPS_PKI_WARN)
			fprintf(stderr, "sipsec %s: warning: %s\n", cmd, rep.r[i].text);
	if ((rc = sps_pki_install(dir, b)) != 0) {
		status = sps_cli_fail(1, cmd, "cannot write the certificate to %s: %s", p.dir,
				      strerror(rc));
		goto out;
	}
	sps_pki_bundle_info(b, 0, &ci);
	printf("imported %s (issuer %s, %d chain certificate%s, %ld days left, sha256 %s)\n"
	       "a running server uses it for new TLS connections within a second; "
	       "'sipsec cert rollback' restores the previous one\n",
	       ci.subject, ci.issuer, sps_pki_bundle_count(b) - 1,
	       sps_pki_bundle_count(b) == 2 ? "" : "s", ci.days_left, ci.sha256);
out:
	sps_pki_bundle_free(b);
	return status;
}

static int print_current(const struct sps_pki_paths *p, const char *what)
{
	struct sps_pki_certinfo ci;
	if (file_info(p->sip_cert, &ci) == 0)
		printf("%s: %s (issuer %s, valid until %s, sha256 %s)\n", what, ci.subject,
		       ci.issuer, ci.not_after, ci.sha256);
	return 0;
}

static int cert_renew(int argc, char **argv)
{
	static const char cmd[] = "cert renew";
	struct cert_args a;
	struct sps_pki_paths p;
	int rc;

	if ((rc = parse_args(cmd, argc, argv, 0, 0, &a)) != 0)
		return rc;
	const char *dir = sps_cli_data_dir(a.data);
	if (sps_pki_paths(dir, &p) != 0)
		return sps_cli_fail(1, cmd, "data directory path too long: %s", dir);
	rc = sps_pki_renew(dir);
	if (rc == ENOENT)
		return no_certs(cmd, &p);
	if (rc == EPERM)
		return sps_cli_fail(
		    1, cmd,
		    "the SIP certificate in use (%s) was not issued by the built-in "
		    "CA; get a new one from its CA and 'sipsec cert import' it",
		    p.sip_cert);
	if (rc == EBADMSG)
		return sps_cli_fail(1, cmd,
				    "%s or the CA files in %s are unreadable; restore them from a "
				    "backup",
				    p.sip_cert, p.dir);
	if (rc)
		return sps_cli_fail(1, cmd, "cannot renew the certificate in %s: %s", p.dir,
				    strerror(rc));
	return print_current(&p, "renewed (new key)");
}

static int cert_rollback(int argc, char **argv)
{
	static const char cmd[] = "cert rollback";
	struct cert_args a;
	struct sps_pki_paths p;
	int rc;

	if ((rc = parse_args(cmd, argc, argv, 0, 0, &a)) != 0)
		return rc;
	const char *dir = sps_cli_data_dir(a.data);
	if (sps_pki_paths(dir, &p) != 0)
		return sps_cli_fail(1, cmd, "data directory path too long: %s", dir);
	rc = sps_pki_rollback(dir);
	if (rc == ENOENT)
		return sps_cli_fail(1, cmd,
				    "no previous certificate in %s (%s); there was no import or "
				    "renewal to undo",
				    p.dir,
				    access(p.sip_cert, F_OK) == 0 ? "sip.prev.pem is missing"
								  : "no certificates at all");
	if (rc)
		return sps_cli_fail(1, cmd, "cannot roll back in %s: %s", p.dir, strerror(rc));
	return print_current(&p, "rolled back to");
}

static const struct sps_cli_cmd subcommands[] = {
    {"show", cert_show, "print the certificates in use and their checks"},
    {"ca-export", cert_ca_export, "write the CA certificate to FILE or stdout"},
    {"import", cert_import, "check and install a certificate from your CA"},
    {"renew", cert_renew, "re-issue the SIP certificate from the built-in CA"},
    {"rollback", cert_rollback, "restore the previous SIP certificate"},
};

int sps_cmd_cert(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (strcmp(subcommands[i].name, sub) != 0)
			continue;
		if (sps_cli_wants_help(argc - 1, argv + 1)) {
			usage(stdout);
			return 0;
		}
		return subcommands[i].run(argc - 1, argv + 1);
	}
	return sps_cli_fail(2, "cert",
			    "'%s' is not a cert command; use show, ca-export, import, renew or "
			    "rollback",
			    sub);
}
