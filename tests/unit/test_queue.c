/*
 * test_queue: the bounded FIFO between the front, the signing workers and
 * the ledger writer: order, capacity, stop semantics, bounded waits; and
 * the bound in bytes of the core's answers to a front.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"
#include "err.h"
#include "queue.h"

struct item {
	int v;
	struct sd_qnode node;
};

static void
test_fifo_and_capacity(void **state)
{
	struct item it[4] = { { 0, { NULL } }, { 1, { NULL } }, { 2, { NULL } },
		{ 3, { NULL } } };
	struct sd_qnode *out[8];
	struct sd_queue q;
	int stopped, i;

	(void)state;
	sd_queue_init(&q, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(sd_queue_push(&q, &it[i].node), 0);
	assert_int_equal(sd_queue_push(&q, &it[3].node), SD_ERR_BUSY);
	assert_int_equal(sd_queue_pop(&q, out, 2, 0, &stopped), 2);
	assert_int_equal(SD_CONTAINER_OF(out[0], struct item, node)->v, 0);
	assert_int_equal(SD_CONTAINER_OF(out[1], struct item, node)->v, 1);
	assert_false(stopped);
	assert_int_equal(sd_queue_push(&q, &it[3].node), 0);
	assert_int_equal(sd_queue_pop(&q, out, 8, 0, &stopped), 2);
	assert_int_equal(SD_CONTAINER_OF(out[0], struct item, node)->v, 2);
	assert_int_equal(SD_CONTAINER_OF(out[1], struct item, node)->v, 3);
	sd_queue_destroy(&q);
}

/* Bounded in bytes: a push that would take the queue over the bound it
 * names is refused, whatever the bound of earlier pushes (core_chan: a
 * soft bound for large answers, a hard one for the rest); taking nodes
 * frees their bytes; a queue of nodes without bytes is not bounded so. */
static void
test_byte_bound(void **state)
{
	struct item it[4] = { { 0, { NULL, 0 } }, { 1, { NULL, 0 } },
		{ 2, { NULL, 0 } }, { 3, { NULL, 0 } } };
	struct sd_qnode *out[8];
	struct sd_queue q;
	int stopped;

	(void)state;
	sd_queue_init(&q, 8);
	assert_int_equal(sd_queue_push_bytes(&q, &it[0].node, 600, 1000), 0);
	assert_int_equal(
	    sd_queue_push_bytes(&q, &it[1].node, 500, 1000), SD_ERR_BUSY);
	assert_int_equal(sd_queue_push_bytes(&q, &it[1].node, 400, 1000), 0);
	assert_int_equal(
	    sd_queue_push_bytes(&q, &it[2].node, 1, 1000), SD_ERR_BUSY);
	assert_int_equal(sd_queue_push_bytes(&q, &it[2].node, 1, 2000), 0);
	assert_int_equal(
	    sd_queue_push_bytes(&q, &it[3].node, SIZE_MAX, SIZE_MAX),
	    SD_ERR_BUSY); /* no overflow */
	assert_int_equal(q.bytes, 1001);
	assert_int_equal(sd_queue_pop(&q, out, 1, 0, &stopped), 1);
	assert_ptr_equal(out[0], &it[0].node);
	assert_int_equal(q.bytes, 401);
	assert_int_equal(sd_queue_push_bytes(&q, &it[0].node, 599, 1000), 0);
	assert_int_equal(sd_queue_push(&q, &it[3].node), 0); /* no bytes */
	assert_int_equal(sd_queue_pop(&q, out, 8, 0, &stopped), 4);
	assert_ptr_equal(out[0], &it[1].node);
	assert_ptr_equal(out[1], &it[2].node);
	assert_ptr_equal(out[2], &it[0].node);
	assert_ptr_equal(out[3], &it[3].node);
	assert_int_equal(q.bytes, 0);
	sd_queue_destroy(&q);
}

static void
test_stop_drains_then_reports(void **state)
{
	struct item a = { 7, { NULL } }, b = { 8, { NULL } };
	struct sd_qnode *out[2];
	struct sd_queue q;
	int stopped;

	(void)state;
	sd_queue_init(&q, 8);
	assert_int_equal(sd_queue_push(&q, &a.node), 0);
	sd_queue_stop(&q);
	assert_int_equal(sd_queue_push(&q, &b.node), SD_ERR_SHUTDOWN);
	assert_int_equal(sd_queue_pop(&q, out, 2, -1, &stopped), 1);
	assert_false(stopped); /* what was queued is still handed out */
	assert_int_equal(sd_queue_pop(&q, out, 2, -1, &stopped), 0);
	assert_true(stopped);
	assert_true(sd_queue_wait_stop(&q, 1000));
	sd_queue_destroy(&q);
}

