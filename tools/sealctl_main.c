/*
 * sealctl: the command-line client of seald.  It talks HTTP over the
 * service socket through libcurl (no hand-written HTTP) and prints the
 * daemon's JSON answer.  Exit status: 0 on success, 1 when seald answered
 * with an error, 2 on usage errors, 3 when seald could not be reached.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/rand.h>

#include "b64.h"
#include "err.h"
#include "ledger.h"
#include "name.h"
#include "policy.h"
#include "sd_limits.h"
#include "sealctl.h"
#include "version.h"

/* Print the reply; on error also the error code and message to stderr. */
static int
report(long status, const struct sealctl_buf *b)
{
	json_t *root, *e;

	printf("%s\n", b->p != NULL ? b->p : "");
	if (status == 200)
		return 0;
	root = json_loads(b->p != NULL ? b->p : "", 0, NULL);
	e = json_object_get(json_object_get(root, "error"), "message");
	fprintf(stderr, "sealctl: HTTP %ld: %s\n", status,
	    json_is_string(e) ? json_string_value(e) : "error");
	json_decref(root);
	return 1;
}

/* A digest file holds the raw digest or its hex (a newline may follow). */
static int
read_digest(const char *path, size_t want, uint8_t *out)
{
	unsigned char raw[2 * SD_DIGEST_MAX + 2];
	size_t n, i;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "sealctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(raw, 1, sizeof(raw), f);
	fclose(f);
	if (n == want) {
		memcpy(out, raw, want);
		return 0;
	}
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
		n--;
	if (n == 2 * want) {
		for (i = 0; i < want; i++) {
			int hi = sd_hexval(raw[2 * i]),
			    lo = sd_hexval(raw[2 * i + 1]);

			if (hi < 0 || lo < 0)
				break;
			out[i] = (uint8_t)(hi << 4 | lo);
		}
		if (i == want)
			return 0;
	}
	fprintf(stderr, "sealctl: %s: not a %zu-byte digest (raw or hex)\n",
	    path, want);
	return -1;
}

static int
write_sig(const char *path, const struct sealctl_buf *b)
{
	static uint8_t sig[SD_SEAL_MAX];
	json_t *root, *s;
	size_t n = 0;
	int r = -1;

	root = json_loads(b->p, 0, NULL);
	s = json_object_get(root, "signature");
	if (json_is_string(s) &&
	    b64_decode(json_string_value(s), json_string_length(s), sig,
		sizeof(sig), &n) == 0)
		r = sealctl_write_file(path, sig, n);
	else
		fprintf(stderr, "sealctl: no signature in the reply\n");
	json_decref(root);
	return r;
}

/* The options of sign. */
struct sign_args {
	const char *key, *file, *dfile, *alg, *rid, *etype, *eref, *outsig;
	const char *format;
};

/* argv into a: 0, or 2 with the problem on stderr. */
static int
sign_args(int argc, char **argv, struct sign_args *a)
{
	const struct sealctl_opt opts[] = {
		{ "--key", &a->key, NULL },
		{ "--file", &a->file, NULL },
		{ "--digest-file", &a->dfile, NULL },
		{ "--digest-alg", &a->alg, NULL },
		{ "--request-id", &a->rid, NULL },
		{ "--evidence-type", &a->etype, NULL },
		{ "--evidence-ref", &a->eref, NULL },
		{ "--out-sig", &a->outsig, NULL },
		{ "--format", &a->format, NULL },
	};

	memset(a, 0, sizeof(*a));
	a->alg = "sha256";
	a->format = "raw";
	if (sealctl_parse(
		"sign", argc, argv, opts, SEALCTL_NOPTS(opts), NULL, 0) != 0)
		return 2;
	if (a->key == NULL)
		return sealctl_usage_error("sign", "--key NAME is required");
	if ((a->file == NULL) == (a->dfile == NULL))
		return sealctl_usage_error(
		    "sign", "give one of --file and --digest-file");
	if (a->eref != NULL && a->etype == NULL)
		return sealctl_usage_error(
		    "sign", "--evidence-ref needs --evidence-type");
	if (strcmp(a->format, "raw") != 0 && strcmp(a->format, "cms") != 0 &&
	    strcmp(a->format, "cades-t") != 0)
		return sealctl_usage_error("sign",
		    "--format is raw, cms or cades-t, not \"%.40s\"",
		    a->format);
	if (sealctl_md_by_name(a->alg) == NULL)
		return sealctl_usage_error("sign",
		    "--digest-alg is sha256, sha384 or sha512, not \"%.40s\"",
		    a->alg);
	return 0;
}

