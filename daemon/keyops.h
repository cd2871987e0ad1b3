/*
 * keyops: what officers do to keys through the admin socket: generate a
 * key pair in the HSM, make a CSR for it, import its certificate, and
 * list keys.  Each change is a ledger entry (kind "key") committed in the
 * same transaction as the keys table row it changes; then the keys in
 * force are found again (pstate_rekey), so a managed key signs with its
 * new state at once.  Bodies in and out are JSON.
 */
#ifndef SD_KEYOPS_H
#define SD_KEYOPS_H

#include <stddef.h>

#include "hsm.h"
#include "ledger.h"
#include "peer.h"
#include "pstate.h"

struct keyops {
	struct hsm *hsm;
	struct ledger *ledger;
	struct ledger_reader *rd; /* the admin thread's own */
	struct pstate_slot *policy;
};

/* Who asks: the officer (or auditor) the policy names, and the peer. */
struct keyops_caller {
	const char *name;
	const struct peer *peer;
};

/*
 * Each returns 0 with *reply (malloc'd JSON) or an SD_ERR_* with *message
 * (a static or a buffer of errlen in errbuf) for the error reply.
 */
int keyops_list(struct keyops *ko, const char *name, char **reply, char *errbuf,
    size_t errlen);
int keyops_generate(struct keyops *ko, const struct keyops_caller *who,
    const char *body, size_t len, char **reply, char *errbuf, size_t errlen);
int keyops_csr(struct keyops *ko, const struct keyops_caller *who,
    const char *name, const char *body, size_t len, char **reply, char *errbuf,
    size_t errlen);
int keyops_import_cert(struct keyops *ko, const struct keyops_caller *who,
    const char *name, const char *body, size_t len, char **reply, char *errbuf,
    size_t errlen);

#endif
