/*
 * ledger_watch: the background verifier.  While seald runs, one thread
 * walks seald's whole chain again and again (ledger_pass.c: links,
 * entry hashes, checkpoint signatures and roots, the stored Merkle rows),
 * on its own connection, at most verify_rate entries a second, each pass
 * up to the head seald had committed when it began.  A change anywhere
 * is so found within two passes.  On the first problem the ledger fails
 * closed for good (until a restart checks it again): no more entries are
 * accepted, readiness is down, the log and /metrics say where.  A
 * database that cannot be read is no verdict: the pass waits and starts
 * again.  Nor is a server other than the writer's (a standby, or after a
 * failover the old primary, which may still answer with its chain cut
 * where the new one went on).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "ledger_pq.h"
#include "ledger_writer.h"
#include "log.h"
#include "metrics.h"

#define PAGE 2000        /* entries a step */
#define RETRY_MS 5000    /* after the database could not be read */
#define PASS_GAP_MS 1000 /* at least this between two passes' starts */

static struct metrics_value m_at = METRICS_GAUGE("seald_ledger_verified_seq",
    "Where the background verifier's pass is in the chain.");
static struct metrics_value m_passes =
    METRICS_COUNTER("seald_ledger_verify_passes_total",
	"Whole passes of the background verifier over the chain.");
static struct metrics_value m_pass_s = METRICS_GAUGE(
    "seald_ledger_verify_pass_seconds", "How long the last whole pass took.");
static struct metrics_value m_broken = METRICS_GAUGE("seald_ledger_broken_seq",
    "0, or the position where a check found the chain broken.");

void
ledger_fail_closed(struct ledger *l, int64_t seq, const char *problem)
{
	if (atomic_exchange(&l->intact, 0) == 0)
		return;
	atomic_store(&m_broken.v, (long)seq);
	log_error("ledger: the chain of %s is broken at seq %lld: %s; no more "
		  "signatures until it is restored and seald restarted",
	    l->instance, (long long)seq, problem);
}

/* Wait ms unless stopped; 1 when stopped. */
static int
nap(struct ledger *l, long ms)
{
	struct timespec until = sd_deadline_us(ms * 1000L);
	int stop;

	pthread_mutex_lock(&l->watch_mu);
	while (!atomic_load(&l->watch_stop) &&
	    pthread_cond_timedwait(&l->watch_cond, &l->watch_mu, &until) == 0)
		;
	stop = atomic_load(&l->watch_stop);
	pthread_mutex_unlock(&l->watch_mu);
	return stop;
}

/* Whether c reached a standby (or cannot tell): a multi-host conninfo
 * without target_session_attrs=read-write may land on one. */
static int
in_recovery(PGconn *c)
{
	PGresult *res = PQexec(c, "SELECT pg_is_in_recovery()");
	int r = PQresultStatus(res) != PGRES_TUPLES_OK ||
	    strcmp(PQgetvalue(res, 0, 0), "f") != 0;

	PQclear(res);
	return r;
}

/* One pass; 0 when it ended (p->v says how), else SD_ERR_LEDGER or 1
 * when stopped. */
static int
one_pass(struct ledger *l, PGconn *c, struct ledger_pass *p)
{
	struct timespec t0;
	int64_t until = atomic_load(&l->committed_seq), read = 0;
	PGresult *res;
	long due_ms;
	int done = 0, r;

	ledger_pass_init(p, l->instance, l->have_cp ? l->cp.pub : NULL);
	p->check_rows = 1;
	if (l->watch_from > 0)
		ledger_pass_from(
		    p, l->watch_from, l->watch_hash, &l->watch_tree);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!done) {
		/* each step in one snapshot: its entries, checkpoints and
		 * rows as of one moment */
		res = PQexec(
		    c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
		r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : SD_ERR_LEDGER;
		PQclear(res);
		if (r == 0)
			r = ledger_pass_step(c, p, until, PAGE, &done);
		PQclear(PQexec(c, r == 0 ? "COMMIT" : "ROLLBACK"));
		if (r != 0)
			return r;
		atomic_store(&m_at.v, (long)(p->next - 1));
		read += PAGE;
		/* the pace: `read` entries take read / rate seconds */
		due_ms =
		    (long)(read * 1000 / l->verify_rate) - sd_ms_since(&t0);
		if (!done && due_ms > 0 && nap(l, due_ms))
			return 1;
		if (atomic_load(&l->watch_stop))
			return 1;
	}
	atomic_store(&m_pass_s.v, sd_ms_since(&t0) / 1000);
	return 0;
}

static void *
watch_main(void *arg)
{
	struct ledger *l = arg;
	struct ledger_pass p;
	struct timespec start;
	PGconn *c = NULL;
	char err[256];
	int r;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &start);
		if (c == NULL &&
		    (c = ledger_pq_connect(l->conninfo, err, sizeof(err))) ==
			NULL) {
			if (nap(l, RETRY_MS))
				break;
			continue;
		}
		/* a standby may lag, and after a failover the old primary may
		 * still answer (its chain then ends where the new one went
		 * on): no verdict but on the writer's server */
		if (in_recovery(c) || !ledger_server_is(l, c)) {
			PQfinish(c);
			c = NULL;
			if (nap(l, RETRY_MS))
				break;
			continue;
		}
		if ((r = one_pass(l, c, &p)) == 1)
			break;
		if (r != 0) { /* no verdict: the database is away */
			log_debug("ledger verifier: %.200s", PQerrorMessage(c));
			PQfinish(c);
			c = NULL;
			if (nap(l, RETRY_MS))
				break;
			continue;
		}
		if (!p.v.ok && !ledger_server_is(l, c)) {
			/* the writer moved during the pass */
			PQfinish(c);
			c = NULL;
			continue;
		}
		if (!p.v.ok) {
			ledger_fail_closed(l, p.v.bad_seq, p.v.problem);
			break;
		}
		metrics_inc(&m_passes, 1);
		log_debug("ledger verifier: entries %lld..%lld hold (%ld ms)",
		    (long long)l->watch_from + 1, (long long)p.v.head_seq,
		    sd_ms_since(&start));
		if (nap(l, PASS_GAP_MS - sd_ms_since(&start)))
			break;
	}
	PQfinish(c);
	return NULL;
}

int
ledger_watch_start(struct ledger *l)
{
	metrics_add(&m_broken.f);
	if (l->verify_rate == 0)
		return 0;
	metrics_add(&m_at.f);
	metrics_add(&m_passes.f);
	metrics_add(&m_pass_s.f);
	pthread_mutex_init(&l->watch_mu, NULL);
	sd_cond_init(&l->watch_cond); /* CLOCK_MONOTONIC, as nap's deadlines */
	if (pthread_create(&l->watcher, NULL, watch_main, l) != 0) {
		pthread_cond_destroy(&l->watch_cond);
		pthread_mutex_destroy(&l->watch_mu);
		return SD_ERR_INTERNAL;
	}
	l->have_watcher = 1;
	return 0;
}

void
ledger_watch_stop(struct ledger *l)
{
	if (!l->have_watcher)
		return;
	pthread_mutex_lock(&l->watch_mu);
	atomic_store(&l->watch_stop, 1);
	pthread_cond_signal(&l->watch_cond);
	pthread_mutex_unlock(&l->watch_mu);
	pthread_join(l->watcher, NULL);
	pthread_cond_destroy(&l->watch_cond);
	pthread_mutex_destroy(&l->watch_mu);
	l->have_watcher = 0;
}