/* The JSON body of a sign request for the digest dg (dlen bytes); a
 * random request_id when a names none.  NULL when it cannot be made. */
static char *
sign_body(const struct sign_args *a, const uint8_t *dg, size_t dlen)
{
	char b64[B64_ENCODED_LEN(SD_DIGEST_MAX) + 1], ridbuf[48];
	const char *rid = a->rid;
	uint8_t rnd[16];
	json_t *req;
	char *body;
	size_t i;

	if (rid == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return NULL;
		memcpy(ridbuf, "sealctl-", 8);
		for (i = 0; i < sizeof(rnd); i++)
			snprintf(ridbuf + 8 + 2 * i, 3, "%02x", rnd[i]);
		rid = ridbuf;
	}
	if (b64_encode(dg, dlen, b64, sizeof(b64)) != 0)
		return NULL;
	req = json_pack("{s:s,s:s,s:s,s:s,s:s}", "key", a->key, "digest", b64,
	    "digest_alg", a->alg, "request_id", rid, "format", a->format);
	if (req != NULL && a->etype != NULL)
		json_object_set_new(req, "evidence",
		    a->eref != NULL ? json_pack("{s:s,s:s}", "type", a->etype,
					  "ref", a->eref)
				    : json_pack("{s:s}", "type", a->etype));
	body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	return body;
}

static int
cmd_sign(const char *sock, int argc, char **argv)
{
	struct sealctl_buf b = { NULL, 0, 0 };
	struct sign_args a;
	uint8_t dg[SD_DIGEST_MAX];
	const EVP_MD *md = NULL;
	char *body;
	size_t dlen = 0;
	long status = 0;
	int r;

	if (sign_args(argc, argv, &a) != 0)
		return 2;
	md = sealctl_md_by_name(a.alg);
	if (a.file != NULL) {
		if (sealctl_hash_file(a.file, md, dg, &dlen) != 0)
			return 2;
	} else {
		dlen = (size_t)EVP_MD_get_size(md);
		if (read_digest(a.dfile, dlen, dg) != 0)
			return 2;
	}
	if ((body = sign_body(&a, dg, dlen)) == NULL)
		return 2;
	r = sealctl_call(sock, "POST", "/v1/sign", "application/json", body,
	    strlen(body), &status, &b);
	free(body);
	if (r != 0) {
		free(b.p);
		return 3;
	}
	r = report(status, &b);
	if (r == 0 && a.outsig != NULL && write_sig(a.outsig, &b) != 0)
		r = 1;
	free(b.p);
	return r;
}

static int
cmd_get(const char *sock, const char *path)
{
	struct sealctl_buf b = { NULL, 0, 0 };
	long status = 0;
	int r;

	if (sealctl_call(sock, "GET", path, NULL, NULL, 0, &status, &b) != 0) {
		free(b.p);
		return 3;
	}
	r = report(status, &b);
	free(b.p);
	return r;
}

static void
print_line(const char *line, void *arg)
{
	(void)arg;
	printf("  %s\n", line);
}

/* policy check FILE: validate offline, print what each client may do. */
/* policy check --elsewhere: a name this machine does not know. */
static void
print_unresolved(const char *kind, const char *name, unsigned long line,
    unsigned long column, void *arg)
{
	const char *path = arg;

	printf("  %s:%lu:%lu: %s '%s' is unknown here: it matches no caller "
	       "until the machine that runs seald has it\n",
	    path, line, column, kind, name);
}

/*
 * policy check FILE [--elsewhere]: the policy as seald would load it, and
 * what each client, officer and auditor may do.  With --elsewhere, for
 * another machine: user and group names this one lacks are listed, not
 * refused.  Exit 0 when it loads, 1 when not (FILE:LINE:COLUMN on
 * stderr), 2 for usage.
 */
static int
cmd_policy_check(int argc, char **argv)
{
	const char *path;
	int elsewhere = 0;
	const struct sealctl_opt opts[] = {
		{ "--elsewhere", NULL, &elsewhere },
	};
	const uint8_t *h;
	struct policy *p;
	char err[512];
	int i;

	if (sealctl_parse("policy check", argc, argv, opts, SEALCTL_NOPTS(opts),
		&path, 1) != 0)
		return 2;
	if (path == NULL)
		return sealctl_usage_error(
		    "policy check", "give the policy FILE");
	if (elsewhere)
		printf("%s: names are checked for another machine:\n", path);
	p = elsewhere ? policy_load_elsewhere(path, print_unresolved,
			    (void *)path, err, sizeof(err))
		      : policy_load(path, err, sizeof(err));
	if (p == NULL) {
		fprintf(stderr, "sealctl: %s\n", err);
		return 1;
	}
	h = policy_hash(p);
	printf("%s: OK, sha256 ", path);
	for (i = 0; i < SD_HASH_LEN; i++)
		printf("%02x", h[i]);
	printf("\n");
	policy_describe(p, print_line, NULL);
	policy_free(p);
	return 0;
}

