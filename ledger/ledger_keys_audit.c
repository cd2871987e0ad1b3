/*
 * ledger_keys_audit: the keys table held against the key events of the
 * ledger.  Each version seald made has its 'generate' entry, for its very
 * public key; its state is the one its events lead to, replayed in the
 * order they were recorded: a first version is made active, a later one
 * (a rotation) pending; its certificate makes a pending version active
 * and the key's active one retired; retire, disable and destroy set what
 * they name.  A row the ledger never recorded, or a state no event led
 * to, is reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"

struct version {
	char name[SD_NAME_MAX];
	int64_t version;
	char state[16];
	uint8_t pub[SD_HASH_LEN]; /* SHA-256 of the recorded public key */
};

struct versions {
	struct version *v;
	size_t n, cap;
};

static struct version *
find(struct versions *vs, const char *name, int64_t version)
{
	size_t i;

	for (i = 0; i < vs->n; i++)
		if (vs->v[i].version == version &&
		    strcmp(vs->v[i].name, name) == 0)
			return &vs->v[i];
	return NULL;
}

static struct version *
add(struct versions *vs, const char *name, int64_t version)
{
	struct version *p;

	if (vs->n == vs->cap) {
		vs->cap = vs->cap ? 2 * vs->cap : 64;
		if ((p = realloc(vs->v, vs->cap * sizeof(*p))) == NULL)
			return NULL;
		vs->v = p;
	}
	p = &vs->v[vs->n++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->version = version;
	return p;
}

/* One event: what it does to the versions. */
static int
replay(struct versions *vs, const char *name, int64_t version,
    const char *event, const uint8_t *digest, size_t dlen)
{
	struct version *v = find(vs, name, version);
	size_t i;
	int first = 1;

	if (strcmp(event, "generate") == 0) {
		for (i = 0; i < vs->n; i++)
			if (strcmp(vs->v[i].name, name) == 0)
				first = 0;
		if (v == NULL && (v = add(vs, name, version)) == NULL)
			return -1;
		snprintf(v->state, sizeof(v->state), "%s",
		    first ? "active" : "pending");
		if (dlen == SD_HASH_LEN)
			memcpy(v->pub, digest, SD_HASH_LEN);
	} else if (v == NULL) {
		return 0; /* said where the row is compared */
	} else if (strcmp(event, "certificate") == 0) {
		if (strcmp(v->state, "pending") != 0)
			return 0;
		for (i = 0; i < vs->n; i++)
			if (strcmp(vs->v[i].name, name) == 0 &&
			    strcmp(vs->v[i].state, "active") == 0)
				snprintf(vs->v[i].state, sizeof(vs->v[i].state),
				    "retired");
		snprintf(v->state, sizeof(v->state), "active");
	} else if (strcmp(event, "retire") == 0) {
		snprintf(v->state, sizeof(v->state), "retired");
	} else if (strcmp(event, "disable") == 0) {
		snprintf(v->state, sizeof(v->state), "disabled");
	} else if (strcmp(event, "destroy") == 0) {
		snprintf(v->state, sizeof(v->state), "destroyed");
	}
	return 0;
}

/* The key events of every instance, in the order they were recorded. */
static int
read_events(PGconn *c, struct versions *vs)
{
	char name[SD_NAME_MAX], event[32];
	uint8_t digest[SD_HASH_LEN];
	PGresult *res;
	size_t dlen;
	int i, r = 0;

	res = PQexecParams(c,
	    "SELECT key_name, key_version, format, digest FROM ledger_entries "
	    "WHERE kind = 'key' ORDER BY signed_at_us, instance, seq",
	    0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return SD_ERR_LEDGER;
	}
	for (i = 0; i < PQntuples(res) && r == 0; i++) {
		if (ledger_pq_bytes(res, i, 0, name, sizeof(name), NULL, 1) ||
		    ledger_pq_bytes(res, i, 2, event, sizeof(event), NULL, 1) ||
		    ledger_pq_bytes(
			res, i, 3, digest, sizeof(digest), &dlen, 0))
			continue; /* the chain check says what is malformed */
		if (replay(vs, name, ledger_pq_i64(res, i, 1), event, digest,
			dlen) != 0)
			r = SD_ERR_NOMEM;
	}
	PQclear(res);
	return r;
}

int
ledger_keys_audit(PGconn *c, int64_t *versions, char *problem, size_t len)
{
	struct versions vs = { NULL, 0, 0 };
	char name[SD_NAME_MAX], state[16];
	uint8_t pub[SD_HASH_LEN];
	struct version *v;
	PGresult *res = NULL;
	int64_t ver;
	size_t plen;
	int i, r;

	*versions = 0;
	problem[0] = '\0';
	if ((r = read_events(c, &vs)) != 0)
		goto out;
	res = PQexecParams(c,
	    "SELECT name, version, state, sha256(public_key) FROM keys "
	    "ORDER BY name, version",
	    0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = SD_ERR_LEDGER;
		goto out;
	}
	for (i = 0; i < PQntuples(res) && problem[0] == '\0'; i++) {
		(*versions)++;
		ver = ledger_pq_i64(res, i, 1);
		if (ledger_pq_bytes(res, i, 0, name, sizeof(name), NULL, 1) ||
		    ledger_pq_bytes(res, i, 2, state, sizeof(state), NULL, 1) ||
		    ledger_pq_bytes(res, i, 3, pub, sizeof(pub), &plen, 0) ||
		    plen != SD_HASH_LEN)
			snprintf(problem, len, "key row %lld is malformed",
			    (long long)i + 1);
		else if ((v = find(&vs, name, ver)) == NULL)
			snprintf(problem, len,
			    "key %s v%lld: the ledger has no generate entry "
			    "for it (a version seald did not make)",
			    name, (long long)ver);
		else if (memcmp(v->pub, pub, SD_HASH_LEN) != 0)
			snprintf(problem, len,
			    "key %s v%lld: its public key is not the one its "
			    "generate entry recorded",
			    name, (long long)ver);
		else if (strcmp(v->state, state) != 0)
			snprintf(problem, len,
			    "key %s v%lld: %s in the keys table, %s by its key "
			    "events in the ledger",
			    name, (long long)ver, state, v->state);
	}
	r = problem[0] != '\0' ? SD_ERR_CONFLICT : 0;
out:
	PQclear(res);
	free(vs.v);
	return r;
}
