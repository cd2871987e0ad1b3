/*
 * ledger_pass: one walk over an instance's chain, a page at a time, that
 * checks all of it (docs/ledger-format.md): seq from 1 without gaps, each
 * prev_hash the previous entry's hash, each entry_hash recomputed from
 * the columns, signed_at equal to the hashed signed_at_us; each
 * checkpoint naming an entry of the chain with its hash, the Merkle root
 * of entries 1..seq and (with the audit key) its signature; each stored
 * Merkle subtree row equal to the subtree the entries make, and none
 * stored past the head; no entry after a clean stop that seald did not
 * open again.  The auditor's `sealctl ledger verify`, seald's check at
 * start and its background verifier are this one walk; only the pace
 * differs.  The first problem ends the pass with its position.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "merkle.h"

#define CP_AT_OK 8 /* after ledger_cp_columns: signed_at is signed_at_us */

/* ledger_page_sql's columns read here besides the entry's */
enum { C_SEQ = 0, C_AT_OK = 23 };

void
ledger_pass_init(struct ledger_pass *p, const char *instance, EVP_PKEY *audit)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->instance, sizeof(p->instance), "%s", instance);
	p->audit = audit;
	p->next = 1;
	p->v.ok = 1;
	snprintf(p->v.instance, sizeof(p->v.instance), "%s", instance);
}

void
ledger_pass_from(struct ledger_pass *p, int64_t seq,
    const uint8_t hash[SD_HASH_LEN], const struct merkle_frontier *tree)
{
	p->next = seq + 1;
	memcpy(p->link, hash, SD_HASH_LEN);
	p->tree = *tree;
}

static int broken(struct ledger_pass *p, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The pass ends at seq with what fmt says.  Returns 0. */
static int
broken(struct ledger_pass *p, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	p->v.ok = 0;
	p->v.bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(p->v.problem, sizeof(p->v.problem), fmt, ap);
	va_end(ap);
	return 0;
}

/* ledger_page_sql's columns by name, for what the hash leaves out */
static const char *const colname[] = { "seq", "kind", "signed_at_us", "client",
	"client_uid", "client_pid", "request_id", "request_hash", "key_name",
	"key_version", "algorithm", "digest_alg", "digest", "format",
	"signature", "evidence_type", "evidence_ref", "policy_hash", "detail",
	"prev_hash", "entry_hash", "tsa_serial", "tsa_policy" };

/* The columns an entry of each kind leaves empty (NULL or ''): the ones
 * its hash does not cover, so that nothing an auditor reads is outside
 * it (signed_at aside: it must be signed_at_us). -1 ends a list. */
static const int empty_signature[] = { 18, 21, 22, -1 };
static const int empty_stamped[] = { 18, -1 }; /* a cades-t signature */
static const int empty_timestamp[] = { 6, 15, 16, 18, -1 };
static const int empty_key[] = { 6, 7, 14, 15, 16, 21, 22, -1 };
static const int empty_policy[] = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 21, 22, -1 };

/* The first column of row i that its kind leaves empty but holds
 * something, or -1. */
static int
unhashed(const PGresult *res, int i, const struct ledger_entry *e)
{
	enum ledger_kind k = e->kind;
	const int *c = k == LEDGER_SIGNATURE
	    ? (ledger_format_stamped(e->format) ? empty_stamped
						: empty_signature)
	    : k == LEDGER_TIMESTAMP ? empty_timestamp
	    : k == LEDGER_KEY       ? empty_key
				    : empty_policy;

	for (; *c >= 0; c++)
		if (!PQgetisnull(res, i, *c) && PQgetlength(res, i, *c) > 0)
			return *c;
	return -1;
}

