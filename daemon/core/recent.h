/*
 * recent: the requests seald saw recorded lately, by (client,
 * request_id), so that a worker asks the ledger before signing only for
 * those (a retry), not for every request.  A request it does not know is
 * signed at once; when the ledger held it after all (recorded before
 * seald started and past the seeded ids, or by another instance), the
 * (client, request_id) constraint refuses that entry at COMMIT, its
 * signature is dropped and the request answered with the recorded one
 * (ledger_write.c).  So the set decides how much is done, never what is
 * answered: a fingerprint that collides costs one lookup, a request
 * forgotten one HSM signature.
 *
 * Two generations of RECENT_GEN fingerprints: the newest ids go into the
 * current one; when it is full it becomes the old one, whose ids are
 * forgotten.  So the set remembers the last RECENT_GEN to 2 x RECENT_GEN
 * ids recorded.  Memory is fixed (open addressing, at most half full),
 * and probes are bounded by RECENT_PROBES: ids chosen to collide are
 * forgotten sooner, never slower to find.
 */
#ifndef SD_RECENT_H
#define SD_RECENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define RECENT_GEN_LOG2 17 /* ids a generation holds: 131072 */
#define RECENT_GEN ((size_t)1 << RECENT_GEN_LOG2)
#define RECENT_PROBES 16

struct recent {
	pthread_mutex_t lock;
	uint64_t seed;
	uint64_t *gen[2]; /* 2 x RECENT_GEN slots each; 0 is empty */
	size_t count;     /* ids in gen[cur] */
	int cur;
};

/* 0, or -1 when out of memory (r then needs no recent_destroy). */
int recent_init(struct recent *r, uint64_t seed);
void recent_destroy(struct recent *r);

/* The fingerprint of (client, request_id) under seed: never 0 (an empty
 * slot); its top RECENT_GEN_LOG2 + 1 bits are the slot its probe starts
 * at. */
uint64_t recent_fingerprint(
    uint64_t seed, const char *client, const char *request_id);

/* (client, request_id) is recorded (any thread). */
void recent_add(struct recent *r, const char *client, const char *request_id);

/* 1 when (client, request_id) may be recorded: seald saw it so lately,
 * or another id's fingerprint is the same; 0 when seald does not know. */
int recent_has(struct recent *r, const char *client, const char *request_id);

#endif
