/*
 * ledger_merkle: the Merkle tree's rows in PostgreSQL.  The writer stores
 * each perfect subtree its entries complete (level >= 1) in ledger_merkle,
 * in the same statement as the entries; leaves are not stored, they are
 * SHA-256(0x00 || entry_hash) of the entries themselves.  A frontier or a
 * proof is read back as the handful of subtrees it needs.  A chain that
 * has no subtree rows yet (written before migration 0004) gets them once,
 * recomputed from its entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger_pq.h"
#include "log.h"
#include "merkle.h"

#define REBUILD_PAGE 5000 /* entries read per query while rebuilding */
#define REBUILD_BATCH 500 /* subtree rows per INSERT while rebuilding */

/* "{a,b,...}" of the levels (or idx, or seq = idx + 1 of leaves). */
static char *
int_array(const struct merkle_node *nodes, size_t n, int what)
{
	size_t cap = 3 + n * 22, off = 0, i;
	char *s;
	int k;

	if ((s = malloc(cap)) == NULL)
		return NULL;
	s[off++] = '{';
	for (i = 0; i < n; i++) {
		if (what == 0)
			k = snprintf(s + off, cap - off, "%s%d", i ? "," : "",
			    nodes[i].level);
		else
			k = snprintf(s + off, cap - off, "%s%llu", i ? "," : "",
			    (unsigned long long)nodes[i].idx +
				(what == 2 ? 1 : 0));
		off += (size_t)k;
	}
	s[off++] = '}';
	s[off] = '\0';
	return s;
}

int
ledger_merkle_fetch(PGconn *c, const struct timespec *until,
    const char *instance, struct merkle_node *nodes, size_t n)
{
	const char *v[4];
	char *lv, *ix, *sq;
	uint8_t h[SD_HASH_LEN];
	PGresult *res;
	size_t i, hl;
	int row, level, r = SD_ERR_LEDGER;
	uint64_t idx;

	lv = int_array(nodes, n, 0);
	ix = int_array(nodes, n, 1);
	sq = int_array(nodes, n, 2);
	if (lv == NULL || ix == NULL || sq == NULL)
		goto out;
	v[0] = instance;
	v[1] = lv;
	v[2] = ix;
	v[3] = sq;
	res = ledger_pq_read_params(c,
	    "SELECT m.level::int, m.idx, m.hash FROM ledger_merkle m "
	    "JOIN unnest($2::int[], $3::bigint[]) AS w(l, i) "
	    "ON m.level = w.l AND m.idx = w.i WHERE m.instance = $1 "
	    "UNION ALL SELECT 0, e.seq - 1, e.entry_hash FROM ledger_entries e "
	    "WHERE e.instance = $1 AND e.seq = ANY($4::bigint[])",
	    4, v, until);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		goto out;
	}
	for (i = 0; i < n; i++)
		nodes[i].level = -1 - nodes[i].level; /* not found yet */
	for (row = 0; row < PQntuples(res); row++) {
		level = (int)ledger_pq_i64(res, row, 0);
		idx = (uint64_t)ledger_pq_i64(res, row, 1);
		if (ledger_pq_bytes(res, row, 2, h, sizeof(h), &hl, 0) != 0 ||
		    hl != SD_HASH_LEN)
			continue; /* a malformed row is a missing one */
		if (level == 0)
			merkle_leaf(h, h);
		for (i = 0; i < n; i++) {
			if (nodes[i].level != -1 - level || nodes[i].idx != idx)
				continue;
			nodes[i].level = level;
			memcpy(nodes[i].hash, h, SD_HASH_LEN);
		}
	}
	PQclear(res);
	r = 0;
	for (i = 0; i < n; i++)
		if (nodes[i].level < 0) {
			nodes[i].level = -1 - nodes[i].level;
			r = SD_ERR_NOT_FOUND;
		}
out:
	free(lv);
	free(ix);
	free(sq);
	return r;
}

int
ledger_merkle_sql(char *sql, size_t cap, size_t *off, int p, int first)
{
	int k = snprintf(sql + *off, cap - *off, "%s($1,$%d,$%d,$%d)",
	    first ? "" : ",", p + 1, p + 2, p + 3);

	if (k < 0 || (size_t)k >= cap - *off)
		return SD_ERR_INTERNAL;
	*off += (size_t)k;
	return 0;
}

void
ledger_merkle_params(const struct merkle_node *m, struct ledger_node_text *t,
    const char **v, int *len, int *fmt)
{
	snprintf(t->level, sizeof(t->level), "%d", m->level);
	snprintf(t->idx, sizeof(t->idx), "%llu", (unsigned long long)m->idx);
	v[0] = t->level;
	v[1] = t->idx;
	v[2] = (const char *)m->hash;
	len[0] = len[1] = 0;
	len[2] = SD_HASH_LEN;
	fmt[0] = fmt[1] = 0;
	fmt[2] = 1;
}

