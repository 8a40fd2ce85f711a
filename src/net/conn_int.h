/* net/conn internals visible to tests. */
#ifndef SPS_NET_CONN_INT_H
#define SPS_NET_CONN_INT_H

#include "net/conn.h"

/* Like sps_conn_set_idle, in milliseconds (tests). */
int sps__conn_set_idle_ms(struct sps_conn *c, uint64_t ms);
/* Capacity of the input buffer and the output queue now held (0 when none):
 * an idle connection holds neither. */
void sps__conn_bufs(const struct sps_conn *c, size_t *in_cap, size_t *out_cap);
/* Accepted sockets refused by the limits since the table was created. */
unsigned long sps__conntab_refused(const struct sps_conntab *tab);
/* Number of handshake worker threads. */
int sps__conntab_workers(const struct sps_conntab *tab);

#endif
