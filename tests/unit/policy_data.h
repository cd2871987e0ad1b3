/*
 * policy_data: the policy tests' data folder (tests/data/policy, or
 * $SEALD_TEST_DATA) and what they share.
 */
#ifndef SD_TEST_POLICY_DATA_H
#define SD_TEST_POLICY_DATA_H

#include <stddef.h>

#include "policy.h"

#define OPBIT(op) (1u << (op))

const char *policy_data_dir(void);

/* The path of file in the data folder. */
void policy_data_path(char *path, size_t len, const char *file);

/* The policy in file of the data folder (the test fails when it does not
 * load). */
struct policy *policy_data_load(const char *file);

/* p's client of that name, or NULL. */
const struct policy_principal *policy_data_client(
    const struct policy *p, const char *name);

#endif
