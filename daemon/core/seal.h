/*
 * seal: the HSM's part of a job (signer.h): the signature a client asked
 * for, raw or as a CMS seal, or a time-stamp token, into the job's ledger
 * entry.  Called by the signer's workers after the idempotency lookup.
 */
#ifndef SD_SEAL_H
#define SD_SEAL_H

#include <pthread.h>
#include <stdint.h>

#include "hsm.h"
#include "signer.h"

/* The time-stamps' clock: genTime never goes back, across workers and
 * (last_us seeded from the ledger) restarts; require_sync refuses to
 * stamp while the system clock is not synchronized. */
struct seal_clock {
	pthread_mutex_t lock;
	int64_t last_us;
	int require_sync;
};

/* j's signature (its format: raw, cms or cades-t) into j->entry.sig;
 * for cades-t also the token's serial, policy and genTime (the entry's
 * time), from j->tsa_key and clk as seal_tsa's.  0 or an SD_ERR_*
 * (SD_ERR_TOO_LARGE for a seal past the entry's room, SD_ERR_CLOCK and
 * SD_ERR_BUSY as seal_tsa's). */
int seal_sign(struct hsm *h, struct seal_clock *clk, struct sign_job *j)
    __attribute__((warn_unused_result));

/* j's time-stamp token into j->entry, a whole timestamp entry.  0, or
 * SD_ERR_CLOCK when the clock is not synchronized, SD_ERR_BUSY when
 * signing took longer than the stated accuracy, another SD_ERR_*. */
int seal_tsa(struct hsm *h, struct seal_clock *clk, struct sign_job *j)
    __attribute__((warn_unused_result));

#endif
