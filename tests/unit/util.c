/* Helpers shared by the unit tests. */
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "sip/msg.h"

int test_msg_parse(struct test_msg *p, const char *s, size_t len)
{
	memset(p, 0, sizeof(*p));
	if (sps_arena_new(&p->arena, 0))
		return ENOMEM;
	p->buf = malloc(len ? len : 1);
	if (!p->buf)
		return ENOMEM;
	if (len)
		memcpy(p->buf, s, len);
	return sps_sip_msg_parse(p->buf, len, p->arena, &p->m, &p->why);
}

void test_msg_free(struct test_msg *p)
{
	sps_arena_free(p->arena);
	free(p->buf);
	memset(p, 0, sizeof(*p));
}
