/* cli: `sipsec user add | list | del | passwd | set` - the SIP accounts in the store.
 *
 * Only the digest hashes HA1 = H(name:realm:password) in MD5 and SHA-256 are
 * stored (RFC 7616 3.4.2, RFC 8760); the password itself lives in one stack
 * buffer that is wiped after use and never reaches the database or a log.
 * The realm is the SIP domain: --domain, else the store's "realm" setting,
 * else the default of `sipsec serve` (the host name); the first user add
 * records it as the "realm" setting so that later commands and the server
 * agree on it. Works while `sipsec serve` runs (SQLite locking, store.h). */
#include "cli/cli.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "auth/digest.h"
#include "core/log.h"
#include "media/policy.h"
#include "server/server.h"
#include "store/store.h"

#define PASSWORD_MIN 8     /* characters */
#define PASSWORD_MAX 1024  /* bytes, with the NUL */

static const char usage_text[] =
	"usage: sipsec user add NAME [--password-stdin] [--domain NAME] [--srtp MODE] [--data DIR]\n"
	"       sipsec user list [--json] [--data DIR]\n"
	"       sipsec user del NAME [--data DIR]\n"
	"       sipsec user passwd NAME [--password-stdin] [--data DIR]\n"
	"       sipsec user set NAME --srtp MODE [--data DIR]\n\n"
	"Manage the SIP accounts that phones register with (digest authentication).\n"
	"Only the digest hashes of the password (MD5 and SHA-256 HA1) are stored.\n"
	"Works while 'sipsec serve' runs on the same data directory.\n\n"
	"  add      create a user; asks for the password twice on a terminal\n"
	"  list     print every user: name, realm, SRTP policy, creation time (UTC)\n"
	"  del      delete a user and its registrations\n"
	"  passwd   set a new password (the user keeps its realm)\n"
	"  set      change a user's settings (the SRTP policy)\n\n"
	"options:\n"
	"  --password-stdin  read the password from the first line of standard input\n"
	"                    (for scripts; the trailing newline is removed)\n"
	"  --domain NAME     add: the SIP domain, which is the digest realm (default: the\n"
	"                    realm recorded in the data dir, else the host name, as for\n"
	"                    'sipsec serve'); the first user add records it\n"
	"  --srtp MODE       add, set: the user's media encryption policy:\n"
	"                      off      plain RTP only\n"
	"                      enable   accept SRTP when the other side offers it\n"
	"                      offer    offer SRTP, accept plain RTP\n"
	"                      require  SRTP only: calls that cannot be encrypted on\n"
	"                               every leg are refused (488)\n"
	"                      default  follow 'sipsec serve --srtp-default' (offer\n"
	"                               unless set); what add uses without --srtp\n"
	"                    SRTP keys only ever travel over TLS: a phone registered over\n"
	"                    UDP or TCP gets plain RTP, bridged by the relay\n"
	"  --json            list: print a JSON array of {\"name\", \"realm\", \"srtp\",\n"
	"                    \"created\"} (srtp \"default\" follows the server's)\n"
	"  --data DIR        data directory (default $SIPSEC_DATA, else ./sipsec-data)\n\n"
	"User names: 1 to 64 letters, digits, '-', '_', '.' or '+'.\n"
	"Passwords: at least 8 characters.\n";

enum {
	OPT_DATA = 1,
	OPT_DOMAIN = 2,
	OPT_PWSTDIN = 4,
	OPT_JSON = 8,
	OPT_SRTP = 16,
};

struct user_args {
	const char *data;
	const char *domain;
	bool pw_stdin;
	bool json;
	const char *srtp; /* --srtp MODE as given */
	const char *name; /* the positional NAME, when the command takes one */
};

/* Parse argv[1..] (argv[0] is the sub-subcommand) allowing the options in
 * `allowed` and `npos` (0 or 1) positional NAME. Returns 0 or 2 (after
 * printing the usage error). */
