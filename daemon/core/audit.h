/*
 * audit: the ledger's checkpoints, signed with the audit key in the HSM,
 * and their witness outside the database: the newest signed head kept in
 * the token as a data object and, when seald.yaml names one, in a file
 * that operators can ship off-host (docs/ledger-format.md, "The signed
 * head").  The ledger hands each new head over after the database has
 * its checkpoint; at start the witnessed heads are read back for the
 * ledger to check that the database reaches them.
 */
#ifndef SD_AUDIT_H
#define SD_AUDIT_H

#include "cfg.h"
#include "hsm.h"
#include "ledger.h"

#define AUDIT_HEADS_MAX 9 /* the token's objects of the label, the file */

struct audit {
	struct hsm *hsm;
	struct hsm_key *key;
	char label[SD_NAME_MAX + 16]; /* the token's data object */
	char file[SD_PATH_MAX];       /* "" when none */
	int in_token;                 /* 0 once the token kept none */
	struct ledger_checkpointer cp;
	/* the heads read at start, for ledger_checks */
	char text[AUDIT_HEADS_MAX][SD_NOTE_MAX];
	struct ledger_witnessed heads[AUDIT_HEADS_MAX];
	size_t nheads;
};

/*
 * Checkpoints with the audit key named in seald.yaml: *out = &a->cp, or
 * NULL when none is named.  The witnessed heads are read into a->heads.
 * 0, or -1 (the key cannot be used; logged).
 */
int audit_setup(const struct cfg *cfg, struct hsm *hsm, struct audit *a,
    const struct ledger_checkpointer **out);

#endif
