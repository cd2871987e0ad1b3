/*
 * canon: the canonical encoding seald hashes (docs/ledger-format.md):
 * byte strings as a 4-byte big-endian length then the bytes, integers as
 * 8 bytes big-endian two's complement.  One implementation for the ledger
 * entries, the checkpoints and the request hashes.
 */
#ifndef SD_CANON_H
#define SD_CANON_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "sd_limits.h"

/*
 * A SHA-256 context to feed, with out zeroed first; NULL when OpenSSL
 * fails, and then out stays all zero, a hash that never matches: the
 * caller returns and fails closed.
 */
EVP_MD_CTX *canon_begin(uint8_t out[SD_HASH_LEN]);

/* Finish the digest into out and free c. */
void canon_end(EVP_MD_CTX *c, uint8_t out[SD_HASH_LEN]);

/* Feed length || bytes into the digest. */
void canon_bytes(EVP_MD_CTX *c, const void *p, size_t n);

/* Feed length || the string (no terminator). */
void canon_str(EVP_MD_CTX *c, const char *s);

/* Feed 8 bytes big-endian. */
void canon_int(EVP_MD_CTX *c, int64_t v);

#endif
