/*
 * ledger_json: entries, checkpoints and proofs to and from JSON (see
 * ledger_json.h).  One table of the entry's fields drives both ways, so
 * that what seald writes is exactly what sealctl reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "ledger_json.h"

enum ftype { F_STR, F_INT, F_HEX, F_HEXV, F_B64 };

/* Which kinds carry a field: bit 1 << enum ledger_kind. */
#define K_SIG (1u << LEDGER_SIGNATURE)
#define K_TS (1u << LEDGER_TIMESTAMP)
#define K_EVENT (1u << LEDGER_POLICY | 1u << LEDGER_OVERRIDE)
#define K_KEY (1u << LEDGER_KEY)
#define K_ALL (K_SIG | K_TS | K_EVENT | K_KEY)
/* and a signature whose format carries a time-stamp token (cades-t) */
#define K_STAMPED (1u << 16)

struct field {
	const char *name;
	enum ftype type;
	unsigned int kinds;
	size_t off, cap; /* in struct ledger_row */
	size_t len_off;  /* F_B64, F_HEXV: the size_t length, in the row */
};

#define ROW_OFF(m) offsetof(struct ledger_row, m)
#define ROW_CAP(m) sizeof(((struct ledger_row *)0)->m)
#define STR(n, k, m)                                   \
	{                                              \
		n, F_STR, k, ROW_OFF(m), ROW_CAP(m), 0 \
	}
#define INT(n, k, m)                          \
	{                                     \
		n, F_INT, k, ROW_OFF(m), 0, 0 \
	}
#define HEX(n, k, m)                                   \
	{                                              \
		n, F_HEX, k, ROW_OFF(m), ROW_CAP(m), 0 \
	}
#define HEXV(n, k, m, l)                                         \
	{                                                        \
		n, F_HEXV, k, ROW_OFF(m), ROW_CAP(m), ROW_OFF(l) \
	}
#define B64(n, k, m, l)                                         \
	{                                                       \
		n, F_B64, k, ROW_OFF(m), ROW_CAP(m), ROW_OFF(l) \
	}

static const struct field fields[] = {
	STR("instance", K_ALL, e.instance),
	INT("seq", K_ALL, e.seq),
	INT("signed_at_us", K_ALL, e.signed_at_us),
	STR("client", K_SIG | K_TS | K_KEY, e.client),
	INT("client_uid", K_SIG | K_TS | K_KEY, e.client_uid),
	INT("client_pid", K_SIG | K_TS | K_KEY, e.client_pid),
	STR("request_id", K_SIG, e.request_id),
	HEX("request_hash", K_SIG | K_TS, e.request_hash),
	STR("key_name", K_SIG | K_TS | K_KEY, e.key_name),
	INT("key_version", K_SIG | K_TS | K_KEY, e.key_version),
	STR("algorithm", K_SIG | K_TS | K_KEY, e.algorithm),
	STR("digest_alg", K_SIG | K_TS | K_KEY, e.digest_alg),
	B64("digest", K_SIG | K_TS | K_KEY, e.digest, e.digest_len),
	STR("format", K_SIG | K_TS | K_KEY, e.format),
	B64("signature", K_SIG | K_TS, e.sig, e.sig_len),
	STR("evidence_type", K_SIG, e.evidence_type),
	STR("evidence_ref", K_SIG, e.evidence_ref),
	STR("tsa_policy", K_TS | K_STAMPED, e.tsa_policy),
	HEXV("tsa_serial", K_TS | K_STAMPED, e.tsa_serial, e.tsa_serial_len),
	HEX("policy_hash", K_ALL, e.policy_hash),
	STR("detail", K_EVENT | K_KEY, e.detail),
	HEX("prev_hash", K_ALL, prev_hash),
	HEX("entry_hash", K_ALL, e.entry_hash),
};

