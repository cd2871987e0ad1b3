/*
 * metrics: see metrics.h.  Fixed tables: routes, a short list of HTTP
 * statuses, and one bucket layout (seconds) for every histogram.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

#define NB 13 /* buckets, the last +Inf */
#define TEXT_MAX (256 * 1024)

static const double bounds[NB - 1] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 5 };
static const char *const route_names[MR_N] = { "sign", "tsa", "timestamp",
	"keys", "ledger", "health", "metrics", "admin", "other" };
static const unsigned int statuses[] = { 200, 202, 400, 401, 403, 404, 405, 409,
	413, 429, 500, 503 };
#define NS (sizeof(statuses) / sizeof(statuses[0]))

struct histogram {
	atomic_ulong bucket[NB]; /* not cumulative; summed when rendered */
	atomic_ulong count;
	atomic_ulong sum_us;
};

static struct {
	atomic_ulong requests[MR_N][NS + 1]; /* + other statuses */
	struct histogram latency[MR_N];
	struct histogram hsm;
	atomic_ulong hsm_errors;
	struct histogram commit;
	atomic_ulong batch_entries, commits_failed, batch_waits;
	atomic_ulong lookups, lookups_more, lookups_ahead, copies_waited,
	    copies_around;
	atomic_long waiting;
	atomic_ulong reloads[2];
} m;

const char *
metrics_route_name(enum metrics_route r)
{
	return route_names[(unsigned int)r < MR_N ? r : MR_OTHER];
}

static void
observe(struct histogram *h, long us)
{
	double s = (double)us / 1e6;
	int i;

	for (i = 0; i < NB - 1 && s > bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &h->sum_us, (unsigned long)(us > 0 ? us : 0), memory_order_relaxed);
}

void
metrics_request(enum metrics_route r, unsigned int status, long us)
{
	size_t i;

	if ((unsigned int)r >= MR_N)
		r = MR_OTHER;
	for (i = 0; i < NS && statuses[i] != status; i++)
		;
	atomic_fetch_add_explicit(&m.requests[r][i], 1, memory_order_relaxed);
	observe(&m.latency[r], us);
}

void
metrics_hsm(long us, int ok)
{
	observe(&m.hsm, us);
	if (!ok)
		atomic_fetch_add_explicit(
		    &m.hsm_errors, 1, memory_order_relaxed);
}

void
metrics_ledger_commit(size_t n, long us, int ok)
{
	observe(&m.commit, us);
	atomic_fetch_add_explicit(&m.batch_entries, n, memory_order_relaxed);
	if (!ok)
		atomic_fetch_add_explicit(
		    &m.commits_failed, 1, memory_order_relaxed);
}

void
metrics_ledger_batch_wait(void)
{
	atomic_fetch_add_explicit(&m.batch_waits, 1, memory_order_relaxed);
}

void
metrics_ledger_lookup(size_t more)
{
	atomic_fetch_add_explicit(&m.lookups, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m.lookups_more, more, memory_order_relaxed);
}

void
metrics_ledger_lookup_ahead(void)
{
	atomic_fetch_add_explicit(&m.lookups_ahead, 1, memory_order_relaxed);
}

void
metrics_sign_copy_waited(void)
{
	atomic_fetch_add_explicit(&m.copies_waited, 1, memory_order_relaxed);
}

void
metrics_sign_copy_around(void)
{
	atomic_fetch_add_explicit(&m.copies_around, 1, memory_order_relaxed);
}

void
metrics_ledger_waiting(long delta)
{
	atomic_fetch_add_explicit(&m.waiting, delta, memory_order_relaxed);
}

void
metrics_reload(int accepted)
{
	atomic_fetch_add_explicit(
	    &m.reloads[accepted ? 1 : 0], 1, memory_order_relaxed);
}

long
metrics_us_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t->tv_sec) * 1000000L +
	    (now.tv_nsec - t->tv_nsec) / 1000L;
}

void
metrics_printf(struct metrics_text *t, const char *fmt, ...)
{
	va_list ap;
	size_t ncap;
	char *np;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		ncap = t->cap * 2;
		if (ncap > TEXT_MAX || (np = realloc(t->p, ncap)) == NULL) {
			t->failed = 1;
			return;
		}
		t->p = np;
		t->cap = ncap;
	}
}

static unsigned long
get(atomic_ulong *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

/* A histogram's lines: cumulative buckets, sum (seconds) and count. */
static void
histogram(struct metrics_text *t, const char *name, const char *labels,
    struct histogram *h)
{
	unsigned long cum = 0;
	int i;

	for (i = 0; i < NB; i++) {
		cum += get(&h->bucket[i]);
		if (i < NB - 1)
			metrics_printf(t, "%s_bucket{%s%sle=\"%g\"} %lu\n",
			    name, labels, labels[0] != '\0' ? "," : "",
			    bounds[i], cum);
		else
			metrics_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %lu\n",
			    name, labels, labels[0] != '\0' ? "," : "", cum);
	}
	metrics_printf(t, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %lu\n", name,
	    labels[0] != '\0' ? "{" : "", labels, labels[0] != '\0' ? "}" : "",
	    (double)get(&h->sum_us) / 1e6, name, labels[0] != '\0' ? "{" : "",
	    labels, labels[0] != '\0' ? "}" : "", get(&h->count));
}

