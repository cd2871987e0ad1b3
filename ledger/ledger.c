/*
 * ledger: the group-commit writer and the request lookups.
 *
 * The writer thread takes every entry queued while the previous commit
 * was in flight (up to SD_LEDGER_BATCH_MAX), chains them (seq, prev_hash,
 * entry_hash) and writes them with one multi-row INSERT, which commits on
 * return (autocommit, synchronous_commit=on).  Callbacks run only then.
 * When the connection is lost during a commit, the writer reconnects, reads
 * the chain head again and asks the database, by (client, request_id),
 * which entries of the batch it holds: those are answered, the others are
 * written once more.  An in-doubt commit is thus resolved by what the
 * database holds, never guessed.  A batch that hits the (client,
 * request_id) constraint is written again one entry at a time so that
 * only the duplicates are affected.  While idle the writer checks its
 * connection every second, so readiness is true to within a second and
 * the ledger reconnects by itself.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "log.h"
#include "secret.h"

#define NCOLS 22                  /* parameters per row */
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

	int have_cp; /* checkpoints configured */
	struct ledger_checkpointer cp;
	int64_t cp_seq;          /* writer thread only: last checkpoint */
	struct timespec cp_time; /* when it was made (or last tried) */
	int down_logged;         /* writer thread only: "down" said once */
};

struct ledger_reader {
	char conninfo[SD_CONNINFO_MAX];
	PGconn *conn;
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

/* The recorded entry for (client, request_id) on connection c. */
static int
find_request(PGconn *c, const char *client, const char *request_id,
    struct ledger_entry *out)
{
	const char *params[2] = { client, request_id };
	PGresult *res;
	size_t hl;
	int r = 0;

