/*
 * inflight: the signature requests in progress, by (client, request_id).
 * One copy of a request is in progress at a time (queued, looked up,
 * signed, or waiting for its commit).  A copy that comes meanwhile (a
 * client that retried before its answer came) waits behind it, so that
 * its lookup, once the first one is recorded, finds that entry and it is
 * answered from the ledger, not signed again.
 *
 * Waiting is bounded: at most INFLIGHT_COPIES_MAX copies wait behind a
 * request, and none behind one in progress for longer than the caller's
 * limit (a hung HSM call): a copy that comes then goes around the table,
 * and inflight_expire sends those already waiting around, as every retry
 * went before the table existed (the ledger's constraint settles it).
 *
 * Nodes are intrusive and never allocated: a table holds at most the
 * requests a daemon holds.  A bucket's chain is bounded by them too, so
 * request ids chosen to collide cost comparisons, never memory.
 */
#ifndef SD_INFLIGHT_H
#define SD_INFLIGHT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define INFLIGHT_BUCKETS_LOG2 12
#define INFLIGHT_COPIES_MAX 8 /* copies waiting behind one request */

struct inflight_node {
	/* in progress: the next in the bucket; waiting: the next copy */
	struct inflight_node *next;
	/* in progress: the copies waiting behind it, oldest first */
	struct inflight_node *first, *last;
	size_t ncopies;
	struct timespec since; /* in progress since (CLOCK_MONOTONIC) */
	const char *client, *request_id;
	uint64_t hash;
};

struct inflight {
	pthread_mutex_t lock;
	uint64_t seed;
	atomic_int count; /* nodes in progress or waiting */
	size_t waiting;   /* of them waiting (under lock) */
	struct inflight_node *bucket[1 << INFLIGHT_BUCKETS_LOG2];
};

enum inflight_entry {
	INFLIGHT_FIRST,  /* no copy was in progress: n is now */
	INFLIGHT_WAITS,  /* n waits behind the copy in progress */
	INFLIGHT_AROUND, /* not in the table: too many copies wait, or the
			    one in progress started over max_ms ago */
};

void inflight_init(struct inflight *t);

/* A request's hash: FNV-1a over seed (the table's is kept from the
 * clients, so that they cannot pick ids for one chain in advance), the
 * client, a separator and the request id; its top bits are the ones
 * every byte reaches.  recent.c keys its fingerprints the same way. */
uint64_t inflight_hash(
    uint64_t seed, const char *client, const char *request_id);
/* t must be empty (count 0). */
void inflight_destroy(struct inflight *t);

/* Enter n for (client, request_id), both strings to stay valid until n
 * left the table. */
enum inflight_entry inflight_enter(struct inflight *t, struct inflight_node *n,
    const char *client, const char *request_id, long max_ms);

/*
 * n, in progress, finished without its request being recorded (an
 * error): the copy that waited longest is now in progress in its place
 * and is returned (the caller goes on with it; the others wait behind
 * it), or NULL.  A node not in progress is left as it is (NULL).
 */
struct inflight_node *inflight_leave(
    struct inflight *t, struct inflight_node *n);

/*
 * n, in progress, finished and its request is recorded: n and every copy
 * waiting behind it leave the table.  Returns those copies, oldest first,
 * linked through next (each one's lookup finds the entry), or NULL.
 */
struct inflight_node *inflight_leave_all(
    struct inflight *t, struct inflight_node *n);

/*
 * The copies waiting behind a request in progress for over max_ms leave
 * the table (they go around it).  Returns them linked through next, or
 * NULL; cheap when no copy waits.
 */
struct inflight_node *inflight_expire(struct inflight *t, long max_ms);

#endif