/* Exactly 2n lowercase hex digits of s into out. */
static int
from_hex(const char *s, uint8_t *out, size_t n)
{
	size_t i;
	int hi, lo;

	if (strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		hi = s[2 * i] >= '0' && s[2 * i] <= '9'  ? s[2 * i] - '0'
		    : s[2 * i] >= 'a' && s[2 * i] <= 'f' ? s[2 * i] - 'a' + 10
							 : -1;
		lo = s[2 * i + 1] >= '0' && s[2 * i + 1] <= '9'
		    ? s[2 * i + 1] - '0'
		    : s[2 * i + 1] >= 'a' && s[2 * i + 1] <= 'f'
		    ? s[2 * i + 1] - 'a' + 10
		    : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static json_t *
hex_str(const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];

	if (n > 64)
		return NULL;
	sd_hex(p, n, buf);
	return json_string(buf);
}

json_t *
ledger_json_b64(const uint8_t *p, size_t n)
{
	size_t cap = B64_ENCODED_LEN(n) + 1;
	json_t *s = NULL;
	char *buf;

	if (n > SD_SEAL_MAX || (buf = malloc(cap)) == NULL)
		return NULL;
	if (b64_encode(p, n, buf, cap) == 0)
		s = json_string(buf);
	free(buf);
	return s;
}

void
ledger_json_rfc3339(int64_t us, char *buf, size_t len)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (long)(us % 1000000));
}

static json_t *
rfc3339(int64_t us)
{
	char buf[64];

	ledger_json_rfc3339(us, buf, sizeof(buf));
	return json_string(buf);
}

/* The bits that choose a row's fields: its kind's, and K_STAMPED for a
 * signature of a format with a token (read from JSON, format comes
 * before the token's fields in the table, so this holds when they are
 * reached). */
static unsigned int
row_bits(const struct ledger_row *r)
{
	return (1u << r->e.kind) |
	    (r->e.kind == LEDGER_SIGNATURE && ledger_format_stamped(r->e.format)
		    ? K_STAMPED
		    : 0);
}

