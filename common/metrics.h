/*
 * metrics: the registry behind GET /metrics, in the Prometheus text
 * format.  It knows no part of seald: each module that counts something
 * defines its own families (a counter, a gauge, a histogram, or a family
 * that renders itself) and adds them once, when it starts; an HTTP server
 * adds its endpoints, counted by HTTP status with their latency in one
 * pair of families (seald_requests_total, seald_request_duration_seconds).
 * Counting is lock-free (relaxed atomics: a scrape may see one request
 * half-counted, never a torn value); adding, removing and rendering take
 * the registry's lock.
 */
#ifndef SD_METRICS_H
#define SD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

/* the Content-Type of the exposition text */
#define METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

/* A text being built (bounded; render gives up past its cap). */
struct metrics_text {
	char *p;
	size_t len, cap;
	int failed;
};

void metrics_printf(struct metrics_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "# HELP name help" and "# TYPE name type". */
void metrics_header(struct metrics_text *t, const char *name, const char *help,
    const char *type);

/*
 * A family: what render appends to the text at each scrape (its header
 * lines and samples).  Owned by the module that defines it (usually a
 * static, or a member of the object it reports on: container_of from f).
 */
struct metrics_family {
	void (*render)(struct metrics_text *t, const struct metrics_family *f);
	const char *name, *help;     /* for the helpers below */
	struct metrics_family *next; /* the registry's */
	int added;                   /* the registry's */
};

/* Add f to the registry (again: nothing).  Remove it (not added:
 * nothing) before what its render reads is freed. */
void metrics_add(struct metrics_family *f);
void metrics_remove(struct metrics_family *f);

/* A counter, or a gauge, without labels. */
struct metrics_value {
	struct metrics_family f;
	atomic_long v;
};
void metrics_counter_render(
    struct metrics_text *t, const struct metrics_family *f);
void metrics_gauge_render(
    struct metrics_text *t, const struct metrics_family *f);
#define METRICS_COUNTER(name, help)                                    \
	{                                                              \
		{ metrics_counter_render, (name), (help), NULL, 0 }, 0 \
	}
#define METRICS_GAUGE(name, help)                                    \
	{                                                            \
		{ metrics_gauge_render, (name), (help), NULL, 0 }, 0 \
	}
void metrics_inc(struct metrics_value *m, long n);

/* Latencies in one bucket layout (seconds, 0.5 ms to 5 s and +Inf). */
#define METRICS_NB 13
struct metrics_hist {
	atomic_ulong bucket[METRICS_NB]; /* not cumulative */
	atomic_ulong count;
	atomic_ulong sum_us;
};
void metrics_hist_observe(struct metrics_hist *h, long us);
/* A histogram's samples, with labels ("" for none: `a="b",c="d"`). */
void metrics_hist_samples(struct metrics_text *t, const char *name,
    const char *labels, struct metrics_hist *h);

/* A histogram without labels. */
struct metrics_histogram {
	struct metrics_family f;
	struct metrics_hist h;
};
void metrics_histogram_render(
    struct metrics_text *t, const struct metrics_family *f);
#define METRICS_HISTOGRAM(name, help)                                  \
	{                                                              \
		{ metrics_histogram_render, (name), (help), NULL, 0 }, \
		{                                                      \
			{ 0 }, 0, 0                                    \
		}                                                      \
	}
void metrics_observe(struct metrics_histogram *m, long us);

/* An HTTP endpoint, under its name in the endpoint label. */
#define METRICS_NSTATUS 12 /* statuses counted by code; others as "other" */
struct metrics_endpoint {
	const char *name;
	atomic_ulong by_status[METRICS_NSTATUS + 1];
	struct metrics_hist latency;
	struct metrics_endpoint *next; /* the registry's */
	int added;                     /* the registry's */
};
#define METRICS_ENDPOINT(name)                          \
	{                                               \
		(name), { 0 }, { { 0 }, 0, 0 }, NULL, 0 \
	}
void metrics_add_endpoint(struct metrics_endpoint *e);
/* A request answered with HTTP status after us microseconds. */
void metrics_request(struct metrics_endpoint *e, unsigned int status, long us);

/* The exposition text (malloc'd): the endpoints, then every family in
 * the order they were added; NULL when out of memory. */
char *metrics_render(void);

/* Microseconds since a CLOCK_MONOTONIC reading. */
struct timespec;
long metrics_us_since(const struct timespec *t);

#endif
