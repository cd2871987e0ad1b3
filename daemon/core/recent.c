/*
 * recent: see recent.h.  Two open-addressing sets of 64-bit fingerprints
 * under one mutex, linear probing from the fingerprint's top bits.
 */
#include <stdlib.h>
#include <string.h>

#include "inflight.h"
#include "recent.h"

#define SLOTS_LOG2 (RECENT_GEN_LOG2 + 1)
#define SLOTS ((size_t)1 << SLOTS_LOG2)

int
recent_init(struct recent *r, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	if ((r->gen[0] = calloc(SLOTS, sizeof(uint64_t))) == NULL ||
	    (r->gen[1] = calloc(SLOTS, sizeof(uint64_t))) == NULL) {
		free(r->gen[0]);
		return -1;
	}
	r->seed = seed;
	pthread_mutex_init(&r->lock, NULL);
	return 0;
}

void
recent_destroy(struct recent *r)
{
	free(r->gen[0]);
	free(r->gen[1]);
	pthread_mutex_destroy(&r->lock);
}

uint64_t
recent_fingerprint(uint64_t seed, const char *client, const char *request_id)
{
	uint64_t h = inflight_hash(seed, client, request_id);

	/* FNV's last bytes barely reach its top bits: mix them (MurmurHash3's
	 * finalizer), or ids that differ at the end crowd a few slots */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h | 1;
}

static uint64_t
fingerprint(struct recent *r, const char *client, const char *request_id)
{
	return recent_fingerprint(r->seed, client, request_id);
}

/* The slot of f in g (its probe starts at f's top bits): where it is, or the empty one it would go into;
 * NULL when RECENT_PROBES slots hold other fingerprints. */
static uint64_t *
slot(uint64_t *g, uint64_t f)
{
	size_t i = (size_t)(f >> (64 - SLOTS_LOG2)), k;

	for (k = 0; k < RECENT_PROBES; k++, i = (i + 1) & (SLOTS - 1))
		if (g[i] == f || g[i] == 0)
			return &g[i];
	return NULL;
}

void
recent_add(struct recent *r, const char *client, const char *request_id)
{
	uint64_t f = fingerprint(r, client, request_id), *p;

	pthread_mutex_lock(&r->lock);
	if ((p = slot(r->gen[r->cur], f)) != NULL && *p == 0) {
		*p = f;
		if (++r->count == RECENT_GEN) { /* the oldest ids go */
			r->cur ^= 1;
			memset(r->gen[r->cur], 0, SLOTS * sizeof(uint64_t));
			r->count = 0;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

int
recent_has(struct recent *r, const char *client, const char *request_id)
{
	uint64_t f = fingerprint(r, client, request_id), *p;
	int has;

	pthread_mutex_lock(&r->lock);
	has = ((p = slot(r->gen[r->cur], f)) != NULL && *p == f) ||
	    ((p = slot(r->gen[r->cur ^ 1], f)) != NULL && *p == f);
	pthread_mutex_unlock(&r->lock);
	return has;
}