	res = PQexecParams(c,
	    "SELECT instance, seq, request_hash, key_version, algorithm, "
	    "signature, signed_at_us, entry_hash, format "
	    "FROM ledger_entries WHERE client = $1 AND request_id = $2",
	    2, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warn("ledger lookup: %.*s",
		    line_len(PQresultErrorMessage(res)),
		    PQresultErrorMessage(res));
		r = SD_ERR_LEDGER;
	} else if (PQntuples(res) == 0) {
		r = SD_ERR_NOT_FOUND;
	} else if (ledger_pq_bytes(res, 0, 0, out->instance,
		       sizeof(out->instance), NULL, 1) != 0 ||
	    ledger_pq_bytes(
		res, 0, 2, out->request_hash, SD_HASH_LEN, &hl, 0) != 0 ||
	    hl != SD_HASH_LEN ||
	    ledger_pq_bytes(res, 0, 4, out->algorithm, sizeof(out->algorithm),
		NULL, 1) != 0 ||
	    ledger_pq_bytes(
		res, 0, 5, out->sig, sizeof(out->sig), &out->sig_len, 0) != 0 ||
	    ledger_pq_bytes(res, 0, 7, out->entry_hash, SD_HASH_LEN, &hl, 0) !=
		0 ||
	    hl != SD_HASH_LEN ||
	    ledger_pq_bytes(
		res, 0, 8, out->format, sizeof(out->format), NULL, 1) != 0) {
		log_error("ledger row for a request does not fit");
		r = SD_ERR_LEDGER;
	} else {
		out->seq = ledger_pq_i64(res, 0, 1);
		out->key_version = ledger_pq_i64(res, 0, 3);
		out->signed_at_us = ledger_pq_i64(res, 0, 6);
	}
	PQclear(res);
	return r;
}

/* Copy the recorded result into e when it is the same request. */
static int
replay_into(const struct ledger_entry *rec, struct ledger_entry *e)
{
	if (memcmp(rec->request_hash, e->request_hash, SD_HASH_LEN) != 0)
		return SD_ERR_CONFLICT;
	memcpy(e->instance, rec->instance, sizeof(e->instance));
	e->seq = rec->seq;
	memcpy(e->entry_hash, rec->entry_hash, SD_HASH_LEN);
	memcpy(e->algorithm, rec->algorithm, sizeof(e->algorithm));
	memcpy(e->sig, rec->sig, rec->sig_len);
	e->sig_len = rec->sig_len;
	memcpy(e->format, rec->format, sizeof(e->format));
	e->key_version = rec->key_version;
	e->signed_at_us = rec->signed_at_us;
	e->replayed = 1;
	return 0;
}

static void
disconnect(struct ledger *l)
{
	PQfinish(l->conn);
	l->conn = NULL;
	atomic_store(&l->connected, 0);
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
	res = PQexecParams(l->conn,
	    "SELECT pg_try_advisory_lock("
	    "hashtextextended('seald-instance:' || $1, 0))",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		snprintf(errbuf, errlen,
		    "instance \"%s\" is already running "
		    "against this database",
		    l->instance);
		goto out;
	}
	PQclear(res);
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
	r = 0;
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
	if (setup_conn(l, errbuf, errlen) != 0) {
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
	int i, sig = e->kind == LEDGER_SIGNATURE;

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
	fmt[7] = fmt[12] = fmt[14] = fmt[COL_PREV] = fmt[18] = fmt[20] = 1;
}

/* Append "($1,...)" for the row whose first parameter is $(p+1). */
static int
row_sql(char *sql, size_t cap, size_t *off, int p, int first)
{
	int c, k;

	for (c = 0; c < NCOLS; c++) {
		k = snprintf(sql + *off, cap - *off, "%s$%d",
		    c == 0 ? (first ? "(" : ",(") : ",", p + c + 1);
		if (k < 0 || (size_t)k >= cap - *off)
			return SD_ERR_INTERNAL;
		*off += (size_t)k;
		if (c != 2)
			continue;
		/* signed_at, from signed_at_us exactly */
		k = snprintf(sql + *off, cap - *off,
		    ",timestamptz 'epoch' + $%d::bigint * "
		    "interval '1 microsecond'",
		    p + c + 1);
		if (k < 0 || (size_t)k >= cap - *off)
			return SD_ERR_INTERNAL;
		*off += (size_t)k;
	}
	if (cap - *off < 2)
		return SD_ERR_INTERNAL;
	sql[(*off)++] = ')';
	sql[*off] = '\0';
	return 0;
}

/*
 * INSERT entries b[0..n) as one statement, chained from the current head.
 * Returns 0 (head advanced), SD_ERR_CONFLICT when the (client, request_id)
 * constraint fired, or SD_ERR_LEDGER.
 */
static int
insert_rows(struct ledger *l, struct ledger_entry **b, size_t n)
{
	static const char cols[] =
	    "INSERT INTO ledger_entries (instance, seq, "
	    "signed_at_us, signed_at, client, client_uid, client_pid, "
	    "request_id, request_hash, key_name, key_version, algorithm, "
	    "digest_alg, digest, format, signature, evidence_type, "
	    "evidence_ref, prev_hash, entry_hash, kind, policy_hash, "
	    "detail) VALUES ";
	const char *v[SD_LEDGER_BATCH_MAX * NCOLS];
	int len[SD_LEDGER_BATCH_MAX * NCOLS], fmt[SD_LEDGER_BATCH_MAX * NCOLS];
	struct rowtext t[SD_LEDGER_BATCH_MAX];
	uint8_t prev[SD_HASH_LEN];
	char *sql;
	size_t i, off, cap;
	PGresult *res;
	const char *state, *cname;
	int r = 0;

	cap = sizeof(cols) + n * (NCOLS * 8 + 80);
	if ((sql = malloc(cap)) == NULL)
		return SD_ERR_LEDGER;
	memcpy(sql, cols, sizeof(cols));
	off = sizeof(cols) - 1;
	memcpy(prev, l->head_hash, SD_HASH_LEN);
	for (i = 0; i < n; i++) {
		struct ledger_entry *e = b[i];

		memcpy(e->instance, l->instance, sizeof(e->instance));
		e->seq = l->head_seq + 1 + (int64_t)i;
		ledger_entry_hash(e, prev, e->entry_hash);
		row_params(l, e, &t[i], &v[i * NCOLS], &len[i * NCOLS],
		    &fmt[i * NCOLS]);
		/* prev_hash points into the previous entry (or the head). */
		v[i * NCOLS + COL_PREV] = i == 0
		    ? (const char *)l->head_hash
		    : (const char *)b[i - 1]->entry_hash;
		memcpy(prev, e->entry_hash, SD_HASH_LEN);
		if (row_sql(sql, cap, &off, (int)(i * NCOLS), i == 0) != 0) {
			free(sql);
			return SD_ERR_INTERNAL;
		}
	}
	res =
	    PQexecParams(l->conn, sql, (int)(n * NCOLS), NULL, v, len, fmt, 0);
	free(sql);
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		l->head_seq = b[n - 1]->seq;
		memcpy(l->head_hash, b[n - 1]->entry_hash, SD_HASH_LEN);
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
	struct ledger_entry rec;
	int r;

	if ((r = committed_as_is(l, e)) != 0)
		return r > 0 ? 0 : SD_ERR_LEDGER;
	if (e->kind != LEDGER_SIGNATURE)
		return SD_ERR_NOT_FOUND;
	memset(&rec, 0, sizeof(rec));
	r = find_request(l->conn, e->client, e->request_id, &rec);
	if (r != 0)
		return r; /* SD_ERR_NOT_FOUND or SD_ERR_LEDGER */
	return replay_into(&rec, e);
}

static void
set_all(struct ledger_entry **b, size_t n, int r)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i]->result = r;
}

