/* cli: the git-style subcommands of the sipsec binary (DESIGN.md, Interfaces).
 * Each subcommand is a library call so that tests can drive it without a shell.
 * Exit status: 0 success, 1 error (one line on stderr naming problem and fix),
 * 2 usage error. */
#ifndef SPS_CLI_CLI_H
#define SPS_CLI_CLI_H

#include <stdbool.h>

#include <stdio.h>

typedef int(sps_cli_cmd_h)(int argc, char **argv);

struct sps_cli_cmd {
	const char *name;
	sps_cli_cmd_h *run;
	const char *summary; /* one line for `sipsec --help` */
};

/* Entry point: dispatch argv[1] to a subcommand. Returns the exit status. */
int sps_cli_main(int argc, char **argv);

/* Subcommands (one file each in src/cli/). */
int sps_cmd_version(int argc, char **argv);
int sps_cmd_serve(int argc, char **argv);
int sps_cmd_cert(int argc, char **argv);
int sps_cmd_user(int argc, char **argv);
int sps_cmd_registrations(int argc, char **argv);
int sps_cmd_calls(int argc, char **argv);
int sps_cmd_verify(int argc, char **argv);
int sps_cmd_device(int argc, char **argv);

/* Print "sipsec CMD: <message>" on stderr; returns status. */
int sps_cli_fail(int status, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* True when argv holds -h or --help. */
int sps_cli_wants_help(int argc, char **argv);
/* The data directory: flag_value (from --data) when set, else $SIPSEC_DATA
 * when set, else "./sipsec-data". The result is flag_value, the environment
 * string or a literal: not to be freed. (cli_common.c) */
const char *sps_cli_data_dir(const char *flag_value);

struct sps_store;
/* Open the store of dir for cmd. With must_exist, a data dir without a
 * database is an error (nothing added yet) rather than a new empty database.
 * Returns 0, or the exit status after printing a one-line error. */
int sps_cli_open_store(const char *cmd, const char *dir, bool must_exist, struct sps_store **st);
/* Print the error of a failed store call rc on dir; returns the exit status. */
int sps_cli_store_fail(const char *cmd, const char *dir, int rc);

/* Read one line from standard input (the --password-stdin way), without the
 * newline or a CR before it. Returns 0, ENODATA at end of input before any
 * byte, EOVERFLOW when longer than size - 1, EILSEQ for a NUL byte, or errno. */
int sps_cli_read_line(char *buf, size_t size);

/* The options of a listing command: -h/--help (prints usage), --json and
 * --data DIR. Returns -1 to go on, else the exit status to return. */
int sps_cli_list_args(const char *cmd, const char *usage, int argc, char **argv,
		      const char **data, bool *json);

/* ---- aligned text tables ---- */
struct json_t;
/* The string member key of o, or "-" when absent or empty. */
const char *sps_cli_jstr(struct json_t *o, const char *key);
/* One row of an aligned table printed in two passes over the same rows
 * (header first): pass 0 widens width[] (start at 0) to fit the cells,
 * pass 1 prints them padded. Control characters (a From URI or User-Agent
 * could carry terminal escape sequences) are shown as '?'. */
void sps_cli_table_row(int pass, const char *const *cell, int *width, int ncol);

#endif
