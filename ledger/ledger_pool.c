/*
 * ledger_pool: the lookup connections the signing workers share.  A
 * worker holds one only for its reads (the request lookup, the entry
 * reads, the confirm), not while the HSM signs: with a network HSM a
 * signature takes milliseconds and the sessions, hence the workers, are
 * many (64 and more), and a connection per worker would take PostgreSQL's
 * connection slots (100 by default, shared with the other instances).
 */
#include <pthread.h>
#include <stdlib.h>

#include "clock.h"
#include "ledger.h"

struct ledger_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct ledger_reader **all, **idle;
	size_t n, nidle;
};

struct ledger_pool *
ledger_pool_new(const char *conninfo, long read_ms, size_t n)
{
	struct ledger_pool *p;
	size_t i;

	if (n == 0 || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->all = calloc(n, sizeof(*p->all));
	p->idle = calloc(n, sizeof(*p->idle));
	for (i = 0; p->all != NULL && p->idle != NULL && i < n; i++) {
		if ((p->all[i] = ledger_reader_new(conninfo, read_ms)) == NULL)
			break;
		p->idle[p->nidle++] = p->all[i];
		p->n++;
	}
	pthread_mutex_init(&p->lock, NULL);
	sd_cond_init(&p->freed);
	if (p->n < n) {
		ledger_pool_free(p);
		return NULL;
	}
	return p;
}

void
ledger_pool_free(struct ledger_pool *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		ledger_reader_free(p->all[i]);
	free(p->all);
	free(p->idle);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->freed);
	free(p);
}

struct ledger_reader *
ledger_pool_take(struct ledger_pool *p)
{
	struct ledger_reader *rd;

	pthread_mutex_lock(&p->lock);
	while (p->nidle == 0)
		pthread_cond_wait(&p->freed, &p->lock);
	rd = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->lock);
	return rd;
}

void
ledger_pool_give(struct ledger_pool *p, struct ledger_reader *rd)
{
	pthread_mutex_lock(&p->lock);
	p->idle[p->nidle++] = rd;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}
