/*
 * bench_load: the clients of seald-bench (bench.h): N keep-alive HTTP
 * clients on seald's Unix socket, each posting /v1/sign with fresh random
 * digests until its time is up, their latencies in a fixed log-linear
 * histogram (3% resolution), so memory does not grow with the run.
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
#include <openssl/ts.h>

#include "b64.h"
#include "bench.h"
#include "clock.h"

#define RESP_MAX 65536

struct client {
	const struct bench_opts *o;
	int id;
	struct timespec end;
	struct bench_hist h;
	uint64_t ok, errors;
	char first_error[160];
};

static atomic_uint run_no;

/* ---------------------------------------------------------- histogram */

static size_t
bucket(uint64_t us)
{
	unsigned int e;

	if (us < BENCH_SUB)
		return (size_t)us;
	e = 63u - (unsigned int)__builtin_clzll(us); /* >= 5 */
	if (e >= 40)
		return BENCH_NBUCKETS - 1;
	return (size_t)(e - 4) * BENCH_SUB +
	    ((us >> (e - 5)) & (BENCH_SUB - 1));
}

static uint64_t
bucket_floor(size_t i)
{
	size_t e;

	if (i < BENCH_SUB)
		return i;
	e = i / BENCH_SUB + 4;
	return (uint64_t)(BENCH_SUB + i % BENCH_SUB) << (e - 5);
}

static void
hist_merge(struct bench_hist *to, const struct bench_hist *from)
{
	size_t i;

	for (i = 0; i < BENCH_NBUCKETS; i++)
		to->b[i] += from->b[i];
	to->n += from->n;
}

double
bench_hist_ms(const struct bench_hist *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->n), seen = 0;
	size_t i;

	for (i = 0; i < BENCH_NBUCKETS; i++) {
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

/* Read one response into buf: its status into *status, where its body
 * starts and its length into *body and *blen; 1 when the server will
 * close the connection.  -1 on a broken connection. */
static int
read_response(
    int fd, char *buf, size_t cap, int *status, const char **body, size_t *blen)
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
	*body = end + 4;
	*blen = (size_t)len;
	return closing;
}

/* A time-stamp request (format "tsa"): a DER TimeStampReq for a fresh
 * random imprint, with a random nonce, posted to /v1/tsa. */
static int
make_tsa_request(const struct bench_opts *o, char *req, size_t cap)
{
	uint8_t dg[64], *der = NULL;
	const EVP_MD *md = strcmp(o->alg, "sha512") == 0 ? EVP_sha512()
	    : strcmp(o->alg, "sha384") == 0              ? EVP_sha384()
							 : EVP_sha256();
	TS_REQ *tq = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *nonce = NULL;
	BIGNUM *bn = BN_new();
	int len = -1, n = -1;

	if (tq == NULL || mi == NULL || alg == NULL || bn == NULL ||
	    RAND_bytes(dg, EVP_MD_get_size(md)) != 1 ||
	    BN_rand(bn, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    (nonce = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL,
		NULL) != 1 ||
	    TS_MSG_IMPRINT_set_algo(mi, alg) != 1 ||
	    TS_MSG_IMPRINT_set_msg(mi, dg, EVP_MD_get_size(md)) != 1 ||
	    TS_REQ_set_version(tq, 1) != 1 ||
	    TS_REQ_set_msg_imprint(tq, mi) != 1 ||
	    TS_REQ_set_nonce(tq, nonce) != 1 ||
	    (len = i2d_TS_REQ(tq, &der)) <= 0)
		goto out;
	n = snprintf(req, cap,
	    "POST /v1/tsa HTTP/1.1\r\nHost: localhost\r\n"
	    "Content-Type: application/timestamp-query\r\n"
	    "Content-Length: %d\r\n\r\n",
	    len);
	if (n > 0 && (size_t)n + (size_t)len < cap) {
		memcpy(req + n, der, (size_t)len);
		n += len;
	} else {
		n = -1;
	}
out:
	OPENSSL_free(der);
	ASN1_INTEGER_free(nonce);
	BN_free(bn);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(tq);
	return n;
}

/* A TimeStampResp's status: 1 when granted (with or without mods). */
static int
tsa_granted(const char *body, size_t len)
{
	const unsigned char *p = (const unsigned char *)body;
	TS_RESP *tr = d2i_TS_RESP(NULL, &p, (long)len);
	long st = -1;

	if (tr != NULL)
		st = ASN1_INTEGER_get(
		    TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(tr)));
	TS_RESP_free(tr);
	return st == 0 || st == 1;
}

/* One request: a fresh random digest under a fresh request_id. */
static int
make_request(struct client *c, uint64_t i, char *req, size_t cap)
{
	const struct bench_opts *o = c->o;
	uint8_t dg[64];
	char b64[B64_ENCODED_LEN(64) + 1], body[512];
	size_t dlen = strcmp(o->alg, "sha512") == 0 ? 64
	    : strcmp(o->alg, "sha384") == 0         ? 48
						    : 32;
	int n;

	if (strcmp(o->format, "tsa") == 0)
		return make_tsa_request(o, req, cap);
	if (RAND_bytes(dg, (int)dlen) != 1 ||
	    b64_encode(dg, dlen, b64, sizeof(b64)) != 0)
		return -1;
	n = snprintf(body, sizeof(body),
	    "{\"key\":\"%s\",\"digest\":\"%s\",\"digest_alg\":\"%s\","
	    /* the pid: another load run on the same ledger asks anew */
	    "\"request_id\":\"bench-%ld-%u-%d-%llu\",\"format\":\"%s\"}",
	    o->key, b64, o->alg, (long)getpid(), atomic_load(&run_no), c->id,
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
	const char *body;
	size_t blen;
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
		    (r = read_response(
			 fd, resp, RESP_MAX, &status, &body, &blen)) < 0) {
			note_error(c, "connection lost");
			close(fd);
			fd = -1;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* a time-stamp's refusal is an HTTP 200 too (RFC 3161 3.4) */
		if (status == 200 && strcmp(c->o->format, "tsa") == 0 &&
		    !tsa_granted(body, blen)) {
			note_error(c, "a TimeStampResp not granted");
		} else if (status == 200) {
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

int
bench_run_load(
    const struct bench_opts *o, int n, int seconds, struct bench_load *out)
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
