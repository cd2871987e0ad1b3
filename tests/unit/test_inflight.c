/*
 * test_inflight: one copy of a request in progress at a time; copies
 * wait behind it in the order they came and go on one by one; other
 * requests, and the same request id of another client, never wait.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "inflight.h"

static struct inflight t;

static int
setup(void **state)
{
	(void)state;
	inflight_init(&t);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	assert_int_equal(atomic_load(&t.count), 0);
	inflight_destroy(&t);
	return 0;
}

static void
test_copies_wait_in_order(void **state)
{
	struct inflight_node n[4];
	int i;

	(void)state;
	assert_int_equal(inflight_enter(&t, &n[0], "svc", "r-1"), 0);
	for (i = 1; i < 4; i++)
		assert_int_equal(inflight_enter(&t, &n[i], "svc", "r-1"), 1);
	assert_int_equal(atomic_load(&t.count), 4);
	/* each finished copy hands on to the one that waited longest */
	for (i = 0; i < 3; i++)
		assert_ptr_equal(inflight_leave(&t, &n[i]), &n[i + 1]);
	assert_null(inflight_leave(&t, &n[3]));
}

static void
test_copy_after_the_first_finished(void **state)
{
	struct inflight_node a, b;

	(void)state;
	assert_int_equal(inflight_enter(&t, &a, "svc", "r-2"), 0);
	assert_null(inflight_leave(&t, &a));
	assert_int_equal(inflight_enter(&t, &b, "svc", "r-2"), 0);
	assert_null(inflight_leave(&t, &b));
}

static void
test_others_never_wait(void **state)
{
	struct inflight_node a, b, c, d;

	(void)state;
	assert_int_equal(inflight_enter(&t, &a, "svc", "r-3"), 0);
	assert_int_equal(inflight_enter(&t, &b, "svc", "r-4"), 0);
	assert_int_equal(inflight_enter(&t, &c, "other", "r-3"), 0);
	/* a client and id that run together read the same: still another */
	assert_int_equal(inflight_enter(&t, &d, "svcr", "-3"), 0);
	assert_null(inflight_leave(&t, &b));
	assert_null(inflight_leave(&t, &a));
	assert_null(inflight_leave(&t, &d));
	assert_null(inflight_leave(&t, &c));
}

/* Many requests share buckets: each chain keeps its own copies, and a
 * copy arriving while its request's successor is in progress queues
 * behind the successor. */
static void
test_many_requests(void **state)
{
	enum { N = 3 * INFLIGHT_BUCKETS };
	static struct inflight_node n[N], copy[N], late[N];
	static char id[N][16];
	int i;

	(void)state;
	for (i = 0; i < N; i++) {
		snprintf(id[i], sizeof(id[i]), "id-%d", i);
		assert_int_equal(inflight_enter(&t, &n[i], "svc", id[i]), 0);
	}
	for (i = 0; i < N; i += 2)
		assert_int_equal(inflight_enter(&t, &copy[i], "svc", id[i]), 1);
	for (i = 0; i < N; i++)
		assert_ptr_equal(
		    inflight_leave(&t, &n[i]), i % 2 == 0 ? &copy[i] : NULL);
	for (i = 0; i < N; i += 2)
		assert_int_equal(inflight_enter(&t, &late[i], "svc", id[i]), 1);
	for (i = 0; i < N; i += 2) {
		assert_ptr_equal(inflight_leave(&t, &copy[i]), &late[i]);
		assert_null(inflight_leave(&t, &late[i]));
	}
}

static void
test_leave_twice_is_harmless(void **state)
{
	struct inflight_node a;

	(void)state;
	assert_int_equal(inflight_enter(&t, &a, "svc", "r-5"), 0);
	assert_null(inflight_leave(&t, &a));
	assert_null(inflight_leave(&t, &a));
	assert_int_equal(atomic_load(&t.count), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_copies_wait_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_copy_after_the_first_finished, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_others_never_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_many_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_leave_twice_is_harmless, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
