/*
 * metrics: see metrics.h.  Fixed tables: a short list of HTTP statuses
 * and one bucket layout (seconds) for every histogram; the rest is what
 * the owners added.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

#define TEXT_MAX (256 * 1024)

static const double bounds[METRICS_NB - 1] = { 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5 };
static const unsigned int statuses[METRICS_NSTATUS] = { 200, 202, 400, 401, 403,
	404, 405, 409, 413, 429, 500, 503 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_family *families, **families_end = &families;
static struct metrics_endpoint *endpoints, **endpoints_end = &endpoints;

void
metrics_add(struct metrics_family *f)
{
	pthread_mutex_lock(&mu);
	if (!f->added) {
		f->added = 1;
		f->next = NULL;
		*families_end = f;
		families_end = &f->next;
	}
	pthread_mutex_unlock(&mu);
}

void
metrics_remove(struct metrics_family *f)
{
	struct metrics_family **e;

	pthread_mutex_lock(&mu);
	for (e = &families; f->added && *e != NULL; e = &(*e)->next)
		if (*e == f) {
			*e = f->next;
			if (families_end == &f->next)
				families_end = e;
			f->added = 0;
			break;
		}
	pthread_mutex_unlock(&mu);
}

void
metrics_add_endpoint(struct metrics_endpoint *e)
{
	pthread_mutex_lock(&mu);
	if (!e->added) {
		e->added = 1;
		e->next = NULL;
		*endpoints_end = e;
		endpoints_end = &e->next;
	}
	pthread_mutex_unlock(&mu);
}

void
metrics_hist_observe(struct metrics_hist *h, long us)
{
	double s = (double)us / 1e6;
	int i;

	for (i = 0; i < METRICS_NB - 1 && s > bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &h->sum_us, (unsigned long)(us > 0 ? us : 0), memory_order_relaxed);
}

void
metrics_observe(struct metrics_histogram *m, long us)
{
	metrics_hist_observe(&m->h, us);
}

void
metrics_inc(struct metrics_value *m, long n)
{
	atomic_fetch_add_explicit(&m->v, n, memory_order_relaxed);
}

void
metrics_request(struct metrics_endpoint *e, unsigned int status, long us)
{
	size_t i;

	for (i = 0; i < METRICS_NSTATUS && statuses[i] != status; i++)
		;
	atomic_fetch_add_explicit(&e->by_status[i], 1, memory_order_relaxed);
	metrics_hist_observe(&e->latency, us);
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

void
metrics_header(struct metrics_text *t, const char *name, const char *help,
    const char *type)
{
	metrics_printf(
	    t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static unsigned long
get(atomic_ulong *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

void
metrics_hist_samples(struct metrics_text *t, const char *name,
    const char *labels, struct metrics_hist *h)
{
	const char *sep = labels[0] != '\0' ? "," : "";
	const char *open = labels[0] != '\0' ? "{" : "";
	const char *close = labels[0] != '\0' ? "}" : "";
	unsigned long cum = 0;
	int i;

	for (i = 0; i < METRICS_NB; i++) {
		cum += get(&h->bucket[i]);
		if (i < METRICS_NB - 1)
			metrics_printf(t, "%s_bucket{%s%sle=\"%g\"} %lu\n",
			    name, labels, sep, bounds[i], cum);
		else
			metrics_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %lu\n",
			    name, labels, sep, cum);
	}
	metrics_printf(t, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %lu\n", name, open,
	    labels, close, (double)get(&h->sum_us) / 1e6, name, open, labels,
	    close, get(&h->count));
}

static void
value_render(
    struct metrics_text *t, const struct metrics_family *f, const char *type)
{
	const struct metrics_value *m = (const struct metrics_value *)f;

	metrics_header(t, f->name, f->help, type);
	metrics_printf(t, "%s %ld\n", f->name,
	    atomic_load_explicit(&m->v, memory_order_relaxed));
}

void
metrics_counter_render(struct metrics_text *t, const struct metrics_family *f)
{
	value_render(t, f, "counter");
}

void
metrics_gauge_render(struct metrics_text *t, const struct metrics_family *f)
{
	value_render(t, f, "gauge");
}

void
metrics_histogram_render(struct metrics_text *t, const struct metrics_family *f)
{
	struct metrics_histogram *m = (struct metrics_histogram *)f;

	metrics_header(t, f->name, f->help, "histogram");
	metrics_hist_samples(t, f->name, "", &m->h);
}

static void
render_endpoints(struct metrics_text *t)
{
	struct metrics_endpoint *e;
	char labels[80];
	unsigned long n;
	size_t i;

	metrics_header(t, "seald_requests_total",
	    "Requests answered, by endpoint and HTTP status.", "counter");
	for (e = endpoints; e != NULL; e = e->next)
		for (i = 0; i <= METRICS_NSTATUS; i++)
			if ((n = get(&e->by_status[i])) > 0 || i == 0)
				metrics_printf(t,
				    "seald_requests_total{endpoint=\"%s\","
				    "code=\"%s%u\"} %lu\n",
				    e->name, i < METRICS_NSTATUS ? "" : "other",
				    i < METRICS_NSTATUS ? statuses[i] : 0u, n);
	metrics_header(t, "seald_request_duration_seconds",
	    "Time from the request's first byte to its answer.", "histogram");
	for (e = endpoints; e != NULL; e = e->next) {
		snprintf(labels, sizeof(labels), "endpoint=\"%s\"", e->name);
		metrics_hist_samples(
		    t, "seald_request_duration_seconds", labels, &e->latency);
	}
}

char *
metrics_render(void)
{
	struct metrics_text t = { malloc(16384), 0, 16384, 0 };
	struct metrics_family *f;

	if (t.p == NULL)
		return NULL;
	t.p[0] = '\0';
	pthread_mutex_lock(&mu);
	if (endpoints != NULL)
		render_endpoints(&t);
	for (f = families; f != NULL; f = f->next)
		f->render(&t, f);
	pthread_mutex_unlock(&mu);
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	return t.p;
}
