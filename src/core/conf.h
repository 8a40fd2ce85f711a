/* core/conf: one table describes every option (name, type, bounds, default,
 * whether it can change live, help); the same table drives the INI config
 * file, the command-line flags, validation and `--help` (nginx command
 * tables, redis static_configs). */
#ifndef SPS_CORE_CONF_H
#define SPS_CORE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum sps_opt_type {
	SPS_OPT_STR = 1, /* char[size] at off */
	SPS_OPT_INT,     /* int at off, within [min, max] */
	SPS_OPT_BOOL,    /* bool at off: true/false/yes/no/on/off/1/0 */
};

struct sps_opt {
	const char *name;   /* "sip-port": flag --sip-port, INI key sip-port or sip_port */
	enum sps_opt_type type;
	size_t off;         /* offset in the config struct */
	size_t size;        /* STR: buffer size */
	long min, max;      /* INT bounds */
	const char *def;    /* default as text; NULL = empty */
	bool live;          /* may change without a restart */
	bool cli_only;      /* a flag only, not in the INI file (e.g. config) */
	const char *help;
	const char *metavar;
};

/* Fill conf with every option's default. */
int sps_conf_defaults(const struct sps_opt *opts, size_t n, void *conf);
/* Set one option from text. On error writes a one-line message (naming the
 * option, the value and what is allowed) into err and returns EINVAL. */
int sps_conf_set(const struct sps_opt *opts, size_t n, void *conf, const char *name,
		 const char *value, char *err, size_t errsize);
/* Read an INI file ("key = value", '#' or ';' comments, [section] headers
 * ignored). Unknown keys are errors (typos should not pass silently). */
int sps_conf_load_file(const struct sps_opt *opts, size_t n, void *conf, const char *path,
		       char *err, size_t errsize);
/* Parse --name value / --name=value flags (argv[0] is the command name).
 * Non-option arguments are returned in order in rest[] (up to maxrest);
 * *nrest gets their count. Returns 0, or EINVAL with err set (a usage error). */
int sps_conf_parse_args(const struct sps_opt *opts, size_t n, void *conf, int argc,
			char **argv, char **rest, int maxrest, int *nrest, char *err,
			size_t errsize);
/* Print the options for --help. */
void sps_conf_print_help(const struct sps_opt *opts, size_t n, FILE *f);

#endif
