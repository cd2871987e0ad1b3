/*
 * ledger_insert: a batch of entries as one INSERT (ledger_batch.c's
 * statement).  Each entry gets its seq and prev_hash from the head, its
 * entry_hash from its canonical bytes; the Merkle subtrees the batch
 * completes go into the same statement.  The head moves only when the
 * statement succeeded: committed, or, in a key entry's transaction,
 * waiting for its COMMIT (ledger_write.c puts the head back when that
 * fails).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger_pq.h"
#include "ledger_writer.h"
#include "log.h"

#define NCOLS 24    /* parameters per row */
#define COL_PREV 17 /* the prev_hash parameter */
#define UNIQUE_REQUEST "ledger_entries_client_request"

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
	if (sig || key) { /* who asked, with which key, for what */
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
	if (sig) { /* key entries: no request, no signature */
		v[6] = e->request_id;
		v[7] = (const char *)e->request_hash;
		v[14] = (const char *)e->sig;
	}
	if (e->kind == LEDGER_TIMESTAMP)
		v[6] = NULL; /* no request_id: tokens are not retried */
	if (sig && e->tsa_serial_len > 0) { /* tokens, cades-t seals */
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

int
ledger_insert_rows(struct ledger *l, struct ledger_entry **b, size_t n)
{
	struct batch_params *p;
	uint8_t prev[SD_HASH_LEN];
	size_t i, nm = 0, k, np;
	PGresult *res;
	enum ledger_pq_commit how;
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
	if (ledger_batch_exec(l->conn, p->v, p->len, p->fmt, n, NCOLS, nm,
		l->commit_ms, &l->unconfirmed, &res, &how) != 0) {
		free(p);
		return SD_ERR_INTERNAL;
	}
	if (how == LEDGER_PQ_LOST) {
		log_warn("ledger connection lost during commit (or no "
			 "answer even to its cancel)");
		r = INSERT_LOST;
	} else if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		l->head_seq = b[n - 1]->seq;
		memcpy(l->head_hash, b[n - 1]->entry_hash, SD_HASH_LEN);
		l->tree = p->tree;
		memcpy(l->tree_head, l->head_hash, SD_HASH_LEN);
		if (how == LEDGER_PQ_UNCONFIRMED)
			r = INSERT_UNCONFIRMED;
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
			    ledger_pq_line_len(PQresultErrorMessage(res)),
			    PQresultErrorMessage(res));
			r = SD_ERR_LEDGER;
		}
	}
	PQclear(res);
	free(p);
	return r;
}
