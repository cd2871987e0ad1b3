/*
 * pstate: reference-counted policy state behind a mutex-guarded pointer.
 * A rekey builds new keys under the same policy object (refcounted too).
 * Getting a reference takes the mutex only for an increment, so the
 * request path stays short; the swap is one pointer store under it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "clock.h"
#include "err.h"
#include "pstate.h"

#define RECORD_WAIT_MS 10000

struct pstate_slot {
	pthread_mutex_t lock;
	struct pstate *ps;
	pthread_mutex_t change; /* one reload or rekey at a time */
};

/* The policy, shared by the states built from it (a rekey keeps it). */
struct pstate_policy {
	struct policy *p;
	atomic_int refs;
};

/* The keys of policy p: the keys table's rows when p has managed keys. */
static struct sd_keys *
load_keys(const struct policy *p, struct hsm *h, struct ledger_reader *rd,
    char *errbuf, size_t errlen)
{
	struct key_row *rows = NULL;
	struct sd_keys *ks;
	size_t i, n = 0;
	int managed = 0;

	for (i = 0; i < policy_nkeys(p); i++)
		managed |= policy_key_at(p, i)->managed;
	if (managed && ledger_keys_list(rd, NULL, &rows, &n) != 0) {
		snprintf(errbuf, errlen,
		    "the policy has managed keys and the keys table cannot "
		    "be read");
		return NULL;
	}
	ks = keys_load(p, h, rows, n, errbuf, errlen);
	ledger_keys_free(rows, n);
	return ks;
}

static struct pstate *
build(struct pstate_policy *pp, struct hsm *h, struct ledger_reader *rd,
    char *errbuf, size_t errlen)
{
	struct pstate *ps;

	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	if ((ps->keys = load_keys(pp->p, h, rd, errbuf, errlen)) == NULL) {
		free(ps);
		return NULL;
	}
	ps->policy = pp->p;
	ps->pp = pp;
	atomic_fetch_add(&pp->refs, 1);
	atomic_init(&ps->refs, 1);
	return ps;
}

static void
policy_unref(struct pstate_policy *pp)
{
	if (pp == NULL || atomic_fetch_sub(&pp->refs, 1) != 1)
		return;
	policy_free(pp->p);
	free(pp);
}

struct pstate *
pstate_load(const char *path, struct hsm *h, struct ledger_reader *rd,
    char *errbuf, size_t errlen)
{
	struct pstate_policy *pp;
	struct pstate *ps;

	if ((pp = calloc(1, sizeof(*pp))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	if ((pp->p = policy_load(path, errbuf, errlen)) == NULL) {
		free(pp);
		return NULL;
	}
	atomic_init(&pp->refs, 1);
	ps = build(pp, h, rd, errbuf, errlen);
	policy_unref(pp); /* the state holds it now, or nothing does */
	return ps;
}

void
pstate_unref(struct pstate *ps)
{
	if (ps == NULL || atomic_fetch_sub(&ps->refs, 1) != 1)
		return;
	keys_free(ps->keys);
	policy_unref(ps->pp);
	free(ps);
}

struct pstate_slot *
pstate_slot_new(struct pstate *ps)
{
	struct pstate_slot *slot;

	if ((slot = calloc(1, sizeof(*slot))) == NULL)
		return NULL;
	pthread_mutex_init(&slot->lock, NULL);
	pthread_mutex_init(&slot->change, NULL);
	slot->ps = ps;
	return slot;
}

void
pstate_slot_free(struct pstate_slot *slot)
{
	if (slot == NULL)
		return;
	pstate_unref(slot->ps);
	pthread_mutex_destroy(&slot->lock);
	pthread_mutex_destroy(&slot->change);
	free(slot);
}

struct pstate *
pstate_get(struct pstate_slot *slot)
{
	struct pstate *ps;

	pthread_mutex_lock(&slot->lock);
	ps = slot->ps;
	atomic_fetch_add(&ps->refs, 1);
	pthread_mutex_unlock(&slot->lock);
	return ps;
}

void
pstate_set(struct pstate_slot *slot, struct pstate *ps)
{
	struct pstate *old;

	pthread_mutex_lock(&slot->lock);
	old = slot->ps;
	slot->ps = ps;
	pthread_mutex_unlock(&slot->lock);
	pstate_unref(old);
}

void
pstate_change_begin(struct pstate_slot *slot)
{
	pthread_mutex_lock(&slot->change);
}

void
pstate_change_end(struct pstate_slot *slot)
{
	pthread_mutex_unlock(&slot->change);
}

int
pstate_rekey(struct pstate_slot *slot, struct hsm *h, struct ledger_reader *rd,
    char *errbuf, size_t errlen)
{
	struct pstate *cur, *ps;

	pstate_change_begin(slot);
	cur = pstate_get(slot);
	ps = build(cur->pp, h, rd, errbuf, errlen);
	pstate_unref(cur);
	if (ps != NULL)
		pstate_set(slot, ps);
	pstate_change_end(slot);
	return ps != NULL ? 0 : SD_ERR_CONFIG;
}

int
pstate_record(struct ledger *l, enum ledger_kind kind,
    const uint8_t hash[SD_HASH_LEN], const char *detail)
{
	struct ledger_entry e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	memcpy(e.policy_hash, hash, SD_HASH_LEN);
	snprintf(e.detail, sizeof(e.detail), "%s", detail);
	return ledger_record(l, &e, RECORD_WAIT_MS) == 0 ? 0 : SD_ERR_LEDGER;
}

void
pstate_hash_file(const char *path, uint8_t out[SD_HASH_LEN])
{
	unsigned char buf[8192];
	unsigned int n = SD_HASH_LEN;
	size_t total = 0;
	EVP_MD_CTX *c;
	ssize_t got;
	int fd, ok;

	memset(out, 0, SD_HASH_LEN);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	c = EVP_MD_CTX_new();
	ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
	while (ok && (got = read(fd, buf, sizeof(buf))) > 0) {
		total += (size_t)got;
		ok = total <= SD_CONFIG_MAX_BYTES &&
		    EVP_DigestUpdate(c, buf, (size_t)got) == 1;
	}
	if (!ok || EVP_DigestFinal_ex(c, out, &n) != 1)
		memset(out, 0, SD_HASH_LEN);
	EVP_MD_CTX_free(c);
	close(fd);
}
