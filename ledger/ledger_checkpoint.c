/*
 * ledger_checkpoint: signed checkpoints of a chain head.  The digest is
 * fixed by docs/ledger-format.md; the signature comes from the HSM audit
 * key through the caller's sign() (the ledger never touches the HSM).  At
 * start the last checkpoint is checked against the stored chain, so that
 * seald does not continue a chain someone cut short or rewrote.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rsa.h>

#include "canon.h"
#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "log.h"
#include "merkle.h"

int
ledger_cp_last_at(PGconn *c, const char *instance, int64_t *at)
{
	const char *v[1] = { instance };
	PGresult *res;
	int r;

	res = PQexecParams(c,
	    "SELECT coalesce(max(signed_at_us), 0) FROM ledger_checkpoints "
	    "WHERE instance = $1",
	    1, NULL, v, NULL, NULL, 1);
	r = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
	    ? 0
	    : SD_ERR_LEDGER;
	*at = r == 0 ? ledger_pq_i64(res, 0, 0) : 0;
	PQclear(res);
	return r;
}

int
ledger_cp_write(PGconn *c, const char *instance, int64_t seq,
    const uint8_t hash[SD_HASH_LEN], const uint8_t root[SD_HASH_LEN],
    int closing, int64_t not_before_us, const struct ledger_checkpointer *cp,
    long deadline_ms, atomic_int *doubt, struct ledger_cp *made)
{
	struct ledger_pq_stmt st;
	enum ledger_pq_commit how;
	uint8_t dg[SD_HASH_LEN];
	struct ledger_cp k;
	char s[24], at[24];
	const char *v[9];
	int len[9] = { 0, 0, SD_HASH_LEN, 0, 0, 0, 0, SD_HASH_LEN, 0 };
	int fmt[9] = { 0, 0, 1, 0, 0, 0, 1, 1, 0 };
	struct timespec now;
	PGresult *res;
	int r;

	memset(&k, 0, sizeof(k));
	clock_gettime(CLOCK_REALTIME, &now);
	k.seq = seq;
	memcpy(k.entry_hash, hash, SD_HASH_LEN);
	k.has_root = 1;
	memcpy(k.root, root, SD_HASH_LEN);
	k.closing = closing;
	k.signed_at_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	/* checkpoints of a head are ordered by their time: a clock that
	 * stepped back must not put an opening one before a closing one */
	if (k.signed_at_us < not_before_us)
		k.signed_at_us = not_before_us;
	ledger_checkpoint_digest(&k, instance, dg);
	if ((r = cp->sign(cp->arg, dg, k.sig, sizeof(k.sig), &k.sig_len)) !=
	    0) {
		log_warn("checkpoint at seq %lld: the audit key did not sign",
		    (long long)seq);
		return r;
	}
	snprintf(s, sizeof(s), "%lld", (long long)seq);
	snprintf(at, sizeof(at), "%lld", (long long)k.signed_at_us);
	v[0] = instance;
	v[1] = s;
	v[2] = (const char *)hash;
	v[3] = at;
	v[4] = cp->key_label;
	v[5] = cp->algorithm;
	v[6] = (const char *)k.sig;
	len[6] = (int)k.sig_len;
	v[7] = (const char *)root;
	v[8] = closing ? "true" : "false";
	memset(&st, 0, sizeof(st));
	st.sql = "INSERT INTO ledger_checkpoints (instance, seq, entry_hash, "
		 "signed_at_us, signed_at, key_label, algorithm, signature, "
		 "root, closing) VALUES ($1, $2, $3, $4, timestamptz 'epoch' + "
		 "$4::bigint * interval '1 microsecond', $5, $6, $7, $8, $9)";
	st.n = 9;
	st.v = v;
	st.len = len;
	st.fmt = fmt;
	res = ledger_pq_exec_bounded(c, &st, deadline_ms, doubt, &how);
	/* one the standby did not confirm is stored, but not witnessed: it
	 * may be lost with the primary */
	r = how == LEDGER_PQ_LOST || PQresultStatus(res) != PGRES_COMMAND_OK
	    ? SD_ERR_LEDGER
	    : how == LEDGER_PQ_UNCONFIRMED ? LEDGER_CP_UNCONFIRMED
					   : 0;
	if (r == SD_ERR_LEDGER)
		log_warn("checkpoint at seq %lld not stored%s: %.200s",
		    (long long)seq,
		    how == LEDGER_PQ_CONFIRMED ? "" : " (or not confirmed)",
		    res != NULL ? PQresultErrorMessage(res) : "no answer");
	else
		log_debug("checkpoint at seq %lld%s", (long long)seq,
		    closing ? " (closing)" : "");
	PQclear(res);
	if (r != SD_ERR_LEDGER && made != NULL) {
		*made = k;
		snprintf(made->key_label, sizeof(made->key_label), "%s",
		    cp->key_label);
	}
	return r;
}

/* Run p to the chain's end; errbuf gets its problem.  0 or
 * SD_ERR_LEDGER. */
static int
run_pass(PGconn *c, struct ledger_pass *p, const struct ledger_checks *chk,
    char *errbuf, size_t errlen)
{
	int done = 0, r = 0;

	p->check_rows = 1;
	while (r == 0 && !done) {
		r = ledger_pass_step(c, p, INT64_MAX, 2000, &done);
		if (chk != NULL && chk->progress != NULL)
			chk->progress(chk->progress_arg, p->v.entries);
	}
	if (r != 0) {
		ledger_pq_error(c, "read entries", errbuf, errlen);
		return SD_ERR_LEDGER;
	}
	if (!p->v.ok) {
		snprintf(errbuf, errlen, "entry %lld: %s",
		    (long long)p->v.bad_seq, p->v.problem);
		return SD_ERR_LEDGER;
	}
	return 0;
}

