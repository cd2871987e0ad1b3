/*
 * keyops: key generation, CSRs, certificate import and listings for the
 * admin socket (keyops.h).  Runs on the admin thread: one operation at a
 * time, so two officers never race on one key name in this instance (the
 * keys table's keys catch a race between instances).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "b64.h"
#include "clock.h"
#include "csr.h"
#include "err.h"
#include "keyops.h"
#include "ledger_json.h"
#include "ledger_keys.h"
#include "log.h"
#include "name.h"

/* ---------------------------------------------------------- JSON replies */

static json_t *
time_or_null(int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *
pem_of_der(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)len);
	BIO *b = BIO_new(BIO_s_mem());
	json_t *s = NULL;
	char *data;
	long n;

	if (pk != NULL && b != NULL && PEM_write_bio_PUBKEY(b, pk) == 1 &&
	    (n = BIO_get_mem_data(b, &data)) > 0)
		s = json_stringn(data, (size_t)n);
	EVP_PKEY_free(pk);
	BIO_free(b);
	return s != NULL ? s : json_null();
}

static json_t *
row_json(const struct key_row *k)
{
	char id[2 * KEY_ID_MAX + 1];

	sd_hex(k->id, k->id_len, id);
	return json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o}",
	    "name", k->name, "version", (json_int_t)k->version, "algorithm",
	    k->algorithm, "state", k->state, "label", k->label, "id", id,
	    "created_by", k->created_by, "created_at",
	    time_or_null(k->created_at), "public_key",
	    pem_of_der(k->pub, k->pub_len), "certificate",
	    k->cert != NULL ? json_string(k->cert) : json_null(),
	    "certificate_not_after", time_or_null(k->cert_not_after));
}

static json_t *
ledger_ref(const struct ledger_entry *e)
{
	char hash[2 * SD_HASH_LEN + 1];

	sd_hex(e->entry_hash, SD_HASH_LEN, hash);
	return json_pack("{s:s,s:I,s:s}", "instance", e->instance, "seq",
	    (json_int_t)e->seq, "hash", hash);
}

