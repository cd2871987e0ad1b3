/*
 * sealctl ledger prove: checks a proof document (GET /v1/ledger/{instance}
 * /{seq}, `sealctl ledger entry`) offline, trusting nothing but the audit
 * public key given: the entry's fields give its entry_hash, the inclusion
 * path leads from its leaf to the Merkle root, and the audit key signed
 * that root in a checkpoint.  With --document, the entry's digest must be
 * the digest of that file.  Exit 0 when all holds, 1 when something does
 * not, 2 on usage or unreadable input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ledger.h"
#include "ledger_json.h"
#include "merkle.h"
#include "sealctl.h"

#define PROOF_FILE_MAX (256 * 1024)

static int
fail(const char *what)
{
	fprintf(stderr, "sealctl: proof FAILED: %s\n", what);
	return 1;
}

static json_t *
load(const char *path)
{
	json_error_t je;
	json_t *doc;

	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (doc == NULL)
		fprintf(stderr, "sealctl: %s:%d: %s\n", path, je.line, je.text);
	return doc;
}

static int
file_small(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL) {
		fprintf(stderr, "sealctl: %s: %s\n", path, strerror(errno));
		return 0;
	}
	n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
	fclose(f);
	if (n < 0 || n > PROOF_FILE_MAX) {
		fprintf(stderr, "sealctl: %s: not a proof (over %d bytes)\n",
		    path, PROOF_FILE_MAX);
		return 0;
	}
	return 1;
}

/* With --document: the entry's digest is the document's. */
static int
check_document(const struct ledger_entry *e, const char *doc)
{
	uint8_t d[EVP_MAX_MD_SIZE];
	const EVP_MD *md;
	size_t n = 0;

	if (e->kind != LEDGER_SIGNATURE && e->kind != LEDGER_TIMESTAMP)
		return fail("--document: the entry is not a signature or a "
			    "time-stamp");
	if ((md = sealctl_md_by_name(e->digest_alg)) == NULL)
		return fail("--document: unknown digest algorithm");
	if (sealctl_hash_file(doc, md, d, &n) != 0)
		return 2;
	if (n != e->digest_len || memcmp(d, e->digest, n) != 0)
		return fail("the document's digest is not the entry's digest");
	return 0;
}

static int
check(const struct ledger_proof *p, EVP_PKEY *audit, const char *doc)
{
	const struct ledger_entry *e = &p->row.e;
	uint8_t h[SD_HASH_LEN], root[SD_HASH_LEN];
	char when[32];
	time_t t;
	int r;

	ledger_entry_hash(e, p->row.prev_hash, h);
	if (memcmp(h, e->entry_hash, SD_HASH_LEN) != 0)
		return fail("the entry's fields do not give its entry_hash "
			    "(the entry was changed)");
	if (!p->has_proof)
		return fail("no checkpoint covers this entry yet: fetch the "
			    "proof again after the next checkpoint");
	if (merkle_proof_root((uint64_t)e->seq - 1, (uint64_t)p->cp.seq,
		e->entry_hash, (const uint8_t(*)[SD_HASH_LEN])p->path, p->npath,
		root) != 0 ||
	    memcmp(root, p->cp.root, SD_HASH_LEN) != 0)
		return fail("the inclusion path does not lead to the "
			    "checkpoint's Merkle root");
	if (!ledger_cp_signed(&p->cp, e->instance, audit))
		return fail("the checkpoint is not signed by the audit key");
	if (doc != NULL && (r = check_document(e, doc)) != 0)
		return r;
	t = (time_t)(p->cp.signed_at_us / 1000000);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	printf("proof OK: %s entry %lld of instance %s%s%s is leaf %lld of "
	       "the tree of %lld entries whose root the audit key signed at "
	       "%s%s\n",
	    ledger_kind_name(e->kind), (long long)e->seq, e->instance,
	    e->kind == LEDGER_SIGNATURE ? ", request " : "",
	    e->kind == LEDGER_SIGNATURE ? e->request_id : "",
	    (long long)e->seq - 1, (long long)p->cp.seq, when,
	    doc != NULL ? "; the document matches its digest" : "");
	return 0;
}

int
sealctl_cmd_ledger_prove(int argc, char **argv)
{
	const char *file, *keyfile = NULL, *doc = NULL;
	const struct sealctl_opt opts[] = {
		{ "--audit-key", &keyfile, NULL },
		{ "--document", &doc, NULL },
	};
	struct ledger_proof *p;
	EVP_PKEY *audit = NULL;
	char err[256];
	json_t *j = NULL;
	int r = 2;

	if (sealctl_parse("ledger prove", argc, argv, opts, SEALCTL_NOPTS(opts),
		&file, 1) != 0)
		return 2;
	if (file == NULL || keyfile == NULL)
		return sealctl_usage_error(
		    "ledger prove", "give the proof FILE and --audit-key PEM");
	if ((p = malloc(sizeof(*p))) == NULL)
		return 2;
	if ((audit = sealctl_read_audit_key(keyfile)) == NULL ||
	    !file_small(file) || (j = load(file)) == NULL)
		goto out;
	if (ledger_json_read_proof(j, p, err, sizeof(err)) != 0) {
		fprintf(stderr, "sealctl: %s: %s\n", file, err);
		goto out;
	}
	r = check(p, audit, doc);
out:
	json_decref(j);
	EVP_PKEY_free(audit);
	free(p);
	return r;
}
