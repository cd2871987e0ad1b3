/*
 * queue: a bounded FIFO of intrusive nodes between threads, with a stop
 * flag.  Producers never wait (a full or stopped queue is an error they
 * answer the client with); consumers wait, for a bounded time if they
 * ask.  Bounded in nodes, and in bytes too for nodes pushed with their
 * size.  Used for the signing jobs, the ledger entries and the answers
 * to a front.
 */
#ifndef SD_QUEUE_H
#define SD_QUEUE_H

#include <pthread.h>
#include <stddef.h>

struct sd_qnode {
	struct sd_qnode *next;
	size_t bytes; /* what it holds, for sd_queue_push_bytes; else 0 */
};

/* The struct that holds a node, from the node. */
#define SD_CONTAINER_OF(p, type, member) \
	((type *)(void *)((char *)(p)-offsetof(type, member)))

struct sd_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* consumers: work or stop */
	pthread_cond_t stop_cond; /* sd_queue_wait_stop */
	struct sd_qnode *head, *tail;
	size_t len, max;
	size_t bytes; /* the sum of the nodes' bytes */
	int stopping;
};

/* Initialize an empty queue holding at most max nodes. */
void sd_queue_init(struct sd_queue *q, size_t max);
void sd_queue_destroy(struct sd_queue *q);

/* Append n.  Returns 0, SD_ERR_SHUTDOWN once stopped, or SD_ERR_BUSY
 * when full (n is then not queued). */
int sd_queue_push(struct sd_queue *q, struct sd_qnode *n)
    __attribute__((warn_unused_result));

/* Append n, which holds bytes bytes, unless the queue would then hold
 * more than max_bytes: as sd_queue_push, SD_ERR_BUSY also then. */
int sd_queue_push_bytes(struct sd_queue *q, struct sd_qnode *n, size_t bytes,
    size_t max_bytes) __attribute__((warn_unused_result));

/*
 * Take up to cap nodes (oldest first) into out, waiting until there is
 * one, the queue is stopped, or wait_ms passed (wait_ms < 0: no limit).
 * Returns how many were taken; 0 with *stopped = 1 means stopped and
 * empty (a stopped queue still hands out what it holds).
 */
size_t sd_queue_pop(struct sd_queue *q, struct sd_qnode **out, size_t cap,
    long wait_ms, int *stopped);

/*
 * Take more nodes into out[0..cap): wait until want were taken, the queue
 * is stopped, or the deadline `until` (sd_deadline_us) passed; never
 * more than cap.  Returns how many were taken, maybe 0.  The ledger
 * writer waits so, boundedly, for entries it knows are on their way.
 */
size_t sd_queue_pop_until(struct sd_queue *q, struct sd_qnode **out, size_t cap,
    size_t want, const struct timespec *until);

/* Take from the head, oldest first, the nodes for which old(node, arg)
 * holds; stops at the first that does not.  Returns them as a list
 * linked through next. */
struct sd_qnode *sd_queue_take_old(
    struct sd_queue *q, int (*old)(const struct sd_qnode *, void *), void *arg);

/* Stop: pushes fail, waiting consumers wake. */
void sd_queue_stop(struct sd_queue *q);

/* Wait up to ms for sd_queue_stop; returns 1 when stopped. */
int sd_queue_wait_stop(struct sd_queue *q, long ms);

#endif
