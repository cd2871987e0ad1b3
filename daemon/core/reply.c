/*
 * reply: builds response bodies with jansson, so that every string is
 * escaped by the JSON library and never by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "b64.h"
#include "err.h"
#include "ledger_json.h"
#include "reply.h"

static char *
dump(json_t *o)
{
	char *s = NULL;

	if (o != NULL)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

char *
reply_error(int r, const char *message, const char *request_id)
{
	return dump(
	    json_pack("{s:{s:s,s:s,s:o}}", "error", "code", sd_err_api_code(r),
		"message", message != NULL ? message : sd_err(r), "request_id",
		str_or_null(request_id)));
}

/* A cades-t seal's time-stamp, as the entry records it (the token is in
 * the seal), added to o; o itself for other formats. */
static json_t *
with_stamp(json_t *o, const struct ledger_entry *e, const char *at)
{
	char serial[2 * SD_TSA_SERIAL_MAX + 1];

	if (o == NULL || e->tsa_serial_len == 0)
		return o;
	sd_hex(e->tsa_serial, e->tsa_serial_len, serial);
	if (json_object_set_new(o, "timestamp",
		json_pack("{s:s,s:s,s:s}", "serial", serial, "gen_time", at,
		    "policy", e->tsa_policy)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *
reply_sign(const struct sign_job *j)
{
	const struct ledger_entry *e = &j->entry;
	char at[96], hash[2 * SD_HASH_LEN + 1];
	/* a replay from an older key version must not come with the
	 * current certificate, which would not verify it */
	const char *cert = e->replayed && e->key_version != j->key->version
	    ? NULL
	    : j->key->cert_pem;
	json_t *sig, *o;

	if ((sig = ledger_json_b64(e->sig, e->sig_len)) == NULL)
		return NULL;
	ledger_json_rfc3339(e->signed_at_us, at, sizeof(at));
	sd_hex(e->entry_hash, SD_HASH_LEN, hash);
	o = json_pack("{s:o,s:s,s:s,s:s,s:I,s:o,s:s,s:s,s:b,s:{s:s,s:I,s:s}}",
	    "signature", sig, "format", e->format, "algorithm", e->algorithm,
	    "key", j->key->pk->name, "key_version", (json_int_t)e->key_version,
	    "certificate", str_or_null(cert), "signed_at", at, "request_id",
	    e->request_id, "replayed", e->replayed, "ledger", "instance",
	    e->instance, "seq", (json_int_t)e->seq, "hash", hash);
	return dump(with_stamp(o, e, at));
}

char *
reply_timestamp(const struct sign_job *j)
{
	const struct ledger_entry *e = &j->entry;
	char at[96], hash[2 * SD_HASH_LEN + 1];
	char serial[2 * SD_TSA_SERIAL_MAX + 1];
	json_t *token;

	if ((token = ledger_json_b64(e->sig, e->sig_len)) == NULL)
		return NULL;
	ledger_json_rfc3339(e->signed_at_us, at, sizeof(at));
	sd_hex(e->entry_hash, SD_HASH_LEN, hash);
	sd_hex(e->tsa_serial, e->tsa_serial_len, serial);
	return dump(json_pack("{s:o,s:s,s:s,s:s,s:s,s:s,s:I,s:o,"
			      "s:{s:s,s:I,s:s}}",
	    "token", token, "format", "rfc3161", "serial", serial, "gen_time",
	    at, "policy", e->tsa_policy, "key", j->key->pk->name, "key_version",
	    (json_int_t)e->key_version, "certificate",
	    str_or_null(j->key->cert_pem), "ledger", "instance", e->instance,
	    "seq", (json_int_t)e->seq, "hash", hash));
}

/* What a key is for, as GET /v1/keys names it. */
static const char *const usage_names[] = { "sign", "timestamp" };
static const unsigned int usage_bits[] = { 1u << POLICY_OP_SIGN,
	1u << POLICY_OP_TIMESTAMP };
static const unsigned int format_bits[] = { POLICY_FMT_RAW, POLICY_FMT_CMS,
	POLICY_FMT_CADES_T };
_Static_assert(sizeof(format_bits) / sizeof(format_bits[0]) == SIGN_NFORMATS,
    "a policy format bit for each format");
static const char *const digest_names[] = { "sha256", "sha384", "sha512" };
static const unsigned int digest_bits[] = { POLICY_DG_SHA256, POLICY_DG_SHA384,
	POLICY_DG_SHA512 };

/* The names of bits, as a JSON array (NULL when out of memory). */
static json_t *
names_of(unsigned int bits, const char *const *names,
    const unsigned int *values, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if ((bits & values[i]) &&
		    json_array_append_new(a, json_string(names[i])) != 0) {
			json_decref(a);
			a = NULL;
		}
	return a;
}

char *
reply_keys(const struct sd_keys *ks,
    int (*visible)(const struct sd_key *, void *), void *arg)
{
	json_t *arr = json_array(), *o;
	const struct sd_key *k;
	size_t i;

	if (arr == NULL)
		return NULL;
	for (i = 0; i < ks->n; i++) {
		k = &ks->k[i];
		if (!visible(k, arg))
			continue;
		o = json_pack("{s:s,s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:s,s:s,s:o}",
		    "name", k->pk->name, "version", (json_int_t)k->version,
		    "algorithm", k->key_alg, "signature_scheme",
		    k->scheme == HSM_ECDSA         ? "ecdsa"
			: k->scheme == HSM_RSA_PSS ? "rsa-pss"
						   : "rsa-pkcs1v15",
		    "usage",
		    names_of(k->pk->usages, usage_names, usage_bits, 2),
		    "formats",
		    (k->pk->usages & (1u << POLICY_OP_SIGN))
			? names_of(k->pk->formats, sign_formats, format_bits,
			      SIGN_NFORMATS)
			: json_pack("[s]", "rfc3161"),
		    "digests",
		    names_of(k->pk->digests, digest_names, digest_bits, 3),
		    "tsa_policy",
		    k->pk->tsa_policy[0] != '\0'
			? json_string(k->pk->tsa_policy)
			: json_null(),
		    "state", "active", "public_key", k->public_pem,
		    "certificate", str_or_null(k->cert_pem));
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return dump(json_pack("{s:o}", "keys", arr));
}

char *
reply_status(int ok, int hsm, int ledger)
{
	return dump(json_pack("{s:s,s:b,s:b}", "status",
	    ok ? "ok" : "unavailable", "hsm", hsm, "ledger", ledger));
}

char *
reply_ledger_head(const char *instance, const char *note)
{
	return dump(
	    json_pack("{s:s,s:s}", "instance", instance, "signed_head", note));
}

char *
reply_ledger_proof(const struct ledger_proof *p)
{
	return dump(ledger_json_proof(p));
}

char *
reply_ledger_page(
    const char *instance, const struct ledger_row *rows, size_t n, int full)
{
	json_t *arr = json_array();
	size_t i;

	if (arr == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (json_array_append_new(arr, ledger_json_row(&rows[i])) !=
		    0) {
			json_decref(arr);
			return NULL;
		}
	return dump(json_pack("{s:s,s:o,s:o}", "instance", instance, "entries",
	    arr, "next_after",
	    full && n > 0 ? json_integer((json_int_t)rows[n - 1].e.seq)
			  : json_null()));
}
