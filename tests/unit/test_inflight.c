/*
 * test_inflight: one copy of a request in progress at a time; copies
 * wait behind it in the order they came, go on one by one after a
 * failure and all at once once it is recorded; waiting is bounded in
 * copies and in the age of the one in progress (for copies that come
 * then, and those already waiting); other requests, and the
 * same request id of another client, never wait.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "inflight.h"

#define MAX_MS 5000

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

static enum inflight_entry
enter(struct inflight_node *n, const char *client, const char *id)
{
	return inflight_enter(&t, n, client, id, MAX_MS);
}

static void
test_copies_wait_in_order(void **state)
{
	struct inflight_node n[4];
	int i;

	(void)state;
	assert_int_equal(enter(&n[0], "svc", "r-1"), INFLIGHT_FIRST);
	for (i = 1; i < 4; i++)
		assert_int_equal(enter(&n[i], "svc", "r-1"), INFLIGHT_WAITS);
	assert_int_equal(atomic_load(&t.count), 4);
	/* after a failure each hands on to the one that waited longest */
	for (i = 0; i < 3; i++)
		assert_ptr_equal(inflight_leave(&t, &n[i]), &n[i + 1]);
	assert_null(inflight_leave(&t, &n[3]));
}

static void
test_recorded_hands_on_all(void **state)
{
	struct inflight_node n[4], *c, later;
	int i;

	(void)state;
	assert_int_equal(enter(&n[0], "svc", "r-2"), INFLIGHT_FIRST);
	for (i = 1; i < 4; i++)
		assert_int_equal(enter(&n[i], "svc", "r-2"), INFLIGHT_WAITS);
	c = inflight_leave_all(&t, &n[0]);
	for (i = 1; i < 4; i++, c = c->next)
		assert_ptr_equal(c, &n[i]);
	assert_null(c);
	assert_int_equal(atomic_load(&t.count), 0);
	/* the request left the table with its copies */
	assert_int_equal(enter(&later, "svc", "r-2"), INFLIGHT_FIRST);
	assert_null(inflight_leave_all(&t, &later));
}

static void
test_copies_bounded(void **state)
{
	struct inflight_node n[INFLIGHT_COPIES_MAX + 2];
	int i;

	(void)state;
	assert_int_equal(enter(&n[0], "svc", "r-3"), INFLIGHT_FIRST);
	for (i = 1; i <= INFLIGHT_COPIES_MAX; i++)
		assert_int_equal(enter(&n[i], "svc", "r-3"), INFLIGHT_WAITS);
	assert_int_equal(enter(&n[i], "svc", "r-3"), INFLIGHT_AROUND);
	assert_int_equal(atomic_load(&t.count), INFLIGHT_COPIES_MAX + 1);
	/* the copy handed on has one fewer behind it: room for one more */
	assert_ptr_equal(inflight_leave(&t, &n[0]), &n[1]);
	assert_int_equal(enter(&n[0], "svc", "r-3"), INFLIGHT_WAITS);
	assert_int_equal(enter(&n[i], "svc", "r-3"), INFLIGHT_AROUND);
	assert_non_null(inflight_leave_all(&t, &n[1]));
}

static void
test_no_wait_behind_an_old_one(void **state)
{
	struct inflight_node a, b, c;

	(void)state;
	assert_int_equal(enter(&a, "svc", "r-4"), INFLIGHT_FIRST);
	assert_int_equal(enter(&b, "svc", "r-4"), INFLIGHT_WAITS);
	a.since.tv_sec -= MAX_MS / 1000 + 1; /* as if it hung in the HSM */
	assert_int_equal(enter(&c, "svc", "r-4"), INFLIGHT_AROUND);
	/* the copy that takes its place starts its own time */
	assert_ptr_equal(inflight_leave(&t, &a), &b);
	assert_int_equal(enter(&c, "svc", "r-4"), INFLIGHT_WAITS);
	assert_ptr_equal(inflight_leave(&t, &b), &c);
	assert_null(inflight_leave(&t, &c));
}

/* Copies behind a request in progress for too long go around it; those
 * behind a younger one stay. */
