/* registrar internals, shared by registrar.c (REGISTER processing) and
 * reg_flow.c (connection index, flow_closed, lookup, expire). Tests may
 * include this. */
#ifndef SPS_REGISTRAR_REGISTRAR_INT_H
#define SPS_REGISTRAR_REGISTRAR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registrar/registrar.h"

/* At most this many AoRs are remembered per connection; past it the
 * connection is marked "many" and flow_closed walks every binding. */
#define SPS__REG_CONN_AORS 8

/* One (connection, AoR) pair: this run stored a binding of aor on conn_id.
 * aor "" is the "many" marker. Owned by the registrar's table. */
struct sps__reg_conn {
	struct sps__reg_conn *next;
	uint64_t conn_id;
	char aor[];
};

/* The registrar. Owns domain, boot_id and the connection index; borrows st.
 * Invariant: domain is lowercase and non-empty; 1 <= min_expires <=
 * default_expires <= max_expires; max_contacts >= 1; nbuckets is a power of
 * two (or 0 with buckets NULL before the first connection is noted). */
struct sps_registrar {
	struct sps_store *st;
	char *domain;
	char *boot_id;
	uint32_t min_expires, default_expires, max_expires;
	unsigned max_contacts;
	/* Connection index (conn_id -> AoRs with bindings on it), so that a
	 * closed connection touches only its own bindings instead of scanning
	 * the whole table. Only this run's connections can be in the store with
	 * our boot_id, so the index is complete. */
	struct sps__reg_conn **buckets;
	size_t nbuckets;
	size_t nconns; /* entries */
};

/* Remember that a binding of aor was stored on conn_id (conn_id != 0).
 * Returns 0 or ENOMEM. */
int sps__reg_conn_note(struct sps_registrar *r, uint64_t conn_id, const char *aor);
/* Free the whole connection index. */
void sps__reg_conn_free(struct sps_registrar *r);

/* True when b came over a stream transport (not "udp"). */
bool sps__reg_is_stream(const struct sps_binding *b);

/* The Contact value hdr (as stored in contact_hdr: a name-addr or addr-spec
 * with header parameters) with any expires parameter removed and
 * ";expires=secs" appended, allocated in a. NULL when the arena is full. */
char *sps__reg_contact_expires(struct sps_arena *a, const char *hdr, int64_t secs);

#endif