static void
key_cells(json_t *row, struct sealctl_cells *c)
{
	json_t *u = json_object_get(row, "usage");
	json_t *f = json_object_get(row, "formats");
	const char *pem = sealctl_str_of(row, "certificate", NULL);
	BIO *b = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	struct tm tm;

	c->cell[0] = sealctl_str_of(row, "name", "?");
	c->cell[1] = sealctl_int_of(row, "version", c->num, sizeof(c->num));
	c->cell[2] = sealctl_str_of(row, "algorithm", "?");
	c->cell[3] = sealctl_join(u, c->list[0], sizeof(c->list[0]));
	c->cell[4] = sealctl_join(f, c->list[1], sizeof(c->list[1]));
	c->cell[5] = "-";
	if (x != NULL && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1 &&
	    strftime(c->time, sizeof(c->time), "%Y-%m-%d", &tm) > 0)
		c->cell[5] = c->time;
	X509_free(x);
	BIO_free(b);
}

/* keys [--json]: GET /v1/keys, the keys this caller may use, as a table
 * (or the reply as it came). */
static int
cmd_keys(const char *sock, int argc, char **argv)
{
	static const char *const head[SEALCTL_TABLE_COLS] = { "NAME", "VERSION",
		"ALGORITHM", "USAGE", "FORMATS", "CERT-EXPIRES" };
	struct sealctl_buf b = { NULL, 0, 0 };
	int json = 0;
	const struct sealctl_opt opts[] = { { "--json", NULL, &json } };
	json_t *root, *rows;
	long status = 0;
	int r;

	if (sealctl_parse(
		"keys", argc, argv, opts, SEALCTL_NOPTS(opts), NULL, 0) != 0)
		return 2;
	if (sealctl_call(sock, "GET", "/v1/keys", NULL, NULL, 0, &status, &b) !=
	    0) {
		free(b.p);
		return 3;
	}
	if (json || status != 200) {
		r = report(status, &b);
		free(b.p);
		return r;
	}
	root = json_loadb(b.p != NULL ? b.p : "", b.len, 0, NULL);
	free(b.p);
	if (!json_is_array(rows = json_object_get(root, "keys"))) {
		json_decref(root);
		return sealctl_bad_reply("\"keys\"");
	}
	sealctl_table(rows, head, key_cells);
	json_decref(root);
	return 0;
}

/* The witnessed head given to ledger verify, and whether its instance
 * was among the chains. */
struct witness_arg {
	struct ledger_witnessed w;
	char text[SD_NOTE_MAX];
	char instance[SD_NAME_MAX];
	int64_t seq;
	int seen;
};

static void
print_verdict(const struct ledger_verdict *v, void *arg)
{
	struct witness_arg *wa = arg;

	if (wa != NULL && strcmp(v->instance, wa->instance) == 0)
		wa->seen = 1;
	if (v->ok && v->head_seq > v->last_checkpoint)
		/* what no checkpoint signs yet could be cut off unseen */
		printf(
		    "instance %s: OK, %lld entries, chain head at seq %lld, "
		    "%lld checkpoints (last at seq %lld); entries %lld..%lld "
		    "are not under a checkpoint yet\n",
		    v->instance, (long long)v->entries, (long long)v->head_seq,
		    (long long)v->checkpoints, (long long)v->last_checkpoint,
		    (long long)v->last_checkpoint + 1, (long long)v->head_seq);
	else if (v->ok)
		printf("instance %s: OK, %lld entries, chain head at seq %lld, "
		       "%lld checkpoints (last at seq %lld)\n",
		    v->instance, (long long)v->entries, (long long)v->head_seq,
		    (long long)v->checkpoints, (long long)v->last_checkpoint);
	else
		printf("instance %s: BROKEN at seq %lld: %s\n", v->instance,
		    (long long)v->bad_seq, v->problem);
}

static void
print_keys(int64_t versions, const char *problem, void *arg)
{
	(void)arg;
	if (problem == NULL)
		printf("keys: OK, %lld versions, each as its key events in the "
		       "ledger left it\n",
		    (long long)versions);
	else
		printf("keys: BROKEN: %s\n", problem);
}

/* --witness FILE: a signed head (`sealctl ledger head`, seald's
 * ledger.witness_file) of the audit key's, into wa.  0, or 2 (said). */
