/*
 * ledger_read: entries for clients and auditors, by position.  One entry
 * comes with its inclusion proof to the newest checkpoint that covers it:
 * the audit path is assembled from the stored Merkle subtrees and checked
 * against the checkpoint's signed root before it is handed out, so that a
 * changed subtree row gives an error here, never a proof that fails later
 * at the client's.  Pages of entries are in seq order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "log.h"
#include "merkle.h"

/* The entries of instance after seq `after`, at most n, into out. */
static int
read_rows(PGconn *c, const struct timespec *until, const char *instance,
    int64_t after, size_t n, struct ledger_row *out, size_t *got)
{
	const char *params[4];
	char a[24], lim[24];
	PGresult *res;
	int i, r = 0;

	*got = 0;
	snprintf(a, sizeof(a), "%lld", (long long)after);
	snprintf(lim, sizeof(lim), "%zu", n);
	params[0] = instance;
	params[1] = a;
	params[2] = lim;
	params[3] = "9223372036854775807";
	res = ledger_pq_read_params(c, ledger_page_sql, 4, params, until);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return SD_ERR_LEDGER;
	}
	for (i = 0; i < PQntuples(res) && (size_t)i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].e.instance, sizeof(out[i].e.instance), "%s",
		    instance);
		if (ledger_row_entry(res, i, &out[i].e, out[i].prev_hash,
			out[i].e.entry_hash) != 0) {
			log_error("ledger: entry %lld of %s is malformed",
			    (long long)ledger_pq_i64(res, i, 0), instance);
			r = SD_ERR_LEDGER;
			break;
		}
		(*got)++;
	}
	PQclear(res);
	return r;
}

/* The newest checkpoint with a root that covers seq; SD_ERR_NOT_FOUND
 * when none does yet. */
static int
covering_cp(PGconn *c, const struct timespec *until, const char *instance,
    int64_t seq, struct ledger_cp *cp)
{
	const char *params[2];
	char s[24], sql[256];
	PGresult *res;
	int r;

	snprintf(s, sizeof(s), "%lld", (long long)seq);
	params[0] = instance;
	params[1] = s;
	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM ledger_checkpoints WHERE instance = $1 AND seq >= "
	    "$2 AND root IS NOT NULL ORDER BY seq DESC, signed_at_us DESC "
	    "LIMIT 1",
	    ledger_cp_columns);
	res = ledger_pq_read_params(c, sql, 2, params, until);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		r = SD_ERR_LEDGER;
	else if (PQntuples(res) == 0)
		r = SD_ERR_NOT_FOUND;
	else
		r = ledger_cp_parse(res, 0, cp) == 0 ? 0 : SD_ERR_LEDGER;
	PQclear(res);
	return r;
}

