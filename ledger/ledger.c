/*
 * ledger: the group-commit writer and the lookup connections (the
 * request lookup itself is ledger_request.c).
 *
 * The writer thread takes every entry queued while the previous commit
 * was in flight (up to SD_LEDGER_BATCH_MAX), and those whose signatures
 * are in the HSM then, waiting for them at most the batch wait (gather),
 * chains them (seq, prev_hash, entry_hash) and writes them with one
 * INSERT (ledger_batch.c), which commits on return (autocommit,
 * synchronous_commit=on).  Callbacks run only then.
 *
 * When the connection is lost during a commit, the writer reconnects,
 * reads the chain head again and asks the database, by (client,
 * request_id), which entries of the batch it holds: those are answered,
 * the others are written once more.  An in-doubt commit is thus resolved
 * by what the database holds, never guessed.  A batch that hits the
 * (client, request_id) constraint is written again one entry at a time
 * so that only the duplicates are affected (a lost commit there is
 * settled the same way).  While idle the writer checks its connection
 * every second, so readiness is true to within a second and the ledger
 * reconnects by itself.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "clock.h"
#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "log.h"
#include "merkle.h"
#include "metrics.h"
#include "secret.h"

#define NCOLS 24                  /* parameters per row */
#define COL_PREV 17               /* the prev_hash parameter */
#define RECONNECT_INTERVAL_MS 200 /* at most one connect attempt per this */
#define HEARTBEAT_SEC 1           /* idle connection check */
#define INSERT_LOST 1             /* insert_rows: connection lost */
#define UNIQUE_REQUEST "ledger_entries_client_request"

struct ledger {
	char conninfo[SD_CONNINFO_MAX];
	char instance[SD_NAME_MAX];
	PGconn *conn;     /* writer thread only */
	int64_t head_seq; /* writer thread only */
	uint8_t head_hash[SD_HASH_LEN];
	struct timespec last_connect;

	pthread_t thread;
	struct sd_queue queue;
	atomic_int connected; /* for ledger_ready() */
	/* group commit: entries on their way (ledger_preparing), and how
	 * long a commit may wait for them */
	atomic_int preparing;
	atomic_long batch_wait_us;

	/* writer thread only: the Merkle tree of the chain seald committed
	 * (tree.size entries, the last one tree_head), and the batch whose
	 * commit may be in doubt while the connection comes back */
	struct merkle_frontier tree;
	uint8_t tree_head[SD_HASH_LEN];
	int have_tree;
	struct doubt {
		int64_t seq;
		uint8_t hash[SD_HASH_LEN];
	} doubt[SD_LEDGER_BATCH_MAX]; /* entries whose commit is in doubt */
	size_t ndoubt;

	int have_cp; /* checkpoints configured */
	struct ledger_checkpointer cp;
	int64_t cp_seq;          /* writer thread only: last checkpoint */
	struct timespec cp_time; /* when it was made (or last tried) */
	int down_logged;         /* writer thread only: "down" said once */
	/* writer thread only: the session holding the instance lock, as the
	 * server knows it (pid, start), to end it if it outlives a cut */
	char lock_pid[16], lock_start[64];
	char lock_tag[64], lock_held_tag[64]; /* its application_name */
	char problem[256]; /* the failed start check, when overridden */
};

void
ledger_pq_error(PGconn *c, const char *what, char *errbuf, size_t errlen)
{
	const char *m = c != NULL ? PQerrorMessage(c) : "out of memory";
	size_t n = strcspn(m, "\n");

	snprintf(errbuf, errlen, "%s: %.*s", what, (int)(n > 200 ? 200 : n), m);
}

static void
quiet_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("postgres: %.200s", message);
}

void
ledger_pq_generic_plans(PGconn *c)
{
	PQclear(PQexec(c, "SET plan_cache_mode = force_generic_plan"));
}

PGconn *
ledger_pq_connect(const char *conninfo, char *errbuf, size_t errlen)
{
	/* Ours first: keywords in the expanded conninfo override them.  The
	 * TCP settings bound how long a vanished server can hold a commit
	 * (Unix sockets ignore them). */
	const char *keys[] = { "connect_timeout", "application_name",
		"keepalives", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", "dbname", NULL };
	const char *vals[] = { "5", "seald", "1", "5", "2", "3", "10000",
		conninfo, NULL };
	PQconninfoOption *opts;
	char *perr = NULL;
	PGresult *res;
	PGconn *c;

	/* libpq quotes pieces of a conninfo it cannot parse (a password,
	 * perhaps): check it first and say nothing of its content. */
	if ((opts = PQconninfoParse(conninfo, &perr)) == NULL) {
		PQfreemem(perr);
		snprintf(errbuf, errlen,
		    "database conninfo does not parse "
		    "(its text is not shown: it may hold a password)");
		return NULL;
	}
	PQconninfoFree(opts);

	c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		ledger_pq_error(
		    c, "database connection failed", errbuf, errlen);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	res = PQexec(c,
	    "SET synchronous_commit = on; "
	    "SET statement_timeout = '10s'");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ledger_pq_error(c, "SET synchronous_commit", errbuf, errlen);
		PQclear(res);
		PQfinish(c);
		return NULL;
	}
	PQclear(res);
	return c;
}

