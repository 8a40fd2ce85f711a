/* The table of unit tests: TEST(name) runs int test_name(void).
 * Keep entries grouped by module, in layer order. */
/* core */
TEST(slice_basics)
TEST(arena_limits)
TEST(mbuf_limits)
TEST(mem_refcount)
