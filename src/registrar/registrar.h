/* registrar: the location service of sipsec - REGISTER processing (RFC 3261
 * section 10.3), Path (RFC 3327) and client-initiated connections (RFC 5626
 * "outbound"), on top of the durable store (store/store.h).
 *
 * Division of work with the caller (the SIP server glue):
 *   - RFC 3261 10.3 steps 1-3 are the caller's: the Request-URI names our
 *     domain, Require holds nothing we do not support (420), and the request
 *     is authenticated (401/403) as a user name.
 *   - sps_registrar_register() does steps 4-8 for that user: it refuses
 *     a To naming another user (403) or another domain (404), checks
 *     Contact/Expires, Call-ID/CSeq ordering, 423, the contact limit, writes
 *     the bindings into the store's current batch and builds the 200 OK
 *     headers.
 *   - Durability (DESIGN.md: "a 200 OK to a REGISTER means the binding is
 *     stored durably"): the registrar never commits. When reply->stored is
 *     true the caller MUST sps_store_commit() (its group commit at the end
 *     of the loop iteration) and send the reply only after the commit
 *     succeeded; if the commit fails, answer 500 instead.
 *   - The caller reports every closed TCP/TLS connection with
 *     sps_registrar_flow_closed() (RFC 5626 7: bindings on a dead flow are
 *     not used for routing), runs sps_registrar_expire() from a timer, and
 *     writes the store setting "boot_id" (the same string as
 *     sps_registrar_conf.boot_id) at start, so that `sipsec registrations`
 *     can tell open flows from flows of an earlier run.
 *
 * Threads: one registrar belongs to one thread (the SIP loop), like the
 * store it uses. */
#ifndef SPS_REGISTRAR_REGISTRAR_H
#define SPS_REGISTRAR_REGISTRAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "sip/msg.h"
#include "sip/write.h"
#include "store/store.h"

struct sps_registrar;

struct sps_registrar_conf {
	const char *domain;       /* our SIP domain: AoR = "sip:USER@domain" (domain lowercased) */
	const char *boot_id;      /* this serve run's id, stored with stream bindings; NULL = "" */
	uint32_t min_expires;     /* 60: shorter nonzero requests get 423 (RFC 3261 10.3 step 7) */
	uint32_t default_expires; /* 3600: neither Contact expires nor Expires given */
	uint32_t max_expires;     /* 86400: longer requests are shortened to this */
	unsigned max_contacts;    /* 10: live bindings per AoR after a REGISTER, else 403 */
};

/* Create a registrar over `st` (borrowed: it must outlive the registrar).
 * conf is copied. Returns 0; EINVAL when domain is empty or the numbers are
 * inconsistent (need 1 <= min <= default <= max, max_contacts >= 1); ENOMEM. */
int sps_registrar_new(struct sps_registrar **out, struct sps_store *st,
		      const struct sps_registrar_conf *conf);
void sps_registrar_free(struct sps_registrar *r);

/* Where a REGISTER came from. Strings are borrowed for the call. */
struct sps_reg_origin {
	const char *transport; /* "udp", "tcp", "tls": what the REGISTER arrived on */
	const char *source;    /* "ip:port" ("[v6]:port") it came from */
	const char *local;     /* "ip:port" it arrived at */
	uint64_t conn_id;      /* stream connection id (nonzero), 0 for UDP */
};

/* Headers of a reply. The registrar fills at most SPS_REG_MAX_HDRS - 4
 * entries, so the caller may append up to 4 of its own (e.g. Server) before
 * passing hdrs/nhdrs to sps_sip_resp_write(). */
#define SPS_REG_MAX_HDRS 20

/* The answer to one REGISTER. Values point into the arena passed to
 * sps_registrar_register() (or are static), so the arena must live until the
 * reply is written. */
struct sps_reg_reply {
	unsigned code;       /* 200, 400, 403, 404, 423, 439, 500 */
	const char *reason;  /* NULL: the default phrase of code; else a static string */
	struct sps_sip_newhdr hdrs[SPS_REG_MAX_HDRS];
	size_t nhdrs;
	/* The store's batch holds writes of this request: the caller must
	 * commit before sending the reply (see the top of this file). Also set
	 * when an internal error interrupted the writes (the batch may hold
	 * part of them; commit anyway, the UA retries after the 500). */
	bool stored;
	/* > 0: the longest expiry (seconds) of the bindings this request stored
	 * on o->conn_id. The caller keeps that connection open at least this long
	 * (idle timeout), since requests for the user will be sent over it. */
	uint32_t flow_expires;
};