/* Row i of an entry page: its place, link, hash and time. */
static int
check_row(struct ledger_pass *p, const PGresult *res, int i,
    uint8_t hash[SD_HASH_LEN])
{
	uint8_t prev[SD_HASH_LEN], want[SD_HASH_LEN];
	struct ledger_entry e;
	int c;

	memset(&e, 0, sizeof(e));
	snprintf(e.instance, sizeof(e.instance), "%s", p->instance);
	if (ledger_row_entry(res, i, &e, prev, hash) != 0)
		return broken(p, ledger_pq_i64(res, i, C_SEQ),
		    "entry is malformed (a column is not of its kind or "
		    "size)");
	if (e.seq != p->next)
		return broken(p, p->next,
		    "entries %lld..%lld are missing (deleted)",
		    (long long)p->next, (long long)e.seq - 1);
	if (memcmp(prev, p->link, SD_HASH_LEN) != 0)
		return broken(p, e.seq,
		    "prev_hash is not the hash of entry %lld (entries "
		    "reordered, inserted or removed)",
		    (long long)e.seq - 1);
	ledger_entry_hash(&e, prev, want);
	if (memcmp(want, hash, SD_HASH_LEN) != 0)
		return broken(p, e.seq,
		    "entry_hash does not match the entry (the entry was "
		    "changed)");
	if (!ledger_pq_true(res, i, C_AT_OK))
		return broken(p, e.seq,
		    "signed_at is not signed_at_us, which the hash covers (the "
		    "entry's time was changed)");
	if ((c = unhashed(res, i, &e)) >= 0)
		return broken(p, e.seq,
		    "%s holds what the entry hash does not cover (a %s entry "
		    "leaves it empty)",
		    colname[c], ledger_kind_name(e.kind));
	return 0;
}

/* The checkpoints of entries (after, upto], in order. */
static PGresult *
cps_between(PGconn *c, const char *instance, int64_t after, int64_t upto)
{
	const char *v[3];
	char a[24], u[24], sql[512];

	snprintf(a, sizeof(a), "%lld", (long long)after);
	snprintf(u, sizeof(u), "%lld", (long long)upto);
	v[0] = instance;
	v[1] = a;
	v[2] = u;
	snprintf(sql, sizeof(sql),
	    "SELECT %s, signed_at = timestamptz 'epoch' + signed_at_us * "
	    "interval '1 microsecond' FROM ledger_checkpoints WHERE instance "
	    "= $1 AND seq > $2 AND seq <= $3 ORDER BY seq, signed_at_us",
	    ledger_cp_columns);
	return PQexecParams(c, sql, 3, NULL, v, NULL, NULL, 1);
}

/*
 * Checkpoint row i of cps, with the tree at its seq (root).  A closing
 * checkpoint must be followed by an opening one of the same head before
 * any entry: p->closed_at holds it until then.
 */
static int
check_cp(PGconn *c, struct ledger_pass *p, const PGresult *cps, int i,
    int64_t head, const uint8_t *root)
{
	struct ledger_cp cp;
	int r;

	p->v.checkpoints++;
	p->v.last_checkpoint = ledger_pq_i64(cps, i, 0);
	if (p->closed_at > 0 && p->v.last_checkpoint > p->closed_at)
		return broken(p, p->closed_at + 1,
		    "entries %lld..%lld were added after seald stopped cleanly "
		    "at seq %lld; seald did not write them",
		    (long long)p->closed_at + 1,
		    (long long)p->v.last_checkpoint, (long long)p->closed_at);
	r = ledger_cp_row(
	    c, p->instance, cps, i, p->audit, head, root, &cp, &p->v);
	if (r != 0 || !p->v.ok)
		return r;
	if (!ledger_pq_true(cps, i, CP_AT_OK))
		return broken(p, cp.seq,
		    "the checkpoint at seq %lld: signed_at is not "
		    "signed_at_us, which its signature covers",
		    (long long)cp.seq);
	p->closed_at = cp.closing ? cp.seq : 0;
	return 0;
}

