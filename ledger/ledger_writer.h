/*
 * ledger_writer: the group-commit writer's state, shared by the files
 * that make it (never included outside ledger/): ledger.c runs the
 * thread, its queue and checkpoints; ledger_session.c keeps its
 * connection (set up, checked, lost, back); ledger_insert.c writes a
 * batch as one INSERT; ledger_write.c turns what the database answered,
 * or did not, into each entry's result.  Every function here runs on
 * the writer thread (or, before it starts and after it stopped, on the
 * opener's and closer's).
 */
#ifndef SD_LEDGER_WRITER_H
#define SD_LEDGER_WRITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "ledger.h"
#include "merkle.h"
#include "queue.h"
#include "sd_limits.h"

#define INSERT_LOST 1 /* ledger_insert_rows: connection lost */
/* ledger_insert_rows: committed here, but not confirmed by the standby
 * (ledger_bounded.c): the head advanced, the entries are in doubt */
#define INSERT_UNCONFIRMED 2

struct ledger {
	char conninfo[SD_CONNINFO_MAX];
	char instance[SD_NAME_MAX];
	PGconn *conn;     /* writer thread only */
	int64_t head_seq; /* writer thread only */
	uint8_t head_hash[SD_HASH_LEN];
	struct timespec last_connect;

	pthread_t thread;
	struct sd_queue queue;
	atomic_int connected; /* for ledger_ready() */
	/* the last commit worked, or since it failed the database said it
	 * takes writes (the idle check): for ledger_ready() */
	atomic_int writes_ok;
	/* a commit was not confirmed (synchronous replication) and none has
	 * been since: entries the database holds are not released, and
	 * seald is not ready; and each commit's deadline */
	atomic_int unconfirmed;
	int unconfirmed_said; /* writer thread only: logged */
	long commit_ms;
	/* group commit: entries on their way (ledger_preparing), and how
	 * long a commit may wait for them */
	atomic_int preparing;
	atomic_long batch_wait_us;

	/* writer thread only: the Merkle tree of the chain seald committed
	 * (tree.size entries, the last one tree_head), and the batch whose
	 * commit may be in doubt while the connection comes back */
	struct merkle_frontier tree;
	uint8_t tree_head[SD_HASH_LEN];
	int have_tree;
	struct doubt {
		int64_t seq;
		uint8_t hash[SD_HASH_LEN];
	} doubt[SD_LEDGER_BATCH_MAX]; /* entries whose commit is in doubt */
	size_t ndoubt;

	int have_cp; /* checkpoints configured */
	struct ledger_checkpointer cp;
	int64_t cp_seq;          /* writer thread only: last checkpoint */
	int64_t cp_last_us;      /* and its time (the next is later) */
	struct timespec cp_time; /* when it was made (or last tried) */
	int down_logged;         /* writer thread only: "down" said once */
	/* writer thread only: the session holding the instance lock, as the
	 * server knows it (pid, start), to end it if it outlives a cut */
	char lock_pid[16], lock_start[64];
	char lock_tag[64], lock_held_tag[64]; /* its application_name */
	char problem[256]; /* the failed start check, when overridden */
	/* the server the writer's session is on ("host port", from libpq),
	 * for the verifier to read that one: after a failover the old
	 * primary may still answer (ledger_server_is) */
	pthread_mutex_t server_mu;
	char server[SD_CONNINFO_MAX + 16];
	pthread_mutex_t note_mu;
	char note[SD_NOTE_MAX]; /* the newest signed head ("": none yet) */

	/* the background verifier (ledger_watch.c) */
	atomic_llong committed_seq;      /* the head the writer committed */
	atomic_int intact;               /* 0 once a check found a break */
	unsigned int verify_rate;        /* entries a second; 0: none */
	int64_t watch_from;              /* passes start after this entry ... */
	uint8_t watch_hash[SD_HASH_LEN]; /* ... of this hash, */
	struct merkle_frontier watch_tree; /* this tree (override) */
	pthread_t watcher;
	int have_watcher;
	pthread_mutex_t watch_mu;
	pthread_cond_t watch_cond; /* watch_stop set */
	atomic_int watch_stop;
};

/* The chain is broken at seq: refuse every entry from now on, say so
 * once (log, /metrics). */
void ledger_fail_closed(struct ledger *l, int64_t seq, const char *problem);

/* Start and stop the background verifier (none with verify_rate 0). */
int ledger_watch_start(struct ledger *l);
void ledger_watch_stop(struct ledger *l);

/* Close the connection (readiness false until the next one). */
void ledger_session_drop(struct ledger *l);

/* Connect, check schema and role, take the instance lock (ending
 * seald's own stale session if it holds it), read the chain head and
 * check it against what seald committed, prepare the statements.  0, or
 * SD_ERR_LEDGER with a reason in errbuf. */
int ledger_session_open(struct ledger *l, char *errbuf, size_t errlen);

/* 1 when c is on the server the writer's session is on (libpq's host
 * and port; any thread). */
int ledger_server_is(struct ledger *l, PGconn *c);

/* Bring the connection up unless it is (at most once per 200 ms when
 * rate_limited); 0 when connected. */
int ledger_session_ensure(struct ledger *l, int rate_limited);

/* Idle: check the connection, or try to bring it back. */
/* A commit worked (ok) or failed, or the idle check found the database
 * taking writes or not: readiness follows, and the log says each turn. */
void ledger_writes_seen(struct ledger *l, int ok);

/* A commit's result (0, SD_ERR_CONFLICT, INSERT_UNCONFIRMED, an error):
 * ledger_writes_seen, and ledger_confirmed's state (ledger_write.c). */
void ledger_commit_seen(struct ledger *l, int r);

/* A commit that waits for the synchronous standby (ledger_pq_confirm) on
 * the writer's connection: 1 when confirmed (ledger_confirmed is true
 * again), else 0 (false). */
int ledger_confirm(struct ledger *l);

void ledger_session_heartbeat(struct ledger *l);

/*
 * INSERT entries b[0..n) as one statement, chained from the current head,
 * with the Merkle subtrees they complete.  Returns 0 (head and tree
 * advanced), SD_ERR_CONFLICT when the (client, request_id) constraint
 * fired, INSERT_LOST, INSERT_UNCONFIRMED (head advanced), or
 * SD_ERR_LEDGER.
 */
int ledger_insert_rows(struct ledger *l, struct ledger_entry **b, size_t n);

/* Write b[0..n) and set each entry's result: runs of plain entries in
 * one batch each, entries with a change (apply) alone in their own
 * transaction, in queue order. */
void ledger_write_all(struct ledger *l, struct ledger_entry **b, size_t n);

/* The commits' families in /metrics (ledger_open). */
void ledger_write_add_metrics(void);

#endif
