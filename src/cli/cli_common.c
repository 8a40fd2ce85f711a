/* cli: helpers shared by the subcommands. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "store/store.h"

#define DB_FILE "sipsec.db" /* in the data dir (store_sqlite.c) */

/* DESIGN.md, Interfaces: --data DIR, default $SIPSEC_DATA or ./sipsec-data. */
const char *sps_cli_data_dir(const char *flag_value)
{
	if (flag_value && *flag_value)
		return flag_value;
	const char *env = getenv("SIPSEC_DATA");
	if (env && *env)
		return env;
	return "./sipsec-data";
}

int sps_cli_open_store(const char *cmd, const char *dir, bool must_exist, struct sps_store **st)
{
	char path[4200];
	const char *why = "";
	snprintf(path, sizeof(path), "%s/%s", dir, DB_FILE);
	/* a command that only reads must not create a database in a mistyped dir */
	if (must_exist && access(path, F_OK) != 0)
		return sps_cli_fail(1, cmd,
				    "no user database in %s (no users or devices yet); add a user "
				    "with 'sipsec user add NAME', or pass --data DIR",
				    dir);
	int rc = sps_store_open(st, dir, &why);
	if (rc)
		return sps_cli_fail(1, cmd, "cannot open the database %s: %s (%s)", path,
				    why ? why : "", strerror(rc));
	return 0;
}

int sps_cli_store_fail(const char *cmd, const char *dir, int rc)
{
	if (rc == EBUSY)
		return sps_cli_fail(1, cmd,
				    "the database in %s is locked by another process (waited 5 s); "
				    "try again",
				    dir);
	return sps_cli_fail(1, cmd, "database error in %s: %s", dir, strerror(rc));
}

int sps_cli_read_line(char *buf, size_t size)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0 && n == 0)
			return ENODATA;
		if (r == 0 || c == '\n')
			break;
		if (c == '\0')
			return EILSEQ;
		if (n + 1 >= size)
			return EOVERFLOW;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return 0;
}

int sps_cli_list_args(const char *cmd, const char *usage, int argc, char **argv,
		      const char **data, bool *json)
{
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(s, "--json") == 0) {
			*json = true;
		} else if (strcmp(s, "--data") == 0) {
			if (i + 1 >= argc || !*argv[i + 1])
				return sps_cli_fail(2, cmd, "--data needs a directory");
			*data = argv[++i];
		} else if (strncmp(s, "--data=", 7) == 0) {
			*data = s + 7;
			if (!**data)
				return sps_cli_fail(2, cmd, "--data needs a directory");
		} else {
			return sps_cli_fail(2, cmd, "%s '%s'; see 'sipsec %s --help'",
					    s[0] == '-' ? "unknown option" : "unexpected argument", s,
					    cmd);
		}
	}
	return -1;
}

const char *sps_cli_jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : "-";
}

/* Display width of UTF-8 text: one column per code point. */
static int cols(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void put_cell(const char *s, int width, bool last)
{
	for (const char *p = s; *p; p++)
		putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
	if (last) {
		putchar('\n');
		return;
	}
	for (int n = cols(s); n < width + 2; n++)
		putchar(' ');
}

void sps_cli_table_row(int pass, const char *const *cell, int *width, int ncol)
{
	for (int c = 0; c < ncol; c++) {
		int l = cols(cell[c]);
		if (pass == 0 && l > width[c])
			width[c] = l;
		if (pass == 1)
			put_cell(cell[c], width[c], c + 1 == ncol);
	}
}