/* First line of a libpq message, for one-line logs. */
static int
line_len(const char *m)
{
	size_t n = strcspn(m, "\n");

	return (int)(n > 200 ? 200 : n);
}

int64_t
ledger_pq_i64(const PGresult *res, int row, int col)
{
	const unsigned char *p =
	    (const unsigned char *)PQgetvalue(res, row, col);
	int len = PQgetlength(res, row, col);
	uint64_t v = 0;
	int i;

	for (i = 0; i < len && i < 8; i++)
		v = v << 8 | p[i];
	if (len == 4 && (v & 0x80000000u))
		v |= 0xffffffff00000000ull;
	return (int64_t)v;
}

/* Copy a binary text/bytea column; 0 if it fits in cap, else -1. */
int
ledger_pq_bytes(const PGresult *res, int row, int col, void *dst, size_t cap,
    size_t *len, int nul)
{
	size_t n = (size_t)PQgetlength(res, row, col);

	if (n + (nul ? 1 : 0) > cap)
		return -1;
	memcpy(dst, PQgetvalue(res, row, col), n);
	if (nul)
		((char *)dst)[n] = '\0';
	if (len != NULL)
		*len = n;
	return 0;
}

static void
disconnect(struct ledger *l)
{
	PQfinish(l->conn);
	l->conn = NULL;
	atomic_store(&l->connected, 0);
}

/*
 * On a reconnect, the head the database holds must be the one seald
 * committed, or past it only by entries of the batch whose commit was in
 * doubt (they join the tree).  Anything else was written by someone else:
 * seald does not chain onto it.
 */
static int
check_head(struct ledger *l, char *errbuf, size_t errlen)
{
	struct merkle_node made[MERKLE_LEVELS];
	const char *params[3] = { l->instance, NULL, NULL };
	char from[24], to[24];
	int64_t known = (int64_t)l->tree.size, seq;
	uint8_t h[SD_HASH_LEN];
	PGresult *res;
	size_t i, hl, nm;
	int row, mine, r = SD_ERR_LEDGER;

	if (l->head_seq == known &&
	    memcmp(l->head_hash, l->tree_head, SD_HASH_LEN) == 0)
		return 0;
	if (l->head_seq <= known) {
		snprintf(errbuf, errlen,
		    "the chain head is seq %lld but seald committed up to "
		    "%lld with another hash: entries were removed or changed",
		    (long long)l->head_seq, (long long)known);
		return SD_ERR_LEDGER;
	}
	snprintf(from, sizeof(from), "%lld", (long long)known);
	snprintf(to, sizeof(to), "%lld", (long long)l->head_seq);
	params[1] = from;
	params[2] = to;
	res = PQexecParams(l->conn,
	    "SELECT seq, entry_hash FROM ledger_entries WHERE instance = $1 "
	    "AND seq > $2 AND seq <= $3 ORDER BY seq",
	    3, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ledger_pq_error(l->conn, "read chain head", errbuf, errlen);
		goto out;
	}
	for (row = 0; row < PQntuples(res); row++) {
		seq = ledger_pq_i64(res, row, 0);
		mine = seq == known + 1 + row &&
		    ledger_pq_bytes(res, row, 1, h, sizeof(h), &hl, 0) == 0 &&
		    hl == SD_HASH_LEN;
		for (i = 0; mine && i < l->ndoubt; i++)
			if (l->doubt[i].seq == seq &&
			    memcmp(l->doubt[i].hash, h, SD_HASH_LEN) == 0)
				break;
		if (!mine || i == l->ndoubt) {
			snprintf(errbuf, errlen,
			    "entry %lld was not written by seald (appended "
			    "behind its back): refusing to chain onto it; run "
			    "sealctl ledger verify",
			    (long long)(known + 1 + row));
			goto out;
		}
		if (merkle_push(&l->tree, h, made, &nm) != 0)
			goto out;
		memcpy(l->tree_head, h, SD_HASH_LEN);
	}
	r = (int64_t)l->tree.size == l->head_seq ? 0 : SD_ERR_LEDGER;
	if (r != 0)
		snprintf(errbuf, errlen, "entries %lld..%lld are missing",
		    (long long)l->tree.size + 1, (long long)l->head_seq);
out:
	PQclear(res);
	return r;
}

/* The instance's advisory lock.  On success, which session holds it,
 * tagged with a random application_name so that a reused server process
 * (behind a session pooler) never passes for it. */