static int parse_args(const char *cmd, int argc, char **argv, unsigned allowed, int npos,
		      struct user_args *a)
{
	bool opts = true;
	int got = 0;
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		const char **val = NULL;
		const char *v = NULL;
		if (opts && strcmp(s, "--") == 0) {
			opts = false;
			continue;
		}
		if (opts && (allowed & OPT_PWSTDIN) && strcmp(s, "--password-stdin") == 0) {
			a->pw_stdin = true;
			continue;
		}
		if (opts && (allowed & OPT_JSON) && strcmp(s, "--json") == 0) {
			a->json = true;
			continue;
		}
		if (opts && (allowed & OPT_DATA) && strncmp(s, "--data", 6) == 0 &&
		    (s[6] == '\0' || s[6] == '='))
			val = &a->data;
		else if (opts && (allowed & OPT_DOMAIN) && strncmp(s, "--domain", 8) == 0 &&
			 (s[8] == '\0' || s[8] == '='))
			val = &a->domain;
		else if (opts && (allowed & OPT_SRTP) && strncmp(s, "--srtp", 6) == 0 &&
			 (s[6] == '\0' || s[6] == '='))
			val = &a->srtp;
		if (val) {
			const char *eq = strchr(s, '=');
			if (eq)
				v = eq + 1;
			else if (i + 1 < argc)
				v = argv[++i];
			if (!v || !*v)
				return sps_cli_fail(2, cmd, "%s needs a value; see 'sipsec user --help'",
						    val == &a->data     ? "--data DIR"
						    : val == &a->srtp ? "--srtp MODE"
									: "--domain NAME");
			*val = v;
			continue;
		}
		if (opts && s[0] == '-' && s[1] != '\0')
			return sps_cli_fail(2, cmd, "unknown option '%s'; see 'sipsec user --help'", s);
		if (got >= npos)
			return sps_cli_fail(2, cmd, "unexpected argument '%s'; see 'sipsec user --help'",
					    s);
		a->name = s;
		got++;
	}
	if (got < npos)
		return sps_cli_fail(2, cmd, "missing the user NAME; see 'sipsec user --help'");
	return 0;
}

/* User names: 1..SPS_USER_NAME_MAX of letters, digits, '-', '_', '.', '+'
 * (a safe subset of RFC 3261 25.1 user-unreserved/unreserved: no escaping
 * needed in a SIP URI, a file name or a shell). */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SPS_USER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '+'))
			return false;
	}
	return true;
}

static int bad_name(const char *cmd, const char *name)
{
	return sps_cli_fail(1, cmd,
			    "invalid user name '%s': use 1 to %d letters, digits, '-', '_', '.' "
			    "or '+'",
			    name, SPS_USER_NAME_MAX);
}

/* --srtp MODE into the store's form ("" for default). Returns 0 or the exit
 * status after printing the error. */
static int srtp_arg(const char *cmd, const char *v, char *out, size_t size)
{
	enum sps_srtp_mode m;
	if (sps_srtp_mode_parse(v, &m) != 0)
		return sps_cli_fail(1, cmd,
				    "invalid --srtp '%s': use off, enable, offer, require or default",
				    v);
	snprintf(out, size, "%s", m == SPS_SRTP_MODE_UNSET ? "" : sps_srtp_mode_name(m));
	return 0;
}

/* A realm goes into a quoted-string of WWW-Authenticate (RFC 3261 25.1):
 * printable, no quote, backslash or blank. */
static bool realm_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= sizeof(((struct sps_user *)0)->realm))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f || c == '"' || c == '\\')
			return false;
	}
	return true;
}

/* ---- reading the password ---- */

static struct termios saved_tty;