/* The audit path of out->row.e (leaf seq - 1) to out->cp's root. */
static int
build_proof(PGconn *c, const struct timespec *until, struct ledger_proof *out)
{
	struct merkle_node *nodes;
	uint8_t root[SD_HASH_LEN];
	uint64_t leaf = (uint64_t)out->row.e.seq - 1;
	uint64_t size = (uint64_t)out->cp.seq;
	size_t n;
	int np, r = SD_ERR_LEDGER;

	if ((nodes = calloc(MERKLE_NODES_MAX, sizeof(*nodes))) == NULL)
		return SD_ERR_LEDGER;
	n = merkle_proof_nodes(leaf, size, nodes, MERKLE_NODES_MAX);
	if (size > 1 && n == 0)
		goto out;
	if (n > 0 &&
	    ledger_merkle_fetch(c, until, out->row.e.instance, nodes, n) != 0)
		goto out;
	if ((np = merkle_proof_path(leaf, size, nodes, n, out->path)) < 0)
		goto out;
	out->npath = (size_t)np;
	if (merkle_proof_root(leaf, size, out->row.e.entry_hash,
		(const uint8_t(*)[SD_HASH_LEN])out->path, out->npath,
		root) != 0 ||
	    memcmp(root, out->cp.root, SD_HASH_LEN) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		log_error("ledger: no valid inclusion proof of %s seq %lld to "
			  "the checkpoint at seq %lld (the stored Merkle tree "
			  "does not match it: run sealctl ledger verify)",
		    out->row.e.instance, (long long)out->row.e.seq,
		    (long long)out->cp.seq);
	free(nodes);
	return r;
}

/* 1 when e is not client's to read (client NULL: anyone's). */
static int
not_theirs(const struct ledger_entry *e, const char *client)
{
	return client != NULL &&
	    ((e->kind != LEDGER_SIGNATURE && e->kind != LEDGER_TIMESTAMP) ||
		strcmp(e->client, client) != 0);
}

static int
read_entry(PGconn *c, const struct timespec *until, const char *instance,
    int64_t seq, const char *client, struct ledger_proof *out)
{
	size_t got;
	int r;

	if ((r = read_rows(c, until, instance, seq - 1, 1, &out->row, &got)) !=
	    0)
		return r;
	if (got == 0 || out->row.e.seq != seq ||
	    not_theirs(&out->row.e, client))
		return SD_ERR_NOT_FOUND;
	r = covering_cp(c, until, instance, seq, &out->cp);
	if (r == SD_ERR_NOT_FOUND)
		return 0; /* not yet under a checkpoint: no proof (yet) */
	if (r != 0)
		return r;
	out->has_proof = 1;
	return build_proof(c, until, out);
}

struct entry_args {
	const char *instance;
	int64_t seq;
	const char *client;
	struct ledger_proof *out;
};

static int
entry_cb(PGconn *c, const struct timespec *until, void *arg)
{
	struct entry_args *a = arg;

	memset(a->out, 0, sizeof(*a->out));
	return read_entry(c, until, a->instance, a->seq, a->client, a->out);
}

int
ledger_get_entry(struct ledger_reader *rd, const char *instance, int64_t seq,
    const char *client, struct ledger_proof *out)
{
	struct entry_args a = { instance, seq, client, out };

	return ledger_reader_run(rd, entry_cb, &a);
}

struct page_args {
	const char *instance;
	int64_t after;
	size_t limit;
	struct ledger_row *out;
	size_t *n;
};

static int
page_cb(PGconn *c, const struct timespec *until, void *arg)
{
	struct page_args *a = arg;

	return read_rows(
	    c, until, a->instance, a->after, a->limit, a->out, a->n);
}

int
ledger_get_page(struct ledger_reader *rd, const char *instance, int64_t after,
    size_t limit, struct ledger_row *out, size_t *n)
{
	struct page_args a = { instance, after, limit, out, n };

	return ledger_reader_run(rd, page_cb, &a);
}

/* One aggregate over an instance's entries of a kind. */
struct agg_args {
	const char *instance;
	enum ledger_kind kind;
	const char *sql;
	int64_t *out;
};

static int
agg_cb(PGconn *c, const struct timespec *until, void *arg)
{
	struct agg_args *a = arg;
	const char *params[2] = { a->instance, ledger_kind_name(a->kind) };
	PGresult *res;
	int r = SD_ERR_LEDGER;

	res = ledger_pq_read_params(c, a->sql, 2, params, until);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		*a->out = ledger_pq_i64(res, 0, 0);
		r = 0;
	}
	PQclear(res);
	return r;
}

struct last_args {
	const char *instance;
	size_t n;
	void (*fn)(const char *, const char *, void *);
	void *arg;
};

static int
last_cb(PGconn *c, const struct timespec *until, void *arg)
{
	struct last_args *a = arg;
	const char *params[3];
	char lim[24];
	PGresult *res;
	int row, r = SD_ERR_LEDGER;

	snprintf(lim, sizeof(lim), "%zu", a->n);
	params[0] = a->instance;
	params[1] = ledger_kind_name(LEDGER_SIGNATURE);
	params[2] = lim;
	res = ledger_pq_read_params(c,
	    "SELECT client, request_id FROM ledger_entries "
	    "WHERE instance = $1 AND kind = $2 ORDER BY seq DESC LIMIT $3",
	    3, params, until);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQnfields(res) == 2) {
		for (row = 0; row < PQntuples(res); row++)
			if (!PQgetisnull(res, row, 1))
				a->fn(PQgetvalue(res, row, 0),
				    PQgetvalue(res, row, 1), a->arg);
		r = 0;
	}
	PQclear(res);
	return r;
}

int
ledger_last_requests(struct ledger_reader *rd, const char *instance, size_t n,
    void (*fn)(const char *, const char *, void *), void *arg)
{
	struct last_args a = { instance, n, fn, arg };

	return ledger_reader_run(rd, last_cb, &a);
}

int
ledger_last_stamp(struct ledger_reader *rd, const char *instance, int64_t *us)
{
	/* (kind is $2: timestamp entries, all of which have a serial) */
	struct agg_args a = { instance, LEDGER_TIMESTAMP,
		"SELECT coalesce(max(signed_at_us), 0) FROM ledger_entries "
		"WHERE instance = $1 AND (kind = $2 OR tsa_serial IS NOT NULL)",
		us };

	*us = 0;
	return ledger_reader_run(rd, agg_cb, &a);
}

int
ledger_count(struct ledger_reader *rd, const char *instance,
    enum ledger_kind kind, int64_t *n)
{
	struct agg_args a = { instance, kind,
		"SELECT count(*) FROM ledger_entries "
		"WHERE instance = $1 AND kind = $2",
		n };

	*n = 0;
	return ledger_reader_run(rd, agg_cb, &a);
}