json_t *
ledger_json_row(const struct ledger_row *r)
{
	const unsigned char *base = (const unsigned char *)r;
	unsigned int kbit = row_bits(r);
	json_t *o = json_object(), *v;
	size_t i;

	if (o == NULL ||
	    json_object_set_new(
		o, "kind", json_string(ledger_kind_name(r->e.kind))) != 0 ||
	    json_object_set_new(o, "signed_at", rfc3339(r->e.signed_at_us)) !=
		0)
		goto fail;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const struct field *f = &fields[i];

		if (!(f->kinds & kbit))
			continue;
		switch (f->type) {
		case F_STR:
			v = json_string((const char *)(base + f->off));
			break;
		case F_INT:
			v = json_integer(*(const int64_t *)(base + f->off));
			break;
		case F_HEX:
			v = hex_str(base + f->off, f->cap);
			break;
		case F_HEXV:
			v = hex_str(base + f->off,
			    *(const size_t *)(base + f->len_off));
			break;
		default:
			v = ledger_json_b64(base + f->off,
			    *(const size_t *)(base + f->len_off));
			break;
		}
		if (v == NULL || json_object_set_new(o, f->name, v) != 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *
cp_json(const struct ledger_cp *cp, const char *instance)
{
	return json_pack("{s:s,s:I,s:o,s:o,s:b,s:I,s:o,s:s,s:s,s:o}",
	    "instance", instance, "seq", (json_int_t)cp->seq, "entry_hash",
	    hex_str(cp->entry_hash, SD_HASH_LEN), "root",
	    hex_str(cp->root, SD_HASH_LEN), "closing", cp->closing,
	    "signed_at_us", (json_int_t)cp->signed_at_us, "signed_at",
	    rfc3339(cp->signed_at_us), "key_label", cp->key_label, "algorithm",
	    cp->algorithm, "signature", ledger_json_b64(cp->sig, cp->sig_len));
}

json_t *
ledger_json_proof(const struct ledger_proof *p)
{
	json_t *path, *inc = json_null(), *cp = json_null();
	size_t i;

	if (p->has_proof) {
		if ((path = json_array()) == NULL)
			return NULL;
		for (i = 0; i < p->npath; i++)
			if (json_array_append_new(
				path, hex_str(p->path[i], SD_HASH_LEN)) != 0) {
				json_decref(path);
				return NULL;
			}
		inc = json_pack("{s:I,s:I,s:o}", "leaf_index",
		    (json_int_t)p->row.e.seq - 1, "tree_size",
		    (json_int_t)p->cp.seq, "path", path);
		cp = cp_json(&p->cp, p->row.e.instance);
	}
	return json_pack("{s:s,s:o,s:o,s:o}", "format", LEDGER_PROOF_FORMAT,
	    "entry", ledger_json_row(&p->row), "inclusion", inc, "checkpoint",
	    cp);
}

/* ---------------------------------------------------------------- reading */

static int
bad(char *errbuf, size_t errlen, const char *where, const char *name,
    const char *what)
{
	snprintf(errbuf, errlen, "%s.%s: %s", where, name, what);
	return -1;
}

/* Field f of o into the row at base. */
static int
read_field(const json_t *o, const struct field *f, unsigned char *base,
    const char *where, char *errbuf, size_t errlen)
{
	const json_t *v = json_object_get(o, f->name);
	const char *s;
	size_t n;

	if (v == NULL)
		return bad(errbuf, errlen, where, f->name, "missing");
	if (f->type == F_INT) {
		if (!json_is_integer(v))
			return bad(
			    errbuf, errlen, where, f->name, "not an integer");
		*(int64_t *)(base + f->off) = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return bad(errbuf, errlen, where, f->name, "not a string");
	s = json_string_value(v);
	n = json_string_length(v);
	switch (f->type) {
	case F_STR:
		if (n >= f->cap || strlen(s) != n)
			return bad(errbuf, errlen, where, f->name,
			    "too long or holds a NUL");
		memcpy(base + f->off, s, n + 1);
		return 0;
	case F_HEX:
		if (from_hex(s, base + f->off, f->cap) != 0)
			return bad(errbuf, errlen, where, f->name,
			    "not lowercase hex of the right length");
		return 0;
	case F_HEXV:
		if (n % 2 != 0 || n / 2 > f->cap ||
		    from_hex(s, base + f->off, n / 2) != 0)
			return bad(errbuf, errlen, where, f->name,
			    "not lowercase hex of a fitting length");
		*(size_t *)(base + f->len_off) = n / 2;
		return 0;
	default:
		if (b64_decode(s, n, base + f->off, f->cap,
			(size_t *)(base + f->len_off)) != 0)
			return bad(errbuf, errlen, where, f->name,
			    "not base64 of a fitting length");
		return 0;
	}
}

static int
read_row(const json_t *o, struct ledger_row *r, char *errbuf, size_t errlen)
{
	const json_t *kind = json_object_get(o, "kind");
	unsigned char *base = (unsigned char *)r;
	int k;
	size_t i;

	if (!json_is_object(o))
		return bad(errbuf, errlen, "proof", "entry", "not an object");
	if (!json_is_string(kind) ||
	    (k = ledger_kind_from(json_string_value(kind))) < 0)
		return bad(errbuf, errlen, "entry", "kind", "unknown");
	memset(r, 0, sizeof(*r));
	r->e.kind = (enum ledger_kind)k;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if ((fields[i].kinds & row_bits(r)) &&
		    read_field(o, &fields[i], base, "entry", errbuf, errlen) !=
			0)
			return -1;
	return 0;
}

static int
read_cp(const json_t *o, struct ledger_proof *p, char *errbuf, size_t errlen)
{
	const char *inst = NULL, *root = NULL, *eh = NULL, *label = NULL,
		   *alg = NULL, *sig = NULL, *when = NULL;
	json_int_t seq = 0, at = 0;
	int closing = 0;
	json_error_t je;
	struct ledger_cp *cp = &p->cp;

	if (json_unpack_ex((json_t *)o, &je, JSON_STRICT,
		"{s:s,s:I,s:s,s:s,s:b,s:I,s?s,s:s,s:s,s:s}", "instance", &inst,
		"seq", &seq, "entry_hash", &eh, "root", &root, "closing",
		&closing, "signed_at_us", &at, "signed_at", &when, "key_label",
		&label, "algorithm", &alg, "signature", &sig) != 0) {
		snprintf(errbuf, errlen, "checkpoint: %.100s", je.text);
		return -1;
	}
	memset(cp, 0, sizeof(*cp));
	cp->seq = seq;
	cp->signed_at_us = at;
	cp->closing = closing;
	cp->has_root = 1;
	if (strcmp(inst, p->row.e.instance) != 0)
		return bad(errbuf, errlen, "checkpoint", "instance",
		    "not the entry's instance");
	if (from_hex(eh, cp->entry_hash, SD_HASH_LEN) != 0 ||
	    from_hex(root, cp->root, SD_HASH_LEN) != 0)
		return bad(errbuf, errlen, "checkpoint", "entry_hash/root",
		    "not hex of 32 bytes");
	if (strlen(label) >= sizeof(cp->key_label) ||
	    strlen(alg) >= sizeof(cp->algorithm))
		return bad(errbuf, errlen, "checkpoint", "key_label/algorithm",
		    "too long");
	memcpy(cp->key_label, label, strlen(label) + 1);
	memcpy(cp->algorithm, alg, strlen(alg) + 1);
	if (b64_decode(
		sig, strlen(sig), cp->sig, sizeof(cp->sig), &cp->sig_len) != 0)
		return bad(errbuf, errlen, "checkpoint", "signature",
		    "not base64 of a fitting length");
	return 0;
}

int
ledger_json_read_proof(
    const json_t *doc, struct ledger_proof *out, char *errbuf, size_t errlen)
{
	const json_t *inc, *cp, *path, *v;
	const char *fmt;
	json_int_t leaf = 0, size = 0;
	json_error_t je;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(doc) ||
	    !json_is_string(json_object_get(doc, "format")) ||
	    strcmp((fmt = json_string_value(json_object_get(doc, "format"))),
		LEDGER_PROOF_FORMAT) != 0) {
		snprintf(
		    errbuf, errlen, "not a %s document", LEDGER_PROOF_FORMAT);
		return -1;
	}
	if (read_row(
		json_object_get(doc, "entry"), &out->row, errbuf, errlen) != 0)
		return -1;
	inc = json_object_get(doc, "inclusion");
	cp = json_object_get(doc, "checkpoint");
	if (inc == NULL || json_is_null(inc) || cp == NULL || json_is_null(cp))
		return 0; /* no checkpoint covered the entry yet */
	if (json_unpack_ex((json_t *)inc, &je, JSON_STRICT, "{s:I,s:I,s:o}",
		"leaf_index", &leaf, "tree_size", &size, "path", &path) != 0 ||
	    !json_is_array(path) || json_array_size(path) > MERKLE_PATH_MAX) {
		snprintf(errbuf, errlen, "inclusion: malformed");
		return -1;
	}
	if (leaf != out->row.e.seq - 1) {
		snprintf(errbuf, errlen,
		    "inclusion.leaf_index is not the entry's seq - 1");
		return -1;
	}
	json_array_foreach(path, i, v)
	{
		if (!json_is_string(v) ||
		    from_hex(json_string_value(v), out->path[i], SD_HASH_LEN) !=
			0) {
			snprintf(errbuf, errlen,
			    "inclusion.path[%zu]: not hex "
			    "of 32 bytes",
			    i);
			return -1;
		}
	}
	out->npath = json_array_size(path);
	if (read_cp(cp, out, errbuf, errlen) != 0)
		return -1;
	if (size != out->cp.seq) {
		snprintf(errbuf, errlen,
		    "inclusion.tree_size is not the checkpoint's seq");
		return -1;
	}
	out->has_proof = 1;
	return 0;
}
