/* net/sa: a socket address (IPv4 or IPv6 + port) with string conversion,
 * comparison and hashing. A plain value: copy it freely. */
#ifndef SPS_NET_SA_H
#define SPS_NET_SA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* len == 0 means unset. */
struct sps_sa {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Enough for "[ffff:...:255.255.255.255%scope]:65535". */
#define SPS_SA_STRLEN 72

/* Parse "1.2.3.4:5060", "[::1]:5060", "1.2.3.4" or "::1" (port 0 when
 * absent). Numeric only: no name lookup. Returns 0 or EINVAL. */
int sps_sa_from_str(struct sps_sa *sa, const char *s);
/* Set from an address and port; family is AF_INET or AF_INET6 by the text. */
int sps_sa_set_str(struct sps_sa *sa, const char *addr, uint16_t port);
/* Copy from a kernel sockaddr. Returns 0 or EAFNOSUPPORT. */
int sps_sa_set(struct sps_sa *sa, const struct sockaddr *s, socklen_t len);
/* "1.2.3.4:5060" or "[::1]:5060" into buf. Returns 0, EINVAL or ENOSPC. */
int sps_sa_to_str(const struct sps_sa *sa, char *buf, size_t size);
/* The address alone ("1.2.3.4", "::1"). Returns 0, EINVAL or ENOSPC. */
int sps_sa_ip_str(const struct sps_sa *sa, char *buf, size_t size);

static inline const struct sockaddr *sps_sa_addr(const struct sps_sa *sa)
{
	return (const struct sockaddr *)&sa->ss;
}
static inline int sps_sa_family(const struct sps_sa *sa) { return sa->ss.ss_family; }
uint16_t sps_sa_port(const struct sps_sa *sa);
void sps_sa_set_port(struct sps_sa *sa, uint16_t port);
bool sps_sa_is_any(const struct sps_sa *sa);
/* Enough for a numeric IPv6 address ("ffff:...:255.255.255.255"). */
#define SPS_SA_IPSTRLEN 46
/* The addresses of `family` on this host's interfaces that are up: what
 * clients reach a socket bound to that family's wildcard at (sipsec's IPv6
 * sockets are IPv6 only). Loopback addresses (127.0.0.0/8, ::1) and IPv6
 * link-local ones (which need a scope) are left out, each address is listed
 * once. Writes up to max numeric strings to out and returns how many;
 * *more (may be NULL) tells whether others did not fit. */
size_t sps_sa_local_ips(int family, char (*out)[SPS_SA_IPSTRLEN], size_t max, bool *more);

/* Same family, address and port. */
bool sps_sa_eq(const struct sps_sa *a, const struct sps_sa *b);
/* Same address (an IPv4-mapped IPv6 address equals its IPv4 address). */
bool sps_sa_eq_ip(const struct sps_sa *a, const struct sps_sa *b);
uint32_t sps_sa_hash(const struct sps_sa *sa);
uint32_t sps_sa_hash_ip(const struct sps_sa *sa);
/* The address as 16 bytes (IPv4 as ::ffff:a.b.c.d), the key of per-IP maps. */
void sps_sa_ip16(const struct sps_sa *sa, uint8_t out[16]);

#endif
