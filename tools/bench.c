/*
 * seald-bench: the load tool of `make bench`.  In one run it measures
 *   1. the raw rate of a key: C_Sign in a loop through PKCS#11 directly
 *      (the same hsm module seald uses), one session per core, for T/2
 *      seconds before seald's run and T/2 after it: their mean is the
 *      rate the ratio takes, so that a machine whose speed drifts during
 *      the run does not tilt it;
 *   2. seald's rate for the same key: N keep-alive clients on the Unix
 *      socket posting /v1/sign with fresh random digests for T seconds,
 *      with p50/p99/p99.9 latency, errors, the ledger rows the run added
 *      against the replies it got, and seald's RSS before and after;
 *   3. optionally a scaling curve over several client counts;
 * and prints one table, and the same figures as JSON.  Every loop is
 * bounded by time; latencies go into a fixed log-linear histogram (3%
 * resolution), so memory does not grow with the run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "b64.h"
#include "bench.h"
#include "bench_cpu.h"
#include "clock.h"
#include "err.h"
#include "hsm.h"
#include "ledger.h"
#include "log.h"

/* Issue 27's targets, reported (never asserted): seald's rate against
 * the raw one, with an EC key, an RSA key, and through a network HSM
 * (any key); seald's overhead, in raw signatures; the p99 at N clients;
 * the p50 of one client alone (the curve's first point, when 1). */
#define TARGET_EC 0.50
#define TARGET_RSA 0.90
#define TARGET_NET 0.90
#define TARGET_OVERHEAD 0.75
#define TARGET_P99_MS 10.0
#define TARGET_P50_ONE_MS 0.6

/* ------------------------------------------------------------ raw rate */

struct raw_arg {
	struct hsm *h;
	struct hsm_key *k;
	enum hsm_digest alg;
	struct timespec end;
	uint64_t n, errors;
};

static void *
raw_main(void *arg)
{
	struct raw_arg *a = arg;
	uint8_t dg[64], sig[SD_SIG_MAX];
	struct timespec now;
	size_t siglen;

	if (RAND_bytes(dg, sizeof(dg)) != 1)
		return NULL;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > a->end.tv_sec ||
		    (now.tv_sec == a->end.tv_sec &&
			now.tv_nsec >= a->end.tv_nsec))
			break;
		if (hsm_sign(a->h, a->k,
			hsm_key_is_ec(a->k) ? HSM_ECDSA : HSM_RSA_PKCS1, a->alg,
			dg, hsm_digest_len(a->alg), sig, sizeof(sig),
			&siglen) == 0)
			a->n++;
		else
			a->errors++;
	}
	return NULL;
}

/* What the raw runs did: signatures, the CPU time they took, and
 * whether the key is an EC key. */
struct raw_sum {
	uint64_t signs;
	struct cpu_snap cpu;
	int ec;
};

/* The raw signing rate of the key over seconds, threads in parallel;
 * what the run did added to *sum. */
static double
raw_rate(const struct bench_opts *o, int seconds, struct raw_sum *sum,
    char *err, size_t errlen)
{
	struct raw_arg a[64];
	pthread_t th[64];
	struct timespec start, end;
	struct hsm *h;
	struct hsm_key *k;
	enum hsm_digest alg = strcmp(o->alg, "sha512") == 0 ? HSM_SHA512
	    : strcmp(o->alg, "sha384") == 0                 ? HSM_SHA384
							    : HSM_SHA256;
	int i, n = o->raw_threads;
	uint64_t total = 0;
	struct cpu_snap c0, c1;

	if ((h = hsm_open(o->module, NULL, o->token, o->pin, (unsigned int)n,
		 err, errlen)) == NULL)
		return -1;
	if ((k = hsm_key_find(h, o->label, err, errlen)) == NULL) {
		hsm_close(h);
		return -1;
	}
	(void)cpu_take(&c0, o->pid, o->pg_pid);
	clock_gettime(CLOCK_MONOTONIC, &start);
	end = start;
	end.tv_sec += seconds;
	for (i = 0; i < n; i++) {
		a[i] = (struct raw_arg){ h, k, alg, end, 0, 0 };
		if (pthread_create(&th[i], NULL, raw_main, &a[i]) != 0)
			break;
	}
	n = i;
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		total += a[i].n;
	}
	(void)cpu_take(&c1, o->pid, o->pg_pid);
	cpu_add(&sum->cpu, &c0, &c1);
	sum->signs += total;
	sum->ec = hsm_key_is_ec(k);
	hsm_close(h);
	return (double)total / (double)(sd_ms_since(&start) / 1000.0);
}

/* ------------------------------------------------------------ reports */

