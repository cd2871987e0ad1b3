/*
 * ledger_record: submit one entry and wait for its commit, for callers
 * that are not on the signing path (policy loads, key events).  The entry
 * is copied into a record the ledger callback owns when the waiter gives
 * up, so a late commit never touches freed memory.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "ledger.h"

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
ledger_record(struct ledger *l, struct ledger_entry *e, long wait_ms)
{
	struct timespec until = sd_deadline_ms(wait_ms < 0 ? 0 : wait_ms);
	struct record *rec;
	int r;

	/* a waiter that gives up would leave apply_arg to a late commit */
	if (e->apply != NULL && wait_ms >= 0)
		return SD_ERR_INTERNAL;
	if ((rec = calloc(1, sizeof(*rec))) == NULL)
		return SD_ERR_LEDGER;
	pthread_mutex_init(&rec->lock, NULL);
	sd_cond_init(&rec->cond);
	rec->e = *e;
	if (rec->e.signed_at_us == 0)
		rec->e.signed_at_us = sd_now_us();
	if (ledger_submit(l, &rec->e, recorded, rec) != 0) {
		record_free(rec);
		return SD_ERR_LEDGER;
	}
	pthread_mutex_lock(&rec->lock);
	while (!rec->done) {
		if (wait_ms < 0)
			pthread_cond_wait(&rec->cond, &rec->lock);
		else if (pthread_cond_timedwait(
			     &rec->cond, &rec->lock, &until) != 0)
			break;
	}
	if (!rec->done) {
		rec->abandoned = 1;
		pthread_mutex_unlock(&rec->lock);
		return SD_ERR_LEDGER;
	}
	r = rec->result;
	pthread_mutex_unlock(&rec->lock);
	if (r == 0) {
		memcpy(e->instance, rec->e.instance, sizeof(e->instance));
		e->seq = rec->e.seq;
		memcpy(e->entry_hash, rec->e.entry_hash, SD_HASH_LEN);
		e->signed_at_us = rec->e.signed_at_us;
	}
	record_free(rec);
	return r;
}
