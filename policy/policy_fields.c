/*
 * policy_fields: the readers of policy.yaml's fields that more than one
 * section uses (policy_int.h): lists of names as bit sets (usages,
 * formats, digests, requirements), RFC 3339 times, dotted OIDs.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/objects.h>

#include "cfg_yaml.h"
#include "name.h"
#include "policy.h"
#include "policy_int.h"

#define POLICY_TIME_MAX 32 /* bytes of an RFC 3339 time in the file */

/* Names of bit values in the file, for lists such as formats: [raw]. */
struct bit_name {
	const char *name;
	unsigned int bit;
};

static const struct bit_name op_names[] = {
	{ "sign", POLICY_OPBIT(POLICY_OP_SIGN) },
	{ "timestamp", POLICY_OPBIT(POLICY_OP_TIMESTAMP) },
};
static const struct bit_name format_names[] = {
	{ "raw", POLICY_FMT_RAW },
	{ "cms", POLICY_FMT_CMS },
	{ "cades-t", POLICY_FMT_CADES_T },
};
static const struct bit_name digest_names[] = {
	{ "sha256", POLICY_DG_SHA256 },
	{ "sha384", POLICY_DG_SHA384 },
	{ "sha512", POLICY_DG_SHA512 },
};
static const struct bit_name require_names[] = {
	{ "evidence", POLICY_REQ_EVIDENCE },
	{ "evidence.ref", POLICY_REQ_EVIDENCE_REF },
};
static const struct {
	const struct bit_name *names;
	size_t n;
} sets[] = {
	[POLICY_BITS_OPS] = { op_names, NBITS(op_names) },
	[POLICY_BITS_FORMATS] = { format_names, NBITS(format_names) },
	[POLICY_BITS_DIGESTS] = { digest_names, NBITS(digest_names) },
	[POLICY_BITS_REQUIRE] = { require_names, NBITS(require_names) },
};

/* The first name of a bit set, for error messages. */
static const char *
first_bit_name(const struct bit_name *names, size_t n, unsigned int bits)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (bits & names[i].bit)
			return names[i].name;
	return "?";
}

const char *
policy_bit_name(enum policy_bit_set set, unsigned int bits)
{
	return first_bit_name(sets[set].names, sets[set].n, bits);
}

/* A scalar or a list of 1..n distinct names from names[], as a bit set. */
static int
read_bits(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    const struct bit_name *names, size_t n, unsigned int *out)
{
	const struct cfg_yaml_node *items[8];
	const char *list[8];
	unsigned int bits = 0;
	size_t i, j, nitems, idx;
	int r;

	for (j = 0; j < n; j++)
		list[j] = names[j].name;
	if ((r = cfg_yaml_list(doc, node, 1, n, items, &nitems)) != 0)
		return r;
	for (i = 0; i < nitems; i++) {
		if ((r = cfg_yaml_enum(doc, items[i], list, n, &idx)) != 0)
			return r;
		if (bits & names[idx].bit)
			return cfg_yaml_error(doc, items[i],
			    "'%s' is listed twice", names[idx].name);
		bits |= names[idx].bit;
	}
	*out = bits;
	return 0;
}

int
policy_read_bits(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    enum policy_bit_set set, unsigned int *out)
{
	return read_bits(doc, node, sets[set].names, sets[set].n, out);
}

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	int64_t era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* n decimal digits at s, or -1. */
/*
 * RFC 3339 date-time without fractions: YYYY-MM-DDTHH:MM:SS and "Z" or an
 * offset +HH:MM / -HH:MM, as unix seconds.  Only 'T' and 'Z' (upper case)
 * and no leap second, so that one instant has few spellings.
 */
static int
parse_time(const char *s, int64_t *out)
{
	static const unsigned int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31,
		30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	size_t len = strlen(s);
	unsigned int dim;

	if (len != 20 && len != 25)
		return -1;
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':')
		return -1;
	if ((y = (int)sd_decimal(s, 4)) < 0 ||
	    (mo = (int)sd_decimal(s + 5, 2)) < 0 ||
	    (d = (int)sd_decimal(s + 8, 2)) < 0 ||
	    (h = (int)sd_decimal(s + 11, 2)) < 0 ||
	    (mi = (int)sd_decimal(s + 14, 2)) < 0 ||
	    (sec = (int)sd_decimal(s + 17, 2)) < 0)
		return -1;
	if (len == 20) {
		if (s[19] != 'Z')
			return -1;
	} else {
		if (s[19] == '+')
			sign = 1;
		else if (s[19] == '-')
			sign = -1;
		else
			return -1;
		if (s[22] != ':' || (oh = (int)sd_decimal(s + 20, 2)) < 0 ||
		    (om = (int)sd_decimal(s + 23, 2)) < 0 || oh > 23 || om > 59)
			return -1;
	}
	if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59)
		return -1;
	dim = mdays[mo - 1] + (mo == 2 && is_leap(y) ? 1 : 0);
	if (d < 1 || (unsigned int)d > dim)
		return -1;
	*out = days_from_civil(y, (unsigned int)mo, (unsigned int)d) * 86400 +
	    h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	return 0;
}

int
policy_read_time(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, int64_t *out)
{
	char s[POLICY_TIME_MAX];
	int r;

	if ((r = cfg_yaml_str(doc, node, 1, s, sizeof(s))) != 0)
		return r;
	if (parse_time(s, out) != 0)
		return cfg_yaml_error(doc, node,
		    "bad time: expected RFC 3339 such as 2026-01-01T00:00:00Z "
		    "or 2026-01-01T01:00:00+01:00");
	return 0;
}

/* A dotted OID: at least two arcs of digits without leading zeros, the
 * first 0, 1 or 2, that OpenSSL encodes (so every token can state it). */
int
policy_oid_valid(const char *s)
{
	ASN1_OBJECT *o;
	size_t arcs = 0, digits;

	if (s[0] < '0' || s[0] > '2' || s[1] != '.')
		return 0;
	if ((o = OBJ_txt2obj(s, 1)) == NULL)
		return 0;
	ASN1_OBJECT_free(o);
	for (;;) {
		for (digits = 0; s[digits] >= '0' && s[digits] <= '9'; digits++)
			;
		if (digits == 0 || digits > 20 || (digits > 1 && s[0] == '0'))
			return 0;
		arcs++;
		s += digits;
		if (*s == '\0')
			return arcs >= 2;
		if (*s++ != '.')
			return 0;
	}
}
