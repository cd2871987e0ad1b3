/*
 * sealctl: the command-line client of seald.  It talks HTTP over the
 * service socket through libcurl (no hand-written HTTP) and prints the
 * daemon's JSON answer.  Exit status: 0 on success, 1 when seald answered
 * with an error, 2 on usage errors, 3 when seald could not be reached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define DEFAULT_SOCKET "/run/seald/seald.sock"
#define REPLY_MAX (4 * 1024 * 1024)

static size_t
on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sealctl_buf *b = arg;
	size_t n = size * nmemb;
	char *np;

	if (n > REPLY_MAX - b->len) {
		b->overflow = 1;
		return 0;
	}
	if ((np = realloc(b->p, b->len + n + 1)) == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

void
sealctl_usage(void)
{
	fprintf(stderr,
	    "usage: sealctl [-s SOCKET] sign --key NAME (--file FILE | "
	    "--digest-file FILE)\n"
	    "               [--digest-alg sha256|sha384|sha512] "
	    "[--request-id ID]\n"
	    "               [--evidence-type TYPE] [--evidence-ref REF] "
	    "[--format raw|cms]\n"
	    "               [--out-sig FILE]   (the signature, or the DER "
	    "CMS)\n"
	    "       sealctl [-s SOCKET] timestamp FILE [--digest-alg ALG] "
	    "[--policy OID] [--no-cert]\n"
	    "               [--tsa-cert PEM] [--out FILE.tsr]\n"
	    "       sealctl verify --file DOC --cert PEM (--sig SIG "
	    "[--digest-alg ALG] | --cms P7S | --tsr TSR)\n"
	    "       sealctl [-s SOCKET] keys\n"
	    "       sealctl policy check FILE\n"
	    "       sealctl ledger verify --db CONNINFO [--audit-key PEM]\n"
	    "       sealctl [-s SOCKET] ledger entry INSTANCE SEQ   "
	    "(a proof document)\n"
	    "       sealctl [-s SOCKET] ledger list INSTANCE [--after SEQ] "
	    "[--limit N]\n"
	    "       sealctl ledger prove FILE --audit-key PEM "
	    "[--document FILE]\n"
	    "       sealctl [-a ADMIN_SOCKET] key list [--json]\n"
	    "       sealctl [-a ADMIN_SOCKET] key show NAME [--json]\n"
	    "       sealctl [-a ADMIN_SOCKET] key generate NAME --algorithm "
	    "ALG [--json]\n"
	    "               (ALG: ec-p256 ec-p384 rsa-2048 rsa-3072 "
	    "rsa-4096)\n"
	    "       sealctl [-a ADMIN_SOCKET] key csr NAME --subject "
	    "/C=BE/O=Example/CN=Seal\n"
	    "               [--usage seal|timestamp] [--version N] "
	    "[--out FILE]\n"
	    "       sealctl [-a ADMIN_SOCKET] key import-cert NAME FILE "
	    "[--version N] [--json]\n"
	    "       sealctl [-a ADMIN_SOCKET] key rotate NAME "
	    "[--algorithm ALG] [--json]\n"
	    "       sealctl [-a ADMIN_SOCKET] key retire|disable NAME "
	    "[--version N] [--json]\n"
	    "       sealctl [-a ADMIN_SOCKET] key destroy NAME --version N "
	    "--confirm \"NAME vN\" [--json]\n"
	    "       sealctl [-a ADMIN_SOCKET] key pending [--json]\n"
	    "       sealctl [-a ADMIN_SOCKET] key approve ID [--json]\n"
	    "SOCKET defaults to $SEALD_SOCKET, else " DEFAULT_SOCKET "\n"
	    "ADMIN_SOCKET defaults to $SEALD_ADMIN_SOCKET, "
	    "else " SEALCTL_ADMIN_SOCKET "\n"
	    "SEALCTL_TIMEOUT: seconds a call may take (default 30)\n");
}

/* Seconds a call may take: $SEALCTL_TIMEOUT (1..3600), else 30.  A slow
 * HSM may need longer to generate an RSA-4096 key. */
static long
call_timeout(void)
{
	const char *v = getenv("SEALCTL_TIMEOUT");
	char *end;
	long t;

	if (v == NULL || *v == '\0')
		return 30L;
	errno = 0;
	t = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || t < 1 || t > 3600) {
		fprintf(stderr,
		    "sealctl: SEALCTL_TIMEOUT must be 1 to 3600 seconds; "
		    "using 30\n");
		return 30L;
	}
	return t;
}

int
sealctl_call(const char *sock, const char *method, const char *path,
    const char *ctype, const void *body, size_t len, long *status,
    struct sealctl_buf *out)
{
	struct curl_slist *hdr = NULL;
	char url[256];
	CURLcode cc;
	CURL *c;

	if ((c = curl_easy_init()) == NULL)
		return -1;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, call_timeout());
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		snprintf(url, sizeof(url), "Content-Type: %s", ctype);
		hdr = curl_slist_append(hdr, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	else
		fprintf(
		    stderr, "sealctl: %s: %s\n", sock, curl_easy_strerror(cc));
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return cc == CURLE_OK && !out->overflow ? 0 : -1;
}

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

