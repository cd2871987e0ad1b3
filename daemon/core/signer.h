/*
 * signer: the signing workers.  Each worker owns an idempotency lookup
 * connection and borrows an HSM session per request; it checks whether
 * the request was already recorded, signs, and hands the entry to the
 * ledger writer.  A copy of a signature request in progress (a retry sent
 * before the first answer) waits for it, boundedly, then is looked up
 * (inflight.h).
 * Time-stamp jobs skip the lookup (a token is never retried) and check
 * the clock first.  Workers also answer ledger reads (lookup jobs) on the
 * same connection, off the HTTP thread.  A job completes (its done
 * callback runs) only after the entry is committed, or with an error and
 * no signature.  A job that waits longer than SD_SIGN_QUEUE_WAIT_MS for a
 * worker (every HSM session hung or overloaded) is failed with
 * SD_ERR_HSM; a copy's wait for a worker starts when the one before it
 * finished.
 */
#ifndef SD_SIGNER_H
#define SD_SIGNER_H

#include <time.h>

#include "inflight.h"
#include "keys.h"
#include "queue.h"
#include "ledger.h"
#include "peer.h"
#include "sign_req.h"
#include "tsa.h"

struct signer;

/* A read of the ledger for GET /v1/ledger (no HSM involved). */
struct ledger_lookup {
	char instance[SD_NAME_MAX];
	int64_t seq;   /* > 0: that entry, with its inclusion proof */
	int64_t after; /* seq == 0: up to limit entries after this seq */
	size_t limit;
	/* seq > 0, not "": only this client's signature or time-stamp is
	 * found (a client reading; "" for an auditor) */
	char client[SD_NAME_MAX];
	/* outputs, malloc'd; the caller frees them */
	struct ledger_proof *proof;
	struct ledger_row *rows;
	size_t nrows;
};

struct sign_job {
	/* a lookup job instead of a signature: only lk is used */
	int is_lookup;
	struct ledger_lookup lk;
	/* an RFC 3161 time-stamp: tsa instead of req */
	int is_tsa;
	struct tsa_req tsa;
	/* inputs */
	struct sign_req req;
	const struct sd_key *key;
	const struct sd_key *tsa_key; /* cades-t: the key that stamps it */
	char client[SD_NAME_MAX];
	struct peer peer;
	uint8_t policy_hash[SD_HASH_LEN]; /* of the policy that allowed it */
	/* outputs: result 0 means entry holds the committed signature */
	int result;
	struct ledger_entry entry;
	/* the HSM signed for it: also when its request turned out recorded
	 * at COMMIT and that signature was dropped (it counts as a new one) */
	int hsm_signed;
	/* completion, called once from a worker or the ledger writer */
	void (*done)(struct sign_job *, void *);
	void *arg;
	/* private to the signer */
	struct signer *signer;
	struct timespec queued_at;
	struct sd_qnode qnode;
	struct inflight_node copies; /* a signature: one copy at a time */
	int in_table;                /* copies is in the signer's table */
};

/* Time-stamping: the ledger instance (its newest time-stamp is the floor
 * of the next one's time) and whether the kernel must report the clock
 * synchronized. */
struct signer_tsa {
	const char *instance;
	int require_sync;
};

/* Start `workers` threads.  Returns NULL with a reason in errbuf. */
struct signer *signer_new(struct hsm *h, struct ledger *l, const char *conninfo,
    unsigned int workers, const struct signer_tsa *tsa, char *errbuf,
    size_t errlen) __attribute__((warn_unused_result));

/*
 * Queue j (which must stay valid until j->done ran), or, a copy of a
 * signature in progress, keep it until that one finished.  Returns 0, or
 * SD_ERR_BUSY / SD_ERR_SHUTDOWN (j->done is then not called).
 */
int signer_submit(struct signer *s, struct sign_job *j)
    __attribute__((warn_unused_result));

/* Finish every queued job, stop the workers, and wait (at most
 * SD_STOP_WAIT_MS) for the signatures still waiting for their commit.
 * NULL accepted.  The ledger must still be open. */
void signer_free(struct signer *s);

#endif
