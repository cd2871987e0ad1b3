/*
 * gauges: what /metrics says of the daemon's state besides the counters
 * of common/metrics.c: readiness of the HSM and the ledger, the keys that
 * sign now and the days their certificates have left.  Shared by the
 * service and admin sockets.
 */
#ifndef SD_GAUGES_H
#define SD_GAUGES_H

#include "hsm.h"
#include "keys.h"
#include "ledger.h"
#include "metrics.h"

void gauges(struct metrics_text *t, struct hsm *h, struct ledger *l,
    const struct sd_keys *ks);

#endif
