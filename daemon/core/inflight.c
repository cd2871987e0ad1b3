/*
 * inflight: see inflight.h.  A chained hash table under one mutex; a
 * request in progress heads the list of its waiting copies (first..last,
 * linked through next), which is handed on whole to the copy that takes
 * its place.
 */
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "inflight.h"

#define FNV_PRIME 0x100000001b3ULL

void
inflight_init(struct inflight *t)
{
	memset(t->bucket, 0, sizeof(t->bucket));
	t->waiting = 0;
	pthread_mutex_init(&t->lock, NULL);
	atomic_init(&t->count, 0);
	/* a seed kept from the clients, so that they cannot pick request
	 * ids for one chain in advance; without one the table still works */
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(t->seed))
		t->seed = 0;
}

void
inflight_destroy(struct inflight *t)
{
	/* the last leave may still be unlocking: wait for it */
	pthread_mutex_lock(&t->lock);
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_destroy(&t->lock);
}

uint64_t
inflight_hash(uint64_t seed, const char *client, const char *request_id)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;
	int i;

	for (i = 0; i < 8; i++)
		h = (h ^ ((seed >> (8 * i)) & 0xff)) * FNV_PRIME;
	for (p = (const unsigned char *)client; *p != '\0'; p++)
		h = (h ^ *p) * FNV_PRIME;
	h *= FNV_PRIME;
	for (p = (const unsigned char *)request_id; *p != '\0'; p++)
		h = (h ^ *p) * FNV_PRIME;
	return h;
}

/* The bucket of a hash: its top bits, the ones every byte (and the seed)
 * reaches through the multiplications. */
static struct inflight_node **
slot_of(struct inflight *t, uint64_t hash)
{
	return &t->bucket[hash >> (64 - INFLIGHT_BUCKETS_LOG2)];
}

static int
same(const struct inflight_node *a, const struct inflight_node *b)
{
	return a->hash == b->hash &&
	    strcmp(a->request_id, b->request_id) == 0 &&
	    strcmp(a->client, b->client) == 0;
}

enum inflight_entry
inflight_enter(struct inflight *t, struct inflight_node *n, const char *client,
    const char *request_id, long max_ms)
{
	struct inflight_node **slot, *p;
	enum inflight_entry r = INFLIGHT_WAITS;

	n->client = client;
	n->request_id = request_id;
	n->hash = inflight_hash(t->seed, client, request_id);
	n->next = n->first = n->last = NULL;
	n->ncopies = 0;
	clock_gettime(CLOCK_MONOTONIC, &n->since);
	slot = slot_of(t, n->hash);
	pthread_mutex_lock(&t->lock);
	for (p = *slot; p != NULL && !same(p, n); p = p->next)
		;
	if (p == NULL) {
		n->next = *slot;
		*slot = n;
		r = INFLIGHT_FIRST;
	} else if (p->ncopies >= INFLIGHT_COPIES_MAX ||
	    sd_ms_since(&p->since) > max_ms) {
		r = INFLIGHT_AROUND;
	} else if (p->last == NULL) {
		p->first = p->last = n;
	} else {
		p->last->next = n;
		p->last = n;
	}
	if (r == INFLIGHT_WAITS) {
		p->ncopies++;
		t->waiting++;
	}
	if (r != INFLIGHT_AROUND)
		atomic_fetch_add(&t->count, 1);
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* The link that points to n in its bucket, or NULL when n is not in
 * progress. */
static struct inflight_node **
link_of(struct inflight *t, struct inflight_node *n)
{
	struct inflight_node **pp;

	for (pp = slot_of(t, n->hash); *pp != NULL && *pp != n;
	     pp = &(*pp)->next)
		;
	return *pp != NULL ? pp : NULL;
}

/*
 * n leaves: with all, or with no copy waiting, n and its copies leave the
 * table and the copies are returned (linked through next, the last
 * one's NULL); else the oldest copy takes n's place, in progress, and is
 * returned.
 */
static struct inflight_node *
leave(struct inflight *t, struct inflight_node *n, int all)
{
	struct inflight_node **pp, *c;

	pthread_mutex_lock(&t->lock);
	if ((pp = link_of(t, n)) == NULL) {
		pthread_mutex_unlock(&t->lock);
		return NULL;
	}
	c = n->first;
	if (all || c == NULL) {
		*pp = n->next;
		atomic_fetch_sub(&t->count, (int)n->ncopies + 1);
		t->waiting -= n->ncopies;
	} else {
		c->first = c->next;
		c->last = c->first != NULL ? n->last : NULL;
		c->ncopies = n->ncopies - 1;
		clock_gettime(CLOCK_MONOTONIC, &c->since);
		c->next = n->next;
		*pp = c;
		atomic_fetch_sub(&t->count, 1);
		t->waiting--;
	}
	n->next = n->first = n->last = NULL;
	n->ncopies = 0;
	pthread_mutex_unlock(&t->lock);
	return c;
}

struct inflight_node *
inflight_leave(struct inflight *t, struct inflight_node *n)
{
	return leave(t, n, 0);
}

struct inflight_node *
inflight_leave_all(struct inflight *t, struct inflight_node *n)
{
	return leave(t, n, 1);
}

struct inflight_node *
inflight_expire(struct inflight *t, long max_ms)
{
	struct inflight_node *out = NULL, *p;
	size_t i;

	pthread_mutex_lock(&t->lock);
	for (i = 0;
	     t->waiting > 0 && i < sizeof(t->bucket) / sizeof(t->bucket[0]);
	     i++)
		for (p = t->bucket[i]; p != NULL; p = p->next) {
			if (p->first == NULL ||
			    sd_ms_since(&p->since) <= max_ms)
				continue;
			p->last->next = out; /* the copies, put before out */
			out = p->first;
			atomic_fetch_sub(&t->count, (int)p->ncopies);
			t->waiting -= p->ncopies;
			p->first = p->last = NULL;
			p->ncopies = 0;
		}
	pthread_mutex_unlock(&t->lock);
	return out;
}