static void
test_bounded_wait(void **state)
{
	struct sd_qnode *out[1];
	struct sd_queue q;
	struct timespec t0;
	int stopped;
	long ms;

	(void)state;
	sd_queue_init(&q, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sd_queue_pop(&q, out, 1, 50, &stopped), 0);
	assert_false(stopped);
	assert_false(sd_queue_wait_stop(&q, 20));
	ms = sd_ms_since(&t0);
	assert_true(ms >= 60);
	assert_true(ms < 5000);
	sd_queue_destroy(&q);
}

struct late {
	struct sd_queue *q;
	struct item *it;
	int r;
};

/* Thread: push l->it 30 ms from now; l->r is the push's result (checked
 * by the test's own thread: cmocka asserts only there). */
static void *
push_late(void *arg)
{
	struct late *l = arg;
	struct timespec ts = { 0, 30 * 1000000L };

	nanosleep(&ts, NULL);
	l->r = sd_queue_push(l->q, &l->it->node);
	return NULL;
}

/* sd_queue_pop_until: back as soon as `want` nodes came (one pushed
 * 30 ms later by another thread, long before the 10 s deadline), at the
 * deadline when they do not, never more than cap, and at once when the
 * queue is stopped. */
static void
test_pop_until(void **state)
{
	struct item it[3] = { { 0, { NULL, 0 } }, { 1, { NULL, 0 } },
		{ 2, { NULL, 0 } } };
	struct sd_qnode *out[4];
	struct late late;
	struct sd_queue q;
	struct timespec t0, until;
	pthread_t t;
	long ms;

	(void)state;
	sd_queue_init(&q, 8);
	late.q = &q;
	late.it = &it[2];
	late.r = -1;
	assert_int_equal(sd_queue_push(&q, &it[0].node), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	until = sd_deadline_us(10 * 1000000L);
	assert_int_equal(pthread_create(&t, NULL, push_late, &late), 0);
	assert_int_equal(sd_queue_pop_until(&q, out, 4, 2, &until), 2);
	ms = sd_ms_since(&t0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(late.r, 0);
	assert_true(ms >= 25 && ms < 5000);
	assert_int_equal(SD_CONTAINER_OF(out[0], struct item, node)->v, 0);
	assert_int_equal(SD_CONTAINER_OF(out[1], struct item, node)->v, 2);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	until = sd_deadline_us(50 * 1000L);
	assert_int_equal(sd_queue_pop_until(&q, out, 4, 1, &until), 0);
	ms = sd_ms_since(&t0);
	assert_true(ms >= 45 && ms < 5000);

	assert_int_equal(sd_queue_push(&q, &it[0].node), 0);
	assert_int_equal(sd_queue_push(&q, &it[1].node), 0);
	until = sd_deadline_us(10 * 1000000L);
	assert_int_equal(sd_queue_pop_until(&q, out, 1, 5, &until), 1);
	sd_queue_stop(&q);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sd_queue_pop_until(&q, out, 4, 5, &until), 1);
	assert_int_equal(SD_CONTAINER_OF(out[0], struct item, node)->v, 1);
	assert_true(sd_ms_since(&t0) < 5000);
	sd_queue_destroy(&q);
}

static int
below(const struct sd_qnode *n, void *arg)
{
	return SD_CONTAINER_OF(n, struct item, node)->v < *(int *)arg;
}

static void
test_take_old_stops_at_first_young(void **state)
{
	struct item it[4] = { { 1, { NULL } }, { 2, { NULL } }, { 9, { NULL } },
		{ 0, { NULL } } };
	struct sd_qnode *list, *out[4];
	struct sd_queue q;
	int limit = 5, stopped, i;

	(void)state;
	sd_queue_init(&q, 8);
	for (i = 0; i < 4; i++)
		assert_int_equal(sd_queue_push(&q, &it[i].node), 0);
	list = sd_queue_take_old(&q, below, &limit);
	assert_non_null(list);
	assert_int_equal(SD_CONTAINER_OF(list, struct item, node)->v, 1);
	assert_int_equal(SD_CONTAINER_OF(list->next, struct item, node)->v, 2);
	assert_null(list->next->next);
	/* 9 stopped the scan: it and 0 remain, in order */
	assert_int_equal(sd_queue_pop(&q, out, 4, 0, &stopped), 2);
	assert_int_equal(SD_CONTAINER_OF(out[0], struct item, node)->v, 9);
	assert_int_equal(SD_CONTAINER_OF(out[1], struct item, node)->v, 0);
	sd_queue_destroy(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_and_capacity),
		cmocka_unit_test(test_byte_bound),
		cmocka_unit_test(test_stop_drains_then_reports),
		cmocka_unit_test(test_bounded_wait),
		cmocka_unit_test(test_pop_until),
		cmocka_unit_test(test_take_old_stops_at_first_young),
	};

	return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