static long
rss_kib(long pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static int64_t
ledger_rows(const struct bench_opts *o)
{
	struct ledger_reader *rd;
	int64_t n = -1;

	if (o->db == NULL || (rd = ledger_reader_new(o->db, 0)) == NULL)
		return -1;
	if (ledger_count(rd, o->instance,
		strcmp(o->format, "tsa") == 0 ? LEDGER_TIMESTAMP
					      : LEDGER_SIGNATURE,
		&n) != 0)
		n = -1;
	ledger_reader_free(rd);
	return n;
}

/* A decimal in [lo, hi] from s, else lo - 1. */
static long
num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return lo - 1;
	return v;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: seald-bench -s SOCKET [-n CLIENTS] [-t SECONDS] [-k KEY] "
	    "[-f raw|cms|cades-t|tsa] [-a ALG]\n"
	    "         --module SO --token LABEL --pin-file F --label KEYLABEL "
	    "[--raw-threads N]\n"
	    "         [--db CONNINFO --instance NAME] [--pid SEALD_PID] "
	    "[--pg-pid POSTMASTER_PID]\n"
	    "         [--json FILE] [--hsm-latency-ms MS]\n"
	    "         [--curve 1,4,16,64,256 [--curve-seconds S]]\n");
}

static int
parse(int argc, char **argv, struct bench_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->clients = 32;
	o->seconds = 20;
	o->key = "demo-ec";
	o->format = "raw";
	o->alg = "sha256";
	o->curve_seconds = 5;
	o->instance = "demo-1";
	o->raw_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	for (i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];

		if (strcmp(a, "-s") == 0)
			o->sock = v;
		else if (strcmp(a, "-n") == 0)
			o->clients = (int)num(v, 1, BENCH_CLIENTS_MAX);
		else if (strcmp(a, "-t") == 0)
			o->seconds = (int)num(v, 1, 3600);
		else if (strcmp(a, "-k") == 0)
			o->key = v;
		else if (strcmp(a, "-f") == 0)
			o->format = v;
		else if (strcmp(a, "-a") == 0)
			o->alg = v;
		else if (strcmp(a, "--module") == 0)
			o->module = v;
		else if (strcmp(a, "--token") == 0)
			o->token = v;
		else if (strcmp(a, "--pin-file") == 0)
			o->pin = v;
		else if (strcmp(a, "--label") == 0)
			o->label = v;
		else if (strcmp(a, "--raw-threads") == 0)
			o->raw_threads = (int)num(v, 1, 64);
		else if (strcmp(a, "--db") == 0)
			o->db = v;
		else if (strcmp(a, "--instance") == 0)
			o->instance = v;
		else if (strcmp(a, "--pid") == 0)
			o->pid = num(v, 1, 1L << 30);
		else if (strcmp(a, "--pg-pid") == 0)
			o->pg_pid = num(v, 1, 1L << 30);
		else if (strcmp(a, "--json") == 0)
			o->json = v;
		else if (strcmp(a, "--curve") == 0)
			o->curve = v;
		else if (strcmp(a, "--curve-seconds") == 0)
			o->curve_seconds = (int)num(v, 1, 600);
		else if (strcmp(a, "--hsm-latency-ms") == 0)
			o->hsm_latency_ms = (int)num(v, 0, 60000);
		else
			return -1;
	}
	if (i != argc || o->sock == NULL || o->module == NULL ||
	    o->token == NULL || o->pin == NULL || o->label == NULL ||
	    o->clients < 1 || o->seconds < 1 || o->raw_threads < 1 ||
	    o->raw_threads > 64 || o->curve_seconds < 1 || o->pid < 0 ||
	    o->pg_pid < 0 || o->hsm_latency_ms < 0)
		return -1;
	return 0;
}

/* The figures of seald's run and of the raw runs around it. */
struct run {
	struct bench_load l;
	double raw, raw0, raw1, ratio;
	double cpu_req[CPU_NPARTS + 1], cpu_raw[CPU_NPARTS + 1];
	/* seald's CPU a request beyond the HSM's work (core, front and
	 * PostgreSQL, less the raw signature's), and that in raw
	 * signatures */
	double overhead_us, overhead_ratio, target;
	int64_t rows0, rows1;
	long rss0, rss1;
	int ec;
};