/* INSERT nodes (ON CONFLICT DO NOTHING): a rebuild's batch. */
static int
insert_nodes(PGconn *c, const char *instance, const struct merkle_node *m,
    size_t n, long commit_ms)
{
	struct ledger_pq_stmt s = { NULL, NULL, 0, NULL, NULL, NULL, 0 };
	enum ledger_pq_commit how;
	static const char head[] =
	    "INSERT INTO ledger_merkle (instance, level, idx, hash) VALUES ";
	static const char tail[] = " ON CONFLICT DO NOTHING";
	const char *v[1 + REBUILD_BATCH * 3];
	int len[1 + REBUILD_BATCH * 3], fmt[1 + REBUILD_BATCH * 3];
	struct ledger_node_text t[REBUILD_BATCH];
	size_t cap = sizeof(head) + sizeof(tail) + n * 40, off, i;
	PGresult *res;
	char *sql;
	int r = 0;

	if ((sql = malloc(cap)) == NULL)
		return SD_ERR_LEDGER;
	memcpy(sql, head, sizeof(head));
	off = sizeof(head) - 1;
	v[0] = instance;
	len[0] = fmt[0] = 0;
	for (i = 0; i < n && r == 0; i++) {
		ledger_merkle_params(&m[i], &t[i], &v[1 + 3 * i],
		    &len[1 + 3 * i], &fmt[1 + 3 * i]);
		r = ledger_merkle_sql(sql, cap, &off, (int)(1 + 3 * i), i == 0);
	}
	if (r == 0 && cap - off > sizeof(tail)) {
		memcpy(sql + off, tail, sizeof(tail));
		s.sql = sql;
		s.n = (int)(1 + 3 * n);
		s.v = v;
		s.len = len;
		s.fmt = fmt;
		/* rows on the primary alone would be missing after a
		 * failover, and a tree partly there fails the check */
		res = ledger_pq_exec_bounded(c, &s, commit_ms, NULL, &how);
		r = how == LEDGER_PQ_CONFIRMED &&
			PQresultStatus(res) == PGRES_COMMAND_OK
		    ? 0
		    : SD_ERR_LEDGER;
		if (how != LEDGER_PQ_CONFIRMED)
			log_error("merkle rebuild: its commit was not "
				  "confirmed within %ld ms (is the "
				  "synchronous standby down?)",
			    commit_ms);
		else if (r != 0)
			log_error("merkle rebuild: %.200s",
			    PQresultErrorMessage(res));
		PQclear(res);
	}
	free(sql);
	return r != 0 ? SD_ERR_LEDGER : 0;
}

/*
 * Recompute the subtrees of entries 1..size from their entry hashes and
 * store the missing ones.  f gets the frontier of size leaves.
 */
static int
rebuild(PGconn *c, const char *instance, int64_t size, long commit_ms,
    struct merkle_frontier *f)
{
	struct merkle_node *batch, made[MERKLE_LEVELS];
	const char *v[3];
	char after[24], until[24];
	uint8_t h[SD_HASH_LEN];
	PGresult *res;
	size_t nb = 0, nmade, i, hl;
	int row, n, r = 0;

	log_info("ledger: computing the Merkle tree of %s (%lld entries)",
	    instance, (long long)size);
	if ((batch = calloc(REBUILD_BATCH + MERKLE_LEVELS, sizeof(*batch))) ==
	    NULL)
		return SD_ERR_LEDGER;
	memset(f, 0, sizeof(*f));
	while (r == 0 && (int64_t)f->size < size) {
		snprintf(after, sizeof(after), "%lld", (long long)f->size);
		snprintf(until, sizeof(until), "%lld", (long long)size);
		v[0] = instance;
		v[1] = after;
		v[2] = until;
		res = PQexecParams(c,
		    "SELECT seq, entry_hash FROM ledger_entries WHERE instance "
		    "= $1 AND seq > $2 AND seq <= $3 ORDER BY seq "
		    "LIMIT " SD_XSTR(REBUILD_PAGE),
		    3, NULL, v, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK ||
		    (n = PQntuples(res)) == 0) {
			PQclear(res);
			r = SD_ERR_LEDGER;
			break;
		}
		for (row = 0; row < n && r == 0; row++) {
			if (ledger_pq_i64(res, row, 0) !=
				(int64_t)f->size + 1 ||
			    ledger_pq_bytes(
				res, row, 1, h, sizeof(h), &hl, 0) != 0 ||
			    hl != SD_HASH_LEN ||
			    merkle_push(f, h, made, &nmade) != 0) {
				r = SD_ERR_LEDGER; /* a gap: the chain check
						      says where */
				break;
			}
			for (i = 0; i < nmade; i++)
				batch[nb++] = made[i];
			if (nb >= REBUILD_BATCH) {
				r = insert_nodes(
				    c, instance, batch, nb, commit_ms);
				nb = 0;
			}
		}
		PQclear(res);
	}
	if (r == 0 && nb > 0)
		r = insert_nodes(c, instance, batch, nb, commit_ms);
	free(batch);
	return r;
}

int
ledger_merkle_none(PGconn *c, const char *instance)
{
	const char *v[1] = { instance };
	PGresult *res;
	int none;

	res = PQexecParams(c,
	    "SELECT 1 FROM ledger_merkle WHERE instance = $1 LIMIT 1", 1, NULL,
	    v, NULL, NULL, 1);
	none = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0;
	PQclear(res);
	return none;
}

int
ledger_merkle_load(PGconn *c, const char *instance, int64_t size,
    long commit_ms, struct merkle_frontier *f)
{
	struct merkle_node nodes[MERKLE_LEVELS + 1];
	size_t n;
	int r;

	if (size < 0)
		return SD_ERR_LEDGER;
	n = merkle_frontier_nodes((uint64_t)size, nodes);
	if (n == 0) {
		memset(f, 0, sizeof(*f));
		return 0;
	}
	r = ledger_merkle_fetch(c, NULL, instance, nodes, n);
	if (r == SD_ERR_NOT_FOUND)
		return rebuild(c, instance, size, commit_ms, f);
	if (r == 0)
		merkle_frontier_from(f, (uint64_t)size, nodes, n);
	return r;
}
