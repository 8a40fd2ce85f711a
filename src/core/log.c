/* core/log: one line per event on stderr, with time, level and module. */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum sps_log_level sps_log_threshold = SPS_LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

int sps_log_level_parse(const char *s, enum sps_log_level *out)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum sps_log_level)i;
			return 0;
		}
	}
	return EINVAL;
}

void sps_log_set_level(enum sps_log_level lvl) { sps_log_threshold = lvl; }

void sps_log_emit(enum sps_log_level lvl, const char *module, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %-8s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, names[lvl], module);
	if (n < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line so that lines from threads do not interleave */
	fprintf(stderr, "%s\n", line);
}
