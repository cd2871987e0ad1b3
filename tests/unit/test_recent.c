/*
 * test_recent: the requests seen recorded lately.  An id added is known
 * (for its client only), the next generation keeps it, the one after
 * forgets it; a slot run full of other fingerprints drops the add, it
 * does not search further.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "recent.h"

static struct recent r;

static int
setup(void **state)
{
	(void)state;
	return recent_init(&r, 0x5eed5eed5eed5eedULL);
}

static int
teardown(void **state)
{
	(void)state;
	recent_destroy(&r);
	return 0;
}

static void
test_known_for_its_client(void **state)
{
	(void)state;
	assert_int_equal(recent_has(&r, "alice", "req-1"), 0);
	recent_add(&r, "alice", "req-1");
	assert_int_equal(recent_has(&r, "alice", "req-1"), 1);
	assert_int_equal(recent_has(&r, "bob", "req-1"), 0);
	assert_int_equal(recent_has(&r, "alice", "req-2"), 0);
	/* the separator: ("ab", "c") is not ("a", "bc") */
	recent_add(&r, "ab", "c");
	assert_int_equal(recent_has(&r, "a", "bc"), 0);
	/* adding it again changes nothing */
	recent_add(&r, "alice", "req-1");
	assert_int_equal(recent_has(&r, "alice", "req-1"), 1);
}

/* Add ids until the current generation is full and turns old (an add
 * whose probe run is full is dropped, so a few more than it holds);
 * how many were added. */
static size_t
fill_generation(const char *prefix)
{
	char id[64];
	size_t i, cur = (size_t)r.cur;

	for (i = 0; (size_t)r.cur == cur && i < 2 * RECENT_GEN; i++) {
		snprintf(id, sizeof(id), "%s-%zu", prefix, i);
		recent_add(&r, "bulk", id);
	}
	return i;
}

static void
test_two_generations(void **state)
{
	size_t n;

	(void)state;
	recent_add(&r, "alice", "old");
	/* fill the current generation: "old" is now in the previous one */
	n = fill_generation("a");
	assert_true(n < RECENT_GEN + RECENT_GEN / 100);
	assert_int_equal(r.count, 0);
	assert_int_equal(recent_has(&r, "alice", "old"), 1);
	assert_int_equal(recent_has(&r, "bulk", "a-0"), 1);
	/* and the next: "old" is forgotten, the previous fill is kept */
	fill_generation("b");
	assert_int_equal(recent_has(&r, "alice", "old"), 0);
	assert_int_equal(recent_has(&r, "bulk", "a-5"), 0);
	assert_int_equal(recent_has(&r, "bulk", "b-0"), 1);
	assert_int_equal(recent_has(&r, "bulk", "b-99"), 1);
}

/* The slot a fingerprint's probe starts at. */
static size_t
start_of(uint64_t seed, const char *client, const char *id)
{
	return (size_t)(recent_fingerprint(seed, client, id) >>
	    (64 - (RECENT_GEN_LOG2 + 1)));
}

/* Ids whose probes all start in one slot: the first RECENT_PROBES fill
 * its run, and the next is dropped (not known), not placed further. */
static void
test_probes_bounded(void **state)
{
	static char ids[RECENT_PROBES + 1][32];
	struct recent z;
	size_t n = 1, i, s0;

	(void)state;
	assert_int_equal(recent_init(&z, 7), 0);
	snprintf(ids[0], sizeof(ids[0]), "probe-0");
	s0 = start_of(7, "c", ids[0]);
	/* one id in 2^18 starts there: about 4.5 million tries */
	for (i = 1; n < RECENT_PROBES + 1 && i < 64000000; i++) {
		snprintf(ids[n], sizeof(ids[n]), "probe-%zu", i);
		if (start_of(7, "c", ids[n]) == s0)
			n++;
	}
	assert_int_equal(n, RECENT_PROBES + 1);
	for (i = 0; i < n; i++)
		recent_add(&z, "c", ids[i]);
	for (i = 0; i < RECENT_PROBES; i++)
		assert_int_equal(recent_has(&z, "c", ids[i]), 1);
	assert_int_equal(recent_has(&z, "c", ids[RECENT_PROBES]), 0);
	assert_int_equal(z.count, RECENT_PROBES);
	recent_destroy(&z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_known_for_its_client, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_two_generations, setup, teardown),
		cmocka_unit_test(test_probes_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
