/*
 * metrics: counters and histograms every part of seald feeds (lock-free,
 * relaxed atomics: a scrape may see one request half-counted, never a
 * torn value), rendered in the Prometheus text format for GET /metrics.
 */
#ifndef SD_METRICS_H
#define SD_METRICS_H

#include <stddef.h>

/* the Content-Type of the exposition text */
#define METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

enum metrics_route {
	MR_SIGN,
	MR_TSA,
	MR_TIMESTAMP,
	MR_KEYS,
	MR_LEDGER,
	MR_HEALTH,
	MR_METRICS,
	MR_ADMIN,
	MR_OTHER,
	MR_N
};

/* "sign", "tsa", ... for logs. */
const char *metrics_route_name(enum metrics_route r);

/* A request answered with HTTP status after us microseconds. */
void metrics_request(enum metrics_route r, unsigned int status, long us);

/* One signature by the HSM (C_SignInit + C_Sign) and whether it worked. */
void metrics_hsm(long us, int ok);

/* One ledger commit of n entries (0 ok), and the entries waiting for
 * their commit (added when queued, taken when answered). */
void metrics_ledger_commit(size_t n, long us, int ok);
/* A commit waited for signatures in progress (group commit). */
void metrics_ledger_batch_wait(void);
void metrics_ledger_waiting(long delta);
/* A signature request's idempotency lookup: a query of its own (which
 * took `more` queued requests along), or none because an earlier
 * request's query found it absent. */
void metrics_ledger_lookup(size_t more);
void metrics_ledger_lookup_ahead(void);
/* A signature request waited for a copy of it in progress (a retry sent
 * before the first one's answer). */
void metrics_sign_copy_waited(void);
/* A copy did not wait: too many waited, or the first was in progress
 * for too long (a hung HSM call); it is looked up and, if need be,
 * settled at COMMIT. */
void metrics_sign_copy_around(void);

/* A policy reload, accepted or refused. */
void metrics_reload(int accepted);

/* A text being built (bounded; render gives up past its cap). */
struct metrics_text {
	char *p;
	size_t len, cap;
	int failed;
};

void metrics_printf(struct metrics_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The exposition text (malloc'd), with what extra() appends (gauges the
 * caller knows: readiness, keys); NULL when out of memory. */
char *metrics_render(void (*extra)(struct metrics_text *, void *), void *arg);

/* Milliseconds as microseconds between two CLOCK_MONOTONIC readings. */
struct timespec;
long metrics_us_since(const struct timespec *t);

#endif