static int
take_lock(struct ledger *l)
{
	const char *params[2] = { l->instance, l->lock_tag };
	uint8_t rnd[8];
	PGresult *res;
	size_t i, n;
	int ok;

	/* at most 63 bytes: the server truncates a longer name */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return 0;
	n = (size_t)snprintf(
	    l->lock_tag, sizeof(l->lock_tag), "seald-w %.32s ", l->instance);
	for (i = 0; i < sizeof(rnd); i++, n += 2)
		snprintf(
		    l->lock_tag + n, sizeof(l->lock_tag) - n, "%02x", rnd[i]);
	res = PQexecParams(l->conn,
	    "SELECT pg_try_advisory_lock("
	    "hashtextextended('seald-instance:' || $1, 0)), "
	    "pg_backend_pid(), (SELECT extract(epoch FROM backend_start)::text "
	    "FROM pg_stat_activity WHERE pid = pg_backend_pid()), "
	    "set_config('application_name', $2, false)",
	    2, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (ok) {
		snprintf(l->lock_pid, sizeof(l->lock_pid), "%s",
		    PQgetvalue(res, 0, 1));
		snprintf(l->lock_start, sizeof(l->lock_start), "%s",
		    PQgetvalue(res, 0, 2));
		snprintf(l->lock_held_tag, sizeof(l->lock_held_tag), "%s",
		    l->lock_tag);
	}
	PQclear(res);
	return ok;
}

/*
 * After a cut (a network partition, say), the server may keep seald's
 * previous session, and with it the instance lock, until its keepalive
 * gives up: hours over TCP.  That session is ended here, and only that
 * one: the same server process, started at the same moment, of the same
 * role, with the random tag seald gave it.  A second instance's session
 * never matches.  1 if it was ended; the session is forgotten once the
 * server says it is gone, not on an error (the next reconnect tries
 * again).
 */
static int
end_stale_session(struct ledger *l)
{
	const char *params[3] = { l->lock_pid, l->lock_start,
		l->lock_held_tag };
	PGresult *res;
	int ended = 0;

	if (l->lock_pid[0] == '\0')
		return 0;
	res = PQexecParams(l->conn,
	    "SELECT pg_terminate_backend(pid, 2000) FROM pg_stat_activity "
	    "WHERE pid = $1::int "
	    "AND extract(epoch FROM backend_start)::text = $2 "
	    "AND application_name = $3 AND usename = current_user",
	    3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warn("ledger: cannot end seald's previous database session "
			 "(pid %s): %.200s",
		    l->lock_pid, PQresultErrorMessage(res));
	} else {
		ended = PQntuples(res) == 1 &&
		    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		if (ended)
			log_warn("ledger: ended seald's previous database "
				 "session (pid %s), which held the instance "
				 "lock after its connection was cut",
			    l->lock_pid);
		if (ended || PQntuples(res) == 0)
			l->lock_pid[0] = '\0';
	}
	PQclear(res);
	return ended;
}

/* Schema version, instance lock and chain head on a new connection. */
static int
setup_conn(struct ledger *l, char *errbuf, size_t errlen)
{
	const char *params[1] = { l->instance };
	const char *latest = ledger_schema_latest();
	PGresult *res;
	size_t hl;
	int r = SD_ERR_LEDGER;

	res = PQexec(l->conn, "SELECT max(version) FROM schema_migrations");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    strcmp(PQgetvalue(res, 0, 0), latest) != 0) {
		snprintf(errbuf, errlen,
		    "database schema is not at %s: run "
		    "`seald migrate`",
		    latest);
		goto out;
	}
	PQclear(res);
	/* Least privilege: a role that owns the tables could switch their
	 * append-only triggers off. */
	res = PQexec(l->conn,
	    "SELECT r.rolsuper OR pg_has_role(c.relowner, 'USAGE'), "
	    "current_user FROM pg_roles r, pg_class c "
	    "WHERE r.rolname = current_user "
	    "AND c.oid = 'ledger_entries'::regclass");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		ledger_pq_error(l->conn, "check role", errbuf, errlen);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "f") != 0) {
		snprintf(errbuf, errlen,
		    "database role \"%.64s\" owns the ledger tables or is a "
		    "superuser, so it could switch off their append-only "
		    "triggers: connect seald as a login role that is a member "
		    "of seald_writer (README: Database roles)",
		    PQgetvalue(res, 0, 1));
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (!take_lock(l) && !(end_stale_session(l) && take_lock(l))) {
		snprintf(errbuf, errlen,
		    "instance \"%s\" is already running "
		    "against this database",
		    l->instance);
		goto out;
	}
	res = PQexecParams(l->conn,
	    "SELECT seq, entry_hash FROM ledger_entries "
	    "WHERE instance = $1 ORDER BY seq DESC LIMIT 1",
	    1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(errbuf, errlen, "read chain head: %.200s",
		    PQresultErrorMessage(res));
		goto out;
	}
	if (PQntuples(res) == 0) {
		l->head_seq = 0;
		memset(l->head_hash, 0, SD_HASH_LEN);
	} else {
		l->head_seq = ledger_pq_i64(res, 0, 0);
		if (ledger_pq_bytes(
			res, 0, 1, l->head_hash, SD_HASH_LEN, &hl, 0) != 0 ||
		    hl != SD_HASH_LEN) {
			snprintf(
			    errbuf, errlen, "chain head hash is malformed");
			goto out;
		}
	}
	r = l->have_tree ? check_head(l, errbuf, errlen) : 0;
	if (r == 0)
		l->ndoubt = 0; /* settled: the head says what was committed */
out:
	PQclear(res);
	return r;
}

static int
connect_writer(struct ledger *l, char *errbuf, size_t errlen)
{
	clock_gettime(CLOCK_MONOTONIC, &l->last_connect);
	l->head_seq = -1; /* unknown until read again */
	if ((l->conn = ledger_pq_connect(l->conninfo, errbuf, errlen)) == NULL)
		return SD_ERR_LEDGER;
	ledger_pq_generic_plans(l->conn);
	if (setup_conn(l, errbuf, errlen) != 0 ||
	    ledger_prepare_find(l->conn, errbuf, errlen) != 0 ||
	    ledger_batch_prepare(l->conn, errbuf, errlen) != 0) {
		PQfinish(l->conn);
		l->conn = NULL;
		return SD_ERR_LEDGER;
	}
	atomic_store(&l->connected, 1);
	return 0;
}