/* A signal during the prompt must not leave the terminal without echo. */
static void restore_tty(int sig)
{
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Prompt on stderr and read a line from the terminal on fd 0 without echo. */
static int prompt_noecho(const char *prompt, char *buf, size_t size)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa, old[sizeof(sigs) / sizeof(sigs[0])];
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &saved_tty) != 0)
		return errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_tty;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, &old[i]);
	t = saved_tty;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	fputs(prompt, stderr);
	fflush(stderr);
	int err = tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) != 0 ? errno : 0;
	if (!err)
		err = sps_cli_read_line(buf, size);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &old[i], NULL);
	fputc('\n', stderr);
	return err;
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Get the new password of `name` into pw (PASSWORD_MAX bytes): from stdin
 * with --password-stdin, else from the terminal, asked twice. Returns 0, or
 * the exit status after printing the error. */
static int get_password(const char *cmd, const char *name, const char *realm, bool from_stdin,
			char *pw)
{
	int rc, status = 0;
	if (from_stdin) {
		rc = sps_cli_read_line(pw, PASSWORD_MAX);
	} else if (!isatty(STDIN_FILENO)) {
		return sps_cli_fail(2, cmd,
				    "standard input is not a terminal, so the password cannot be "
				    "asked for; pipe it in with --password-stdin");
	} else {
		char again[PASSWORD_MAX], prompt[512];
		snprintf(prompt, sizeof(prompt), "Password for %s@%s: ", name, realm);
		rc = prompt_noecho(prompt, pw, PASSWORD_MAX);
		if (!rc && pw[0] && utf8_chars(pw) >= PASSWORD_MIN) {
			rc = prompt_noecho("Again: ", again, sizeof(again));
			if (!rc && strcmp(pw, again) != 0)
				status = sps_cli_fail(1, cmd, "the two passwords differ; try again");
		}
		OPENSSL_cleanse(again, sizeof(again));
	}
	if (status)
		return status;
	if (rc == ENODATA) { /* end of input: an empty password */
		rc = 0;
		pw[0] = '\0';
	}
	if (rc == EOVERFLOW)
		return sps_cli_fail(1, cmd, "the password is longer than %d bytes; use a shorter one",
				    PASSWORD_MAX - 1);
	if (rc == EILSEQ)
		return sps_cli_fail(1, cmd, "the password contains a NUL byte; use another one");
	if (rc)
		return sps_cli_fail(1, cmd, "cannot read the password: %s", strerror(rc));
	if (!pw[0])
		return sps_cli_fail(1, cmd, "empty password refused; give one of at least %d "
					    "characters",
				    PASSWORD_MIN);
	size_t n = utf8_chars(pw);
	if (n < PASSWORD_MIN)
		return sps_cli_fail(1, cmd,
				    "password too short (%zu characters); use at least %d", n,
				    PASSWORD_MIN);
	return 0;
}

/* Fill u's hashes for password. Returns 0 or an errno. */
static int set_hashes(struct sps_user *u, const char *password)
{
	int rc = sps_digest_ha1(SPS_DIGEST_MD5, u->name, u->realm, password, u->ha1_md5,
				sizeof(u->ha1_md5));
	if (!rc)
		rc = sps_digest_ha1(SPS_DIGEST_SHA256, u->name, u->realm, password, u->ha1_sha256,
				    sizeof(u->ha1_sha256));
	return rc;
}

/* ---- the store ---- */

static int no_user(const char *cmd, const char *name, const char *dir)
{
	return sps_cli_fail(1, cmd, "no user %s in %s; see 'sipsec user list'", name, dir);
}

static int exists_fail(const char *cmd, const char *name)
{
	return sps_cli_fail(1, cmd,
			    "user %s already exists; use 'sipsec user passwd %s' to change the "
			    "password",
			    name, name);
}

/* ---- subcommands ---- */

