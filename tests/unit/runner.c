/* The unit-test runner: runs every test of test-list.h (or those whose name
 * contains argv[1]), checks for leaks after each under LeakSanitizer, and ends
 * with the line "unit: N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

struct test_entry {
	const char *name;
	int (*fn)(void);
};

static const struct test_entry tests[] = {
#define TEST(name) {#name, test_##name},
#include "test-list.h"
#undef TEST
};

const char *sps_test_data_dir(void)
{
	const char *d = getenv("SPS_TEST_DATA");
	return d && *d ? d : "tests/data";
}

char *sps_test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		char *nb = realloc(buf, cap * 2 + 1);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	unsigned passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (filter && !strstr(tests[i].name, filter))
			continue;
		int rc = tests[i].fn();
#ifdef HAVE_LSAN
		if (rc == 0 && __lsan_do_recoverable_leak_check()) {
			fprintf(stderr, "    leak detected\n");
			rc = 1;
		}
#endif
		if (rc == 0) {
			passed++;
			printf("ok   %s\n", tests[i].name);
		} else {
			failed++;
			printf("FAIL %s\n", tests[i].name);
		}
		fflush(stdout);
	}
	printf("unit: %u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