/* Text of the row parameters; kept per entry while its INSERT runs. */
struct rowtext {
	char seq[24], at[24], uid[24], pid[24], ver[24];
};

static void
row_params(struct ledger *l, struct ledger_entry *e, struct rowtext *t,
    const char **v, int *len, int *fmt)
{
	int i, sig = e->kind == LEDGER_SIGNATURE || e->kind == LEDGER_TIMESTAMP,
	       key = e->kind == LEDGER_KEY;

	snprintf(t->seq, sizeof(t->seq), "%lld", (long long)e->seq);
	snprintf(t->at, sizeof(t->at), "%lld", (long long)e->signed_at_us);
	snprintf(t->uid, sizeof(t->uid), "%lld", (long long)e->client_uid);
	snprintf(t->pid, sizeof(t->pid), "%lld", (long long)e->client_pid);
	snprintf(t->ver, sizeof(t->ver), "%lld", (long long)e->key_version);
	for (i = 0; i < NCOLS; i++) {
		v[i] = NULL; /* SQL NULL: request columns of policy entries */
		len[i] = 0;
		fmt[i] = 0;
	}
	v[0] = l->instance;
	v[1] = t->seq;
	v[2] = t->at;
	if (sig) {
		v[3] = e->client;
		v[4] = t->uid;
		v[5] = t->pid;
		v[6] = e->request_id;
		v[7] = (const char *)e->request_hash;
		v[8] = e->key_name;
		v[9] = t->ver;
		v[10] = e->algorithm;
		v[11] = e->digest_alg;
		v[12] = (const char *)e->digest;
		v[13] = e->format;
		v[14] = (const char *)e->sig;
	}
	if (key) { /* who did what to which key; no request, no signature */
		v[3] = e->client;
		v[4] = t->uid;
		v[5] = t->pid;
		v[8] = e->key_name;
		v[9] = t->ver;
		v[10] = e->algorithm;
		v[11] = e->digest_alg;
		v[12] = (const char *)e->digest;
		v[13] = e->format;
	}
	if (e->kind == LEDGER_TIMESTAMP) {
		v[6] = NULL; /* no request_id: tokens are not retried */
		v[22] = (const char *)e->tsa_serial;
		v[23] = e->tsa_policy;
	}
	v[15] = e->evidence_type;
	v[16] = e->evidence_ref;
	/* v[COL_PREV]: prev_hash, set by the caller */
	v[18] = (const char *)e->entry_hash;
	v[19] = ledger_kind_name(e->kind);
	v[20] = (const char *)e->policy_hash;
	v[21] = e->detail;
	len[7] = SD_HASH_LEN;
	len[12] = (int)e->digest_len;
	len[14] = (int)e->sig_len;
	len[COL_PREV] = SD_HASH_LEN;
	len[18] = SD_HASH_LEN;
	len[20] = SD_HASH_LEN;
	len[22] = (int)e->tsa_serial_len;
	fmt[7] = fmt[12] = fmt[14] = fmt[COL_PREV] = fmt[18] = fmt[20] = 1;
	fmt[22] = 1;
}

/* Room for the parameters of a batch: its entries, then the Merkle
 * subtrees they complete (at most one per entry and one per level). */
#define NODES_MAX (SD_LEDGER_BATCH_MAX + MERKLE_LEVELS)
#define PARAMS_MAX (SD_LEDGER_BATCH_MAX * NCOLS + NODES_MAX * 3)

struct batch_params {
	const char *v[PARAMS_MAX];
	int len[PARAMS_MAX], fmt[PARAMS_MAX];
	struct rowtext t[SD_LEDGER_BATCH_MAX];
	struct merkle_node made[NODES_MAX];
	struct ledger_node_text nt[NODES_MAX];
	struct merkle_frontier tree;
};

/*
 * INSERT entries b[0..n) as one statement, chained from the current head,
 * with the Merkle subtrees they complete.  Returns 0 (head and tree
 * advanced), SD_ERR_CONFLICT when the (client, request_id) constraint
 * fired, INSERT_LOST, or SD_ERR_LEDGER.
 */