static int user_add(int argc, char **argv)
{
	static const char cmd[] = "user add";
	struct user_args a;
	struct sps_store *st = NULL;
	struct sps_user u;
	char pw[PASSWORD_MAX], stored[256];
	bool record_realm = false;
	int rc, status;

	if ((status = parse_args(cmd, argc, argv, OPT_DATA | OPT_DOMAIN | OPT_PWSTDIN | OPT_SRTP, 1,
				 &a)))
		return status;
	if (!name_ok(a.name))
		return bad_name(cmd, a.name);
	char srtp[sizeof(u.srtp)] = "";
	if (a.srtp && (status = srtp_arg(cmd, a.srtp, srtp, sizeof(srtp))))
		return status;
	if (a.domain && !realm_ok(a.domain))
		return sps_cli_fail(1, cmd,
				    "--domain '%s' cannot be a digest realm; give the SIP domain, "
				    "e.g. sip.example.com",
				    a.domain);
	const char *dir = sps_cli_data_dir(a.data);
	memset(&u, 0, sizeof(u));
	pw[0] = '\0';
	if ((status = sps_cli_open_store(cmd, dir, false, &st)))
		return status;

	/* a duplicate fails before the password is asked for */
	rc = sps_store_user_get(st, a.name, &u);
	if (rc == 0) {
		status = exists_fail(cmd, a.name);
		goto out;
	}
	if (rc != ENOENT) {
		status = sps_cli_store_fail(cmd, dir, rc);
		goto out;
	}
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", a.name);
	memcpy(u.srtp, srtp, sizeof(u.srtp));

	/* the realm: --domain, else the recorded one, else the server's default */
	rc = sps_store_setting_get(st, "realm", stored, sizeof(stored));
	if (rc != 0 && rc != ENOENT && rc != ENOSPC) {
		status = sps_cli_store_fail(cmd, dir, rc);
		goto out;
	}
	record_realm = rc == ENOENT;
	if (a.domain) {
		snprintf(u.realm, sizeof(u.realm), "%s", a.domain);
		if (!record_realm && strcmp(stored, a.domain) != 0)
			fprintf(stderr,
				"sipsec %s: note: the realm recorded in %s is %s; %s gets realm %s "
				"from --domain\n",
				cmd, dir, stored, a.name, a.domain);
	} else if (rc == 0) {
		snprintf(u.realm, sizeof(u.realm), "%s", stored);
	} else {
		struct sps_server_conf sc;
		memset(&sc, 0, sizeof(sc));
		snprintf(sc.data, sizeof(sc.data), "%s", dir);
		sps_server_conf_finish(&sc);
		snprintf(u.realm, sizeof(u.realm), "%s", sc.domain);
	}

	if ((status = get_password(cmd, u.name, u.realm, a.pw_stdin, pw)))
		goto out;
	if ((rc = set_hashes(&u, pw))) {
		status = sps_cli_fail(1, cmd, "cannot hash the password: %s", strerror(rc));
		goto out;
	}
	u.created = (int64_t)time(NULL);
	/* the user and the first realm record in one transaction (the realm
	 * record is kept even when the add itself fails: it is still right) */
	rc = sps_store_begin(st);
	if (!rc) {
		if (record_realm)
			rc = sps_store_setting_set(st, "realm", u.realm);
		if (!rc)
			rc = sps_store_user_add(st, &u);
		int crc = sps_store_commit(st);
		if (!rc)
			rc = crc;
	}
	if (rc == EEXIST) {
		status = exists_fail(cmd, a.name);
		goto out;
	}
	if (rc) {
		status = sps_cli_store_fail(cmd, dir, rc);
		goto out;
	}
	if (u.srtp[0])
		printf("added user %s (realm %s, srtp %s)\n", u.name, u.realm, u.srtp);
	else
		printf("added user %s (realm %s)\n", u.name, u.realm);
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(&u, sizeof(u));
	sps_store_close(st);
	return status;
}