const EVP_MD *
md_by_name(const char *alg)
{
	if (strcmp(alg, "sha256") == 0)
		return EVP_sha256();
	if (strcmp(alg, "sha384") == 0)
		return EVP_sha384();
	if (strcmp(alg, "sha512") == 0)
		return EVP_sha512();
	return NULL;
}

int
hash_file(const char *path, const EVP_MD *md, uint8_t *out, size_t *len)
{
	unsigned char buf[65536];
	unsigned int n = 0;
	EVP_MD_CTX *c;
	FILE *f;
	size_t got;
	int ok;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "sealctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	c = EVP_MD_CTX_new();
	ok = c != NULL && EVP_DigestInit_ex(c, md, NULL) == 1;
	while (ok && (got = fread(buf, 1, sizeof(buf), f)) > 0)
		ok = EVP_DigestUpdate(c, buf, got) == 1;
	ok = ok && !ferror(f) && EVP_DigestFinal_ex(c, out, &n) == 1;
	EVP_MD_CTX_free(c);
	fclose(f);
	*len = n;
	return ok ? 0 : -1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
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
			int hi = hexval(raw[2 * i]),
			    lo = hexval(raw[2 * i + 1]);

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

int
sealctl_write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(p, 1, len, f) == len;

	if (f != NULL && fclose(f) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "sealctl: cannot write %s\n", path);
	return ok ? 0 : -1;
}

