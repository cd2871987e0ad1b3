/*
 * policy_int: the layout of struct policy, shared by the loader
 * (policy_load.c, policy_keys.c, policy_fields.c) and the decision and
 * query functions (policy.c) only.
 * It stays out of policy.h so that the rest of seald sees an opaque,
 * immutable model and cannot build or alter one by hand.
 */
#ifndef SD_POLICY_INT_H
#define SD_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cfg_yaml.h"
#include "policy.h"
#include "sd_limits.h"

#define POLICY_MATCH_TEXT_MAX 512 /* "uid 1000; group delivery=104" */

struct policy_role {
	size_t n;
	struct policy_principal *p;                /* n entries */
	char (*match_text)[POLICY_MATCH_TEXT_MAX]; /* n entries */
};

struct policy {
	char file[SD_NAME_MAX]; /* last part of the file name, for rules */
	uint8_t hash[SD_HASH_LEN];
	size_t nkeys;
	struct policy_key *keys; /* nkeys entries */
	struct policy_role clients, officers, auditors;
	unsigned int approvals_required; /* officers per key change: 1 or 2 */
	unsigned int approval_minutes;   /* a proposal's life */
};

#define POLICY_OPBIT(op) (1u << (op))
#define NBITS(a) (sizeof(a) / sizeof((a)[0]))

/* The name lists of the file read as bit sets (policy_fields.c). */
enum policy_bit_set {
	POLICY_BITS_OPS,     /* usage, ops: sign, timestamp */
	POLICY_BITS_FORMATS, /* raw, cms */
	POLICY_BITS_DIGESTS, /* sha256, sha384, sha512 */
	POLICY_BITS_REQUIRE, /* evidence, evidence.ref */
};

/* A scalar or a list of distinct names of set, as bits into *out: 0 or
 * the cfg_yaml error. */
int policy_read_bits(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    enum policy_bit_set set, unsigned int *out);

/* The name of the first of bits in set ("?" for none), for messages. */
const char *policy_bit_name(enum policy_bit_set set, unsigned int bits);

/* An RFC 3339 time (Z or an offset) as seconds since the epoch. */
int policy_read_time(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, int64_t *out);

/* 1 for a dotted OID OpenSSL encodes (at least two arcs), else 0. */
int policy_oid_valid(const char *s);

/* The keys: section into p->keys (policy_keys.c). */
int policy_load_keys(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    struct policy *p);

/* Append to a bounded text; a text that does not fit ends in "...". */
void policy_append(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