/* After a (client, request_id) conflict: one entry at a time. */
static void
write_one_by_one(struct ledger *l, struct ledger_entry **b, size_t n)
{
	size_t i;
	int r;

	set_all(b, n, SD_ERR_LEDGER);
	for (i = 0; i < n && l->conn != NULL; i++) {
		r = insert_rows(l, &b[i], 1);
		if (r == SD_ERR_CONFLICT) {
			r = settle_recorded(l, b[i]);
			if (r == SD_ERR_NOT_FOUND)
				r = SD_ERR_LEDGER;
		}
		if (r == INSERT_LOST ||
		    (r != 0 && l->conn != NULL &&
			PQstatus(l->conn) != CONNECTION_OK)) {
			disconnect(l);
			r = SD_ERR_LEDGER;
		}
		b[i]->result = r;
	}
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
	size_t i, m = 0;
	int r;

	set_all(b, n, SD_ERR_LEDGER);
	if (ensure_conn(l, 1) != 0)
		return;
	r = insert_rows(l, b, n);
	if (r == 0) {
		set_all(b, n, 0);
	} else if (r == SD_ERR_CONFLICT) {
		write_one_by_one(l, b, n);
	} else if (r == INSERT_LOST) {
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
	if (ledger_cp_write(
		l->conn, l->instance, l->head_seq, l->head_hash, &l->cp) == 0)
		l->cp_seq = l->head_seq;
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
		for (i = 0; i < n; i++)
			b[i] = SD_CONTAINER_OF(
			    nodes[i], struct ledger_entry, qnode);
		write_entries(l, b, n, 1);
		for (i = 0; i < n; i++)
			b[i]->done(b[i], b[i]->result, b[i]->done_arg);
		maybe_checkpoint(l, 0);
	}
	return NULL;
}

struct ledger *
ledger_open(const char *conninfo, const char *instance,
    const struct ledger_checkpointer *cp, char *errbuf, size_t errlen)
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
	if (cp != NULL) {
		l->have_cp = 1;
		l->cp = *cp;
		clock_gettime(CLOCK_MONOTONIC, &l->cp_time);
		if (ledger_cp_check(l->conn, l->instance, cp, &l->cp_seq,
			errbuf, errlen) != 0) {
			PQfinish(l->conn);
			goto fail;
		}
	}
	if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
		snprintf(errbuf, errlen, "cannot start the ledger writer");
		PQfinish(l->conn);
		goto fail;
	}
	log_info("ledger ready: instance %s, chain head at seq %lld",
	    l->instance, (long long)l->head_seq);
	return l;
fail:
	sd_queue_destroy(&l->queue);
	secret_wipe(l->conninfo, sizeof(l->conninfo));
	free(l);
	return NULL;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	sd_queue_stop(&l->queue); /* the writer commits what is queued */
	pthread_join(l->thread, NULL);
	/* a clean stop leaves the whole chain signed */
	if (l->have_cp && l->conn != NULL && l->head_seq > l->cp_seq &&
	    ledger_cp_write(
		l->conn, l->instance, l->head_seq, l->head_hash, &l->cp) == 0)
		log_info(
		    "final checkpoint at seq %lld", (long long)l->head_seq);
	PQfinish(l->conn);
	sd_queue_destroy(&l->queue);
	secret_wipe(l->conninfo, sizeof(l->conninfo));
	free(l);
}

int
ledger_submit(struct ledger *l, struct ledger_entry *e,
    void (*done)(struct ledger_entry *, int, void *), void *arg)
{
	e->done = done;
	e->done_arg = arg;
	e->replayed = 0;
	return sd_queue_push(&l->queue, &e->qnode);
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

int
ledger_find_request(struct ledger_reader *rd, struct ledger_entry *e)
{
	struct ledger_entry rec;
	char err[256];
	int r, tries;

	/* A read is safe to repeat: once more on a fresh connection when the
	 * old one died (the database restarted since the last request). */
	for (tries = 0; tries < 2; tries++) {
		if (rd->conn == NULL &&
		    (rd->conn = ledger_pq_connect(
			 rd->conninfo, err, sizeof(err))) == NULL) {
			log_warn("ledger lookup: %s", err);
			return SD_ERR_LEDGER;
		}
		memset(&rec, 0, sizeof(rec));
		r = find_request(rd->conn, e->client, e->request_id, &rec);
		if (r == 0)
			return replay_into(&rec, e);
		if (r != SD_ERR_LEDGER || PQstatus(rd->conn) == CONNECTION_OK)
			return r;
		PQfinish(rd->conn);
		rd->conn = NULL;
	}
	return SD_ERR_LEDGER;
}
