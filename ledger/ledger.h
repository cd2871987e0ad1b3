/*
 * ledger: the durable record of every signature, in PostgreSQL.  One
 * writer thread per instance owns the chain head and commits entries in
 * groups (one INSERT of many rows, synchronous_commit=on); an entry's
 * completion callback runs only after its COMMIT returned, so no signature
 * is handed out unrecorded.  Readers (one per signing worker) look up
 * earlier requests for idempotent retries.  This is the only module that
 * uses libpq.
 */
#ifndef SD_LEDGER_H
#define SD_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "merkle.h"
#include "queue.h"
#include "sd_limits.h"

struct ledger;
struct ledger_reader;

enum ledger_kind {
	LEDGER_SIGNATURE = 0, /* a signature handed to a client */
	LEDGER_POLICY = 1,   /* a policy loaded, or a reload accepted/refused */
	LEDGER_OVERRIDE = 2, /* started past a failed chain check, on request */
	LEDGER_TIMESTAMP = 3, /* an RFC 3161 token handed to a client */
	LEDGER_KEY = 4,       /* a key management event (admin socket) */
};

/*
 * One entry.  Signature entries use every field up to evidence_ref and
 * policy_hash; timestamp entries the same but request_id and evidence,
 * plus tsa_serial and tsa_policy; policy and override entries use only
 * policy_hash, detail and signed_at_us (the entry's time).  Key entries
 * use client (the officer), client_uid, client_pid, key_name,
 * key_version, algorithm (the key's, "ec-p256"), format (the event:
 * "generate", "csr", "certificate", ...), digest_alg and digest (of what
 * the event is about: the public key, CSR or certificate DER), detail and
 * policy_hash.  A key entry may carry apply(): it runs in the entry's own
 * transaction, before its INSERT, so the state change it makes (the keys
 * table) and its record commit together or not at all.
 */
struct ledger_entry {
	/* set by the caller before ledger_submit() */
	enum ledger_kind kind;
	char client[SD_NAME_MAX];
	int64_t client_uid;
	int64_t client_pid;
	char request_id[SD_REQUEST_ID_MAX + 1];
	uint8_t
	    request_hash[SD_HASH_LEN]; /* identifies the request's content */
	char key_name[SD_NAME_MAX];
	int64_t key_version;
	char algorithm[32];
	char digest_alg[16];
	uint8_t digest[SD_DIGEST_MAX];
	size_t digest_len;
	char format[16];
	uint8_t sig[SD_SEAL_MAX]; /* the signature, or the DER CMS (cms) */
	size_t sig_len;
	char evidence_type[SD_EVIDENCE_TYPE_MAX + 1];
	char evidence_ref[SD_EVIDENCE_REF_MAX + 1];
	/* timestamp entries: the token's serial number (big-endian, as in
	 * the token) and TSA policy; digest is the message imprint, sig the
	 * token, request_hash the SHA-256 of the TimeStampReq */
	uint8_t tsa_serial[SD_TSA_SERIAL_MAX];
	size_t tsa_serial_len;
	char tsa_policy[SD_OID_MAX];
	int64_t signed_at_us;             /* microseconds since the epoch */
	uint8_t policy_hash[SD_HASH_LEN]; /* the policy in force */
	char detail[SD_DETAIL_MAX];       /* policy entries: what happened */

	/* set by the ledger */
	char instance[SD_NAME_MAX];
	int64_t seq;
	uint8_t entry_hash[SD_HASH_LEN];
	int replayed; /* 1: an earlier entry for this request was returned */

	/* key entries: the change this entry records, run on the writer's
	 * connection inside the entry's transaction; 0 or an SD_ERR_* that
	 * becomes the entry's result (nothing is committed) */
	int (*apply)(void *conn, void *arg);
	void *apply_arg;

	/* private to the ledger */
	int result;
	void (*done)(struct ledger_entry *, int, void *);
	void *done_arg;
	struct sd_qnode qnode;
};

