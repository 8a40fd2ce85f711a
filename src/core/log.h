/* core/log: level-gated logging. The macros do not evaluate their arguments
 * when the level is off. Never pass passwords, digest responses, private keys
 * or SRTP keys to these macros - not even at debug level.
 *
 * Each .c file defines SPS_LOG_MODULE ("sip", "net", ...) before including. */
#ifndef SPS_CORE_LOG_H
#define SPS_CORE_LOG_H

enum sps_log_level {
	SPS_LOG_ERROR = 0,
	SPS_LOG_WARN = 1,
	SPS_LOG_INFO = 2,
	SPS_LOG_DEBUG = 3,
};

extern enum sps_log_level sps_log_threshold;

/* Parse "error|warn|info|debug"; returns 0 or EINVAL. */
int sps_log_level_parse(const char *s, enum sps_log_level *out);
void sps_log_set_level(enum sps_log_level lvl);
void sps_log_emit(enum sps_log_level lvl, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#ifndef SPS_LOG_MODULE
#define SPS_LOG_MODULE "sipsec"
#endif

#define SPS_LOG(lvl, ...)                                                   \
	do {                                                                \
		if ((lvl) <= sps_log_threshold)                             \
			sps_log_emit((lvl), SPS_LOG_MODULE, __VA_ARGS__);   \
	} while (0)
#define SPS_ERROR(...) SPS_LOG(SPS_LOG_ERROR, __VA_ARGS__)
#define SPS_WARN(...) SPS_LOG(SPS_LOG_WARN, __VA_ARGS__)
#define SPS_INFO(...) SPS_LOG(SPS_LOG_INFO, __VA_ARGS__)
#define SPS_DEBUG(...) SPS_LOG(SPS_LOG_DEBUG, __VA_ARGS__)

#endif
