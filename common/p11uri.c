/*
 * p11uri: RFC 7512 pkcs11: URIs (see p11uri.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "name.h"
#include "p11uri.h"

static const char scheme[] = "pkcs11:";

int
p11uri_is(const char *s)
{
	return strncasecmp(s, scheme, sizeof(scheme) - 1) == 0;
}

/* RFC 7512 pk11-pchar, but for pct-encoded: unreserved and the few
 * sub-delimiters a path attribute's value may hold as they are. */
static int
pchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("-._~:[]@!$'()*+,=&", c) != NULL;
}

/* The value s[0..n) percent-decoded into out (cap bytes), *len its
 * length; -1 with the reason. */
static int
decode(const char *name, const char *s, size_t n, uint8_t *out, size_t cap,
    size_t *len, char *err, size_t errlen)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c == '%') {
			if (i + 2 >= n || (hi = sd_hexval(s[i + 1])) < 0 ||
			    (lo = sd_hexval(s[i + 2])) < 0) {
				snprintf(err, errlen,
				    "%s: '%%' not followed by two hex digits",
				    name);
				return -1;
			}
			c = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else if (!pchar(c)) {
			if (c >= 0x20 && c < 0x7f)
				snprintf(err, errlen,
				    "%s: '%c' must be percent-encoded (%%%02X)",
				    name, c, c);
			else
				snprintf(err, errlen,
				    "%s: a byte 0x%02x, which must be "
				    "percent-encoded",
				    name, c);
			return -1;
		}
		if (o == cap) {
			snprintf(err, errlen, "%s: longer than %zu bytes", name,
			    cap);
			return -1;
		}
		out[o++] = c;
	}
	*len = o;
	return 0;
}

/* A text value: decoded, no NUL, at most cap - 1 bytes, NUL-ended. */
static int
text(const char *name, const char *s, size_t n, char *out, size_t cap,
    char *err, size_t errlen)
{
	size_t len;

	if (decode(name, s, n, (uint8_t *)out, cap - 1, &len, err, errlen) != 0)
		return -1;
	if (memchr(out, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: holds a NUL byte", name);
		return -1;
	}
	out[len] = '\0';
	return 0;
}

static const char *const types[] = { "private", "public", "cert", "secret-key",
	"data" };

/* One path attribute name=value (a[0..n)) into u. */
static int
attr(const char *a, size_t n, struct p11uri *u, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} known[] = {
		{ "token", P11URI_TOKEN },
		{ "manufacturer", P11URI_MANUFACTURER },
		{ "serial", P11URI_SERIAL },
		{ "model", P11URI_MODEL },
		{ "object", P11URI_OBJECT },
		{ "id", P11URI_ID },
		{ "type", P11URI_TYPE },
	};
	const char *eq = memchr(a, '=', n), *v;
	size_t i, nlen, vlen;
	char name[32];

	if (eq == NULL || eq == a) {
		snprintf(err, errlen, "'%.*s' is not name=value",
		    (int)(n < 40 ? n : 40), a);
		return -1;
	}
	nlen = (size_t)(eq - a);
	if (nlen >= sizeof(name)) {
		snprintf(err, errlen, "unknown attribute '%.31s...'", a);
		return -1;
	}
	memcpy(name, a, nlen);
	name[nlen] = '\0';
	v = eq + 1;
	vlen = n - nlen - 1;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(name, known[i].name) == 0)
			break;
	if (i == sizeof(known) / sizeof(known[0])) {
		for (i = 0; name[i] != '\0'; i++)
			if (!pchar((unsigned char)name[i]))
				name[i] = '?';
		snprintf(err, errlen,
		    "attribute '%s' is not taken: seald names a token by "
		    "token, manufacturer, serial and model, and a key by "
		    "object, id and type",
		    name);
		return -1;
	}
	if (u->has & known[i].bit) {
		snprintf(err, errlen, "attribute '%s' given twice", name);
		return -1;
	}
	u->has |= known[i].bit;
	switch (known[i].bit) {
	case P11URI_TOKEN:
		return text(
		    name, v, vlen, u->token, sizeof(u->token), err, errlen);
	case P11URI_MANUFACTURER:
		return text(name, v, vlen, u->manufacturer,
		    sizeof(u->manufacturer), err, errlen);
	case P11URI_SERIAL:
		return text(
		    name, v, vlen, u->serial, sizeof(u->serial), err, errlen);
	case P11URI_MODEL:
		return text(
		    name, v, vlen, u->model, sizeof(u->model), err, errlen);
	case P11URI_OBJECT:
		return text(
		    name, v, vlen, u->object, sizeof(u->object), err, errlen);
	case P11URI_ID:
		return decode(name, v, vlen, u->id, sizeof(u->id), &u->id_len,
		    err, errlen);
	default:
		if (text(name, v, vlen, u->type, sizeof(u->type), err,
			errlen) != 0)
			return -1;
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcmp(u->type, types[i]) == 0)
				return 0;
		snprintf(err, errlen,
		    "type: '%.15s' is none of private, public, cert, "
		    "secret-key, data",
		    u->type);
		return -1;
	}
}

int
p11uri_parse(const char *s, struct p11uri *u, char *err, size_t errlen)
{
	const char *p, *end, *semi;
	size_t len = strlen(s);

	memset(u, 0, sizeof(*u));
	if (!p11uri_is(s)) {
		snprintf(err, errlen, "does not begin with pkcs11:");
		return -1;
	}
	if (len > SD_P11URI_MAX) {
		snprintf(err, errlen, "longer than %d bytes", SD_P11URI_MAX);
		return -1;
	}
	p = s + sizeof(scheme) - 1;
	end = s + len;
	if (memchr(p, '?', (size_t)(end - p)) != NULL ||
	    memchr(p, '#', (size_t)(end - p)) != NULL) {
		snprintf(err, errlen,
		    "a query or fragment (pin-value, pin-source, module-name, "
		    "module-path) is not taken: seald.yaml says the module "
		    "and the PIN file");
		return -1;
	}
	while (p < end) {
		semi = memchr(p, ';', (size_t)(end - p));
		if (semi == NULL)
			semi = end;
		if (semi == p) {
			snprintf(err, errlen, "an empty attribute (';;')");
			return -1;
		}
		if (attr(p, (size_t)(semi - p), u, err, errlen) != 0)
			return -1;
		p = semi < end ? semi + 1 : end;
		if (semi + 1 == end) {
			snprintf(err, errlen, "ends with ';'");
			return -1;
		}
	}
	return 0;
}

int
p11uri_field_is(const unsigned char *field, size_t n, const char *want)
{
	size_t len = n;

	while (len > 0 && (field[len - 1] == ' ' || field[len - 1] == '\0'))
		len--;
	return strlen(want) == len && memcmp(field, want, len) == 0;
}
