/*
 * test_ratelimit: token buckets and daily quotas at their edges, with a
 * clock the test controls: a full bucket of exactly burst tokens, one
 * token back after exactly 1/per_second (fractional rates too), the quota
 * at its limit and again after UTC midnight, refunds, and the state that a
 * policy reload keeps (same name, same limits) or resets (limits changed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "policy.h"
#include "ratelimit.h"
#include "sd_limits.h"

#define S 1000000000LL /* ns per second */
#define DAY (86400LL * S)
#define T0 (20000LL * DAY + 12LL * 3600 * S) /* 2024-10-04T12:00:00Z */

static void
principal(struct policy_principal *c, const char *name, double per_second,
    unsigned int burst, uint64_t quota)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->per_second = per_second;
	c->burst = burst;
	c->daily_quota = quota;
}

/* Take n tokens at now; all must succeed. */
static void
take_ok(
    struct ratelimit *rl, const struct policy_principal *c, int64_t now, int n)
{
	const char *reason;
	int i;

	for (i = 0; i < n; i++) {
		if (ratelimit_take(rl, c, now, &reason) != 0)
			fail_msg("take %d of %d refused: %s", i + 1, n, reason);
		assert_null(reason);
	}
}

static void
take_denied(struct ratelimit *rl, const struct policy_principal *c, int64_t now,
    const char *why)
{
	const char *reason = NULL;

	assert_int_equal(
	    ratelimit_take(rl, c, now, &reason), SD_ERR_RATE_LIMITED);
	assert_non_null(reason);
	assert_string_equal(reason, why);
}

static void
test_burst_exact(void **state)
{
	struct policy_principal c;
	struct ratelimit *rl;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	principal(&c, "api", 50, 100, 0);
	take_ok(rl, &c, T0, 100); /* starts full: exactly burst */
	take_denied(rl, &c, T0, "rate");
	take_denied(rl, &c, T0 + S / 50 - 1, "rate"); /* 1 ns short */
	take_ok(rl, &c, T0 + S / 50, 1);              /* 1/per_second */
	take_denied(rl, &c, T0 + S / 50, "rate");
	/* a long pause refills to burst, not beyond */
	take_ok(rl, &c, T0 + 3600 * S, 100);
	take_denied(rl, &c, T0 + 3600 * S, "rate");
	ratelimit_free(rl);
}

static void
test_fractional_rate(void **state)
{
	struct policy_principal c;
	struct ratelimit *rl;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	principal(&c, "slow", 0.5, 1, 0); /* one every 2 s */
	take_ok(rl, &c, T0, 1);
	take_denied(rl, &c, T0 + S, "rate");
	take_denied(rl, &c, T0 + 2 * S - 1, "rate");
	take_ok(rl, &c, T0 + 2 * S, 1);
	take_denied(rl, &c, T0 + 2 * S, "rate");
	take_ok(rl, &c, T0 + 4 * S, 1);
	ratelimit_free(rl);

	/* 3/s: one token each 333333333.3 ns; exactly 1 s gives 3 */
	assert_non_null(rl = ratelimit_new());
	principal(&c, "third", 3, 3, 0);
	take_ok(rl, &c, T0, 3);
	take_denied(rl, &c, T0 + 333333333, "rate");
	take_ok(rl, &c, T0 + 333333334, 1);
	take_ok(rl, &c, T0 + S, 2);
	take_denied(rl, &c, T0 + S, "rate");
	ratelimit_free(rl);

	/* many small refills add up like one large one */
	assert_non_null(rl = ratelimit_new());
	principal(&c, "steps", 0.1, 1, 0);
	take_ok(rl, &c, T0, 1);
	for (int i = 1; i < 10; i++)
		take_denied(rl, &c, T0 + i * S, "rate");
	take_ok(rl, &c, T0 + 10 * S, 1);
	ratelimit_free(rl);
}

static void
test_clock_backwards(void **state)
{
	struct policy_principal c;
	struct ratelimit *rl;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	principal(&c, "api", 1, 1, 0);
	take_ok(rl, &c, T0, 1);
	/* stepping back gives nothing, and nothing until T0 + 1 s again */
	take_denied(rl, &c, T0 - 60 * S, "rate");
	take_denied(rl, &c, T0 + S - 1, "rate");
	take_ok(rl, &c, T0 + S, 1);
	ratelimit_free(rl);
}

static void
test_quota_and_midnight(void **state)
{
	const int64_t midnight = 20001LL * DAY; /* after T0 */
	struct policy_principal c;
	struct ratelimit *rl;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	principal(&c, "batch", 0, 0, 3); /* quota only */
	take_ok(rl, &c, T0, 3);
	take_denied(rl, &c, T0, "daily_quota");
	take_denied(rl, &c, midnight - 1, "daily_quota");
	take_ok(rl, &c, midnight, 3); /* a new UTC day */
	take_denied(rl, &c, midnight + DAY - 1, "daily_quota");
	take_ok(rl, &c, midnight + DAY, 1);
	ratelimit_free(rl);
}

static void
test_rate_and_quota(void **state)
{
	struct policy_principal c;
	struct ratelimit *rl;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	principal(&c, "both", 1, 2, 3);
	take_ok(rl, &c, T0, 2);
	/* an empty bucket reports "rate" and uses no quota */
	take_denied(rl, &c, T0, "rate");
	take_denied(rl, &c, T0, "rate");
	take_ok(rl, &c, T0 + S, 1); /* the 3rd of the day */
	/* quota exhausted with tokens left: "daily_quota", token kept */
	take_denied(rl, &c, T0 + 10 * S, "daily_quota");
	take_ok(rl, &c, 20001LL * DAY, 2);
	take_denied(rl, &c, 20001LL * DAY, "rate");
	ratelimit_free(rl);
}

