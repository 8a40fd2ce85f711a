/* sip/tsx: the SIP transaction layer (RFC 3261 section 17, with the RFC 6026
 * Accepted states). Server transactions absorb retransmitted requests and
 * answer them from the last response, retransmit final INVITE responses over
 * UDP until the ACK comes, and absorb that ACK (hop-by-hop). Client
 * transactions retransmit requests over UDP, time out (408 to their user)
 * and ACK non-2xx final responses themselves.
 *
 * Timers A-M come from the loop's min-heap (O(log n) per start/cancel);
 * transactions are found in a hash table keyed as RFC 3261 17.1.3 / 17.2.3
 * say (branch + sent-by + method), O(1).
 *
 * Everything runs on the loop's thread. The layer does not know sockets: it
 * sends through the send_h callback with a struct sps_tsx_dest.
 *
 * Ownership: the layer holds one reference to each transaction from creation
 * until it terminates; a caller that keeps a pointer beyond the current call
 * takes its own (sps_tsx_ref / sps_mem_deref). A terminated transaction is
 * inert: respond/cancel calls on it return ESHUTDOWN. */
#ifndef SPS_SIP_TSX_H
#define SPS_SIP_TSX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "net/conn.h"
#include "net/sa.h"
#include "sip/msg.h"

/* Where a transaction's messages go. For UDP, addr is the destination; for
 * TCP/TLS, conn_id is the connection (addr is its peer, for logs). */
struct sps_tsx_dest {
	enum sps_transport tp;
	struct sps_sa addr;
	uint64_t conn_id;
};

/* Send len bytes to d. Returns 0 or an errno (the transaction then fails:
 * a client transaction reports 503, a server transaction terminates). */
typedef int(sps_tsx_send_h)(const struct sps_tsx_dest *d, const char *buf, size_t len, void *arg);

struct sps_tsx_conf {
	uint32_t t1; /* RTT estimate, ms: 500 */
	uint32_t t2; /* max non-INVITE retransmit interval, ms: 4000 */
	uint32_t t4; /* max time a message stays in the network, ms: 5000 */
};

enum sps_tsx_state {
	SPS_TSX_CALLING = 0, /* client INVITE, request sent */
	SPS_TSX_TRYING,      /* client or server non-INVITE, nothing received / sent yet */
	SPS_TSX_PROCEEDING,  /* a provisional response */
	SPS_TSX_COMPLETED,   /* a final (INVITE: non-2xx) response */
	SPS_TSX_CONFIRMED,   /* server INVITE: ACK received */
	SPS_TSX_ACCEPTED,    /* INVITE 2xx (RFC 6026) */
	SPS_TSX_TERMINATED,
};

struct sps_tsx;
struct sps_tsx_layer;

/* A client transaction's outcome, or a server transaction's end.
 * Client: every response that passes the transaction (provisionals, the
 * final, and with RFC 6026 every 2xx retransmission of an INVITE), with
 * resp set; a timeout (Timer B/F) as code 408 and a send failure as 503,
 * with resp NULL. Server: called once when an INVITE transaction gives up
 * waiting for the ACK (Timer H, code 408) or a send fails (503), resp NULL.
 * The transaction is valid during the call. */
typedef void(sps_tsx_resp_h)(struct sps_tsx *t, unsigned code, const struct sps_sip_msg *resp,
			     void *arg);

/* Create the layer on loop. conf NULL or zero fields: RFC 3261 defaults. */
int sps_tsx_layer_new(struct sps_tsx_layer **out, struct sps_loop *loop,
		      const struct sps_tsx_conf *conf, sps_tsx_send_h *send_h, void *arg);
/* Terminate every transaction without telling anyone (shutdown), free the layer. */
void sps_tsx_layer_free(struct sps_tsx_layer *l);
/* Live transactions (tests, metrics). */
size_t sps_tsx_layer_count(const struct sps_tsx_layer *l);

/* A new RFC 3261 branch ("z9hG4bK" + 22 random characters) into out. */
void sps_tsx_branch(char out[32]);

/* ---- server transactions (RFC 3261 17.2) ---- */

/* Offer a received request to the existing server transactions. Returns true
 * when one matched and took it (a retransmission answered with the last
 * response, or an ACK for a non-2xx final response): the caller stops there.
 * Returns false for a new request, and for an ACK that is not for a non-2xx
 * final response (an ACK for 2xx is end to end: the caller routes it). */