static int
insert_rows(struct ledger *l, struct ledger_entry **b, size_t n)
{
	struct batch_params *p;
	uint8_t prev[SD_HASH_LEN];
	size_t i, nm = 0, k, np;
	PGresult *res;
	const char *state, *cname;
	int r = 0;

	if ((p = malloc(sizeof(*p))) == NULL)
		return SD_ERR_LEDGER;
	p->tree = l->tree;
	memcpy(prev, l->head_hash, SD_HASH_LEN);
	for (i = 0; i < n; i++) {
		struct ledger_entry *e = b[i];

		memcpy(e->instance, l->instance, sizeof(e->instance));
		e->seq = l->head_seq + 1 + (int64_t)i;
		ledger_entry_hash(e, prev, e->entry_hash);
		row_params(l, e, &p->t[i], &p->v[i * NCOLS], &p->len[i * NCOLS],
		    &p->fmt[i * NCOLS]);
		/* prev_hash points into the previous entry (or the head). */
		p->v[i * NCOLS + COL_PREV] = i == 0
		    ? (const char *)l->head_hash
		    : (const char *)b[i - 1]->entry_hash;
		memcpy(prev, e->entry_hash, SD_HASH_LEN);
		if (merkle_push(&p->tree, e->entry_hash, p->made + nm, &k) !=
		    0) {
			log_error("ledger: the Merkle tree is full");
			free(p);
			return SD_ERR_LEDGER;
		}
		nm += k;
	}
	np = n * NCOLS;
	for (i = 0; i < nm; i++, np += 3)
		ledger_merkle_params(&p->made[i], &p->nt[i], &p->v[np],
		    &p->len[np], &p->fmt[np]);
	if (ledger_batch_exec(
		l->conn, p->v, p->len, p->fmt, n, NCOLS, nm, &res) != 0) {
		free(p);
		return SD_ERR_INTERNAL;
	}
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		l->head_seq = b[n - 1]->seq;
		memcpy(l->head_hash, b[n - 1]->entry_hash, SD_HASH_LEN);
		l->tree = p->tree;
		memcpy(l->tree_head, l->head_hash, SD_HASH_LEN);
	} else {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		cname = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
		if (state != NULL && strcmp(state, "23505") == 0 &&
		    cname != NULL && strcmp(cname, UNIQUE_REQUEST) == 0) {
			r = SD_ERR_CONFLICT;
		} else if (PQstatus(l->conn) != CONNECTION_OK) {
			log_warn("ledger connection lost during commit");
			r = INSERT_LOST;
		} else {
			log_error("ledger commit failed: %.*s",
			    line_len(PQresultErrorMessage(res)),
			    PQresultErrorMessage(res));
			r = SD_ERR_LEDGER;
		}
	}
	PQclear(res);
	free(p);
	return r;
}

/* Bring the writer connection up unless it is; 0 when connected. */
static int
ensure_conn(struct ledger *l, int rate_limited)
{
	char err[256];

	if (l->conn != NULL)
		return 0;
	if (rate_limited &&
	    sd_ms_since(&l->last_connect) < RECONNECT_INTERVAL_MS)
		return SD_ERR_LEDGER;
	if (connect_writer(l, err, sizeof(err)) != 0) {
		if (!l->down_logged)
			log_warn("ledger: %s", err);
		l->down_logged = 1;
		return SD_ERR_LEDGER;
	}
	l->down_logged = 0;
	log_info(
	    "ledger connected; chain head at seq %lld", (long long)l->head_seq);
	return 0;
}

/* 1 when the database holds exactly this entry (our own commit), 0 when
 * not, -1 on error. */
static int
committed_as_is(struct ledger *l, const struct ledger_entry *e)
{
	const char *v[3];
	int len[3] = { 0, 0, SD_HASH_LEN }, fmt[3] = { 0, 0, 1 };
	char seq[24];
	PGresult *res;
	int r;

	snprintf(seq, sizeof(seq), "%lld", (long long)e->seq);
	v[0] = l->instance;
	v[1] = seq;
	v[2] = (const char *)e->entry_hash;
	res = PQexecParams(l->conn,
	    "SELECT 1 FROM ledger_entries WHERE instance = $1 AND seq = $2 "
	    "AND entry_hash = $3",
	    3, NULL, v, len, fmt, 0);
	r = PQresultStatus(res) != PGRES_TUPLES_OK ? -1 : PQntuples(res) > 0;
	PQclear(res);
	return r;
}

/* The result of an entry whose commit was in doubt, or that hit the
 * request constraint: our own commit, a retry answered with the recorded
 * result, a conflict, or SD_ERR_NOT_FOUND (write it again). */
static int
settle_recorded(struct ledger *l, struct ledger_entry *e)
{
	int r;

	if ((r = committed_as_is(l, e)) != 0)
		return r > 0 ? 0 : SD_ERR_LEDGER;
	if (e->kind != LEDGER_SIGNATURE)
		return SD_ERR_NOT_FOUND;
	return ledger_find_on(l->conn, e);
}

static void
set_all(struct ledger_entry **b, size_t n, int r)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i]->result = r;
}

/* Keep (seq, hash) of entries whose commit is in doubt, by value: the
 * entries may be gone when a later reconnect finds them committed. */
static void
doubt_of(struct ledger *l, struct ledger_entry **b, size_t n)
{
	size_t i;

	for (i = 0; i < n && l->ndoubt < SD_LEDGER_BATCH_MAX; i++) {
		l->doubt[l->ndoubt].seq = b[i]->seq;
		memcpy(l->doubt[l->ndoubt].hash, b[i]->entry_hash, SD_HASH_LEN);
		l->ndoubt++;
	}
}

/* One entry of write_one_by_one: its result.  A lost commit is settled
 * on a new connection, as write_entries does, and the entry written once
 * more when the database does not hold it (once: may_retry). */