static char *
dump(json_t *o)
{
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

static int fail(int r, char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(int r, char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return r;
}

int
keyops_list(struct keyops *ko, const char *name, char **reply, char *errbuf,
    size_t errlen)
{
	struct key_row *rows = NULL;
	json_t *arr;
	size_t i, n = 0;
	int r;

	if (name != NULL && !sd_name_valid(name, strlen(name)))
		return fail(SD_ERR_NOT_FOUND, errbuf, errlen, "no such key");
	if ((r = ledger_keys_list(ko->rd, name, &rows, &n)) != 0)
		return fail(r, errbuf, errlen, "cannot read the keys table");
	if (name != NULL && n == 0) {
		ledger_keys_free(rows, n);
		return fail(
		    SD_ERR_NOT_FOUND, errbuf, errlen, "no key named %s", name);
	}
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, row_json(&rows[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	ledger_keys_free(rows, n);
	*reply = dump(json_pack("{s:o}", name != NULL ? "versions" : "keys",
	    arr != NULL ? arr : json_null()));
	return *reply != NULL ? 0 : SD_ERR_NOMEM;
}

/* ----------------------------------------------------- recording events */

/* A key entry: who did what (event) to which key version, about what
 * (the SHA-256 of a public key, CSR or certificate DER). */
static void
event_entry(struct keyops *ko, const struct keyops_caller *who,
    const struct key_row *k, const char *event, const uint8_t hash[32],
    const char *detail, struct ledger_entry *e)
{
	struct pstate *ps = pstate_get(ko->policy);

	memset(e, 0, sizeof(*e));
	e->kind = LEDGER_KEY;
	snprintf(e->client, sizeof(e->client), "%s", who->name);
	e->client_uid = who->peer->uid;
	e->client_pid = who->peer->pid;
	snprintf(e->key_name, sizeof(e->key_name), "%s", k->name);
	e->key_version = k->version;
	snprintf(e->algorithm, sizeof(e->algorithm), "%s", k->algorithm);
	snprintf(e->format, sizeof(e->format), "%s", event);
	snprintf(e->digest_alg, sizeof(e->digest_alg), "sha256");
	memcpy(e->digest, hash, 32);
	e->digest_len = 32;
	snprintf(e->detail, sizeof(e->detail), "%s", detail);
	memcpy(e->policy_hash, policy_hash(ps->policy), SD_HASH_LEN);
	e->signed_at_us = sd_now_us();
	pstate_unref(ps);
}

/* After a change: the keys in force found again.  The change is
 * committed either way; a key that cannot serve says why in the log. */
static void
rekey(struct keyops *ko)
{
	char err[512];

	if (pstate_rekey(ko->policy, ko->hsm, ko->rd, err, sizeof(err)) != 0)
		log_error("keys not reloaded after a key event: %s", err);
}

/* ------------------------------------------------------ request bodies */

/* Parse a JSON object body; only the known members. */
static json_t *
parse_body(const char *body, size_t len, const char *const *known, char *errbuf,
    size_t errlen)
{
	json_error_t je;
	const char *k;
	json_t *o, *v;
	size_t i;

	o = json_loadb(
	    body != NULL ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		snprintf(errbuf, errlen, "body must be a JSON object");
		return NULL;
	}
	json_object_foreach(o, k, v)
	{
		for (i = 0; known[i] != NULL && strcmp(known[i], k) != 0; i++)
			;
		if (known[i] == NULL) {
			snprintf(errbuf, errlen, "unknown member \"%.40s\"", k);
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* A string member (required or not): its value, NULL when absent; sets
 * *bad when present but not a string within max bytes. */
static const char *
member_str(json_t *o, const char *name, size_t max, int *bad)
{
	json_t *v = json_object_get(o, name);

	if (v == NULL)
		return NULL;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

/* The version a request names (member "version"), else the name's active
 * version, else its newest; copied into *out.  SD_ERR_NOT_FOUND. */
static int
pick_version(struct keyops *ko, const char *name, json_t *o,
    struct key_row *out, char *errbuf, size_t errlen)
{
	struct key_row *rows = NULL, *pick = NULL;
	json_t *v = json_object_get(o, "version");
	size_t i, n = 0;
	int r;

	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 1))
		return fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "version must be a positive integer");
	if (!sd_name_valid(name, strlen(name)))
		return fail(SD_ERR_NOT_FOUND, errbuf, errlen, "no such key");
	if ((r = ledger_keys_list(ko->rd, name, &rows, &n)) != 0)
		return fail(r, errbuf, errlen, "cannot read the keys table");
	for (i = 0; i < n; i++) {
		if (v != NULL) {
			if (rows[i].version == json_integer_value(v))
				pick = &rows[i];
		} else if (strcmp(rows[i].state, "active") == 0 ||
		    (pick == NULL || strcmp(pick->state, "active") != 0))
			pick = &rows[i];
	}
	if (pick == NULL) {
		ledger_keys_free(rows, n);
		return fail(SD_ERR_NOT_FOUND, errbuf, errlen, "no key %s%s",
		    name, v != NULL ? " of that version" : "");
	}
	*out = *pick;
	pick->cert = NULL; /* moved to out */
	ledger_keys_free(rows, n);
	return 0;
}

/* CSRs and certificates are for versions in use or about to be. */
static int
in_use(const struct key_row *k, char *errbuf, size_t errlen)
{
	if (strcmp(k->state, "active") == 0 || strcmp(k->state, "pending") == 0)
		return 0;
	return fail(SD_ERR_CONFLICT, errbuf, errlen, "key %s v%lld is %s",
	    k->name, (long long)k->version, k->state);
}

/* ------------------------------------------------------------ generate */

int
keyops_generate(struct keyops *ko, const struct keyops_caller *who,
    const char *body, size_t len, char **reply, char *errbuf, size_t errlen)
{
	static const char *const known[] = { "name", "algorithm", NULL };
	struct key_row k, *rows = NULL;
	struct ledger_entry e;
	struct hsm_key *hk;
	uint8_t id[HSM_KEY_ID_LEN], hash[32];
	unsigned char *der = NULL;
	const char *name, *alg;
	size_t n = 0;
	int bad = 0, code = 0, r, dlen;
	char detail[SD_DETAIL_MAX];
	json_t *o;

	if ((o = parse_body(body, len, known, errbuf, errlen)) == NULL)
		return SD_ERR_BAD_REQUEST;
	name = member_str(o, "name", SD_NAME_MAX - 1, &bad);
	alg = member_str(o, "algorithm", 16, &bad);
	memset(&k, 0, sizeof(k));
	/* a name is also a path segment: "." and ".." would not be one */
	if (bad || name == NULL || alg == NULL || name[0] == '.' ||
	    !sd_name_valid(name, strlen(name)) || hsm_keyalg_from(alg) < 0) {
		json_decref(o);
		return fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "needs \"name\" ([A-Za-z0-9_-][A-Za-z0-9._-]{0,62}) and "
		    "\"algorithm\" "
		    "(ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096)");
	}
	snprintf(k.name, sizeof(k.name), "%s", name);
	snprintf(k.algorithm, sizeof(k.algorithm), "%s", alg);
	json_decref(o);
	if ((r = ledger_keys_list(ko->rd, k.name, &rows, &n)) != 0)
		return fail(r, errbuf, errlen, "cannot read the keys table");
	ledger_keys_free(rows, n);
	if (n > 0)
		return fail(
		    SD_ERR_CONFLICT, errbuf, errlen, "key %s exists", k.name);
	k.version = 1;
	snprintf(k.label, sizeof(k.label), "seald-%s-v%lld", k.name,
	    (long long)k.version);
	snprintf(k.state, sizeof(k.state), "active");
	snprintf(k.created_by, sizeof(k.created_by), "%s", who->name);
	if ((hk = hsm_generate(ko->hsm,
		 (enum hsm_keyalg)hsm_keyalg_from(k.algorithm), k.label, id,
		 &code, errbuf, errlen)) == NULL)
		return code != 0 ? code : SD_ERR_HSM;
	memcpy(k.id, id, sizeof(id));
	k.id_len = sizeof(id);
	if ((dlen = i2d_PUBKEY(hsm_key_public(hk), &der)) <= 0 ||
	    (size_t)dlen > sizeof(k.pub)) {
		OPENSSL_free(der);
		if (hsm_key_destroy(ko->hsm, k.label) != 0)
			log_error("key %s: the HSM objects labelled %s could "
				  "not be destroyed",
			    k.name, k.label);
		return fail(SD_ERR_INTERNAL, errbuf, errlen,
		    "cannot encode the public key");
	}
	memcpy(k.pub, der, (size_t)dlen);
	k.pub_len = (size_t)dlen;
	OPENSSL_free(der);
	EVP_Digest(k.pub, k.pub_len, hash, NULL, EVP_sha256(), NULL);
	snprintf(
	    detail, sizeof(detail), "generated in the HSM: label %s", k.label);
	event_entry(ko, who, &k, "generate", hash, detail, &e);
	k.created_at_us = e.signed_at_us; /* the row and its record agree */
	e.apply = ledger_keys_insert;
	e.apply_arg = &k;
	if ((r = ledger_record(ko->ledger, &e, -1)) != 0) {
		/* not recorded, so it must not exist */
		if (hsm_key_destroy(ko->hsm, k.label) != 0)
			log_error("key %s: generated but not recorded, and "
				  "the new HSM objects labelled %s could "
				  "not be destroyed",
			    k.name, k.label);
		return fail(r == SD_ERR_CONFLICT ? r : SD_ERR_LEDGER, errbuf,
		    errlen, "%s",
		    r == SD_ERR_CONFLICT
			? "the key was created meanwhile elsewhere"
			: "the ledger did not record the key; it was "
			  "destroyed in the HSM");
	}
	log_info("key %s v%lld (%s) generated by %s", k.name,
	    (long long)k.version, k.algorithm, who->name);
	rekey(ko);
	k.created_at = k.created_at_us / 1000000;
	*reply = dump(json_pack(
	    "{s:o,s:o}", "key", row_json(&k), "ledger", ledger_ref(&e)));
	return *reply != NULL ? 0 : SD_ERR_NOMEM;
}

/* ----------------------------------------------------------------- CSR */

struct hsm_signer {
	struct hsm *h;
	struct hsm_key *k;
	enum hsm_digest alg;
};

static int
hsm_signer_sign(void *arg, const uint8_t *dg, size_t dglen, uint8_t *sig,
    size_t cap, size_t *siglen)
{
	struct hsm_signer *s = arg;

	return hsm_sign(s->h, s->k,
	    hsm_key_is_ec(s->k) ? HSM_ECDSA : HSM_RSA_PKCS1, s->alg, dg, dglen,
	    sig, cap, siglen);
}

int
keyops_csr(struct keyops *ko, const struct keyops_caller *who, const char *name,
    const char *body, size_t len, char **reply, char *errbuf, size_t errlen)
{
	static const char *const known[] = { "subject", "usage", "version",
		NULL };
	struct hsm_signer hs;
	struct csr_req cr;
	struct key_row k;
	struct ledger_entry e;
	const char *subject, *usage;
	char *pem = NULL, detail[SD_DETAIL_MAX];
	uint8_t hash[32];
	int bad = 0, r;
	json_t *o;

	if ((o = parse_body(body, len, known, errbuf, errlen)) == NULL)
		return SD_ERR_BAD_REQUEST;
	subject = member_str(o, "subject", CSR_SUBJECT_MAX, &bad);
	usage = member_str(o, "usage", 16, &bad);
	if (bad || subject == NULL ||
	    (usage != NULL && strcmp(usage, "seal") != 0 &&
		strcmp(usage, "timestamp") != 0)) {
		json_decref(o);
		return fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "needs \"subject\" (\"/C=BE/O=Example/CN=Seal\") and "
		    "optionally \"usage\" (seal or timestamp) and "
		    "\"version\"");
	}
	if ((r = pick_version(ko, name, o, &k, errbuf, errlen)) != 0) {
		json_decref(o);
		return r;
	}
	free(k.cert);
	memset(&cr, 0, sizeof(cr));
	cr.subject = subject;
	cr.usage = usage != NULL && strcmp(usage, "timestamp") == 0
	    ? CSR_USAGE_TSA
	    : CSR_USAGE_SEAL;
	if ((r = in_use(&k, errbuf, errlen)) != 0) {
		json_decref(o);
		return r;
	}
	hs.h = ko->hsm;
	if ((hs.k = hsm_key_find(ko->hsm, k.label, errbuf, errlen)) == NULL) {
		json_decref(o);
		return SD_ERR_HSM;
	}
	/* the hash that matches the key's strength */
	hs.alg = strcmp(k.algorithm, "ec-p384") == 0 ? HSM_SHA384 : HSM_SHA256;
	cr.md_nid = hs.alg == HSM_SHA384 ? NID_sha384 : NID_sha256;
	cr.pub = hsm_key_public(hs.k);
	cr.scheme = hsm_key_is_ec(hs.k) ? CMS_SCHEME_ECDSA : CMS_SCHEME_PKCS1;
	cr.sign = hsm_signer_sign;
	cr.arg = &hs;
	r = csr_build(&cr, &pem, hash, errbuf, errlen);
	snprintf(detail, sizeof(detail), "CSR for %.200s, usage %s", subject,
	    cr.usage == CSR_USAGE_TSA ? "timestamp" : "seal");
	json_decref(o);
	if (r != 0)
		return r;
	event_entry(ko, who, &k, "csr", hash, detail, &e);
	if ((r = ledger_record(ko->ledger, &e, -1)) != 0) {
		free(pem);
		return fail(SD_ERR_LEDGER, errbuf, errlen,
		    "the ledger did not record the CSR");
	}
	*reply = dump(json_pack("{s:s,s:I,s:s,s:o}", "key", k.name, "version",
	    (json_int_t)k.version, "csr", pem, "ledger", ledger_ref(&e)));
	free(pem);
	return *reply != NULL ? 0 : SD_ERR_NOMEM;
}

/* ---------------------------------------------------- certificate import */

/* Read a PEM chain (leaf first), at most 8 certificates. */
static STACK_OF(X509) * read_chain(const char *pem)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x;

	while (sk != NULL && b != NULL && sk_X509_num(sk) <= 8 &&
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (sk_X509_push(sk, x) <= 0) {
			X509_free(x);
			break;
		}
	BIO_free(b);
	if (sk != NULL && (sk_X509_num(sk) == 0 || sk_X509_num(sk) > 8)) {
		sk_X509_pop_free(sk, X509_free);
		return NULL;
	}
	return sk;
}

/* What a certificate for this key must be: its public key the key's,
 * valid now, allowed to sign, and chained leaf first. */
static int
check_chain(
    STACK_OF(X509) * sk, const struct key_row *k, char *errbuf, size_t errlen)
{
	const unsigned char *p = k->pub;
	X509 *leaf = sk_X509_value(sk, 0);
	EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)k->pub_len);
	uint32_t ku;
	int i, same;

	same = pub != NULL && EVP_PKEY_eq(pub, X509_get0_pubkey(leaf)) == 1;
	EVP_PKEY_free(pub);
	if (!same)
		return fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "the certificate's public key is not the key's");
	if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0 ||
	    X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
		return fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "the certificate is not valid now (notBefore/notAfter)");
	ku = X509_get_key_usage(leaf);
	if ((ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) == 0)
		return fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "the certificate's key usage allows no signatures");
	for (i = 1; i < sk_X509_num(sk); i++)
		if (X509_check_issued(sk_X509_value(sk, i),
			sk_X509_value(sk, i - 1)) != X509_V_OK)
			return fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
			    "certificate %d did not issue certificate %d: "
			    "give the chain leaf first",
			    i + 1, i);
	return 0;
}

