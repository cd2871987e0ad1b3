/*
 * keyops_util: what the key operations share (keyops_int.h): bodies in,
 * JSON out, the version a call is about, and recording an event.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "b64.h"
#include "clock.h"
#include "err.h"
#include "keyops_int.h"
#include "ledger_json.h"
#include "log.h"
#include "name.h"

/* ---------------------------------------------------------- JSON replies */

/* unix seconds as the ledger writes times, or null for 0 */
static json_t *
time_or_null(int64_t t)
{
	char buf[64];

	if (t == 0)
		return json_null();
	ledger_json_rfc3339(t * 1000000, buf, sizeof(buf));
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

json_t *
ko_row_json(const struct key_row *k)
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

json_t *
ko_ledger_ref(const struct ledger_entry *e)
{
	char hash[2 * SD_HASH_LEN + 1];

	sd_hex(e->entry_hash, SD_HASH_LEN, hash);
	return json_pack("{s:s,s:I,s:s}", "instance", e->instance, "seq",
	    (json_int_t)e->seq, "hash", hash);
}

char *
ko_dump(json_t *o)
{
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

int
ko_fail(int r, char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return r;
}

/* ----------------------------------------------------- recording events */

/* A key entry: who did what (event) to which key version, about what
 * (the SHA-256 of a public key, CSR or certificate DER). */
void
ko_event(struct keyops *ko, const struct keyops_caller *who,
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
void
ko_rekey(struct keyops *ko)
{
	char err[512];

	if (pstate_rekey(ko->policy, ko->hsm, ko->rd, err, sizeof(err)) != 0)
		log_error("keys not reloaded after a key event: %s", err);
}

/* ------------------------------------------------------ request bodies */

/* Parse a JSON object body; only the known members. */
json_t *
ko_parse_body(const char *body, size_t len, const char *const *known,
    char *errbuf, size_t errlen)
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
			snprintf(errbuf, errlen, "unknown member \"%.40s\"",
			    sd_quotable(k) ? k : "(not printable)");
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* A string member (required or not): its value, NULL when absent; sets
 * *bad when present but not a string within max bytes. */
const char *
ko_member_str(json_t *o, const char *name, size_t max, int *bad)
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
int
ko_pick_version(struct keyops *ko, const char *name, json_t *o,
    struct key_row *out, char *errbuf, size_t errlen)
{
	struct key_row *rows = NULL, *pick = NULL;
	json_t *v = json_object_get(o, "version");
	size_t i, n = 0;
	int r;

	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 1))
		return ko_fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "version must be a positive integer");
	if (!sd_name_valid(name, strlen(name)))
		return ko_fail(SD_ERR_NOT_FOUND, errbuf, errlen, "no such key");
	if ((r = ledger_keys_list(ko->rd, name, &rows, &n)) != 0)
		return ko_fail(r, errbuf, errlen, "cannot read the keys table");
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
		return ko_fail(SD_ERR_NOT_FOUND, errbuf, errlen, "no key %s%s",
		    name, v != NULL ? " of that version" : "");
	}
	*out = *pick;
	pick->cert = NULL; /* moved to out */
	ledger_keys_free(rows, n);
	return 0;
}

/* CSRs and certificates are for versions in use or about to be. */
int
ko_in_use(const struct key_row *k, char *errbuf, size_t errlen)
{
	if (strcmp(k->state, "active") == 0 || strcmp(k->state, "pending") == 0)
		return 0;
	return ko_fail(SD_ERR_CONFLICT, errbuf, errlen, "key %s v%lld is %s",
	    k->name, (long long)k->version, k->state);
}

int
ko_algorithm_fits(struct keyops *ko, const char *name, const char *alg,
    char *errbuf, size_t errlen)
{
	struct pstate *ps = pstate_get(ko->policy);
	const struct policy_key *pk = policy_key_find(ps->policy, name);
	int r = 0;

	if (pk != NULL && pk->algorithm[0] != '\0' &&
	    strcmp(pk->algorithm, alg) != 0)
		r = ko_fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "the policy's key %s is %s, not %s", name, pk->algorithm,
		    alg);
	pstate_unref(ps);
	return r;
}
