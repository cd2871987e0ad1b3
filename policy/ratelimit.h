/*
 * ratelimit: token buckets (per_second + burst) and daily quotas per
 * client, kept across policy reloads: state is keyed by client name and
 * kept while the client's limits are unchanged.  Thread-safe.
 */
#ifndef SD_RATELIMIT_H
#define SD_RATELIMIT_H

#include <stdint.h>

#include "policy.h"

struct ratelimit;

struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl);

/*
 * Take one token for client c at time now_ns (CLOCK_REALTIME nanoseconds;
 * the quota day is the UTC day of now_ns).  Returns 0, or
 * SD_ERR_RATE_LIMITED with *reason "rate" or "daily_quota".  A client with
 * neither limit always gets 0.  A client whose (per_second, burst,
 * daily_quota) differ from the stored ones starts afresh.
 */
int ratelimit_take(struct ratelimit *rl, const struct policy_principal *c,
    int64_t now_ns, const char **reason) __attribute__((warn_unused_result));

/* Give back one token (the request failed before signing: HSM or
 * ledger down) so that failures do not eat a client's quota. */
void ratelimit_refund(struct ratelimit *rl, const struct policy_principal *c);

#endif
