/*
 * sealctl_keycert: `sealctl key csr` and `sealctl key import-cert`, the
 * two steps between a key made in the HSM and a key that signs: a CSR
 * for the officers' CA (checked before it is handed out), and the
 * certificate the CA issued (checked to be one before it is sent).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sd_limits.h"
#include "sealctl.h"
#include "sealctl_key.h"

/* ----------------------------------------------------------------- CSR */

/* 1 when pem is one CSR whose signature verifies with its own key: what
 * a CA checks first, so a bad one is caught before it is sent there. */
static int
csr_ok(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509_REQ *req =
	    b != NULL ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pk = req != NULL ? X509_REQ_get0_pubkey(req) : NULL;
	int ok = pk != NULL && X509_REQ_verify(req, pk) == 1;

	X509_REQ_free(req);
	BIO_free(b);
	return ok;
}

/* The body of a CSR or certificate request: version only when given, so
 * that seald picks the active one otherwise. */
json_t *
sealctl_key_with_version(json_t *req, const struct key_opts *o)
{
	if (req != NULL && o->version > 0 &&
	    json_object_set_new(req, "version", json_integer(o->version)) !=
		0) {
		json_decref(req);
		return NULL;
	}
	return req;
}

int
sealctl_key_csr(const char *sock, const struct key_opts *o)
{
	char path[128];
	json_t *req, *reply;
	const char *pem;
	int r;

	req = json_pack("{s:s}", "subject", o->val[KO_SUBJECT]);
	if (req != NULL && o->val[KO_USAGE] != NULL &&
	    json_object_set_new(req, "usage", json_string(o->val[KO_USAGE])) !=
		0) {
		json_decref(req);
		req = NULL;
	}
	if ((req = sealctl_key_with_version(req, o)) == NULL) {
		fprintf(stderr, "sealctl: cannot build the request\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/v1/admin/keys/%s/csr", o->arg[0]);
	r = sealctl_admin_call(sock, "POST", path, req, 0, NULL, &reply);
	json_decref(req);
	if (r != 0)
		return r;
	if ((pem = sealctl_str_of(reply, "csr", NULL)) == NULL ||
	    !csr_ok(pem)) {
		json_decref(reply);
		return sealctl_bad_reply("CSR that verifies");
	}
	if (o->val[KO_OUT] == NULL)
		sealctl_put_safe(stdout, pem, 1);
	else if (sealctl_write_file(o->val[KO_OUT], pem, strlen(pem)) != 0)
		r = 1; /* recorded, though: ask again for a new one */
	if (r == 0) {
		/* stdout may be the CSR itself: the receipt goes apart */
		fprintf(stderr, "CSR for %s%s%s", o->arg[0],
		    o->val[KO_OUT] != NULL ? " written to " : "",
		    o->val[KO_OUT] != NULL ? o->val[KO_OUT] : "");
		sealctl_put_ledger(stderr, reply);
	}
	json_decref(reply);
	return r;
}

/* --------------------------------------------------- certificate import */

/*
 * A certificate file: at most SD_CERT_MAX_BYTES (what seald accepts),
 * text with at least one PEM certificate.  Returns it NUL-terminated
 * (free it), its length in *len; NULL with a message on stderr.
 */
static char *
read_cert_file(const char *path, size_t *len)
{
	char *p = malloc(SD_CERT_MAX_BYTES + 1);
	FILE *f = p != NULL ? fopen(path, "rb") : NULL;
	X509 *x = NULL;
	BIO *b = NULL;
	size_t n = 0;
	int ok;

	if (f == NULL) {
		fprintf(stderr, "sealctl: %s: %s\n", path,
		    p != NULL ? strerror(errno) : "out of memory");
		free(p);
		return NULL;
	}
	/* one byte more than allowed tells a file that is too large */
	n = fread(p, 1, SD_CERT_MAX_BYTES + 1, f);
	ok = !ferror(f);
	fclose(f);
	if (!ok)
		fprintf(stderr, "sealctl: %s: read error\n", path);
	else if (n > SD_CERT_MAX_BYTES)
		fprintf(stderr, "sealctl: %s: larger than %d KiB\n", path,
		    SD_CERT_MAX_BYTES / 1024);
	else if (memchr(p, '\0', n) != NULL)
		fprintf(stderr, "sealctl: %s: not a text file\n", path);
	if (!ok || n > SD_CERT_MAX_BYTES || memchr(p, '\0', n) != NULL) {
		free(p);
		return NULL;
	}
	p[n] = '\0';
	if ((b = BIO_new_mem_buf(p, (int)n)) != NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	ok = x != NULL;
	X509_free(x);
	BIO_free(b);
	if (!ok) {
		fprintf(stderr, "sealctl: %s: no PEM certificate\n", path);
		free(p);
		return NULL;
	}
	*len = n;
	return p;
}

int
sealctl_key_import_cert(const char *sock, const struct key_opts *o)
{
	char path[128];
	json_t *req, *reply, *pem, *k;
	size_t len = 0;
	char *file;
	int r;

	if ((file = read_cert_file(o->arg[1], &len)) == NULL)
		return 2;
	pem = json_stringn(file, len); /* NULL unless UTF-8 */
	free(file);
	if (pem == NULL) {
		fprintf(stderr, "sealctl: %s: not UTF-8 text\n", o->arg[1]);
		return 2;
	}
	if ((req = sealctl_key_with_version(
		 json_pack("{s:o}", "certificate", pem), o)) == NULL) {
		fprintf(stderr, "sealctl: cannot build the request\n");
		return 2;
	}
	snprintf(
	    path, sizeof(path), "/v1/admin/keys/%s/certificate", o->arg[0]);
	r = sealctl_admin_call(sock, "POST", path, req, o->json, NULL, &reply);
	json_decref(req);
	if (r != 0 || o->json) {
		json_decref(reply);
		return r;
	}
	if (!json_is_object(k = json_object_get(reply, "key"))) {
		json_decref(reply);
		return sealctl_bad_reply("\"key\"");
	}
	printf("imported the certificate of ");
	sealctl_put_name_version(k);
	printf(", expires ");
	sealctl_put_safe(
	    stdout, sealctl_str_of(k, "certificate_not_after", "?"), 0);
	sealctl_put_ledger(stdout, reply);
	json_decref(reply);
	return 0;
}
