/*
 * canon: length-prefixed fields into a running digest.
 */
#include <string.h>

#include "canon.h"

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
