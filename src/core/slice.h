/* core/slice: a zero-copy view {p, l} into a buffer someone else owns. */
#ifndef SPS_CORE_SLICE_H
#define SPS_CORE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A view of l bytes at p. p may be NULL when l is 0 (absent value).
 * The slice never owns its bytes: the message or buffer it points into does. */
struct sps_slice {
	const char *p;
	size_t l;
};

#define SPS_SLICE_NULL ((struct sps_slice){NULL, 0})
#define SPS_SLICE_LIT(s) ((struct sps_slice){(s), sizeof(s) - 1})
/* printf("%.*s", SPS_SLICE_FMT(s)) */
#define SPS_SLICE_FMT(s) (int)(s).l, (s).p ? (s).p : ""

static inline struct sps_slice sps_slice_make(const char *p, size_t l)
{
	struct sps_slice s = {p, l};
	return s;
}

static inline bool sps_slice_isset(struct sps_slice s) { return s.p != NULL; }

struct sps_slice sps_slice_cstr(const char *s);
bool sps_slice_eq(struct sps_slice a, struct sps_slice b);
/* ASCII case-insensitive comparison. */
bool sps_slice_eq_ci(struct sps_slice a, struct sps_slice b);
bool sps_slice_eq_cstr_ci(struct sps_slice a, const char *s);
/* Trim spaces and tabs at both ends. */
struct sps_slice sps_slice_trim(struct sps_slice s);
/* Parse a decimal number of at most 10 digits with value <= max.
 * Returns 0, EINVAL for a non-digit or empty input, ERANGE above max. */
int sps_slice_to_u32(struct sps_slice s, uint32_t max, uint32_t *out);
/* Copy into a NUL-terminated buffer; returns ENOSPC when it does not fit. */
int sps_slice_to_cstr(struct sps_slice s, char *buf, size_t size);

#endif
