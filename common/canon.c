/*
 * canon: length-prefixed fields into a running digest.
 */
#include <string.h>

#include "canon.h"

EVP_MD_CTX *
canon_begin(uint8_t out[SD_HASH_LEN])
{
	EVP_MD_CTX *c;

	memset(out, 0, SD_HASH_LEN);
	if ((c = EVP_MD_CTX_new()) == NULL)
		return NULL;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return NULL;
	}
	return c;
}

void
canon_end(EVP_MD_CTX *c, uint8_t out[SD_HASH_LEN])
{
	unsigned int n = SD_HASH_LEN;

	if (EVP_DigestFinal_ex(c, out, &n) != 1)
		memset(out, 0, SD_HASH_LEN);
	EVP_MD_CTX_free(c);
}

void
canon_bytes(EVP_MD_CTX *c, const void *p, size_t n)
{
	uint8_t len[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16),
		(uint8_t)(n >> 8), (uint8_t)n };

	EVP_DigestUpdate(c, len, sizeof(len));
	EVP_DigestUpdate(c, p, n);
}

void
canon_str(EVP_MD_CTX *c, const char *s)
{
	canon_bytes(c, s, strlen(s));
}

void
canon_int(EVP_MD_CTX *c, int64_t v)
{
	uint64_t u = (uint64_t)v;
	uint8_t b[8];
	int i;

	for (i = 7; i >= 0; i--, u >>= 8)
		b[i] = (uint8_t)u;
	EVP_DigestUpdate(c, b, sizeof(b));
}