static int
by_level_idx(const void *x, const void *y)
{
	const struct merkle_node *a = x, *b = y;

	if (a->level != b->level)
		return a->level < b->level ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* "{a,b,...}" of n numbers. */
static void
int_list(char *out, size_t cap, const int64_t *v, size_t n)
{
	size_t off = 0, i;

	out[off++] = '{';
	for (i = 0; i < n && off + 24 < cap; i++)
		off += (size_t)snprintf(out + off, cap - off, "%s%lld",
		    i ? "," : "", (long long)v[i]);
	snprintf(out + off, cap - off, "}");
}

/* Whether row `row` of res is the subtree m, as computed. */
static int
row_is(const PGresult *res, int row, const struct merkle_node *m)
{
	uint8_t h[SD_HASH_LEN];
	size_t hl;

	return (int)ledger_pq_i64(res, row, 0) == m->level &&
	    (uint64_t)ledger_pq_i64(res, row, 1) == m->idx &&
	    ledger_pq_bytes(res, row, 2, h, sizeof(h), &hl, 0) == 0 &&
	    hl == SD_HASH_LEN && memcmp(h, m->hash, SD_HASH_LEN) == 0;
}

/* Whether row `row` of res comes before the subtree m. */
static int
row_before(const PGresult *res, int row, const struct merkle_node *m)
{
	int l = (int)ledger_pq_i64(res, row, 0);

	return l < m->level ||
	    (l == m->level && (uint64_t)ledger_pq_i64(res, row, 1) < m->idx);
}

/*
 * The stored subtree rows completed by entries (after, upto] must be the
 * ones computed, made[0..n).  They are read as one index range a level
 * (at level l, the subtrees idx with after < (idx + 1) * 2^l <= upto).
 */
static int
check_rows(PGconn *c, struct ledger_pass *p, int64_t after, int64_t upto,
    struct merkle_node *made, size_t n)
{
	int64_t lv[MERKLE_LEVELS], lo[MERKLE_LEVELS], hi[MERKLE_LEVELS];
	char sl[MERKLE_LEVELS * 4], slo[MERKLE_LEVELS * 24],
	    shi[MERKLE_LEVELS * 24];
	const char *v[4] = { p->instance, sl, slo, shi };
	int64_t at, worst = INT64_MAX;
	const struct merkle_node *bad = NULL;
	size_t nl = 0, i;
	PGresult *res;
	int l, row = 0;

	if (n == 0)
		return 0;
	for (l = 1; l < MERKLE_LEVELS && (upto >> l) > 0; l++)
		if ((upto >> l) - 1 >= (after >> l)) {
			lv[nl] = l;
			lo[nl] = after >> l;
			hi[nl++] = (upto >> l) - 1;
		}
	int_list(sl, sizeof(sl), lv, nl);
	int_list(slo, sizeof(slo), lo, nl);
	int_list(shi, sizeof(shi), hi, nl);
	res = PQexecParams(c,
	    /* one index range scan a level (LATERAL: a plain join is
	     * planned as a scan of every row of the instance) */
	    "SELECT m.level::int, m.idx, m.hash FROM unnest($2::int[], "
	    "$3::bigint[], $4::bigint[]) AS w(l, lo, hi) CROSS JOIN LATERAL "
	    "(SELECT level, idx, hash FROM ledger_merkle WHERE instance = $1 "
	    "AND level = w.l AND idx BETWEEN w.lo AND w.hi OFFSET 0) m "
	    "ORDER BY 1, 2",
	    4, NULL, v, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return SD_ERR_LEDGER;
	}
	qsort(made, n, sizeof(*made), by_level_idx);
	for (i = 0; i < n; i++) {
		while (row < PQntuples(res) && row_before(res, row, &made[i]))
			row++;
		if (row < PQntuples(res) && row_is(res, row, &made[i]))
			continue;
		/* the subtree's last entry completes it: the earliest wins */
		at = (int64_t)((made[i].idx + 1) << made[i].level);
		if (at < worst) {
			worst = at;
			bad = &made[i];
		}
	}
	PQclear(res);
	if (bad != NULL)
		return broken(p, worst,
		    "the Merkle subtree (level %d, index %llu) in "
		    "ledger_merkle "
		    "is missing or not the one its entries make (ending at "
		    "entry %lld)",
		    bad->level, (unsigned long long)bad->idx, (long long)worst);
	return 0;
}

/* Walk the page's rows: entries, with the checkpoints among them and the
 * subtrees they complete. */
static int
check_page(PGconn *c, struct ledger_pass *p, const PGresult *res,
    const PGresult *cps, struct merkle_node *made)
{
	int64_t first = p->next;
	uint8_t hash[SD_HASH_LEN], root[SD_HASH_LEN];
	size_t nmade = 0, k;
	int i, j = 0, n = PQntuples(res), r;

	for (i = 0; i < n && p->v.ok; i++) {
		if ((r = check_row(p, res, i, hash)) != 0 || !p->v.ok)
			return r;
		if (p->closed_at > 0)
			return broken(p, p->next,
			    "entries %lld..%lld were added after seald stopped "
			    "cleanly at seq %lld; seald did not write them",
			    (long long)p->next,
			    (long long)ledger_pq_i64(res, n - 1, C_SEQ),
			    (long long)p->closed_at);
		if (merkle_push(&p->tree, hash, made + nmade, &k) != 0)
			return broken(p, p->next, "the Merkle tree is full");
		nmade += k;
		memcpy(p->link, hash, SD_HASH_LEN);
		p->v.entries++;
		while (
		    j < PQntuples(cps) && ledger_pq_i64(cps, j, 0) == p->next) {
			merkle_root(&p->tree, root);
			if ((r = check_cp(c, p, cps, j++, INT64_MAX, root)) !=
				0 ||
			    !p->v.ok)
				return r;
		}
		p->next++;
	}
	return p->v.ok && p->check_rows
	    ? check_rows(c, p, first - 1, p->next - 1, made, nmade)
	    : 0;
}

/* No subtree row is stored for entries past the chain's end (a row
 * there would make seald's next commits fail). */
static int
check_rows_past(PGconn *c, struct ledger_pass *p)
{
	const char *v[1] = { p->instance };
	PGresult *res;
	int r = 0;

	/* a subtree (level l, idx) ends past the head when idx >= head >>
	 * l: one short index range scan a level */
	res = PQexecParams(c,
	    "WITH h AS (SELECT coalesce(max(seq), 0) AS seq FROM "
	    "ledger_entries WHERE instance = $1) SELECT m.level::int, m.idx, "
	    "h.seq FROM h, generate_series(1, 62) AS g(l) CROSS JOIN LATERAL "
	    "(SELECT level, idx FROM ledger_merkle WHERE instance = $1 AND "
	    "level = g.l AND idx >= h.seq >> g.l LIMIT 1) m LIMIT 1",
	    1, NULL, v, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		r = SD_ERR_LEDGER;
	else if (PQntuples(res) > 0)
		broken(p, ledger_pq_i64(res, 0, 2) + 1,
		    "ledger_merkle holds a subtree (level %lld, index %lld) of "
		    "entries past the head (%lld): seald did not write it",
		    (long long)ledger_pq_i64(res, 0, 0),
		    (long long)ledger_pq_i64(res, 0, 1),
		    (long long)ledger_pq_i64(res, 0, 2));
	PQclear(res);
	return r;
}

/* The end of the chain (entries 1..head): no checkpoint signs more. */
static int
check_cps_past(PGconn *c, struct ledger_pass *p)
{
	int64_t head = p->next - 1;
	PGresult *res;
	int r = 0;

	res = cps_between(c, p->instance, head, INT64_MAX);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		r = SD_ERR_LEDGER;
	else if (PQntuples(res) > 0)
		r = check_cp(c, p, res, 0, head, NULL);
	PQclear(res);
	return r;
}

int
ledger_pass_step(
    PGconn *c, struct ledger_pass *p, int64_t until, int max, int *done)
{
	const char *v[4];
	char after[24], upto[24], lim[16];
	struct merkle_node *made = NULL;
	PGresult *res, *cps = NULL;
	int n, r = SD_ERR_LEDGER;

	*done = 0;
	snprintf(after, sizeof(after), "%lld", (long long)(p->next - 1));
	snprintf(upto, sizeof(upto), "%lld", (long long)until);
	snprintf(lim, sizeof(lim), "%d", max);
	v[0] = p->instance;
	v[1] = after;
	v[2] = lim;
	v[3] = upto;
	res = PQexecParams(c, ledger_page_sql, 4, NULL, v, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto out;
	n = PQntuples(res);
	if (n > 0) {
		cps = cps_between(c, p->instance, p->next - 1,
		    ledger_pq_i64(res, n - 1, C_SEQ));
		made = calloc((size_t)n + MERKLE_LEVELS, sizeof(*made));
		if (PQresultStatus(cps) != PGRES_TUPLES_OK || made == NULL)
			goto out;
		if ((r = check_page(c, p, res, cps, made)) != 0)
			goto out;
	}
	r = 0;
	if (!p->v.ok) {
		*done = 1;
	} else if (until != INT64_MAX && p->next > until) {
		*done = 1; /* the part asked for */
		p->v.head_seq = until;
		r = p->check_rows ? check_rows_past(c, p) : 0;
	} else if (n < max) {
		*done = 1;
		p->v.head_seq = p->next - 1;
		if (until != INT64_MAX)
			broken(p, p->next,
			    "entries %lld..%lld are missing (deleted; seald "
			    "committed them)",
			    (long long)p->next, (long long)until);
		else if ((r = check_cps_past(c, p)) == 0 && p->v.ok &&
		    p->check_rows)
			r = check_rows_past(c, p);
	}
out:
	free(made);
	PQclear(cps);
	PQclear(res);
	return r;
}
