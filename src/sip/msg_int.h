/* sip/msg_int: internals shared by the message parser's files (and tests). */
#ifndef SPS_SIP_MSG_INT_H
#define SPS_SIP_MSG_INT_H

#include "sip/msg.h"

/* Parse the value of one header entry into its parsed form (allocated in
 * arena) and set h->parsed; updates the shortcuts of m. Returns 0 or EBADMSG
 * with *why set. */
int sps__hdr_parse(struct sps_sip_msg *m, struct sps_sip_hdr *h, struct sps_arena *arena,
		   const char **why);
/* True when the header id is a comma-separated list split into entries. */
bool sps__hdr_is_list(enum sps_hdr_id id);
/* Scan a quoted-string starting at p (which is '"'); returns a pointer after
 * the closing quote, or NULL when unterminated. */
const char *sps__skip_quoted(const char *p, const char *end);

#endif
