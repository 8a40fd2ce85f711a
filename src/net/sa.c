/* net/sa: socket addresses. */
#include "net/sa.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sps_sa_set_str(struct sps_sa *sa, const char *addr, uint16_t port)
{
	struct sps_sa tmp;
	memset(&tmp, 0, sizeof(tmp));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&tmp.ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&tmp.ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		tmp.len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		tmp.len = sizeof(*s6);
	} else {
		return EINVAL;
	}
	*sa = tmp;
	return 0;
}

int sps_sa_from_str(struct sps_sa *sa, const char *s)
{
	char host[INET6_ADDRSTRLEN];
	const char *h = s, *ps = NULL;
	size_t hl;

	if (!s)
		return EINVAL;
	if (*s == '[') {
		const char *e = strchr(s, ']');
		if (!e)
			return EINVAL;
		h = s + 1;
		hl = (size_t)(e - h);
		if (e[1] == ':')
			ps = e + 2;
		else if (e[1] != '\0')
			return EINVAL;
	} else {
		const char *c = strchr(s, ':');
		if (c && !strchr(c + 1, ':')) { /* exactly one colon: v4:port */
			hl = (size_t)(c - s);
			ps = c + 1;
		} else {
			hl = strlen(s);
		}
	}
	if (hl == 0 || hl >= sizeof(host))
		return EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	unsigned long port = 0;
	if (ps) {
		char *end;
		if (*ps < '0' || *ps > '9')
			return EINVAL;
		errno = 0;
		port = strtoul(ps, &end, 10);
		if (*end || errno || port > 65535)
			return EINVAL;
	}
	return sps_sa_set_str(sa, host, (uint16_t)port);
}

int sps_sa_set(struct sps_sa *sa, const struct sockaddr *s, socklen_t len)
{
	if (s->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		len = sizeof(struct sockaddr_in);
	else if (s->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		len = sizeof(struct sockaddr_in6);
	else
		return EAFNOSUPPORT;
	memset(sa, 0, sizeof(*sa));
	memcpy(&sa->ss, s, len);
	sa->len = len;
	return 0;
}

int sps_sa_ip_str(const struct sps_sa *sa, char *buf, size_t size)
{
	char tmp[INET6_ADDRSTRLEN];
	const void *a;
	if (sps_sa_family(sa) == AF_INET)
		a = &((const struct sockaddr_in *)&sa->ss)->sin_addr;
	else if (sps_sa_family(sa) == AF_INET6)
		a = &((const struct sockaddr_in6 *)&sa->ss)->sin6_addr;
	else
		return EINVAL;
	if (!inet_ntop(sps_sa_family(sa), a, tmp, sizeof(tmp)))
		return EINVAL;
	if (strlen(tmp) >= size)
		return ENOSPC;
	strcpy(buf, tmp);
	return 0;
}

int sps_sa_to_str(const struct sps_sa *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	int err = sps_sa_ip_str(sa, ip, sizeof(ip));
	if (err)
		return err;
	int n = snprintf(buf, size, sps_sa_family(sa) == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
			 sps_sa_port(sa));
	return n < 0 || (size_t)n >= size ? ENOSPC : 0;
}

uint16_t sps_sa_port(const struct sps_sa *sa)
{
	if (sps_sa_family(sa) == AF_INET)
		return ntohs(((const struct sockaddr_in *)&sa->ss)->sin_port);
	if (sps_sa_family(sa) == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&sa->ss)->sin6_port);
	return 0;
}

void sps_sa_set_port(struct sps_sa *sa, uint16_t port)
{
	if (sps_sa_family(sa) == AF_INET)
		((struct sockaddr_in *)&sa->ss)->sin_port = htons(port);
	else if (sps_sa_family(sa) == AF_INET6)
		((struct sockaddr_in6 *)&sa->ss)->sin6_port = htons(port);
}

void sps_sa_ip16(const struct sps_sa *sa, uint8_t out[16])
{
	memset(out, 0, 16);
	if (sps_sa_family(sa) == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)&sa->ss)->sin_addr, 4);
	} else if (sps_sa_family(sa) == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)&sa->ss)->sin6_addr, 16);
	}
}

bool sps_sa_is_any(const struct sps_sa *sa)
{
	uint8_t ip[16];
	static const uint8_t any6[16], any4[16] = {[10] = 0xff, [11] = 0xff};
	sps_sa_ip16(sa, ip);
	return memcmp(ip, sps_sa_family(sa) == AF_INET ? any4 : any6, 16) == 0;
}

size_t sps_sa_local_ips(int family, char (*out)[SPS_SA_IPSTRLEN], size_t max, bool *more)
{
	struct ifaddrs *list = NULL;
	size_t n = 0;
	if (more)
		*more = false;
	if (getifaddrs(&list) != 0)
		return 0;
	for (const struct ifaddrs *i = list; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != family || !(i->ifa_flags & IFF_UP))
			continue;
		const void *a;
		if (family == AF_INET) {
			const struct in_addr *a4 =
				&((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
			if ((ntohl(a4->s_addr) >> 24) == 127)
				continue;
			a = a4;
		} else {
			const struct in6_addr *a6 =
				&((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(a6) || IN6_IS_ADDR_LOOPBACK(a6))
				continue;
			a = a6;
		}
		char ip[SPS_SA_IPSTRLEN];
		if (!inet_ntop(family, a, ip, sizeof(ip)))
			continue;
		bool seen = false;
		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(out[k], ip) == 0;
		if (seen)
			continue;
		if (n == max) {
			if (more)
				*more = true;
			break;
		}
		memcpy(out[n++], ip, sizeof(ip));
	}
	freeifaddrs(list);
	return n;
}

bool sps_sa_eq_ip(const struct sps_sa *a, const struct sps_sa *b)
{
	uint8_t x[16], y[16];
	if (!a->len || !b->len)
		return false;
	sps_sa_ip16(a, x);
	sps_sa_ip16(b, y);
	return memcmp(x, y, 16) == 0;
}

bool sps_sa_eq(const struct sps_sa *a, const struct sps_sa *b)
{
	return sps_sa_family(a) == sps_sa_family(b) && sps_sa_eq_ip(a, b) &&
	       sps_sa_port(a) == sps_sa_port(b);
}

/* FNV-1a. Tables keyed by peer addresses (attacker-chosen) mix in their own
 * random seed on top, see net/conn.c. */
static uint32_t fnv(const uint8_t *p, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

uint32_t sps_sa_hash_ip(const struct sps_sa *sa)
{
	uint8_t ip[16];
	sps_sa_ip16(sa, ip);
	return fnv(ip, sizeof(ip), 2166136261u);
}

uint32_t sps_sa_hash(const struct sps_sa *sa)
{
	uint16_t port = sps_sa_port(sa);
	uint8_t p[2] = {(uint8_t)(port >> 8), (uint8_t)port};
	return fnv(p, 2, sps_sa_hash_ip(sa));
}
