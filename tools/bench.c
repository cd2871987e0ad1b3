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
#include "bench_cpu.h"
#include "clock.h"
#include "err.h"
#include "hsm.h"
#include "ledger.h"
#include "log.h"

#define SUB 32              /* histogram buckets per power of two */
#define NBUCKETS (40 * SUB) /* up to 2^40 us */
#define CLIENTS_MAX 1024
#define RESP_MAX 65536
#define TARGET_EC 0.70  /* the ratio to reach with an EC key */
#define TARGET_RSA 0.85 /* and with an RSA key */

struct hist {
	uint64_t b[NBUCKETS];
	uint64_t n;
};

struct opts {
	const char *sock, *key, *format, *alg, *json, *curve;
	int clients, seconds, curve_seconds;
	/* the raw rate: module, token, PIN file, key label */
	const char *module, *token, *pin, *label;
	int raw_threads;
	/* ledger rows, RSS and CPU time: seald's pid, the postmaster's */
	const char *db, *instance;
	long pid, pg_pid;
};

struct client {
	const struct opts *o;
	int id;
	struct timespec end;
	struct hist h;
	uint64_t ok, errors;
	char first_error[160];
};

static atomic_uint run_no;

/* ---------------------------------------------------------- histogram */

static size_t
bucket(uint64_t us)
{
	unsigned int e;

	if (us < SUB)
		return (size_t)us;
	e = 63u - (unsigned int)__builtin_clzll(us); /* >= 5 */
	if (e >= 40)
		return NBUCKETS - 1;
	return (size_t)(e - 4) * SUB + ((us >> (e - 5)) & (SUB - 1));
}

static uint64_t
bucket_floor(size_t i)
{
	size_t e;

	if (i < SUB)
		return i;
	e = i / SUB + 4;
	return (uint64_t)(SUB + i % SUB) << (e - 5);
}

static void
hist_merge(struct hist *to, const struct hist *from)
{
	size_t i;

	for (i = 0; i < NBUCKETS; i++)
		to->b[i] += from->b[i];
	to->n += from->n;
}

/* The q-quantile in milliseconds (0 when empty). */
static double
hist_ms(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->n), seen = 0;
	size_t i;

	for (i = 0; i < NBUCKETS; i++) {
		seen += h->b[i];
		if (seen > want)
			return (double)bucket_floor(i) / 1000.0;
	}
	return 0;
}

/* ------------------------------------------------------------ clients */