/* The chain as PEM again (only certificates, nothing else of the input),
 * into k->cert; the leaf's notAfter and DER hash. */
static int
store_chain(STACK_OF(X509) * sk, struct key_row *k, uint8_t hash[32])
{
	BIO *b = BIO_new(BIO_s_mem());
	const ASN1_TIME *na = X509_get0_notAfter(sk_X509_value(sk, 0));
	struct tm tm;
	char *data;
	long n;
	int i, ok = b != NULL;

	for (i = 0; ok && i < sk_X509_num(sk); i++)
		ok = PEM_write_bio_X509(b, sk_X509_value(sk, i)) == 1;
	if (ok && (n = BIO_get_mem_data(b, &data)) > 0 &&
	    (size_t)n < SD_CERT_MAX_BYTES &&
	    (k->cert = malloc(n + 1)) != NULL) {
		memcpy(k->cert, data, (size_t)n);
		k->cert[n] = '\0';
	} else
		ok = 0;
	BIO_free(b);
	if (!ok || ASN1_TIME_to_tm(na, &tm) != 1 ||
	    X509_digest(sk_X509_value(sk, 0), EVP_sha256(), hash, NULL) != 1)
		return SD_ERR_INTERNAL;
	k->cert_not_after = (int64_t)timegm(&tm);
	return 0;
}