/* Process a REGISTER already authenticated as `user` (RFC 3261 10.3; RFC 3327
 * 5.3; RFC 5626 6), at unix time `now`.
 *
 * Answers (reply->code), nothing stored unless 200:
 *   403 "Forbidden"            To names another user than `user` (10.3 step 4)
 *   404 "Not Found"            To is not a sip:/sips: URI of our domain (step 5)
 *   400                        Contact * with other contacts or Expires != 0
 *                              (step 6); missing To/Call-ID/CSeq; a reg-id of 0;
 *                              several contacts with nonzero expiry when one
 *                              has a reg-id (RFC 5626 6)
 *   423 + Min-Expires          a nonzero expiry below min_expires (step 7)
 *   439                        reg-id + Supported: outbound but we are not the
 *                              first hop and the first Path URI has no ;ob
 *                              (RFC 5626 6)
 *   500 "Out of order"         same Call-ID as a stored binding with a CSeq not
 *                              higher (step 7: the update is aborted)
 *   403 "Too many contacts"    more than max_contacts live bindings would remain
 *   200                        bindings added/refreshed/removed; one Contact
 *                              header per live binding of the AoR with
 *                              ;expires=<remaining seconds>, Date, and
 *                              Require: outbound (when the UA sent Supported:
 *                              outbound and a Contact with +sip.instance and
 *                              reg-id), Path (the request's Path values) and
 *                              Supported: path / outbound. A REGISTER without
 *                              Contact is a query: 200 listing the bindings.
 *
 * Writes: sps_store_begin() before the first write (a no-op inside the
 * caller's batch) - never a commit. Bindings on a stream transport record
 * boot_id and o->conn_id so that requests can be sent back over that
 * connection (RFC 5626 outbound, or plain connection reuse).
 *
 * req must have passed sps_sip_msg_validate() (mandatory headers present).
 * Returns 0 when reply holds the answer to send (whatever its code); on an
 * internal error (store failure, arena exhausted) returns the errno with
 * reply set to a bare 500 (check reply->stored as above). req, user and o
 * are borrowed for the call. */
int sps_registrar_register(struct sps_registrar *r, const struct sps_sip_msg *req,
			   const char *user, const struct sps_reg_origin *o, int64_t now,
			   struct sps_arena *arena, struct sps_reg_reply *reply);

/* A TCP/TLS connection closed (or was closed by us): mark the bindings that
 * this run stored on conn_id as closed (conn_id 0 in the store; RFC 5626 7:
 * they are no longer used for routing, and `sipsec registrations` shows
 * "closed"). Call it for every stream connection that goes away; unknown
 * ids are cheap. Writes go to the store's batch like register (begin, never
 * commit; the caller's group commit makes them durable - not urgent: after
 * a restart every flow of the old run counts as closed anyway).
 * Returns 0 or a store errno. */
int sps_registrar_flow_closed(struct sps_registrar *r, uint64_t conn_id);

/* Delete bindings whose expiry has passed (expires_at <= now); *n (may be
 * NULL) receives how many. Call it from a timer (every few seconds); lookups
 * already ignore expired bindings, so this only reclaims space. Writes like
 * flow_closed. Returns 0 or a store errno. */
int sps_registrar_expire(struct sps_registrar *r, int64_t now, unsigned *n);

/* Walk the bindings of `user` usable for routing (issue 5): not expired at
 * `now`, and - for TCP/TLS bindings without Path - whose connection is still
 * open in this run (boot_id is ours, conn_id != 0); ordered by q descending
 * (no q counts as 1.0).
 * The struct and its strings are valid during the callback only. h returning
 * non-zero stops the walk and that value is returned; else 0 or a store
 * errno. */
int sps_registrar_lookup(struct sps_registrar *r, const char *user, int64_t now,
			 sps_store_binding_h *h, void *arg);

/* The canonical AoR of `user` ("sip:user@domain") into buf. Returns 0 or ENOSPC. */
int sps_registrar_aor(const struct sps_registrar *r, const char *user, char *buf, size_t size);

#endif
