/* sip/salvage: a 400 for a request that cannot be parsed, from its raw lines. */
#include "sip/salvage.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "sip/msg.h"

static bool name_is(const char *line, size_t l, const char *longname, char compact)
{
	size_t n = strlen(longname), i;
	if (l > n && strncasecmp(line, longname, n) == 0)
		i = n;
	else if (compact && l > 1 && (line[0] | 0x20) == compact)
		i = 1;
	else
		return false;
	while (i < l && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < l && line[i] == ':';
}

int sps_sip_salvage_400(struct sps_mbuf *mb, const char *buf, size_t len, const char *reason)
{
	static const struct {
		const char *name;
		char compact;
	} need[] = {{"Via", 'v'}, {"From", 'f'}, {"To", 't'}, {"Call-ID", 'i'}, {"CSeq", 0}};
	const char *end = buf + len, *p = buf;
	bool seen[5] = {false};

	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	if (!eol || (end - p >= 4 && strncasecmp(p, "SIP/", 4) == 0) ||
	    (end - p >= 4 && memcmp(p, "ACK ", 4) == 0))
		return ENOENT;
	for (const char *r = reason; *r; r++)
		if ((unsigned char)*r < ' ')
			return EINVAL;
	/* two passes: check that every needed line is present and clean, then write */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			sps_mbuf_printf(mb, "SIP/2.0 400 %s\r\n", reason);
		for (const char *l = eol + 2; l < end;) {
			const char *e = memmem(l, (size_t)(end - l), "\r\n", 2);
			if (!e || e == l)
				break;
			for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++) {
				if (!name_is(l, (size_t)(e - l), need[k].name, need[k].compact))
					continue;
				if (pass == 0) {
					if (e - l > 1024 || memchr(l, '\n', (size_t)(e - l)) ||
					    memchr(l, '\0', (size_t)(e - l)) ||
					    memchr(l, '\r', (size_t)(e - l)))
						return EINVAL;
					seen[k] = true;
				} else {
					sps_mbuf_write(mb, l, (size_t)(e - l + 2));
				}
			}
			l = e + 2;
		}
		if (pass == 0)
			for (size_t k = 0; k < sizeof(seen); k++)
				if (!seen[k])
					return ENOENT;
	}
	sps_mbuf_puts(mb, "Content-Length: 0\r\n\r\n");
	return sps_mbuf_err(mb);
}