/* Raw for T/2, seald for T, raw for T/2 again.  0, or 1 with a message. */
static int
measure(const struct bench_opts *o, struct run *r)
{
	struct cpu_snap c0, c1, dload;
	struct raw_sum rs;
	char err[512];
	int half = o->seconds > 1 ? o->seconds / 2 : 1;

	memset(&rs, 0, sizeof(rs));
	memset(&dload, 0, sizeof(dload));
	if ((r->raw0 = raw_rate(o, half, &rs, err, sizeof(err))) < 0)
		goto raw_failed;
	r->rows0 = ledger_rows(o);
	r->rss0 = rss_kib(o->pid);
	(void)cpu_take(&c0, o->pid, o->pg_pid);
	if (bench_run_load(o, o->clients, o->seconds, &r->l) != 0) {
		fprintf(stderr, "seald-bench: cannot start the clients\n");
		return 1;
	}
	(void)cpu_take(&c1, o->pid, o->pg_pid);
	cpu_add(&dload, &c0, &c1);
	r->rows1 = ledger_rows(o);
	r->rss1 = rss_kib(o->pid);
	if ((r->raw1 = raw_rate(o, half, &rs, err, sizeof(err))) < 0)
		goto raw_failed;
	cpu_per(&dload, r->l.ok, r->cpu_req);
	cpu_per(&rs.cpu, rs.signs, r->cpu_raw);
	r->raw = (r->raw0 + r->raw1) / 2;
	r->ratio = r->raw > 0 ? r->l.rate / r->raw : 0;
	r->ec = rs.ec;
	r->overhead_us = r->cpu_req[CPU_CORE] + r->cpu_req[CPU_FRONT] +
	    r->cpu_req[CPU_PG] - r->cpu_raw[CPU_SELF];
	r->overhead_ratio = r->cpu_raw[CPU_SELF] > 0
	    ? r->overhead_us / r->cpu_raw[CPU_SELF]
	    : 0;
	r->target = o->hsm_latency_ms > 0 ? TARGET_NET
	    : r->ec                       ? TARGET_EC
					  : TARGET_RSA;
	return 0;

raw_failed:
	fprintf(stderr, "seald-bench: raw rate: %s\n", err);
	return 1;
}

static const char *
met(int yes)
{
	return yes ? "met" : "NOT met";
}

/* The table, the CPU rows, seald's overhead and the targets. */
static void
report(const struct run *r)
{
	const struct bench_load *l = &r->l;
	double p99 = bench_hist_ms(&l->h, 0.99);

	printf("\n%-24s %10s %9s %9s %9s %8s\n", "", "sign/s", "p50 ms",
	    "p99 ms", "p99.9 ms", "errors");
	printf("%-24s %10.1f %9s %9s %9s %8s   (%.1f before, %.1f after)\n",
	    "raw PKCS#11", r->raw, "-", "-", "-", "-", r->raw0, r->raw1);
	printf("%-24s %10.1f %9.2f %9.2f %9.2f %8llu\n", "seald", l->rate,
	    bench_hist_ms(&l->h, 0.50), bench_hist_ms(&l->h, 0.99),
	    bench_hist_ms(&l->h, 0.999), (unsigned long long)l->errors);
	printf("%-24s %10.2f\n", "seald / raw", r->ratio);
	printf("ledger rows added %lld, replies %llu: %s\n",
	    (long long)(r->rows1 - r->rows0), (unsigned long long)l->ok,
	    r->rows0 < 0 || r->rows1 < 0 ? "not counted (no --db)"
		: r->rows1 - r->rows0 == (int64_t)l->ok ? "equal"
							: "NOT EQUAL");
	printf("seald RSS %.1f MiB before, %.1f MiB after\n\n",
	    (double)r->rss0 / 1024.0, (double)r->rss1 / 1024.0);
	cpu_print_head(stdout);
	cpu_print(stdout, "seald", r->cpu_req);
	cpu_print(stdout, "raw PKCS#11, a signature", r->cpu_raw);
	printf("seald's overhead: %.1f us of CPU a request (core + front + "
	       "PostgreSQL - the raw signature's %.1f), %.2f raw signatures\n",
	    r->overhead_us, r->cpu_raw[CPU_SELF], r->overhead_ratio);
	printf("targets: seald / raw %.2f, at least %.2f: %s; overhead %.2f "
	       "raw signatures, at most %.2f: %s; p99 %.2f ms, under %.0f: "
	       "%s\n",
	    r->ratio, r->target, met(r->ratio >= r->target), r->overhead_ratio,
	    TARGET_OVERHEAD, met(r->overhead_ratio <= TARGET_OVERHEAD), p99,
	    TARGET_P99_MS, met(p99 < TARGET_P99_MS));
	if (l->errors > 0)
		printf("first error: %s\n", l->first_error);
}

/* The run's figures as the head of the JSON object, up to the curve's
 * array; NULL when there is no JSON file (or it cannot be written). */
