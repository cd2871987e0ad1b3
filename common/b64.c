/*
 * b64: a small strict base64 codec.  OpenSSL's EVP_DecodeBlock accepts
 * whitespace and returns padding bytes as data, which is wrong for exact
 * digest lengths, hence this one.
 */
#include <string.h>

#include "b64.h"
#include "err.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
b64_encode(const uint8_t *src, size_t len, char *dst, size_t cap)
{
	size_t i, o = 0;
	uint32_t v;

	if (len > (SIZE_MAX - 3) / 4 * 3 || cap <= B64_ENCODED_LEN(len))
		return SD_ERR_INTERNAL;
	for (i = 0; len - i >= 3; i += 3) {
		v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 |
		    src[i + 2];
		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = alphabet[(v >> 6) & 63];
		dst[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)src[i] << 16;
		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (len - i == 2) {
		v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = alphabet[(v >> 6) & 63];
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return 0;
}

static int
val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
b64_decode(
    const char *src, size_t srclen, uint8_t *dst, size_t cap, size_t *outlen)
{
	size_t i, o = 0, pad = 0, need;
	int a, b, c, d;

	*outlen = 0;
	if (srclen % 4 != 0)
		return SD_ERR_BAD_REQUEST;
	if (srclen == 0)
		return 0;
	if (src[srclen - 1] == '=')
		pad++;
	if (src[srclen - 2] == '=')
		pad++;
	need = srclen / 4 * 3 - pad;
	if (need > cap)
		return SD_ERR_TOO_LARGE;
	for (i = 0; i < srclen; i += 4) {
		int last = (i + 4 == srclen);

		a = val(src[i]);
		b = val(src[i + 1]);
		c = (last && pad == 2) ? 0 : val(src[i + 2]);
		d = (last && pad >= 1) ? 0 : val(src[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return SD_ERR_BAD_REQUEST;
		dst[o++] = (uint8_t)(a << 2 | b >> 4);
		if (last && pad == 2) {
			if ((b & 15) != 0)
				return SD_ERR_BAD_REQUEST; /* non-canonical */
			break;
		}
		dst[o++] = (uint8_t)((b & 15) << 4 | c >> 2);
		if (last && pad == 1) {
			if ((c & 3) != 0)
				return SD_ERR_BAD_REQUEST;
			break;
		}
		dst[o++] = (uint8_t)((c & 3) << 6 | d);
	}
	*outlen = o;
	return 0;
}

void
sd_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}
