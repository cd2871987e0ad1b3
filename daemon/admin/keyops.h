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
 * Each returns 0 with *reply (malloc'd JSON), KEYOPS_PROPOSED with *reply
 * when the change became a proposal that another officer must approve
 * (HTTP 202), or an SD_ERR_* with the message in errbuf (errlen bytes).
 */
#define KEYOPS_PROPOSED 1
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

/* A new pending version (body {"algorithm"?}); its certificate makes it
 * active and retires the old one. */
int keyops_rotate(struct keyops *ko, const struct keyops_caller *who,
    const char *name, const char *body, size_t len, char **reply, char *errbuf,
    size_t errlen);

/* action "retire", "disable" or "destroy" (body {"version"?} ; destroy:
 * {"version", "confirm": "NAME vN"} and always a second officer). */
int keyops_move(struct keyops *ko, const struct keyops_caller *who,
    const char *name, const char *action, const char *body, size_t len,
    char **reply, char *errbuf, size_t errlen);

/* The pending proposals; approve one (id as text) as another officer. */
int keyops_proposals(
    struct keyops *ko, char **reply, char *errbuf, size_t errlen);
int keyops_approve(struct keyops *ko, const struct keyops_caller *who,
    const char *id, char **reply, char *errbuf, size_t errlen);

#endif
