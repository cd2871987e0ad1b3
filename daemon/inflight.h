/*
 * inflight: the signature requests in progress, by (client, request_id).
 * One copy of a request is in progress at a time (queued, looked up,
 * signed, or waiting for its commit).  A copy that comes meanwhile (a
 * client that retried before its answer came) waits behind it and goes
 * on once it finished, so that its lookup finds the first one's entry
 * and it is answered from the ledger, not signed again.
 *
 * Nodes are intrusive and never allocated: a table holds at most the
 * requests a daemon holds.  A bucket's chain is bounded by them too, so
 * request ids chosen to collide cost comparisons, never memory.
 */
#ifndef SD_INFLIGHT_H
#define SD_INFLIGHT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define INFLIGHT_BUCKETS 4096 /* a power of two */

struct inflight_node {
	struct inflight_node *next;         /* in progress: the bucket's chain;
				       waiting: the next copy */
	struct inflight_node *first, *last; /* in progress: its copies */
	const char *client, *request_id;
	uint64_t hash;
};

struct inflight {
	pthread_mutex_t lock;
	uint64_t seed;
	atomic_int count; /* nodes in progress or waiting */
	struct inflight_node *bucket[INFLIGHT_BUCKETS];
};

void inflight_init(struct inflight *t);
void inflight_destroy(struct inflight *t);

/*
 * Enter n for (client, request_id), both strings to stay valid until n
 * left.  Returns 0 when no copy of it is in progress (n now is), 1 when
 * n waits behind one: inflight_leave of that one hands n back.
 */
int inflight_enter(struct inflight *t, struct inflight_node *n,
    const char *client, const char *request_id);

/*
 * n, in progress, finished.  Returns the copy that waited longest, now
 * in progress in n's place (the caller goes on with it), or NULL.
 */
struct inflight_node *inflight_leave(
    struct inflight *t, struct inflight_node *n);

#endif
