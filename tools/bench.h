/*
 * bench: what the files of seald-bench share: its options, and the load
 * of N clients (bench_load.c) with its latency histogram.
 */
#ifndef SD_BENCH_H
#define SD_BENCH_H

#include <stdint.h>

#define BENCH_SUB 32                    /* histogram buckets per power of two */
#define BENCH_NBUCKETS (40 * BENCH_SUB) /* up to 2^40 us */
#define BENCH_CLIENTS_MAX 1024

struct bench_hist {
	uint64_t b[BENCH_NBUCKETS];
	uint64_t n;
};

struct bench_opts {
	const char *sock, *key, *format, *alg, *json, *curve;
	int clients, seconds, curve_seconds;
	/* the raw rate: module, token, PIN file, key label */
	const char *module, *token, *pin, *label;
	int raw_threads;
	/* ledger rows, RSS and CPU time: seald's pid, the postmaster's */
	const char *db, *instance;
	long pid, pg_pid;
	/* a network HSM's round trip each C_Sign takes (p11fault), ms */
	int hsm_latency_ms;
};

struct bench_load {
	double rate;
	uint64_t ok, errors;
	struct bench_hist h;
	char first_error[160];
};

/* The q-quantile of h in milliseconds (0 when empty). */
double bench_hist_ms(const struct bench_hist *h, double q);

/* n clients of o for seconds; the merged figures into out.  0, or -1
 * when the clients could not be started. */
int bench_run_load(
    const struct bench_opts *o, int n, int seconds, struct bench_load *out);

#endif
