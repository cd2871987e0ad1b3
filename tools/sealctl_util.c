/*
 * sealctl_util: what sealctl's commands share (sealctl.h): the usage
 * text, the HTTP call over a Unix socket (libcurl), files, digests, and
 * the keys and certificates they check against.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sealctl.h"

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

int
sealctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sealctl%s%s: ", cmd != NULL ? " " : "",
	    cmd != NULL ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (sealctl --help shows the usage)\n");
	return 2;
}

int
sealctl_parse(const char *cmd, int argc, char **argv,
    const struct sealctl_opt *opts, size_t nopts, const char **pos, size_t npos)
{
	size_t j, n = 0;
	int i;

	for (j = 0; j < npos; j++)
		pos[j] = NULL;
	for (i = 0; i < argc; i++) {
		if (argv[i][0] != '-' || argv[i][1] == '\0') {
			if (n == npos)
				return sealctl_usage_error(cmd,
				    "unexpected argument \"%.80s\"", argv[i]);
			pos[n++] = argv[i];
			continue;
		}
		for (j = 0; j < nopts && strcmp(argv[i], opts[j].name) != 0;
		     j++)
			;
		if (j == nopts)
			return sealctl_usage_error(
			    cmd, "unknown option \"%.80s\"", argv[i]);
		if (opts[j].value == NULL) {
			*opts[j].flag = 1;
			continue;
		}
		if (i + 1 >= argc)
			return sealctl_usage_error(
			    cmd, "%s needs a value", opts[j].name);
		*opts[j].value = argv[++i];
	}
	return 0;
}

void
sealctl_usage(FILE *f)
{
	fprintf(f,
	    "usage: sealctl [-s SOCKET] sign --key NAME (--file FILE | "
	    "--digest-file FILE)\n"
	    "               [--digest-alg sha256|sha384|sha512] "
	    "[--request-id ID]\n"
	    "               [--evidence-type TYPE] [--evidence-ref REF] "
	    "[--format raw|cms|cades-t]\n"
	    "               [--out-sig FILE]   (the signature, or the DER "
	    "CMS)\n"
	    "       sealctl [-s SOCKET] timestamp FILE [--digest-alg ALG] "
	    "[--policy OID] [--no-cert]\n"
	    "               [--tsa-cert PEM] [--out FILE.tsr]\n"
	    "       sealctl verify --file DOC --cert PEM (--sig SIG "
	    "[--digest-alg ALG] | --cms P7S [--tsa-cert PEM] | --tsr TSR)\n"
	    "       sealctl [-s SOCKET] keys [--json]\n"
	    "       sealctl policy check FILE [--elsewhere]\n"
	    "       sealctl ledger verify --db CONNINFO [--audit-key PEM "
	    "[--witness FILE]]\n"
	    "       sealctl ledger head INSTANCE\n"
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
	    "       sealctl --help | --version\n"
	    "SOCKET defaults to $SEALD_SOCKET, else " SEALCTL_SERVICE_SOCKET
	    "\n"
	    "ADMIN_SOCKET defaults to $SEALD_ADMIN_SOCKET, "
	    "else " SEALCTL_ADMIN_SOCKET "\n"
	    "SEALCTL_TIMEOUT: seconds a call may take (default 30); see "
	    "sealctl(1)\n");
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

const EVP_MD *
sealctl_md_by_name(const char *alg)
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
sealctl_hash_file(const char *path, const EVP_MD *md, uint8_t *out, size_t *len)
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

/* The audit public key (PEM public key or certificate) from a file. */
EVP_PKEY *
sealctl_read_audit_key(const char *path)
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

X509_STORE *
sealctl_trust(const char *path, STACK_OF(X509) * *certs)
{
	X509_STORE *st = X509_STORE_new();
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *in = BIO_new_file(path, "r");
	X509 *x;

	while (st != NULL && sk != NULL && in != NULL &&
	    (x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(st, x) != 1 || sk_X509_push(sk, x) <= 0)
			X509_free(x);
	}
	BIO_free(in);
	if (sk_X509_num(sk) <= 0) {
		fprintf(stderr, "sealctl: %s: no PEM certificate\n", path);
		X509_STORE_free(st);
		sk_X509_pop_free(sk, X509_free);
		return NULL;
	}
	/* the signer's own certificate may be the anchor */
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	*certs = sk;
	return st;
}