static int
cmd_sign(const char *sock, int argc, char **argv)
{
	const char *key = NULL, *file = NULL, *dfile = NULL, *alg = "sha256";
	const char *rid = NULL, *etype = NULL, *eref = NULL, *outsig = NULL;
	const char *format = "raw";
	uint8_t dg[SD_DIGEST_MAX], rnd[16];
	char b64[B64_ENCODED_LEN(SD_DIGEST_MAX) + 1], ridbuf[48];
	struct sealctl_buf b = { NULL, 0, 0 };
	const EVP_MD *md;
	json_t *req;
	char *body;
	size_t dlen = 0;
	long status = 0;
	int i, r;

	for (i = 0; i < argc; i++) {
		const char **dst = NULL;

		if (strcmp(argv[i], "--key") == 0)
			dst = &key;
		else if (strcmp(argv[i], "--file") == 0)
			dst = &file;
		else if (strcmp(argv[i], "--digest-file") == 0)
			dst = &dfile;
		else if (strcmp(argv[i], "--digest-alg") == 0)
			dst = &alg;
		else if (strcmp(argv[i], "--request-id") == 0)
			dst = &rid;
		else if (strcmp(argv[i], "--evidence-type") == 0)
			dst = &etype;
		else if (strcmp(argv[i], "--evidence-ref") == 0)
			dst = &eref;
		else if (strcmp(argv[i], "--out-sig") == 0)
			dst = &outsig;
		else if (strcmp(argv[i], "--format") == 0)
			dst = &format;
		if (dst == NULL || i + 1 >= argc) {
			sealctl_usage();
			return 2;
		}
		*dst = argv[++i];
	}
	if (key == NULL || (file == NULL) == (dfile == NULL) ||
	    (md = md_by_name(alg)) == NULL || (eref != NULL && etype == NULL) ||
	    (strcmp(format, "raw") != 0 && strcmp(format, "cms") != 0)) {
		sealctl_usage();
		return 2;
	}
	if (file != NULL) {
		if (hash_file(file, md, dg, &dlen) != 0)
			return 2;
	} else {
		dlen = (size_t)EVP_MD_get_size(md);
		if (read_digest(dfile, dlen, dg) != 0)
			return 2;
	}
	if (rid == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return 2;
		memcpy(ridbuf, "sealctl-", 8);
		for (i = 0; i < (int)sizeof(rnd); i++)
			snprintf(ridbuf + 8 + 2 * i, 3, "%02x", rnd[i]);
		rid = ridbuf;
	}
	if (b64_encode(dg, dlen, b64, sizeof(b64)) != 0)
		return 2;
	req = json_pack("{s:s,s:s,s:s,s:s,s:s}", "key", key, "digest", b64,
	    "digest_alg", alg, "request_id", rid, "format", format);
	if (req != NULL && etype != NULL)
		json_object_set_new(req, "evidence",
		    eref != NULL
			? json_pack("{s:s,s:s}", "type", etype, "ref", eref)
			: json_pack("{s:s}", "type", etype));
	body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (body == NULL)
		return 2;
	r = sealctl_call(sock, "POST", "/v1/sign", "application/json", body,
	    strlen(body), &status, &b);
	free(body);
	if (r != 0) {
		free(b.p);
		return 3;
	}
	r = report(status, &b);
	if (r == 0 && outsig != NULL && write_sig(outsig, &b) != 0)
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
static int
cmd_policy_check(const char *path)
{
	const uint8_t *h;
	struct policy *p;
	char err[512];
	int i;

	if ((p = policy_load(path, err, sizeof(err))) == NULL) {
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
print_verdict(const struct ledger_verdict *v, void *arg)
{
	(void)arg;
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

/* The audit public key (PEM public key or certificate) from a file. */
EVP_PKEY *
read_audit_key(const char *path)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "sealctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((pk = PEM_read_PUBKEY(f, NULL, NULL, NULL)) == NULL) {
		rewind(f);
		if ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
			pk = X509_get_pubkey(x);
		X509_free(x);
	}
	fclose(f);
	if (pk == NULL)
		fprintf(stderr,
		    "sealctl: %s: no PEM public key or "
		    "certificate\n",
		    path);
	return pk;
}

/*
 * ledger verify --db CONNINFO [--audit-key PEM]: every chain, from a
 * read-only snapshot, and every checkpoint (signatures too with the audit
 * key).  Exit 0 when all hold, 1 when one does not, 2 for usage, 3 when
 * the database cannot be read.
 */
static int
cmd_ledger_verify(int argc, char **argv)
{
	const char *db = NULL, *keyfile = NULL;
	EVP_PKEY *audit = NULL;
	char err[512];
	int i, r;

	for (i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--db") == 0)
			db = argv[i + 1];
		else if (strcmp(argv[i], "--audit-key") == 0)
			keyfile = argv[i + 1];
		else
			break;
	}
	if (i != argc || db == NULL) {
		sealctl_usage();
		return 2;
	}
	if (keyfile != NULL && (audit = read_audit_key(keyfile)) == NULL)
		return 2;
	if (audit == NULL)
		fprintf(stderr,
		    "sealctl: no --audit-key: checkpoint "
		    "signatures are not checked\n");
	r = ledger_verify(db, audit, print_verdict, NULL, err, sizeof(err));
	EVP_PKEY_free(audit);
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

/*
 * ledger entry INSTANCE SEQ | ledger list INSTANCE [--after SEQ]
 * [--limit N]: GET /v1/ledger/..., the reply printed as it came.
 */
static int
cmd_ledger_get(const char *sock, int argc, char **argv)
{
	const char *after = "0", *limit = NULL;
	char path[256];
	int i;

	if (argc < 2 || !sd_name_valid(argv[1], strlen(argv[1]))) {
		sealctl_usage();
		return 2;
	}
	if (strcmp(argv[0], "entry") == 0) {
		if (argc != 3 ||
		    strspn(argv[2], "0123456789") != strlen(argv[2]) ||
		    argv[2][0] == '\0') {
			sealctl_usage();
			return 2;
		}
		snprintf(
		    path, sizeof(path), "/v1/ledger/%s/%s", argv[1], argv[2]);
		return cmd_get(sock, path);
	}
	for (i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--after") == 0)
			after = argv[i + 1];
		else if (strcmp(argv[i], "--limit") == 0)
			limit = argv[i + 1];
		else
			break;
	}
	if (i != argc || strspn(after, "0123456789") != strlen(after) ||
	    (limit != NULL && strspn(limit, "0123456789") != strlen(limit))) {
		sealctl_usage();
		return 2;
	}
	snprintf(path, sizeof(path), "/v1/ledger/%s?after=%s%s%s", argv[1],
	    after, limit != NULL ? "&limit=" : "", limit != NULL ? limit : "");
	return cmd_get(sock, path);
}

int
main(int argc, char **argv)
{
	const char *sock = getenv("SEALD_SOCKET");
	int i = 1, r;

	if (sock == NULL || *sock == '\0')
		sock = DEFAULT_SOCKET;
	if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
		sock = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		sealctl_usage();
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(argv[i], "sign") == 0)
		r = cmd_sign(sock, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "timestamp") == 0)
		r = cmd_timestamp(sock, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "verify") == 0)
		r = cmd_verify(argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "keys") == 0 && i + 1 == argc)
		r = cmd_get(sock, "/v1/keys");
	else if (strcmp(argv[i], "ledger") == 0 && i + 1 < argc &&
	    strcmp(argv[i + 1], "verify") == 0)
		r = cmd_ledger_verify(argc - i - 2, argv + i + 2);
	else if (strcmp(argv[i], "ledger") == 0 && i + 1 < argc &&
	    strcmp(argv[i + 1], "prove") == 0)
		r = cmd_ledger_prove(argc - i - 2, argv + i + 2);
	else if (strcmp(argv[i], "ledger") == 0 && i + 1 < argc &&
	    (strcmp(argv[i + 1], "entry") == 0 ||
		strcmp(argv[i + 1], "list") == 0))
		r = cmd_ledger_get(sock, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "policy") == 0 && i + 3 == argc &&
	    strcmp(argv[i + 1], "check") == 0)
		r = cmd_policy_check(argv[i + 2]);
	else if (strcmp(argv[i], "key") == 0 || strcmp(argv[i], "-a") == 0)
		r = cmd_key(argc - i, argv + i);
	else {
		sealctl_usage();
		r = 2;
	}
	curl_global_cleanup();
	return r;
}