/* The newest checkpoint, checked (its entry, the stored tree up to it
 * against its root, its signature): k, and the tree up to it. */
static int
last_cp(PGconn *c, const char *instance, EVP_PKEY *pub, long commit_ms,
    struct ledger_cp *k, struct merkle_frontier *tree, char *errbuf,
    size_t errlen)
{
	const char *params[1] = { instance };
	uint8_t root[SD_HASH_LEN];
	struct ledger_verdict v;
	char sql[200];
	PGresult *res;
	int r = SD_ERR_LEDGER;

	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM ledger_checkpoints WHERE instance = $1 "
	    "ORDER BY seq DESC, signed_at_us DESC LIMIT 1",
	    ledger_cp_columns);
	res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ledger_pq_error(c, "read checkpoints", errbuf, errlen);
		goto out;
	}
	memset(&v, 0, sizeof(v));
	v.ok = 1;
	r = 0;
	if (PQntuples(res) == 0)
		goto out;
	r = SD_ERR_LEDGER;
	/* the head is not known yet: a missing entry shows as such */
	if (ledger_cp_row(c, instance, res, 0, pub, INT64_MAX, NULL, k, &v) !=
	    0) {
		ledger_pq_error(c, "read entry", errbuf, errlen);
		goto out;
	}
	if (!v.ok) {
		snprintf(errbuf, errlen, "%s", v.problem);
		goto out;
	}
	if (ledger_merkle_load(c, instance, k->seq, commit_ms, tree) != 0) {
		snprintf(errbuf, errlen,
		    "cannot read the Merkle tree up to seq %lld",
		    (long long)k->seq);
		goto out;
	}
	merkle_root(tree, root);
	if (k->has_root && memcmp(root, k->root, SD_HASH_LEN) != 0) {
		snprintf(errbuf, errlen,
		    "the stored Merkle tree up to seq %lld does not have the "
		    "root its checkpoint signs (ledger_merkle was changed)",
		    (long long)k->seq);
		goto out;
	}
	r = 0;
out:
	PQclear(res);
	return r;
}

int
ledger_cp_check(PGconn *c, const char *instance,
    const struct ledger_checkpointer *cp, const struct ledger_checks *chk,
    int64_t *cp_seq, struct merkle_frontier *tree, char *errbuf, size_t errlen)
{
	int full = chk->full_at_start;
	EVP_PKEY *pub = cp != NULL ? cp->pub : NULL;
	struct ledger_pass p;
	struct ledger_cp k;

	*cp_seq = 0;
	memset(&k, 0, sizeof(k));
	memset(tree, 0, sizeof(*tree));
	ledger_pass_init(&p, instance, pub);
	if (!full) {
		/* from the newest checkpoint, which no writer can forge */
		if (last_cp(c, instance, pub,
			chk->commit_ms > 0 ? (long)chk->commit_ms
					   : SD_COMMIT_MS_DEFAULT,
			&k, tree, errbuf, errlen) != 0)
			return SD_ERR_LEDGER;
		if (k.seq > 0) {
			ledger_pass_from(&p, k.seq, k.entry_hash, tree);
			p.closed_at = k.closing ? k.seq : 0;
		}
	}
	if (run_pass(c, &p, chk, errbuf, errlen) != 0)
		return SD_ERR_LEDGER;
	*tree = p.tree;
	*cp_seq = full ? p.v.last_checkpoint : k.seq;
	return 0;
}

int
ledger_witness_check(PGconn *c, const char *instance, EVP_PKEY *pub,
    int64_t head, const struct ledger_witnessed *w, size_t n, int64_t *bad,
    char *errbuf, size_t errlen)
{
	struct ledger_cp k, best;
	char inst[SD_NAME_MAX], why[128];
	uint8_t hash[SD_HASH_LEN];
	const char *where = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (ledger_note_parse(w[i].text, w[i].len, &k, inst,
			sizeof(inst), why, sizeof(why)) != 0 ||
		    strcmp(inst, instance) != 0 ||
		    !ledger_note_signed(&k, inst, pub)) {
			log_warn("the signed head in %s is not one of instance "
				 "%s signed by the audit key: left aside",
			    w[i].where, instance);
			continue;
		}
		if (where == NULL || k.seq > best.seq) {
			best = k;
			where = w[i].where;
		}
	}
	if (where == NULL)
		return 0;
	*bad = 0;
	if (best.seq > head) {
		*bad = head + 1;
		snprintf(errbuf, errlen,
		    "entry %lld: the database ends at seq %lld, short of the "
		    "head witnessed in %s (seq %lld): entries %lld..%lld are "
		    "missing (restore them from a backup)",
		    (long long)head + 1, (long long)head, where,
		    (long long)best.seq, (long long)head + 1,
		    (long long)best.seq);
		return SD_ERR_LEDGER;
	}
	if (ledger_entry_hash_at(c, instance, best.seq, hash) != 0) {
		ledger_pq_error(c, "read entry", errbuf, errlen);
		return SD_ERR_LEDGER;
	}
	if (memcmp(hash, best.entry_hash, SD_HASH_LEN) != 0) {
		*bad = best.seq;
		snprintf(errbuf, errlen,
		    "entry %lld: not the one witnessed in %s (the chain was "
		    "rewritten)",
		    (long long)best.seq, where);
		return SD_ERR_LEDGER;
	}
	log_info(
	    "ledger: the chain reaches the head witnessed in %s (seq %lld)",
	    where, (long long)best.seq);
	return 0;
}
