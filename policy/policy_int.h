/*
 * policy_int: the layout of struct policy, shared by the loader
 * (policy_load.c) and the decision and query functions (policy.c) only.
 * It stays out of policy.h so that the rest of seald sees an opaque,
 * immutable model and cannot build or alter one by hand.
 */
#ifndef SD_POLICY_INT_H
#define SD_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

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

/* Append to a bounded text; a text that does not fit ends in "...". */
void policy_append(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