static int user_passwd(int argc, char **argv)
{
	static const char cmd[] = "user passwd";
	struct user_args a;
	struct sps_store *st = NULL;
	struct sps_user u;
	char pw[PASSWORD_MAX];
	int rc, status;

	if ((status = parse_args(cmd, argc, argv, OPT_DATA | OPT_PWSTDIN, 1, &a)))
		return status;
	if (!name_ok(a.name))
		return bad_name(cmd, a.name);
	const char *dir = sps_cli_data_dir(a.data);
	memset(&u, 0, sizeof(u));
	pw[0] = '\0';
	if ((status = sps_cli_open_store(cmd, dir, true, &st)))
		return status;
	rc = sps_store_user_get(st, a.name, &u);
	if (rc == ENOENT) {
		status = no_user(cmd, a.name, dir);
		goto out;
	}
	if (rc) {
		status = sps_cli_store_fail(cmd, dir, rc);
		goto out;
	}
	if ((status = get_password(cmd, u.name, u.realm, a.pw_stdin, pw)))
		goto out;
	if ((rc = set_hashes(&u, pw))) {
		status = sps_cli_fail(1, cmd, "cannot hash the password: %s", strerror(rc));
		goto out;
	}
	rc = sps_store_user_update(st, &u);
	if (rc == ENOENT) {
		status = no_user(cmd, a.name, dir);
		goto out;
	}
	if (rc) {
		status = sps_cli_store_fail(cmd, dir, rc);
		goto out;
	}
	printf("changed the password of %s (realm %s)\n", u.name, u.realm);
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(&u, sizeof(u));
	sps_store_close(st);
	return status;
}

static int user_set(int argc, char **argv)
{
	static const char cmd[] = "user set";
	struct user_args a;
	struct sps_store *st = NULL;
	struct sps_user u;
	int rc, status;

	if ((status = parse_args(cmd, argc, argv, OPT_DATA | OPT_SRTP, 1, &a)))
		return status;
	if (!a.srtp)
		return sps_cli_fail(2, cmd, "nothing to set: give --srtp MODE; see 'sipsec user "
					    "--help'");
	if (!name_ok(a.name))
		return bad_name(cmd, a.name);
	char srtp[sizeof(u.srtp)];
	if ((status = srtp_arg(cmd, a.srtp, srtp, sizeof(srtp))))
		return status;
	const char *dir = sps_cli_data_dir(a.data);
	memset(&u, 0, sizeof(u));
	if ((status = sps_cli_open_store(cmd, dir, true, &st)))
		return status;
	/* read, change, write back in one transaction: a concurrent passwd is
	 * not undone */
	rc = sps_store_begin(st);
	if (!rc) {
		rc = sps_store_user_get(st, a.name, &u);
		if (!rc) {
			memcpy(u.srtp, srtp, sizeof(u.srtp));
			rc = sps_store_user_update(st, &u);
		}
		int crc = sps_store_commit(st);
		if (!rc)
			rc = crc;
	}
	if (rc == ENOENT)
		status = no_user(cmd, a.name, dir);
	else if (rc)
		status = sps_cli_store_fail(cmd, dir, rc);
	else
		printf("user %s: srtp %s\n", u.name, srtp[0] ? srtp : "default");
	OPENSSL_cleanse(&u, sizeof(u));
	sps_store_close(st);
	return status;
}

static int user_del(int argc, char **argv)
{
	static const char cmd[] = "user del";
	struct user_args a;
	struct sps_store *st = NULL;
	int rc, status;

	if ((status = parse_args(cmd, argc, argv, OPT_DATA, 1, &a)))
		return status;
	if (!name_ok(a.name))
		return bad_name(cmd, a.name);
	const char *dir = sps_cli_data_dir(a.data);
	if ((status = sps_cli_open_store(cmd, dir, true, &st)))
		return status;
	rc = sps_store_user_del(st, a.name);
	if (rc == ENOENT)
		status = no_user(cmd, a.name, dir);
	else if (rc)
		status = sps_cli_store_fail(cmd, dir, rc);
	else
		printf("deleted user %s and its registrations\n", a.name);
	sps_store_close(st);
	return status;
}