static int
write_one(struct ledger *l, struct ledger_entry *e, int may_retry)
{
	int r = insert_rows(l, &e, 1);

	if (r == SD_ERR_CONFLICT) {
		r = settle_recorded(l, e);
		return r == SD_ERR_NOT_FOUND ? SD_ERR_LEDGER : r;
	}
	if (r == INSERT_LOST) {
		/* kept as in doubt, so that check_head takes it for seald's
		 * own when the reconnect finds it */
		doubt_of(l, &e, 1);
		disconnect(l);
		if (!may_retry || ensure_conn(l, 0) != 0)
			return SD_ERR_LEDGER;
		r = settle_recorded(l, e);
		return r == SD_ERR_NOT_FOUND ? write_one(l, e, 0) : r;
	}
	if (r != 0 && l->conn != NULL && PQstatus(l->conn) != CONNECTION_OK) {
		disconnect(l);
		r = SD_ERR_LEDGER;
	}
	return r;
}

/* After a (client, request_id) conflict: one entry at a time. */
static void
write_one_by_one(struct ledger *l, struct ledger_entry **b, size_t n)
{
	size_t i;

	set_all(b, n, SD_ERR_LEDGER);
	for (i = 0; i < n && l->conn != NULL; i++)
		b[i]->result = write_one(l, b[i], 1);
}

/*
 * Write b[0..n) and set each entry's result.  After a connection lost
 * mid-commit (and when may_retry), reconnect, settle the entries the
 * database holds and write the others once more.
 */
static void
write_entries(
    struct ledger *l, struct ledger_entry **b, size_t n, int may_retry)
{
	struct ledger_entry *again[SD_LEDGER_BATCH_MAX];
	struct timespec t0;
	size_t i, m = 0;
	int r;

	set_all(b, n, SD_ERR_LEDGER);
	if (ensure_conn(l, 1) != 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = insert_rows(l, b, n);
	metrics_ledger_commit(n, metrics_us_since(&t0), r == 0);
	if (r == 0) {
		set_all(b, n, 0);
	} else if (r == SD_ERR_CONFLICT) {
		write_one_by_one(l, b, n);
	} else if (r == INSERT_LOST) {
		doubt_of(l, b, n);
		disconnect(l);
		if (!may_retry || ensure_conn(l, 0) != 0)
			return;
		for (i = 0; i < n; i++) {
			b[i]->result = settle_recorded(l, b[i]);
			if (b[i]->result == SD_ERR_NOT_FOUND)
				again[m++] = b[i];
		}
		log_info("ledger: %zu of %zu in-doubt entries were committed",
		    n - m, n);
		if (m > 0)
			write_entries(l, again, m, 0);
	} else {
		disconnect(l); /* start again from what the database holds */
	}
}

static int
exec_ok(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	return ok;
}

/* The writer's view of the chain, kept across a transaction that may
 * roll back. */
struct head_state {
	int64_t seq;
	uint8_t hash[SD_HASH_LEN], tree_head[SD_HASH_LEN];
	struct merkle_frontier tree;
};

static void
head_save(const struct ledger *l, struct head_state *h)
{
	h->seq = l->head_seq;
	memcpy(h->hash, l->head_hash, SD_HASH_LEN);
	memcpy(h->tree_head, l->tree_head, SD_HASH_LEN);
	h->tree = l->tree;
}

static void
head_restore(struct ledger *l, const struct head_state *h)
{
	l->head_seq = h->seq;
	memcpy(l->head_hash, h->hash, SD_HASH_LEN);
	memcpy(l->tree_head, h->tree_head, SD_HASH_LEN);
	l->tree = h->tree;
}

/* COMMIT of a key entry's transaction: 0 committed, SD_ERR_LEDGER not.
 * When the answer is lost, the database says after a reconnect whether
 * the entry is there (the reconnect takes it into the chain if so). */
static int
commit_applied(
    struct ledger *l, struct ledger_entry *e, const struct head_state *before)
{
	int r;

	if (exec_ok(l->conn, "COMMIT"))
		return 0;
	if (PQstatus(l->conn) == CONNECTION_OK) {
		head_restore(l, before);
		return SD_ERR_LEDGER;
	}
	head_restore(l, before);
	doubt_of(l, &e, 1);
	disconnect(l);
	if (ensure_conn(l, 0) != 0)
		return LEDGER_IN_DOUBT; /* the next connection settles it */
	r = committed_as_is(l, e);
	return r == 1 ? 0 : r == 0 ? SD_ERR_LEDGER : LEDGER_IN_DOUBT;
}

/*
 * A key entry with its change: BEGIN, apply, INSERT, COMMIT, so that the
 * change and its record commit together or not at all.
 */
static int
write_applied(struct ledger *l, struct ledger_entry *e)
{
	struct head_state before;
	int r;

	if (ensure_conn(l, 1) != 0)
		return SD_ERR_LEDGER;
	head_save(l, &before);
	if (!exec_ok(l->conn, "BEGIN")) {
		disconnect(l);
		return SD_ERR_LEDGER;
	}
	if ((r = e->apply(l->conn, e->apply_arg)) == 0 &&
	    (r = insert_rows(l, &e, 1)) == 0)
		return commit_applied(l, e, &before);
	head_restore(l, &before);
	if (PQstatus(l->conn) == CONNECTION_OK)
		(void)exec_ok(l->conn, "ROLLBACK");
	else
		disconnect(l);
	return r == INSERT_LOST ? SD_ERR_LEDGER : r;
}

/* Write b[0..n): runs of plain entries in one batch each, entries with a
 * change (apply) alone in their own transaction, in queue order. */
static void
write_all(struct ledger *l, struct ledger_entry **b, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		if (b[i]->apply != NULL) {
			b[i]->result = write_applied(l, b[i]);
			i++;
			continue;
		}
		for (j = i; j < n && b[j]->apply == NULL; j++)
			;
		write_entries(l, b + i, j - i, 1);
		i = j;
	}
}

