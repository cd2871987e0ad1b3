/*
 * pstate: reference-counted policy state behind a mutex-guarded pointer.
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
};

struct pstate *
pstate_load(const char *path, struct hsm *h, char *errbuf, size_t errlen)
{
	struct pstate *ps;

	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	if ((ps->policy = policy_load(path, errbuf, errlen)) == NULL ||
	    (ps->keys = keys_load(ps->policy, h, errbuf, errlen)) == NULL) {
		policy_free(ps->policy);
		free(ps);
		return NULL;
	}
	atomic_init(&ps->refs, 1);
	return ps;
}

void
pstate_unref(struct pstate *ps)
{
	if (ps == NULL || atomic_fetch_sub(&ps->refs, 1) != 1)
		return;
	keys_free(ps->keys);
	policy_free(ps->policy);
	free(ps);
}

struct pstate_slot *
pstate_slot_new(struct pstate *ps)
{
	struct pstate_slot *slot;

	if ((slot = calloc(1, sizeof(*slot))) == NULL)
		return NULL;
	pthread_mutex_init(&slot->lock, NULL);
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

struct record {
	struct ledger_entry e;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, result, abandoned;
};

static void
record_free(struct record *rec)
{
	pthread_mutex_destroy(&rec->lock);
	pthread_cond_destroy(&rec->cond);
	free(rec);
}

static void
recorded(struct ledger_entry *e, int r, void *arg)
{
	struct record *rec = arg;
	int abandoned;

	(void)e;
	pthread_mutex_lock(&rec->lock);
	rec->done = 1;
	rec->result = r;
	abandoned = rec->abandoned;
	pthread_cond_signal(&rec->cond);
	pthread_mutex_unlock(&rec->lock);
	if (abandoned) /* the waiter gave up: the entry is ours to free */
		record_free(rec);
}

int
pstate_record(struct ledger *l, enum ledger_kind kind,
    const uint8_t hash[SD_HASH_LEN], const char *detail)
{
	struct timespec until = sd_deadline_ms(RECORD_WAIT_MS), now;
	struct record *rec;
	int r;

	if ((rec = calloc(1, sizeof(*rec))) == NULL)
		return SD_ERR_LEDGER;
	pthread_mutex_init(&rec->lock, NULL);
	sd_cond_init(&rec->cond);
	rec->e.kind = kind;
	memcpy(rec->e.policy_hash, hash, SD_HASH_LEN);
	snprintf(rec->e.detail, sizeof(rec->e.detail), "%s", detail);
	clock_gettime(CLOCK_REALTIME, &now);
	rec->e.signed_at_us =
	    (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	if ((r = ledger_submit(l, &rec->e, recorded, rec)) != 0) {
		record_free(rec);
		return SD_ERR_LEDGER;
	}
	pthread_mutex_lock(&rec->lock);
	while (!rec->done &&
	    pthread_cond_timedwait(&rec->cond, &rec->lock, &until) == 0)
		;
	if (!rec->done) {
		rec->abandoned = 1;
		pthread_mutex_unlock(&rec->lock);
		return SD_ERR_LEDGER;
	}
	r = rec->result;
	pthread_mutex_unlock(&rec->lock);
	record_free(rec);
	return r == 0 ? 0 : SD_ERR_LEDGER;
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