static int
read_witness(const char *path, EVP_PKEY *audit, struct witness_arg *wa)
{
	struct ledger_cp cp;
	char why[128];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "sealctl: %s: %s\n", path, strerror(errno));
		return 2;
	}
	n = fread(wa->text, 1, sizeof(wa->text), f);
	fclose(f);
	if (n >= sizeof(wa->text) ||
	    ledger_note_parse(wa->text, n, &cp, wa->instance,
		sizeof(wa->instance), why, sizeof(why)) != 0) {
		fprintf(stderr, "sealctl: %s: %s\n", path,
		    n >= sizeof(wa->text) ? "longer than a signed head" : why);
		return 2;
	}
	if (!ledger_note_signed(&cp, wa->instance, audit)) {
		fprintf(stderr,
		    "sealctl: %s: not signed by the audit key (its key ID or "
		    "signature does not match)\n",
		    path);
		return 2;
	}
	wa->w.text = wa->text;
	wa->w.len = n;
	wa->w.where = path;
	wa->seq = cp.seq;
	return 0;
}

/*
 * ledger verify --db CONNINFO [--audit-key PEM [--witness FILE]]: every
 * chain, from a read-only snapshot, and every checkpoint (signatures too
 * with the audit key); a witnessed head's chain must reach it.  Exit 0
 * when all hold, 1 when one does not, 2 for usage, 3 when the database
 * cannot be read.
 */
static int
cmd_ledger_verify(int argc, char **argv)
{
	const char *db = NULL, *keyfile = NULL, *wfile = NULL;
	const struct sealctl_opt opts[] = {
		{ "--db", &db, NULL },
		{ "--audit-key", &keyfile, NULL },
		{ "--witness", &wfile, NULL },
	};
	static struct witness_arg wa;
	EVP_PKEY *audit = NULL;
	char err[512];
	int r;

	if (sealctl_parse("ledger verify", argc, argv, opts,
		SEALCTL_NOPTS(opts), NULL, 0) != 0)
		return 2;
	if (db == NULL)
		return sealctl_usage_error(
		    "ledger verify", "--db CONNINFO is required");
	if (keyfile != NULL &&
	    (audit = sealctl_read_audit_key(keyfile)) == NULL)
		return 2;
	if (audit == NULL && wfile != NULL)
		return sealctl_usage_error(
		    "ledger verify", "--witness needs --audit-key");
	if (audit == NULL)
		fprintf(stderr,
		    "sealctl: no --audit-key: checkpoint "
		    "signatures are not checked\n");
	if (wfile != NULL && read_witness(wfile, audit, &wa) != 0) {
		EVP_PKEY_free(audit);
		return 2;
	}
	r = ledger_verify(db, audit, &wa.w, wfile != NULL ? 1 : 0,
	    print_verdict, print_keys, wfile != NULL ? &wa : NULL, err,
	    sizeof(err));
	EVP_PKEY_free(audit);
	if (r != SD_ERR_LEDGER && wfile != NULL && !wa.seen) {
		printf("instance %s: BROKEN at seq 1: the database holds none "
		       "of its entries; the witnessed head is at seq %lld\n",
		    wa.instance, (long long)wa.seq);
		return 1;
	}
	if (r == SD_ERR_LEDGER) {
		fprintf(stderr, "sealctl: %s\n", err);
		return 3;
	}
	if (r != 0) {
		fprintf(stderr, "sealctl: %s\n", err);
		return 1;
	}
	return 0;
}

/* 1 when s is one or more decimal digits. */
static int
digits(const char *s)
{
	return s[0] != '\0' && strspn(s, "0123456789") == strlen(s);
}

/*
 * ledger entry INSTANCE SEQ | ledger list INSTANCE [--after SEQ]
 * [--limit N]: GET /v1/ledger/..., the reply printed as it came.
 */
static int
cmd_ledger_get(const char *sock, int argc, char **argv)
{
	const char *after = "0", *limit = NULL, *pos[2];
	const struct sealctl_opt opts[] = {
		{ "--after", &after, NULL },
		{ "--limit", &limit, NULL },
	};
	int entry = strcmp(argv[0], "entry") == 0;
	const char *cmd = entry ? "ledger entry" : "ledger list";
	char path[256];

	if (sealctl_parse(cmd, argc - 1, argv + 1, opts,
		entry ? 0 : SEALCTL_NOPTS(opts), pos, entry ? 2 : 1) != 0)
		return 2;
	if (pos[0] == NULL || !sd_name_valid(pos[0], strlen(pos[0])))
		return sealctl_usage_error(cmd, "give the INSTANCE's name");
	if (entry) {
		if (pos[1] == NULL || !digits(pos[1]))
			return sealctl_usage_error(cmd, "give a SEQ (digits)");
		snprintf(
		    path, sizeof(path), "/v1/ledger/%s/%s", pos[0], pos[1]);
		return cmd_get(sock, path);
	}
	if (!digits(after) || (limit != NULL && !digits(limit)))
		return sealctl_usage_error(
		    cmd, "--after and --limit take digits");
	snprintf(path, sizeof(path), "/v1/ledger/%s?after=%s%s%s", pos[0],
	    after, limit != NULL ? "&limit=" : "", limit != NULL ? limit : "");
	return cmd_get(sock, path);
}