/*
 * Checkpoints: the writer signs its chain head and Merkle root when it
 * opens, every `every` entries, after `seconds` of quiet with unsigned
 * entries, and when it stops (closing).  sign() is called with the 32-byte
 * checkpoint digest (ledger_checkpoint_digest) and returns 0 with the
 * signature, else an error (the checkpoint is tried again later).  pub
 * verifies them at start.
 */
struct ledger_checkpointer {
	int (*sign)(void *arg, const uint8_t digest[SD_HASH_LEN], uint8_t *sig,
	    size_t cap, size_t *siglen);
	void *arg;
	const char *key_label;
	const char *algorithm; /* "ecdsa-sha256", "rsa-pkcs1v15-sha256" */
	EVP_PKEY *pub;         /* the audit key's public key */
	unsigned int every;
	unsigned int seconds;
	/* each new signed head (ledger_note_format), once the database has
	 * its checkpoint: kept outside the database (may be NULL) */
	void (*witness)(void *arg, const char *note, size_t len);
};

/* A signed head kept outside the database, as read back at start. */
struct ledger_witnessed {
	const char *text;
	size_t len;
	const char *where; /* for messages: "the token", a file name */
};

/* A signed checkpoint of an instance's chain head. */
struct ledger_cp {
	int64_t seq;                     /* the head: entries 1..seq */
	uint8_t entry_hash[SD_HASH_LEN]; /* of entry seq */
	int has_root;                    /* 0: made before the Merkle tree */
	uint8_t root[SD_HASH_LEN];       /* Merkle root of entries 1..seq */
	int closing;                     /* made by a clean stop */
	int64_t signed_at_us;
	char key_label[SD_NAME_MAX];
	char algorithm[32];
	uint8_t sig[SD_SIG_MAX];
	size_t sig_len;
	uint8_t key_id[4]; /* a signed head's key ID (ledger_note_parse) */
};

/*
 * The digest the audit key signs, as docs/ledger-format.md says:
 * SHA-256("seald-checkpoint-v2\0" || str(instance) || int(seq) ||
 * bytes(entry_hash) || bytes(root) || int(closing) || int(signed_at_us)),
 * or for checkpoints without a root the v1 form (no root, no closing).
 */
void ledger_checkpoint_digest(
    const struct ledger_cp *cp, const char *instance, uint8_t out[SD_HASH_LEN]);

/* 1 when sig is a valid checkpoint signature by pub over digest (ECDSA, or
 * RSA PKCS#1 v1.5, with SHA-256). */
int ledger_checkpoint_sig_ok(EVP_PKEY *pub, const uint8_t digest[SD_HASH_LEN],
    const uint8_t *sig, size_t siglen);

/*
 * The signed head: checkpoint cp (with a root) of instance as a C2SP
 * signed note (docs/ledger-format.md), pub naming its key.  Returns the
 * text's length in out (cap bytes, NUL added), or -1.
 */
int ledger_note_format(const struct ledger_cp *cp, const char *instance,
    EVP_PKEY *pub, char *out, size_t cap);

/*
 * Read a signed head of at most SD_NOTE_MAX bytes into cp and instance
 * (icap bytes); its signature is not checked (ledger_note_signed).
 * Returns 0, or -1 with a reason in why.
 */
int ledger_note_parse(const char *text, size_t len, struct ledger_cp *cp,
    char *instance, size_t icap, char *why, size_t whylen);

/* 1 when a parsed head's key ID and signature are pub's. */
int ledger_note_signed(
    const struct ledger_cp *cp, const char *instance, EVP_PKEY *pub);

/* 1 when cp carries a valid signature by pub. */
int ledger_cp_signed(
    const struct ledger_cp *cp, const char *instance, EVP_PKEY *pub);

/* How seald checks its own chain (docs/ledger-format.md, "What seald
 * checks itself"). */