/* ISO 8601 UTC, "2025-01-31T12:00:00Z". */
static void iso_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "?");
}

static int list_one(const struct sps_user *u, void *arg)
{
	json_t *arr = arg, *o = json_object();
	char when[32];
	iso_time(u->created, when, sizeof(when));
	if (!o || json_object_set_new(o, "name", json_string(u->name)) ||
	    json_object_set_new(o, "realm", json_string(u->realm)) ||
	    json_object_set_new(o, "srtp", json_string(u->srtp[0] ? u->srtp : "default")) ||
	    json_object_set_new(o, "created", json_string(when)) || json_array_append_new(arr, o))
		return ENOMEM;
	return 0;
}

/* A table with a header line, columns as wide as their longest value. */
static void print_table(json_t *arr)
{
	int wname = 4, wrealm = 5;
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		int n = (int)strlen(json_string_value(json_object_get(o, "name")));
		int r = (int)strlen(json_string_value(json_object_get(o, "realm")));
		wname = n > wname ? n : wname;
		wrealm = r > wrealm ? r : wrealm;
	}
	printf("%-*s  %-*s  %-7s  %s\n", wname, "NAME", wrealm, "REALM", "SRTP", "CREATED");
	json_array_foreach(arr, i, o) {
		printf("%-*s  %-*s  %-7s  %s\n", wname, json_string_value(json_object_get(o, "name")),
		       wrealm, json_string_value(json_object_get(o, "realm")),
		       json_string_value(json_object_get(o, "srtp")),
		       json_string_value(json_object_get(o, "created")));
	}
}

static int user_list(int argc, char **argv)
{
	static const char cmd[] = "user list";
	struct user_args a;
	struct sps_store *st = NULL;
	int rc, status;

	if ((status = parse_args(cmd, argc, argv, OPT_DATA | OPT_JSON, 0, &a)))
		return status;
	const char *dir = sps_cli_data_dir(a.data);
	if ((status = sps_cli_open_store(cmd, dir, true, &st)))
		return status;
	/* one walk into memory, then print: the store is not held while stdout blocks */
	json_t *arr = json_array();
	rc = arr ? sps_store_user_each(st, list_one, arr) : ENOMEM;
	sps_store_close(st);
	if (rc == ENOMEM) {
		status = sps_cli_fail(1, cmd, "out of memory");
	} else if (rc) {
		status = sps_cli_store_fail(cmd, dir, rc);
	} else {
		if (a.json) {
			if (json_dumpf(arr, stdout, JSON_INDENT(2)) == 0)
				putchar('\n');
		} else {
			print_table(arr);
		}
		if (fflush(stdout) != 0 || ferror(stdout))
			status = sps_cli_fail(1, cmd, "cannot write to stdout: %s", strerror(errno));
	}
	json_decref(arr);
	return status;
}

static const struct sps_cli_cmd subcommands[] = {
	{"add", user_add, "create a user"},
	{"list", user_list, "list the users"},
	{"del", user_del, "delete a user and its registrations"},
	{"passwd", user_passwd, "set a user's password"},
	{"set", user_set, "change a user's SRTP policy"},
};

int sps_cmd_user(int argc, char **argv)
{
	/* a command's own messages are the output; library info lines (a first
	 * schema migration) would be noise */
	sps_log_set_level(SPS_LOG_WARN);
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (strcmp(subcommands[i].name, sub) != 0)
			continue;
		if (sps_cli_wants_help(argc - 1, argv + 1)) {
			fputs(usage_text, stdout);
			return 0;
		}
		return subcommands[i].run(argc - 1, argv + 1);
	}
	return sps_cli_fail(2, "user", "'%s' is not a user command; use add, list, del, passwd or set",
			    sub);
}