/* Idle: check the connection, or try to bring it back. */
static void
heartbeat(struct ledger *l)
{
	PGresult *res;

	if (l->conn == NULL) {
		(void)ensure_conn(l, 1);
		return;
	}
	res = PQexec(l->conn, "SELECT 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warn("ledger connection lost");
		disconnect(l);
		(void)ensure_conn(l, 0);
	}
	PQclear(res);
}

/* Sign the chain head with the tree's root.  Writer thread (or, before
 * and after it, the opener and closer). */
static int
checkpoint(struct ledger *l, int closing)
{
	uint8_t root[SD_HASH_LEN];

	if ((int64_t)l->tree.size != l->head_seq) {
		log_error("ledger: the Merkle tree (%llu) is not at the head "
			  "(%lld): no checkpoint",
		    (unsigned long long)l->tree.size, (long long)l->head_seq);
		return SD_ERR_INTERNAL;
	}
	merkle_root(&l->tree, root);
	return ledger_cp_write(l->conn, l->instance, l->head_seq, l->head_hash,
	    root, closing, &l->cp);
}

/* Sign the chain head when `every` entries are unsigned, or (idle) when
 * unsigned entries waited `seconds`.  Writer thread only. */
static void
maybe_checkpoint(struct ledger *l, int idle)
{
	if (!l->have_cp || l->conn == NULL || l->head_seq <= l->cp_seq)
		return;
	if (l->head_seq - l->cp_seq < (int64_t)l->cp.every &&
	    (!idle || sd_ms_since(&l->cp_time) < (long)l->cp.seconds * 1000L))
		return;
	clock_gettime(CLOCK_MONOTONIC, &l->cp_time);
	if (checkpoint(l, 0) == 0)
		l->cp_seq = l->head_seq;
}

/*
 * Group commit's wait: when entries are on their way (their signatures
 * in the HSM now), take them into this commit too, waiting for them at
 * most batch_wait.  A commit costs the database about the same for one
 * entry as for several (parse of the constraints, one WAL flush), so
 * under load this trades a little latency for much less work per entry;
 * when nothing is being signed, a lone entry is committed at once.
 */
static size_t
gather(struct ledger *l, struct sd_qnode **out, size_t cap)
{
	long us = atomic_load(&l->batch_wait_us);
	int coming = atomic_load(&l->preparing);
	struct timespec until;

	if (us <= 0 || coming <= 0 || cap == 0)
		return 0;
	metrics_ledger_batch_wait();
	until = sd_deadline_us(us);
	return sd_queue_pop_until(&l->queue, out, cap, (size_t)coming, &until);
}

static void *
writer_main(void *arg)
{
	struct ledger *l = arg;
	struct sd_qnode *nodes[SD_LEDGER_BATCH_MAX];
	struct ledger_entry *b[SD_LEDGER_BATCH_MAX];
	size_t n, i;
	int stopped = 0;

	for (;;) {
		n = sd_queue_pop(&l->queue, nodes, SD_LEDGER_BATCH_MAX,
		    HEARTBEAT_SEC * 1000L, &stopped);
		if (stopped)
			break;
		if (n == 0) {
			heartbeat(l);
			maybe_checkpoint(l, 1);
			continue;
		}
		n += gather(l, nodes + n, SD_LEDGER_BATCH_MAX - n);
		for (i = 0; i < n; i++)
			b[i] = SD_CONTAINER_OF(
			    nodes[i], struct ledger_entry, qnode);
		write_all(l, b, n);
		metrics_ledger_waiting(-(long)n);
		for (i = 0; i < n; i++)
			b[i]->done(b[i], b[i]->result, b[i]->done_arg);
		maybe_checkpoint(l, 0);
	}
	return NULL;
}

/* The chain check at start (with checkpoints), or just the tree. */
static int
check_at_open(struct ledger *l, const struct ledger_checkpointer *cp,
    int allow_broken, char *errbuf, size_t errlen)
{
	if (cp == NULL) {
		if (ledger_merkle_load(
			l->conn, l->instance, l->head_seq, &l->tree) != 0) {
			snprintf(errbuf, errlen,
			    "cannot build the Merkle tree of the chain");
			return SD_ERR_LEDGER;
		}
		return 0;
	}
	l->have_cp = 1;
	l->cp = *cp;
	clock_gettime(CLOCK_MONOTONIC, &l->cp_time);
	if (ledger_cp_check(l->conn, l->instance, cp, &l->cp_seq, &l->tree,
		errbuf, errlen) == 0)
		return 0;
	if (!allow_broken)
		return SD_ERR_LEDGER;
	/* The operator asked to go on: say so, keep the problem for the
	 * override entry, and continue from the stored head. */
	log_error("ledger check failed: %s", errbuf);
	log_warn("starting anyway, as --override-ledger-check asks; the "
		 "override is recorded in the ledger");
	snprintf(l->problem, sizeof(l->problem), "%s", errbuf);
	if (ledger_merkle_load(l->conn, l->instance, l->head_seq, &l->tree) !=
	    0) {
		snprintf(errbuf, errlen,
		    "cannot continue past it: the chain has gaps (restore "
		    "the database from a backup)");
		return SD_ERR_LEDGER;
	}
	return 0;
}

