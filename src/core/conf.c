/* core/conf: table-driven options. */
#include "core/conf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct sps_opt *find(const struct sps_opt *opts, size_t n, const char *name)
{
	char norm[64];
	size_t l = strlen(name);
	if (l >= sizeof(norm))
		return NULL;
	for (size_t i = 0; i <= l; i++)
		norm[i] = name[i] == '_' ? '-' : name[i];
	for (size_t i = 0; i < n; i++)
		if (strcmp(opts[i].name, norm) == 0)
			return &opts[i];
	return NULL;
}

int sps_conf_set(const struct sps_opt *opts, size_t n, void *conf, const char *name,
		 const char *value, char *err, size_t errsize)
{
	const struct sps_opt *o = find(opts, n, name);
	char *base = conf;

	if (!o) {
		snprintf(err, errsize, "unknown option '%s'", name);
		return EINVAL;
	}
	switch (o->type) {
	case SPS_OPT_STR:
		if (strlen(value) >= o->size) {
			snprintf(err, errsize, "%s: value is too long (at most %zu characters)",
				 o->name, o->size - 1);
			return EINVAL;
		}
		strcpy(base + o->off, value);
		return 0;
	case SPS_OPT_INT: {
		char *end;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < o->min || v > o->max) {
			snprintf(err, errsize, "%s: '%s' is not a whole number from %ld to %ld",
				 o->name, value, o->min, o->max);
			return EINVAL;
		}
		*(int *)(void *)(base + o->off) = (int)v;
		return 0;
	}
	case SPS_OPT_BOOL: {
		static const char *const yes[] = {"1", "true", "yes", "on"};
		static const char *const no[] = {"0", "false", "no", "off"};
		for (int i = 0; i < 4; i++) {
			if (strcasecmp(value, yes[i]) == 0) {
				*(bool *)(void *)(base + o->off) = true;
				return 0;
			}
			if (strcasecmp(value, no[i]) == 0) {
				*(bool *)(void *)(base + o->off) = false;
				return 0;
			}
		}
		snprintf(err, errsize, "%s: '%s' is not a boolean (use true or false)", o->name,
			 value);
		return EINVAL;
	}
	}
	return EINVAL;
}

int sps_conf_defaults(const struct sps_opt *opts, size_t n, void *conf)
{
	char err[256];
	for (size_t i = 0; i < n; i++) {
		int rc = sps_conf_set(opts, n, conf, opts[i].name, opts[i].def ? opts[i].def : "",
				      err, sizeof(err));
		if (rc && opts[i].def)
			return rc;
	}
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t l = strlen(s);
	while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\n' || s[l - 1] == '\r'))
		s[--l] = '\0';
	return s;
}

int sps_conf_load_file(const struct sps_opt *opts, size_t n, void *conf, const char *path,
		       char *err, size_t errsize)
{
	FILE *f = fopen(path, "r");
	char line[1024], msg[256];
	unsigned lineno = 0;

	if (!f) {
		snprintf(err, errsize, "cannot read config file %s: %s", path, strerror(errno));
		return errno ? errno : EIO;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';' || *s == '[')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errsize, "%s:%u: expected 'name = value'", path, lineno);
			fclose(f);
			return EINVAL;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		size_t vl = strlen(v);
		if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
			v[vl - 1] = '\0';
			v++;
		}
		const struct sps_opt *o = find(opts, n, k);
		if (o && o->cli_only)
			o = NULL;
		if (!o || sps_conf_set(opts, n, conf, k, v, msg, sizeof(msg))) {
			if (!o)
				snprintf(msg, sizeof(msg), "unknown option '%s'", k);
			snprintf(err, errsize, "%s:%u: %s", path, lineno, msg);
			fclose(f);
			return EINVAL;
		}
	}
	fclose(f);
	return 0;
}

int sps_conf_parse_args(const struct sps_opt *opts, size_t n, void *conf, int argc,
			char **argv, char **rest, int maxrest, int *nrest, char *err,
			size_t errsize)
{
	int nr = 0;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			if (strcmp(a, "--") == 0) {
				for (i++; i < argc; i++) {
					if (nr >= maxrest)
						goto extra;
					rest[nr++] = argv[i];
				}
				break;
			}
			if (nr >= maxrest)
				goto extra;
			rest[nr++] = a;
			continue;
		}
		char name[64];
		const char *val = NULL;
		const char *eq = strchr(a + 2, '=');
		size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nl >= sizeof(name)) {
			snprintf(err, errsize, "unknown option '%s'", a);
			return EINVAL;
		}
		memcpy(name, a + 2, nl);
		name[nl] = '\0';
		const struct sps_opt *o = find(opts, n, name);
		if (!o) {
			snprintf(err, errsize, "unknown option '--%s'", name);
			return EINVAL;
		}
		if (eq) {
			val = eq + 1;
		} else if (o->type == SPS_OPT_BOOL) {
			val = "true";
		} else {
			if (i + 1 >= argc) {
				snprintf(err, errsize, "option '--%s' needs a value", name);
				return EINVAL;
			}
			val = argv[++i];
		}
		if (sps_conf_set(opts, n, conf, name, val, err, errsize))
			return EINVAL;
	}
	*nrest = nr;
	return 0;
extra:
	snprintf(err, errsize, "too many arguments");
	return EINVAL;
}

void sps_conf_print_help(const struct sps_opt *opts, size_t n, FILE *f)
{
	for (size_t i = 0; i < n; i++) {
		const struct sps_opt *o = &opts[i];
		char flag[96];
		snprintf(flag, sizeof(flag), "--%s%s%s", o->name, o->type == SPS_OPT_BOOL ? "" : " ",
			 o->type == SPS_OPT_BOOL ? "" : (o->metavar ? o->metavar : "VALUE"));
		fprintf(f, "  %-28s %s", flag, o->help);
		if (o->def && *o->def)
			fprintf(f, " (default %s)", o->def);
		if (o->type == SPS_OPT_INT)
			fprintf(f, " [%ld-%ld]", o->min, o->max);
		fputc('\n', f);
	}
}
