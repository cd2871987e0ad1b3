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

char *
reply_sign(const struct sign_job *j)
{
	const struct ledger_entry *e = &j->entry;
	char at[96], hash[2 * SD_HASH_LEN + 1];
	json_t *sig;

	if ((sig = ledger_json_b64(e->sig, e->sig_len)) == NULL)
		return NULL;
	ledger_json_rfc3339(e->signed_at_us, at, sizeof(at));
	sd_hex(e->entry_hash, SD_HASH_LEN, hash);
	return dump(json_pack("{s:o,s:s,s:s,s:s,s:I,s:o,s:s,s:s,s:b,"
			      "s:{s:s,s:I,s:s}}",
	    "signature", sig, "format", e->format, "algorithm", e->algorithm,
	    "key", j->key->pk->name, "key_version", (json_int_t)e->key_version,
	    /* a replay from an older key version must not come with the
	       current certificate, which would not verify it */
	    "certificate",
	    str_or_null(e->replayed && e->key_version != j->key->version
		    ? NULL
		    : j->key->cert_pem),
	    "signed_at", at, "request_id", e->request_id, "replayed",
	    e->replayed, "ledger", "instance", e->instance, "seq",
	    (json_int_t)e->seq, "hash", hash));
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
		o = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:o}", "name",
		    k->pk->name, "version", (json_int_t)k->version, "algorithm",
		    k->key_alg, "signature_scheme",
		    k->scheme == HSM_ECDSA         ? "ecdsa"
			: k->scheme == HSM_RSA_PSS ? "rsa-pss"
						   : "rsa-pkcs1v15",
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