struct ledger *
ledger_open(const char *conninfo, const char *instance,
    const struct ledger_checkpointer *cp, int allow_broken, char *errbuf,
    size_t errlen)
{
	struct ledger *l;

	if (strlen(conninfo) >= SD_CONNINFO_MAX ||
	    strlen(instance) >= SD_NAME_MAX) {
		snprintf(errbuf, errlen, "conninfo or instance too long");
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	memcpy(l->conninfo, conninfo, strlen(conninfo) + 1);
	memcpy(l->instance, instance, strlen(instance) + 1);
	sd_queue_init(&l->queue, SD_LEDGER_QUEUE_MAX);
	if (connect_writer(l, errbuf, errlen) != 0)
		goto fail;
	if (check_at_open(l, cp, allow_broken, errbuf, errlen) != 0)
		goto fail_conn;
	memcpy(l->tree_head, l->head_hash, SD_HASH_LEN);
	l->have_tree = 1;
	/* Signed before anything is appended: entries that follow a closing
	 * checkpoint with no opening one after it are not seald's. */
	if (l->have_cp && l->head_seq > 0) {
		if (checkpoint(l, 0) != 0) {
			snprintf(errbuf, errlen,
			    "cannot sign the opening checkpoint with the "
			    "audit key");
			goto fail_conn;
		}
		l->cp_seq = l->head_seq;
	}
	if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
		snprintf(errbuf, errlen, "cannot start the ledger writer");
		goto fail_conn;
	}
	log_info("ledger ready: instance %s, chain head at seq %lld",
	    l->instance, (long long)l->head_seq);
	return l;
fail_conn:
	PQfinish(l->conn);
fail:
	sd_queue_destroy(&l->queue);
	secret_wipe(l->conninfo, sizeof(l->conninfo));
	free(l);
	return NULL;
}

const char *
ledger_open_problem(const struct ledger *l)
{
	return l->problem[0] != '\0' ? l->problem : NULL;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	sd_queue_stop(&l->queue); /* the writer commits what is queued */
	pthread_join(l->thread, NULL);
	/* a clean stop leaves the whole chain signed */
	if (l->have_cp && l->conn != NULL && l->head_seq > 0 &&
	    checkpoint(l, 1) == 0)
		log_info(
		    "closing checkpoint at seq %lld", (long long)l->head_seq);
	PQfinish(l->conn);
	sd_queue_destroy(&l->queue);
	secret_wipe(l->conninfo, sizeof(l->conninfo));
	free(l);
}

void
ledger_set_batch_wait(struct ledger *l, long us)
{
	atomic_store(&l->batch_wait_us, us);
}

void
ledger_preparing(struct ledger *l, int delta)
{
	atomic_fetch_add(&l->preparing, delta);
}

int
ledger_submit(struct ledger *l, struct ledger_entry *e,
    void (*done)(struct ledger_entry *, int, void *), void *arg)
{
	int r;

	e->done = done;
	e->done_arg = arg;
	e->replayed = 0;
	if ((r = sd_queue_push(&l->queue, &e->qnode)) == 0)
		metrics_ledger_waiting(1);
	return r;
}

int
ledger_ready(struct ledger *l)
{
	return atomic_load(&l->connected);
}

struct ledger_reader *
ledger_reader_new(const char *conninfo)
{
	struct ledger_reader *rd;

	if (strlen(conninfo) >= SD_CONNINFO_MAX ||
	    (rd = calloc(1, sizeof(*rd))) == NULL)
		return NULL;
	memcpy(rd->conninfo, conninfo, strlen(conninfo) + 1);
	return rd;
}

void
ledger_reader_free(struct ledger_reader *rd)
{
	if (rd == NULL)
		return;
	PQfinish(rd->conn);
	secret_wipe(rd->conninfo, sizeof(rd->conninfo));
	free(rd);
}

/* The reader's session: connected, keeping generic plans, the request
 * lookup prepared.  0 or SD_ERR_LEDGER with a reason in err. */
static int
reader_connect(struct ledger_reader *rd, char *err, size_t errlen)
{
	if ((rd->conn = ledger_pq_connect(rd->conninfo, err, errlen)) == NULL)
		return SD_ERR_LEDGER;
	ledger_pq_generic_plans(rd->conn);
	return ledger_prepare_find(rd->conn, err, errlen);
}

int
ledger_reader_run(
    struct ledger_reader *rd, int (*fn)(PGconn *c, void *arg), void *arg)
{
	char err[256];
	int r = SD_ERR_LEDGER, tries;

	for (tries = 0; tries < 2; tries++) {
		if (rd->conn == NULL &&
		    reader_connect(rd, err, sizeof(err)) != 0) {
			log_warn("ledger lookup: %s", err);
			PQfinish(rd->conn);
			rd->conn = NULL;
			return SD_ERR_LEDGER;
		}
		r = fn(rd->conn, arg);
		if (r != SD_ERR_LEDGER || PQstatus(rd->conn) == CONNECTION_OK)
			break;
		PQfinish(rd->conn);
		rd->conn = NULL;
	}
	return r;
}