int
keyops_import_cert(struct keyops *ko, const struct keyops_caller *who,
    const char *name, const char *body, size_t len, char **reply, char *errbuf,
    size_t errlen)
{
	static const char *const known[] = { "certificate", "version", NULL };
	STACK_OF(X509) *sk = NULL;
	struct ledger_entry e;
	struct key_row k;
	const char *pem;
	char detail[SD_DETAIL_MAX], subj[200];
	uint8_t hash[32];
	int bad = 0, r;
	json_t *o;

	if ((o = parse_body(body, len, known, errbuf, errlen)) == NULL)
		return SD_ERR_BAD_REQUEST;
	pem = member_str(o, "certificate", SD_CERT_MAX_BYTES, &bad);
	if (bad || pem == NULL) {
		json_decref(o);
		return fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "needs \"certificate\": the PEM chain, leaf first");
	}
	if ((r = pick_version(ko, name, o, &k, errbuf, errlen)) != 0) {
		json_decref(o);
		return r;
	}
	free(k.cert);
	k.cert = NULL;
	if ((sk = read_chain(pem)) == NULL)
		r = fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "no PEM certificate, or more than 8");
	json_decref(o);
	if (r == 0)
		r = in_use(&k, errbuf, errlen);
	if (r == 0)
		r = check_chain(sk, &k, errbuf, errlen);
	if (r == 0 && (r = store_chain(sk, &k, hash)) != 0)
		snprintf(errbuf, errlen, "cannot encode the chain");
	if (r == 0) {
		X509_NAME_oneline(X509_get_subject_name(sk_X509_value(sk, 0)),
		    subj, sizeof(subj));
		snprintf(detail, sizeof(detail), "certificate %s, %d in chain",
		    subj, sk_X509_num(sk));
		event_entry(ko, who, &k, "certificate", hash, detail, &e);
		e.apply = ledger_keys_set_cert;
		e.apply_arg = &k;
		if ((r = ledger_record(ko->ledger, &e, -1)) != 0)
			r = fail(SD_ERR_LEDGER, errbuf, errlen,
			    "the ledger did not record the certificate");
	}
	sk_X509_pop_free(sk, X509_free);
	if (r == 0) {
		log_info("key %s v%lld: certificate imported by %s", k.name,
		    (long long)k.version, who->name);
		rekey(ko);
		*reply = dump(json_pack("{s:o,s:o}", "key", row_json(&k),
		    "ledger", ledger_ref(&e)));
		r = *reply != NULL ? 0 : SD_ERR_NOMEM;
	}
	free(k.cert);
	return r;
}