static void
test_expire(void **state)
{
	struct inflight_node a, b, c, d, e, *n;

	(void)state;
	assert_null(inflight_expire(&t, MAX_MS)); /* nothing waits */
	assert_int_equal(enter(&a, "svc", "r-8"), INFLIGHT_FIRST);
	assert_int_equal(enter(&b, "svc", "r-8"), INFLIGHT_WAITS);
	assert_int_equal(enter(&c, "svc", "r-8"), INFLIGHT_WAITS);
	assert_int_equal(enter(&d, "svc", "r-9"), INFLIGHT_FIRST);
	assert_int_equal(enter(&e, "svc", "r-9"), INFLIGHT_WAITS);
	assert_null(inflight_expire(&t, MAX_MS));
	a.since.tv_sec -= MAX_MS / 1000 + 1;
	n = inflight_expire(&t, MAX_MS);
	assert_ptr_equal(n, &b);
	assert_ptr_equal(n->next, &c);
	assert_null(c.next);
	assert_int_equal(atomic_load(&t.count), 3);
	/* a has none left to hand on; d's copy still waits */
	assert_null(inflight_leave(&t, &a));
	assert_null(inflight_expire(&t, MAX_MS));
	assert_ptr_equal(inflight_leave(&t, &d), &e);
	assert_null(inflight_leave(&t, &e));
}

static void
test_others_never_wait(void **state)
{
	struct inflight_node a, b, c, d;

	(void)state;
	assert_int_equal(enter(&a, "svc", "r-5"), INFLIGHT_FIRST);
	assert_int_equal(enter(&b, "svc", "r-6"), INFLIGHT_FIRST);
	assert_int_equal(enter(&c, "other", "r-5"), INFLIGHT_FIRST);
	/* a client and id that run together read the same: still another */
	assert_int_equal(enter(&d, "svcr", "-5"), INFLIGHT_FIRST);
	assert_null(inflight_leave(&t, &b));
	assert_null(inflight_leave_all(&t, &a));
	assert_null(inflight_leave(&t, &d));
	assert_null(inflight_leave(&t, &c));
}

/* Many requests share buckets: each keeps its own copies, and a copy
 * arriving while the one handed on is in progress waits behind it. */
static void
test_many_requests(void **state)
{
	enum { N = 3 << INFLIGHT_BUCKETS_LOG2 };
	static struct inflight_node n[N], copy[N], late[N];
	static char id[N][16];
	int i;

	(void)state;
	for (i = 0; i < N; i++) {
		snprintf(id[i], sizeof(id[i]), "id-%d", i);
		assert_int_equal(enter(&n[i], "svc", id[i]), INFLIGHT_FIRST);
	}
	for (i = 0; i < N; i += 2)
		assert_int_equal(enter(&copy[i], "svc", id[i]), INFLIGHT_WAITS);
	for (i = 0; i < N; i++)
		assert_ptr_equal(
		    inflight_leave(&t, &n[i]), i % 2 == 0 ? &copy[i] : NULL);
	for (i = 0; i < N; i += 2)
		assert_int_equal(enter(&late[i], "svc", id[i]), INFLIGHT_WAITS);
	for (i = 0; i < N; i += 2) {
		assert_ptr_equal(inflight_leave_all(&t, &copy[i]), &late[i]);
		assert_null(late[i].next);
	}
}

/* Only a node in progress leaves: one waiting is left in its place. */
static void
test_leave_only_in_progress(void **state)
{
	struct inflight_node a, b;

	(void)state;
	assert_int_equal(enter(&a, "svc", "r-7"), INFLIGHT_FIRST);
	assert_int_equal(enter(&b, "svc", "r-7"), INFLIGHT_WAITS);
	assert_null(inflight_leave(&t, &b));
	assert_null(inflight_leave_all(&t, &b));
	assert_int_equal(atomic_load(&t.count), 2);
	assert_ptr_equal(inflight_leave(&t, &a), &b);
	assert_null(inflight_leave(&t, &a));
	assert_null(inflight_leave(&t, &b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_copies_wait_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_recorded_hands_on_all, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_copies_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_no_wait_behind_an_old_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_others_never_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_many_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_leave_only_in_progress, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