static int
connect_sock(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Read one response: its status into *status, its body into buf; 1 when
 * the server will close the connection.  -1 on a broken connection. */
static int
read_response(int fd, char *buf, size_t cap, int *status)
{
	size_t have = 0, need;
	char *end = NULL, *cl;
	long len = -1;
	ssize_t k;
	int closing;

	while (end == NULL) {
		if (have + 1 >= cap)
			return -1;
		if ((k = read(fd, buf + have, cap - 1 - have)) <= 0)
			return -1;
		have += (size_t)k;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	/* "HTTP/1.x NNN " */
	if (strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' || buf[9] < '1' ||
	    buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' ||
	    buf[11] > '9')
		return -1;
	*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	for (cl = buf; cl < end; cl++)
		if (strncasecmp(cl, "\r\nContent-Length:", 17) == 0) {
			len = strtol(cl + 17, NULL, 10);
			break;
		}
	closing = strcasestr(buf, "\r\nConnection: close") != NULL;
	if (len < 0 || (size_t)len > cap - 1 - (size_t)(end + 4 - buf))
		return -1;
	need = (size_t)(end + 4 - buf) + (size_t)len;
	while (have < need) {
		if ((k = read(fd, buf + have, need - have)) <= 0)
			return -1;
		have += (size_t)k;
	}
	buf[have] = '\0';
	return closing;
}

/* One request: a fresh random digest under a fresh request_id. */
static int
make_request(struct client *c, uint64_t i, char *req, size_t cap)
{
	const struct opts *o = c->o;
	uint8_t dg[64];
	char b64[B64_ENCODED_LEN(64) + 1], body[512];
	size_t dlen = strcmp(o->alg, "sha512") == 0 ? 64
	    : strcmp(o->alg, "sha384") == 0         ? 48
						    : 32;
	int n;

	if (RAND_bytes(dg, (int)dlen) != 1 ||
	    b64_encode(dg, dlen, b64, sizeof(b64)) != 0)
		return -1;
	n = snprintf(body, sizeof(body),
	    "{\"key\":\"%s\",\"digest\":\"%s\",\"digest_alg\":\"%s\","
	    "\"request_id\":\"bench-%u-%d-%llu\",\"format\":\"%s\"}",
	    o->key, b64, o->alg, atomic_load(&run_no), c->id,
	    (unsigned long long)i, o->format);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -1;
	n = snprintf(req, cap,
	    "POST /v1/sign HTTP/1.1\r\nHost: localhost\r\n"
	    "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
	    n, body);
	return n > 0 && (size_t)n < cap ? n : -1;
}

static void
note_error(struct client *c, const char *what)
{
	if (c->errors++ == 0)
		snprintf(
		    c->first_error, sizeof(c->first_error), "%.150s", what);
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct timespec t0, t1;
	char req[1024], *resp;
	uint64_t i = 0;
	int fd = -1, status, n, r;

	if ((resp = malloc(RESP_MAX)) == NULL)
		return NULL;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (t0.tv_sec > c->end.tv_sec ||
		    (t0.tv_sec == c->end.tv_sec &&
			t0.tv_nsec >= c->end.tv_nsec))
			break;
		if (fd < 0 && (fd = connect_sock(c->o->sock)) < 0) {
			note_error(c, "cannot connect");
			usleep(10000);
			continue;
		}
		if ((n = make_request(c, i++, req, sizeof(req))) < 0 ||
		    write_all(fd, req, (size_t)n) != 0 ||
		    (r = read_response(fd, resp, RESP_MAX, &status)) < 0) {
			note_error(c, "connection lost");
			close(fd);
			fd = -1;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (status == 200) {
			c->ok++;
			c->h.b[bucket(
			    (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000L +
				(t1.tv_nsec - t0.tv_nsec) / 1000))]++;
			c->h.n++;
		} else {
			note_error(c,
			    strstr(resp, "\r\n\r\n") != NULL
				? strstr(resp, "\r\n\r\n") + 4
				: "bad reply");
		}
		if (r == 1) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	free(resp);
	return NULL;
}

struct load {
	double rate;
	uint64_t ok, errors;
	struct hist h;
	char first_error[160];
};

/* n clients for seconds; the merged figures into out. */
static int
run_load(const struct opts *o, int n, int seconds, struct load *out)
{
	struct client *cs = calloc((size_t)n, sizeof(*cs));
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	struct timespec start, end;
	int i, started = 0;

	memset(out, 0, sizeof(*out));
	if (cs == NULL || th == NULL) {
		free(cs);
		free(th);
		return -1;
	}
	atomic_fetch_add(&run_no, 1);
	clock_gettime(CLOCK_MONOTONIC, &start);
	end = start;
	end.tv_sec += seconds;
	for (i = 0; i < n; i++) {
		cs[i].o = o;
		cs[i].id = i;
		cs[i].end = end;
		if (pthread_create(&th[i], NULL, client_main, &cs[i]) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		hist_merge(&out->h, &cs[i].h);
		out->ok += cs[i].ok;
		out->errors += cs[i].errors;
		if (out->first_error[0] == '\0' && cs[i].first_error[0] != '\0')
			memcpy(out->first_error, cs[i].first_error,
			    sizeof(out->first_error));
	}
	out->rate = (double)out->ok / (double)(sd_ms_since(&start) / 1000.0);
	free(cs);
	free(th);
	return started == n ? 0 : -1;
}

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
raw_rate(const struct opts *o, int seconds, struct raw_sum *sum, char *err,
    size_t errlen)
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

	if ((h = hsm_open(o->module, o->token, o->pin, (unsigned int)n, err,
		 errlen)) == NULL)
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
ledger_rows(const struct opts *o)
{
	struct ledger_reader *rd;
	int64_t n = -1;

	if (o->db == NULL || (rd = ledger_reader_new(o->db)) == NULL)
		return -1;
	if (ledger_count(rd, o->instance, LEDGER_SIGNATURE, &n) != 0)
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
	    "[-f raw|cms] [-a ALG]\n"
	    "         --module SO --token LABEL --pin-file F --label KEYLABEL "
	    "[--raw-threads N]\n"
	    "         [--db CONNINFO --instance NAME] [--pid SEALD_PID] "
	    "[--pg-pid POSTMASTER_PID]\n"
	    "         [--json FILE]\n"
	    "         [--curve 1,4,16,64,256 [--curve-seconds S]]\n");
}

static int
parse(int argc, char **argv, struct opts *o)
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
			o->clients = (int)num(v, 1, CLIENTS_MAX);
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
		else
			return -1;
	}
	if (i != argc || o->sock == NULL || o->module == NULL ||
	    o->token == NULL || o->pin == NULL || o->label == NULL ||
	    o->clients < 1 || o->seconds < 1 || o->raw_threads < 1 ||
	    o->raw_threads > 64 || o->curve_seconds < 1 || o->pid < 0 ||
	    o->pg_pid < 0)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct load l;
	char err[512], *tok, *save, *curve = NULL;
	double raw, raw0, raw1, ratio, target, cpu_req[CPU_NPARTS + 1],
	    cpu_raw[CPU_NPARTS + 1];
	struct cpu_snap c0, c1, dload;
	struct raw_sum rs;
	int half;
	int64_t rows0, rows1;
	long rss0, rss1;
	FILE *js = NULL;
	int n, first = 1, bad;

	if (parse(argc, argv, &o) != 0) {
		usage();
		return 2;
	}
	log_set_level(LOG_LVL_WARN);
	printf("seald bench: key %s, format %s, %s digests, %d clients, %d s "
	       "(raw PKCS#11: %d sessions)\n",
	    o.key, o.format, o.alg, o.clients, o.seconds, o.raw_threads);
	fflush(stdout);
	half = o.seconds > 1 ? o.seconds / 2 : 1;
	memset(&rs, 0, sizeof(rs));
	memset(&dload, 0, sizeof(dload));
	if ((raw0 = raw_rate(&o, half, &rs, err, sizeof(err))) < 0)
		goto raw_failed;
	rows0 = ledger_rows(&o);
	rss0 = rss_kib(o.pid);
	(void)cpu_take(&c0, o.pid, o.pg_pid);
	if (run_load(&o, o.clients, o.seconds, &l) != 0) {
		fprintf(stderr, "seald-bench: cannot start the clients\n");
		return 1;
	}
	(void)cpu_take(&c1, o.pid, o.pg_pid);
	cpu_add(&dload, &c0, &c1);
	rows1 = ledger_rows(&o);
	rss1 = rss_kib(o.pid);
	if ((raw1 = raw_rate(&o, half, &rs, err, sizeof(err))) < 0)
		goto raw_failed;
	cpu_per(&dload, l.ok, cpu_req);
	cpu_per(&rs.cpu, rs.signs, cpu_raw);
	raw = (raw0 + raw1) / 2;
	ratio = raw > 0 ? l.rate / raw : 0;
	printf("\n%-24s %10s %9s %9s %9s %8s\n", "", "sign/s", "p50 ms",
	    "p99 ms", "p99.9 ms", "errors");
	printf("%-24s %10.1f %9s %9s %9s %8s   (%.1f before, %.1f after)\n",
	    "raw PKCS#11", raw, "-", "-", "-", "-", raw0, raw1);
	printf("%-24s %10.1f %9.2f %9.2f %9.2f %8llu\n", "seald", l.rate,
	    hist_ms(&l.h, 0.50), hist_ms(&l.h, 0.99), hist_ms(&l.h, 0.999),
	    (unsigned long long)l.errors);
	printf("%-24s %10.2f\n", "seald / raw", ratio);
	printf("ledger rows added %lld, replies %llu: %s\n",
	    (long long)(rows1 - rows0), (unsigned long long)l.ok,
	    rows0 < 0 || rows1 < 0               ? "not counted (no --db)"
		: rows1 - rows0 == (int64_t)l.ok ? "equal"
						 : "NOT EQUAL");
	printf("seald RSS %.1f MiB before, %.1f MiB after\n\n",
	    (double)rss0 / 1024.0, (double)rss1 / 1024.0);
	cpu_print_head(stdout);
	cpu_print(stdout, "seald", cpu_req);
	cpu_print(stdout, "raw PKCS#11, a signature", cpu_raw);
	target = rs.ec ? TARGET_EC : TARGET_RSA;
	printf("at %.2f of raw: %.1f us of CPU a request in all, %.1f more "
	       "than a raw signature (the load tool took %.1f)\n",
	    target, cpu_raw[CPU_NPARTS] / target,
	    cpu_raw[CPU_NPARTS] / target - cpu_raw[CPU_NPARTS],
	    cpu_req[CPU_SELF]);
	if (l.errors > 0)
		printf("first error: %s\n", l.first_error);
	if (o.json != NULL && (js = fopen(o.json, "w")) == NULL)
		fprintf(stderr, "seald-bench: cannot write %s\n", o.json);
	if (js != NULL)
		fprintf(js,
		    "{\"key\":\"%s\",\"format\":\"%s\",\"digest_alg\":\"%s\","
		    "\"clients\":%d,\"seconds\":%d,\"raw_sessions\":%d,"
		    "\"raw_sign_per_s\":%.1f,\"raw_before\":%.1f,"
		    "\"raw_after\":%.1f,\"seald_sign_per_s\":%.1f,"
		    "\"ratio\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
		    "\"p999_ms\":%.3f,\"errors\":%llu,\"replies\":%llu,"
		    "\"ledger_rows_added\":%lld,\"rss_kib_before\":%ld,"
		    "\"rss_kib_after\":%ld,\"cpu_us_per_request\":",
		    o.key, o.format, o.alg, o.clients, o.seconds, o.raw_threads,
		    raw, raw0, raw1, l.rate, ratio, hist_ms(&l.h, 0.50),
		    hist_ms(&l.h, 0.99), hist_ms(&l.h, 0.999),
		    (unsigned long long)l.errors, (unsigned long long)l.ok,
		    (long long)(rows1 - rows0), rss0, rss1);
	if (js != NULL) {
		cpu_json(js, cpu_req);
		fprintf(js, ",\"raw_cpu_us_per_sign\":");
		cpu_json(js, cpu_raw);
		fprintf(js, ",\"curve\":[");
	}
	bad = l.errors > 0 ||
	    (rows0 >= 0 && rows1 >= 0 && rows1 - rows0 != (int64_t)l.ok);
	if (o.curve != NULL && (curve = strdup(o.curve)) != NULL) {
		printf("\nscaling (%d s each):\n%8s %10s %9s %8s\n",
		    o.curve_seconds, "clients", "sign/s", "p99 ms", "errors");
		for (tok = strtok_r(curve, ",", &save); tok != NULL;
		     tok = strtok_r(NULL, ",", &save)) {
			n = (int)num(tok, 1, CLIENTS_MAX);
			if (n < 1 || run_load(&o, n, o.curve_seconds, &l) != 0)
				continue;
			printf("%8d %10.1f %9.2f %8llu\n", n, l.rate,
			    hist_ms(&l.h, 0.99), (unsigned long long)l.errors);
			fflush(stdout);
			if (js != NULL)
				fprintf(js,
				    "%s{\"clients\":%d,\"sign_per_s\":%.1f,"
				    "\"p99_ms\":%.3f,\"errors\":%llu}",
				    first ? "" : ",", n, l.rate,
				    hist_ms(&l.h, 0.99),
				    (unsigned long long)l.errors);
			first = 0;
		}
		free(curve);
		printf("seald RSS %.1f MiB after the curve\n",
		    (double)rss_kib(o.pid) / 1024.0);
	}
	if (js != NULL) {
		fprintf(js, "],\"rss_kib_end\":%ld}\n", rss_kib(o.pid));
		fclose(js);
	}
	return bad ? 1 : 0;

raw_failed:
	fprintf(stderr, "seald-bench: raw rate: %s\n", err);
	return 1;
}
