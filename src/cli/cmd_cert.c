/* cli: `sipsec cert show | ca-export [FILE]` - the certificates of the built-in
 * CA (DESIGN.md: "built-in CA, one command to export it"). */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mbuf.h"
#include "pki/pki.h"

#define CERT_PEM_MAX (256 * 1024)

static void usage(FILE *f)
{
	fprintf(f, "usage: sipsec cert show [--data DIR]\n"
		   "       sipsec cert ca-export [FILE] [--data DIR]\n\n"
		   "  show       print the SIP server certificate and the CA: subject, names,\n"
		   "             issuer, key, validity and SHA-256 fingerprint\n"
		   "  ca-export  write the CA certificate (PEM) to FILE, or to stdout; import it\n"
		   "             into softphones (Zoiper, Linphone, baresip) as their trusted CA\n\n"
		   "  --data DIR  data directory (default $SIPSEC_DATA, else ./sipsec-data)\n");
}

/* Options common to the cert subcommands. */
struct cert_args {
	const char *data;
	const char *pos[2];
	int npos;
};

/* Parse argv[1..] (argv[0] is the sub-subcommand). Returns 0 or 2 (after
 * printing the usage error). */
static int parse_args(const char *cmd, int argc, char **argv, int maxpos, struct cert_args *a)
{
	bool opts = true;
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (opts && strcmp(s, "--") == 0) {
			opts = false;
		} else if (opts && strcmp(s, "--data") == 0) {
			if (i + 1 >= argc)
				return sps_cli_fail(2, cmd, "--data needs a directory");
			a->data = argv[++i];
		} else if (opts && strncmp(s, "--data=", 7) == 0) {
			a->data = s + 7;
		} else if (opts && s[0] == '-' && s[1] != '\0') {
			return sps_cli_fail(2, cmd, "unknown option '%s'; see 'sipsec cert --help'", s);
		} else if (a->npos < maxpos) {
			a->pos[a->npos++] = s;
		} else {
			return sps_cli_fail(2, cmd, "unexpected argument '%s'; see 'sipsec cert --help'",
					    s);
		}
	}
	if (a->data && !*a->data)
		return sps_cli_fail(2, cmd, "--data needs a directory");
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

static int cert_show(int argc, char **argv)
{
	static const char cmd[] = "cert show";
	struct cert_args a;
	struct sps_pki_paths p;
	struct sps_mbuf mb;
	int rc, status = 0;

	if ((rc = parse_args(cmd, argc, argv, 0, &a)) != 0)
		return rc;
	const char *dir = sps_cli_data_dir(a.data);
	if (sps_pki_paths(dir, &p) != 0)
		return sps_cli_fail(1, cmd, "data directory path too long: %s", dir);
	if (access(p.sip_cert, F_OK) != 0 && access(p.ca_cert, F_OK) != 0)
		return no_certs(cmd, &p);

	const struct {
		const char *title;
		const char *path;
	} certs[] = {{"SIP server certificate", p.sip_cert}, {"CA certificate", p.ca_cert}};
	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		sps_mbuf_init(&mb, CERT_PEM_MAX);
		rc = sps_pki_describe(certs[i].path, 2, &mb);
		if (rc == 0) {
			printf("%s%s (%s)\n%s", i ? "\n" : "", certs[i].title, certs[i].path, mb.buf);
		} else {
			fflush(stdout);
			status = read_fail(cmd, certs[i].path, rc);
		}
		sps_mbuf_free(&mb);
	}
	return status;
}

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

	if ((rc = parse_args(cmd, argc, argv, 1, &a)) != 0)
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

static const struct sps_cli_cmd subcommands[] = {
	{"show", cert_show, "print the SIP certificate and the CA"},
	{"ca-export", cert_ca_export, "write the CA certificate to FILE or stdout"},
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
	return sps_cli_fail(2, "cert", "'%s' is not a cert command; use show or ca-export", sub);
}