static void
test_refund(void **state)
{
	struct policy_principal c, other;
	struct ratelimit *rl;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	principal(&c, "api", 1, 2, 2);
	take_ok(rl, &c, T0, 2);
	take_denied(rl, &c, T0, "rate");
	ratelimit_refund(rl, &c); /* the HSM failed: token and quota back */
	take_ok(rl, &c, T0, 1);
	take_denied(rl, &c, T0, "rate");
	ratelimit_refund(rl, &c);
	ratelimit_refund(rl, &c);
	ratelimit_refund(rl, &c); /* more refunds than takes: capped */
	take_ok(rl, &c, T0, 2);
	take_denied(rl, &c, T0, "rate");
	/* refunds for unknown or unlimited clients are ignored */
	principal(&other, "nobody", 1, 1, 0);
	ratelimit_refund(rl, &other);
	principal(&other, "free", 0, 0, 0);
	ratelimit_refund(rl, &other);
	ratelimit_free(rl);
}

static void
test_unlimited(void **state)
{
	struct policy_principal c;
	struct ratelimit *rl;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	principal(&c, "free", 0, 0, 0);
	take_ok(rl, &c, T0, 10000);
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

static void
test_reload_keeps_state(void **state)
{
	struct policy_principal a, b;
	struct ratelimit *rl;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	principal(&a, "api", 1, 5, 10);
	take_ok(rl, &a, T0, 5);
	/* a reloaded policy: another struct, same name and limits */
	principal(&b, "api", 1, 5, 10);
	b.nuids = 1;
	b.uids[0] = 1234; /* matching changed, limits did not */
	take_denied(rl, &b, T0, "rate");
	take_ok(rl, &b, T0 + 5 * S, 5); /* 10 of the day now */
	take_denied(rl, &b, T0 + 60 * S, "daily_quota");
	/* another name has its own state */
	principal(&b, "api2", 1, 5, 10);
	take_ok(rl, &b, T0, 5);
	ratelimit_free(rl);
}

static void
test_reload_resets_on_change(void **state)
{
	struct policy_principal a, b;
	struct ratelimit *rl;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	principal(&a, "api", 1, 5, 10);
	take_ok(rl, &a, T0, 5);
	take_denied(rl, &a, T0, "rate");
	/* burst changed: a fresh, full bucket of the new size */
	principal(&b, "api", 1, 6, 10);
	take_ok(rl, &b, T0, 6);
	take_denied(rl, &b, T0, "rate");
	/* rate changed */
	principal(&b, "api", 2, 6, 10);
	take_ok(rl, &b, T0, 6); /* 12 of quota 10 unless reset too */
	take_denied(rl, &b, T0, "rate");
	/* quota changed */
	principal(&b, "api", 2, 6, 11);
	take_ok(rl, &b, T0, 6);
	take_denied(rl, &b, T0, "rate");
	/* a refund from before the change is not applied to the new state */
	ratelimit_refund(rl, &a);
	take_denied(rl, &b, T0, "rate");
	ratelimit_free(rl);
}

/* At most SD_RATELIMIT_MAX_ENTRIES names; idle ones make room. */
static void
test_bounded_entries(void **state)
{
	struct policy_principal c;
	struct ratelimit *rl;
	char name[32];
	int i;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	for (i = 0; i < SD_RATELIMIT_MAX_ENTRIES; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		principal(&c, name, 1, 1, 0);
		take_ok(rl, &c, T0 + i, 1);
	}
	/* full, every entry used within the day: refused, not forgotten */
	principal(&c, "late", 1, 1, 0);
	take_denied(rl, &c, T0 + DAY - 1, "rate");
	/* c0 idle for a day: its entry is reused for "late"... */
	take_ok(rl, &c, T0 + DAY, 1);
	take_denied(rl, &c, T0 + DAY, "rate");
	/* ...and c1 (still idle) is then evicted for c0, which restarts */
	principal(&c, "c0", 1, 1, 0);
	take_ok(rl, &c, T0 + DAY + 1, 1);
	ratelimit_free(rl);
}

struct worker {
	struct ratelimit *rl;
	const struct policy_principal *c;
	int ok;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	const char *reason;
	int i;

	for (i = 0; i < 1000; i++)
		if (ratelimit_take(w->rl, w->c, T0, &reason) == 0)
			w->ok++;
	return NULL;
}

/* Eight threads race for 1000 tokens of one client: exactly 1000 win. */
static void
test_threads(void **state)
{
	struct policy_principal c;
	struct worker w[8];
	pthread_t t[8];
	struct ratelimit *rl;
	int i, total = 0;

	(void)state;
	assert_non_null(rl = ratelimit_new());
	principal(&c, "api", 1, 1000, 0);
	for (i = 0; i < 8; i++) {
		w[i] = (struct worker){ .rl = rl, .c = &c, .ok = 0 };
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		total += w[i].ok;
	}
	assert_int_equal(total, 1000);
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_exact),
		cmocka_unit_test(test_fractional_rate),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_quota_and_midnight),
		cmocka_unit_test(test_rate_and_quota),
		cmocka_unit_test(test_refund),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_reload_keeps_state),
		cmocka_unit_test(test_reload_resets_on_change),
		cmocka_unit_test(test_bounded_entries),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL) != 0;
}