/*
 * ledger head INSTANCE: GET /v1/ledger/INSTANCE/head, the signed head's
 * text alone (a file for `ledger verify --witness`).
 */
static int
cmd_ledger_head(const char *sock, int argc, char **argv)
{
	struct sealctl_buf b = { NULL, 0, 0 };
	const char *pos[1];
	json_t *root = NULL;
	char path[128];
	long status = 0;
	int r = 3;

	if (sealctl_parse("ledger head", argc, argv, NULL, 0, pos, 1) != 0)
		return 2;
	if (pos[0] == NULL || !sd_name_valid(pos[0], strlen(pos[0])))
		return sealctl_usage_error(
		    "ledger head", "give the INSTANCE's name");
	snprintf(path, sizeof(path), "/v1/ledger/%s/head", pos[0]);
	if (sealctl_call(sock, "GET", path, NULL, NULL, 0, &status, &b) != 0)
		goto out;
	root = b.p != NULL ? json_loadb(b.p, b.len, 0, NULL) : NULL;
	if (status != 200) {
		sealctl_print_error(status, root);
		r = 1;
	} else if (json_string_value(json_object_get(root, "signed_head")) ==
	    NULL) {
		r = sealctl_bad_reply("\"signed_head\"");
	} else {
		fputs(json_string_value(json_object_get(root, "signed_head")),
		    stdout);
		r = 0;
	}
out:
	json_decref(root);
	free(b.p);
	return r;
}

/* The command at argv[0] (with its own arguments after it), on the
 * service socket sock: its exit status. */
static int
run(const char *sock, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";

	if (strcmp(argv[0], "sign") == 0)
		return cmd_sign(sock, argc - 1, argv + 1);
	if (strcmp(argv[0], "timestamp") == 0)
		return sealctl_cmd_timestamp(sock, argc - 1, argv + 1);
	if (strcmp(argv[0], "verify") == 0)
		return sealctl_cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[0], "keys") == 0)
		return cmd_keys(sock, argc - 1, argv + 1);
	if (strcmp(argv[0], "key") == 0 || strcmp(argv[0], "-a") == 0)
		return sealctl_cmd_key(argc, argv);
	if (strcmp(argv[0], "policy") == 0 && strcmp(sub, "check") == 0)
		return cmd_policy_check(argc - 2, argv + 2);
	if (strcmp(argv[0], "ledger") == 0 && strcmp(sub, "verify") == 0)
		return cmd_ledger_verify(argc - 2, argv + 2);
	if (strcmp(argv[0], "ledger") == 0 && strcmp(sub, "prove") == 0)
		return sealctl_cmd_ledger_prove(argc - 2, argv + 2);
	if (strcmp(argv[0], "ledger") == 0 && strcmp(sub, "head") == 0)
		return cmd_ledger_head(sock, argc - 2, argv + 2);
	if (strcmp(argv[0], "ledger") == 0 &&
	    (strcmp(sub, "entry") == 0 || strcmp(sub, "list") == 0))
		return cmd_ledger_get(sock, argc - 1, argv + 1);
	if (strcmp(argv[0], "ledger") == 0 || strcmp(argv[0], "policy") == 0)
		return sealctl_usage_error(
		    NULL, "unknown command \"%s %.40s\"", argv[0], sub);
	return sealctl_usage_error(NULL, "unknown command \"%.40s\"", argv[0]);
}

int
main(int argc, char **argv)
{
	const char *sock = getenv("SEALD_SOCKET");
	int i = 1, r;

	if (argc == 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
		strcmp(argv[1], "help") == 0)) {
		sealctl_usage(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("sealctl %s\n", SD_VERSION);
		return 0;
	}
	if (sock == NULL || *sock == '\0')
		sock = SEALCTL_SERVICE_SOCKET;
	if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
		sock = argv[i + 1];
		i += 2;
	}
	if (i >= argc)
		return sealctl_usage_error(NULL, "give a command");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = run(sock, argc - i, argv + i);
	curl_global_cleanup();
	return r;
}