bool sps_tsx_server_absorb(struct sps_tsx_layer *l, const struct sps_sip_msg *req);

/* Create the server transaction for a new request (not ACK) that will be
 * answered on dest. An INVITE gets "100 Trying" at once (RFC 3261 17.2.1,
 * 8.2.6.1). *out (may be NULL) gets a reference for the caller. h (may be
 * NULL) hears of Timer H and send failures. Returns 0, EINVAL for ACK or a
 * request without a top Via branch, EEXIST when it is already known, ENOMEM. */
int sps_tsx_server_new(struct sps_tsx **out, struct sps_tsx_layer *l,
		       const struct sps_sip_msg *req, const struct sps_tsx_dest *dest,
		       sps_tsx_resp_h *h, void *arg);

/* Send a response (the whole message in buf, status code `code`) through
 * the server transaction. The bytes are copied for retransmissions. A final
 * response moves it to Completed (INVITE non-2xx: retransmitted over UDP
 * with Timer G until the ACK; Timer H gives up) or Accepted (INVITE 2xx,
 * RFC 6026 Timer L) or, for non-INVITE, Completed until Timer J. Returns 0,
 * EALREADY after a final response (except further 2xx to an INVITE, which
 * are sent: RFC 6026 7.1), ESHUTDOWN when terminated, or the send error. */
int sps_tsx_respond(struct sps_tsx *t, unsigned code, const char *buf, size_t len);

/* RFC 3261 9.2: the INVITE server transaction a CANCEL refers to (same
 * branch and sent-by), or NULL. Borrowed. */
struct sps_tsx *sps_tsx_server_find_invite(struct sps_tsx_layer *l,
					   const struct sps_sip_msg *cancel);

/* ---- client transactions (RFC 3261 17.1) ---- */

/* Send the request in buf (a complete message whose top Via carries a
 * branch from sps_tsx_branch) to dest and run its client transaction. The
 * bytes are copied. h receives the responses (see sps_tsx_resp_h). *out (may
 * be NULL) gets a reference for the caller. Returns 0, EBADMSG when buf does
 * not parse or has no branch, EEXIST, ENOMEM, or the send error (then no
 * transaction exists and h is not called). */
int sps_tsx_client_new(struct sps_tsx **out, struct sps_tsx_layer *l,
		       const struct sps_tsx_dest *dest, const char *buf, size_t len,
		       sps_tsx_resp_h *h, void *arg);

/* sps_tsx_client_new for a request the caller built itself, so that it
 * need not be parsed again: meth/method are its method (not ACK; method is
 * used for SPS_METHOD_OTHER) and branch the branch parameter of its top Via
 * (an RFC 3261 one, else EBADMSG). Same results otherwise. */
int sps_tsx_client_send(struct sps_tsx **out, struct sps_tsx_layer *l,
			const struct sps_tsx_dest *dest, const char *buf, size_t len,
			enum sps_sip_method meth, struct sps_slice method,
			struct sps_slice branch, sps_tsx_resp_h *h, void *arg);

/* A client transaction's request as sent (for building its CANCEL, RFC
 * 3261 9.1), held until a final response came; NULL afterwards and for
 * server transactions. *len gets its length. */
const char *sps_tsx_request(const struct sps_tsx *t, size_t *len);

/* Offer a received response to the client transactions (RFC 3261 17.1.3:
 * top Via branch and CSeq method). Returns true when one took it. */
bool sps_tsx_client_absorb(struct sps_tsx_layer *l, const struct sps_sip_msg *resp);

/* Stop a client transaction without a response to its user (the TU gave up
 * on it, for example after a CANCEL was answered and Timer C fired).
 * Idempotent. */
void sps_tsx_abandon(struct sps_tsx *t);

/* ---- both ---- */
struct sps_tsx *sps_tsx_ref(struct sps_tsx *t);
enum sps_tsx_state sps_tsx_state(const struct sps_tsx *t);
bool sps_tsx_is_invite(const struct sps_tsx *t);
bool sps_tsx_is_server(const struct sps_tsx *t);
/* Last status sent (server) or received (client); 0 when none. */
unsigned sps_tsx_status(const struct sps_tsx *t);
const struct sps_tsx_dest *sps_tsx_dest(const struct sps_tsx *t);
void sps_tsx_set_udata(struct sps_tsx *t, void *udata);
void *sps_tsx_udata(const struct sps_tsx *t);
const char *sps_tsx_state_name(enum sps_tsx_state s);

#endif
