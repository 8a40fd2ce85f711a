/* Helpers shared by the unit tests. */
#include "util.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/arena.h"
#include "sip/msg.h"
#include "test.h"

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

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void test_rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int test_with_datadir(int (*fn)(const char *data))
{
	char dir[] = "/tmp/sipsec-test.XXXXXX";
	if (!mkdtemp(dir))
		TEST_FAIL("mkdtemp: %s", strerror(errno));
	char data[64];
	snprintf(data, sizeof(data), "%s/data", dir);
	int rc = fn(data);
	test_rmtree(dir);
	ERR_clear_error(); /* what a failed case left must not leak into the next */
	return rc;
}

X509 *test_read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	return x;
}