static FILE *
json_head(const struct bench_opts *o, const struct run *r)
{
	const struct bench_load *l = &r->l;
	FILE *js;

	if (o->json == NULL)
		return NULL;
	if ((js = fopen(o->json, "w")) == NULL) {
		fprintf(stderr, "seald-bench: cannot write %s\n", o->json);
		return NULL;
	}
	fprintf(js,
	    "{\"key\":\"%s\",\"format\":\"%s\",\"digest_alg\":\"%s\","
	    "\"clients\":%d,\"seconds\":%d,\"raw_sessions\":%d,"
	    "\"raw_sign_per_s\":%.1f,\"raw_before\":%.1f,"
	    "\"raw_after\":%.1f,\"seald_sign_per_s\":%.1f,"
	    "\"ratio\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
	    "\"p999_ms\":%.3f,\"errors\":%llu,\"replies\":%llu,"
	    "\"ledger_rows_added\":%lld,\"rss_kib_before\":%ld,"
	    "\"rss_kib_after\":%ld,\"hsm_latency_ms\":%d,"
	    "\"overhead_us\":%.1f,\"overhead_ratio\":%.3f,"
	    "\"target_ratio\":%.2f,\"target_overhead_ratio\":%.2f,"
	    "\"target_p99_ms\":%.1f,\"cpu_us_per_request\":",
	    o->key, o->format, o->alg, o->clients, o->seconds, o->raw_threads,
	    r->raw, r->raw0, r->raw1, l->rate, r->ratio,
	    bench_hist_ms(&l->h, 0.50), bench_hist_ms(&l->h, 0.99),
	    bench_hist_ms(&l->h, 0.999), (unsigned long long)l->errors,
	    (unsigned long long)l->ok, (long long)(r->rows1 - r->rows0),
	    r->rss0, r->rss1, o->hsm_latency_ms, r->overhead_us,
	    r->overhead_ratio, r->target, TARGET_OVERHEAD, TARGET_P99_MS);
	cpu_json(js, r->cpu_req);
	fprintf(js, ",\"raw_cpu_us_per_sign\":");
	cpu_json(js, r->cpu_raw);
	fprintf(js, ",\"curve\":[");
	return js;
}

/* The scaling curve: a run for each client count of --curve. */
static void
curve(const struct bench_opts *o, FILE *js)
{
	struct bench_load l;
	char *list, *tok, *save;
	int n, first = 1;

	if (o->curve == NULL || (list = strdup(o->curve)) == NULL)
		return;
	printf("\nscaling (%d s each):\n%8s %10s %9s %9s %8s\n",
	    o->curve_seconds, "clients", "sign/s", "p50 ms", "p99 ms",
	    "errors");
	for (tok = strtok_r(list, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		n = (int)num(tok, 1, BENCH_CLIENTS_MAX);
		if (n < 1 || bench_run_load(o, n, o->curve_seconds, &l) != 0)
			continue;
		printf("%8d %10.1f %9.2f %9.2f %8llu", n, l.rate,
		    bench_hist_ms(&l.h, 0.50), bench_hist_ms(&l.h, 0.99),
		    (unsigned long long)l.errors);
		if (n == 1)
			printf("   (p50 target under %.1f ms: %s)",
			    TARGET_P50_ONE_MS,
			    met(bench_hist_ms(&l.h, 0.50) < TARGET_P50_ONE_MS));
		printf("\n");
		fflush(stdout);
		if (js != NULL)
			fprintf(js,
			    "%s{\"clients\":%d,\"sign_per_s\":%.1f,"
			    "\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
			    "\"errors\":%llu}",
			    first ? "" : ",", n, l.rate,
			    bench_hist_ms(&l.h, 0.50),
			    bench_hist_ms(&l.h, 0.99),
			    (unsigned long long)l.errors);
		first = 0;
	}
	free(list);
	printf("seald RSS %.1f MiB after the curve\n",
	    (double)rss_kib(o->pid) / 1024.0);
}

int
main(int argc, char **argv)
{
	struct bench_opts o;
	struct run r;
	FILE *js;

	if (parse(argc, argv, &o) != 0) {
		usage();
		return 2;
	}
	log_set_level(LOG_LVL_WARN);
	printf("seald bench: key %s, format %s, %s digests, %d clients, %d s "
	       "(raw PKCS#11: %d sessions)\n",
	    o.key, o.format, o.alg, o.clients, o.seconds, o.raw_threads);
	fflush(stdout);
	memset(&r, 0, sizeof(r));
	if (measure(&o, &r) != 0)
		return 1;
	report(&r);
	js = json_head(&o, &r);
	curve(&o, js);
	if (js != NULL) {
		fprintf(js, "],\"rss_kib_end\":%ld}\n", rss_kib(o.pid));
		fclose(js);
	}
	/* a run with errors, or rows that do not match the replies */
	return r.l.errors > 0 ||
		(r.rows0 >= 0 && r.rows1 >= 0 &&
		    r.rows1 - r.rows0 != (int64_t)r.l.ok)
	    ? 1
	    : 0;
}