struct ledger_checks {
	int full_at_start;        /* the whole chain at start; else from the
				   * newest checkpoint on */
	unsigned int verify_rate; /* background verifier, entries a second;
				   * 0: none */
	/* the chain must reach the newest valid one of these (with cp) */
	const struct ledger_witnessed *heads;
	size_t nheads;
	/* the check at start, as it goes (may be NULL): entries checked */
	void (*progress)(void *arg, int64_t checked);
	void *progress_arg;
	/* each commit's deadline, ms (0: SD_COMMIT_MS_DEFAULT): see
	 * ledger_confirmed */
	unsigned int commit_ms;
};

/*
 * Connect with conninfo, check that the schema is migrated and that the
 * role cannot change the tables, take the instance lock (one writer per
 * instance name) and start the writer.  First check the stored chain as
 * chk says (the whole of it, or from the instance's last checkpoint:
 * signature, the checkpointed entry, the Merkle tree, every entry after
 * it) and refuse to open, naming the first bad position, when it does
 * not hold, unless allow_broken (the operator's explicit override:
 * ledger_open_problem then says what failed, for the caller to record;
 * later checks start from the head then).  With cp (may be NULL: no
 * checkpoints), sign an opening checkpoint of the head.  Then start the
 * background verifier (chk->verify_rate).
 * Returns NULL with a reason in errbuf (never the conninfo).  When the
 * database is down at start, fails: seald does not start blind.
 */
