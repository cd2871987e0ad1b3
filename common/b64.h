/*
 * b64: strict standard base64 (RFC 4648 section 4) for digests and
 * signatures in the JSON API.  Decoding refuses whitespace, missing or
 * misplaced padding, non-canonical trailing bits and any other byte, so
 * that one value has exactly one encoding.
 */
#ifndef SD_B64_H
#define SD_B64_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes, without the NUL. */
#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/*
 * Encode len bytes of src into dst (cap bytes, including the NUL).
 * Returns 0, or SD_ERR_INTERNAL if dst is too small.
 */
int b64_encode(const uint8_t *src, size_t len, char *dst, size_t cap)
    __attribute__((warn_unused_result));

/*
 * Decode srclen characters of src into dst (cap bytes); *outlen gets the
 * decoded length.  Returns 0, SD_ERR_BAD_REQUEST for invalid base64, or
 * SD_ERR_TOO_LARGE when the result would not fit in cap.
 */
int b64_decode(const char *src, size_t srclen, uint8_t *dst, size_t cap,
    size_t *outlen) __attribute__((warn_unused_result));

/* n bytes as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void sd_hex(const uint8_t *p, size_t n, char *out);

#endif
