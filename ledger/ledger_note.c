/*
 * ledger_note: a signed checkpoint as a C2SP signed note (a tlog
 * checkpoint: origin, tree size, root, then seald's own lines), the form
 * in which seald witnesses its newest checkpoint outside the database
 * and hands it to auditors.  docs/ledger-format.md, "The signed head",
 * fixes the text; the signature line carries the checkpoint's own
 * signature, over the checkpoint digest.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "b64.h"
#include "err.h"
#include "ledger.h"
#include "name.h"

#define ORIGIN "seald/"
#define DASH "\xe2\x80\x94" /* U+2014, the signature line's mark */
#define SIG_TYPE 0xff       /* C2SP signed-note: a type of its own */
static const char sig_id[] = "seald-checkpoint-v2";

/*
 * The key ID: SHA-256(key name || 0x0a || 0xff || "seald-checkpoint-v2"
 * || the public key's SubjectPublicKeyInfo DER), first 4 bytes.
 */
static int
key_id(const char *name, EVP_PKEY *pub, uint8_t id[4])
{
	uint8_t md[SD_HASH_LEN], *der = NULL;
	const uint8_t nl = 0x0a, type = SIG_TYPE;
	EVP_MD_CTX *c;
	int n, ok;

	if ((n = i2d_PUBKEY(pub, &der)) <= 0)
		return -1;
	ok = (c = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, name, strlen(name)) == 1 &&
	    EVP_DigestUpdate(c, &nl, 1) == 1 &&
	    EVP_DigestUpdate(c, &type, 1) == 1 &&
	    EVP_DigestUpdate(c, sig_id, sizeof(sig_id) - 1) == 1 &&
	    EVP_DigestUpdate(c, der, (size_t)n) == 1 &&
	    EVP_DigestFinal_ex(c, md, NULL) == 1;
	EVP_MD_CTX_free(c);
	OPENSSL_free(der);
	if (ok)
		memcpy(id, md, 4);
	return ok ? 0 : -1;
}

int
ledger_note_format(const struct ledger_cp *cp, const char *instance,
    EVP_PKEY *pub, char *out, size_t cap)
{
	uint8_t blob[4 + SD_SIG_MAX];
	char root[64], entry[64], sig[((4 + SD_SIG_MAX) / 3 + 1) * 4 + 1];
	int n;

	if (!cp->has_root || cp->sig_len > SD_SIG_MAX ||
	    key_id(cp->key_label, pub, blob) != 0)
		return -1;
	memcpy(blob + 4, cp->sig, cp->sig_len);
	if (b64_encode(cp->root, SD_HASH_LEN, root, sizeof(root)) != 0 ||
	    b64_encode(cp->entry_hash, SD_HASH_LEN, entry, sizeof(entry)) !=
		0 ||
	    b64_encode(blob, 4 + cp->sig_len, sig, sizeof(sig)) != 0)
		return -1;
	n = snprintf(out, cap,
	    ORIGIN "%s\n%lld\n%s\nentry %s\ntime %lld\n%s\n" DASH " %s %s\n",
	    instance, (long long)cp->seq, root, entry,
	    (long long)cp->signed_at_us, cp->closing ? "closing\n" : "",
	    cp->key_label, sig);
	return n > 0 && (size_t)n < cap ? n : -1;
}

/* The next line of s (up to '\n', which must be there) into dst. */
static int
line(const char **s, const char *end, char *dst, size_t cap)
{
	const char *nl = memchr(*s, '\n', (size_t)(end - *s));
	size_t n;

	if (nl == NULL || (n = (size_t)(nl - *s)) >= cap)
		return -1;
	memcpy(dst, *s, n);
	dst[n] = '\0';
	*s = nl + 1;
	return memchr(dst, '\0', n) == NULL ? 0 : -1;
}

/* A decimal of 1..18 digits into *v. */
static int
decimal(const char *s, int64_t *v)
{
	return (*v = sd_decimal(s, strlen(s))) < 0 ? -1 : 0;
}

static int
hash64(const char *s, uint8_t out[SD_HASH_LEN])
{
	size_t n;

	return b64_decode(s, strlen(s), out, SD_HASH_LEN, &n) == 0 &&
		n == SD_HASH_LEN
	    ? 0
	    : -1;
}

int
ledger_note_parse(const char *text, size_t len, struct ledger_cp *cp,
    char *instance, size_t icap, char *why, size_t whylen)
{
	const char *s = text, *end = text + len;
	char l[SD_NOTE_MAX], *name, *sig;
	uint8_t blob[4 + SD_SIG_MAX];
	size_t n;

	memset(cp, 0, sizeof(*cp));
	cp->has_root = 1;
	snprintf(why, whylen, "not a seald signed head");
	if (len == 0 || len > SD_NOTE_MAX || line(&s, end, l, sizeof(l)) ||
	    strncmp(l, ORIGIN, strlen(ORIGIN)) != 0 ||
	    !sd_name_valid(l + strlen(ORIGIN), strlen(l + strlen(ORIGIN))) ||
	    strlen(l + strlen(ORIGIN)) >= icap)
		return -1;
	snprintf(instance, icap, "%s", l + strlen(ORIGIN));
	if (line(&s, end, l, sizeof(l)) || decimal(l, &cp->seq) ||
	    line(&s, end, l, sizeof(l)) || hash64(l, cp->root) ||
	    line(&s, end, l, sizeof(l)) || strncmp(l, "entry ", 6) != 0 ||
	    hash64(l + 6, cp->entry_hash) || line(&s, end, l, sizeof(l)) ||
	    strncmp(l, "time ", 5) != 0 || decimal(l + 5, &cp->signed_at_us) ||
	    line(&s, end, l, sizeof(l)))
		return -1;
	if (strcmp(l, "closing") == 0) {
		cp->closing = 1;
		if (line(&s, end, l, sizeof(l)))
			return -1;
	}
	/* the blank line, then one signature line and nothing after it */
	if (l[0] != '\0' || line(&s, end, l, sizeof(l)) || s != end ||
	    strncmp(l, DASH " ", strlen(DASH) + 1) != 0)
		return -1;
	name = l + strlen(DASH) + 1;
	if ((sig = strchr(name, ' ')) == NULL)
		return -1;
	*sig++ = '\0';
	if (strlen(name) >= sizeof(cp->key_label) ||
	    b64_decode(sig, strlen(sig), blob, sizeof(blob), &n) != 0 || n <= 4)
		return -1;
	memcpy(cp->key_label, name, strlen(name) + 1); /* fits: above */
	memcpy(cp->sig, blob + 4, n - 4);
	cp->sig_len = n - 4;
	memcpy(cp->key_id, blob, 4);
	why[0] = '\0';
	return 0;
}

int
ledger_note_signed(
    const struct ledger_cp *cp, const char *instance, EVP_PKEY *pub)
{
	uint8_t id[4];

	return key_id(cp->key_label, pub, id) == 0 &&
	    memcmp(id, cp->key_id, 4) == 0 &&
	    ledger_cp_signed(cp, instance, pub);
}