struct ledger *ledger_open(const char *conninfo, const char *instance,
    const struct ledger_checkpointer *cp, const struct ledger_checks *chk,
    int allow_broken, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* The newest signed head of instance (ledger_note_format's text) into
 * out: 0, or SD_ERR_NOT_FOUND (another instance, none yet, or cap too
 * small). */
int ledger_head_note(
    struct ledger *l, const char *instance, char *out, size_t cap);

/* The start-up check's failure that allow_broken let pass, or NULL. */
const char *ledger_open_problem(const struct ledger *l);

/* Commit what is queued, stop the writer, disconnect.  NULL accepted. */
void ledger_close(struct ledger *l);

/*
 * Queue e for commit.  done(e, r, arg) is called once, from the writer
 * thread, after the entry's COMMIT (r == 0; seq, entry_hash, instance set)
 * or its failure (r = SD_ERR_LEDGER, or SD_ERR_CONFLICT when
 * (client, request_id) exists with another request_hash; with r == 0 and
 * e->replayed == 1 the earlier entry's result was copied into e).  e must
 * stay valid until then.  Returns 0, or SD_ERR_BUSY/SD_ERR_SHUTDOWN when
 * the queue is full or closing (done is then not called).
 */
int ledger_submit(struct ledger *l, struct ledger_entry *e,
    void (*done)(struct ledger_entry *, int, void *), void *arg)
    __attribute__((warn_unused_result));

/*
 * Group commit: an entry is on its way (delta 1: its signature is being
 * made) or no longer (-1, before it is submitted, or when it will not
 * be).  While entries are on their way, the writer waits for them, at
 * most the batch wait (0, the default here: never), to commit them with
 * the entries it holds.
 */
void ledger_preparing(struct ledger *l, int delta);
void ledger_set_batch_wait(struct ledger *l, long us);

/* 1 when the writer is connected to the database, its last commit
 * worked and no check found the chain broken. */
int ledger_ready(struct ledger *l);

/* 0 once a check found the chain broken (fail closed: ledger_submit
 * refuses every entry from then on), else 1. */
int ledger_intact(struct ledger *l);

/* 0 while a commit was not confirmed by the synchronous standby within
 * the commit deadline and none has been since (ledger_open's
 * commit_timeout_ms): the database may hold entries that a failover would
 * lose, so none is released (503 ledger_unavailable; a retry settles it
 * once commits are confirmed again) and seald is not ready; else 1. */
int ledger_confirmed(struct ledger *l);

/* The deadline of each commit and read, in ms (database.commit_timeout_ms;
 * 0 for no ledger). */
long ledger_commit_ms(const struct ledger *l);

/* A commit that must wait for the synchronous standby, on rd's
 * connection and within l's commit deadline, before an entry the
 * database holds goes out (a replay, a client's read): 1 when it came
 * back in time, so the entry is on the standby too; else 0, and l is
 * unconfirmed. */
int ledger_reader_confirm(struct ledger_reader *rd, struct ledger *l);

/*
 * Submit a copy of e (signed_at_us 0: now) and wait for its commit, at
 * most wait_ms; wait_ms < 0 waits for the writer's answer, which always
 * comes (a key entry's apply_arg must outlive its transaction).  On
 * success e gets its instance, seq and entry_hash.  Returns 0, the error
 * of e's apply(), SD_ERR_LEDGER (not committed), or LEDGER_IN_DOUBT: the
 * connection broke during the COMMIT of an entry with apply() and could
 * not be brought back to ask (the writer settles it on its next
 * connection).  An entry with apply() needs wait_ms < 0.
 */
#define LEDGER_IN_DOUBT SD_ERR_TIMEOUT
int ledger_record(struct ledger *l, struct ledger_entry *e, long wait_ms)
    __attribute__((warn_unused_result));

/* A lookup connection (connects lazily, reconnects after errors); each
 * read on it is answered within read_ms (0: SD_COMMIT_MS_DEFAULT), or
 * fails with SD_ERR_LEDGER and the connection is dropped. */
struct ledger_reader *ledger_reader_new(const char *conninfo, long read_ms);
void ledger_reader_free(struct ledger_reader *rd);

/*
 * n lookup connections shared by threads (ledger_pool.c): take one for a
 * few reads, give it back.  A take waits while all n are taken: each is
 * held for reads bounded by read_ms.
 */
struct ledger_pool;
struct ledger_pool *ledger_pool_new(
    const char *conninfo, long read_ms, size_t n);
void ledger_pool_free(struct ledger_pool *p);
struct ledger_reader *ledger_pool_take(struct ledger_pool *p);
void ledger_pool_give(struct ledger_pool *p, struct ledger_reader *rd);

/*
 * Look up the entry recorded for (e->client, e->request_id).  When it is
 * the same request (same request_hash) its result is copied into e
 * (replayed = 1) and 0 returned; SD_ERR_CONFLICT when it is another
 * request; SD_ERR_NOT_FOUND when there is none; SD_ERR_LEDGER on error.
 */
int ledger_find_request(struct ledger_reader *rd, struct ledger_entry *e)
    __attribute__((warn_unused_result));

/*
 * entry_hash = SHA-256(canonical(entry) || prev_hash), the encoding of
 * docs/ledger-format.md.  Pure; instance and seq are taken from e.
 */
void ledger_entry_hash(const struct ledger_entry *e,
    const uint8_t prev[SD_HASH_LEN], uint8_t out[SD_HASH_LEN]);

/* A stored entry as read back: every field, and its link. */
struct ledger_row {
	struct ledger_entry e; /* instance, seq and entry_hash set */
	uint8_t prev_hash[SD_HASH_LEN];
};

/* An entry with its inclusion proof to the newest checkpoint covering it
 * (has_proof 0 when no checkpoint covers it yet). */
struct ledger_proof {
	struct ledger_row row;
	int has_proof;
	struct ledger_cp cp; /* tree size cp.seq, root cp.root */
	size_t npath;
	uint8_t path[MERKLE_PATH_MAX][SD_HASH_LEN]; /* sibling first */
};

/*
 * Entry seq of instance, with its proof (checked against the signed
 * root).  With client not NULL, only a signature or time-stamp entry of
 * that client is found: any other is SD_ERR_NOT_FOUND, by the same path
 * as a missing one (no proof built), so that the time it takes does not
 * tell another client's entry from none.  Returns 0, SD_ERR_NOT_FOUND, or
 * SD_ERR_LEDGER (also when the stored tree gives no valid proof).
 */
int ledger_get_entry(struct ledger_reader *rd, const char *instance,
    int64_t seq, const char *client, struct ledger_proof *out)
    __attribute__((warn_unused_result));

/*
 * fn(client, request_id, arg) for the last n signature requests
 * instance recorded, newest first.  Returns 0 or SD_ERR_LEDGER (fn may
 * have seen some).
 */
int ledger_last_requests(struct ledger_reader *rd, const char *instance,
    size_t n, void (*fn)(const char *client, const char *request_id, void *),
    void *arg) __attribute__((warn_unused_result));

/*
 * The newest genTime of instance's time-stamp tokens (0 when none): the
 * signed_at_us of its timestamp entries and of its cades-t seals, every
 * entry that has a tsa_serial; so that a restart never issues a token
 * older than the last one.  Returns 0 or SD_ERR_LEDGER.
 */
int ledger_last_stamp(struct ledger_reader *rd, const char *instance,
    int64_t *us) __attribute__((warn_unused_result));

/* How many entries of kind instance has.  0 or SD_ERR_LEDGER. */
int ledger_count(struct ledger_reader *rd, const char *instance,
    enum ledger_kind kind, int64_t *n) __attribute__((warn_unused_result));

/* Up to limit entries of instance after seq `after`, in seq order, into
 * out[0..*n).  Returns 0 or SD_ERR_LEDGER. */
int ledger_get_page(struct ledger_reader *rd, const char *instance,
    int64_t after, size_t limit, struct ledger_row *out, size_t *n)
    __attribute__((warn_unused_result));

/* "signature", "policy" or "override": the kind column and the hashed
 * kind name. */
const char *ledger_kind_name(enum ledger_kind k);

/* 1 when a signature entry of this format carries a time-stamp token
 * (cades-t): its tsa_serial and tsa_policy are then hashed too. */
int ledger_format_stamped(const char *format);

/* The kind named s; -1 when s names none. */
int ledger_kind_from(const char *s);

/* What ledger_verify found for one instance. */
struct ledger_verdict {
	char instance[SD_NAME_MAX];
	int ok;                  /* the whole chain holds */
	int64_t entries;         /* entries read */
	int64_t head_seq;        /* last seq when ok */
	int64_t bad_seq;         /* first bad position when not ok */
	int64_t checkpoints;     /* checkpoints checked */
	int64_t last_checkpoint; /* seq of the newest, 0 when none */
	char problem[320];       /* what is wrong there */
};

/*
 * Check every instance's chain in one read-only snapshot (SELECT only),
 * calling report once per instance.  Each checkpoint's entry must be in
 * the chain with the checkpointed hash (a removed tail shows), and with
 * audit (may be NULL: signatures not checked) its signature must verify;
 * with audit, each chain must reach the newest of the witnessed heads
 * w[0..nw) that is its own (ledger_witness_check).  Then the keys table
 * against the key events (ledger_keys_audit): keys_report (may be NULL)
 * gets how many versions it holds and the first problem (NULL: none).
 * Returns 0 when every chain and the keys hold,
 * SD_ERR_CONFLICT when one does not, SD_ERR_LEDGER when the database
 * could not be read (reason in errbuf).
 */
int ledger_verify(const char *conninfo, EVP_PKEY *audit,
    const struct ledger_witnessed *w, size_t nw,
    void (*report)(const struct ledger_verdict *, void *),
    void (*keys_report)(int64_t versions, const char *problem, void *),
    void *arg, char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* Apply the embedded migrations not yet applied (one transaction, under
 * an advisory lock).  Returns 0 or SD_ERR_LEDGER with a reason. */
int ledger_migrate(const char *conninfo, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

#endif