static void
render_requests(struct metrics_text *t)
{
	char labels[64];
	size_t r, i;
	unsigned long n;

	metrics_printf(t,
	    "# HELP seald_requests_total Requests answered, by endpoint and "
	    "HTTP status.\n# TYPE seald_requests_total counter\n");
	for (r = 0; r < MR_N; r++)
		for (i = 0; i <= NS; i++)
			if ((n = get(&m.requests[r][i])) > 0 || i == 0)
				metrics_printf(t,
				    "seald_requests_total{endpoint=\"%s\","
				    "code=\"%s%u\"} %lu\n",
				    route_names[r], i < NS ? "" : "other",
				    i < NS ? statuses[i] : 0u, n);
	metrics_printf(t,
	    "# HELP seald_request_duration_seconds Time from the request's "
	    "first byte to its answer.\n"
	    "# TYPE seald_request_duration_seconds histogram\n");
	for (r = 0; r < MR_N; r++) {
		snprintf(
		    labels, sizeof(labels), "endpoint=\"%s\"", route_names[r]);
		histogram(
		    t, "seald_request_duration_seconds", labels, &m.latency[r]);
	}
}

char *
metrics_render(void (*extra)(struct metrics_text *, void *), void *arg)
{
	struct metrics_text t = { malloc(16384), 0, 16384, 0 };

	if (t.p == NULL)
		return NULL;
	render_requests(&t);
	metrics_printf(&t,
	    "# HELP seald_hsm_sign_duration_seconds One signature in the "
	    "HSM.\n# TYPE seald_hsm_sign_duration_seconds histogram\n");
	histogram(&t, "seald_hsm_sign_duration_seconds", "", &m.hsm);
	metrics_printf(&t,
	    "# HELP seald_hsm_errors_total HSM signatures that failed.\n"
	    "# TYPE seald_hsm_errors_total counter\n"
	    "seald_hsm_errors_total %lu\n",
	    get(&m.hsm_errors));
	metrics_printf(&t,
	    "# HELP seald_ledger_commit_duration_seconds One ledger "
	    "commit (a batch).\n"
	    "# TYPE seald_ledger_commit_duration_seconds histogram\n");
	histogram(&t, "seald_ledger_commit_duration_seconds", "", &m.commit);
	metrics_printf(&t,
	    "# HELP seald_ledger_batch_entries_total Entries committed in "
	    "batches (per commit: divide by the commit count).\n"
	    "# TYPE seald_ledger_batch_entries_total counter\n"
	    "seald_ledger_batch_entries_total %lu\n"
	    "# HELP seald_ledger_commits_failed_total Commits that failed.\n"
	    "# TYPE seald_ledger_commits_failed_total counter\n"
	    "seald_ledger_commits_failed_total %lu\n"
	    "# HELP seald_ledger_batch_waits_total Commits that waited for "
	    "signatures in progress.\n"
	    "# TYPE seald_ledger_batch_waits_total counter\n"
	    "seald_ledger_batch_waits_total %lu\n"
	    "# HELP seald_ledger_lookups_total Idempotency lookups sent "
	    "for signature requests (one query each).\n"
	    "# TYPE seald_ledger_lookups_total counter\n"
	    "seald_ledger_lookups_total %lu\n"
	    "# HELP seald_ledger_lookups_queued_total Queued requests "
	    "those lookups took along.\n"
	    "# TYPE seald_ledger_lookups_queued_total counter\n"
	    "seald_ledger_lookups_queued_total %lu\n"
	    "# HELP seald_ledger_lookups_ahead_total Signature requests "
	    "found absent by an earlier request's lookup (no query of "
	    "their own).\n"
	    "# TYPE seald_ledger_lookups_ahead_total counter\n"
	    "seald_ledger_lookups_ahead_total %lu\n"
	    "# HELP seald_sign_copies_waited_total Signature requests "
	    "that waited for a copy of them in progress (a retry sent "
	    "before the first answer).\n"
	    "# TYPE seald_sign_copies_waited_total counter\n"
	    "seald_sign_copies_waited_total %lu\n"
	    "# HELP seald_sign_copies_around_total Copies of a request in "
	    "progress that did not wait for it (too many waited, or it was "
	    "in progress for over 5 s).\n"
	    "# TYPE seald_sign_copies_around_total counter\n"
	    "seald_sign_copies_around_total %lu\n"
	    "# HELP seald_ledger_lag_entries Signed entries waiting for "
	    "their commit.\n# TYPE seald_ledger_lag_entries gauge\n"
	    "seald_ledger_lag_entries %ld\n"
	    "# HELP seald_policy_reloads_total Policy reloads by "
	    "result.\n# TYPE seald_policy_reloads_total counter\n"
	    "seald_policy_reloads_total{result=\"accepted\"} %lu\n"
	    "seald_policy_reloads_total{result=\"refused\"} %lu\n",
	    get(&m.batch_entries), get(&m.commits_failed), get(&m.batch_waits),
	    get(&m.lookups), get(&m.lookups_more), get(&m.lookups_ahead),
	    get(&m.copies_waited), get(&m.copies_around),
	    atomic_load_explicit(&m.waiting, memory_order_relaxed),
	    get(&m.reloads[1]), get(&m.reloads[0]));
	if (extra != NULL)
		extra(&t, arg);
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	return t.p;
}
